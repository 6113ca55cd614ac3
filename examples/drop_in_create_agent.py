"""Drop the routing model into a ``create_agent`` app, with or without ``RoutingMiddleware``.

The change an adopter makes (1 line)::

    - agent = create_agent("openai:gpt-4o-mini", tools, name="researcher", ...)
    + agent = create_agent(init_routing_model(base_url=..., api_key=...), tools, name="researcher", ...)

or, to route each step of the agent loop by task (2 lines)::

    + routing = RoutingMiddleware(base_url=base_url, api_key=api_key, budget_usd=1.0)
    - agent = create_agent("openai:gpt-4o-mini", tools, name="researcher", ...)
    + agent = create_agent(routing.model, tools, middleware=[routing], name="researcher", ...)

    python examples/drop_in_create_agent.py
"""

from __future__ import annotations

import math

from _gateway import gateway, skipped
from langchain.agents import create_agent
from langchain_core.tools import tool

from langgraph_routing import (
    RoutingMiddleware,
    cost_tracking,
    init_routing_model,
    list_threads,
    open_checkpointer,
)


@tool
def population(city: str) -> str:
    """Population of a city."""
    return f"{city}: 1.46 million"


QUESTION = {"messages": [("user", "How many people live in Kyoto?")]}


def main() -> None:
    with gateway() as (base_url, api_key, local), open_checkpointer("memory://") as saver:
        if local is not None:
            local.add_fault("server_error", model="gpt-4o-mini", status=503)
        else:
            skipped("a 503 on gpt-4o-mini")
        routing = RoutingMiddleware(base_url=base_url, api_key=api_key, budget_usd=1.0)
        agents = {
            "model only": create_agent(
                init_routing_model(base_url=base_url, api_key=api_key),  # the change
                [population],
                name="researcher",
                checkpointer=saver,
            ),
            "middleware": create_agent(
                routing.model,
                [population],
                middleware=[routing],
                name="researcher",
                checkpointer=saver,
            ),
        }
        for thread_id, agent in agents.items():
            with cost_tracking() as costs:
                agent.invoke(QUESTION, {"configurable": {"thread_id": thread_id}})
            print(f"{thread_id}:")
            for e in costs.entries:
                print(f"  {e.agent}: {e.task} -> {e.model} {e.status}")
            print(f"  by agent: {sorted(costs.report().by_agent())}")
            [thread] = [t for t in list_threads(saver) if t.thread_id == thread_id]
            print(f"  thread cost saved: {math.isclose(thread.cost_usd or 0.0, costs.total_usd)}")
        if local is not None:
            print(f"gateway calls: {[(r.model, r.status) for r in local.log]}")


if __name__ == "__main__":
    main()
