"""Add routing to a graph you already have: the nodes, the budget guard and the state are public.

An existing support-ticket graph (``triage`` is plain Python) gets a routed ``plan`` step, a
routed answer step (``synthesize_node`` under the name ``answer``), a budget guard in front of
both, and a node of its own that calls the routing model and records the cost with
``costs_update``. The state subclasses ``RoutingState``, so ``costs`` and ``routing`` come along.

    python examples/compose_nodes.py
"""

from __future__ import annotations

from _gateway import gateway
from langchain_core.messages import HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from langgraph_routing import (
    CostReport,
    RoutingChatModel,
    RoutingState,
    budget_guard,
    costs_update,
    init_routing_model,
    plan_node,
    synthesize_node,
)


class TicketState(RoutingState):
    ticket: str
    priority: str


def triage(state: TicketState) -> dict:
    """A node of the existing graph: no model call."""
    priority = "high" if "down" in state["ticket"] else "normal"
    return {"priority": priority, "messages": [HumanMessage(state["ticket"])]}


def build(model: RoutingChatModel, budget_usd: float) -> CompiledStateGraph:
    critic = model.with_task("critique")

    def review(state: TicketState) -> dict:
        """A node of your own: call the model for a task, record the cost in the state."""
        reply = critic.invoke(f"Review this reply to a customer: {state['final_answer']}")
        return {"messages": [reply], **costs_update(reply)}

    guard = budget_guard(model.policy, budget_usd=budget_usd)
    builder = StateGraph(TicketState)
    builder.add_node("triage", triage)
    builder.add_node("plan", plan_node(model))
    builder.add_node("answer", synthesize_node(model, name="answer"))
    builder.add_node("review", review)
    builder.add_edge(START, "triage")
    guard.connect(builder, "triage", "plan")  # triage -> [guard] -> plan | stop
    guard.connect(builder, "plan", "answer")
    builder.add_edge("answer", "review")
    builder.add_edge("review", END)
    return builder.compile()


def main() -> None:
    ticket = {"ticket": "The checkout page is down since 9:00"}
    with gateway() as (base_url, api_key, _):
        model = init_routing_model(base_url=base_url, api_key=api_key)
        graph = build(model, budget_usd=0.50)
        print(f"nodes: {sorted(n for n in graph.get_graph().nodes if not n.startswith('__'))}")

        out = graph.invoke(ticket)
        print(f"priority={out['priority']} stop_reason={out['stop_reason']}")
        for d in out["routing"]:
            print(f"  {d['node']} -> task {d['task']} -> {d['model']}")
        report = CostReport(out["costs"])
        print(f"cost by node: { {k: round(v, 6) for k, v in report.by_node().items()} }")
        print(f"total ${report.total_usd:.6f} over {report.calls} calls")

        out = build(model, budget_usd=0.003).invoke(ticket)
        print(
            f"with a $0.003 budget: ran {[d['node'] for d in out['routing']]}, "
            f"stop_reason={out['stop_reason']}"
        )
        print(f"  {out['final_answer']}")


if __name__ == "__main__":
    main()
