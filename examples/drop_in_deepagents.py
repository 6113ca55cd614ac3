"""Drop the routing model into a ``deepagents`` agent; the agent is not touched.

The change an adopter makes (1 argument, plus 1 policy entry to give the subagent its model)::

    - agent = create_deep_agent(model="openai:gpt-4o-mini", subagents=[researcher], ...)
    + agent = create_deep_agent(model=init_routing_model(policy, base_url=..., api_key=...), ...)

Human approval (``interrupt_on``) and resuming work as before; the model's profile comes from
the policy, so deepagents summarises before the window is full.

    python examples/drop_in_deepagents.py
"""

from __future__ import annotations

import math
from typing import Any

from _gateway import gateway, skipped
from deepagents import create_deep_agent
from langchain_core.tools import tool
from langgraph.types import Command

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


RESEARCHER = {
    "name": "researcher",
    "description": "Researches facts about cities",
    "system_prompt": "Research the question with your tools.",
    "tools": [population],
}


def main() -> None:
    policy = RoutingPolicy.default().updated({"node_tasks": {"researcher": "synthesize"}})
    config: Any = {"configurable": {"thread_id": "t1"}}
    with (
        gateway() as (base_url, api_key, local),
        cost_tracking(policy) as costs,
        open_checkpointer("memory://", costs=costs) as saver,
    ):
        if local is not None:
            local.add_fault("server_error", model="gpt-4o-mini", status=503)
        else:
            skipped("a 503 on gpt-4o-mini")
        model = init_routing_model(policy, base_url=base_url, api_key=api_key)  # the change
        agent = create_deep_agent(
            model=model,
            tools=[population],
            subagents=[RESEARCHER],
            interrupt_on={"population": True},
            checkpointer=saver,
            name="lead",
        )
        out = agent.invoke(
            {"messages": [("user", "What is the population of Kyoto? Use the population tool.")]},
            config,
        )
        while out.get("__interrupt__"):
            [pending] = out["__interrupt__"]
            names = [a["name"] for a in pending.value["action_requests"]]
            print(f"approval asked for: {names}")
            decisions = [{"type": "approve"} for _ in names]
            out = agent.invoke(Command(resume={"decisions": decisions}), config)
        for e in costs.entries:
            print(f"{e.agent}: {e.task} -> {e.model} {e.status}")
        print(f"profile max_input_tokens: {model.profile['max_input_tokens']}")
        [thread] = list_threads(saver)
        print(f"thread cost saved: {math.isclose(thread.cost_usd or 0.0, costs.total_usd)}")
        if local is not None:
            print(f"ledger == gateway spend: {math.isclose(costs.total_usd, local.total_spend)}")


if __name__ == "__main__":
    main()
