"""The public parts (state, nodes, guard) in a graph of the user's own."""

from __future__ import annotations

import math
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.graph import END, START, StateGraph

from langgraph_routing import init_routing_model
from langgraph_routing._graph import BudgetGuard, budget_guard
from langgraph_routing._nodes import (
    critique_node,
    parse_verdict,
    plan_node,
    synthesize_node,
    tool_select_node,
)
from langgraph_routing._state import RoutingState, add_decisions, costs_update, spent_usd
from langgraph_routing.demo import DEMO_TOOLS
from langgraph_routing.testing import LocalGateway


class TicketState(RoutingState):
    ticket: str


def fetch_ticket(state: TicketState) -> dict[str, Any]:
    """The user's own node: no model, just data."""
    call = {"name": "fetch", "args": {"id": state["ticket"]}, "id": "t1", "type": "tool_call"}
    return {
        "messages": [
            AIMessage("", tool_calls=[call]),
            ToolMessage("Ticket 42: refund of 19.90 EUR approved", tool_call_id="t1", name="fetch"),
        ]
    }


def build(gw: LocalGateway, budget: float | None) -> Any:
    model = init_routing_model(base_url=gw.base_url, api_key=gw.master_key)
    guard = budget_guard(model.policy, budget)
    builder = StateGraph(TicketState)
    builder.add_node("fetch_ticket", fetch_ticket)
    builder.add_node("answer", synthesize_node(model))  # not named like its task
    builder.add_edge(START, "fetch_ticket")
    guard.connect(builder, "fetch_ticket", "answer")
    builder.add_edge("answer", END)
    return builder.compile()


def test_users_own_graph_records_costs_and_routing(gateway: LocalGateway) -> None:
    graph = build(gateway, budget=1.0)
    out = graph.invoke({"ticket": "42", "messages": [HumanMessage("Was my refund approved?")]})

    assert [r.model for r in gateway.log] == ["claude-3-5-sonnet-20241022"]
    assert "19.90 EUR" in out["final_answer"] and out["stop_reason"] == "done"
    assert out["ticket"] == "42"  # the user's own key survives
    (decision,) = out["routing"]
    assert (decision["node"], decision["task"], decision["model"]) == (
        "answer",
        "synthesize",
        "claude-3-5-sonnet-20241022",
    )
    (entry,) = out["costs"]
    assert entry["node"] == "answer" and entry["status"] == "ok"
    assert math.fsum([entry["cost_usd"]]) == gateway.total_spend > 0
    assert decision["cost_usd"] == entry["cost_usd"]


def test_users_own_graph_guard_stops_without_a_request(gateway: LocalGateway) -> None:
    graph = build(gateway, budget=1e-9)
    out = graph.invoke({"ticket": "42", "messages": [HumanMessage("Was my refund approved?")]})

    assert gateway.log == []
    assert out["stop_reason"] == "budget_exhausted"
    assert out.get("costs", []) == [] and "Stopped before answer" in out["final_answer"]
    assert sorted(graph.get_graph().nodes) == [
        "__end__",
        "__start__",
        "answer",
        "fetch_ticket",
        "stop",
    ]


def test_costs_update_in_a_plain_node(gateway: LocalGateway) -> None:
    model = init_routing_model(base_url=gateway.base_url, api_key=gateway.master_key)

    def agent(state: RoutingState) -> dict[str, Any]:
        reply = model.invoke(state["messages"])
        return {"messages": [reply], **costs_update(reply)}

    builder = StateGraph(RoutingState)
    builder.add_node("agent", agent)  # the policy's node_tasks maps "agent" -> tool_select
    builder.add_edge(START, "agent")
    builder.add_edge("agent", END)
    out = builder.compile().invoke({"messages": [HumanMessage("hello")]})

    assert [d["model"] for d in out["routing"]] == ["gpt-4o-mini"]
    assert spent_usd(out) == gateway.total_spend > 0


def test_reducers_dedupe_replayed_calls() -> None:
    entry = {"call_id": "c1", "cost_usd": 0.5}
    assert add_decisions([entry], [entry, {"call_id": "c2"}]) == [entry, {"call_id": "c2"}]
    assert spent_usd([entry, entry, {"call_id": "c3", "cost_usd": None}]) == 0.5
    assert costs_update(AIMessage("not routed")) == {}


def test_parse_verdict_only_revise_rejects() -> None:
    assert parse_verdict("REVISE: add units") == (False, "add units")
    assert parse_verdict("**Revise** - cite the source")[0] is False
    assert parse_verdict("APPROVE")[0] is True
    assert parse_verdict("Here is a short answer: done.")[0] is True


def test_guard_prices_the_model_the_policy_would_pick() -> None:
    model = init_routing_model(base_url="http://127.0.0.1:9/v1", api_key="sk-x")
    state = {"messages": [HumanMessage("What is 2 + 2?")], "plan": "1. calculate"}
    guard = BudgetGuard(model.policy)
    select = tool_select_node(model, DEMO_TOOLS)
    usd, chosen = guard.reservation(select, state)
    assert chosen == "gpt-4o-mini"
    spec = model.policy.models[chosen]
    assert usd > spec.cost_usd(0, model.policy.reserved_output("tool_select"))
    # spent + reservation is compared with the budget; max_steps is checked first
    assert BudgetGuard(model.policy, usd).check(state, select) is None
    # less than the full reservation: admitted with a smaller max_tokens, down to the floor
    shrunk, _ = BudgetGuard(model.policy, usd * 0.5).grant(select, state)
    assert 0 < shrunk.max_tokens < model.policy.reserved_output("tool_select")
    assert shrunk.reserve_usd <= usd * 0.5
    assert BudgetGuard(model.policy, usd * 0.5).check(state, select) is None
    floor = model.policy.budget.min_output_tokens
    least = usd - spec.cost_usd(0, model.policy.reserved_output("tool_select") - floor)
    stop = BudgetGuard(model.policy, least * 0.99).check(state, select)
    assert stop is not None and stop.arg["reason"] == "budget_exhausted"
    assert "gpt-4o-mini" in stop.arg["text"] and "budget_usd" in stop.arg["text"]
    late = BudgetGuard(model.policy, None, max_steps=3).check({**state, "model_steps": 3}, select)
    assert late is not None and late.arg["reason"] == "max_steps"
    # the plan step starts a run: an old step count does not stop it
    assert BudgetGuard(None, None, max_steps=1).check({"model_steps": 9}, plan_node(model)) is None


def test_node_factories_bind_their_task_and_validate() -> None:
    model = init_routing_model(base_url="http://127.0.0.1:9/v1", api_key="sk-x")
    assert synthesize_node(model, name="answer").model.task == "synthesize"
    assert critique_node(model).model.task == "critique"
    with pytest.raises(ValueError, match="max_critiques"):
        critique_node(model, max_critiques=0)
    with pytest.raises(ValueError, match="budget_usd"):
        budget_guard(None, -1.0)
