"""Acceptance: a routed 5-step pipeline resumes after a crash and after an outage.

The pipeline is ``tests/crash_pipeline.py`` (plan -> tool_select -> synthesize -> critique ->
synthesize2, one routed model call per step, checkpointed). Each test runs on SQLite and on
PostgreSQL (a fresh database per test).

- Crash: the pipeline runs in a subprocess; the LocalGateway of this process holds step 3's
  request open, the test kills the subprocess with SIGKILL while it is held, and a new subprocess
  resumes the thread. Steps 1-2 are not requested again, and the thread's ledger equals the
  gateway's spend exactly.
- Outage: from step 4 on every model answers 503; the run ends with RoutesExhaustedError whose
  attempts are the gateway's failed calls; after the outage the thread resumes to the end without
  repeating a finished step.

No sleeps: the tests wait on the gateway's held-request counter and on process exit, each with a
bound, so a hung pipeline fails the test instead of hanging CI.

How LocalGateway charges the held-then-killed request (checked in its code, ``_server.py``): a
held request is answered (logged and charged) only if its connection is still open when the hold
ends. The test releases the hold only after ``proc.wait()`` returned, i.e. after the kernel
closed the client's sockets, so the gateway's event loop sees the closed connection no later than
the release. The abandoned request is then neither logged nor charged (as LiteLLM cancels the
call of a disconnected client); its arrival shows only as the hang rule having fired once.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from langgraph.types import StateSnapshot

from langgraph_routing import (
    AgentTask,
    RoutesExhaustedError,
    RoutingPolicy,
    init_routing_model,
    open_checkpointer,
)
from langgraph_routing.checkpointing import list_threads
from langgraph_routing.cli._common import thread_entries
from langgraph_routing.testing import LocalGateway, RequestRecord
from tests.crash_pipeline import STEPS, compile_graph, start_input, thread_config

SCRIPT = Path(__file__).with_name("crash_pipeline.py")
NODES = [node for node, _ in STEPS]
POLICY = RoutingPolicy.default()
STEP_MODEL = {node: POLICY.tasks[AgentTask(task)].model for node, task in STEPS}
HELD_DEADLINE_S = 120.0  # subprocess start (imports) + steps 1-2, on a loaded CI machine
PROCESS_TIMEOUT_S = 120.0


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def checkpoint_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A checkpointer URL: a SQLite file in tmp_path, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'checkpoints.db'}"
    url: str = request.getfixturevalue("postgres_db_url")
    return url


# --- helpers ---------------------------------------------------------------------------------
def _env(gw: LocalGateway) -> dict[str, str]:
    env = dict(os.environ)
    env["LANGGRAPH_ROUTING_API_KEY"] = str(gw.master_key)  # the key travels by env, not argv
    env["LANGSMITH_TRACING"] = "false"
    env["LANGCHAIN_TRACING_V2"] = "false"
    return env


def _argv(gw: LocalGateway, url: str, thread: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(SCRIPT),
        "--base-url",
        gw.base_url,
        "--db",
        url,
        "--thread",
        thread,
        *extra,
    ]


def _node(record: RequestRecord) -> str:
    """The ``node:...`` tag the routing model put on a request."""
    tags = record.headers.get("x-litellm-tags", "").split(",")
    nodes = [t.removeprefix("node:") for t in tags if t.startswith("node:")]
    assert len(nodes) == 1, f"request without exactly one node tag: {record!r} {tags}"
    return nodes[0]


def _snapshot(gw: LocalGateway, url: str, thread: str) -> StateSnapshot:
    """The thread's latest state, read through a fresh checkpointer connection in this process."""
    model = init_routing_model(base_url=gw.base_url, api_key=gw.master_key)
    with open_checkpointer(url) as checkpointer:
        return compile_graph(model, checkpointer).get_state(thread_config(thread))


def _wait_until_held(gw: LocalGateway, proc: subprocess.Popen[str], hang: Any = None) -> None:
    """Block until the gateway holds one request (the one ``hang`` catches, when given: a hold
    released earlier may still be counted for a moment); fail fast if the subprocess dies."""
    deadline = time.monotonic() + HELD_DEADLINE_S
    while not (gw.wait_for_held(1, timeout=0.25) and (hang is None or hang.fired)):
        if proc.poll() is not None:
            _, err = proc.communicate(timeout=PROCESS_TIMEOUT_S)
            pytest.fail(f"pipeline exited ({proc.returncode}) before step 3 was held:\n{err}")
        if time.monotonic() > deadline:
            pytest.fail(f"step 3 was not held within {HELD_DEADLINE_S} s; log: {gw.log}")


def _kill_when_held(
    gw: LocalGateway,
    argv: list[str],
    while_held: Callable[[], None] | None = None,
    hang: Any = None,
) -> None:
    """Run the pipeline; once the gateway holds one of its requests, SIGKILL it, reap it (its
    sockets are then closed), and release the hold."""
    proc = subprocess.Popen(
        argv, env=_env(gw), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_until_held(gw, proc, hang)
        if while_held is not None:
            while_held()
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=PROCESS_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=PROCESS_TIMEOUT_S)
    assert proc.returncode == -signal.SIGKILL
    gw.release_holds()


def _resume_to_the_end(gw: LocalGateway, url: str, thread: str) -> dict[str, Any]:
    """Resume the thread in a new process; return the JSON line it prints at the end."""
    resumed = subprocess.run(
        _argv(gw, url, thread, "--resume"),
        env=_env(gw),
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT_S,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    summary: dict[str, Any] = json.loads(resumed.stdout.strip().splitlines()[-1])
    return summary


def _assert_ledger_matches_gateway(costs: list[Mapping[str, Any]], gw: LocalGateway) -> None:
    """One paid "ok" entry per answered call, same call id/node/model/cost, same exact total."""
    answered = gw.calls(status=200)
    paid = [e for e in costs if e["status"] == "ok"]
    assert [e["call_id"] for e in paid] == [r.call_id for r in answered]
    assert [e["node"] for e in paid] == [_node(r) for r in answered] == NODES
    assert [e["model"] for e in paid] == [r.model for r in answered]
    assert [e["cost_usd"] for e in paid] == [r.cost_usd for r in answered]
    assert all(e["source"] == "header" for e in paid)
    ledger_total = math.fsum(e["cost_usd"] for e in costs if e["cost_usd"] is not None)
    gateway_total = math.fsum(r.cost_usd for r in gw.log if r.cost_usd is not None)
    assert ledger_total > 0
    assert ledger_total == gateway_total == gw.total_spend


# --- crash ----------------------------------------------------------------------------------
def test_resume_after_sigkill_in_step_3(gateway: LocalGateway, checkpoint_url: str) -> None:
    gw = gateway
    thread = f"crash-{uuid.uuid4().hex[:8]}"
    step3_model = STEP_MODEL["synthesize"]
    # step 3 is the first call to its model (steps 1-2 use other models)
    assert step3_model not in (STEP_MODEL["plan"], STEP_MODEL["tool_select"])
    hang = gw.add_fault("hang", model=step3_model, nth=1, seconds=60)

    def in_flight() -> None:  # steps 1-2 are answered and checkpointed; step 3 is in flight
        assert [_node(r) for r in gw.log] == ["plan", "tool_select"]
        before = _snapshot(gw, checkpoint_url, thread)
        assert before.next == ("synthesize",)
        assert [e["node"] for e in before.values["costs"]] == ["plan", "tool_select"]

    _kill_when_held(gw, _argv(gw, checkpoint_url, thread), in_flight)

    summary = _resume_to_the_end(gw, checkpoint_url, thread)
    assert summary["stop_reason"] == "done"

    # Gateway side: steps 1, 2, 4, 5 requested once; step 3 reached the gateway twice (held and
    # abandoned, then answered after the resume), and only the answered one is logged/charged.
    log = gw.log
    assert all(r.status == 200 for r in log), log
    assert Counter(_node(r) for r in log) == dict.fromkeys(NODES, 1)
    assert [r.model for r in log] == [STEP_MODEL[n] for n in NODES]
    assert hang.fired == 1
    assert not any(r.fault == "hang" for r in log)
    step3_requests = hang.fired + sum(_node(r) == "synthesize" for r in log)
    assert step3_requests == 2
    # Steps 1-2 belong to the killed run, steps 3-5 to the resumed one (LiteLLM `user` field).
    runs = [r.user for r in log]
    assert runs[0] == runs[1] != runs[2] == runs[3] == runs[4]
    # The resumed step 3 saw the saved conversation: system + request + replies of steps 1-2.
    assert [r.message_count for r in log] == [2, 3, 4, 5, 6]

    # Ledger side, read from the checkpointer in this process.
    after = _snapshot(gw, checkpoint_url, thread)
    assert after.next == ()
    costs = after.values["costs"]
    assert len(costs) == len(log)
    assert all(e["status"] == "ok" for e in costs)
    assert summary["calls"] == [e["call_id"] for e in costs]
    _assert_ledger_matches_gateway(costs, gw)


def test_a_sigkill_loop_loses_no_paid_call(gateway: LocalGateway, checkpoint_url: str) -> None:
    """Kill the pipeline with SIGKILL while a request is in flight, four times over, resuming
    each time: every call sent is in the thread's ledger, the answered ones at the gateway's
    price and the four killed mid-request as ``interrupted`` entries at their estimate."""
    gw = gateway
    thread = f"loop-{uuid.uuid4().hex[:8]}"
    hangs = []
    for kill in range(4):
        # each run answers its first call, then its second is held and the process killed
        hangs.append(gw.add_fault("hang", nth=2, times=1, seconds=60))
        extra = ("--resume",) if kill else ()
        _kill_when_held(gw, _argv(gw, checkpoint_url, thread, *extra), hang=hangs[-1])
    _resume_to_the_end(gw, checkpoint_url, thread)
    # the gateway answered each step once; four more requests died with their process
    assert [_node(r) for r in gw.log] == NODES
    assert [h.fired for h in hangs] == [1, 1, 1, 1]
    sent = len(gw.log) + sum(h.fired for h in hangs)

    with open_checkpointer(checkpoint_url) as cp:
        [info] = list_threads(cp)
        entries = thread_entries(cp, thread)
    interrupted = [e for e in entries if e["source"] == "interrupted"]
    answered = [e for e in entries if e["source"] != "interrupted"]
    assert len(entries) == info.calls == sent  # no call sent is missing
    assert len(interrupted) == info.interrupted_calls == 4
    assert [e["node"] for e in interrupted] == NODES[1:]  # the step each kill interrupted
    assert all(e["cost_usd"] > 0 and e["status"] == "cancelled" for e in interrupted)
    # the answered calls are the gateway's, exactly; every difference is marked interrupted
    assert sorted(e["call_id"] for e in answered) == sorted(r.call_id for r in gw.log)
    assert math.fsum(e["cost_usd"] for e in answered) == gw.total_spend
    expected = gw.total_spend + math.fsum(e["cost_usd"] for e in interrupted)
    assert info.cost_usd is not None and math.isclose(info.cost_usd, expected, rel_tol=1e-9)


# --- outage ---------------------------------------------------------------------------------
def test_outage_from_step_4_then_resume(gateway: LocalGateway, checkpoint_url: str) -> None:
    gw = gateway
    thread = f"outage-{uuid.uuid4().hex[:8]}"
    # Every model fails with 503 from its first call after step 3, forever.
    calls_before = Counter(STEP_MODEL[node] for node in NODES[:3])
    for name in gw.models:
        gw.add_fault("server_error", model=name, nth=calls_before[name] + 1, times=None, status=503)

    model = init_routing_model(base_url=gw.base_url, api_key=gw.master_key, timeout=30)
    config = thread_config(thread)
    with open_checkpointer(checkpoint_url) as checkpointer:
        graph = compile_graph(model, checkpointer)
        with pytest.raises(RoutesExhaustedError) as info:
            graph.invoke(start_input(), config)
        exc = info.value
        assert exc.task == "critique"

        failed = gw.calls(status=503)
        # step 4's model, then its fallback chain: every one of them failed
        chain = [STEP_MODEL["critique"], *POLICY.fallback_chain(STEP_MODEL["critique"])]
        assert [r.model for r in failed] == chain
        assert [(a["model"], a["status"], a["call_id"]) for a in exc.attempts] == [
            (r.model, r.status, r.call_id) for r in failed
        ]
        assert {a["error_kind"] for a in exc.attempts} == {"transient"}
        assert {_node(r) for r in failed} == {"critique"}
        assert all(r.cost_usd is None for r in failed)

        stopped = graph.get_state(config)
        assert stopped.next == ("critique",)
        assert [e["node"] for e in stopped.values["costs"]] == NODES[:3]

        gw.clear_faults()
        result = graph.invoke(None, config)
        assert result["stop_reason"] == "done"
        final = graph.get_state(config)

    assert final.next == ()
    # No finished step was requested again; only step 4 has failed calls besides its answer.
    answered = gw.calls(status=200)
    assert Counter(_node(r) for r in answered) == dict.fromkeys(NODES, 1)
    assert len(gw.log) == len(answered) + len(failed)
    costs = final.values["costs"]
    # The failed attempts cost nothing; if the ledger holds them, they are unpaid errors.
    failed_ids = {r.call_id for r in failed}
    for entry in costs:
        if entry["status"] != "ok":
            assert entry["call_id"] in failed_ids
            assert not entry["cost_usd"]
    _assert_ledger_matches_gateway(costs, gw)


def test_a_broken_intent_journal_never_fails_a_call(gateway: LocalGateway, tmp_path: Path) -> None:
    """The intents are a safety net: when they cannot be written, the call goes on, warned."""
    model = init_routing_model(base_url=gateway.base_url, api_key=gateway.master_key)
    with open_checkpointer(f"sqlite:///{tmp_path / 'c.db'}") as cp:
        assert cp.intents is not None
        cp.intents.close()  # every later write fails
        graph = compile_graph(model, cp)
        with pytest.warns(UserWarning, match="call intent not recorded"):
            graph.invoke(start_input(), thread_config("t"))
        assert graph.get_state(thread_config("t")).next == ()
    assert len(gateway.log) == len(NODES)
