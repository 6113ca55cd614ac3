"""What every shared routing state offers: breaker and latency snapshots, atomic updates."""

from __future__ import annotations

import functools
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from .._health import ModelHealth
from .._specs import HealthSpec
from .._urls import redact_url

Clock = Callable[[], float]


@functools.lru_cache(maxsize=4096)
def health_key(base_url: str, model: str) -> str:
    """The key of one (gateway, model): ``"<base_url>|<model>"``.

    >>> health_key("http://127.0.0.1:4000/v1/", "gpt-4o")
    'http://127.0.0.1:4000/v1|gpt-4o'
    """
    return f"{base_url.rstrip('/')}|{model}"


def expiry_s(spec: HealthSpec) -> float:
    """How long an untouched snapshot is kept: ten windows or cooldowns, at least 10 minutes."""
    return max(600.0, 10 * max(spec.window_s, spec.cooldown_s))


def reserve_rule(limit_usd: float, spent: float, held: float, want: float, floor: float) -> float:
    """USD to reserve for a call (0: refused): all it wants when that is left, else what is
    left when that pays for its floor (pure).

    >>> reserve_rule(1.0, 0.5, 0.25, 0.125, 0.0625), reserve_rule(1.0, 0.5, 0.25, 0.5, 0.125)
    (0.125, 0.25)
    >>> reserve_rule(1.0, 0.5, 0.25, 0.5, 0.375)
    0.0
    """
    left = limit_usd - spent - held
    if want <= left:
        return want
    if floor <= left:
        return left
    return 0.0


def period_rolled(period_s: float | None, period_start: float, now: float) -> bool:
    """Whether a budget's spend starts again from 0 (its period is over)."""
    return bool(period_s) and now - period_start >= (period_s or 0)


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
    def reserve(
        self,
        scope: str,
        limit_usd: float,
        want_usd: float,
        floor_usd: float,
        ttl_s: float,
        period_s: float | None = None,
    ) -> tuple[str | None, float, float]:
        """Atomically admit a call to a scope's budget: ``(reservation id or None, USD
        reserved, USD that was left)``. It reserves ``want_usd`` when that is left, else what is
        left when that is at least ``floor_usd`` (the rule of :func:`reserve_rule`), else
        nothing. Expired reservations are dropped first."""

    @abstractmethod
    def settle(self, scope: str, reservation: str, cost_usd: float) -> None:
        """Atomically replace a reservation by what the call cost (0: released)."""

    @abstractmethod
    def budget_usage(self, scope: str) -> tuple[float, float]:
        """``(USD spent in the current period, USD held by live reservations)``."""

    def surely_closed(self, key: str) -> bool:
        """Whether ``key``'s breaker is known closed without a read (a fast path: False means
        "read the snapshot", never "open"). Shared stores must read, so they say False."""
        return False

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
        return f"{type(self).__name__}({redact_url(self.url)!r})"
