"""Hedged attempts: when a task's first attempt has not answered within ``hedge_after_s``, the
next candidate is sent too and the first complete answer wins.

A task opts in with ``tasks: {synthesize: {model: ..., hedge_after_s: 2.0}}``. The hedge is
the next healthy candidate of the fallback chain that fits the window, so hedging never sends a
request the failure policy would not have sent anyway; it only sends it sooner. The loser is
cancelled (async) or abandoned to finish in its worker thread (sync: a blocking HTTP read cannot
be interrupted), and its cost is recorded with ``source="estimate"``, ``status="cancelled"``: a
provider that already started generating charges for it, so it is never dropped. The estimate
is its prompt plus as many output tokens as the winner wrote (capped by ``max_tokens``; the
worst case when the winner reports no usage): a loser charged for a whole answer costs about
that, where pricing every loser at ``max_tokens`` overstated a hedged run's cost eightfold
(``benchmarks/bench_hedging.py``). Budget reservations still hold both worst cases.

Under a budget, a call is hedged only when its reservation holds both attempts' worst cases:
a hedge never lets a call cost more than what was admitted. Streamed calls are not hedged (the
first token commits the answer to one model).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ._route import Route

T = TypeVar("T")


def hedge_after(route: Route) -> float | None:
    """The task's ``hedge_after_s``, or None when it does not hedge."""
    spec = route.policy.tasks.get(route.task)
    return None if spec is None else spec.hedge_after_s


def _spawn(attempt: Callable[[str], T], model: str) -> concurrent.futures.Future[T]:
    """Run one racer in a thread of its own: a shared pool would queue a primary behind other
    calls' racers (and then hedge it before it was even sent)."""
    future: concurrent.futures.Future[T] = concurrent.futures.Future()
    context = contextvars.copy_context()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(context.run(attempt, model))
        except BaseException as exc:  # handed to the caller through the future
            future.set_exception(exc)

    threading.Thread(target=run, name=f"routing-race-{model}", daemon=True).start()
    return future


def _output_tokens(result: Any) -> int | None:
    """Completion tokens of a racer's answer (a ChatResult), when it reports them."""
    generations = getattr(result, "generations", None) or []
    message = getattr(generations[0], "message", None) if generations else None
    usage = getattr(message, "usage_metadata", None) or {}
    tokens = usage.get("output_tokens")
    return tokens if isinstance(tokens, int) and tokens >= 0 else None


def _settle(
    route: Route, winner: str, started: dict[str, float], failed: set[str], result: Any
) -> None:
    """The winner answered: record the racer still running as hedged out, switch to the winner."""
    written = _output_tokens(result)
    for loser in started.keys() - {winner} - failed:
        route.hedged_out(loser, time.perf_counter() - started[loser], written)
    route.switch_to(winner)


async def arace(
    route: Route, attempt: Callable[[str], Awaitable[T]], after_s: float, timeout_s: float
) -> T:
    """Run ``route.model``'s attempt; past ``after_s`` without an answer, race the hedge.

    Returns the first successful result (``route.model`` is then the model that gave it).
    A failure of one racer while the other runs is recorded and the other awaited; when both
    fail, the last failure is raised for the caller's failure handling (on ``route.model``)."""
    primary = route.model
    started = {primary: time.perf_counter()}
    first = asyncio.ensure_future(asyncio.wait_for(attempt(primary), timeout_s))
    done, _ = await asyncio.wait({first}, timeout=after_s)
    hedge = None if done else await route.off_loop(route.hedge_candidate)
    if hedge is None:
        return await first
    started[hedge] = time.perf_counter()
    second = asyncio.ensure_future(asyncio.wait_for(attempt(hedge), timeout_s))
    racers = {first: primary, second: hedge}
    pending = set(racers)
    failed: set[str] = set()
    try:
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                model = racers[task]
                error = task.exception()
                if error is None:
                    for other in pending:
                        other.cancel()
                    result = task.result()
                    _settle(route, model, started, failed, result)
                    return result
                if pending:  # the other racer may still answer
                    latency_s = time.perf_counter() - started[model]
                    await route.off_loop(route.hedge_failed, model, error, latency_s)
                    failed.add(model)
                    continue
                route.switch_to(model)
                raise error
    finally:
        for task in pending:
            task.cancel()
    raise AssertionError("unreachable: one racer answers or the last failure is raised")


def race(route: Route, attempt: Callable[[str], T], after_s: float) -> T:
    """The sync :func:`arace`: racers run in worker threads; the loser is abandoned (its
    thread ends at its attempt's timeout at the latest) and recorded at its estimate."""
    primary = route.model
    started = {primary: time.perf_counter()}
    first = _spawn(attempt, primary)
    done, _ = concurrent.futures.wait({first}, timeout=after_s)
    hedge = None if done else route.hedge_candidate()
    if hedge is None:
        return first.result()
    started[hedge] = time.perf_counter()
    second = _spawn(attempt, hedge)
    racers = {first: primary, second: hedge}
    pending = set(racers)
    failed: set[str] = set()
    while pending:
        done, pending = concurrent.futures.wait(
            pending, return_when=concurrent.futures.FIRST_COMPLETED
        )
        for future in done:
            model = racers[future]
            error = future.exception()
            if error is None:
                # the other racer's thread is left to end (at its timeout at the latest)
                result = future.result()
                _settle(route, model, started, failed, result)
                return result
            if pending:
                route.hedge_failed(model, error, time.perf_counter() - started[model])
                failed.add(model)
                continue
            route.switch_to(model)
            raise error
    raise AssertionError("unreachable: one racer answers or the last failure is raised")
