"""Graph state of the routing agent: the ledger channel, the decision log and the stop reason.

:class:`RoutingState` is a plain ``TypedDict``; subclass it to add your own keys. Model nodes
write their cost entries and routing decisions with :func:`costs_update`, which reads only
``response_metadata["routing"]`` and ``usage_metadata`` of the message (never a key).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage, BaseMessage
from langgraph.graph.message import add_messages

from ._ledger import add_costs, entries_from_routing, total_usd

__all__ = [
    "RoutingState",
    "StopReason",
    "add_decisions",
    "costs_update",
    "routing_decision",
    "spent_usd",
]


class StopReason(enum.StrEnum):
    """Why a run of the routing agent ended (stored in state as the plain string value)."""

    DONE = "done"
    BUDGET_EXHAUSTED = "budget_exhausted"
    GATEWAY_BUDGET_EXCEEDED = "gateway_budget_exceeded"
    MAX_STEPS = "max_steps"
    CRITIQUE_REJECTED = "critique_rejected"


def add_decisions(
    left: list[dict[str, Any]] | None, right: list[dict[str, Any]] | dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Reducer of the ``routing`` channel: appends decisions, once per call id.

    >>> add_decisions([{"call_id": "a", "model": "o3-mini"}], [{"call_id": "a"}, {"call_id": "b"}])
    [{'call_id': 'a', 'model': 'o3-mini'}, {'call_id': 'b'}]
    """
    new = [right] if isinstance(right, dict) else list(right or [])
    out = list(left or [])
    seen = {d.get("call_id") for d in out if d.get("call_id") is not None}
    for decision in new:
        cid = decision.get("call_id")
        if cid is not None and cid in seen:
            continue
        if cid is not None:
            seen.add(cid)
        out.append(dict(decision))
    return out


class RoutingState(TypedDict, total=False):
    """State of the routing agent; subclass it to add keys of your own.

    - ``messages``: the conversation (``add_messages``).
    - ``plan``: the plan of the current request (written by the plan node).
    - ``final_answer``: the answer (or the reason the run stopped early).
    - ``costs``: the thread's cost ledger, one :class:`~langgraph_routing.CostEntry` dict per
      gateway call (``add_costs``: deduplicated by call id, so resumes never double-count).
    - ``routing``: one decision per model step (node, task, model, reason, attempts, cost).
    - ``stop_reason``: a :class:`StopReason` value, None while running.
    - ``model_steps`` / ``critiques`` / ``critique``: counters and the latest critique.
    - ``plan_gate``: whether this run plans, and why (``{"plan": bool, "reason": str}``).

    >>> from langgraph.graph import StateGraph
    >>> class MyState(RoutingState):
    ...     ticket_id: str
    >>> builder = StateGraph(MyState)
    """

    messages: Annotated[list[AnyMessage], add_messages]
    plan: str
    final_answer: str
    costs: Annotated[list[dict[str, Any]], add_costs]
    routing: Annotated[list[dict[str, Any]], add_decisions]
    stop_reason: str | None
    model_steps: int
    critiques: int
    critique: str
    plan_gate: dict[str, Any]


def routing_decision(message: BaseMessage) -> dict[str, Any] | None:
    """The decision-log record of one routed reply, or None if it was not routed.

    >>> from langchain_core.messages import AIMessage
    >>> routing_decision(AIMessage("hi")) is None
    True
    """
    routing = message.response_metadata.get("routing")
    if not isinstance(routing, Mapping):
        return None
    attempts = list(routing.get("attempts") or [])
    return {
        "node": routing.get("node"),
        "agent": routing.get("agent"),
        "task": routing.get("task"),
        "model": routing.get("model"),
        "max_tokens": routing.get("max_tokens"),
        "requested_model": routing.get("requested_model"),
        "reason": routing.get("reason"),
        "attempts": len(attempts),
        "cost_usd": routing.get("cost_usd"),
        "cost_source": routing.get("cost_source"),
        "call_id": routing.get("call_id"),
        "step": routing.get("step"),
    }


def costs_update(message: BaseMessage) -> dict[str, Any]:
    """The ``costs`` and ``routing`` state update for one reply of a :class:`RoutingChatModel`.

    Use it in a node of your own graph: ``return {"messages": [reply], **costs_update(reply)}``.
    A message that was not routed gives an empty update.

    >>> from langchain_core.messages import AIMessage
    >>> reply = AIMessage("ok", response_metadata={"routing": {
    ...     "task": "synthesize", "model": "gpt-4o", "call_id": "c1", "cost_usd": 0.002,
    ...     "cost_source": "header", "attempts": [{"model": "gpt-4o", "error_kind": None}]}})
    >>> update = costs_update(reply)
    >>> [(e["call_id"], e["cost_usd"], e["status"]) for e in update["costs"]]
    [('c1', 0.002, 'ok')]
    >>> update["routing"][0]["model"]
    'gpt-4o'
    """
    routing = message.response_metadata.get("routing")
    if not isinstance(routing, Mapping):
        return {}
    fallback_id = str(routing.get("call_id") or message.id or uuid.uuid4())
    usage = getattr(message, "usage_metadata", None)
    entries = entries_from_routing(routing, usage, fallback_id=fallback_id)
    decision = routing_decision(message)
    return {
        "costs": [e.to_dict() for e in entries],
        "routing": [decision] if decision is not None else [],
    }


def spent_usd(state: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> float:
    """What the thread has spent: the exact (fsum) total of its ``costs`` ledger.

    >>> spent_usd({"costs": [{"call_id": "a", "cost_usd": 0.1}, {"call_id": "b", "cost_usd": 0.2}]})
    0.30000000000000004
    """
    entries = (state.get("costs") or []) if isinstance(state, Mapping) else state
    return total_usd(entries)
