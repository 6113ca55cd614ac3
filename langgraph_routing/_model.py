"""RoutingChatModel: a real BaseChatModel that routes each call by task.

It is the only place that talks to the gateway. Per call it resolves the task, counts the
prompt (cached per message), asks the policy for a model, calls it through a ChatOpenAI client
with ``max_retries=0``, and applies the failure table: waits out rate limits, falls back on
provider failures, upgrades on context overflow, raises on budget/auth/bad requests. The result
carries ``response_metadata["routing"]`` (and the gateway's ``["headers"]``).

This module is the model's LangChain surface (configuration, binding, tokens, tracing params);
the attempt loops of a call, sync and async, whole or streamed, are in :mod:`._calls`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.runnables.config import var_child_runnable_config
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr

from ._calls import agenerate, astream, generate, stream
from ._clients import FORCED_CLIENT_KEYS, ClientPool
from ._errors import RoutingError
from ._policy import AgentTask, RoutingPolicy
from ._runs import run_tracker
from ._structured import structured_output
from ._tokens import TokenCounter, count_text, token_ids
from .shared_state import SharedRoutingState


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
    task: str | None = None
    """The task bound with :meth:`with_task` (None: resolved per call from metadata)."""
    timeout_s: float | None = None
    max_tokens: int | None = Field(default=None, gt=0)
    """Output tokens a call may use (sent as ``max_tokens`` on every call; budgets reserve
    exactly this). None: the task's ``max_output_tokens``, else the policy's
    ``reserve_output_tokens``."""
    chat_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Request options sent on every call (``temperature``, ``reasoning_effort``, ...)."""
    stream_buffering: Literal["attempt", "none"] = "attempt"
    """``"attempt"`` (default): a streamed attempt is delivered once it completed, so a failure
    mid-stream falls back without duplicated output. ``"none"``: chunks are delivered as they
    arrive, and a failure after the first delivered chunk raises
    :class:`StreamInterruptedError` instead of falling back."""

    routing_state: Any = Field(default=None, exclude=True, repr=False)
    """Breakers, latency, scope budgets: a URL (memory://, redis://, postgresql://) or a
    ``SharedRoutingState``; None: ``$LANGGRAPH_ROUTING_STATE``, else memory:// (per process)."""

    _pool: ClientPool = PrivateAttr()
    _counter: TokenCounter = PrivateAttr(default_factory=TokenCounter)
    _derived_profile: bool = PrivateAttr(default=False)

    def model_post_init(self, context: Any) -> None:
        base_url = (
            self.base_url
            or os.environ.get("LANGGRAPH_ROUTING_BASE_URL")
            or self.policy.gateway.base_url
        )
        self.base_url = base_url
        if self.task is not None:
            self.task = self.policy.check_task(self.task)
        if self.routing_state is not None and not isinstance(
            self.routing_state, str | SharedRoutingState
        ):
            raise ValueError(
                "routing_state must be a URL (memory://, redis://, postgresql://) or a "
                f"SharedRoutingState, not {type(self.routing_state).__name__}"
            )
        owned = sorted(FORCED_CLIENT_KEYS & set(self.chat_kwargs))
        if owned:
            raise ValueError(
                f"{', '.join(owned)} cannot be set on a RoutingChatModel's clients: routing owns "
                "them (retries happen once, in the routing model; the model is chosen per call)"
            )
        if self.profile is None or self._derived_profile:
            self.profile = self._policy_profile()
            self._derived_profile = True
        timeout = self.timeout_s or self.policy.gateway.timeout_s
        self._pool = ClientPool.shared(base_url, timeout, dict(self.chat_kwargs))
        run_tracker()

    def _timeout(self) -> float:
        """Seconds one attempt may take, start to end (streams and async calls)."""
        return self.timeout_s or self.policy.gateway.timeout_s

    def _policy_profile(self) -> Any:
        """The model profile of the bound task (else the default task), from the policy: the
        largest window its context upgrades reach, its output limit, tools and structured
        output support."""
        task = self.task or self.policy.default_task
        window, max_out = self.policy.window_of(task)
        spec = self.policy.models[self.policy.route_of(task).model]
        return {
            "max_input_tokens": window,
            "max_output_tokens": max_out,
            "tool_calling": spec.supports_tools,
            "tool_choice": spec.supports_tools,
            "structured_output": spec.supports_structured_output,
            "text_inputs": True,
            "text_outputs": True,
        }

    # ---- identity -----------------------------------------------------------------------

    def __repr__(self) -> str:
        # short on purpose: LangChain puts repr(model) into every traced run's "serialized"
        task = self.task
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
        return {"task": self.task, "base_url": self.base_url}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        # built directly: BaseChatModel's generic version probes attributes through pydantic's
        # slow __getattr__ (15 us per call)
        params = LangSmithParams(ls_provider="openai", ls_model_type="chat")
        # the model the call will go to: the task resolved as the call will resolve it (bound
        # task, else the metadata of the node running us); after the call the trace gets the
        # model that actually answered (fallbacks, upgrades)
        config = var_child_runnable_config.get() or {}
        try:
            task = self.policy.resolve_task(self.task, config.get("metadata") or {})
        except RoutingError:
            task = self.policy.default_task
        params["ls_model_name"] = kwargs.get("model") or self.policy.route_of(task).model
        temperature = kwargs.get("temperature", self.chat_kwargs.get("temperature"))
        if isinstance(temperature, int | float):
            params["ls_temperature"] = float(temperature)
        max_tokens = kwargs.get("max_tokens") or self.max_tokens
        if isinstance(max_tokens, int):
            params["ls_max_tokens"] = max_tokens
        if stop:
            params["ls_stop"] = stop
        # lands in the run's metadata: lets a CostCallbackHandler resolve the task (and so the
        # model) exactly as the call will, before it
        params["routing_bound_task"] = self.task or ""  # type: ignore[typeddict-unknown-key]
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
        """A copy bound to ``task``: any task the policy defines (an unknown one raises
        :class:`UnknownTaskError`, listing the known ones). Shares clients and the token cache;
        its ``profile`` is the task's."""
        name = self.policy.check_task(task)
        bound = self.model_copy(update={"task": name})
        bound._pool, bound._counter = self._pool, self._counter
        if self._derived_profile:
            bound.profile = bound._policy_profile()
        return bound

    # ---- tools and structured output ----------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        strict: bool | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools; they are sent to whichever model the call lands on, fallbacks included.

        ``parallel_tool_calls`` is sent as given, to models whose spec has
        ``supports_parallel_tool_calls`` (the field is dropped for the others)."""
        formatted = [convert_to_openai_tool(t, strict=strict) for t in tools]
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
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
        method: Literal["function_calling", "json_schema", "json_mode"] = "json_schema",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, Any]:
        """Structured output, as ChatOpenAI does it: ``method="json_schema"`` (the default, like
        ChatOpenAI's) sends ``response_format`` json_schema; ``"function_calling"`` forces a
        tool call; ``"json_mode"`` asks for any JSON object. Streaming a json_schema call
        yields one chunk (so the gateway's cost headers are kept)."""
        if kwargs:
            raise TypeError(f"unexpected arguments: {', '.join(sorted(kwargs))}")
        return structured_output(self, schema, method, include_raw, strict)

    # ---- calls (the attempt loops live in ``_calls``) ---------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return generate(self, messages, stop, run_manager, **kwargs)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        yield from stream(self, messages, stop, run_manager, **kwargs)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return await agenerate(self, messages, stop, run_manager, **kwargs)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        async for chunk in astream(self, messages, stop, run_manager, **kwargs):
            yield chunk
