"""What every shared routing state offers: breaker and latency snapshots, atomic updates."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from .._health import ModelHealth
from .._specs import HealthSpec

Clock = Callable[[], float]


def health_key(base_url: str, model: str) -> str:
    """The key of one (gateway, model): ``"<base_url>|<model>"``.

    >>> health_key("http://127.0.0.1:4000/v1/", "gpt-4o")
    'http://127.0.0.1:4000/v1|gpt-4o'
    """
    return f"{base_url.rstrip('/')}|{model}"


def expiry_s(spec: HealthSpec) -> float:
    """How long an untouched snapshot is kept: ten windows or cooldowns, at least 10 minutes."""
    return max(600.0, 10 * max(spec.window_s, spec.cooldown_s))


class SharedRoutingState(ABC):
    """A store of routing state shared by every model (and worker) that opens the same URL.

    Reads are snapshots; :meth:`claim` and :meth:`record` are atomic read-modify-writes that
    apply the pure rules of :mod:`langgraph_routing._health`. ``clock`` gives "now" (wall
    time, so that processes agree; tests may pass their own)."""

    url: str = ""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or time.time

    @abstractmethod
    def snapshots(self, keys: Sequence[str]) -> dict[str, ModelHealth]:
        """The current snapshot of each key that has one (expired ones are absent)."""

    @abstractmethod
    def claim(self, key: str, spec: HealthSpec) -> bool:
        """Atomically: may a call go to ``key`` now (taking a half-open probe if needed)?"""

    @abstractmethod
    def record(
        self,
        key: str,
        spec: HealthSpec,
        ok: bool,
        total_s: float | None = None,
        ttft_s: float | None = None,
    ) -> ModelHealth:
        """Atomically apply one counted outcome; return the new snapshot."""

    @abstractmethod
    def all_snapshots(self) -> dict[str, ModelHealth]:
        """Every live snapshot (for ``langgraph-routing health``)."""

    @abstractmethod
    def clear(self) -> None:
        """Forget every snapshot this state holds."""

    def close(self) -> None:
        """Release connections (the memory state has none)."""
        return None

    def __enter__(self) -> SharedRoutingState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"
