"""``memory://``: routing state shared by the models of one process."""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from .._health import ModelHealth, claim, record
from .._specs import HealthSpec
from ._base import Clock, SharedRoutingState, expiry_s, period_rolled, reserve_rule


@dataclass
class _Budget:
    spent: float = 0.0
    period_start: float = 0.0
    held: dict[str, tuple[float, float]] = field(default_factory=dict)  # id -> (usd, expires)

    def live(self, now: float) -> float:
        self.held = {k: v for k, v in self.held.items() if v[1] > now}
        return math.fsum(v[0] for v in self.held.values())


class MemoryRoutingState(SharedRoutingState):
    """A dict under a lock; entries expire like the shared stores' do.

    >>> from langgraph_routing._specs import HealthSpec
    >>> state = MemoryRoutingState(clock=lambda: 100.0)
    >>> spec = HealthSpec(failure_threshold=1)
    >>> state.record("gw|m", spec, ok=False).why
    '1 consecutive failures'
    >>> state.claim("gw|m", spec)
    False
    """

    def __init__(self, url: str = "memory://", clock: Clock | None = None) -> None:
        super().__init__(clock)
        self.url = url
        self._lock = threading.Lock()
        self._data: dict[str, tuple[ModelHealth, float]] = {}
        self._budgets: dict[str, _Budget] = {}
        self._opened: set[str] = set()  # keys whose breaker has opened (until they close)

    def _put(self, key: str, h: ModelHealth, until: float) -> None:
        self._data[key] = (h, until)
        if h.opened_at:
            self._opened.add(key)
        else:
            self._opened.discard(key)

    def surely_closed(self, key: str) -> bool:
        return key not in self._opened  # a set read: no lock needed under the GIL

    def _get(self, key: str, now: float) -> ModelHealth:
        found = self._data.get(key)
        if found is None or found[1] <= now:
            return ModelHealth()
        return found[0]

    def snapshots(self, keys: Sequence[str]) -> dict[str, ModelHealth]:
        now = self.clock()
        with self._lock:
            found = {k: self._data.get(k) for k in keys}
            return {k: replace(v[0]) for k, v in found.items() if v is not None and v[1] > now}

    def claim(self, key: str, spec: HealthSpec) -> bool:
        now = self.clock()
        with self._lock:
            old = self._get(key, now)
            allowed, h = claim(spec, old, now)
            if h is not old:
                self._put(key, h, now + expiry_s(spec))
            return allowed

    def record(
        self,
        key: str,
        spec: HealthSpec,
        ok: bool,
        total_s: float | None = None,
        ttft_s: float | None = None,
    ) -> ModelHealth:
        now = self.clock()
        with self._lock:
            h = record(spec, self._get(key, now), ok, now, total_s, ttft_s)
            self._put(key, h, now + expiry_s(spec))
            if len(self._data) > 10_000:  # bounded: drop expired entries
                self._data = {k: v for k, v in self._data.items() if v[1] > now}
                self._opened &= self._data.keys()
            return h

    def _budget(self, scope: str, period_s: float | None, now: float) -> _Budget:
        b = self._budgets.setdefault(scope, _Budget(period_start=now))
        if period_rolled(period_s, b.period_start, now):
            b.spent, b.period_start = 0.0, now
        return b

    def reserve(
        self,
        scope: str,
        limit_usd: float,
        want_usd: float,
        floor_usd: float,
        ttl_s: float,
        period_s: float | None = None,
    ) -> tuple[str | None, float, float]:
        now = self.clock()
        with self._lock:
            b = self._budget(scope, period_s, now)
            held = b.live(now)
            granted = reserve_rule(limit_usd, b.spent, held, want_usd, floor_usd)
            if not granted:
                return None, 0.0, limit_usd - b.spent - held
            rid = uuid.uuid4().hex
            b.held[rid] = (granted, now + ttl_s)
            return rid, granted, limit_usd - b.spent - held

    def settle(self, scope: str, reservation: str, cost_usd: float) -> None:
        with self._lock:
            b = self._budgets.setdefault(scope, _Budget(period_start=self.clock()))
            b.held.pop(reservation, None)
            b.spent += cost_usd

    def budget_usage(self, scope: str) -> tuple[float, float]:
        now = self.clock()
        with self._lock:
            b = self._budgets.get(scope)
            if b is None:
                return 0.0, 0.0
            return b.spent, b.live(now)

    def all_snapshots(self) -> dict[str, ModelHealth]:
        now = self.clock()
        with self._lock:
            # copies: a snapshot is a value, the stored ones are this state's
            return {k: replace(v) for k, (v, until) in self._data.items() if until > now}

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._opened.clear()
            self._budgets.clear()
