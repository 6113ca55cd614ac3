"""Drop the routing model into a ``langgraph-supervisor`` team; the team is not touched.

The change an adopter makes (1 line, plus 1 policy entry per agent that should get its own
model)::

    - model = ChatOpenAI(model="gpt-4o-mini")
    + model = init_routing_model(policy, base_url=base_url, api_key=api_key)

``create_supervisor(..., parallel_tool_calls=False)`` keeps working: the routing model's
``bind_tools`` takes the parameter and sends it.

    python examples/drop_in_supervisor.py
"""

from __future__ import annotations

import math
from typing import Any

from _gateway import gateway, skipped
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


@tool
def population(city: str) -> str:
    """Population of a city."""
    return f"{city}: 1.46 million"


@tool
def multiply(a: float, b: float) -> float:
    """Multiply two numbers a and b."""
    return a * b


def build(model: Any, checkpointer: Any) -> Any:
    """The app's own team, unchanged."""
    research = create_agent(model, [population], name="research_expert")
    math_expert = create_agent(model, [multiply], name="math_expert")
    team = create_supervisor([research, math_expert], model=model, parallel_tool_calls=False)
    return team.compile(checkpointer=checkpointer)


def main() -> None:
    policy = RoutingPolicy.default().updated(
        {
            "tasks": {"math": {"model": "gpt-4o"}},
            "node_tasks": {"research_expert": "synthesize", "math_expert": "math"},
        }
    )
    with (
        gateway() as (base_url, api_key, local),
        open_checkpointer("memory://") as saver,
        cost_tracking(policy) as costs,
    ):
        if local is not None:
            local.add_fault("server_error", model="gpt-4o-mini", status=503)
        else:
            skipped("a 503 on gpt-4o-mini")
        model = init_routing_model(policy, base_url=base_url, api_key=api_key)  # the change
        team = build(model, saver)
        question = "Ask research_expert: how many people live in Kyoto?"
        team.invoke({"messages": [("user", question)]}, {"configurable": {"thread_id": "t1"}})
        for e in costs.entries:
            print(f"{e.agent}: {e.task} -> {e.model} {e.status}")
        print(f"by agent: {sorted(costs.report().by_agent())}")
        [thread] = list_threads(saver)
        print(f"thread cost saved: {math.isclose(thread.cost_usd or 0.0, costs.total_usd)}")
        if local is not None:
            guard = {r.parallel_tool_calls for r in local.log if r.agent == "supervisor"}
            print(f"supervisor parallel_tool_calls sent: {guard}")
            print(f"ledger == gateway spend: {math.isclose(costs.total_usd, local.total_spend)}")


if __name__ == "__main__":
    main()
