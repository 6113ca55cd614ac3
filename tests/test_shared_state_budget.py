"""Budgets per user shared by every worker on one routing state: atomic admission across
processes, max_tokens shrunk to what is left, settlement, and no leak after a worker dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage

from langgraph_routing import BudgetExceededError, RoutingChatModel, RoutingPolicy
from langgraph_routing._budget import reservation_usd
from langgraph_routing.shared_state import MemoryRoutingState, open_routing_state
from langgraph_routing.testing import LocalGateway

ROOT = Path(__file__).resolve().parents[1]
MODEL = "gpt-4o-mini"


@pytest.fixture(params=["memory", "redis", "postgres"])
def state_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    name = "redis_url" if request.param == "redis" else "postgres_db_url"
    url: str = request.getfixturevalue(name)
    return url


def test_concurrent_reservations_never_overbook(state_url: str) -> None:
    states = [open_routing_state(state_url) for _ in range(20)]
    if state_url.startswith("memory"):
        states = [states[0]] * 20
    try:
        barrier = threading.Barrier(20)
        granted: list[str | None] = []

        def worker(i: int) -> None:
            barrier.wait()
            rid, _, _ = states[i].reserve("user_id=alice", 1.05, 0.1, 0.1, 60)
            granted.append(rid)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ids = [g for g in granted if g is not None]
        assert len(ids) == 10
        assert states[0].budget_usage("user_id=alice") == (0.0, pytest.approx(1.0))
        for rid in ids[:4]:
            states[0].settle("user_id=alice", rid, 0.025)  # cost less than reserved
        spent, held = states[0].budget_usage("user_id=alice")
        assert spent == pytest.approx(0.1) and held == pytest.approx(0.6)
        # what is left (0.35) pays for 3 more full calls, then a floor-sized one
        grants = [states[0].reserve("user_id=alice", 1.05, 0.1, 0.02, 60)[1] for _ in range(5)]
        assert grants[:3] == [0.1, 0.1, 0.1] and grants[3] == pytest.approx(0.05)
        assert grants[4] == 0.0
    finally:
        for s in set(states):
            s.close()


def test_expired_reservations_are_released(state_url: str) -> None:
    now = [3_000_000.0]
    with open_routing_state(state_url, clock=lambda: now[0]) as state:
        rid, _, _ = state.reserve("tenant=acme", 1.0, 0.6, 0.6, ttl_s=30)
        assert rid is not None
        assert state.reserve("tenant=acme", 1.0, 0.6, 0.6, ttl_s=30)[0] is None
        now[0] += 31  # its worker never settled it
        assert state.budget_usage("tenant=acme") == (0.0, 0.0)
        assert state.reserve("tenant=acme", 1.0, 0.6, 0.6, ttl_s=30)[0] is not None


def _policy(usd: float) -> RoutingPolicy:
    return RoutingPolicy.default().updated(
        {"budget": {"min_output_tokens": 50, "scopes": {"user_id": {"usd": usd}}}}
    )


def _per_call(policy: RoutingPolicy, max_tokens: int) -> float:
    tokens = RoutingChatModel(policy=policy, base_url="http://127.0.0.1:1/v1")._counter.count(
        [HumanMessage("hi")], MODEL, None
    )
    return reservation_usd(policy.models[MODEL], tokens.tokens, max_tokens)


def test_a_user_budget_shrinks_then_refuses_without_a_request(gateway: LocalGateway) -> None:
    policy = _policy(1.0)
    per_call = _per_call(policy, 100)
    policy = _policy(per_call * 1.6)
    state = MemoryRoutingState()
    model = RoutingChatModel(
        policy=policy,
        base_url=gateway.base_url,
        api_key=gateway.master_key,
        routing_state=state,
        task="tool_select",
        max_tokens=100,
    )
    alice = {"metadata": {"user_id": "alice"}}
    gateway.add_fault("hang", model=MODEL, times=None, seconds=None)
    replies: list[object] = []
    first = threading.Thread(target=lambda: replies.append(model.invoke("hi", alice)))
    first.start()  # holds a full reservation while the gateway keeps it waiting
    assert gateway.wait_for_held(1)
    gateway.clear_faults()
    second = model.invoke("hi", alice)  # what is left pays ~50 output tokens
    gateway.release_holds()
    first.join()
    assert replies[0].response_metadata["routing"]["max_tokens"] == 100  # type: ignore[attr-defined]
    assert 50 <= second.response_metadata["routing"]["max_tokens"] < 100
    assert len(gateway.calls(model=MODEL, status=200)) == 2
    spent, held = state.budget_usage("user_id=alice")
    assert held == 0.0 and spent == pytest.approx(gateway.total_spend)
    model.invoke("hi", {"metadata": {"user_id": "bob"}})  # another user: its own budget
    before = len(gateway.log)
    state.reserve("user_id=alice", per_call * 1.6, per_call * 1.6 - spent, 0, 60)  # use it up
    with pytest.raises(BudgetExceededError) as info:
        model.invoke("hi", alice)
    assert info.value.entity == "user_id=alice" and info.value.scope == "shared"
    assert len(gateway.log) == before  # refused before any request


_WORKER = """
import asyncio, sys
from langgraph_routing import BudgetExceededError, RoutingChatModel, RoutingPolicy
base_url, key, state, usd = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
policy = RoutingPolicy.default().updated(
    {"budget": {"min_output_tokens": 100, "scopes": {"user_id": {"usd": usd}}}})
model = RoutingChatModel(policy=policy, base_url=base_url, api_key=key, routing_state=state,
                         task="tool_select", max_tokens=100)
print("ready", flush=True)

async def one():
    try:
        await model.ainvoke("hi", {"metadata": {"user_id": "alice"}})
        print("sent", flush=True)
    except BudgetExceededError:
        print("refused", flush=True)

async def main():
    await asyncio.gather(*(one() for _ in range(25)))

asyncio.run(main())
"""


class Workers:
    """Worker processes whose output lines are counted as they arrive."""

    def __init__(self, n: int, args: list[str]) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.cond = threading.Condition()
        self.lines: list[str] = []
        self.errors: list[str] = []
        self.procs = [
            subprocess.Popen(
                [sys.executable, "-c", _WORKER, *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for _ in range(n)
        ]
        self.readers = [threading.Thread(target=self._read, args=(p,)) for p in self.procs]
        self.readers += [threading.Thread(target=self._errors, args=(p,)) for p in self.procs]
        for r in self.readers:
            r.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with self.cond:
                self.lines.append(line.strip())
                self.cond.notify_all()

    def _errors(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        self.errors.extend(proc.stderr)

    def wait_for(self, word: str, n: int, timeout: float = 120) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.lines.count(word) >= n, timeout)

    def finish(self) -> None:
        for p in self.procs:
            p.wait(timeout=120)
        for r in self.readers:
            r.join()
        for p in self.procs:
            assert p.returncode in (0, -signal.SIGKILL), "".join(self.errors)[-3000:]


@pytest.mark.parametrize("backend", ["redis", "postgres"])
def test_four_workers_under_a_user_budget_for_ten_calls(
    backend: str, request: pytest.FixtureRequest, gateway: LocalGateway
) -> None:
    url = request.getfixturevalue("redis_url" if backend == "redis" else "postgres_db_url")
    usd = _per_call(_policy(1.0), 100) * 10.5  # ten calls, not eleven
    gateway.add_fault("hang", model=MODEL, times=None, seconds=None)
    workers = Workers(4, [gateway.base_url, gateway.master_key or "", url, repr(usd)])
    try:
        assert gateway.wait_for_held(10, timeout=120)  # ten admitted, held at the gateway
        assert workers.wait_for("refused", 90)  # the 90 others refused, no request sent
        assert len(gateway.log) == 0  # nothing completed yet; 10 requests are held
    finally:
        gateway.release_holds()
        workers.finish()
    assert workers.lines.count("sent") == 10 and workers.lines.count("refused") == 90
    assert len(gateway.calls(model=MODEL, status=200)) == len(gateway.log) == 10
    with open_routing_state(url) as state:
        spent, held = state.budget_usage("user_id=alice")
    assert held == 0.0 and spent == pytest.approx(gateway.total_spend) and spent <= usd


def test_a_killed_worker_leaks_nothing_after_expiry(redis_url: str, gateway: LocalGateway) -> None:
    usd = _per_call(_policy(1.0), 100) * 10.5
    gateway.add_fault("hang", model=MODEL, times=None, seconds=None)
    workers = Workers(1, [gateway.base_url, gateway.master_key or "", redis_url, repr(usd)])
    try:
        assert gateway.wait_for_held(10, timeout=120)
        assert workers.wait_for("refused", 15)
        with open_routing_state(redis_url) as state:
            assert state.budget_usage("user_id=alice")[1] == pytest.approx(usd / 10.5 * 10)
        workers.procs[0].send_signal(signal.SIGKILL)  # dies holding ten reservations
        workers.procs[0].wait(timeout=30)
    finally:
        gateway.release_holds()
        workers.finish()
    later = time.time() + 601  # past the default reservation_ttl_s
    with open_routing_state(redis_url, clock=lambda: later) as state:
        assert state.budget_usage("user_id=alice") == (0.0, 0.0)
        rid, granted, _ = state.reserve("user_id=alice", usd, usd, usd, 60)
        assert rid is not None and granted == pytest.approx(usd)  # the whole budget is back
