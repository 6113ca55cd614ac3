"""Prompt-cache affinity: four 20-turn conversations, interleaved, on LocalGateway's cache.

    python benchmarks/bench_cache.py [--turns 20] [--threads 4]

Each conversation has a ~4,000-token system prompt and grows by a turn each round; rounds
interleave the conversations (as a server's workers would). LocalGateway keeps one cached
prompt per cache key, on the model it went to (see ``langgraph_routing.testing._prompt_cache``).

- ``ChatOpenAI`` (the baseline a user has): no cache key, so interleaved threads share one
  cache slot and read back only what they have in common with the thread before them (the
  system prompt).
- ``RoutingChatModel``: the key derived from each thread id (``prompt_cache_key``, LiteLLM's
  session header) and a model that stays put per task.
- a router that rotates models every turn (what a cost router without affinity does; its
  cost also reflects the pricier models it lands on).

A second table does the same on claude-3-5-sonnet, which (as Anthropic) caches only prefixes
marked ``cache_control``: a plain ``ChatOpenAI`` sends no marks; a sticky routing model marks
its last user message. The tokens a marked request writes to the cache are charged at the
cache-write price (1.25x the input price), as Anthropic and LiteLLM charge them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import table
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI

from langgraph_routing import RoutingChatModel, RoutingPolicy
from langgraph_routing.testing import LocalGateway

SYSTEM = SystemMessage("You are a careful travel assistant. " + "Follow the house rules. " * 800)
ROTATION = ["gpt-4o-mini", "gpt-4o", "o3-mini"]


SONNET = "claude-3-5-sonnet-20241022"
OPENAI_STRATEGIES = (
    "ChatOpenAI (no cache key)",
    "RoutingChatModel (thread cache key)",
    "router rotating models per turn",
)
CLAUDE_STRATEGIES = (
    f"ChatOpenAI on {SONNET}",
    f"RoutingChatModel, sticky: true, on {SONNET}",
)
Ask = Callable[[list[BaseMessage], int, int], BaseMessage]


def _client(strategy: str, gw: LocalGateway) -> Ask:
    """How ``strategy`` answers (history, thread number, turn)."""
    key = str(gw.master_key)
    if strategy.startswith("ChatOpenAI"):
        model = SONNET if SONNET in strategy else "gpt-4o-mini"
        plain = ChatOpenAI(model=model, base_url=gw.base_url, api_key=key, max_retries=0)
        return lambda history, _i, _turn: plain.invoke(history)
    policy = RoutingPolicy.default()
    if SONNET in strategy:
        policy = policy.updated({"sticky": True, "tasks": {"synthesize": {"model": SONNET}}})
    routed = RoutingChatModel(policy=policy, base_url=gw.base_url, api_key=key)
    task = "synthesize" if SONNET in strategy else "tool_select"

    def ask(history: list[BaseMessage], i: int, turn: int) -> BaseMessage:
        config: Any = {"metadata": {"thread_id": f"thread-{i}"}}
        if strategy.startswith("router rotating"):
            return routed.with_task(task).invoke(history, config, model=ROTATION[turn % 3])
        return routed.with_task(task).invoke(history, config)

    return ask


def run(strategy: str, turns: int, threads: int) -> tuple[float, float, int]:
    with LocalGateway() as gw:
        ask = _client(strategy, gw)
        histories: list[list[BaseMessage]] = [[SYSTEM] for _ in range(threads)]
        for turn in range(turns):
            for i, history in enumerate(histories):
                history.append(HumanMessage(f"Thread {i}, turn {turn}: what next in Kyoto?"))
                history.append(AIMessage(str(ask(history, i, turn).content)))
        log = gw.log
        prompt = sum(r.prompt_tokens for r in log)
        cached = sum(r.cached_tokens for r in log)
        return cached / prompt, gw.total_spend, len(log)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    for strategies in (OPENAI_STRATEGIES, CLAUDE_STRATEGIES):
        results = {s: run(s, args.turns, args.threads) for s in strategies}
        base = results[strategies[0]][1]
        rows = [
            [s, f"{hit:.1%}", f"${cost:.4f}", f"{cost / base:.2f}x", calls]
            for s, (hit, cost, calls) in results.items()
        ]
        print(table(["strategy", "cache hit rate", "cost", f"vs {strategies[0]}", "calls"], rows))
        print()


if __name__ == "__main__":
    main()
