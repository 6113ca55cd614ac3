"""``memory://``: routing state shared by the models of one process."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from .._health import ModelHealth, claim, record
from .._specs import HealthSpec
from ._base import Clock, SharedRoutingState, expiry_s


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

    def _get(self, key: str, now: float) -> ModelHealth:
        found = self._data.get(key)
        if found is None or found[1] <= now:
            return ModelHealth()
        return found[0]

    def snapshots(self, keys: Sequence[str]) -> dict[str, ModelHealth]:
        now = self.clock()
        with self._lock:
            return {k: v for k in keys if (v := self._get(k, now)) != ModelHealth()}

    def claim(self, key: str, spec: HealthSpec) -> bool:
        now = self.clock()
        with self._lock:
            old = self._get(key, now)
            allowed, h = claim(spec, old, now)
            if h is not old:
                self._data[key] = (h, now + expiry_s(spec))
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
            self._data[key] = (h, now + expiry_s(spec))
            if len(self._data) > 10_000:  # bounded: drop expired entries
                self._data = {k: v for k, v in self._data.items() if v[1] > now}
            return h

    def all_snapshots(self) -> dict[str, ModelHealth]:
        now = self.clock()
        with self._lock:
            return {k: v for k, (v, until) in self._data.items() if until > now}

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
