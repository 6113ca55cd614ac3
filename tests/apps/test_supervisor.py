"""langgraph-supervisor (pinned in the dev extras): a supervisor and two workers.

Adopting routing changes one line (the model); per-agent routing is one policy entry per agent.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.tools import tool
from langgraph_supervisor import create_supervisor

from langgraph_routing import (
    RoutingPolicy,
    cost_tracking,
    init_routing_model,
    list_threads,
    open_checkpointer,
)
from langgraph_routing.testing import LocalGateway
from tests.apps.conftest import call

MINI, SONNET, GPT4O = "gpt-4o-mini", "claude-3-5-sonnet-20241022", "gpt-4o"
QUESTION = {"messages": [("user", "What is the population of Kyoto, times two?")]}
POLICY = RoutingPolicy.default().updated(
    {
        "tasks": {"math": {"model": GPT4O}},
        "node_tasks": {
            "supervisor": "tool_select",
            "research_expert": "synthesize",
            "math_expert": "math",
        },
    }
)


@tool
def population(city: str) -> str:
    """Population of a city."""
    return f"{city}: 1.46 million"


@tool
def multiply(a: float, b: float) -> float:
    """Multiply two numbers a and b."""
    return a * b


def _team(gateway: LocalGateway, saver: Any) -> Any:
    model = init_routing_model(POLICY, base_url=gateway.base_url, api_key=gateway.master_key)
    research = create_agent(model, [population], name="research_expert")
    math_agent = create_agent(model, [multiply], name="math_expert")
    return create_supervisor(
        [research, math_agent], model=model, parallel_tool_calls=False
    ).compile(checkpointer=saver)


def _script(gateway: LocalGateway) -> None:
    gateway.script(
        MINI,
        [
            call("transfer_to_research_expert"),
            call("transfer_to_math_expert"),
            "Kyoto has 1.46 million people; twice that is 2.92 million.",
        ],
    )
    gateway.script(SONNET, [call("population", city="Kyoto"), "Kyoto: 1.46 million people."])
    gateway.script(GPT4O, [call("multiply", a=1.46, b=2), "1.46 x 2 = 2.92 million."])


@pytest.mark.parametrize("url", ["memory://", "sqlite"])
def test_team_routes_and_costs_per_agent(gateway: LocalGateway, url: str, tmp_path: Any) -> None:
    _script(gateway)
    target = f"sqlite:///{tmp_path / 'team.db'}" if url == "sqlite" else url
    with open_checkpointer(target) as saver, cost_tracking(POLICY) as costs:
        team = _team(gateway, saver)
        out = team.invoke(QUESTION, {"configurable": {"thread_id": "team-1"}})
        threads = list_threads(saver)
    assert "2.92" in str(out["messages"][-1].content)
    # each agent's requests went to its own model; the supervisor's carried the handoff guard
    by_agent_model = {(r.agent or r.node, r.model) for r in gateway.log}
    assert by_agent_model == {
        ("supervisor", MINI),
        ("research_expert", SONNET),
        ("math_expert", GPT4O),
    }
    assert all(r.parallel_tool_calls is False for r in gateway.log if r.model == MINI)
    assert all(r.status == 200 for r in gateway.log)
    # cost: ledger == gateway, split by agent, and saved with the thread
    assert math.isclose(costs.total_usd, gateway.total_spend, rel_tol=1e-12)
    by_agent = costs.report().by_agent()
    assert set(by_agent) == {"supervisor", "research_expert", "math_expert"}
    assert all(v > 0 for v in by_agent.values())
    [thread] = threads
    assert thread.calls == len(gateway.log)
    assert math.isclose(thread.cost_usd or 0.0, gateway.total_spend, rel_tol=1e-12)


def test_a_failing_worker_model_falls_back(gateway: LocalGateway) -> None:
    _script(gateway)
    gateway.add_fault("server_error", model=GPT4O, status=503, times=None)
    # gpt-4o falls back to claude-3-5-sonnet: it answers the math worker's turns
    gateway.script(SONNET, [call("multiply", a=1.46, b=2), "1.46 x 2 = 2.92 million."])
    with open_checkpointer("memory://") as saver, cost_tracking(POLICY) as costs:
        out = _team(gateway, saver).invoke(QUESTION, {"configurable": {"thread_id": "t2"}})
    assert "2.92" in str(out["messages"][-1].content)
    failed = [r for r in gateway.log if r.model == GPT4O]
    assert failed and all(r.status == 503 for r in failed)  # the fault happened...
    math_calls = [r for r in gateway.log if r.agent == "math_expert" and r.status == 200]
    assert {r.model for r in math_calls} == {SONNET}  # ...and the worker fell back
    routed = [e for e in costs.entries if e.agent == "math_expert" and e.status == "error"]
    assert len(routed) == len(failed)  # every failed attempt is in the ledger
    assert math.isclose(costs.total_usd, gateway.total_spend, rel_tol=1e-12)
