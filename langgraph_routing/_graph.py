"""The prebuilt routing agent, and the budget guard that runs before each model step.

``plan -> tool_select <-> tools -> synthesize [-> critique -> synthesize ...] -> END``

The guard is a conditional edge in front of every model node: it prices the worst case of the
next call (the prompt that node would send, at the input price of the model the policy would
pick, plus the reserved output at its output price) and, when the thread's ledger plus that
reservation would pass the budget, sends the run to the ``stop`` node instead (no request).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.config import get_config
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode
from langgraph.types import Send, StreamWriter

from ._budget import Grant, InFlight, check_budget, grant_for_task
from ._cache_marks import cache_writes_of
from ._context import current_thread_id
from ._errors import ContextTooLargeError, RoutingError
from ._factory import init_routing_model
from ._ledger import total_usd
from ._model import RoutingChatModel
from ._nodes import (
    ModelNode,
    critique_node,
    plan_node,
    stop_update,
    synthesize_node,
    tool_select_node,
)
from ._policy import RoutingPolicy
from ._router import (
    DifficultyRouter,
    PlanGate,
    PlanGateNode,
    RouteDecision,
    Router,
    grant_on_model,
)
from ._runs import current_root, run_tracker
from ._state import RoutingState, StopReason, spent_usd
from ._tokens import TokenCounter

__all__ = ["GATE_NODE", "STOP_NODE", "BudgetGuard", "budget_guard", "create_routing_agent"]

STOP_NODE = "stop"
GATE_NODE = "gate"
_UNSET = object()
DEFAULT_MAX_STEPS = 10


def _policy_of(model: BaseChatModel) -> RoutingPolicy:
    return model.policy if isinstance(model, RoutingChatModel) else RoutingPolicy.default()


class BudgetGuard:
    """Stops a run before a model step that could pass the budget or ``max_steps``.

    ``budget_usd`` is checked against the thread's ledger (the ``costs`` channel, which holds
    across resumes). ``route(node)`` is a conditional-edge function: the node's name, or a
    ``Send`` to the stop node (``guard.stop``), which writes ``stop_reason``, a final AIMessage
    and ``final_answer``.

    >>> from langgraph.graph import StateGraph, START, END
    >>> from langgraph_routing import init_routing_model
    >>> model = init_routing_model(base_url="http://127.0.0.1:4000/v1", api_key="sk-x")
    >>> guard = budget_guard(model.policy, budget_usd=0.05)
    >>> builder = StateGraph(RoutingState)
    >>> builder = builder.add_node("synthesize", synthesize_node(model))
    >>> guard.connect(builder, START, "synthesize")          # START -> [guard] -> synthesize | stop
    >>> graph = builder.add_edge("synthesize", END).compile()
    >>> sorted(graph.get_graph().nodes)
    ['__end__', '__start__', 'stop', 'synthesize']
    """

    def __init__(
        self,
        policy: RoutingPolicy | None = None,
        budget_usd: float | None = None,
        *,
        max_steps: int | None = None,
        stop_node: str = STOP_NODE,
        counter: TokenCounter | None = None,
    ) -> None:
        budget_usd = check_budget(budget_usd)
        if max_steps is not None and max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps!r}")
        self.policy = policy
        self.budget_usd = budget_usd
        self.max_steps = max_steps
        self.stop_node = stop_node
        self.counter = counter or TokenCounter()
        self._inflight = InFlight()

    def reservation(self, node: ModelNode, state: Mapping[str, Any]) -> tuple[float, str]:
        """``(usd, model)``: the worst case of ``node``'s next call and the model it would use.

        Raises :class:`ContextTooLargeError` when no model fits the prompt.
        """
        grant, model = self.grant(node, state, float("inf"))
        return grant.reserve_usd, model

    def grant(
        self,
        node: ModelNode,
        state: Mapping[str, Any],
        left_usd: float | None = None,
        *,
        decision: object = _UNSET,
    ) -> tuple[Grant, str]:
        """``(grant, model)`` for ``node``'s next call with ``left_usd`` (default: the budget
        minus the thread's spend) left: the ``max_tokens`` it may be sent with (smaller than
        it wants when the budget cannot pay for all of it; 0 when refused). The model is the
        one the node's router picks (``decision``, default: asked now), else the policy's."""
        policy = self.policy or _policy_of(node.model)
        routed = node.route(state) if decision is _UNSET else decision
        routed = routed if isinstance(routed, RouteDecision) else None
        messages, tools = node.request(state)
        task = routed.task if routed is not None and routed.task else node.task
        prompt = self.counter.count(messages, policy.route_of(task).model, tools)
        wanted = node.model.max_tokens if isinstance(node.model, RoutingChatModel) else None
        if left_usd is None:
            left_usd = (
                float("inf") if self.budget_usd is None else self.budget_usd - spent_usd(state)
            )
        what = f"the budget of ${self.budget_usd or 0.0:.6f}"
        # our marks follow the model's own policy (the guard's may be another)
        marks = node.model.policy if isinstance(node.model, RoutingChatModel) else None
        writes = cache_writes_of(marks, current_thread_id(), prompt.tokens, messages)
        pinned = routed.model if routed is not None else None
        if pinned and pinned in policy.models:  # the router's model, not the task's
            return grant_on_model(
                policy, pinned, task, prompt.tokens, wanted, left_usd, what, writes
            )
        return grant_for_task(
            policy, task, prompt.tokens, bool(tools), wanted, left_usd, what, writes
        )

    def spent(self, state: Mapping[str, Any]) -> float:
        """The thread's ledger plus every routed call of the running run not in it yet (calls
        of concurrent branches whose writes are not applied), deduplicated by call id."""
        entries: list[Mapping[str, Any]] = list(state.get("costs") or [])
        root = current_root()
        if root is not None:
            spend = run_tracker().spend_of(root).items()
            entries += [{"call_id": call_id, "cost_usd": cost} for call_id, cost in spend]
        return total_usd(entries)

    def hold(
        self, node: ModelNode, state: Mapping[str, Any], decision: object = _UNSET
    ) -> tuple[str, Grant] | None:
        """Atomically admit ``node``'s next call against the budget, holding its worst case
        until :meth:`release` (branches of a ``Send`` fan-out run at once: each sees what the
        others hold). None: no budget, or the call raises its own error."""
        if self.budget_usd is None:
            return None
        thread = (get_config().get("configurable") or {}).get("thread_id")
        key = f"thread:{thread}" if thread is not None else f"run:{current_root()}"
        budget = self.budget_usd
        try:
            grant = self._inflight.admit(
                key,
                lambda left: self.grant(node, state, left, decision=decision)[0],
                self.spent(state),
                budget,
            )
        except RoutingError:
            return None
        return key, grant

    def release(self, held: tuple[str, Grant] | None) -> None:
        """Give back what :meth:`hold` reserved (after the call's cost is recorded)."""
        if held is not None:
            self._inflight.release(*held)

    def check(
        self, state: Mapping[str, Any], node: ModelNode, target: str | None = None
    ) -> Send | None:
        """None when ``node`` (added as ``target``) may run; else a ``Send`` to the stop node."""
        name = target or node.name
        steps = 0 if node.starts_run else int(state.get("model_steps") or 0)
        # a draft of this run is kept as the answer; before plan it is the previous turn's
        draft = None if node.starts_run else (state.get("final_answer") or None)
        if self.max_steps is not None and steps >= self.max_steps:
            text = f"Stopped before {name}: the run reached max_steps={self.max_steps}."
            return self._send(StopReason.MAX_STEPS, text, draft)
        if self.budget_usd is None:
            return None
        spent = spent_usd(state)
        try:
            grant, _model = self.grant(node, state, self.budget_usd - spent)
        except ContextTooLargeError:
            return None  # the node raises it with the details
        if grant.admitted:
            return None
        text = f"Stopped before {name} (spent ${spent:.6f}): {grant.message}."
        return self._send(StopReason.BUDGET_EXHAUSTED, text, draft)

    def _send(self, reason: StopReason, text: str, draft: str | None) -> Send:
        return Send(self.stop_node, {"reason": reason.value, "text": text, "final_answer": draft})

    def route(self, node: ModelNode, target: str | None = None) -> Callable[[Any], str | Send]:
        """A conditional-edge function: ``target`` (default ``node.name``) or the stop ``Send``.

        The node is told about the guard now, at build time: it then sends the ``max_tokens``
        the budget grants, on a resumed run too (where the edge is not evaluated again)."""
        node.guard = self

        def guard(state: Any) -> str | Send:
            return self.check(state, node, target) or (target or str(node.name))

        guard.__name__ = f"guard_{target or node.name}"
        return guard

    def stop(self, request: Mapping[str, Any], writer: StreamWriter) -> dict[str, Any]:
        """The stop node: ends the run with the reason the guard sent (add it under
        ``stop_node`` and give it an edge to END)."""
        writer({"event": "stop", "stop_reason": request["reason"], "text": request["text"]})
        return stop_update(request["reason"], request["text"], request.get("final_answer"))

    def connect(self, builder: StateGraph[Any, Any, Any, Any], source: str, target: str) -> None:
        """Add ``source -> [guard] -> target | stop`` to ``builder`` (``target`` must already be
        a model node of this package); adds the stop node and its edge to END if missing."""
        spec = builder.nodes.get(target)
        node = spec.runnable if spec is not None else None
        if not isinstance(node, ModelNode):
            raise ValueError(f"{target!r} is not a model node of langgraph_routing")
        self.add_stop_node(builder)
        builder.add_conditional_edges(source, self.route(node, target), [target, self.stop_node])

    def add_stop_node(self, builder: StateGraph[Any, Any, Any, Any]) -> None:
        """Add the stop node (and its edge to END) unless ``builder`` has it."""
        if self.stop_node not in builder.nodes:
            # its input is the guard's Send payload, not the state (hence the cast)
            builder.add_node(self.stop_node, cast(Any, self.stop))
            builder.add_edge(self.stop_node, END)


def budget_guard(
    policy: RoutingPolicy | None = None,
    budget_usd: float | None = None,
    *,
    max_steps: int | None = None,
    stop_node: str = STOP_NODE,
) -> BudgetGuard:
    """A :class:`BudgetGuard` for ``budget_usd`` (None: no budget, only ``max_steps``).

    >>> guard = budget_guard(RoutingPolicy.default(), 0.01)
    >>> guard.check({"costs": [{"call_id": "a", "cost_usd": 0.02}]}, _example_node()).arg["reason"]
    'budget_exhausted'
    """
    return BudgetGuard(policy, budget_usd, max_steps=max_steps, stop_node=stop_node)


def _example_node() -> ModelNode:  # for the doctest above
    return synthesize_node(init_routing_model(base_url="http://127.0.0.1:4000/v1", api_key="x"))


def _halted(state: Mapping[str, Any]) -> bool:
    return state.get("stop_reason") == StopReason.GATEWAY_BUDGET_EXCEEDED.value


def _calls_tools(state: Mapping[str, Any]) -> bool:
    messages = state.get("messages") or []
    last = messages[-1] if messages else None
    return isinstance(last, AIMessage) and bool(last.tool_calls)


def create_routing_agent(
    tools: Sequence[BaseTool],
    *,
    model: BaseChatModel | None = None,
    policy: RoutingPolicy | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    budget_usd: float | None = None,
    critique: bool = False,
    system_prompt: str | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    max_critiques: int = 2,
    base_url: str | None = None,
    api_key: str | None = None,
    name: str | None = None,
    plan_gate: PlanGate | None = None,
    router: Router | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The ReAct routing agent: ``gate -> [plan ->] tool_select -> tools <-> synthesize
    [-> critique]``.

    The ``gate`` decides per run whether the plan step pays (``plan_gate``, default
    :func:`complexity_gate` with the policy's ``planning`` settings); simple requests go
    straight to tool selection. After the tool results, ``synthesize`` answers, or, having the
    tools bound, calls more of them (no extra round trip to ask for "no more tools"). The tool
    calls of one reply run concurrently. Synthesis goes to the model ``router`` picks (default
    :class:`DifficultyRouter`: short closed answers over small tool results on the policy's
    easy model, long or open-ended ones on the task's model). The gate's and the router's
    reasons are in the ``routing`` decision log (``plan_gate``, ``router``).

    Each model step goes to the model its task calls for; ``costs`` holds the ledger and
    ``routing`` the decisions. ``stop_reason`` ends as ``"done"``, ``"budget_exhausted"`` (the
    guard stopped before a call that could pass ``budget_usd``), ``"gateway_budget_exceeded"``,
    ``"max_steps"`` or ``"critique_rejected"``. Other failures (e.g. RoutesExhaustedError)
    propagate; with a ``checkpointer``, ``graph.invoke(None, config)`` resumes.

    >>> from langgraph_routing.demo import DEMO_TOOLS
    >>> from langgraph_routing.testing import LocalGateway
    >>> with LocalGateway() as gw:
    ...     agent = create_routing_agent(DEMO_TOOLS, base_url=gw.base_url, api_key=gw.master_key)
    ...     out = agent.invoke({"messages": [("user", "What is 17.5 * 4 + 12?")]})
    >>> out["stop_reason"], "82" in out["final_answer"]
    ('done', True)
    >>> [(d["node"], d["model"]) for d in out["routing"]]
    [('tool_select', 'gpt-4o-mini'), ('synthesize', 'gpt-4o-mini')]
    >>> out["routing"][0]["plan_gate"]
    "no plan: single-step request (7 words, 1 '?')"
    """
    if model is None:
        model = init_routing_model(policy, base_url=base_url, api_key=api_key)
    resolved = policy or _policy_of(model)
    guard = BudgetGuard(resolved, budget_usd, max_steps=max_steps)
    plan = plan_node(model, tools, system_prompt=system_prompt)
    router = router if router is not None else DifficultyRouter(resolved)
    select = tool_select_node(model, tools, system_prompt=system_prompt, answer_router=router)
    synth = synthesize_node(model, system_prompt=system_prompt, tools=tools, router=router)
    review = critique_node(model, max_critiques=max_critiques, system_prompt=system_prompt)

    builder = StateGraph(RoutingState)
    builder.add_node(GATE_NODE, PlanGateNode(tools, resolved.planning, plan_gate))
    builder.add_node("plan", plan)
    builder.add_node("tool_select", select)
    builder.add_node("tools", ToolNode(list(tools), handle_tool_errors=True))
    builder.add_node("synthesize", synth)
    if critique:
        builder.add_node("critique", review)
    guard.add_stop_node(builder)
    stop = guard.stop_node

    to_plan = guard.route(plan)
    to_select = guard.route(select)
    to_synth = guard.route(synth)
    to_review = guard.route(review)

    def after_gate(state: RoutingState) -> str | Send:
        gate = state.get("plan_gate") or {}
        return to_plan(state) if gate.get("plan") else to_select(state)

    def after_plan(state: RoutingState) -> str | Send:
        return END if _halted(state) else to_select(state)

    def after_tool_select(state: RoutingState) -> str | Send:
        if _halted(state):
            return END
        if _calls_tools(state):
            return "tools"
        if state.get("stop_reason") == StopReason.DONE.value:  # it answered (no tool needed)
            return to_review(state) if critique else END
        return to_synth(state)

    def after_synthesize(state: RoutingState) -> str | Send:
        if _halted(state):
            return END
        if _calls_tools(state):
            return "tools"
        return to_review(state) if critique else END

    def after_critique(state: RoutingState) -> str | Send:
        return to_synth(state) if state.get("stop_reason") is None else END

    builder.add_edge(START, GATE_NODE)
    builder.add_conditional_edges(GATE_NODE, after_gate, ["plan", "tool_select", stop])
    builder.add_conditional_edges("plan", after_plan, ["tool_select", stop, END])
    after_select = ["tools", "synthesize", stop, END, *(["critique"] if critique else [])]
    builder.add_conditional_edges("tool_select", after_tool_select, after_select)
    builder.add_conditional_edges("tools", to_synth, ["synthesize", stop])
    if critique:
        builder.add_conditional_edges(
            "synthesize", after_synthesize, ["tools", "critique", stop, END]
        )
        builder.add_conditional_edges("critique", after_critique, ["synthesize", stop, END])
    else:
        builder.add_conditional_edges("synthesize", after_synthesize, ["tools", END])
    graph = builder.compile(checkpointer=checkpointer, name=name or "routing_agent")
    # each model step is at most two supersteps (a model node + tools), plus gate and stop
    return graph.with_config(recursion_limit=max(25, 2 * max_steps + 6))
