"""Cost handler overhead, and 1,000 concurrent runs with the handler on.

    python benchmarks/bench_costs.py [--calls 2000] [--runs 1000]

1. The same calls without a handler, with one that does nothing (what LangChain's callback
   dispatch costs by itself) and with CostCallbackHandler, interleaved: medians and ratios.
2. 1,000 concurrent async runs x 5 calls: calls/s, peak RSS (gateway included) and exactness.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import resource
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableLambda

sys.path.insert(0, str(Path(__file__).parent))
from _common import interleaved, median_ms, table

from langgraph_routing import CostCallbackHandler, init_routing_model
from langgraph_routing.testing import LocalGateway


class _NoOp(BaseCallbackHandler):
    """A handler with every callback a no-op: what LangChain's dispatch alone costs."""

    def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
        return None


TASKS = ["plan", "tool_select", "synthesize", "critique", "tool_select"]


def handler_overhead(calls: int) -> None:
    with LocalGateway() as gw:
        model = init_routing_model(base_url=gw.base_url, api_key=gw.master_key).with_task(
            "tool_select"
        )
        handler = CostCallbackHandler()
        prompt = [HumanMessage("Which tool answers: what is 17.5 * 4 + 12?")]
        with_cfg: Any = {"callbacks": [handler]}
        noop_cfg: Any = {"callbacks": [_NoOp()]}
        without, with_noop, with_h = interleaved(
            [
                lambda: model.invoke(prompt),
                lambda: model.invoke(prompt, config=noop_cfg),
                lambda: model.invoke(prompt, config=with_cfg),
            ],
            calls,
            warmup=50,
        )
        recorded = len(handler.entries) == calls + 50
    a, n, b = median_ms(without), median_ms(with_noop), median_ms(with_h)
    print(f"\nHandler overhead: {calls} calls each, interleaved\n")
    print(
        table(
            ["", "median ms", "ratio"],
            [
                ["without handler", f"{a:.3f}", "1.000"],
                [
                    "with a handler that does nothing (LangChain's floor)",
                    f"{n:.3f}",
                    f"{n / a:.3f}",
                ],
                ["with CostCallbackHandler", f"{b:.3f}", f"{b / a:.3f}"],
            ],
        )
    )
    print(f"every call with the handler has its entry: {recorded}")


def concurrent_runs(runs: int) -> None:
    with LocalGateway() as gw:
        model = init_routing_model(base_url=gw.base_url, api_key=gw.master_key)
        handler = CostCallbackHandler()

        async def one(i: int) -> str:
            async def body(_: Any) -> None:
                for t in TASKS:
                    await model.with_task(t).ainvoke(f"run {i} step {t}")

            run_id = uuid.uuid4()
            await RunnableLambda(body).ainvoke(
                None, config={"run_id": run_id, "callbacks": [handler]}
            )
            return str(run_id)

        async def main() -> list[str]:
            return await asyncio.gather(*(one(i) for i in range(runs)))

        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        run_ids = asyncio.run(main())
        elapsed = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        grown = peak - rss_before * 1024
        by_user = {}
        for rec in gw.log:
            if rec.cost_usd is not None:
                by_user.setdefault(rec.user, []).append(rec.cost_usd)
        exact = all(
            handler.report(r).total_usd == math.fsum(by_user[f"agent-run:{r}"]) for r in run_ids
        )
        calls = len(gw.log)
    print(f"\n{runs} concurrent runs x {len(TASKS)} calls, CostCallbackHandler on\n")
    print(
        table(
            ["calls", "seconds", "calls/s", "peak RSS MiB", "RSS growth MiB", "every run exact"],
            [
                [
                    calls,
                    f"{elapsed:.1f}",
                    f"{calls / elapsed:.0f}",
                    f"{peak / 2**20:.0f}",
                    f"{grown / 2**20:.0f}",
                    exact,
                ],
            ],
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args()
    handler_overhead(args.calls)
    concurrent_runs(args.runs)


if __name__ == "__main__":
    main()
