"""Apps that never heard of this package: a plain ``MessagesState`` graph, a ``create_agent``
thread, and ``create_agent`` with ``RoutingMiddleware``.

None of them has a ``costs`` channel: the thread's cost must still be saved with the checkpoint
(from the routing record of the AIMessages the state holds), equal the gateway's spend, split by
agent, and the failure table must apply inside them.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph

from langgraph_routing import (
    RoutingMiddleware,
    RoutingPolicy,
    cost_tracking,
    init_routing_model,
    list_threads,
    open_checkpointer,
)
from langgraph_routing.testing import LocalGateway
from tests.apps.conftest import call

MINI, HAIKU, SONNET = "gpt-4o-mini", "claude-3-5-haiku-20241022", "claude-3-5-sonnet-20241022"
QUESTION = {"messages": [("user", "How many people live in Kyoto?")]}
POLICY = RoutingPolicy.default().updated({"node_tasks": {"writer": "synthesize"}})


@tool
def population(city: str) -> str:
    """Population of a city."""
    return f"{city}: 1.46 million"


def _messages_graph(model: Any, saver: Any) -> Any:
    """Two nodes of an app's own graph; only the model line is ours."""

    def researcher(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    def writer(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke([*state["messages"], ("user", "Write it up.")])]}

    builder = StateGraph(MessagesState)
    builder.add_node("researcher", researcher)
    builder.add_node("writer", writer)
    builder.add_edge(START, "researcher")
    builder.add_edge("researcher", "writer")
    builder.add_edge("writer", END)
    return builder.compile(checkpointer=saver)


def _thread_cost(saver: Any) -> tuple[float, int]:
    [thread] = list_threads(saver)
    assert thread.status == "done" and thread.unknown_cost_calls == 0
    return thread.cost_usd or 0.0, thread.calls


@pytest.mark.parametrize("url", ["memory://", "sqlite"])
def test_messages_state_graph(gateway: LocalGateway, url: str, tmp_path: Any) -> None:
    target = f"sqlite:///{tmp_path / 'plain.db'}" if url == "sqlite" else url
    with open_checkpointer(target) as saver, cost_tracking(POLICY) as costs:
        model = init_routing_model(POLICY, base_url=gateway.base_url, api_key=gateway.master_key)
        graph = _messages_graph(model, saver)
        graph.invoke(QUESTION, {"configurable": {"thread_id": "plain-1"}})
        cost, calls = _thread_cost(saver)
    # each node went to its task's model: researcher -> default task, writer -> node_tasks
    assert [(r.node, r.model, r.status) for r in gateway.log] == [
        ("researcher", MINI, 200),
        ("writer", SONNET, 200),
    ]
    assert math.isclose(costs.total_usd, gateway.total_spend, rel_tol=1e-9)
    by_agent = costs.report().by_agent()  # no named agent: each node is its own
    assert set(by_agent) == {"researcher", "writer"} and all(v > 0 for v in by_agent.values())
    # no costs channel, no handler attached to the saver: read from the routed AIMessages
    assert calls == 2 and math.isclose(cost, gateway.total_spend, rel_tol=1e-9)


def test_messages_state_graph_falls_back_on_503(gateway: LocalGateway) -> None:
    gateway.add_fault("server_error", model=MINI, status=503)
    with open_checkpointer("memory://") as saver, cost_tracking(POLICY) as costs:
        model = init_routing_model(POLICY, base_url=gateway.base_url, api_key=gateway.master_key)
        _messages_graph(model, saver).invoke(QUESTION, {"configurable": {"thread_id": "p2"}})
        cost, calls = _thread_cost(saver)
    assert [(r.node, r.model, r.status) for r in gateway.log] == [
        ("researcher", MINI, 503),  # the fault happened...
        ("researcher", HAIKU, 200),  # ...and the call fell back to the chain's next model
        ("writer", SONNET, 200),
    ]
    assert [e.status for e in costs.entries if e.node == "researcher"] == ["error", "ok"]
    assert math.isclose(costs.total_usd, gateway.total_spend, rel_tol=1e-9)
    assert calls == 3 and math.isclose(cost, gateway.total_spend, rel_tol=1e-9)


def test_create_agent_thread(gateway: LocalGateway) -> None:
    gateway.script(MINI, [call("population", city="Kyoto"), "Kyoto has 1.46 million people."])
    with open_checkpointer("memory://") as saver, cost_tracking() as costs:
        model = init_routing_model(base_url=gateway.base_url, api_key=gateway.master_key)
        agent = create_agent(model, [population], name="researcher", checkpointer=saver)
        out = agent.invoke(QUESTION, {"configurable": {"thread_id": "ca-1"}})
        cost, calls = _thread_cost(saver)
    assert "1.46 million" in out["messages"][-1].text
    assert [(r.agent, r.model, r.status) for r in gateway.log] == [("researcher", MINI, 200)] * 2
    assert math.isclose(costs.total_usd, gateway.total_spend, rel_tol=1e-9)
    assert list(costs.report().by_agent()) == ["researcher"]
    assert calls == 2 and math.isclose(cost, gateway.total_spend, rel_tol=1e-9)


def _middleware_agent(gateway: LocalGateway, saver: Any) -> Any:
    routing = RoutingMiddleware(
        base_url=gateway.base_url, api_key=gateway.master_key, budget_usd=1.0
    )
    return create_agent(
        routing.model, [population], middleware=[routing], name="researcher", checkpointer=saver
    )


def test_create_agent_with_routing_middleware_thread(gateway: LocalGateway) -> None:
    gateway.script(MINI, [call("population", city="Kyoto")])
    gateway.script(SONNET, ["Kyoto has 1.46 million people."])
    with open_checkpointer("memory://") as saver, cost_tracking() as costs:
        out = _middleware_agent(gateway, saver).invoke(
            QUESTION, {"configurable": {"thread_id": "m1"}}
        )
        cost, calls = _thread_cost(saver)
    assert "1.46 million" in out["messages"][-1].text
    # the middleware's tasks: tool_select for the first call of the turn, synthesize after tools
    assert [(r.task, r.model, r.agent) for r in gateway.log] == [
        ("tool_select", MINI, "researcher"),
        ("synthesize", SONNET, "researcher"),
    ]
    assert math.isclose(costs.total_usd, gateway.total_spend, rel_tol=1e-9)
    assert costs.report().by_agent() == pytest.approx({"researcher": gateway.total_spend})
    assert calls == 2 and math.isclose(cost, gateway.total_spend, rel_tol=1e-9)


def test_create_agent_with_routing_middleware_falls_back_on_503(gateway: LocalGateway) -> None:
    gateway.add_fault("server_error", model=MINI, status=503)
    gateway.script(HAIKU, [call("population", city="Kyoto")])
    gateway.script(SONNET, ["Kyoto has 1.46 million people."])
    with open_checkpointer("memory://") as saver, cost_tracking() as costs:
        out = _middleware_agent(gateway, saver).invoke(
            QUESTION, {"configurable": {"thread_id": "m2"}}
        )
        cost, calls = _thread_cost(saver)
    assert "1.46 million" in out["messages"][-1].text
    assert [(r.model, r.status) for r in gateway.log] == [(MINI, 503), (HAIKU, 200), (SONNET, 200)]
    assert len(costs.entries) == 3  # the failed attempt is in the ledger too
    assert math.isclose(costs.total_usd, gateway.total_spend, rel_tol=1e-9)
    assert calls == 3 and math.isclose(cost, gateway.total_spend, rel_tol=1e-9)
