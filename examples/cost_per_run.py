"""Every dollar attributed to its run, node and model, and checked against the gateway's spend.

``cost_tracking()`` registers a :class:`CostCallbackHandler` for the block: it reads the cost the
gateway reported for each call (``x-litellm-response-cost``). Three questions, three runs.

    python examples/cost_per_run.py
"""

from __future__ import annotations

from _gateway import gateway
from rich.console import Console

from langgraph_routing import cost_tracking, create_routing_agent
from langgraph_routing.demo import DEMO_QUESTIONS, DEMO_TOOLS


def main() -> None:
    with gateway() as (base_url, api_key, local), cost_tracking() as costs:
        agent = create_routing_agent(DEMO_TOOLS, base_url=base_url, api_key=api_key)
        for q in DEMO_QUESTIONS[:3]:
            out = agent.invoke({"messages": [("user", q.question)]})
            print(f"{q.question} -> {out['final_answer'][:60]}")

        report = costs.report()
        print(f"\nper run: {len(report.by_run())} runs")
        for run_id, usd in report.by_run().items():
            print(f"  run {run_id[-8:]}: ${usd:.6f} ({len(costs.report(run_id))} calls)")
        console = Console(width=100, color_system=None)
        console.print(report.to_table("node"))
        console.print(report.to_table("model"))
        print(f"sources: {sorted({e['source'] for e in report.entries})}")
        print(f"ledger total:  ${report.total_usd:.6f} over {report.calls} calls")
        if local is None:
            print("gateway spend: see the gateway's /spend/logs (filter by the run_id metadata)")
        else:
            print(f"gateway spend: ${local.total_spend:.6f} over {len(local.log)} calls")
            print(f"match: {abs(report.total_usd - local.total_spend) < 1e-12}")


if __name__ == "__main__":
    main()
