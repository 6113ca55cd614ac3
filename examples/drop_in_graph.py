"""Drop the routing model into a plain ``MessagesState`` graph; the graph is not touched.

The change an adopter makes (1 line, plus 1 policy entry to route the ``writer`` node)::

    - model = ChatOpenAI(model="gpt-4o-mini")
    + model = init_routing_model(policy, base_url=base_url, api_key=api_key)

The state has no ``costs`` channel: the thread's cost is still saved with its checkpoints.

    python examples/drop_in_graph.py
"""

from __future__ import annotations

import math
from typing import Any

from _gateway import gateway, skipped
from langgraph.graph import END, START, MessagesState, StateGraph

from langgraph_routing import (
    RoutingPolicy,
    cost_tracking,
    init_routing_model,
    list_threads,
    open_checkpointer,
)


def build(model: Any, checkpointer: Any) -> Any:
    """The app's own graph, unchanged."""

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
    return builder.compile(checkpointer=checkpointer)


def main() -> None:
    policy = RoutingPolicy.default().updated({"node_tasks": {"writer": "synthesize"}})
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
        graph = build(model, saver)
        graph.invoke(
            {"messages": [("user", "Why route by task?")]}, {"configurable": {"thread_id": "t1"}}
        )
        for e in costs.entries:
            print(f"{e.agent}: {e.task} -> {e.model} {e.status}")
        print(f"by agent: {sorted(costs.report().by_agent())}")
        [thread] = list_threads(saver)
        print(f"thread cost saved: {math.isclose(thread.cost_usd or 0.0, costs.total_usd)}")
        if local is not None:
            print(f"ledger == gateway spend: {math.isclose(costs.total_usd, local.total_spend)}")


if __name__ == "__main__":
    main()
