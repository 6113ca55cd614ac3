"""Routing overhead and the cached context check.

    python benchmarks/bench_routing.py [--calls 2000] [--turns 300]

1. RoutingChatModel vs a plain ChatOpenAI sending the same headers and max_tokens, on the same
   LocalGateway, interleaved, medians.
2. Context check on a conversation growing to ~150k tokens: our cached count per step vs a full
   recount of the history each step (what ``get_num_tokens_from_messages`` does).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_openai import ChatOpenAI

sys.path.insert(0, str(Path(__file__).parent))
from _common import interleaved, median_ms, table

from langgraph_routing import init_routing_model
from langgraph_routing._tokens import TokenCounter, full_recount
from langgraph_routing.testing import LocalGateway

RUN = str(uuid.uuid4())  # a run id of the same shape as the ones routed calls carry


def routing_overhead(calls: int) -> None:
    with LocalGateway() as gw:
        routed = init_routing_model(base_url=gw.base_url, api_key=gw.master_key).with_task(
            "tool_select"
        )
        plain = ChatOpenAI(
            model="gpt-4o-mini",
            base_url=gw.base_url,
            api_key=gw.master_key,
            max_retries=0,
            include_response_headers=True,
            stream_usage=True,
            # what a routed call sends besides the prompt, so only the routing work differs
            max_tokens=4096,
            default_headers={
                "x-litellm-tags": "task:tool_select",
                "x-litellm-spend-logs-metadata": json.dumps(
                    {
                        "run_id": RUN,
                        "thread_id": None,
                        "node": None,
                        "agent": None,
                        "task": "tool_select",
                    },
                    separators=(",", ":"),
                ),
                "x-litellm-include-cost-in-streaming-usage": "true",
            },
            model_kwargs={"user": f"agent-run:{RUN}"},
        )
        prompt = [HumanMessage("Which tool answers: what is 17.5 * 4 + 12?")]
        plain_s, routed_s = interleaved(
            [lambda: plain.invoke(prompt), lambda: routed.invoke(prompt)], calls
        )
    p, r = median_ms(plain_s), median_ms(routed_s)
    print(f"\nRouting overhead: {calls} sequential calls each, interleaved, one process\n")
    print(
        table(
            ["client", "median ms", "p90 ms", "ratio"],
            [
                [
                    "ChatOpenAI",
                    f"{p:.3f}",
                    f"{statistics.quantiles(plain_s, n=10)[-1] * 1000:.3f}",
                    "1.000",
                ],
                [
                    "RoutingChatModel",
                    f"{r:.3f}",
                    f"{statistics.quantiles(routed_s, n=10)[-1] * 1000:.3f}",
                    f"{r / p:.3f}",
                ],
            ],
        )
    )


def context_check(turns: int) -> None:
    text = "The quick brown fox jumps over the lazy dog, again and again. " * 40  # ~500 tokens
    history: list[BaseMessage] = []
    counter = TokenCounter()
    cached: list[float] = []
    full: list[float] = []
    tokens = 0
    for i in range(turns):
        history.append(
            HumanMessage(f"turn {i}: {text}") if i % 2 == 0 else AIMessage(f"reply {i}: {text}")
        )
        started = time.perf_counter()
        tokens = counter.count(history, "gpt-4o-mini").tokens
        cached.append(time.perf_counter() - started)
        started = time.perf_counter()
        full_recount(history)
        full.append(time.perf_counter() - started)
    last = slice(-10, None)
    first = slice(0, 10)
    print(f"\nContext check over {turns} turns, ending at ~{tokens} tokens\n")
    print(
        table(
            ["count", "first 10 steps median ms", "last 10 steps median ms", "speed-up at end"],
            [
                [
                    "full recount",
                    f"{median_ms(full[first]):.3f}",
                    f"{median_ms(full[last]):.3f}",
                    "1x",
                ],
                [
                    "cached (ours)",
                    f"{median_ms(cached[first]):.3f}",
                    f"{median_ms(cached[last]):.3f}",
                    f"{median_ms(full[last]) / median_ms(cached[last]):.0f}x",
                ],
            ],
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--turns", type=int, default=300)
    args = parser.parse_args()
    context_check(args.turns)
    routing_overhead(args.calls)


if __name__ == "__main__":
    main()
