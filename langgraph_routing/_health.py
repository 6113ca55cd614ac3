"""Circuit breakers and latency per (gateway, model): the state, and pure decisions on it.

:class:`ModelHealth` is one model's snapshot as a shared routing state stores it. Every decision
is a pure function of (policy's :class:`HealthSpec`, snapshot, now): :func:`breaker_state`,
:func:`claim` (may this call go to the model, taking a half-open probe if needed),
:func:`record` (the snapshot after an outcome) and :func:`plan_candidates` (which candidates a
call may try, in which order, and why the others are skipped). The stores in
:mod:`langgraph_routing.shared_state` apply :func:`claim` and :func:`record` atomically (the
Redis store runs the same rules as a Lua script).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from ._specs import HealthSpec

BreakerState = Literal["closed", "open", "half_open"]


@dataclass
class ModelHealth:
    """One (gateway, model)'s breaker and latency statistics (0 means "never"/"none").

    Treated as a value: the rules below return new snapshots and never change one (it is not
    frozen only because a frozen dataclass is ten times slower to build, once per call).

    >>> h = ModelHealth()
    >>> breaker_state(HealthSpec(), h, now=100.0)
    'closed'
    """

    fails_in_row: int = 0
    win_start: float = 0.0
    win_calls: int = 0
    win_fails: int = 0
    opened_at: float = 0.0
    why: str = ""
    probes: int = 0
    probe_at: float = 0.0
    last_fail_at: float = 0.0
    last_ok_at: float = 0.0
    opens: int = 0
    samples: int = 0
    ewma_total_s: float = 0.0
    ewma_ttft_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ModelHealth:
        """From stored values (numbers may come back as strings, as Redis returns them)."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = data.get(f.name)
            if raw is None or raw == "":
                continue
            if isinstance(raw, bytes):
                raw = raw.decode()
            if f.type == "int":
                values[f.name] = int(float(raw))
            elif f.type == "float":
                values[f.name] = float(raw)
            else:
                values[f.name] = str(raw)
        return cls(**values)


def breaker_state(spec: HealthSpec, h: ModelHealth, now: float) -> BreakerState:
    """``closed`` (calls go through), ``open`` (skipped until the cooldown ends) or
    ``half_open`` (cooldown over: probes may go through)."""
    if not h.opened_at:
        return "closed"
    if now < h.opened_at + spec.cooldown_s:
        return "open"
    return "half_open"


def claim(spec: HealthSpec, h: ModelHealth, now: float) -> tuple[bool, ModelHealth]:
    """Whether a call may go to the model now, and the snapshot after it: a half-open breaker
    lets ``half_open_probes`` calls through at a time (a probe claim older than a cooldown is
    considered lost, e.g. its worker died).

    >>> spec = HealthSpec(cooldown_s=10, half_open_probes=1)
    >>> h = ModelHealth(opened_at=100.0)
    >>> claim(spec, h, 105.0)[0]                  # open: cooling down
    False
    >>> ok, h = claim(spec, h, 111.0); ok         # half-open: the one probe
    True
    >>> claim(spec, h, 111.5)[0]                  # the probe is in flight
    False
    """
    state = breaker_state(spec, h, now)
    if state == "closed":
        return True, h
    if state == "open":
        return False, h
    probes = h.probes if now - h.probe_at < max(spec.cooldown_s, 1.0) else 0
    if probes < spec.half_open_probes:
        return True, replace(h, probes=probes + 1, probe_at=now)
    return False, h


def record(
    spec: HealthSpec,
    h: ModelHealth,
    ok: bool,
    now: float,
    total_s: float | None = None,
    ttft_s: float | None = None,
) -> ModelHealth:
    """The snapshot after one counted outcome (a success, or a transient/rate-limit failure).

    >>> spec = HealthSpec(failure_threshold=2, cooldown_s=30)
    >>> h = record(spec, ModelHealth(), False, 1.0)
    >>> h = record(spec, h, False, 2.0)
    >>> breaker_state(spec, h, 3.0), h.why
    ('open', '2 consecutive failures')
    >>> h = record(spec, h, True, 40.0, total_s=0.5)   # a half-open probe answered
    >>> breaker_state(spec, h, 40.0), h.ewma_total_s
    ('closed', 0.5)
    """
    if not h.win_start or now - h.win_start >= spec.window_s:
        h = replace(h, win_start=now, win_calls=0, win_fails=0)
    calls = h.win_calls + 1
    if ok:
        samples = h.samples + 1 if total_s is not None else h.samples
        a = spec.latency_alpha
        ewma_total, ewma_ttft = h.ewma_total_s, h.ewma_ttft_s
        if total_s is not None:
            ewma_total = total_s if not h.ewma_total_s else a * total_s + (1 - a) * ewma_total
        if ttft_s is not None:
            ewma_ttft = ttft_s if not h.ewma_ttft_s else a * ttft_s + (1 - a) * ewma_ttft
        h = replace(
            h,
            fails_in_row=0,
            win_calls=calls,
            last_ok_at=now,
            samples=samples,
            ewma_total_s=ewma_total,
            ewma_ttft_s=ewma_ttft,
        )
        if h.opened_at:  # it answered: close, and judge it afresh
            h = replace(h, opened_at=0.0, why="", probes=0, win_start=now, win_calls=1, win_fails=0)
        return h
    fails = h.win_fails + 1
    in_row = h.fails_in_row + 1
    h = replace(h, fails_in_row=in_row, win_calls=calls, win_fails=fails, last_fail_at=now)
    if h.opened_at:
        if breaker_state(spec, h, now) != "open":  # a probe failed: another cooldown
            h = replace(h, opened_at=now, probes=0, opens=h.opens + 1, why="half-open probe failed")
        return h
    why = ""
    if in_row >= spec.failure_threshold:
        why = f"{in_row} consecutive failures"
    elif calls >= spec.min_calls and fails >= spec.failure_rate * calls:
        why = f"{fails}/{calls} calls failed in {spec.window_s:g}s"
    if why:
        h = replace(h, opened_at=now, probes=0, opens=h.opens + 1, why=why)
    return h


@dataclass(frozen=True)
class CandidatePlan:
    """Which candidates a call may try, in order, and why the others were skipped.

    ``fallback`` names the least recently failed candidate when every one is open (a call is
    never refused without a request)."""

    usable: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]
    fallback: str | None


def plan_candidates(
    spec: HealthSpec,
    candidates: Sequence[str],
    snapshots: Mapping[str, ModelHealth],
    now: float,
) -> CandidatePlan:
    """Order and filter ``candidates`` (listed order) by their breakers (pure).

    ``usable`` holds closed and half-open models (a half-open one still needs its probe
    claimed); under ``order: fastest`` they are sorted by measured total time.

    >>> spec = HealthSpec(cooldown_s=30)
    >>> snaps = {"a": ModelHealth(opened_at=90.0, why="5 consecutive failures", last_fail_at=95.0)}
    >>> plan = plan_candidates(spec, ["a", "b"], snaps, now=100.0)
    >>> plan.usable, plan.skipped
    (('b',), (('a', 'breaker open: 5 consecutive failures, 20s left'),))
    """
    usable: list[str] = []
    skipped: list[tuple[str, str]] = []
    for model in candidates:
        h = snapshots.get(model) or ModelHealth()
        if breaker_state(spec, h, now) == "open":
            left = h.opened_at + spec.cooldown_s - now
            skipped.append((model, f"breaker open: {h.why or 'failing'}, {left:.0f}s left"))
        else:
            usable.append(model)
    if spec.order == "fastest" and len(usable) > 1:
        measured = [m for m in usable if (snapshots.get(m) or ModelHealth()).ewma_total_s > 0]
        measured.sort(key=lambda m: snapshots[m].ewma_total_s)
        usable = measured + [m for m in usable if m not in measured]
    fallback = None
    if not usable and skipped:
        fallback = min(
            (m for m, _ in skipped),
            key=lambda m: snapshots[m].last_fail_at or snapshots[m].opened_at,
        )
    return CandidatePlan(tuple(usable), tuple(skipped), fallback)
