"""Circuit breakers per (gateway, model), through real HTTP on LocalGateway.

The breaker state lives in a ``MemoryRoutingState`` whose clock the test moves (cooldowns are
wall-time rules; the test advances time instead of sleeping).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.tracers.base import BaseTracer
from langchain_core.tracers.schemas import Run

from langgraph_routing import RoutesExhaustedError, RoutingChatModel, RoutingPolicy
from langgraph_routing._policy import HealthSpec
from langgraph_routing.shared_state import MemoryRoutingState, health_key, health_rows
from langgraph_routing.testing import LocalGateway

DEAD = "gpt-4o-mini"
SPARE = "claude-3-5-haiku-20241022"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _model(gw: LocalGateway, state: Any, policy: RoutingPolicy | None = None) -> RoutingChatModel:
    return RoutingChatModel(
        policy=policy or RoutingPolicy.default(),
        base_url=gw.base_url,
        api_key=gw.master_key,
        routing_state=state,
        task="tool_select",
    )


def test_dead_model_is_skipped_after_the_threshold(gateway: LocalGateway) -> None:
    clock = Clock()
    state = MemoryRoutingState(clock=clock)
    gateway.add_fault("server_error", model=DEAD, times=None)
    model = _model(gateway, state)
    probes = 0
    served: set[str] = set()
    for _ in range(1000):
        clock.now += 0.1  # 100 s of traffic: three cooldowns of 30 s end during the run
        routing = model.invoke("hi").response_metadata["routing"]
        served.add(routing["model"])
        probes += len(routing["health"]["probes"])
    spec = RoutingPolicy.default().health
    assert spec is not None
    dead_requests = gateway.calls(model=DEAD)
    assert all(r.status == 500 for r in dead_requests)  # the fault fired on each of them
    assert 1 <= probes <= 4
    assert len(dead_requests) == spec.failure_threshold + probes
    assert len(dead_requests) <= spec.failure_threshold + spec.half_open_probes * 4
    assert served == {SPARE}
    assert len(gateway.calls(model=SPARE, status=200)) == 1000


def test_routing_record_and_reason_say_why(gateway: LocalGateway) -> None:
    state = MemoryRoutingState(clock=Clock())
    gateway.add_fault("server_error", model=DEAD, times=None)
    model = _model(gateway, state)
    for _ in range(5):
        first = model.invoke("hi").response_metadata["routing"]
    assert [a["model"] for a in first["attempts"]] == [DEAD, SPARE]
    assert "gpt-4o-mini breaker opened" not in first["reason"]  # transient: no retry to skip
    routing = model.invoke("hi").response_metadata["routing"]
    assert routing["model"] == SPARE
    assert [a["model"] for a in routing["attempts"]] == [SPARE]
    assert routing["health"]["skipped"] == [
        {"model": DEAD, "why": "breaker open: 5 consecutive failures, 30s left"}
    ]
    assert f"{DEAD} skipped (breaker open: 5 consecutive failures" in routing["reason"]
    rows = {r["model"]: r for r in health_rows(state)}
    assert rows[DEAD]["state"] == "open" and rows[DEAD]["failures_in_row"] == 5
    assert rows[SPARE]["state"] == "closed" and rows[SPARE]["calls_measured"] == 6


def test_half_open_probe_recovers_and_a_failed_probe_reopens(gateway: LocalGateway) -> None:
    clock = Clock()
    state = MemoryRoutingState(clock=clock)
    fault = gateway.add_fault("server_error", model=DEAD, times=None)
    model = _model(gateway, state)
    for _ in range(5):
        model.invoke("hi")
    assert fault.fired == 5
    clock.now += 31  # cooldown over: one probe, which fails and falls back in the same call
    routing = model.invoke("hi").response_metadata["routing"]
    assert routing["health"]["probes"] == [DEAD]
    assert [a["model"] for a in routing["attempts"]] == [DEAD, SPARE]
    snap = state.snapshots([health_key(gateway.base_url, DEAD)])
    assert snap[health_key(gateway.base_url, DEAD)].why == "half-open probe failed"
    assert model.invoke("hi").response_metadata["routing"]["model"] == SPARE  # open again
    assert fault.fired == 6

    gateway.clear_faults()
    clock.now += 31
    probe = model.invoke("hi").response_metadata["routing"]
    assert probe["model"] == DEAD and probe["health"]["probes"] == [DEAD]
    after = model.invoke("hi").response_metadata["routing"]
    assert after["model"] == DEAD and after["health"] == {
        "state": "memory://",
        "skipped": [],
        "probes": [],
    }
    assert len(gateway.calls(model=DEAD, status=200)) == 2


@pytest.mark.parametrize("kind", ["auth_error", "budget_exceeded", "context_overflow"])
def test_only_transient_and_rate_limit_failures_count(gateway: LocalGateway, kind: str) -> None:
    state = MemoryRoutingState(clock=Clock())
    fault = gateway.add_fault(kind, model=DEAD, times=None)
    model = _model(gateway, state)
    for _ in range(8):
        if kind == "context_overflow":  # upgraded to gpt-4o, which answers
            assert model.invoke("hi").response_metadata["routing"]["model"] == "gpt-4o"
        else:
            with pytest.raises(Exception):  # noqa: B017 - each kind raises its own error
                model.invoke("hi")
    assert fault.fired == 8
    assert len(gateway.calls(model=DEAD)) == 8  # never skipped
    assert health_key(gateway.base_url, DEAD) not in state.all_snapshots()


def test_rate_limits_count_and_stop_the_retries(gateway: LocalGateway) -> None:
    state = MemoryRoutingState(clock=Clock())
    policy = RoutingPolicy.default().updated(
        {"health": {"failure_threshold": 2}, "retry": {"initial_delay_s": 0, "max_attempts": 5}}
    )
    gateway.add_fault("rate_limit", model=DEAD, times=None, retry_after=0)
    routing = _model(gateway, state, policy).invoke("hi").response_metadata["routing"]
    # the second 429 opens the breaker: no third retry on the same model
    assert [a["model"] for a in routing["attempts"]] == [DEAD, DEAD, SPARE]
    assert f"{DEAD} breaker opened" in routing["reason"]
    assert len(gateway.calls(model=DEAD, status=429)) == 2


def test_every_candidate_open_still_tries_the_least_recently_failed(
    gateway: LocalGateway,
) -> None:
    clock = Clock()
    state = MemoryRoutingState(clock=clock)
    policy = RoutingPolicy.default().updated({"health": {"failure_threshold": 1}})
    gateway.add_fault("server_error", model=DEAD, times=None)
    gateway.add_fault("server_error", model=SPARE, times=None)
    model = _model(gateway, state, policy)
    with pytest.raises(RoutesExhaustedError):
        model.invoke("hi")
    clock.now += 1
    before = len(gateway.log)
    with pytest.raises(RoutesExhaustedError) as info:
        model.invoke("hi")
    assert len(gateway.log) == before + 2  # both still tried, oldest failure first
    routing = info.value.routing  # type: ignore[attr-defined]
    assert [a["model"] for a in routing["attempts"]] == [DEAD, SPARE]
    assert (
        f"every candidate's breaker is open: trying the least recently failed, {DEAD}"
        in (routing["reason"])
    )


def test_health_false_turns_breakers_off(gateway: LocalGateway, tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(
        "models:\n  a: {context_window: 1000, max_output_tokens: 100, input_per_million: 1, "
        "output_per_million: 1}\ntasks:\n  tool_select: {model: a}\nhealth: false\n"
    )
    assert RoutingPolicy.from_file(path).health is None
    assert RoutingPolicy.default().updated({"health": True}).health == HealthSpec()
    policy = RoutingPolicy.default().updated({"health": False})
    assert policy.health is None
    state = MemoryRoutingState(clock=Clock())
    gateway.add_fault("server_error", model=DEAD, times=None)
    model = _model(gateway, state, policy)
    for _ in range(12):
        routing = model.invoke("hi").response_metadata["routing"]
    assert routing["health"] is None
    assert len(gateway.calls(model=DEAD)) == 12
    assert state.all_snapshots() == {}


def test_trace_metadata_names_skipped_models(gateway: LocalGateway) -> None:
    class Capture(BaseTracer):
        def __init__(self) -> None:
            super().__init__()
            self.llm_runs: list[Run] = []

        def _persist_run(self, run: Run) -> None:
            pass

        def _on_llm_end(self, run: Run) -> None:
            self.llm_runs.append(run)

    state = MemoryRoutingState(clock=Clock())
    gateway.add_fault("server_error", model=DEAD, times=None)
    model = _model(gateway, state)
    for _ in range(5):
        model.invoke("hi")
    tracer = Capture()
    model.invoke("hi", config={"callbacks": [tracer]})
    meta = tracer.llm_runs[-1].extra["metadata"]
    assert meta["routing_health_skipped"] == [DEAD]
    assert meta["routing_model"] == SPARE and meta["routing_health_probes"] == []


def test_fastest_order_puts_measured_fast_models_first() -> None:
    from langgraph_routing._health import ModelHealth, plan_candidates

    spec = HealthSpec(order="fastest")
    snaps = {
        "a": ModelHealth(ewma_total_s=0.9, samples=3),
        "b": ModelHealth(ewma_total_s=0.2, samples=3),
        "d": ModelHealth(opened_at=99.0, why="x", last_fail_at=99.0),
    }
    plan = plan_candidates(spec, ["a", "c", "b", "d"], snaps, now=100.0)
    assert plan.usable == ("b", "a", "c") and [m for m, _ in plan.skipped] == ["d"]
    listed = plan_candidates(HealthSpec(), ["a", "c", "b"], snaps, now=100.0)
    assert listed.usable == ("a", "c", "b")


def test_failure_rate_opens_without_consecutive_failures() -> None:
    from langgraph_routing._health import ModelHealth, breaker_state, record

    spec = HealthSpec(failure_threshold=100, failure_rate=0.5, min_calls=10, window_s=60)
    h, now = ModelHealth(), 1000.0
    for i in range(9):
        h = record(spec, h, ok=i % 2 == 0, now=now + i)
    assert breaker_state(spec, h, now + 9) == "closed"  # 4 of 9: under the minimum of calls
    h = record(spec, h, ok=False, now=now + 9)
    assert breaker_state(spec, h, now + 9) == "open" and h.why == "5/10 calls failed in 60s"
    fresh = record(spec, ModelHealth(win_start=now, win_calls=9, win_fails=4), False, now + 61)
    assert fresh.win_calls == 1 and breaker_state(spec, fresh, now + 61) == "closed"  # new window


def test_fastest_order_routes_to_the_measured_faster_fallback(gateway: LocalGateway) -> None:
    state = MemoryRoutingState(clock=Clock())
    policy = RoutingPolicy.default().updated({"health": {"order": "fastest"}})
    model = _model(gateway, state, policy)
    spec = policy.health
    assert spec is not None
    state.record(health_key(gateway.base_url, DEAD), spec, ok=True, total_s=2.0)
    state.record(health_key(gateway.base_url, SPARE), spec, ok=True, total_s=0.01)
    routing = model.invoke("hi").response_metadata["routing"]
    assert routing["model"] == SPARE and routing["requested_model"] == DEAD
    assert routing["reason"].endswith(f"fastest healthy: {SPARE} (10 ms avg) -> {SPARE}")
    assert len(gateway.calls(model=SPARE)) == 1 and not gateway.calls(model=DEAD)


def test_memory_state_knows_closed_breakers_without_a_read() -> None:
    """The per-call fast path (no snapshot read, no chain built) holds only while the breaker
    is closed: opening, a half-open probe's answer, expiry and clear() all move it."""
    clock = Clock()
    state = MemoryRoutingState(clock=clock)
    spec = HealthSpec(failure_threshold=2, cooldown_s=30)
    key = health_key("http://127.0.0.1:1/v1", DEAD)
    assert state.surely_closed(key)
    state.record(key, spec, ok=False)
    assert state.surely_closed(key)  # one failure: still closed
    state.record(key, spec, ok=False)
    assert not state.surely_closed(key)  # open: callers read the snapshot and skip it
    clock.now += 31
    assert state.claim(key, spec)  # half-open: the probe goes through, still not "surely"
    assert not state.surely_closed(key)
    state.record(key, spec, ok=True, total_s=0.1)
    assert state.surely_closed(key)
    state.record(key, spec, ok=False)
    state.record(key, spec, ok=False)
    snapshot = state.all_snapshots()[key]
    snapshot.opened_at = 0.0  # a caller changing its copy changes nothing stored
    assert not state.surely_closed(key) and state.snapshots([key])[key].opened_at
    from langgraph_routing.shared_state._base import expiry_s

    clock.now += expiry_s(spec) + 1  # the open snapshot expired: read as closed, then known
    assert state.snapshots([key]) == {} and not state.surely_closed(key)
    state.record(key, spec, ok=True, total_s=0.1)
    assert state.surely_closed(key)
    state.record(key, spec, ok=False)
    state.record(key, spec, ok=False)
    state.clear()
    assert state.surely_closed(key)


def test_a_routing_state_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(ValueError, match=r"routing_state must be a URL .* not int"):
        RoutingChatModel(base_url="http://127.0.0.1:1/v1", api_key="k", routing_state=42)
