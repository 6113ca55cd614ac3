"""Routing for ``langchain.agents.create_agent``: one middleware, the same policy and budgets.

``RoutingMiddleware`` gives each model call of the agent loop a task (the first call of a turn
``tool_select``, calls after tool results ``synthesize``) and sends it to that task's model,
with the same failure table as the routing graph. With ``budget_usd`` it stops the agent before
a call that could pass the budget.

    python examples/create_agent_middleware.py
"""

from __future__ import annotations

from _gateway import gateway
from langchain.agents import create_agent
from langchain_core.messages import AIMessage

from langgraph_routing._middleware import RoutingMiddleware
from langgraph_routing.demo import DEMO_TOOLS

QUESTION = {"messages": [("user", "What is the capital and population of Japan?")]}


def main() -> None:
    with gateway() as (base_url, api_key, _):
        routing = RoutingMiddleware(base_url=base_url, api_key=api_key)
        agent = create_agent(routing.model, DEMO_TOOLS, middleware=[routing])
        out = agent.invoke(QUESTION)
        for m in out["messages"]:
            if isinstance(m, AIMessage):
                r = m.response_metadata["routing"]
                calls = [c["name"] for c in m.tool_calls]
                print(f"{r['task']} -> {r['model']} (${r['cost_usd']:.6f}) tool calls: {calls}")
        print(f"answer: {out['messages'][-1].text[:70]}")

        print("with budget_usd=0.003:")
        routing = RoutingMiddleware(base_url=base_url, api_key=api_key, budget_usd=0.003)
        agent = create_agent(routing.model, DEMO_TOOLS, middleware=[routing])
        last = agent.invoke(QUESTION)["messages"][-1]
        print(f"  stop_reason={last.response_metadata.get('stop_reason')}")
        print(f"  {last.text}")


if __name__ == "__main__":
    main()
