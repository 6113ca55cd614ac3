"""RoutingChatModel: a real BaseChatModel that routes each call by task.

It is the only place that talks to the gateway. Per call it resolves the task, counts the
prompt (cached per message), asks the policy for a model, calls it through a ChatOpenAI client
with ``max_retries=0``, and applies the failure table: waits out rate limits, falls back on
provider failures, upgrades on context overflow, raises on budget/auth/bad requests. The result
carries ``response_metadata["routing"]`` (and the gateway's ``["headers"]``).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr

from ._clients import FORCED_CLIENT_KEYS, USAGE_COST_KEY, ClientPool, drop_credential_headers
from ._errors import MissingKeyError
from ._policy import AgentTask, Choice, RoutingPolicy
from ._route import CallContext, Route
from ._runs import last_started_run, run_tracker
from ._streaming import StreamTracker, as_chunk
from ._structured import structured_output
from ._tokens import TokenCounter, count_text, token_ids
from ._trace import annotate_trace

_RunManager = CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None


class RoutingChatModel(BaseChatModel):
    """A chat model that sends each step to the model its task calls for.

    >>> from langgraph_routing.testing import LocalGateway
    >>> with LocalGateway() as gw:
    ...     model = RoutingChatModel(base_url=gw.base_url, api_key=gw.master_key)
    ...     reply = model.with_task("plan").invoke("Plan a three-step trip to Kyoto")
    >>> reply.response_metadata["routing"]["model"]
    'o3-mini'
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    policy: RoutingPolicy = Field(default_factory=RoutingPolicy.default)
    base_url: str | None = None
    api_key: SecretStr | None = Field(default=None, exclude=True, repr=False)
    task: AgentTask | None = None
    timeout_s: float | None = None
    chat_kwargs: dict[str, Any] = Field(default_factory=dict)
    stream_buffering: Literal["attempt", "none"] = "attempt"
    """``"attempt"`` (default): a streamed attempt is delivered once it completed, so a failure
    mid-stream falls back without duplicated output. ``"none"``: chunks are delivered as they
    arrive, and a failure after the first delivered chunk raises
    :class:`StreamInterruptedError` instead of falling back."""

    _pool: ClientPool = PrivateAttr()
    _counter: TokenCounter = PrivateAttr(default_factory=TokenCounter)

    def model_post_init(self, context: Any) -> None:
        base_url = (
            self.base_url
            or os.environ.get("LANGGRAPH_ROUTING_BASE_URL")
            or self.policy.gateway.base_url
        )
        self.base_url = base_url
        owned = sorted(FORCED_CLIENT_KEYS & set(self.chat_kwargs))
        if owned:
            raise ValueError(
                f"{', '.join(owned)} cannot be set on a RoutingChatModel's clients: routing owns "
                "them (retries happen once, in the routing model; the model is chosen per call)"
            )
        timeout = self.timeout_s or self.policy.gateway.timeout_s
        self._pool = ClientPool(base_url, timeout, dict(self.chat_kwargs))
        run_tracker()

    # ---- identity -----------------------------------------------------------------------

    def __repr__(self) -> str:
        # short on purpose: LangChain puts repr(model) into every traced run's "serialized"
        task = self.task.value if self.task else None
        return (
            f"RoutingChatModel(task={task!r}, base_url={self.base_url!r}, "
            f"models={list(self.policy.models)})"
        )

    __str__ = __repr__

    @property
    def _llm_type(self) -> str:
        return "routing-chat-model"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"task": self.task.value if self.task else None, "base_url": self.base_url}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "openai"
        task = self.task or self.policy.default_task
        route = self.policy.tasks.get(task) or self.policy.tasks[self.policy.default_task]
        params["ls_model_name"] = kwargs.get("model") or route.model
        # lands in the run's metadata: lets a CostCallbackHandler resolve the task (and so the
        # model) exactly as _plan will, before the call
        params["routing_bound_task"] = self.task.value if self.task else ""  # type: ignore[typeddict-unknown-key]
        return params

    def get_token_ids(self, text: str) -> list[int]:
        """Token ids under the offline cl100k encoding (never a download)."""
        return token_ids(text)

    def get_num_tokens(self, text: str) -> int:
        """Tokens of a text, offline (cl100k; approximate for non-cl100k models)."""
        return count_text(text)

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        """Prompt tokens of messages (+ tool schemas), cached per message, offline."""
        schemas = [convert_to_openai_tool(t) for t in tools] if tools else None
        return self._counter.count(messages, "", schemas).tokens

    def with_task(self, task: AgentTask | str) -> RoutingChatModel:
        """A copy bound to ``task`` (shares clients and the token cache)."""
        bound = self.model_copy(update={"task": AgentTask(task)})
        bound._pool, bound._counter = self._pool, self._counter
        return bound

    # ---- tools and structured output ----------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools; they are sent to whichever model the call lands on, fallbacks included."""
        formatted = [convert_to_openai_tool(t, strict=strict) for t in tools]
        if tool_choice is not None and tool_choice is not False:
            if tool_choice is True or tool_choice == "any":
                tool_choice = "required"
            elif isinstance(tool_choice, str) and tool_choice not in ("auto", "none", "required"):
                tool_choice = {"type": "function", "function": {"name": tool_choice}}
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=formatted, **kwargs)

    def with_structured_output(  # type: ignore[override]
        self,
        schema: Mapping[str, Any] | type,
        *,
        method: Literal["function_calling", "json_schema", "json_mode"] = "function_calling",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, Any]:
        """Structured output through tool calling or ``response_format`` json_schema."""
        return structured_output(self, schema, method, include_raw, strict)

    # ---- planning a call ----------------------------------------------------------------

    def _api_key(self, role: str | None) -> str:
        if role is not None:
            env = self.policy.roles[role].api_key_env
            value = os.environ.get(env)
            if not value:
                raise MissingKeyError(env, role)
            return value
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        env = self.policy.gateway.api_key_env
        value = os.environ.get(env)
        if not value:
            raise MissingKeyError(env, None)
        return value

    def _plan(
        self, messages: list[BaseMessage], run_manager: _RunManager, kwargs: dict[str, Any]
    ) -> tuple[Route, str, dict[str, Any]]:
        metadata: dict[str, Any] = dict(run_manager.metadata) if run_manager else {}
        run_ids: tuple[Any, Any] | None = (
            (run_manager.run_id, run_manager.parent_run_id) if run_manager else None
        )
        if run_manager is None and (started := last_started_run()) is not None:
            metadata, run_ids = started.metadata, (started.run_id, started.parent_run_id)
        task = self.policy.resolve_task(self.task.value if self.task else None, metadata)
        tools = kwargs.get("tools")
        needs_tools = bool(tools)
        route_cfg = self.policy.tasks.get(task) or self.policy.tasks[self.policy.default_task]
        max_tokens = kwargs.get("max_tokens") or kwargs.get("max_completion_tokens")
        reserve = self.policy.reserved_output(task, max_tokens)
        prompt = self._counter.count(messages, route_cfg.model, tools)
        pinned = kwargs.get("model")
        if pinned:  # the caller named a model: no routing decision, same failure table
            choice = Choice(
                task, str(pinned), route_cfg.role, f"model {pinned} pinned by caller", reserve
            )
        else:
            choice = self.policy.select(task, prompt.tokens, needs_tools, reserve)
        run_id = str(run_tracker().root_of(*run_ids)) if run_ids else None
        step = metadata.get("langgraph_step")
        context = CallContext(
            run_id=run_id,
            thread_id=str(metadata["thread_id"]) if metadata.get("thread_id") else None,
            node=metadata.get("langgraph_node")
            if isinstance(metadata.get("langgraph_node"), str)
            else None,
            step=step if isinstance(step, int) else None,
        )
        api_key = self._api_key(choice.role)
        user, headers = context.request_extras(task)
        call_kwargs = {k: v for k, v in kwargs.items() if k != "model"}
        call_kwargs["extra_headers"] = {**headers, **(call_kwargs.get("extra_headers") or {})}
        if user and "user" not in call_kwargs:
            call_kwargs["user"] = user
        route = Route(self.policy, choice, prompt, needs_tools, context, secret=api_key)
        return route, api_key, call_kwargs

    def _finish(
        self,
        route: Route,
        message: BaseMessage,
        generation_info: Mapping[str, Any] | None,
        latency_s: float,
        run_manager: _RunManager,
        response_id: str | None = None,
    ) -> dict[str, Any]:
        meta = dict(generation_info or {})
        meta.update(message.response_metadata)
        usage = getattr(message, "usage_metadata", None) or {}
        routing = route.succeeded(
            meta.get("headers"),
            meta.get(USAGE_COST_KEY),
            usage.get("input_tokens"),
            usage.get("output_tokens"),
            latency_s,
            fallback_call_id=str(
                response_id or meta.get("id") or getattr(message, "id", None) or uuid.uuid4()
            ),
            completion_text=_reply_text(message),
        )
        annotate_trace(run_manager, routing)
        return routing

    # ---- sync ---------------------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        route, api_key, call_kwargs = self._plan(messages, run_manager, kwargs)
        while True:
            client = self._pool.sync_client(route.model, api_key)
            started = time.perf_counter()
            try:
                result = client._generate(messages, stop=stop, run_manager=None, **call_kwargs)
            except Exception as exc:
                delay = route.failed(exc, time.perf_counter() - started)
                if delay > 0:
                    time.sleep(delay)
                continue
            return self._result(route, result, time.perf_counter() - started, run_manager)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        route, api_key, call_kwargs = self._plan(messages, run_manager, kwargs)
        if "response_format" in call_kwargs:  # streamed json_schema drops headers: one chunk
            result = self._generate(messages, stop, run_manager, **kwargs)
            yield as_chunk(result)
            return
        while True:
            client = self._pool.sync_client(route.model, api_key)
            started = time.perf_counter()
            tracker = StreamTracker(route, live=self.stream_buffering == "none")
            try:
                for chunk in client._stream(messages, stop=stop, run_manager=None, **call_kwargs):
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

    # ---- async --------------------------------------------------------------------------

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        route, api_key, call_kwargs = self._plan(messages, run_manager, kwargs)
        while True:
            client = self._pool.async_client(route.model, api_key)
            started = time.perf_counter()
            try:
                result = await client._agenerate(
                    messages, stop=stop, run_manager=None, **call_kwargs
                )
            except Exception as exc:
                delay = route.failed(exc, time.perf_counter() - started)
                if delay > 0:
                    await asyncio.sleep(delay)
                continue
            return self._result(route, result, time.perf_counter() - started, run_manager)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        route, api_key, call_kwargs = self._plan(messages, run_manager, kwargs)
        if "response_format" in call_kwargs:
            result = await self._agenerate(messages, stop, run_manager, **kwargs)
            yield as_chunk(result)
            return
        while True:
            client = self._pool.async_client(route.model, api_key)
            started = time.perf_counter()
            tracker = StreamTracker(route, live=self.stream_buffering == "none")
            try:
                async for chunk in client._astream(
                    messages, stop=stop, run_manager=None, **call_kwargs
                ):
                    if (seen := tracker.see(chunk)) is not None:
                        yield seen
                tracker.check_complete()
            except Exception as exc:
                tracker.interrupted(exc)
                delay = route.failed(exc, time.perf_counter() - started)
                if delay > 0:
                    await asyncio.sleep(delay)
                continue
            for chunk in tracker.release():
                yield chunk
            yield tracker.final(time.perf_counter() - started, run_manager)
            return

    def _result(
        self, route: Route, result: ChatResult, latency_s: float, run_manager: _RunManager
    ) -> ChatResult:
        generation = result.generations[0]
        message = generation.message
        if generation.generation_info:
            drop_credential_headers(generation.generation_info)
        drop_credential_headers(message.response_metadata)
        response_id = (result.llm_output or {}).get("id")
        routing = self._finish(
            route, message, generation.generation_info, latency_s, run_manager, response_id
        )
        message.response_metadata["routing"] = routing
        message.response_metadata.setdefault("model_name", route.model)
        return result


def _reply_text(message: BaseMessage) -> str:
    """The text a reply's completion tokens were spent on (content and tool call arguments)."""
    parts = [message.content if isinstance(message.content, str) else str(message.content)]
    for call in getattr(message, "tool_calls", None) or []:
        parts.append(f"{call.get('name')}{call.get('args')}")
    return "".join(parts)
