"""End-to-end throughput: create_routing_agent vs langchain's create_agent with
ModelFallbackMiddleware + ModelRetryMiddleware, same LocalGateway, same tools, interleaved.

    python benchmarks/bench_throughput.py [--runs 100]

Both agents make two model calls for this single-step question (ours: tool_select, then
synthesize on the easy model, no plan; create_agent: model, tools, model); the table gives
runs/s and the time per model call, the fair measure of each agent's own overhead.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import ModelFallbackMiddleware, ModelRetryMiddleware
from langchain_openai import ChatOpenAI

sys.path.insert(0, str(Path(__file__).parent))
from _common import table

from langgraph_routing import create_routing_agent
from langgraph_routing.demo import DEMO_QUESTIONS, DEMO_TOOLS
from langgraph_routing.testing import LocalGateway


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    question = DEMO_QUESTIONS[0].question
    with LocalGateway() as gw:
        ours = create_routing_agent(DEMO_TOOLS, base_url=gw.base_url, api_key=gw.master_key)

        def chat(model: str) -> ChatOpenAI:
            return ChatOpenAI(
                model=model,
                base_url=gw.base_url,
                api_key=gw.master_key,
                max_retries=0,
                include_response_headers=True,
            )

        theirs = create_agent(
            chat("gpt-4o-mini"),
            DEMO_TOOLS,
            middleware=[
                ModelFallbackMiddleware(chat("claude-3-5-haiku-20241022")),
                ModelRetryMiddleware(),
            ],
        )
        agents: dict[str, Any] = {
            "create_routing_agent": ours,
            "create_agent + LC middleware": theirs,
        }
        seconds: dict[str, list[float]] = {name: [] for name in agents}
        calls: dict[str, int] = dict.fromkeys(agents, 0)
        for agent in agents.values():  # warm-up
            agent.invoke({"messages": [("user", question)]})
        for i in range(args.runs):
            order = list(agents) if i % 2 == 0 else list(reversed(agents))
            for name in order:
                before = len(gw.log)
                started = time.perf_counter()
                agents[name].invoke({"messages": [("user", question)]})
                seconds[name].append(time.perf_counter() - started)
                calls[name] += len(gw.log) - before
    stats = {
        name: (1 / statistics.median(seconds[name]), sum(seconds[name]) / calls[name] * 1000)
        for name in agents
    }
    ref_runs, ref_call = stats["create_agent + LC middleware"]
    rows = [
        [
            name,
            f"{runs_s:.1f}",
            f"{runs_s / ref_runs:.2f}",
            f"{calls[name] / args.runs:.1f}",
            f"{per_call:.2f}",
            f"{ref_call / per_call:.2f}",
        ]
        for name, (runs_s, per_call) in stats.items()
    ]
    print(f"\nEnd-to-end runs of {question!r}, {args.runs} each, interleaved\n")
    print(
        table(
            [
                "agent",
                "runs/s (median)",
                "runs/s ratio",
                "model calls/run",
                "ms per model call",
                "per-call speed ratio",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
