"""Shared routing state by URL: memory, Redis (Lua) and Postgres (row locks) apply the same
breaker rules atomically, expire what is left untouched, and workers sharing a URL honour each
other's breakers (real subprocesses, real HTTP on LocalGateway)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from langgraph_routing import RoutingChatModel
from langgraph_routing._health import ModelHealth, claim, record
from langgraph_routing._policy import HealthSpec
from langgraph_routing.shared_state import (
    SharedRoutingState,
    health_key,
    health_rows,
    open_routing_state,
)
from langgraph_routing.testing import LocalGateway

ROOT = Path(__file__).resolve().parents[1]
SPEC = HealthSpec(failure_threshold=3, failure_rate=0.5, min_calls=4, window_s=10, cooldown_s=5)


class Clock:
    def __init__(self) -> None:
        self.now = 2_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis", "postgres"])
def state_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    if request.param == "redis":
        url: str = request.getfixturevalue("redis_url")
        return url
    url = request.getfixturevalue("postgres_db_url")
    return url


@pytest.fixture
def clocked(state_url: str) -> Iterator[tuple[SharedRoutingState, Clock]]:
    clock = Clock()
    with open_routing_state(state_url, clock=clock) as state:
        yield state, clock


# (ok, seconds later, total_s) outcomes that go through every rule: rate over a window, a
# window restart, consecutive failures, the cooldown, a failed probe, a recovering probe
SCRIPT = [
    (True, 0, 0.2), (False, 1, None), (True, 1, 0.4), (False, 1, None), (False, 1, None),
    (True, 11, 0.1), (False, 1, None), (False, 1, None), (False, 1, None),
    (False, 6, None), (True, 6, 0.3), (True, 1, 0.5),
]  # fmt: skip


def _replay_pure() -> list[ModelHealth]:
    now, h, out = Clock().now, ModelHealth(), []
    for ok, later, total in SCRIPT:
        now += later
        h = record(SPEC, h, ok, now, total)
        out.append(h)
    return out


def test_every_backend_applies_the_pure_rules(
    clocked: tuple[SharedRoutingState, Clock],
) -> None:
    state, clock = clocked
    key = health_key("http://127.0.0.1:1/v1", "m")
    seen = []
    for ok, later, total in SCRIPT:
        clock.now += later
        seen.append(state.record(key, SPEC, ok, total))
    expected = _replay_pure()
    whys = [h.why for h in expected]
    assert whys[3] == "2/4 calls failed in 10s"  # the script opens by rate,
    assert whys[8] == "3 consecutive failures"  # by failures in a row,
    assert whys[9] == "half-open probe failed" and expected[-1].opens == 3  # and on a probe
    assert seen == expected
    assert state.snapshots([key, "unknown"]) == {key: expected[-1]}


def test_half_open_probes_are_claimed_atomically(state_url: str) -> None:
    clock = Clock()
    spec = HealthSpec(failure_threshold=1, cooldown_s=5, half_open_probes=2)
    key = health_key("http://127.0.0.1:1/v1", "m")
    states = [open_routing_state(state_url, clock=clock) for _ in range(8)]
    if state_url.startswith("memory"):
        states = [states[0]] * 8  # one process-wide dict
    try:
        states[0].record(key, spec, ok=False)
        assert not states[0].claim(key, spec)  # open
        clock.now += 6
        barrier = threading.Barrier(8)
        results: list[bool] = []

        def worker(state: SharedRoutingState) -> None:
            barrier.wait()
            results.append(state.claim(key, spec))

        threads = [threading.Thread(target=worker, args=(s,)) for s in states]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [False] * 6 + [True] * 2
        assert states[0].snapshots([key])[key].probes == 2
        clock.now += 5  # a probe claim older than a cooldown is lost (its worker died)
        assert states[0].claim(key, spec)
    finally:
        for s in set(states):
            s.close()


def test_untouched_state_expires(clocked: tuple[SharedRoutingState, Clock]) -> None:
    state, clock = clocked
    key = health_key("http://127.0.0.1:1/v1", "m")
    state.record(key, SPEC, ok=False)
    assert state.snapshots([key])[key].fails_in_row == 1
    assert [r["model"] for r in health_rows(state, SPEC)] == ["m"]
    clock.now += 601  # SPEC keeps state 600 s
    assert state.snapshots([key]) == {}
    assert state.all_snapshots() == {}
    assert state.record(key, SPEC, ok=False).fails_in_row == 1  # a fresh start


def test_redis_keys_carry_an_expiry(redis_url: str) -> None:
    import redis

    with open_routing_state(redis_url) as state:
        state.record(health_key("http://127.0.0.1:1/v1", "m"), SPEC, ok=True, total_s=0.1)
    with redis.Redis.from_url(redis_url) as client:
        (key,) = client.keys("lgr:health:*")
        assert 0 < client.pttl(key) <= 600_000


_WORKER = """
import json, sys
from langgraph_routing import RoutingChatModel
base_url, key, state = sys.argv[1:4]
model = RoutingChatModel(base_url=base_url, api_key=key, routing_state=state, task="tool_select")
print(json.dumps(model.invoke("hi").response_metadata["routing"]))
"""


def _other_process(gw: LocalGateway, state_url: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _WORKER, gw.base_url, gw.master_key or "", state_url],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    routing: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return routing


@pytest.mark.parametrize("backend", ["redis", "postgres"])
def test_a_breaker_opened_in_one_process_is_honoured_by_another(
    backend: str, request: pytest.FixtureRequest, gateway: LocalGateway
) -> None:
    url = request.getfixturevalue("redis_url" if backend == "redis" else "postgres_db_url")
    dead = "gpt-4o-mini"
    gateway.add_fault("server_error", model=dead, times=None)
    with open_routing_state(url) as state:
        model = RoutingChatModel(
            base_url=gateway.base_url,
            api_key=gateway.master_key,
            routing_state=state,
            task="tool_select",
        )
        for _ in range(5):
            model.invoke("hi")
        assert len(gateway.calls(model=dead)) == 5
        routing = _other_process(gateway, url)
    assert routing["model"] == "claude-3-5-haiku-20241022"
    assert routing["health"] == {
        "state": url,
        "skipped": [{"model": dead, "why": routing["health"]["skipped"][0]["why"]}],  # type: ignore[index]
        "probes": [],
    }
    assert len(gateway.calls(model=dead)) == 5  # the other worker sent it nothing


def test_open_routing_state_refuses_unknown_schemes() -> None:
    with pytest.raises(ValueError, match="routing state URL must start with"):
        open_routing_state("sqlite:///x.db")


def test_pure_claim_keeps_a_closed_breaker_unchanged() -> None:
    h = ModelHealth(win_calls=3)
    allowed, after = claim(SPEC, h, 1.0)
    assert allowed and after is h


def test_state_reprs_and_errors_hide_passwords() -> None:
    pytest.importorskip("redis")
    with open_routing_state("redis://:hunter2secret@127.0.0.1:1/0") as state:  # lazy: no connect
        assert "hunter2secret" not in repr(state)
        assert "127.0.0.1:1" in repr(state)
    with pytest.raises(ValueError, match="routing state URL") as info:
        open_routing_state("mysql://me:hunter2secret@db/x")
    assert "hunter2secret" not in str(info.value)
