"""Thread cost for ANY graph state: RoutingCheckpointer stamps what a thread cost when the
state has no ``costs`` ledger (``MessagesState``, ``create_agent``, subgraphs), merged with an
attached CostCallbackHandler. Real HTTP to LocalGateway, real LangGraph runs."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, MessagesState, StateGraph

from langgraph_routing import (
    CostCallbackHandler,
    RoutesExhaustedError,
    RoutingCheckpointer,
    RoutingMiddleware,
    init_routing_model,
    list_threads,
)
from langgraph_routing._ledger import entries_from_routing
from langgraph_routing.checkpointing._summary import routing_records, state_entries, summarize
from langgraph_routing.checkpointing._thread_costs import ThreadCosts
from langgraph_routing.testing import LocalGateway


@tool
def lookup(city: str) -> str:
    """Look up facts about a city."""
    return "population 1,463,723"


@pytest.fixture(params=["memory", "sqlite"])
def saver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BaseCheckpointSaver[Any]]:
    if request.param == "memory":
        yield InMemorySaver()
        return
    conn = sqlite3.connect(tmp_path / "c.db", check_same_thread=False)
    try:
        yield SqliteSaver(conn)
    finally:
        conn.close()


def messages_graph(model: Any, checkpointer: Any) -> Any:
    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    g = StateGraph(MessagesState)
    g.add_node("agent", agent)
    g.add_edge(START, "agent")
    g.add_edge("agent", END)
    return g.compile(checkpointer=checkpointer)


def cfg(thread_id: str, **extra: Any) -> Any:
    return {"configurable": {"thread_id": thread_id}, **extra}


def stamp(cp: BaseCheckpointSaver[Any], thread_id: str) -> dict[str, Any]:
    tup = cp.get_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}})
    assert tup is not None
    return dict(tup.metadata)


def test_messages_state_graph_thread_cost_equals_gateway_spend(
    gateway: LocalGateway, gateway_key: str, saver: BaseCheckpointSaver[Any]
) -> None:
    cp = RoutingCheckpointer(saver)
    graph = messages_graph(init_routing_model(base_url=gateway.base_url, api_key=gateway_key), cp)
    graph.invoke({"messages": [HumanMessage("What is the population of Kyoto?")]}, cfg("m1"))
    first = stamp(cp, "m1")
    graph.invoke({"messages": [HumanMessage("And of Osaka?")]}, cfg("m1"))
    meta = stamp(cp, "m1")
    assert len(gateway.log) == 2 and gateway.total_spend > 0
    assert first["routing_calls"] == 1 and meta["routing_calls"] == 2
    assert meta["routing_cost_usd"] == pytest.approx(gateway.total_spend, abs=1e-12)
    assert meta["routing_unknown_cost_calls"] == 0
    assert meta["routing_models"] == sorted({r.model for r in gateway.log})
    [info] = list_threads(cp)
    assert info.cost_usd == pytest.approx(gateway.total_spend, abs=1e-12) and info.calls == 2
    # a plain saver (no stamp) still reads the cost from the routed messages
    [plain_info] = list_threads(saver)
    assert plain_info.cost_usd == pytest.approx(gateway.total_spend, abs=1e-12)


def test_create_agent_thread_cost_equals_gateway_spend(
    gateway: LocalGateway, gateway_key: str, saver: BaseCheckpointSaver[Any]
) -> None:
    cp = RoutingCheckpointer(saver)
    mw = RoutingMiddleware(base_url=gateway.base_url, api_key=gateway_key)
    agent = create_agent(mw.model, [lookup], middleware=[mw], checkpointer=cp)
    agent.invoke({"messages": [HumanMessage("What is the population of Kyoto?")]}, cfg("a1"))
    meta = stamp(cp, "a1")
    assert len(gateway.log) >= 1 and gateway.total_spend > 0
    assert meta["routing_calls"] == len(gateway.log)
    assert meta["routing_cost_usd"] == pytest.approx(gateway.total_spend, abs=1e-12)
    [info] = list_threads(cp)
    assert info.cost_usd == pytest.approx(gateway.total_spend, abs=1e-12)


def test_failed_attempts_of_a_raising_node_count_with_the_handler(
    gateway: LocalGateway, gateway_key: str
) -> None:
    handler = CostCallbackHandler()
    with_handler = RoutingCheckpointer(InMemorySaver(), costs=handler)
    without = RoutingCheckpointer(InMemorySaver())
    model = init_routing_model(base_url=gateway.base_url, api_key=gateway_key)
    for cp, thread in ((with_handler, "h1"), (without, "h2")):
        gateway.reset()
        graph = messages_graph(model, cp)
        gateway.add_fault("server_error", status=503, times=None)
        with pytest.raises(RoutesExhaustedError):
            graph.invoke({"messages": [HumanMessage("hi")]}, cfg(thread, callbacks=[handler]))
        failed = len(gateway.log)
        assert failed >= 2 and all(r.status == 503 for r in gateway.log)  # the fault happened
        gateway.clear_faults()
        graph.invoke(None, cfg(thread, callbacks=[handler]))  # resume: the node runs again
        assert len(gateway.log) == failed + 1
        meta = stamp(cp, thread)
        assert meta["routing_cost_usd"] == pytest.approx(gateway.total_spend, abs=1e-12)
        if cp is with_handler:  # LangGraph dropped the failed node's writes; the handler did not
            assert meta["routing_calls"] == len(gateway.log)
        else:
            assert meta["routing_calls"] == 1
    assert with_handler.costs is handler and without.costs is None


def test_subgraph_messages_count_once() -> None:
    """A subgraph's own checkpoints (their ns) and the parent's copy of the same message count
    once, by call id."""
    routing = {
        "call_id": "c1",
        "cost_usd": 0.25,
        "attempts": [{"model": "m", "error_kind": None, "call_id": "c1"}],
    }
    ai = AIMessage("x", id="ai-1", response_metadata={"routing": routing})
    costs = ThreadCosts()
    inner = {"channel_values": {"messages": [HumanMessage("q", id="h"), ai]}}
    outer = {"channel_values": {"messages": [HumanMessage("q", id="h"), ai]}}
    assert costs.summary("t", "child:1", inner)["routing_calls"] == 1
    summary = costs.summary("t", "", outer)
    assert summary["routing_calls"] == 1 and summary["routing_cost_usd"] == 0.25


def test_put_rescans_only_new_messages_and_written_channels() -> None:
    costs = ThreadCosts()
    messages: list[Any] = []
    for i in range(5):
        routing = {
            "call_id": f"c{i}",
            "cost_usd": 0.1,
            "attempts": [{"model": "m", "error_kind": None, "call_id": f"c{i}"}],
        }
        messages = [
            *messages,
            AIMessage("a", id=f"a{i}", response_metadata={"routing": routing}),
            ToolMessage("t", tool_call_id=f"t{i}", id=f"t{i}"),
        ]
        summary = costs.summary(
            "t", "", {"channel_values": {"messages": messages}}, {"messages": 1}
        )
    assert summary["routing_calls"] == 5 and summary["routing_cost_usd"] == pytest.approx(0.5)
    # the same messages again, channel not written: nothing is read (a poisoned list proves it)
    poisoned = {"channel_values": {"messages": [object()]}}
    assert costs.summary("t", "", poisoned, {})["routing_calls"] == 5
    # a message removed from the state (summarisation) still counted: money was spent
    summary = costs.summary(
        "t", "", {"channel_values": {"messages": messages[-2:]}}, {"messages": 2}
    )
    assert summary["routing_calls"] == 5


def test_routing_records_key_like_entries_from_routing() -> None:
    routing = {
        "call_id": "ok-1",
        "cost_usd": 0.003,
        "attempts": [
            {"model": "a", "error_kind": "transient", "status": 503, "cost_usd": 0.0},
            {"model": "b", "error_kind": "rate_limit", "call_id": "gw-2", "cost_usd": None},
            {"model": "c", "error_kind": None, "call_id": "ok-1"},
        ],
    }
    group, records = routing_records(routing, "msg-9")
    entries = entries_from_routing(routing, None, fallback_id="msg-9")
    assert group == "ok-1"
    assert records == {e.call_id: (e.cost_usd, e.model) for e in entries}
    assert summarize(records.values())["routing_unknown_cost_calls"] == 1


def test_state_entries_from_ledger_or_messages() -> None:
    routing = {
        "call_id": "c1",
        "cost_usd": 0.5,
        "node": "agent",
        "attempts": [{"model": "m", "error_kind": None, "call_id": "c1"}],
    }
    ai = AIMessage("x", id="ai", response_metadata={"routing": routing})
    [entry] = state_entries({"messages": [ai, ai]}, "t9")
    assert entry["thread_id"] == "t9" and entry["cost_usd"] == 0.5 and entry["node"] == "agent"
    ledger = [{"call_id": "z", "cost_usd": 1.0, "thread_id": "t1"}]
    assert state_entries({"costs": ledger, "messages": [ai]}, "t9") == ledger


def test_subgraph_thread_cost_equals_gateway_spend(gateway: LocalGateway, gateway_key: str) -> None:
    """A parent whose node is a compiled subgraph calling the model twice: the root
    checkpoint's stamp counts the subgraph's calls (its checkpoints have their own ns)."""
    cp = RoutingCheckpointer(InMemorySaver())
    model = init_routing_model(base_url=gateway.base_url, api_key=gateway_key)

    def step(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    inner = StateGraph(MessagesState)
    inner.add_node("draft", step)
    inner.add_node("revise", step)
    inner.add_edge(START, "draft")
    inner.add_edge("draft", "revise")
    inner.add_edge("revise", END)
    outer = StateGraph(MessagesState)
    outer.add_node("writer", inner.compile())
    outer.add_edge(START, "writer")
    outer.add_edge("writer", END)
    graph = outer.compile(checkpointer=cp)
    graph.invoke({"messages": [HumanMessage("Write a haiku")]}, cfg("s1"))
    namespaces = {t.config["configurable"]["checkpoint_ns"] for t in cp.list(cfg("s1"))}
    assert len(gateway.log) == 2 and any(namespaces - {""})  # the subgraph checkpointed apart
    meta = stamp(cp, "s1")
    assert meta["routing_calls"] == 2
    assert meta["routing_cost_usd"] == pytest.approx(gateway.total_spend, abs=1e-12)


def test_our_template_inside_a_plain_parent_graph_counts_once_on_both_levels(
    gateway: LocalGateway, gateway_key: str
) -> None:
    """The template (a ``costs`` ledger) as a node of a ``MessagesState`` parent: its tasks'
    writes are not read in ``put_writes`` (its ledger is its cost), the parent reads the
    routed messages it receives. Both levels stamp every call once."""
    from langgraph_routing import create_routing_agent
    from langgraph_routing.demo import DEMO_TOOLS

    cp = RoutingCheckpointer(InMemorySaver())
    template = create_routing_agent(DEMO_TOOLS, base_url=gateway.base_url, api_key=gateway_key)
    outer = StateGraph(MessagesState)
    outer.add_node("assistant", template)
    outer.add_edge(START, "assistant")
    outer.add_edge("assistant", END)
    graph = outer.compile(checkpointer=cp)
    graph.invoke({"messages": [HumanMessage("What is 17.5 * 4 + 12?")]}, cfg("nested"))
    calls = len(gateway.log)
    assert calls >= 2  # a tool choice and a synthesis at least
    meta = stamp(cp, "nested")
    assert meta["routing_calls"] == calls
    assert meta["routing_cost_usd"] == pytest.approx(gateway.total_spend, abs=1e-12)
    inner = [
        t
        for t in cp.list(cfg("nested"))
        if t.config["configurable"]["checkpoint_ns"] and "routing_calls" in t.metadata
    ]
    assert inner, "the template checkpointed in its own namespace"
    last = max(inner, key=lambda t: t.metadata["routing_calls"])
    assert last.metadata["routing_calls"] == calls
    assert last.metadata["routing_cost_usd"] == pytest.approx(gateway.total_spend, abs=1e-12)
