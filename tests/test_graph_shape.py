"""Shape of the routing agent: the mermaid drawing of each option combination (syrupy)."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from langgraph_routing._graph import create_routing_agent
from langgraph_routing.demo import DEMO_TOOLS


def draw(**kw: Any) -> str:
    agent = create_routing_agent(
        DEMO_TOOLS, base_url="http://127.0.0.1:9/v1", api_key="sk-shape", **kw
    )
    return str(agent.get_graph().draw_mermaid())


@pytest.mark.parametrize("critique", [False, True], ids=["no_critique", "critique"])
def test_mermaid(snapshot: Any, critique: bool) -> None:
    drawing = draw(critique=critique)
    assert drawing == snapshot
    # the stop node serves max_steps too: neither a budget nor a checkpointer changes the shape
    assert draw(critique=critique, budget_usd=0.05) == drawing
    assert draw(critique=critique, budget_usd=0.05, checkpointer=InMemorySaver()) == drawing
    assert draw(critique=critique, checkpointer=InMemorySaver()) == drawing


def test_critique_adds_exactly_the_review_loop() -> None:
    plain, reviewed = draw(), draw(critique=True)
    extra = set(reviewed.splitlines()) - set(plain.splitlines())
    assert {line.strip() for line in extra} == {
        "critique(critique)",
        "critique -.-> __end__;",
        "critique -.-> stop;",
        "critique -.-> synthesize;",
        "synthesize -.-> critique;",
        "synthesize -.-> stop;",
        "tool_select -.-> critique;",  # tool_select's own answer (no tool needed) is reviewed
    }


def test_tool_results_go_to_synthesize_and_the_gate_decides_the_plan() -> None:
    lines = {line.strip() for line in draw().splitlines()}
    # no round trip to tool_select after the tools: synthesize answers or calls more tools
    assert {"tools -.-> synthesize;", "synthesize -.-> tools;"} <= lines
    assert "tools -.-> tool_select;" not in lines
    # the run starts at the gate, which sends it to plan or straight to tool_select
    assert {"__start__ --> gate;", "gate -.-> plan;", "gate -.-> tool_select;"} <= lines
