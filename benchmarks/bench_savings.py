"""Savings of per-task routing: the default policy vs. every task on one frontier model.

Usage::

    python benchmarks/bench_savings.py [--frontier claude-3-5-sonnet-20241022] [--no-critique]

The workload is the six DEMO_QUESTIONS through ``create_routing_agent`` with the critique step
on. Each policy runs against its own LocalGateway serving the policy's models at the policy's
prices, so the gateway's spend is the price of the workload. The frontier policy sends plan,
tool_select, synthesize and critique to ``--frontier``. Prints, per question and in total, the
gateway spend of each policy (which equals the agent's ledger, checked) and the ratio.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langgraph_routing import RoutingPolicy
from langgraph_routing._graph import create_routing_agent
from langgraph_routing.demo import DEMO_QUESTIONS, DEMO_TOOLS
from langgraph_routing.testing import LocalGateway


def frontier_policy(model: str) -> RoutingPolicy:
    """The default policy with every task sent to ``model``."""
    data: dict[str, Any] = RoutingPolicy.default().model_dump(mode="json")
    data["tasks"] = {task: {"model": model} for task in data["tasks"]}
    return RoutingPolicy.from_dict(data)


def run(policy: RoutingPolicy, critique: bool) -> tuple[list[float], list[str]]:
    """Cost of each question (gateway spend) and the models called, in order."""
    costs: list[float] = []
    with LocalGateway.from_policy(policy) as gw:
        agent = create_routing_agent(
            DEMO_TOOLS,
            policy=policy,
            base_url=gw.base_url,
            api_key=gw.master_key,
            critique=critique,
        )
        for q in DEMO_QUESTIONS:
            before = len(gw.log)
            out = agent.invoke({"messages": [("user", q.question)]})
            spent = math.fsum(r.cost_usd for r in gw.log[before:] if r.cost_usd is not None)
            ledger = math.fsum(e["cost_usd"] for e in out["costs"] if e["cost_usd"] is not None)
            if ledger != spent or out["stop_reason"] != "done":
                raise SystemExit(f"{q.question!r}: ledger {ledger} != gateway {spent}")
            if not q.is_answered_by(out["final_answer"]):
                raise SystemExit(f"{q.question!r} not answered: {out['final_answer'][:120]}")
            costs.append(spent)
        models = [r.model or "?" for r in gw.log]
    return costs, models


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frontier", default="claude-3-5-sonnet-20241022")
    parser.add_argument("--no-critique", action="store_true")
    args = parser.parse_args(argv)
    critique = not args.no_critique

    routed, routed_models = run(RoutingPolicy.default(), critique)
    frontier, frontier_models = run(frontier_policy(args.frontier), critique)

    print(f"workload: {len(DEMO_QUESTIONS)} DEMO_QUESTIONS, critique {'on' if critique else 'off'}")
    print(f"routed calls:   {len(routed_models)} ({', '.join(sorted(set(routed_models)))})")
    print(f"frontier calls: {len(frontier_models)} (all {args.frontier})\n")
    width = max(len(q.question) for q in DEMO_QUESTIONS)
    header = f"{'question':<{width}}  {'routed $':>11}  {'frontier $':>11}  {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for q, r, f in zip(DEMO_QUESTIONS, routed, frontier, strict=True):
        print(f"{q.question:<{width}}  {r:>11.6f}  {f:>11.6f}  {f / r:>5.2f}x")
    print("-" * len(header))
    total_r, total_f = math.fsum(routed), math.fsum(frontier)
    print(f"{'total':<{width}}  {total_r:>11.6f}  {total_f:>11.6f}  {total_f / total_r:>5.2f}x")
    print(f"\nrouted costs {total_r / total_f:.1%} of frontier ({1 - total_r / total_f:.1%} saved)")


if __name__ == "__main__":
    main()
