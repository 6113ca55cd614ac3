"""RoutingMiddleware: the routing policy as LangChain v1 agent middleware.

``langchain.agents.create_agent`` builds its own loop (model -> tools -> model ...). This
middleware routes each model call of that loop by task, through a :class:`RoutingChatModel`
bound to the task, so the agent gets the same failure table (Retry-After, fallbacks, context
upgrades, no retry of budget/auth errors), the same ``response_metadata["routing"]`` record and
the same gateway headers as the package's own graph template. Before each call it prices the
worst case of the call and stops the agent, without a request, when that could pass the budget.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

from langchain.agents.middleware import AgentMiddleware, AgentState, ModelRequest, ModelResponse
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.config import get_config

from ._budget import Grant, InFlight, check_budget, grant_for_task
from ._cache_marks import cache_writes_of
from ._context import current_thread_id
from ._errors import BudgetExceededError, ContextTooLargeError
from ._factory import init_routing_model
from ._ledger import entries_from_routing, total_usd
from ._model import RoutingChatModel
from ._policy import AgentTask, RoutingPolicy
from ._router import Router, grant_on_model, request_features
from ._runs import current_root, run_tracker
from ._tokens import TokenCounter

__all__ = ["RoutingMiddleware", "default_task_for"]

TaskFor = Callable[[ModelRequest[Any]], AgentTask | str | None]
STOP_REASON_KEY = "stop_reason"


def _turn_start(messages: Sequence[BaseMessage]) -> int:
    """Index just after the last HumanMessage (0 when there is none)."""
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            return i + 1
    return 0


def default_task_for(
    messages: Sequence[BaseMessage],
    has_tools: bool,
    first_task: AgentTask | str = AgentTask.TOOL_SELECT,
) -> str:
    """The task of the next model call of an agent loop.

    The first call of a turn (no ToolMessage after the last HumanMessage) is ``first_task``
    when tools are bound, else ``synthesize`` (with no tools, the first reply is the answer);
    a call after tool results is ``synthesize``.

    >>> from langchain_core.messages import HumanMessage, ToolMessage
    >>> default_task_for([HumanMessage("hi")], has_tools=True)
    'tool_select'
    >>> default_task_for([HumanMessage("hi"), ToolMessage("42", tool_call_id="1")], True)
    'synthesize'
    """
    turn = messages[_turn_start(messages) :]
    if has_tools and not any(isinstance(m, ToolMessage) for m in turn):
        return str(first_task)
    return AgentTask.SYNTHESIZE.value


def _message_entries(messages: Iterable[BaseMessage]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for message in messages:
        routing = message.response_metadata.get("routing")
        if isinstance(message, AIMessage) and isinstance(routing, Mapping):
            fallback = str(routing.get("call_id") or message.id or id(message))
            found = entries_from_routing(routing, message.usage_metadata, fallback_id=fallback)
            entries.extend(e.to_dict() for e in found)
    return entries


def spent_usd(messages: Iterable[BaseMessage]) -> float:
    """Exact (fsum, deduplicated by call id) cost of the routed AIMessages among ``messages``.

    >>> spent_usd([AIMessage("a", response_metadata={"routing": {"call_id": "c1",
    ...     "cost_usd": 0.5, "attempts": [{"model": "m", "error_kind": None}]}})])
    0.5
    """
    return total_usd(_message_entries(messages))


class RoutingMiddleware(AgentMiddleware[AgentState[Any], Any, Any]):
    """Route every model call of a ``create_agent`` agent through a :class:`RoutingPolicy`.

    Each call gets a task: the first call of a turn is ``tool_select`` when tools are bound
    (``first_task="plan"`` to start with the planner), calls after tool results are
    ``synthesize``; ``task_for(request)`` overrides this (return None to keep the default).
    The request's model is replaced by the routing model bound to that task; the tools and
    ``tool_choice`` that ``create_agent`` binds reach it unchanged, and fallbacks keep them.

    Budget (``budget_usd``): before each call the worst case of the call (prompt at the input
    price + the reserved output at the output price of the model the policy picks) is added to
    what the routed AIMessages in the state cost (``budget_scope="run"``: since the last
    HumanMessage; ``"thread"``: every message in state), together with every routed call made
    inside the run by subagents and tools (a deep agent's ``task`` subagents, a supervisor's
    workers), deduplicated by call id. A call the budget left cannot fully pay for is sent with
    a smaller ``max_tokens`` (down to the policy's ``budget.min_output_tokens``); below that no
    request is sent. With ``on_budget="stop"`` (default) the agent ends with an AIMessage
    saying so (``response_metadata["stop_reason"] == "budget_exhausted"``, no tool calls); a
    gateway budget refusal (LiteLLM ``budget_exceeded``) ends it the same way with
    ``"gateway_budget_exceeded"``. With ``on_budget="raise"`` both raise
    :class:`BudgetExceededError`. Calls that raised left no message, so they are not counted
    (a failed call usually costs 0).

    ``router`` (e.g. ``DifficultyRouter(policy)``) picks the model of each call from the
    request's features (a short closed synthesis on the easy model); the budget prices the
    model it picks.

    Put no retry or fallback middleware inside it: the routing model already retries, and
    stacked retries multiply requests.

    >>> from langchain.agents import create_agent
    >>> from langchain_core.tools import tool
    >>> from langgraph_routing.testing import LocalGateway
    >>> @tool
    ... def population(city: str) -> str:
    ...     '''Population of a city.'''
    ...     return "1,234,567"
    >>> with LocalGateway() as gw:
    ...     routing = RoutingMiddleware(base_url=gw.base_url, api_key=gw.master_key,
    ...                                 budget_usd=0.50)
    ...     agent = create_agent(routing.model, [population], middleware=[routing])
    ...     out = agent.invoke({"messages": [("user", "How many people live in Kyoto?")]})
    ...     models = [r.model for r in gw.log]
    >>> models       # tool_select, then synthesize after the tool result
    ['gpt-4o-mini', 'claude-3-5-sonnet-20241022']
    >>> "1,234,567" in out["messages"][-1].text
    True
    """

    def __init__(
        self,
        policy: RoutingPolicy | None = None,
        *,
        model: RoutingChatModel | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        budget_usd: float | None = None,
        task_for: TaskFor | None = None,
        first_task: AgentTask | str = AgentTask.TOOL_SELECT,
        budget_scope: Literal["run", "thread"] = "run",
        on_budget: Literal["stop", "raise"] = "stop",
        router: Router | None = None,
    ) -> None:
        super().__init__()
        if model is not None and policy is not None and model.policy is not policy:
            raise ValueError("give either policy or model (the model carries its policy)")
        budget_usd = check_budget(budget_usd)
        if budget_scope not in ("run", "thread"):
            raise ValueError(f"budget_scope must be 'run' or 'thread', got {budget_scope!r}")
        if on_budget not in ("stop", "raise"):
            raise ValueError(f"on_budget must be 'stop' or 'raise', got {on_budget!r}")
        self.model: RoutingChatModel = model or init_routing_model(
            policy, base_url=base_url, api_key=api_key
        )
        self.policy: RoutingPolicy = self.model.policy
        self.first_task = self.policy.check_task(first_task)
        self.budget_usd = budget_usd
        self.budget_scope = budget_scope
        self.on_budget = on_budget
        self.task_for = task_for
        self.router = router
        self.tools: list[BaseTool] = []
        self._counter = TokenCounter()
        self._bound = {task: self.model.with_task(task) for task in self.policy.tasks}
        self._inflight = InFlight()

    # ---- decisions ------------------------------------------------------------------------

    def task_of(self, request: ModelRequest[Any]) -> str:
        """The task of this model call (``task_for`` first, then :func:`default_task_for`);
        any task the policy defines (an unknown one raises, listing the known ones)."""
        chosen = self.task_for(request) if self.task_for is not None else None
        if chosen is None:
            return default_task_for(request.messages, bool(request.tools), self.first_task)
        return self.policy.check_task(str(chosen))

    def spent_usd(self, request: ModelRequest[Any]) -> float:
        """What this run (or thread, per ``budget_scope``) has cost so far: the routed messages
        in state plus every routed call of the running run (subagents included)."""
        messages: list[BaseMessage] = list(request.state.get("messages") or request.messages)
        if self.budget_scope == "run":
            messages = messages[_turn_start(messages) :]
        entries = _message_entries(messages)
        root = current_root()
        if root is not None:
            entries.extend(
                {"call_id": call_id, "cost_usd": cost}
                for call_id, cost in run_tracker().spend_of(root).items()
            )
        return total_usd(entries)

    def reservation(self, request: ModelRequest[Any], task: str) -> tuple[float, str]:
        """``(usd, model)``: the worst case of the call and the model the policy picks for it.

        Raises :class:`ContextTooLargeError` when no model fits the prompt."""
        grant, model = self._grant(request, task, float("inf"))
        return grant.reserve_usd, model

    def _grant(
        self, request: ModelRequest[Any], task: str, left_usd: float, pinned: str | None = None
    ) -> tuple[Grant, str]:
        policy = self.policy
        messages: list[BaseMessage] = list(request.messages)
        if request.system_message is not None:
            messages.insert(0, request.system_message)
        tools = [convert_to_openai_tool(t) for t in request.tools] or None
        prompt = self._counter.count(messages, policy.route_of(task).model, tools)
        settings = request.model_settings
        max_tokens = settings.get("max_tokens") or settings.get("max_completion_tokens")
        wanted = max_tokens if isinstance(max_tokens, int) else self.model.max_tokens
        what = f"the {self.budget_scope} budget of ${self.budget_usd or 0.0:.6f}"
        writes = cache_writes_of(policy, current_thread_id(), prompt.tokens, messages)
        if pinned and pinned in policy.models:  # the router's model, not the task's
            return grant_on_model(
                policy, pinned, task, prompt.tokens, wanted, left_usd, what, writes
            )
        return grant_for_task(
            policy, task, prompt.tokens, bool(tools), wanted, left_usd, what, writes
        )

    def _scope_key(self) -> str | None:
        """The key concurrent calls of one budget share: the run's root, or the thread."""
        if self.budget_scope == "thread":
            try:
                thread = (get_config().get("configurable") or {}).get("thread_id")
            except RuntimeError:
                thread = None
            return f"thread:{thread}" if thread is not None else None
        root = current_root()
        return f"run:{root}" if root is not None else None

    def _prepare(
        self, request: ModelRequest[Any], task: str
    ) -> tuple[ModelRequest[Any] | AIMessage, tuple[str, Grant] | None]:
        """The routed request (and what it holds against the budget until it ends), or the
        stop message when the budget refuses the call. Admission is atomic: calls in flight
        (parallel subagents, concurrent runs on a thread) hold their worst case."""
        routed = request.override(model=self._bound[task])
        pinned: str | None = None
        if self.router is not None:  # e.g. DifficultyRouter: the model this call calls for
            messages = list(request.messages)
            if request.system_message is not None:
                messages.insert(0, request.system_message)
            pinned = self.router.route(request_features(task, messages, self._counter)).model
            if pinned:
                settings = {**routed.model_settings, "model": pinned}
                routed = routed.override(model_settings=settings)
        if self.budget_usd is None:
            return routed, None
        spent = self.spent_usd(request)
        key = self._scope_key() or f"call:{id(request)}"
        budget = self.budget_usd
        try:
            grant = self._inflight.admit(
                key, lambda left: self._grant(request, task, left, pinned)[0], spent, budget
            )
        except ContextTooLargeError:
            return routed, None  # the model raises it, with the details
        if grant.admitted:
            settings = dict(routed.model_settings)
            settings.pop("max_completion_tokens", None)
            settings["max_tokens"] = grant.max_tokens
            return routed.override(model_settings=settings), (key, grant)
        text = f"Stopped before {task} (spent ${spent:.6f}): {grant.message}."
        if self.on_budget == "raise":
            raise BudgetExceededError(
                text, scope=self.budget_scope, spent_usd=spent, budget_usd=self.budget_usd
            )
        return _stop_message("budget_exhausted", text, task, spent), None

    def _gateway_refusal(
        self, exc: BudgetExceededError, request: ModelRequest[Any], task: str
    ) -> AIMessage:
        if self.on_budget == "raise":
            raise exc
        text = f"Stopped before {task}: {exc}."
        return _stop_message("gateway_budget_exceeded", text, task, self.spent_usd(request))

    # ---- hooks ----------------------------------------------------------------------------

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any] | AIMessage:
        """Route the call to its task's model, or stop the agent when the budget refuses it."""
        task = self.task_of(request)
        routed, hold = self._prepare(request, task)
        if isinstance(routed, AIMessage):
            return routed
        try:
            return handler(routed)
        except BudgetExceededError as exc:
            return self._gateway_refusal(exc, request, task)
        finally:
            if hold is not None:  # the call's cost is in the run's spend by now
                self._inflight.release(*hold)

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any] | AIMessage:
        """Async :meth:`wrap_model_call`."""
        task = self.task_of(request)
        routed, hold = self._prepare(request, task)
        if isinstance(routed, AIMessage):
            return routed
        try:
            return await handler(routed)
        except BudgetExceededError as exc:
            return self._gateway_refusal(exc, request, task)
        finally:
            if hold is not None:
                self._inflight.release(*hold)


def _stop_message(reason: str, text: str, task: str, spent: float) -> AIMessage:
    """The final AIMessage of a stopped run: no tool calls, so ``create_agent`` ends."""
    return AIMessage(
        content=text,
        response_metadata={STOP_REASON_KEY: reason, "routing_task": task, "spent_usd": spent},
    )
