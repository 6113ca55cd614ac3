"""User-level benchmark: the routing agent and RoutingMiddleware vs plain ``create_agent``.

    python benchmarks/bench_agents.py [--runs 5] [--latency-scale 0.1] [--json out.json]
                                      [--hard-synthesis gpt-4o]

A question mix (the six demo questions, a two-tool question, a no-tool question and a
long-context synthesis) runs through four agents on one LocalGateway:

  (a) ``create_routing_agent`` with the default policy,
  (b) ``langchain.agents.create_agent`` on claude-3-5-sonnet-20241022 (the frontier model),
  (c) ``create_agent`` on gpt-4o-mini,
  (d) ``create_agent`` + ``RoutingMiddleware`` (default policy, ``router=DifficultyRouter``).

``--hard-synthesis MODEL`` gives (a) and (d) the default policy with MODEL as the hard model of
its synthesis rule (the frontier model by default), e.g. ``gpt-4o``, whose input costs less.

Per question and in total: median and p95 wall time, cost (the gateway's spend for the run),
number of model calls, and the quality guard: the answer uses every tool result the frontier
answer (b) used, and contains the demo question's expected facts. Runs are interleaved
(agent order alternates) in one process.

Latency: when LocalGateway offers per-model latency profiles (``latency="profiles"``), they are
on, scaled by ``--latency-scale`` so the whole benchmark takes well under two minutes; otherwise
the gateway answers at once and wall time is mostly our own overhead (the table says which).

LocalGateway picks the tool that fits the request and answers from the tool results; the
two-tool, no-tool and long-context questions need a model decision it cannot make (both tools at
once; no tool; the one tool among a report full of numbers), so the first tool-choosing call of
every agent is scripted the same way for all four agents.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain.agents import create_agent
from langchain_core.messages import BaseMessage, ToolMessage
from langchain_openai import ChatOpenAI

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import table

from langgraph_routing import RoutingMiddleware, RoutingPolicy, create_routing_agent
from langgraph_routing._router import DifficultyRouter
from langgraph_routing.demo import DEMO_QUESTIONS, DEMO_TOOLS
from langgraph_routing.testing import LocalGateway

FRONTIER, CHEAP = "claude-3-5-sonnet-20241022", "gpt-4o-mini"
AGENTS = ("routing_agent", "create_agent[sonnet]", "create_agent[mini]", "create_agent+middleware")
BASELINE = "create_agent[sonnet]"


@dataclass(frozen=True)
class Question:
    name: str
    text: str
    expected: tuple[str, ...] = ()
    first_reply: dict[str, Any] | str | None = None  # scripted first tool-choosing reply


def _report() -> str:
    lines = [
        f"Region {i}: revenue grew {i % 9 + 1}.{i % 7} percent year on year; headcount "
        f"{100 + i * 3}; churn {i % 5 + 2} percent; the regional team shipped {i % 4 + 1} "
        f"releases and opened {i % 3 + 1} offices."
        for i in range(1, 181)
    ]
    return "Annual report, all regions.\n" + "\n".join(lines)


QUESTIONS: tuple[Question, ...] = (
    *(
        Question(f"demo{i + 1}:{q.tool}", q.question, q.expected)
        for i, q in enumerate(DEMO_QUESTIONS)
    ),
    Question(
        "two_tools",
        "What is the capital of France, and what is 12.5 * 8?",
        ("Paris", "100"),
        {
            "content": None,
            "tool_calls": [
                {"function": {"name": "lookup", "arguments": {"query": "capital of France"}}},
                {"function": {"name": "calculator", "arguments": {"expression": "12.5 * 8"}}},
            ],
        },
    ),
    Question(
        "no_tool",
        "Say hello to the team in one short sentence.",
        ("Hello team",),
        "Hello team, have a great week!",
    ),
    Question(
        "long_context",
        f"{_report()}\n\nUsing the report above, what is the capital of Japan and how does the "
        "report say revenue grew in region 7?",
        ("Tokyo",),
        {
            "content": None,
            "tool_calls": [
                {"function": {"name": "lookup", "arguments": {"query": "capital of Japan"}}}
            ],
        },
    ),
)


@dataclass
class Sample:
    seconds: float
    cost: float
    calls: int
    answer: str
    results: list[str]
    models: list[str]


@dataclass
class Cell:
    samples: list[Sample] = field(default_factory=list)

    def median_s(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    def p95_s(self) -> float:
        xs = sorted(s.seconds for s in self.samples)
        return xs[min(len(xs) - 1, math.ceil(0.95 * len(xs)) - 1)]

    def cost(self) -> float:
        return statistics.median(s.cost for s in self.samples)

    def calls(self) -> float:
        return statistics.median(s.calls for s in self.samples)


def _snippet(result: str) -> str:
    return " ".join(result.split())[:40]


def used_results(answer: str, results: list[str]) -> set[str]:
    """The tool results (their first 40 characters) an answer quotes."""
    flat = " ".join(answer.split())
    return {_snippet(r) for r in results if _snippet(r) and _snippet(r) in flat}


def make_gateway(scale: float | None) -> tuple[LocalGateway, str]:
    params = inspect.signature(LocalGateway).parameters
    if scale is not None and "latency" in params:
        kwargs: dict[str, Any] = {"latency": "profiles"}
        if "latency_scale" in params:
            kwargs["latency_scale"] = scale
        return LocalGateway(**kwargs), f"latency profiles on, scaled x{scale}"
    return LocalGateway(), "no latency profiles (LocalGateway answers at once)"


def routed_policy(hard_synthesis: str | None = None) -> RoutingPolicy:
    """The policy of the routed agents (a) and (d): the default one, or the default one with
    ``hard_synthesis`` as the hard model of its synthesis difficulty rule."""
    policy = RoutingPolicy.default()
    if hard_synthesis is None:
        return policy
    easy = policy.tasks["tool_select"].model
    return policy.updated({"difficulty": {"synthesize": {"easy": easy, "hard": hard_synthesis}}})


def build_agents(
    gw: LocalGateway, policy: RoutingPolicy | None = None
) -> dict[str, tuple[Any, str]]:
    """name -> (agent, the model its first tool-choosing call goes to)."""

    def chat(model: str) -> ChatOpenAI:
        return ChatOpenAI(model=model, base_url=gw.base_url, api_key=gw.master_key, max_retries=0)

    policy = policy or RoutingPolicy.default()
    select = policy.tasks["tool_select"].model
    routing = RoutingMiddleware(
        policy, base_url=gw.base_url, api_key=gw.master_key, router=DifficultyRouter(policy)
    )
    return {
        "routing_agent": (
            create_routing_agent(
                DEMO_TOOLS, policy=policy, base_url=gw.base_url, api_key=gw.master_key
            ),
            select,
        ),
        "create_agent[sonnet]": (create_agent(chat(FRONTIER), DEMO_TOOLS), FRONTIER),
        "create_agent[mini]": (create_agent(chat(CHEAP), DEMO_TOOLS), CHEAP),
        "create_agent+middleware": (
            create_agent(routing.model, DEMO_TOOLS, middleware=[routing]),
            select,
        ),
    }


def run_once(gw: LocalGateway, agent: Any, first_model: str, q: Question) -> Sample:
    if q.first_reply is not None:
        gw.script(first_model, [q.first_reply])
    before = len(gw.log)
    started = time.perf_counter()
    out = agent.invoke({"messages": [("user", q.text)]})
    seconds = time.perf_counter() - started
    log = gw.log[before:]
    messages: list[BaseMessage] = out["messages"]
    answer = str(out.get("final_answer") or messages[-1].text)
    return Sample(
        seconds=seconds,
        cost=math.fsum(r.cost_usd for r in log if r.cost_usd is not None),
        calls=len(log),
        answer=answer,
        results=[str(m.content) for m in messages if isinstance(m, ToolMessage)],
        models=[r.model or "?" for r in log],
    )


def quality(q: Question, cells: dict[str, Cell]) -> dict[str, bool]:
    """Per agent: every answer holds the expected facts and the tool results the frontier
    answer used."""
    base = cells[BASELINE].samples[0]
    needed = used_results(base.answer, base.results)
    ok: dict[str, bool] = {}
    for name, cell in cells.items():
        ok[name] = all(
            all(e.casefold() in s.answer.casefold() for e in q.expected)
            and needed <= used_results(s.answer, s.results)
            for s in cell.samples
        )
    return ok


def run(runs: int, scale: float | None, policy: RoutingPolicy | None = None) -> dict[str, Any]:
    gw, latency_note = make_gateway(scale)
    rule = (policy or RoutingPolicy.default()).difficulty_of("synthesize")
    hard = f"hard synthesis on {rule.hard}" if rule is not None else "no synthesis rule"
    with gw:
        agents = build_agents(gw, policy)
        for agent, first in agents.values():  # warm-up (imports, encodings, connections)
            run_once(gw, agent, first, QUESTIONS[0])
        cells = {q.name: {name: Cell() for name in agents} for q in QUESTIONS}
        for i in range(runs):
            order = list(agents) if i % 2 == 0 else list(reversed(agents))
            for q in QUESTIONS:
                for name in order:
                    agent, first = agents[name]
                    cells[q.name][name].samples.append(run_once(gw, agent, first, q))
    totals: dict[str, dict[str, float]] = {}
    for name in AGENTS:
        per_run = [
            math.fsum(cells[q.name][name].samples[i].seconds for q in QUESTIONS)
            for i in range(runs)
        ]
        totals[name] = {
            "median_s": statistics.median(per_run),
            "p95_s": sorted(per_run)[min(runs - 1, math.ceil(0.95 * runs) - 1)],
            "cost": math.fsum(cells[q.name][name].cost() for q in QUESTIONS),
            "calls": math.fsum(cells[q.name][name].calls() for q in QUESTIONS),
        }
    guards = {q.name: quality(q, cells[q.name]) for q in QUESTIONS}
    return {
        "latency": latency_note,
        "policy": f"routed agents: default policy, {hard}",
        "runs": runs,
        "cells": cells,
        "totals": totals,
        "quality": guards,
    }


def render(result: dict[str, Any], show: Callable[[str], None] = print) -> None:
    cells, totals, guards = result["cells"], result["totals"], result["quality"]
    show(
        f"\n{len(QUESTIONS)} questions x {len(AGENTS)} agents x {result['runs']} runs; "
        f"{result['latency']}; {result['policy']}\n"
    )
    rows = []
    for q in QUESTIONS:
        for name in AGENTS:
            cell = cells[q.name][name]
            rows.append(
                [
                    q.name,
                    name,
                    f"{cell.median_s() * 1000:.0f}",
                    f"{cell.p95_s() * 1000:.0f}",
                    f"{cell.cost():.6f}",
                    f"{cell.calls():g}",
                    "ok" if guards[q.name][name] else "FAIL",
                ]
            )
    show(table(["question", "agent", "median ms", "p95 ms", "cost $", "calls", "quality"], rows))
    base = totals[BASELINE]
    rows = [
        [
            name,
            f"{t['median_s'] * 1000:.0f}",
            f"{t['p95_s'] * 1000:.0f}",
            f"{t['median_s'] / base['median_s']:.2f}x",
            f"{t['cost']:.6f}",
            f"{t['cost'] / base['cost']:.2f}x",
            f"{t['calls']:g}",
            "ok" if all(guards[q.name][name] for q in QUESTIONS) else "FAIL",
        ]
        for name, t in totals.items()
    ]
    show("\nTotal over the mix (one run of every question), ratios vs create_agent[sonnet]\n")
    show(
        table(
            [
                "agent",
                "median ms",
                "p95 ms",
                "wall ratio",
                "cost $",
                "cost ratio",
                "calls",
                "quality",
            ],
            rows,
        )
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-scale", type=float, default=0.1)
    parser.add_argument("--no-latency", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--hard-synthesis",
        metavar="MODEL",
        help="hard model of the routed agents' synthesis rule (default: the policy's, "
        "claude-3-5-sonnet-20241022)",
    )
    args = parser.parse_args(argv)
    policy = routed_policy(args.hard_synthesis)
    result = run(args.runs, None if args.no_latency else args.latency_scale, policy)
    render(result)
    if args.json is not None:
        data = {
            "latency": result["latency"],
            "runs": result["runs"],
            "totals": result["totals"],
            "quality": result["quality"],
            "questions": {
                qn: {
                    name: {
                        "median_s": c.median_s(),
                        "p95_s": c.p95_s(),
                        "cost": c.cost(),
                        "calls": c.calls(),
                        "models": c.samples[0].models,
                    }
                    for name, c in by_agent.items()
                }
                for qn, by_agent in result["cells"].items()
            },
        }
        args.json.write_text(json.dumps(data, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
