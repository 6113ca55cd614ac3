"""Every script in ``examples/`` runs, and prints what it claims to show.

Each example runs twice, in subprocesses (``python examples/NAME.py``): against its own
LocalGateway (the default: no ``LANGGRAPH_ROUTING_BASE_URL``), and in "real gateway" mode
against a LocalGateway started here, which exercises the branch that skips fault injection.
The runs go in parallel, once per module; each test then checks one output.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from langgraph_routing.testing import LocalGateway, VirtualKey

pytestmark = pytest.mark.timeout(900)  # the module's first test waits for all the runs

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
HELPERS = {"_gateway.py"}
TIMEOUT_S = 240
MASTER_KEY = "sk-local-master"
PLANNER_KEY = "sk-test-planner-0123456789"
CRITIC_KEY = "sk-test-critic-0123456789"
SECRETS = (PLANNER_KEY, CRITIC_KEY, MASTER_KEY)
ROUTING_ENV = (
    "LANGGRAPH_ROUTING_BASE_URL",
    "LANGGRAPH_ROUTING_API_KEY",
    "ROUTING_KEY_PLANNER",
    "ROUTING_KEY_CRITIC",
)


def _number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in output:\n{text}"
    return float(match.group(1))


def _literal(prefix: str, text: str) -> object:
    line = next((ln for ln in text.splitlines() if ln.strip().startswith(prefix)), None)
    assert line is not None, f"no line starting with {prefix!r}:\n{text}"
    return ast.literal_eval(line.strip()[len(prefix) :].strip())


# ---- what each example must print (LocalGateway mode) -------------------------------------


def check_routing_by_task(out: str) -> None:
    assert "plan -> o3-mini -> task plan -> o3-mini" in out
    assert "tool_select -> gpt-4o-mini -> task tool_select -> gpt-4o-mini" in out
    assert "synthesize -> claude-3-5-sonnet-20241022 -> task synthesize" in out
    assert "critique -> gpt-4o-mini -> task critique -> gpt-4o-mini" in out
    assert "metadata routing_task=plan -> o3-mini" in out
    assert "no task at all -> default_task tool_select -> gpt-4o-mini" in out


def check_context_upgrade(out: str) -> None:
    tokens = _number(r"~(\d+) prompt tokens -> gpt-4o\n", out)
    assert 0.8 * 128_000 < tokens + 4096 <= 128_000  # over gpt-4o-mini's 80%, fits gpt-4o
    assert "gateway calls: ['gpt-4o']" in out  # upgraded before any request: one call
    assert "attempt 1: gpt-4o-mini -> 400 context_overflow\n  attempt 2: gpt-4o -> 200 ok" in out
    assert "reason: task tool_select -> gpt-4o-mini; context_overflow -> gpt-4o" in out
    assert "gateway calls: [('gpt-4o-mini', 400), ('gpt-4o', 200)]" in out


def check_failures_and_fallback(out: str) -> None:
    assert (
        "attempt 1: o3-mini -> 429 rate_limit, waited 1.0s\n  attempt 2: o3-mini -> 200 ok" in out
    )
    assert _number(r"answered by o3-mini after ([\d.]+)s", out) >= 1.0
    assert (
        "attempt 1: o3-mini -> 503 transient\n  attempt 2: claude-3-5-sonnet-20241022 -> 200 ok"
        in out
    )
    assert "RoutesExhaustedError: 2 attempts" in out
    assert _literal("gateway log:", out) == [
        ("o3-mini", 429),
        ("o3-mini", 200),
        ("o3-mini", 503),
        ("claude-3-5-sonnet-20241022", 200),
        ("o3-mini", 503),
        ("claude-3-5-sonnet-20241022", 503),
    ]


def check_checkpoint_and_resume(out: str) -> None:
    assert "run failed: all routes failed for task 'synthesize'" in out
    assert _literal("calls before the failure:", out) == {"o3-mini": 1, "gpt-4o-mini": 2}
    assert "thread trip-1: failed, next ['synthesize']" in out
    assert re.search(r"resumed: stop_reason=done, answer: .*82", out)
    assert _literal("calls after the resume:", out) == {
        "o3-mini": 1,
        "gpt-4o-mini": 2,
        "claude-3-5-sonnet-20241022": 1,
    }
    assert "finished steps repeated: none" in out
    assert "ledger: 4 entries for 4 paid calls" in out
    assert _number(r"thread trip-1: done, cost \$([\d.]+)", out) > 0


def check_cost_per_run(out: str) -> None:
    runs = [float(x) for x in re.findall(r"run \w{8}: \$([\d.]+) \(4 calls\)", out)]
    assert len(runs) == 3 and "per run: 3 runs" in out
    ledger = _number(r"ledger total:  \$([\d.]+) over 12 calls", out)
    assert ledger == _number(r"gateway spend: \$([\d.]+) over 12 calls", out) > 0
    assert abs(sum(runs) - ledger) < 5e-6
    assert "match: True" in out
    assert "sources: ['header']" in out
    assert "Cost by node" in out and "Cost by model" in out
    assert re.search(r"│ synthesize\s+│\s+3 │", out) and re.search(r"│ tool_select\s+│\s+6 │", out)


def check_budgets(out: str) -> None:
    shrunk, stopped = out.split("1. run budget of $0.003")
    # $0.01: every step ran; synthesize was sent with fewer than the 4096 tokens it wanted
    assert "stop_reason=done after $" in shrunk
    sent = _literal("steps run (max_tokens sent):", shrunk)
    assert [node for node, _ in sent] == ["plan", "tool_select", "tool_select", "synthesize"]
    assert 256 <= dict(sent)["synthesize"] < 4096
    # $0.003: not even 256 tokens of synthesize fit after plan and tool selection
    assert "stop_reason=budget_exhausted after $" in stopped
    assert [n for n, _ in _literal("steps run (max_tokens sent):", stopped)] == [
        "plan",
        "tool_select",
        "tool_select",
    ]
    assert "Stopped before synthesize" in stopped and "budget_usd" in stopped
    assert "call 1: ok" in out and "call 2: ok" in out
    assert "call 3: BudgetExceededError scope=gateway entity=key=..." in out
    assert "entity is the key's sha256, not the key: True" in out
    assert "of $0.000060; status 422" in out
    assert "refused calls in the gateway log: 1 (not retried)" in out
    assert "agent on the same key: stop_reason=gateway_budget_exceeded" in out
    assert "sk-team-" not in out


def check_compose_nodes(out: str) -> None:
    assert _literal("nodes:", out) == ["answer", "plan", "review", "stop", "triage"]
    assert "priority=high stop_reason=done" in out
    assert "plan -> task plan -> o3-mini" in out
    assert "answer -> task synthesize -> claude-3-5-sonnet-20241022" in out
    assert "review -> task critique -> gpt-4o-mini" in out
    by_node = _literal("cost by node:", out)
    assert isinstance(by_node, dict) and set(by_node) == {"plan", "answer", "review"}
    assert "over 3 calls" in out
    assert "with a $0.003 budget: ran ['plan'], stop_reason=budget_exhausted" in out
    assert "Stopped before answer (spent $" in out and "the budget of $0.003000" in out


def check_per_role_keys(out: str) -> None:
    assert "stop_reason=done" in out
    assert "plan -> o3-mini -> planner" in out
    assert "critique -> gpt-4o-mini -> critic" in out
    assert "tool_select -> gpt-4o-mini -> master" in out
    assert "synthesize -> claude-3-5-sonnet-20241022 -> master" in out
    ledger = _literal("ledger cost by role:", out)
    gateway = _literal("gateway spend by key alias:", out)
    assert isinstance(ledger, dict) and isinstance(gateway, dict)
    assert ledger["planner"] == gateway["planner"] > 0
    assert ledger["critic"] == gateway["critic"] > 0
    assert ledger["default"] == gateway["master"] > 0


def check_create_agent_middleware(out: str) -> None:
    assert re.search(r"tool_select -> gpt-4o-mini \(\$[\d.]+\) tool calls: \['lookup'\]", out)
    assert re.search(r"synthesize -> claude-3-5-sonnet-20241022 \(\$[\d.]+\) tool calls: \[\]", out)
    assert re.search(r"answer: .*Tokyo", out)
    assert "with budget_usd=0.003:\n  stop_reason=budget_exhausted" in out
    assert "Stopped before synthesize (spent $" in out


def check_drop_in_graph(out: str) -> None:
    assert (
        "researcher: tool_select -> gpt-4o-mini error\n"
        "researcher: tool_select -> claude-3-5-haiku-20241022 ok\n"
        "writer: synthesize -> claude-3-5-sonnet-20241022 ok" in out
    )
    assert "by agent: ['researcher', 'writer']" in out
    assert "thread cost saved: True" in out and "ledger == gateway spend: True" in out


def check_drop_in_create_agent(out: str) -> None:
    assert "model only:\n  researcher: tool_select -> gpt-4o-mini error\n" in out
    assert (
        "middleware:\n  researcher: tool_select -> gpt-4o-mini ok\n"
        "  researcher: synthesize -> claude-3-5-sonnet-20241022 ok" in out
    )
    assert out.count("by agent: ['researcher']") == 2
    assert out.count("thread cost saved: True") == 2
    assert "gateway calls: [('gpt-4o-mini', 503), ('claude-3-5-haiku-20241022', 200)" in out


def check_drop_in_supervisor(out: str) -> None:
    assert "supervisor: tool_select -> gpt-4o-mini error" in out
    assert "research_expert: synthesize -> claude-3-5-sonnet-20241022 ok" in out
    assert "by agent: ['research_expert', 'supervisor']" in out
    assert "supervisor parallel_tool_calls sent: {False}" in out
    assert "thread cost saved: True" in out and "ledger == gateway spend: True" in out


def check_drop_in_deepagents(out: str) -> None:
    assert "approval asked for: ['population']" in out
    assert "lead: tool_select -> gpt-4o-mini error" in out
    assert "profile max_input_tokens: 128000" in out
    assert "thread cost saved: True" in out and "ledger == gateway spend: True" in out


LOCAL_CHECKS: dict[str, Callable[[str], None]] = {
    "routing_by_task": check_routing_by_task,
    "context_upgrade": check_context_upgrade,
    "failures_and_fallback": check_failures_and_fallback,
    "checkpoint_and_resume": check_checkpoint_and_resume,
    "cost_per_run": check_cost_per_run,
    "budgets": check_budgets,
    "compose_nodes": check_compose_nodes,
    "per_role_keys": check_per_role_keys,
    "create_agent_middleware": check_create_agent_middleware,
    "drop_in_graph": check_drop_in_graph,
    "drop_in_create_agent": check_drop_in_create_agent,
    "drop_in_supervisor": check_drop_in_supervisor,
    "drop_in_deepagents": check_drop_in_deepagents,
}

# With LANGGRAPH_ROUTING_BASE_URL set: no fault injection, but the example still shows its point.
SKIP_NOTE = "(skipped on a real gateway"
REMOTE_EXPECT: dict[str, tuple[str, ...]] = {
    "routing_by_task": ("plan -> o3-mini -> task plan", "no task at all -> default_task"),
    "context_upgrade": ("~110000 prompt tokens -> gpt-4o;", SKIP_NOTE),
    "failures_and_fallback": (SKIP_NOTE, "attempt 1: o3-mini -> 200 ok"),
    "checkpoint_and_resume": (SKIP_NOTE, "stop_reason=done"),
    "cost_per_run": ("per run: 3 runs", "gateway spend: see the gateway's /spend/logs"),
    "budgets": ("stop_reason=budget_exhausted", SKIP_NOTE),
    "compose_nodes": ("priority=high stop_reason=done", "stop_reason=budget_exhausted"),
    "per_role_keys": ("stop_reason=done", "'planner':", "'critic':", "spend logs"),
    "create_agent_middleware": ("tool_select -> gpt-4o-mini", "stop_reason=budget_exhausted"),
    "drop_in_graph": ("writer: synthesize -> claude-3-5-sonnet-20241022 ok", SKIP_NOTE),
    "drop_in_create_agent": ("researcher: synthesize -> claude", "thread cost saved: True"),
    "drop_in_supervisor": ("research_expert: synthesize -> claude", "thread cost saved: True"),
    "drop_in_deepagents": ("approval asked for: ['population']", "thread cost saved: True"),
}


# ---- running ---------------------------------------------------------------------------------


def _scripts() -> list[Path]:
    return sorted(p for p in EXAMPLES.glob("*.py") if p.name not in HELPERS)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ROUTING_ENV}
    env.update(PYTHONIOENCODING="utf-8", MPLBACKEND="Agg", **extra)
    return env


def _run(script: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


@pytest.fixture(scope="module")
def remote_gateway() -> Iterator[LocalGateway]:
    """Stands in for a real gateway (with the role keys per_role_keys.py needs)."""
    keys = [VirtualKey(PLANNER_KEY, alias="planner"), VirtualKey(CRITIC_KEY, alias="critic")]
    with LocalGateway(keys=keys, master_key=MASTER_KEY) as gw:
        yield gw


@pytest.fixture(scope="module")
def runs(
    remote_gateway: LocalGateway,
) -> dict[tuple[str, str], subprocess.CompletedProcess[str]]:
    """Every example in both modes, four at a time: (mode, name) -> completed process."""
    local_env = _env(ROUTING_KEY_PLANNER=PLANNER_KEY)  # per_role_keys uses it, never prints it
    remote_env = _env(
        LANGGRAPH_ROUTING_BASE_URL=remote_gateway.base_url,
        LANGGRAPH_ROUTING_API_KEY=MASTER_KEY,
        ROUTING_KEY_PLANNER=PLANNER_KEY,
        ROUTING_KEY_CRITIC=CRITIC_KEY,
    )
    jobs = [
        ((mode, script.stem), script, env)
        for script in _scripts()
        for mode, env in (("local", local_env), ("remote", remote_env))
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {key: pool.submit(_run, script, env) for key, script, env in jobs}
        return {key: future.result() for key, future in futures.items()}


def _output(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    for secret in SECRETS:
        assert secret not in proc.stdout + proc.stderr
    return proc.stdout


def test_every_example_is_checked() -> None:
    names = {p.stem for p in _scripts()}
    assert names == set(LOCAL_CHECKS) == set(REMOTE_EXPECT)
    helpers = {p.name for p in EXAMPLES.glob("*.py")} - {f"{n}.py" for n in names}
    assert helpers == HELPERS


@pytest.mark.parametrize("name", sorted(LOCAL_CHECKS))
def test_example_against_local_gateway(
    name: str, runs: dict[tuple[str, str], subprocess.CompletedProcess[str]]
) -> None:
    out = _output(runs["local", name])
    assert "gateway: LocalGateway on http://127.0.0.1:" in out
    assert "(real gateway)" not in out and SKIP_NOTE not in out
    LOCAL_CHECKS[name](out)


@pytest.mark.parametrize("name", sorted(REMOTE_EXPECT))
def test_example_against_configured_gateway(
    name: str,
    runs: dict[tuple[str, str], subprocess.CompletedProcess[str]],
    remote_gateway: LocalGateway,
) -> None:
    out = _output(runs["remote", name])
    assert f"gateway: {remote_gateway.base_url} (real gateway)" in out
    assert "LocalGateway on" not in out
    for expected in REMOTE_EXPECT[name]:
        assert expected in out, f"{expected!r} not in output:\n{out}"


def test_role_keys_reach_the_configured_gateway(
    runs: dict[tuple[str, str], subprocess.CompletedProcess[str]],
    remote_gateway: LocalGateway,
) -> None:
    _output(runs["remote", "per_role_keys"])
    aliases = {(r.key_alias, r.model) for r in remote_gateway.log}
    assert ("planner", "o3-mini") in aliases
    assert ("critic", "gpt-4o-mini") in aliases
