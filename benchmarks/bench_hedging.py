"""Hedged attempts against a slow tail: p50/p95 latency and what the hedges cost.

    python benchmarks/bench_hedging.py [--calls 100] [--stall-every 10] [--stall-s 0.6]
                                       [--hedge-after-s 0.15]

``tool_select`` calls on gpt-4o-mini (fallback claude-3-5-haiku), sequential, on LocalGateway
with per-model latency profiles (scaled x0.1). Every ``--stall-every``-th request to gpt-4o-mini
stalls ``--stall-s`` before answering (a ``hang`` fault: a provider's slow tail). Three clients,
each on a gateway of its own with the same stall schedule:

  (a) a plain ``ChatOpenAI`` on gpt-4o-mini (what a user has without us),
  (b) ``RoutingChatModel`` without hedging (the default policy),
  (c) ``RoutingChatModel`` with ``tasks.tool_select.hedge_after_s``.

Cost is the gateway's charge for every request, the stalled ones that lost their race included
(they still answer, and are charged); "ledger" is what our ``CostCallbackHandler`` recorded, the
losers at their worst case (never dropped).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import table
from langchain_openai import ChatOpenAI

from langgraph_routing import CostCallbackHandler, RoutingChatModel, RoutingPolicy
from langgraph_routing.shared_state import MemoryRoutingState
from langgraph_routing.testing import LocalGateway

PRIMARY = "gpt-4o-mini"
PROMPT = "Which tool answers: what is 17.5 * 4 + 12?"


def _pct(xs: list[float], q: int) -> float:
    return statistics.quantiles(xs, n=100)[q - 1] * 1000


def _client(name: str, gw: LocalGateway, hedge_after_s: float) -> Callable[[Any], Any]:
    if name == "ChatOpenAI":
        plain = ChatOpenAI(
            model=PRIMARY, base_url=gw.base_url, api_key=gw.master_key, max_retries=0
        )
        return lambda config: plain.invoke(PROMPT, config)
    policy = RoutingPolicy.default()
    if name.startswith("routing, hedged"):
        policy = policy.updated({"tasks": {"tool_select": {"hedge_after_s": hedge_after_s}}})
    routed = RoutingChatModel(
        policy=policy,
        base_url=gw.base_url,
        api_key=gw.master_key,
        task="tool_select",
        routing_state=MemoryRoutingState(),
    )
    return lambda config: routed.invoke(PROMPT, config)


def run(name: str, args: argparse.Namespace) -> dict[str, Any]:
    with LocalGateway(latency="profiles", latency_scale=0.1) as gw:
        for nth in range(args.stall_every, args.calls + 1, args.stall_every):
            gw.add_fault("hang", model=PRIMARY, nth=nth, seconds=args.stall_s)
        call = _client(name, gw, args.hedge_after_s)
        call({})  # warm-up: connections, encodings (request 1 of the stall schedule)
        before = len(gw.log)
        handler = CostCallbackHandler()
        seconds: list[float] = []
        for _ in range(args.calls - 1):
            started = time.perf_counter()
            call({"callbacks": [handler]})
            seconds.append(time.perf_counter() - started)
        stalled = sum(f.fired for f in gw.faults if f.kind == "hang")  # the fault happened
        deadline = time.monotonic() + args.stall_s * 4
        while time.monotonic() < deadline and len(
            [r for r in gw.log[before:] if r.model == PRIMARY]
        ) < len(seconds):
            time.sleep(0.01)  # benchmark only: let abandoned losers finish and be charged
        log = gw.log[before:]
    return {
        "name": name,
        "p50": _pct(seconds, 50),
        "p95": _pct(seconds, 95),
        "max": max(seconds) * 1000,
        "requests": len(log),
        "stalled": stalled,
        "cost": math.fsum(r.cost_usd for r in log if r.cost_usd is not None),
        "ledger": handler.report().total_usd if handler.entries else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--stall-every", type=int, default=10)
    parser.add_argument("--stall-s", type=float, default=0.6)
    parser.add_argument("--hedge-after-s", type=float, default=0.15)
    args = parser.parse_args()
    names = ["ChatOpenAI", "routing, no hedge", f"routing, hedged after {args.hedge_after_s}s"]
    rows = [run(name, args) for name in names]
    base = rows[0]
    print(
        f"\n{args.calls - 1} sequential calls per client; every {args.stall_every}th request to "
        f"{PRIMARY} stalls {args.stall_s}s; latency profiles x0.1\n"
    )
    print(
        table(
            [
                "client",
                "p50 ms",
                "p95 ms",
                "max ms",
                "p95 ratio",
                "stalls",
                "requests",
                "cost $",
                "cost ratio",
                "ledger $",
            ],
            [
                [
                    r["name"],
                    f"{r['p50']:.0f}",
                    f"{r['p95']:.0f}",
                    f"{r['max']:.0f}",
                    f"{r['p95'] / base['p95']:.2f}x",
                    r["stalled"],
                    r["requests"],
                    f"{r['cost']:.6f}",
                    f"{r['cost'] / base['cost']:.2f}x",
                    "-" if r["ledger"] is None else f"{r['ledger']:.6f}",
                ]
                for r in rows
            ],
        )
    )


if __name__ == "__main__":
    main()
