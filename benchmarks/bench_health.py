"""Circuit breakers: an outage, and what the shared state costs per call.

    python benchmarks/bench_health.py [--calls 500] [--admissions 2000]

1. Outage: ``tool_select`` calls (gpt-4o-mini, fallback claude-3-5-haiku) on LocalGateway;
   gpt-4o-mini answers 500 for the middle 60% of the run. Traffic is paced on a virtual clock
   (0.2 s per call, so the run spans 100 s of breaker time and the 30 s cooldown ends during
   it); latencies are real wall-clock times of each ``invoke``. Breaker on (defaults) vs off.
2. Admission cost: per call, the breaker reads its candidates' snapshots (one round trip),
   then records the outcome (one atomic update); a scope budget (``budget.scopes``) reserves
   and settles (two atomic updates). For memory://, redis:// and postgresql:// on loopback
   (private servers started for the run; skipped when the binaries are missing).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import table

from langgraph_routing import RoutingChatModel, RoutingPolicy
from langgraph_routing._health_gate import HealthGate
from langgraph_routing._policy import HealthSpec
from langgraph_routing.shared_state import MemoryRoutingState, open_routing_state
from langgraph_routing.testing import LocalGateway

DEAD, SPARE = "gpt-4o-mini", "claude-3-5-haiku-20241022"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100)[q - 1] * 1000 if len(xs) > 1 else xs[0] * 1000


def outage(calls: int, breaker: bool) -> list[object]:
    start, end = int(calls * 0.2), int(calls * 0.8)
    clock = Clock()
    policy = RoutingPolicy.default()
    if not breaker:
        policy = policy.updated({"health": False})
    with LocalGateway() as gw:
        model = RoutingChatModel(
            policy=policy,
            base_url=gw.base_url,
            api_key=gw.master_key,
            routing_state=MemoryRoutingState(clock=clock),
            task="tool_select",
        )
        model.invoke("warm up")
        gw.reset()
        latencies: list[float] = []
        primary_after = 0
        for i in range(calls):
            if i == start:
                gw.add_fault("server_error", model=DEAD, times=None)
            if i == end:
                gw.clear_faults()
            clock.now += 0.2
            t0 = time.perf_counter()
            reply = model.invoke("What is the weather in Kyoto?")
            latencies.append(time.perf_counter() - t0)
            if i >= end and reply.response_metadata["routing"]["model"] == DEAD:
                primary_after += 1
        wasted = len(gw.calls(model=DEAD, status=500))
        total = len(gw.log)
    return [
        "on" if breaker else "off",
        wasted,
        total,
        f"{_pct(latencies, 50):.2f}",
        f"{_pct(latencies, 95):.2f}",
        f"{primary_after}/{calls - end}",
    ]


def admission_cost(n: int) -> list[list[object]]:
    rows: list[list[object]] = []
    urls = {"memory://": "memory://"}
    with ExitStack() as stack:
        try:
            from tests.fixtures_redis import redis_server

            urls["redis://"] = stack.enter_context(redis_server())
        except (FileNotFoundError, ImportError) as exc:
            print(f"redis skipped: {exc}")
        try:
            from tests.fixtures_postgres import find_pg_bin, postgres_cluster

            if find_pg_bin() is not None:
                urls["postgresql://"] = stack.enter_context(postgres_cluster(dbname="bench"))
        except ImportError as exc:
            print(f"postgres skipped: {exc}")
        for label, url in urls.items():
            with open_routing_state(url) as state:
                gate = HealthGate(state, HealthSpec(), "http://127.0.0.1:1/v1")
                candidates = [DEAD, SPARE]
                for _ in range(50):
                    gate.choose(candidates)
                    gate.succeeded(DEAD, 0.01)
                reads, writes = [], []
                for _ in range(n):
                    t0 = time.perf_counter()
                    gate.choose(candidates)
                    t1 = time.perf_counter()
                    gate.succeeded(DEAD, 0.01)
                    t2 = time.perf_counter()
                    reads.append(t1 - t0)
                    writes.append(t2 - t1)
                    gate.skipped.clear()
                budget = []
                for _ in range(n):
                    t0 = time.perf_counter()
                    rid, _, _ = state.reserve("user_id=bench", 1e9, 0.001, 0.0005, 600)
                    state.settle("user_id=bench", rid or "", 0.0005)
                    budget.append(time.perf_counter() - t0)
                both = [r + w for r, w in zip(reads, writes, strict=True)]
                rows.append(
                    [
                        label,
                        f"{statistics.median(reads) * 1000:.3f}",
                        f"{statistics.median(writes) * 1000:.3f}",
                        f"{statistics.median(both) * 1000:.3f}",
                        f"{_pct(both, 95):.3f}",
                        f"{statistics.median(budget) * 1000:.3f}",
                    ]
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--admissions", type=int, default=2000)
    args = parser.parse_args()
    print(f"Outage: {DEAD} fails 100% of calls {int(args.calls * 0.2)}..{int(args.calls * 0.8)}")
    rows = [outage(args.calls, True), outage(args.calls, False)]
    headers = ["breaker", "requests wasted on dead model", "requests", "p50 ms", "p95 ms"]
    print(table([*headers, "primary back after outage"], rows))
    print()
    print(f"Shared-state cost per call ({args.admissions} calls, loopback, medians)")
    headers = ["state", "read ms (median)", "record ms (median)", "per call ms", "p95 ms"]
    headers.append("user budget reserve+settle ms")
    print(table(headers, admission_cost(args.admissions)))


if __name__ == "__main__":
    main()
