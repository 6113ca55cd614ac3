"""The ``langgraph-routing`` command: demo, run, gateway, runs, resume, report, and its errors."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from langchain.agents import create_agent
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph

from langgraph_routing import (
    CostCallbackHandler,
    RoutesExhaustedError,
    RoutingMiddleware,
    RoutingPolicy,
    create_routing_agent,
    init_routing_model,
    open_checkpointer,
)
from langgraph_routing.cli import main
from langgraph_routing.cli._demo_run import request_origin, run_demo
from langgraph_routing.demo import DEMO_QUESTIONS, DEMO_TOOLS
from langgraph_routing.testing import LocalGateway

KEY_ENV = "CLI_TEST_ROUTING_KEY"
# every step on its task's model (always plan; synthesis never on the easy model), so the
# commands show each step and the outage of the synthesize model hits the synthesize step
POLICY = RoutingPolicy.default().updated({"planning": {"mode": "always"}, "difficulty": {}})
PLAN = POLICY.tasks["plan"].model
SELECT = POLICY.tasks["tool_select"].model
SYNTH = POLICY.tasks["synthesize"].model
QUESTION = DEMO_QUESTIONS[0]


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_error_line(err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    """The default policy with the gateway key read from KEY_ENV (as a user would write it)."""
    data = POLICY.model_dump(mode="json", exclude_none=True)
    data["gateway"] = {"api_key_env": KEY_ENV}
    path = tmp_path / "routing.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture
def gw(monkeypatch: pytest.MonkeyPatch) -> Any:
    with LocalGateway() as gateway:
        assert gateway.master_key is not None
        monkeypatch.setenv(KEY_ENV, gateway.master_key)
        monkeypatch.delenv("LANGGRAPH_ROUTING_BASE_URL", raising=False)
        yield gateway


def thread_values(db: str, thread_id: str) -> dict[str, Any]:
    with open_checkpointer(db) as cp:
        graph = create_routing_agent(DEMO_TOOLS, checkpointer=cp, base_url="http://127.0.0.1:9/v1")
        return dict(graph.get_state({"configurable": {"thread_id": thread_id}}).values)


def by_node(records: list[Any], thread_id: str) -> Counter[tuple[str | None, str | None]]:
    return Counter(
        (request_origin(r)[1], r.model) for r in records if request_origin(r)[0] == thread_id
    )


# -- the demo -----------------------------------------------------------------------------------


def test_demo_result_routes_recovers_and_accounts(tmp_path: Path) -> None:
    result = run_demo(tmp_path)

    assert len(result.runs) == len(DEMO_QUESTIONS)
    for run in result.runs:
        assert run.stop_reason == "done"
        assert run.answered, (run.question.question, run.answer)
    # every step on the model the policy names; the one rerouted step on the fallback chain
    assert result.policy_mismatches() == []
    for run in result.runs:
        models = [(s["node"], s["model"]) for s in run.steps]
        if run.thread_id == result.reroute_thread:
            assert models[1] == ("tool_select", POLICY.fallback_chain(SELECT)[0])
            models[1] = ("tool_select", SELECT)
        assert models[0] == ("plan", PLAN)
        assert models[-1] == ("synthesize", SYNTH)
        assert {m for n, m in models if n == "tool_select"} == {SELECT}
    assert result.fallbacks == 1

    # the outage: the run failed at synthesize, the resume sent synthesize only
    outage = result.outage
    assert outage is not None
    assert outage.status_after_failure == "failed"
    assert outage.next_nodes == ("synthesize",)
    assert [(a["model"], a["status"]) for a in outage.attempts] == [(SYNTH, 503)]
    assert outage.before == Counter({("plan", PLAN): 1, ("tool_select", SELECT): 1})
    assert outage.failed == Counter({("synthesize", SYNTH): 1})
    assert outage.during_resume == Counter({("synthesize", SYNTH): 1})
    assert outage.repeated_steps == [] and outage.resent_nodes == []
    assert [n for n, _ in outage.resumed_steps] == ["synthesize"]
    assert outage.status_after_resume == "done"
    # independently, from the gateway log: nothing before synthesize was sent twice
    counts = by_node(result.gateway_log, outage.thread_id)
    assert counts == Counter(
        {("plan", PLAN): 1, ("tool_select", SELECT): 1, ("synthesize", SYNTH): 2}
    )

    # the ledger is exactly what the gateway charged, call by call
    assert result.ledger_total_usd == result.gateway_spend_usd > 0
    charged = {r.call_id: r.cost_usd for r in result.gateway_log if r.cost_usd is not None}
    ledger = {
        e["call_id"]: e["cost_usd"] for e in result.report.entries if e["cost_usd"] is not None
    }
    assert {k: v for k, v in ledger.items() if v} == charged
    failed = {r.call_id for r in result.gateway_log if r.status >= 400}
    assert {k for k, v in ledger.items() if v == 0} <= failed  # errors the gateway priced at 0
    assert math.fsum(charged.values()) == result.gateway_spend_usd
    # the saving is priced from the same calls at the frontier model's prices
    sonnet = POLICY.models["claude-3-5-sonnet-20241022"]
    baseline = math.fsum(
        sonnet.cost_usd(e["prompt_tokens"], e["completion_tokens"])
        for e in result.report.entries
        if e["cost_usd"] is not None
    )
    assert result.savings.baseline_usd == pytest.approx(baseline)
    # (about 1.66: the demo runs every step on its task's model; the cheap second tool_select
    # call, gone now, used to pad this ratio)
    assert result.savings.ratio > 1.5
    assert result.ok
    assert len(result.gateway_log) <= 30
    assert result.elapsed_s < 60


def test_demo_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "demo", "--workdir", str(tmp_path), "--questions", "3")
    assert code == 0, err
    assert err == ""
    assert "✓ every question answered (3/3)" in out
    assert "✓ the failed run was resumed to done and no finished step was sent again" in out
    assert "✓ ledger total == gateway spend" in out
    assert "✗" not in out.replace("✗ run failed", "")  # the one expected failure is the outage
    assert "RoutesExhaustedError" in out and "503" in out
    assert "cheaper" in out
    for q in DEMO_QUESTIONS[:3]:
        assert q.question in out
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    code, out, _ = cli(capsys, "runs", "--db", db)
    assert code == 0
    assert out.count(" done ") >= 3 and "failed" not in out


def test_demo_rejects_bad_question_count(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "demo", "--questions", "0")
    assert code == 2
    assert_one_error_line(err, "--questions")


# -- run, runs, resume, report --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("budget", "sent_nodes"), [("0.000001", set()), ("0.003", {"plan", "tool_select"})]
)
def test_run_budget_stops_without_further_requests(
    gw: LocalGateway,
    policy_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    budget: str,
    sent_nodes: set[str],
) -> None:
    db = f"sqlite:///{tmp_path / 'b.db'}"
    args = ["--policy", str(policy_file), "--base-url", gw.base_url, "--db", db, "--thread", "b1"]
    code, out, err = cli(capsys, "run", QUESTION.question, *args, "--budget", budget)
    assert code == 0, err
    assert "budget_exhausted" in out
    values = thread_values(db, "b1")
    assert values["stop_reason"] == "budget_exhausted"
    assert {n for n, _ in by_node(gw.log, "b1")} == sent_nodes
    assert len(gw.log) == len(values.get("costs") or [])  # every request is in the ledger
    assert all(r.ok for r in gw.log)


@pytest.mark.parametrize("value", ["nan", "-1", "inf", "ten"])
def test_a_bad_budget_is_a_usage_error(capsys: pytest.CaptureFixture[str], value: str) -> None:
    code, _, err = cli(capsys, "run", "hi", "--budget", value, "--db", "memory://")
    assert code == 2
    assert "--budget" in err and "Error" not in err


def test_the_budget_stays_with_the_thread_across_resumes(
    gw: LocalGateway, policy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``run --budget`` then ``resume`` twice: every resume still runs under that budget."""
    db = f"sqlite:///{tmp_path / 'r.db'}"
    args = ["--policy", str(policy_file), "--base-url", gw.base_url, "--db", db]
    sonnet = "claude-3-5-sonnet-20241022"
    gw.add_fault("server_error", model=sonnet, status=503, times=None)  # synthesize fails
    code, _, _ = cli(capsys, "run", QUESTION.question, *args, "--thread", "kb", "--budget", "0.01")
    assert code == 1
    code, _, _ = cli(capsys, "resume", "kb", *args)  # fails again: the model is still down
    assert code == 1
    gw.clear_faults()
    spent = gw.total_spend
    # 0.01 pays for synthesize only with a smaller max_tokens: the budget is still there
    code, _out, err = cli(capsys, "resume", "kb", *args)
    assert code == 0, err
    [synth] = [r for r in gw.log if r.model == sonnet and r.ok]
    assert synth.max_tokens is not None and synth.max_tokens < 4096
    assert gw.total_spend <= 0.01 and gw.total_spend > spent
    assert thread_values(db, "kb")["stop_reason"] == "done"


def test_failed_run_then_runs_resume_report(
    gw: LocalGateway, policy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    common = ["--policy", str(policy_file), "--base-url", gw.base_url, "--db", db]
    gw.add_fault("server_error", model=SYNTH, status=503, times=None)
    for thread in ("f1", "f2"):
        code, out, err = cli(capsys, "run", QUESTION.question, *common, "--thread", thread)
        assert code == 1
        assert_one_error_line(err, "all routes failed", "503", f"resume {thread}")
    code, out, _ = cli(capsys, "runs", "--db", db)
    assert code == 0
    assert "f1" in out and "f2" in out and out.count("failed") >= 2

    gw.clear_faults()
    mark = len(gw.log)
    code, out, err = cli(capsys, "resume", "f1", *common)
    assert code == 0, err
    assert QUESTION.expected[0] in out and "done" in out
    assert by_node(gw.log[mark:], "f1") == Counter({("synthesize", SYNTH): 1})  # nothing repeated
    values = thread_values(db, "f1")
    assert values["stop_reason"] == "done" and QUESTION.is_answered_by(values["final_answer"])

    mark = len(gw.log)
    code, out, err = cli(capsys, "resume", "--all-failed", *common)
    assert code == 0, err
    assert "✓ f2: done" in out
    assert by_node(gw.log[mark:], "f2") == Counter({("synthesize", SYNTH): 1})

    # the report is the thread's ledger, which is what the gateway charged for it
    spent = math.fsum(
        r.cost_usd for r in gw.log if r.cost_usd is not None and request_origin(r)[0] == "f1"
    )
    code, out, err = cli(capsys, "report", "--db", db, "--thread", "f1")
    assert code == 0, err
    assert f"Cost by node: ${spent:.6f} (3 calls)" in out
    assert f"Cost by model: ${spent:.6f} (3 calls)" in out
    code, out, err = cli(capsys, "report", "--db", db)
    assert code == 0, err
    assert f"Cost by thread: ${gw.total_spend:.6f} (6 calls)" in out
    code, out, _ = cli(capsys, "resume", "f1", *common)
    assert code == 0 and "nothing to resume" in out


def test_run_resume_by_thread_without_question(
    gw: LocalGateway, policy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'q.db'}"
    common = ["--policy", str(policy_file), "--base-url", gw.base_url, "--db", db]
    gw.add_fault("server_error", status=503, times=None)  # every model: plan fails at once
    code, _, err = cli(capsys, "run", QUESTION.question, *common, "--thread", "p1")
    assert code == 1
    assert_one_error_line(err, "all routes failed")
    gw.clear_faults()
    code, out, err = cli(capsys, "run", *common, "--thread", "p1")
    assert code == 0, err
    assert thread_values(db, "p1")["stop_reason"] == "done"
    assert QUESTION.expected[0] in out


# -- the gateway subcommand ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_gateway_subcommand_serves_models(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "gateway.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "langgraph_routing", "gateway", "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            # as from a terminal: a runner started in the background (nohup, `&`) passes
            # SIGINT down ignored, and Python then never turns it into KeyboardInterrupt
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    try:
        models = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                r = httpx.get(
                    f"http://127.0.0.1:{port}/v1/models",
                    headers={"Authorization": "Bearer sk-local-master"},
                    timeout=2,
                )
            except httpx.TransportError:
                time.sleep(0.05)  # polling a process we started, bounded by the deadline
                continue
            models = r.json()
            break
        assert models is not None, log.read_text()
        assert {m["id"] for m in models["data"]} >= {PLAN, SELECT, SYNTH}
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)  # a bound for a loaded machine; it exits in about 1 s
    assert code == 0, log.read_text()
    text = log.read_text()
    assert f"listening on http://127.0.0.1:{port}/v1" in text
    assert "Traceback" not in text


# -- errors ---------------------------------------------------------------------------------------


def test_errors_are_one_line_with_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-very-secret-4242"
    monkeypatch.setenv("LANGGRAPH_ROUTING_API_KEY", secret)
    monkeypatch.delenv("LANGGRAPH_ROUTING_BASE_URL", raising=False)
    bad_policy = tmp_path / "bad.yaml"
    bad_policy.write_text("models: {}\ntasks: {plan: {model: nope}}\n", encoding="utf-8")
    db = tmp_path / "e.db"
    with open_checkpointer(f"sqlite:///{db}"):
        pass  # an existing, empty database
    dead = f"http://127.0.0.1:{free_port()}/v1"
    cases: list[tuple[list[str], int, tuple[str, ...]]] = [
        (["run", "q", "--policy", str(bad_policy), "--base-url", dead], 2, ("policy key",)),
        (["runs", "--db", "mysql://u:pw@host/db"], 2, ("unsupported checkpointer URL",)),
        (["runs", "--db", f"sqlite:///{tmp_path / 'missing.db'}"], 2, ("no checkpoint database",)),
        (["report", "--db", f"sqlite:///{db}", "--thread", "nope"], 2, ("unknown thread 'nope'",)),
        (
            ["run", "--thread", "nope", "--db", f"sqlite:///{db}", "--base-url", dead],
            2,
            ("unknown thread",),
        ),
        (["run", "q", "--db", f"sqlite:///{db}"], 2, ("no gateway URL",)),
        (["run"], 2, ("give a question",)),
        (["frobnicate"], 2, ("invalid choice",)),
        (["resume", "--db", f"sqlite:///{db}"], 2, ("THREAD or --all-failed",)),
        (
            ["run", "q", "--base-url", dead, "--db", f"sqlite:///{db}", "--thread", "x"],
            1,
            ("all routes failed", "connection failed?", dead),
        ),
    ]
    for argv, expected, fragments in cases:
        code, out, err = cli(capsys, *argv)
        assert code == expected, (argv, err)
        assert_one_error_line(err, *fragments)
        assert secret not in out + err and "pw" not in err
    monkeypatch.delenv("LANGGRAPH_ROUTING_API_KEY")
    code, _, err = cli(capsys, "run", "q", "--base-url", dead, "--db", f"sqlite:///{db}")
    assert code == 2
    assert_one_error_line(err, "$LANGGRAPH_ROUTING_API_KEY")


def test_postgres_password_never_printed(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("psycopg")
    url = f"postgresql://me:hunter2secret@127.0.0.1:{free_port()}/app"
    code, out, err = cli(capsys, "runs", "--db", url)
    assert code == 2
    assert_one_error_line(err, "cannot connect to PostgreSQL")
    assert "hunter2secret" not in out + err


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://me@127.0.0.1:{port}/app?password=hunter2secret",
        "host=127.0.0.1 port={port} dbname=app user=me password='hunter2secret'",
    ],
)
@pytest.mark.parametrize("command", ["runs", "report"])
def test_postgres_password_forms_never_printed(
    capsys: pytest.CaptureFixture[str], url: str, command: str
) -> None:
    pytest.importorskip("psycopg")
    code, out, err = cli(capsys, command, "--db", url.format(port=free_port()))
    assert code == 2
    assert_one_error_line(err, "cannot connect to PostgreSQL", "127.0.0.1")
    assert "hunter2secret" not in out + err


def test_corrupt_sqlite_stops_before_any_request(
    gw: LocalGateway, policy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "broken.db"
    db.write_bytes(b"not a database " * 100)
    url = f"sqlite:///{db}"
    args = ["--policy", str(policy_file), "--base-url", gw.base_url, "--db", url]
    for argv in (["run", QUESTION.question, *args], ["runs", "--db", url], ["report", "--db", url]):
        code, out, err = cli(capsys, *argv)
        assert code == 2, (argv, out, err)
        assert_one_error_line(err, "corrupt or not a SQLite database", str(db), "mv ")
    assert gw.log == []  # refused before any request
    assert db.read_bytes() == b"not a database " * 100


def test_debug_shows_the_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "--debug", "runs", "--db", "mysql://x")
    assert code == 2
    assert "Traceback" in err
    assert err.strip().splitlines()[-1].startswith("error: unsupported checkpointer URL")
    code, _, err = cli(capsys, "runs", "--db", "mysql://x", "--debug")
    assert code == 2 and "Traceback" in err


def test_python_dash_m_help() -> None:
    env = {**os.environ, "COLUMNS": "100"}
    done = subprocess.run(
        [sys.executable, "-m", "langgraph_routing", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    for command in ("demo", "run", "gateway", "runs", "resume", "report"):
        assert command in done.stdout


def test_resume_rebuilds_the_graph_the_run_used(
    gw: LocalGateway, policy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A --critique run that failed at critique resumes with the critique node (from the
    checkpoint metadata), without --critique on the resume command line."""
    db = f"sqlite:///{tmp_path / 'c.db'}"
    common = ["--policy", str(policy_file), "--base-url", gw.base_url, "--db", db]
    critic = POLICY.tasks["critique"].model
    gw.add_fault("server_error", model=critic, nth=2, times=None)  # tool_select's call passes
    for model in POLICY.fallback_chain(critic):
        gw.add_fault("server_error", model=model, times=None)
    code, _, err = cli(capsys, "run", QUESTION.question, *common, "--critique", "--thread", "c1")
    assert code == 1
    assert_one_error_line(err, "task 'critique'")
    gw.clear_faults()
    mark = len(gw.log)
    code, out, err = cli(capsys, "resume", "c1", *common)
    assert code == 0, err
    assert "next: critique" in out
    assert {n for n, _ in by_node(gw.log[mark:], "c1")} == {"critique"}
    assert thread_values(db, "c1")["stop_reason"] == "done"


# -- foreign graphs, resume hints, literal text, rounded money (issue 10, points 2 and 9) ----

NOISE = re.compile(r"\d\.\d{7,}")  # float noise such as 0.0012340000000000001


def messages_graph(model: Any, checkpointer: Any) -> Any:
    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    g = StateGraph(MessagesState)
    g.add_node("agent", agent)
    g.add_edge(START, "agent")
    g.add_edge("agent", END)
    return g.compile(checkpointer=checkpointer)


@tool
def lookup(city: str) -> str:
    """Look up facts about a city."""
    return "population 1,463,723"


def spend(records: list[Any]) -> float:
    return math.fsum(r.cost_usd for r in records if r.cost_usd is not None)


def test_runs_and_report_agree_with_the_gateway_for_any_graph(
    gw: LocalGateway, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'any.db'}"
    question = {"messages": [HumanMessage("What is the population of Kyoto?")]}
    with open_checkpointer(db) as cp:
        model = init_routing_model(base_url=gw.base_url, api_key=gw.master_key)
        plain_graph = messages_graph(model, cp)
        plain_graph.invoke(question, {"configurable": {"thread_id": "plain-1"}})
        plain_graph.invoke(
            {"messages": [HumanMessage("and Osaka?")]}, {"configurable": {"thread_id": "plain-1"}}
        )
        mark = len(gw.log)
        mw = RoutingMiddleware(base_url=gw.base_url, api_key=gw.master_key)
        agent = create_agent(mw.model, [lookup], middleware=[mw], checkpointer=cp)
        agent.invoke(question, {"configurable": {"thread_id": "agent-1"}})
    log = gw.log
    per_thread = {
        "plain-1": (spend(log[:mark]), mark),
        "agent-1": (spend(log[mark:]), len(log) - mark),
    }
    assert all(cost > 0 for cost, _ in per_thread.values())

    code, out, err = cli(capsys, "runs", "--db", db)
    assert code == 0, err
    for thread, (cost, _) in per_thread.items():
        [line] = [row for row in out.splitlines() if thread in row]
        assert f"${cost:.6f}" in line, out
    for thread, (cost, calls) in per_thread.items():
        code, out, err = cli(capsys, "report", "--db", db, "--thread", thread)
        assert code == 0, err
        assert f"Cost by node: ${cost:.6f} ({calls} calls)" in out
        assert f"Cost by model: ${cost:.6f} ({calls} calls)" in out
        assert "not in the thread" not in out  # the stamp and the state agree
    code, out, err = cli(capsys, "report", "--db", db)
    assert code == 0, err
    assert f"Cost by thread: ${gw.total_spend:.6f} ({len(log)} calls)" in out
    assert not NOISE.search(out)


def test_no_resume_hint_when_a_resume_cannot_help(
    gw: LocalGateway,
    policy_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = f"sqlite:///{tmp_path / 'h.db'}"
    common = ["--policy", str(policy_file)]
    hint = "langgraph-routing resume"
    # a transient outage on a kept database: the hint is the way out
    gw.add_fault("server_error", status=503, times=None)
    code, _, err = cli(capsys, "run", "q", *common, "--base-url", gw.base_url, "--db", db)
    assert code == 1
    assert_one_error_line(err, hint)
    # memory:// keeps nothing after the command
    code, _, err = cli(capsys, "run", "q", *common, "--base-url", gw.base_url, "--db", "memory://")
    assert code == 1
    assert_one_error_line(err, "memory://")
    assert hint not in err
    gw.clear_faults()
    # a 404: the URL is wrong; name it and --base-url
    wrong = gw.base_url.replace("/v1", "/nope")
    mark = len(gw.log)
    code, _, err = cli(capsys, "run", "q", *common, "--base-url", wrong, "--db", db)
    assert code == 1
    assert_one_error_line(err, "404", wrong, "--base-url")
    assert hint not in err
    # a wrong key: a resume would fail the same way
    monkeypatch.setenv(KEY_ENV, "sk-not-the-key")
    code, _, err = cli(capsys, "run", "q", *common, "--base-url", gw.base_url, "--db", db)
    assert code == 1
    assert_one_error_line(err, "401", "api_key_env")
    assert hint not in err and "sk-not-the-key" not in err
    assert [r.status for r in gw.log[mark:]] == [401]  # the fault happened: one refused call


def test_usage_errors_exit_2_without_class_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANGGRAPH_ROUTING_API_KEY", "sk-x")
    bad_policy = tmp_path / "bad.yaml"
    bad_policy.write_text("models: {}\ntasks: {plan: {model: nope}}\n", encoding="utf-8")
    cases = [
        ["run", "q", "--policy", str(bad_policy), "--base-url", "http://127.0.0.1:9/v1"],
        ["runs", "--db", "mysql://u:pw@host/db"],
        ["run", "q", "--budget", "lots"],
        ["report", "--db", f"sqlite:///{tmp_path / 'missing.db'}"],
    ]
    for argv in cases:
        code, _, err = cli(capsys, *argv)
        assert code == 2, (argv, err)
        assert_one_error_line(err)
        assert not re.search(r"\b[A-Z][A-Za-z]*(Error|Exception)\b", err), err


def test_thread_ids_and_models_print_literally(
    gw: LocalGateway, policy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'm.db'}"
    common = ["--policy", str(policy_file), "--base-url", gw.base_url, "--db", db]
    for thread in ("[/]", "[bold]x"):
        code, out, err = cli(capsys, "run", QUESTION.question, *common, "--thread", thread)
        assert code == 0, err
        assert f"thread: {thread}" in out
        assert not NOISE.search(out)
    code, out, err = cli(capsys, "runs", "--db", db)
    assert code == 0, err
    assert "[/]" in out and "[bold]x" in out
    code, out, err = cli(capsys, "report", "--db", db, "--thread", "[bold]x")
    assert code == 0, err
    assert "thread [bold]x: stop reason done" in out
    assert SYNTH in out
    code, out, err = cli(capsys, "report", "--db", db)
    assert code == 0, err
    assert "[/]" in out and "[bold]x" in out
    assert f"Cost by thread: ${gw.total_spend:.6f}" in out and not NOISE.search(out)


def test_money_is_rounded() -> None:
    from langgraph_routing.cli._render import cost_text

    assert cost_text(0.0012340000000000001) == "$0.001234"
    assert cost_text(None) == "unknown"


def test_report_names_failed_attempts_only_the_handler_saw(
    gw: LocalGateway, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A node that raised loses its writes (its failed attempts are not in the state); the
    handler attached to the checkpointer still counts them, and report says so with the same
    total as runs."""
    db = f"sqlite:///{tmp_path / 'gap.db'}"
    handler = CostCallbackHandler()
    config: Any = {"configurable": {"thread_id": "g1"}, "callbacks": [handler]}
    with open_checkpointer(db, costs=handler) as cp:
        graph = messages_graph(init_routing_model(base_url=gw.base_url, api_key=gw.master_key), cp)
        gw.add_fault("server_error", status=503, times=None)
        with pytest.raises(RoutesExhaustedError):
            graph.invoke({"messages": [HumanMessage("hi")]}, config)
        failed = len(gw.log)
        assert failed >= 2 and all(r.status == 503 for r in gw.log)
        gw.clear_faults()
        graph.invoke(None, config)
    calls = len(gw.log)
    code, out, err = cli(capsys, "runs", "--db", db)
    assert code == 0, err
    assert f"${gw.total_spend:.6f}" in out
    code, out, err = cli(capsys, "report", "--db", db, "--thread", "g1")
    assert code == 0, err
    assert "(1 calls)" in out  # the state holds the answer only
    assert f"thread total (as `runs` shows): ${gw.total_spend:.6f} over {calls} calls" in out
    assert f"{failed} call(s)" in out


def test_report_counts_a_subagent_whose_messages_stay_in_its_namespace(
    gw: LocalGateway, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A node that runs a subagent (as deepagents' task tool does) and keeps only its text: the
    calls live in the subagent's checkpoints (their own ns); runs and report count them."""
    db = f"sqlite:///{tmp_path / 'sub.db'}"
    with open_checkpointer(db) as cp:
        model = init_routing_model(base_url=gw.base_url, api_key=gw.master_key)
        subagent = messages_graph(model, None)

        def delegate(state: MessagesState) -> dict[str, Any]:
            result = subagent.invoke({"messages": [HumanMessage("research Kyoto")]})
            return {"messages": [HumanMessage(f"subagent said: {result['messages'][-1].text}")]}

        g = StateGraph(MessagesState)
        g.add_node("delegate", delegate)
        g.add_node("agent", lambda s: {"messages": [model.invoke(s["messages"])]})
        g.add_edge(START, "delegate")
        g.add_edge("delegate", "agent")
        g.add_edge("agent", END)
        g.compile(checkpointer=cp).invoke(
            {"messages": [HumanMessage("go")]}, {"configurable": {"thread_id": "sub-1"}}
        )
    assert len(gw.log) == 2
    code, out, err = cli(capsys, "runs", "--db", db)
    assert code == 0 and f"${gw.total_spend:.6f}" in out, out + err
    code, out, err = cli(capsys, "report", "--db", db, "--thread", "sub-1")
    assert code == 0, err
    assert f"Cost by node: ${gw.total_spend:.6f} (2 calls)" in out


# -- health ---------------------------------------------------------------------------------------


def test_health_shows_a_breaker_opened_by_another_process(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A model that failed in one process shows as open in ``health`` read from Redis."""
    from langgraph_routing import RoutingChatModel

    dead = "gpt-4o-mini"
    with LocalGateway() as gw:
        gw.add_fault("server_error", model=dead, status=503, times=None)
        model = RoutingChatModel(
            base_url=gw.base_url, api_key=gw.master_key, routing_state=redis_url, task="tool_select"
        )
        for _ in range(6):  # past the default threshold of 5 failures in a row
            model.invoke("hello")
        assert sum(r.model == dead for r in gw.log) == 5  # then skipped: the breaker is open
    code, out, err = cli(capsys, "health", "--state", redis_url, "--json")
    assert code == 0, err
    rows = {row["model"]: row for row in map(json.loads, out.splitlines())}
    assert rows[dead]["state"] == "open" and rows[dead]["failures_in_row"] == 5
    assert rows[dead]["reopens_in_s"] > 0
    assert rows["claude-3-5-haiku-20241022"]["state"] == "closed"
    code, out, err = cli(capsys, "health", "--state", redis_url)
    assert code == 0, err
    assert dead in out and "open" in out


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["health", "--state", "mysql://me:hunter2secret@db/x"], "routing state URL"),
        (["health", "--state", "redis://:hunter2secret@127.0.0.1:1/0"], "cannot read"),
    ],
)
def test_health_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    pytest.importorskip("redis")
    code, out, err = cli(capsys, *argv)
    assert code == 2
    assert_one_error_line(err, fragment)
    assert "hunter2secret" not in out + err


def test_health_of_a_fresh_memory_state_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "health", "--state", "memory://")
    assert code == 0 and "only this process" in out
