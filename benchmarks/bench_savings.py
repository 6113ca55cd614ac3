"""Savings of the routing agent against the agent a user already has: ``create_agent`` on one
frontier model.

Usage::

    python benchmarks/bench_savings.py [--frontier claude-3-5-sonnet-20241022] [--critique]

The workload is the six DEMO_QUESTIONS. The routed side is ``create_routing_agent`` with the
default policy (``--critique`` adds its review step, which the baseline does not have); the
baseline is ``langchain.agents.create_agent`` on ``--frontier`` with the same tools. Both run
against one LocalGateway serving the default policy's models at its prices, so the gateway's
spend is the price of each run (the routed agent's ledger is checked against it). Prints, per
question and in total, the cost and model calls of each side and the ratio. Every answer must
hold the question's expected facts. For wall time and the full question mix, see
``bench_agents.py``.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langchain.agents import create_agent
from langchain_openai import ChatOpenAI

from langgraph_routing import RoutingPolicy
from langgraph_routing._graph import create_routing_agent
from langgraph_routing.demo import DEMO_QUESTIONS, DEMO_TOOLS
from langgraph_routing.testing import LocalGateway


def run(gw: LocalGateway, agent: Any, routed: bool) -> tuple[list[float], list[int]]:
    """Cost (gateway spend) and number of model calls of each question."""
    costs: list[float] = []
    calls: list[int] = []
    for q in DEMO_QUESTIONS:
        before = len(gw.log)
        out = agent.invoke({"messages": [("user", q.question)]})
        log = gw.log[before:]
        spent = math.fsum(r.cost_usd for r in log if r.cost_usd is not None)
        answer = str(out.get("final_answer") or out["messages"][-1].text)
        if routed:
            ledger = math.fsum(e["cost_usd"] for e in out["costs"] if e["cost_usd"] is not None)
            if ledger != spent or out["stop_reason"] != "done":
                raise SystemExit(f"{q.question!r}: ledger {ledger} != gateway {spent}")
        if not q.is_answered_by(answer):
            raise SystemExit(f"{q.question!r} not answered: {answer[:120]}")
        costs.append(spent)
        calls.append(len(log))
    return costs, calls


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frontier", default="claude-3-5-sonnet-20241022")
    parser.add_argument("--critique", action="store_true")
    args = parser.parse_args(argv)

    with LocalGateway.from_policy(RoutingPolicy.default()) as gw:
        ours = create_routing_agent(
            DEMO_TOOLS, base_url=gw.base_url, api_key=gw.master_key, critique=args.critique
        )
        frontier_model = ChatOpenAI(
            model=args.frontier, base_url=gw.base_url, api_key=gw.master_key, max_retries=0
        )
        theirs = create_agent(frontier_model, DEMO_TOOLS)
        routed, routed_calls = run(gw, ours, routed=True)
        frontier, frontier_calls = run(gw, theirs, routed=False)

    print(f"workload: {len(DEMO_QUESTIONS)} DEMO_QUESTIONS")
    print(
        f"routed:   create_routing_agent, default policy, critique {'on' if args.critique else 'off'}"
    )
    print(f"baseline: create_agent on {args.frontier}\n")
    width = max(len(q.question) for q in DEMO_QUESTIONS)
    header = (
        f"{'question':<{width}}  {'routed $':>10}  {'calls':>5}  {'baseline $':>10}  {'calls':>5}"
        f"  {'routed/baseline':>15}"
    )
    print(header)
    print("-" * len(header))
    rows = zip(DEMO_QUESTIONS, routed, routed_calls, frontier, frontier_calls, strict=True)
    for q, r, rc, f, fc in rows:
        print(f"{q.question:<{width}}  {r:>10.6f}  {rc:>5}  {f:>10.6f}  {fc:>5}  {r / f:>14.2f}x")
    print("-" * len(header))
    total_r, total_f = math.fsum(routed), math.fsum(frontier)
    print(
        f"{'total':<{width}}  {total_r:>10.6f}  {sum(routed_calls):>5}  {total_f:>10.6f}  "
        f"{sum(frontier_calls):>5}  {total_r / total_f:>14.2f}x"
    )
    print(f"\nrouted costs {total_r / total_f:.1%} of create_agent on {args.frontier}")


if __name__ == "__main__":
    main()
