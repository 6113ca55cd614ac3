"""The breaker gate of one routed call: reads the shared state, applies the pure decisions of
:mod:`langgraph_routing._health`, and reports outcomes back.

A :class:`~langgraph_routing._route.Route` holds one (or None when the policy says
``health: false``). Which candidates are open is decided by
:func:`~langgraph_routing._health.plan_candidates` from one snapshot read; the state is only
written to claim a half-open probe and to record an outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ._health import ModelHealth, breaker_state, plan_candidates
from ._specs import ErrorKind, HealthSpec
from .shared_state import SharedRoutingState, health_key

COUNTED = frozenset({ErrorKind.TRANSIENT, ErrorKind.RATE_LIMIT})
"""The failures a breaker counts (budget, auth, bad-request, context errors never do)."""


@dataclass
class HealthGate:
    """Breakers of one call's candidates, on one gateway, in one shared state."""

    state: SharedRoutingState
    spec: HealthSpec
    base_url: str
    skipped: list[dict[str, Any]] = field(default_factory=list)
    probes: list[str] = field(default_factory=list)

    def _key(self, model: str) -> str:
        return health_key(self.base_url, model)

    def surely_first(self, model: str) -> bool:
        """Whether a call goes to ``model`` with no read of the state: the listed order, and
        a breaker the state knows closed (``memory://`` knows; shared stores must read)."""
        return self.spec.order != "fastest" and self.state.surely_closed(self._key(model))

    def choose(self, candidates: Sequence[str]) -> tuple[str, list[str]]:
        """The first candidate whose breaker lets a call through (claiming a half-open probe
        when needed); when every one is open, the least recently failed. Returns the model
        and the notes for the routing record's reason."""
        keys = {m: self._key(m) for m in candidates}
        raw = self.state.snapshots(list(keys.values()))
        snaps = {m: raw[k] for m, k in keys.items() if k in raw}
        now = self.state.clock()
        plan = plan_candidates(self.spec, candidates, snaps, now)
        notes: list[str] = []
        for model, why in plan.skipped:
            self.skipped.append({"model": model, "why": why})
            notes.append(f"{model} skipped ({why})")
        for model in plan.usable:
            h = snaps.get(model) or ModelHealth()
            if breaker_state(self.spec, h, now) == "closed":
                if self.spec.order == "fastest" and model != candidates[0] and h.ewma_total_s:
                    notes.append(f"fastest healthy: {model} ({h.ewma_total_s * 1000:.0f} ms avg)")
                return model, notes
            if self.state.claim(keys[model], self.spec):
                self.probes.append(model)
                notes.append(f"{model} half-open: probe")
                return model, notes
            why = "half-open, probe already in flight"
            self.skipped.append({"model": model, "why": why})
            notes.append(f"{model} skipped ({why})")
        last = plan.fallback or min(
            candidates, key=lambda m: (snaps.get(m) or ModelHealth()).last_fail_at
        )
        notes.append(f"every candidate's breaker is open: trying the least recently failed, {last}")
        return last, notes

    def is_closed(self, model: str) -> bool:
        """Whether ``model``'s breaker is closed (calls go through without a probe)."""
        key = self._key(model)
        h = self.state.snapshots([key]).get(key) or ModelHealth()
        return breaker_state(self.spec, h, self.state.clock()) == "closed"

    def failed(self, model: str, kind: ErrorKind) -> bool:
        """Count a failure (transient and rate-limit only); True when the model's breaker is
        now open (its cooldown running)."""
        if kind not in COUNTED:
            return False
        h = self.state.record(self._key(model), self.spec, ok=False)
        return breaker_state(self.spec, h, self.state.clock()) == "open"

    def succeeded(self, model: str, total_s: float, ttft_s: float | None = None) -> None:
        """Count a success with its timings (total and, for streams, time to first token)."""
        self.state.record(self._key(model), self.spec, ok=True, total_s=total_s, ttft_s=ttft_s)

    def record(self) -> dict[str, Any]:
        """What the breakers did for this call (for ``response_metadata["routing"]``)."""
        return {
            "state": self.state.url,
            "skipped": [dict(s) for s in self.skipped],
            "probes": list(self.probes),
        }
