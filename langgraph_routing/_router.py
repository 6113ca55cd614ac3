"""Per-run decisions of the template that are not about one call's failures: whether to plan
(the complexity gate) and which model a step's difficulty calls for (the :class:`Router`).

Both are cheap, pure functions of the request by default, and pluggable: a ``plan_gate``
callable and any object with a ``route(features)`` method (e.g. a learned router over judged
traces) replace them in :func:`~langgraph_routing.create_routing_agent`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool

from ._budget import Grant, admit, reservation_usd
from ._policy import RoutingPolicy
from ._specs import PlanningSpec
from ._tokens import TokenCounter

__all__ = [
    "DifficultyRouter",
    "GateDecision",
    "PlanGate",
    "RequestFeatures",
    "RouteDecision",
    "Router",
    "complexity_gate",
    "grant_on_model",
    "request_features",
]

_SEQUENCE = re.compile(
    r"\b(then|after that|afterwards|step[- ]by[- ]step|and finally|based on (?:that|the result)|"
    r"use (?:that|the result)|once you have)\b",
    re.IGNORECASE,
)
_LIST_ITEM = re.compile(r"^\s*(?:\d+[.)]|[-*\u2022])\s+\S", re.MULTILINE)
_OPEN_ENDED = re.compile(
    r"\b(explain why|why does|why do|why is|compare|contrast|analy[sz]e|summari[sz]e|"
    r"evaluate|assess|recommend|pros and cons|trade-?offs?|in detail|essay|write an?|draft an?|"
    r"design an?|propose|critique)\b",
    re.IGNORECASE,
)


# ---- the complexity gate ---------------------------------------------------------------------


@dataclass(frozen=True)
class GateDecision:
    """Whether the plan step runs for this request, and why."""

    plan: bool
    reason: str


PlanGate = Callable[[str, Sequence[BaseTool]], "GateDecision | bool"]
"""A plan gate: ``(request text, tools) -> GateDecision`` (or a bare bool)."""


def complexity_gate(
    request: str, tools: Sequence[BaseTool] = (), spec: PlanningSpec | None = None
) -> GateDecision:
    """The default plan gate: plan only a request that looks multi-step.

    >>> complexity_gate("What is 17.5 * 4 + 12?").plan
    False
    >>> complexity_gate("Look up the population of Japan, then divide it by 47.")
    GateDecision(plan=True, reason="plan: sequencing marker 'then'")
    >>> complexity_gate("anything", spec=PlanningSpec(mode="always")).reason
    'plan: planning.mode is always'
    """
    spec = spec or PlanningSpec()
    if spec.mode != "auto":
        return GateDecision(
            spec.mode == "always",
            f"plan: planning.mode is {spec.mode}"
            if spec.mode == "always"
            else "no plan: planning.mode is never",
        )
    if (marker := _SEQUENCE.search(request)) is not None:
        return GateDecision(True, f"plan: sequencing marker {marker.group(0).lower()!r}")
    items = len(_LIST_ITEM.findall(request))
    if items >= 2:
        return GateDecision(True, f"plan: a list of {items} items")
    questions = request.count("?")
    if questions > spec.max_questions:
        return GateDecision(True, f"plan: {questions} questions")
    return GateDecision(
        False, f"no plan: single-step request ({len(request.split())} words, {questions} '?')"
    )


def gate_decision(
    gate: PlanGate | None, request: str, tools: Sequence[BaseTool], spec: PlanningSpec
) -> GateDecision:
    """Run ``gate`` (default :func:`complexity_gate`) and normalise its answer."""
    if gate is None:
        return complexity_gate(request, tools, spec)
    out = gate(request, tools)
    if isinstance(out, GateDecision):
        return out
    name = getattr(gate, "__name__", type(gate).__name__)
    return GateDecision(bool(out), f"{'plan' if out else 'no plan'}: {name} said {bool(out)}")


def grant_on_model(
    policy: RoutingPolicy,
    model: str,
    task: str,
    prompt_tokens: int,
    wanted: int | None,
    left_usd: float,
    what: str,
    cache_writes: int = 0,
) -> tuple[Grant, str]:
    """``(grant, model)`` for a call of ``task`` pinned to ``model`` (by a router): what
    ``left_usd`` admits of the output it wants (``inf``: everything)."""
    spec = policy.models[model]
    reserve = min(policy.reserved_output(task, wanted), spec.max_output_tokens)
    if left_usd == float("inf"):
        return Grant(reserve, reservation_usd(spec, prompt_tokens, reserve, cache_writes)), model
    floor = policy.budget.min_output_tokens
    grant = admit(
        spec,
        prompt_tokens,
        reserve,
        left_usd,
        min_output_tokens=floor,
        what=what,
        cache_writes=cache_writes,
    )
    return grant, model


# ---- difficulty routing ----------------------------------------------------------------------


@dataclass(frozen=True)
class RequestFeatures:
    """What a router sees of one model step: the task, the user's latest request, and sizes
    (tokens, approximate) of the prompt and of this turn's tool results."""

    task: str
    request: str
    request_tokens: int
    prompt_tokens: int
    tool_results: int
    tool_result_tokens: int
    open_ended: bool


@dataclass(frozen=True)
class RouteDecision:
    """A router's answer: a ``model`` to send the step to, or a ``task`` to route it as (None
    for both: the task's own model), a ``label`` (e.g. ``"easy"``) and the ``reason``."""

    model: str | None = None
    task: str | None = None
    label: str = ""
    reason: str = ""


@runtime_checkable
class Router(Protocol):
    """Chooses the model of a step from its features (the rule :class:`DifficultyRouter`, or a
    learned router)."""

    def route(self, features: RequestFeatures) -> RouteDecision:
        """The model (or task) for the step described by ``features``, with the reason."""
        ...


class DifficultyRouter:
    """The policy's difficulty rule (``policy.difficulty_of(task)``): short prompt, small tool
    results and a closed question -> the easy model; anything else -> the hard one.

    >>> router = DifficultyRouter(RoutingPolicy.default())
    >>> router.route(RequestFeatures("synthesize", "What is 2+2?", 6, 300, 1, 2, False)).model
    'gpt-4o-mini'
    >>> router.route(RequestFeatures("synthesize", "Compare A and B", 5, 300, 1, 2, True)).reason
    'hard: open-ended request -> claude-3-5-sonnet-20241022'
    """

    def __init__(self, policy: RoutingPolicy) -> None:
        self.policy = policy

    def route(self, features: RequestFeatures) -> RouteDecision:
        rule = self.policy.difficulty_of(features.task)
        if rule is None:
            return RouteDecision()  # the task's own model
        hard = rule.hard or self.policy.route_of(features.task).model
        why: list[str] = []
        if features.prompt_tokens > rule.max_prompt_tokens:
            why.append(f"prompt ~{features.prompt_tokens} > {rule.max_prompt_tokens} tokens")
        if features.tool_result_tokens > rule.max_tool_tokens:
            why.append(
                f"tool results ~{features.tool_result_tokens} > {rule.max_tool_tokens} tokens"
            )
        if rule.open_ended_hard and features.open_ended:
            why.append("open-ended request")
        if why:
            return RouteDecision(
                model=hard, label="hard", reason=f"hard: {'; '.join(why)} -> {hard}"
            )
        return RouteDecision(
            model=rule.easy,
            label="easy",
            reason=(
                f"easy: prompt ~{features.prompt_tokens} tokens, tool results "
                f"~{features.tool_result_tokens}, closed request -> {rule.easy}"
            ),
        )


@functools.lru_cache(maxsize=1)
def _counter() -> TokenCounter:  # built on first use: it reads the encoding file
    return TokenCounter()


def _text(message: BaseMessage) -> str:
    return str(message.text)


def request_features(
    task: str, prompt: Sequence[BaseMessage], counter: TokenCounter | None = None
) -> RequestFeatures:
    """The features of a step that sends ``prompt``: the latest human request and this turn's
    tool results (token counts are approximate, offline, cached per message).

    >>> from langchain_core.messages import ToolMessage
    >>> f = request_features("synthesize", [HumanMessage("Why is the sky blue? Explain why."),
    ...                                     ToolMessage("Rayleigh", tool_call_id="1")])
    >>> f.tool_results, f.open_ended, f.prompt_tokens > f.tool_result_tokens > 0
    (1, True, True)
    """
    count = (counter or _counter()).message_tokens
    last_user = max((i for i, m in enumerate(prompt) if isinstance(m, HumanMessage)), default=-1)
    request = _text(prompt[last_user]) if last_user >= 0 else ""
    results = [m for m in prompt[last_user + 1 :] if isinstance(m, ToolMessage)]
    return RequestFeatures(
        task=task,
        request=request,
        request_tokens=count(prompt[last_user]) if last_user >= 0 else 0,
        prompt_tokens=sum(count(m) for m in prompt),
        tool_results=len(results),
        tool_result_tokens=sum(count(m) for m in results),
        open_ended=_OPEN_ENDED.search(request) is not None,
    )


def latest_request(state: Mapping[str, Any]) -> str:
    """The text of the state's latest HumanMessage ("" when there is none)."""
    for message in reversed(list(state.get("messages") or [])):
        if isinstance(message, HumanMessage):
            return _text(message)
    return ""


class PlanGateNode:
    """The template's first node: starts the run (resets its counters) and decides, with the
    plan gate, whether the plan step runs (``plan_gate`` in state: ``{"plan", "reason"}``)."""

    def __init__(
        self, tools: Sequence[BaseTool], spec: PlanningSpec, gate: PlanGate | None = None
    ) -> None:
        self.tools = list(tools)
        self.spec = spec
        self.gate = gate

    def __call__(self, state: Any) -> dict[str, Any]:
        decision = gate_decision(self.gate, latest_request(state), self.tools, self.spec)
        update: dict[str, Any] = {
            "plan_gate": {"plan": decision.plan, "reason": decision.reason},
            "stop_reason": None,
            "final_answer": "",
            "critiques": 0,
            "critique": "",
            "model_steps": 0,
        }
        if not decision.plan:
            update["plan"] = ""  # not the previous turn's plan
        return update
