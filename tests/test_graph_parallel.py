"""Tool calls of one reply run concurrently (proved by tool-side events, not by timing)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from langchain_core.messages import ToolMessage
from langchain_core.tools import tool

from langgraph_routing._graph import create_routing_agent
from langgraph_routing.testing import LocalGateway

TWO_CALLS = {
    "content": None,
    "tool_calls": [
        {"function": {"name": "slow_a", "arguments": {"x": "a"}}},
        {"function": {"name": "slow_b", "arguments": {"x": "b"}}},
    ],
}


def _run(gw: LocalGateway, tools: list[Any]) -> Any:
    gw.script("gpt-4o-mini", [TWO_CALLS])  # tool_select answers with both calls at once
    return create_routing_agent(tools, base_url=gw.base_url, api_key=gw.master_key)


def test_two_slow_tools_overlap(gateway: LocalGateway) -> None:
    events: list[tuple[str, str]] = []
    lock = threading.Lock()
    # each tool waits until the other one has started: run one after the other, the first
    # would time out (BrokenBarrierError -> an error ToolMessage)
    both_started = threading.Barrier(2, timeout=10)

    def slow(name: str) -> str:
        with lock:
            events.append(("start", name))
        both_started.wait()
        with lock:
            events.append(("end", name))
        return f"{name} done"

    @tool
    def slow_a(x: str) -> str:
        """Slow tool A."""
        return slow("a")

    @tool
    def slow_b(x: str) -> str:
        """Slow tool B."""
        return slow("b")

    out = _run(gateway, [slow_a, slow_b]).invoke({"messages": [("user", "Run A and B.")]})

    assert sorted(events[:2]) == [("start", "a"), ("start", "b")]  # both started before any end
    assert sorted(events[2:]) == [("end", "a"), ("end", "b")]
    results = [m for m in out["messages"] if isinstance(m, ToolMessage)]
    assert sorted(m.content for m in results) == ["a done", "b done"]
    assert all(m.status == "success" for m in results)
    assert "a done" in out["final_answer"] and "b done" in out["final_answer"]
    assert [r.model for r in gateway.log] == ["gpt-4o-mini", "gpt-4o-mini"]  # one synthesis


async def test_two_slow_async_tools_overlap(gateway: LocalGateway) -> None:
    events: list[tuple[str, str]] = []
    started = {"a": asyncio.Event(), "b": asyncio.Event()}

    async def slow(name: str, other: str) -> str:
        events.append(("start", name))
        started[name].set()
        await asyncio.wait_for(started[other].wait(), timeout=10)
        events.append(("end", name))
        return f"{name} done"

    @tool
    async def slow_a(x: str) -> str:
        """Slow tool A."""
        return await slow("a", "b")

    @tool
    async def slow_b(x: str) -> str:
        """Slow tool B."""
        return await slow("b", "a")

    out = await _run(gateway, [slow_a, slow_b]).ainvoke({"messages": [("user", "Run A and B.")]})

    assert sorted(events[:2]) == [("start", "a"), ("start", "b")]
    results = [m for m in out["messages"] if isinstance(m, ToolMessage)]
    assert sorted(m.content for m in results) == ["a done", "b done"]
