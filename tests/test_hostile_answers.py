"""Answers that are not answers, from a hostile server (tests/support/hostile.py): each is
classified by the failure table, keeps its cost, and falls back or raises a typed error; a
redirect is never followed."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from langgraph_routing import BudgetExceededError, RoutesExhaustedError, init_routing_model
from tests.support.hostile import COST, Hostile


@pytest.mark.parametrize("mode", ["choices_empty", "choices_null", "error_in_200"])
def test_a_200_without_an_answer_falls_back_and_keeps_its_cost(mode: str) -> None:
    with Hostile(mode) as server:
        model = init_routing_model(base_url=server.base_url, api_key="sk-x")
        with pytest.raises(RoutesExhaustedError) as info:
            model.invoke("hello")
    # tool_select: gpt-4o-mini, then its fallback haiku; both answered 200 without a completion
    assert [h["model"] for h in server.hits] == ["gpt-4o-mini", "claude-3-5-haiku-20241022"]
    attempts = info.value.attempts
    assert [a["error_kind"] for a in attempts] == ["transient", "transient"]
    assert [a["cost_usd"] for a in attempts] == [float(COST), float(COST)]


def test_a_budget_error_inside_a_200_is_a_budget_error() -> None:
    with Hostile("budget_in_200") as server:
        model = init_routing_model(base_url=server.base_url, api_key="sk-x")
        with pytest.raises(BudgetExceededError) as info:
            model.invoke("hello")
    assert len(server.hits) == 1  # never retried
    assert info.value.scope == "gateway"


@pytest.mark.parametrize("mode", ["sse_error", "done_first"])
def test_a_broken_stream_falls_back(mode: str) -> None:
    with Hostile(mode) as server:
        model = init_routing_model(base_url=server.base_url, api_key="sk-x")
        with pytest.raises(RoutesExhaustedError) as info:
            list(model.stream("hello"))
    assert len(server.hits) == 2
    assert [a["error_kind"] for a in info.value.attempts] == ["transient", "transient"]


async def test_redirects_are_never_followed_sync_or_async() -> None:
    with Hostile("choices_empty") as elsewhere, Hostile("redirect", elsewhere.base_url) as gw:
        model = init_routing_model(base_url=gw.base_url, api_key="sk-x")
        with pytest.raises(RoutesExhaustedError) as sync_info:
            model.invoke("secret prompt")
        with pytest.raises(RoutesExhaustedError) as async_info:
            await model.ainvoke("secret prompt")
        assert elsewhere.hits == []  # the prompt never left for the other host
    assert len(gw.hits) == 4
    for info in (sync_info, async_info):
        assert [a["status"] for a in info.value.attempts] == [307, 307]


@pytest.mark.parametrize("value", ["1e308", "1e7", "999"])
def test_an_absurd_cost_is_suspect_and_never_breaks_a_sum(
    gateway: Any, value: str, tmp_path: Any
) -> None:
    from langgraph.graph import END, START, MessagesState, StateGraph

    from langgraph_routing import cost_tracking, list_threads, open_checkpointer

    gateway.add_fault("cost_header", value=value, times=2)
    model = init_routing_model(base_url=gateway.base_url, api_key=gateway.master_key)
    builder = StateGraph(MessagesState)
    builder.add_node("answer", lambda s: {"messages": [model.invoke(s["messages"])]})
    builder.add_edge(START, "answer")
    builder.add_edge("answer", END)
    with (
        cost_tracking() as costs,
        open_checkpointer(f"sqlite:///{tmp_path / 'c.db'}", costs=costs) as saver,
    ):
        graph = builder.compile(checkpointer=saver)
        for turn in range(3):  # two absurd headers, then an honest one
            graph.invoke(
                {"messages": [("user", f"turn {turn}")]}, {"configurable": {"thread_id": "t"}}
            )
        [thread] = list_threads(saver)
    sources = [e.source for e in costs.entries]
    assert sources == ["suspect", "suspect", "header"]
    report = costs.report()
    assert math.isfinite(report.total_usd) and report.total_usd < 1.0  # estimates stood in
    assert thread.cost_usd is not None and math.isclose(thread.cost_usd, report.total_usd)


def test_a_stream_that_trickles_forever_is_bounded_by_the_timeout() -> None:
    with Hostile("slow_stream") as server:
        model = init_routing_model(base_url=server.base_url, api_key="sk-x", timeout=1.0)
        with pytest.raises(RoutesExhaustedError) as info:
            list(model.stream("hello"))
    attempts = info.value.attempts
    assert [a["error_kind"] for a in attempts] == ["transient", "transient"]
    # each attempt ended at its 1 s timeout, not when the (endless) stream did
    assert all(1.0 <= a["latency_s"] < 5.0 for a in attempts)


@pytest.mark.parametrize("run", ["sync", "async"])
@pytest.mark.parametrize("mode", ["trickle_body", "trickle_headers"])
def test_an_answer_trickled_a_byte_at_a_time_is_bounded_by_the_timeout(run: str, mode: str) -> None:
    """httpx's read timeout restarts with every byte: the attempt's timeout bounds the whole."""
    with Hostile(mode) as server:
        model = init_routing_model(base_url=server.base_url, api_key="sk-x", timeout=1.0)
        with pytest.raises(RoutesExhaustedError) as info:
            if run == "sync":
                model.invoke("hello")
            else:
                asyncio.run(model.ainvoke("hello"))
    attempts = info.value.attempts
    assert len(server.hits) == len(attempts) == 2  # the primary and its fallback, each cut
    assert [a["error_kind"] for a in attempts] == ["transient", "transient"]
    assert all(1.0 <= a["latency_s"] < 3.0 for a in attempts), attempts


def test_an_endless_fast_stream_is_cut_at_the_buffer_cap() -> None:
    with Hostile("fast_stream") as server:
        model = init_routing_model(base_url=server.base_url, api_key="sk-x", max_tokens=256)
        with pytest.raises(RoutesExhaustedError) as info:
            list(model.stream("hello"))
    assert [a["error_kind"] for a in info.value.attempts] == ["transient", "transient"]
    assert len(server.hits) == 2


def test_the_call_deadline_turns_a_long_wait_into_a_fallback(gateway: Any) -> None:
    from langgraph_routing import RoutingPolicy

    policy = RoutingPolicy.default().updated({"retry": {"deadline_s": 30}})
    gateway.add_fault("rate_limit", model="gpt-4o-mini", retry_after=50, times=None)
    model = init_routing_model(policy, base_url=gateway.base_url, api_key=gateway.master_key)
    reply = model.invoke("hello")
    # a 50 s wait would pass the 30 s deadline: the fallback answers at once instead
    assert [(r.model, r.status) for r in gateway.log] == [
        ("gpt-4o-mini", 429),
        ("claude-3-5-haiku-20241022", 200),
    ]
    assert reply.response_metadata["routing"]["attempts"][0]["waited_s"] == 0.0
