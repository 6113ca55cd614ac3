"""One routed call's attempt loop, sync and async, whole or streamed.

Each loop plans the call (:mod:`._planning`), sends attempts through the model's ChatOpenAI
clients, hands every failure to the :class:`~._route.Route` (which says wait, fall back or
raise) and finishes the answer with its routing record. Async loops do the routing state's
I/O off the event loop (:meth:`~._route.Route.off_loop`); a cancelled async call returns its
budget grant. :class:`~._model.RoutingChatModel` delegates its ``_generate``/``_stream`` and
async twins here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult

from ._cache_marks import cache_marked
from ._grants import cancelled
from ._hedging import arace, hedge_after, race
from ._planning import (
    RunManager,
    attempt_kwargs,
    finish_result,
    plan_call,
    plan_does_io,
    run_id_of,
)
from ._route import Route
from ._streaming import StreamTracker, as_chunk

if TYPE_CHECKING:
    from ._model import RoutingChatModel

__all__ = ["agenerate", "astream", "generate", "stream"]


async def _aplan(
    chat: RoutingChatModel,
    /,
    messages: list[BaseMessage],
    run_manager: RunManager,
    kwargs: dict[str, Any],
) -> tuple[Route, str, dict[str, Any]]:
    if plan_does_io(chat):  # a worker thread: the event loop never waits on the state
        return await asyncio.to_thread(plan_call, chat, messages, run_manager, kwargs)
    return plan_call(chat, messages, run_manager, kwargs)


# ---- sync ---------------------------------------------------------------------------


def generate(
    chat: RoutingChatModel,
    /,
    messages: list[BaseMessage],
    stop: list[str] | None = None,
    run_manager: CallbackManagerForLLMRun | None = None,
    **kwargs: Any,
) -> ChatResult:
    route, api_key, call_kwargs = plan_call(chat, messages, run_manager, kwargs)
    try:

        def attempt(name: str) -> ChatResult:
            return chat._pool.sync_client(name, api_key)._generate(
                cache_marked(route, messages, name),
                stop=stop,
                run_manager=None,
                **attempt_kwargs(route, call_kwargs, name),
            )

        while True:
            started = time.perf_counter()
            try:
                hedge_s = hedge_after(route) if not route.attempts else None
                if hedge_s is not None:
                    result = race(route, attempt, hedge_s)
                else:
                    result = attempt(route.model)
            except Exception as exc:
                delay = route.failed(exc, time.perf_counter() - started)
                if delay > 0:
                    time.sleep(delay)
                continue
            return finish_result(route, result, time.perf_counter() - started, run_manager)
    finally:
        route.close()


def stream(
    chat: RoutingChatModel,
    /,
    messages: list[BaseMessage],
    stop: list[str] | None = None,
    run_manager: CallbackManagerForLLMRun | None = None,
    **kwargs: Any,
) -> Iterator[ChatGenerationChunk]:
    if "response_format" in kwargs:  # streamed json_schema drops headers: one whole answer
        yield as_chunk(generate(chat, messages, stop, run_manager, **kwargs))
        return  # (planned once, by generate: a budget's grant is taken by that plan)
    route, api_key, call_kwargs = plan_call(chat, messages, run_manager, kwargs)
    try:
        while True:
            client = chat._pool.sync_client(route.model, api_key)
            started = time.perf_counter()
            tracker = StreamTracker(
                route, live=chat.stream_buffering == "none", timeout_s=chat._timeout()
            )
            try:
                for chunk in client._stream(
                    cache_marked(route, messages, route.model),
                    stop=stop,
                    run_manager=None,
                    **attempt_kwargs(route, call_kwargs),
                ):
                    if (seen := tracker.see(chunk)) is not None:
                        yield seen
                tracker.check_complete()
            except Exception as exc:
                tracker.interrupted(exc)
                delay = route.failed(exc, time.perf_counter() - started)
                if delay > 0:
                    time.sleep(delay)
                continue
            yield from tracker.release()
            yield tracker.final(time.perf_counter() - started, run_manager)
            return
    finally:
        route.close()


# ---- async --------------------------------------------------------------------------


async def agenerate(
    chat: RoutingChatModel,
    /,
    messages: list[BaseMessage],
    stop: list[str] | None = None,
    run_manager: AsyncCallbackManagerForLLMRun | None = None,
    **kwargs: Any,
) -> ChatResult:
    try:
        return await _agenerate_routed(chat, messages, stop, run_manager, **kwargs)
    except asyncio.CancelledError as exc:
        cancelled(run_id_of(run_manager), exc)
        raise


async def _agenerate_routed(
    chat: RoutingChatModel,
    /,
    messages: list[BaseMessage],
    stop: list[str] | None = None,
    run_manager: AsyncCallbackManagerForLLMRun | None = None,
    **kwargs: Any,
) -> ChatResult:
    route, api_key, call_kwargs = await _aplan(chat, messages, run_manager, kwargs)
    try:

        async def attempt(name: str) -> ChatResult:
            return await chat._pool.async_client(name, api_key)._agenerate(
                cache_marked(route, messages, name),
                stop=stop,
                run_manager=None,
                **attempt_kwargs(route, call_kwargs, name),
            )

        while True:
            started = time.perf_counter()
            try:
                hedge_s = hedge_after(route) if not route.attempts else None
                if hedge_s is not None:
                    result = await arace(route, attempt, hedge_s, chat._timeout())
                else:  # the whole attempt is bounded, however it trickles
                    result = await asyncio.wait_for(attempt(route.model), chat._timeout())
            except Exception as exc:
                delay = await route.off_loop(route.failed, exc, time.perf_counter() - started)
                if delay > 0:
                    await asyncio.sleep(delay)
                continue
            latency_s = time.perf_counter() - started
            done = await route.off_loop(finish_result, route, result, latency_s, run_manager)
            await route.off_loop(route.close)
            return done
    finally:
        route.close()  # a no-op once closed; a cancelled call ends its intent here


async def astream(
    chat: RoutingChatModel,
    /,
    messages: list[BaseMessage],
    stop: list[str] | None = None,
    run_manager: AsyncCallbackManagerForLLMRun | None = None,
    **kwargs: Any,
) -> AsyncIterator[ChatGenerationChunk]:
    try:
        async for chunk in _astream_routed(chat, messages, stop, run_manager, **kwargs):
            yield chunk
    except asyncio.CancelledError as exc:
        cancelled(run_id_of(run_manager), exc)
        raise


async def _astream_routed(
    chat: RoutingChatModel,
    /,
    messages: list[BaseMessage],
    stop: list[str] | None = None,
    run_manager: AsyncCallbackManagerForLLMRun | None = None,
    **kwargs: Any,
) -> AsyncIterator[ChatGenerationChunk]:
    if "response_format" in kwargs:  # as in stream(): one whole answer, planned once
        yield as_chunk(await agenerate(chat, messages, stop, run_manager, **kwargs))
        return
    route, api_key, call_kwargs = await _aplan(chat, messages, run_manager, kwargs)
    try:
        while True:
            client = chat._pool.async_client(route.model, api_key)
            started = time.perf_counter()
            tracker = StreamTracker(
                route, live=chat.stream_buffering == "none", timeout_s=chat._timeout()
            )
            try:
                async for chunk in client._astream(
                    cache_marked(route, messages, route.model),
                    stop=stop,
                    run_manager=None,
                    **attempt_kwargs(route, call_kwargs),
                ):
                    if (seen := tracker.see(chunk)) is not None:
                        yield seen
                tracker.check_complete()
            except Exception as exc:
                tracker.interrupted(exc)
                delay = await route.off_loop(route.failed, exc, time.perf_counter() - started)
                if delay > 0:
                    await asyncio.sleep(delay)
                continue
            for chunk in tracker.release():
                yield chunk
            latency_s = time.perf_counter() - started
            yield await route.off_loop(tracker.final, latency_s, run_manager)
            await route.off_loop(route.close)
            return
    finally:
        route.close()  # a no-op once closed
