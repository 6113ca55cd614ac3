"""Planning one routed call: its task, model, output allowance, key, headers and ids.

Everything the chat model decides before its first request happens here, from the policy's pure
decisions and the call's LangChain metadata. A budget held by a :class:`CostCallbackHandler` has
already spoken (in its ``on_chat_model_start``); its grant caps the call's ``max_tokens``.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult
from langchain_core.runnables.config import var_child_runnable_config

from ._cache_marks import cache_writes_of
from ._clients import USAGE_COST_KEY, drop_credential_headers
from ._context import CallContext, agent_of, cache_key_of
from ._errors import BudgetExceededError, MissingKeyError, RoutingError
from ._grants import take_grant
from ._health_gate import HealthGate
from ._policy import Choice, RoutingPolicy
from ._route import Route
from ._runs import last_started_run, run_tracker
from ._scoped import admit_scopes
from ._trace import annotate_trace
from .shared_state import STATE_ENV, SharedRoutingState, routing_state_for

if TYPE_CHECKING:
    from ._model import RoutingChatModel

RunManager = CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None
_OUTPUT_KEYS = ("max_tokens", "max_completion_tokens")


def api_key_for(model: RoutingChatModel, role: str | None) -> str:
    """The key of a role (read from its variable now), else the model's, else the gateway's."""
    policy = model.policy
    if role is not None:
        env = policy.roles[role].api_key_env
        value = os.environ.get(env)
        if not value:
            raise MissingKeyError(env, role)
        return value
    if model.api_key is not None:
        return model.api_key.get_secret_value()
    env = policy.gateway.api_key_env
    value = os.environ.get(env)
    if not value:
        raise MissingKeyError(env, None)
    return value


def context_of(metadata: Mapping[str, Any], run_id: str | None) -> CallContext:
    """Where the call sits: run, thread, node, agent, step (ids and names only)."""
    node = metadata.get("langgraph_node")
    step = metadata.get("langgraph_step")
    return CallContext(
        run_id=run_id,
        thread_id=str(metadata["thread_id"]) if metadata.get("thread_id") else None,
        node=node if isinstance(node, str) else None,
        step=step if isinstance(step, int) else None,
        agent=agent_of(metadata),
    )


def run_id_of(run_manager: RunManager) -> UUID | None:
    """The chat model run of the call (``stream()`` gives the model no run manager)."""
    if run_manager is not None:
        return run_manager.run_id
    started = last_started_run()
    return started.run_id if started is not None else None


def plan_call(
    model: RoutingChatModel,
    messages: list[BaseMessage],
    run_manager: RunManager,
    kwargs: dict[str, Any],
) -> tuple[Route, str, dict[str, Any]]:
    """``(route, api_key, request kwargs)`` of one call; raises before any request when the
    task is unknown, nothing fits, or a key is missing."""
    policy: RoutingPolicy = model.policy
    if not model.base_url:
        raise RoutingError(
            "no gateway configured: pass base_url=..., set LANGGRAPH_ROUTING_BASE_URL, or set "
            "gateway.base_url in the policy (a RoutingChatModel never calls a provider's "
            "default endpoint)"
        )
    metadata: dict[str, Any] = dict(run_manager.metadata) if run_manager else {}
    run_ids = (run_manager.run_id, run_manager.parent_run_id) if run_manager else None
    if run_manager is None and (started := last_started_run()) is not None:
        metadata, run_ids = started.metadata, (started.run_id, started.parent_run_id)
    task = policy.resolve_task(model.task, metadata)
    tools = kwargs.get("tools")
    needs_tools = bool(tools)
    route_cfg = policy.route_of(task)
    requested = next((kwargs[k] for k in _OUTPUT_KEYS if kwargs.get(k)), None) or model.max_tokens
    reserve = policy.reserved_output(task, requested)
    prompt = model._counter.count(messages, route_cfg.model, tools)
    pinned = kwargs.get("model")
    if pinned:  # the caller named a model: no routing decision, same failure table
        choice = Choice(
            task, str(pinned), route_cfg.role, f"model {pinned} pinned by caller", reserve
        )
    else:
        choice = policy.select(task, prompt.tokens, needs_tools, reserve)
    granted = take_grant(run_ids[0]) if run_ids else None
    max_tokens = min(choice.reserved_output, granted[0]) if granted else choice.reserved_output
    root = str(run_tracker().root_of(*run_ids)) if run_ids else None
    context = context_of(metadata, root)
    api_key = api_key_for(model, choice.role)
    user, headers = context.request_extras(task)
    call_kwargs = {k: v for k, v in kwargs.items() if k != "model" and k not in _OUTPUT_KEYS}
    call_kwargs["max_tokens"] = max_tokens
    call_kwargs["extra_headers"] = {**headers, **(call_kwargs.get("extra_headers") or {})}
    if user and "user" not in call_kwargs:
        call_kwargs["user"] = user
    if context.thread_id and "prompt_cache_key" not in call_kwargs:
        call_kwargs["prompt_cache_key"] = cache_key_of(context.thread_id)
    route = Route(policy, choice, prompt, needs_tools, context, secret=api_key)
    route.max_tokens = max_tokens
    route.reserve_usd = granted[1] if granted else None
    route.cache_writes = cache_writes_of(policy, context.thread_id, prompt.tokens, messages)
    intents = _intents_in_config() if context.thread_id is not None else None
    state = (
        routing_state_for(model.routing_state)
        if policy.health is not None or policy.budget.scopes
        else None
    )
    if policy.health is not None and state is not None:
        route.health = HealthGate(state, policy.health, model.base_url)
        if not pinned:
            route.start()
    if policy.sticky and not pinned and context.thread_id:
        route.stick(last_model_of(messages, task))
    if policy.budget.scopes and state is not None:
        max_tokens, route.scopes = admit_scopes(
            state, policy, metadata, route.model, prompt.tokens, max_tokens, route.cache_writes
        )
        if route.scopes is not None:
            call_kwargs["max_tokens"] = route.max_tokens = max_tokens
            held = route.scopes.reserved_usd
            route.reserve_usd = held if route.reserve_usd is None else min(held, route.reserve_usd)
    if intents is not None:
        note_intent(route, intents)
    return route, api_key, call_kwargs


_CHECKPOINTER_KEY = "__pregel_checkpointer"  # where LangGraph puts a task's checkpointer


def _intents_in_config() -> Any:
    config = var_child_runnable_config.get() or {}
    checkpointer = (config.get("configurable") or {}).get(_CHECKPOINTER_KEY)
    return getattr(checkpointer, "intents", None)


def _state_url(state: Any) -> str:
    """The URL of a model's routing state, without opening it."""
    if isinstance(state, SharedRoutingState):
        return state.url
    return str(state or os.environ.get(STATE_ENV) or "memory://")


def plan_does_io(model: RoutingChatModel) -> bool:
    """Whether planning a call of ``model`` reads or writes outside the process: a shared
    routing state on Redis or Postgres (breakers, scope budgets) or a durable intent journal.
    Async calls then plan in a worker thread, so the event loop never waits on a socket or a
    lock (what ``aiosqlite`` and LangGraph's async savers do too)."""
    policy: RoutingPolicy = model.policy
    uses_state = policy.health is not None or bool(policy.budget.scopes)
    if uses_state and not _state_url(model.routing_state).startswith("memory:"):
        return True  # read from the URL: the first connection is opened in the worker too
    return _intents_in_config() is not None


def note_intent(route: Route, intents: Any) -> None:
    """Before the first request: in the journal of call intents the graph's checkpointer
    keeps (see ``checkpointing._intents``), note this call at its worst case, so a crash
    mid-request still leaves its cost."""
    spec = route.policy.models.get(route.model)
    estimate = (
        spec.cost_usd(route.prompt.tokens, route.max_tokens, 0, route.cache_writes)
        if spec
        else None
    )
    context = route.context
    fields = {
        "thread_id": context.thread_id,
        "run_id": context.run_id,
        "node": context.node,
        "agent": context.agent,
        "task": route.task,
        "model": route.model,
        "prompt_tokens": route.prompt.tokens,
    }
    try:
        route.intent = (intents, intents.begin(fields, estimate))
    except Exception as exc:  # the journal is a safety net: its failure never fails a call
        warnings.warn(f"call intent not recorded ({type(exc).__name__}: {exc})", stacklevel=2)


def attempt_kwargs(
    route: Route, call_kwargs: dict[str, Any], model: str | None = None
) -> dict[str, Any]:
    """The request kwargs for the next attempt (on ``model``, default ``route.model``): fields
    the model does not take are dropped (``parallel_tool_calls`` for models whose spec says
    so), and under a budget's reservation a pricier fallback gets only the output tokens the
    reservation pays for (:class:`BudgetExceededError` when that is below the policy's floor)."""
    policy, model = route.policy, model or route.model
    spec = policy.models.get(model)
    # a fallback, or a prompt the budget may have priced without its cache-write premium (a
    # handler whose policy is not the model's), gets what the reservation pays for
    repriced = model != route.choice.model or route.cache_writes > 0
    if route.reserve_usd is not None and repriced and spec is not None:
        fits = spec.affordable_output(route.reserve_usd, route.prompt.tokens, route.cache_writes)
        if fits < min(policy.budget.min_output_tokens, route.max_tokens):
            which = "the fallback " if model != route.choice.model else ""
            written = " with its prompt written to the cache" if route.cache_writes else ""
            raise BudgetExceededError(
                f"{which}{model}{written} does not fit the ${route.reserve_usd:.6f} the budget "
                f"reserved for this call; raise budget_usd or lower budget.min_output_tokens",
                scope="run",
            )
        if fits < call_kwargs["max_tokens"]:
            call_kwargs = {**call_kwargs, "max_tokens": fits}
    drop = []
    if (
        "parallel_tool_calls" in call_kwargs
        and spec is not None
        and (not spec.supports_parallel_tool_calls or not call_kwargs.get("tools"))
    ):
        drop.append("parallel_tool_calls")
    if "prompt_cache_key" in call_kwargs and (spec is None or not spec.supports_prompt_cache_key):
        drop.append("prompt_cache_key")  # a field only OpenAI-style models take
    if drop:
        return {k: v for k, v in call_kwargs.items() if k not in drop}
    return call_kwargs


def record_outcome(routing: dict[str, Any], run_manager: RunManager) -> dict[str, Any]:
    """After a call answered: put routing and cost on the trace, and every attempt's cost on
    the run's spend (what run budgets of middleware and subagents count)."""
    annotate_trace(run_manager, routing)
    run_id = routing.get("run_id")
    if run_id:
        tracker = run_tracker()
        for attempt in routing["attempts"]:
            if attempt.get("call_id"):
                tracker.record_cost(run_id, attempt["call_id"], attempt.get("cost_usd"))
    return routing


def finish_result(
    route: Route, result: ChatResult, latency_s: float, run_manager: RunManager
) -> ChatResult:
    """A non-streamed answer: credential headers dropped, ``response_metadata["routing"]``."""
    generation = result.generations[0]
    message = generation.message
    if generation.generation_info:
        drop_credential_headers(generation.generation_info)
    drop_credential_headers(message.response_metadata)
    meta = dict(generation.generation_info or {})
    meta.update(message.response_metadata)
    usage = getattr(message, "usage_metadata", None) or {}
    response_id = (result.llm_output or {}).get("id")
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
        cache_tokens=cache_tokens(usage),
    )
    message.response_metadata["routing"] = record_outcome(routing, run_manager)
    message.response_metadata.setdefault("model_name", route.model)
    return result


def last_model_of(messages: list[BaseMessage], task: str) -> str | None:
    """The model that answered ``task``'s last routed call among ``messages`` (a thread's
    history: what survives resumes and stateless workers)."""
    for message in reversed(messages):
        routing = message.response_metadata.get("routing") if message.type == "ai" else None
        if isinstance(routing, Mapping) and routing.get("task") == task:
            model = routing.get("model")
            return model if isinstance(model, str) else None
    return None


def cache_tokens(usage: Mapping[str, Any]) -> tuple[int, int]:
    """(prompt tokens read from the cache, written to it) of a ``usage_metadata``."""
    details = usage.get("input_token_details") or {}
    return int(details.get("cache_read") or 0), int(details.get("cache_creation") or 0)


def _reply_text(message: BaseMessage) -> str:
    """The text a reply's completion tokens were spent on (content and tool call arguments)."""
    parts = [message.content if isinstance(message.content, str) else str(message.content)]
    for call in getattr(message, "tool_calls", None) or []:
        parts.append(f"{call.get('name')}{call.get('args')}")
    return "".join(parts)
