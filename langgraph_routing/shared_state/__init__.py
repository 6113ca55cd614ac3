"""Routing state shared by URL, as checkpointers are: breakers and latency per (gateway, model).

- ``memory://`` (default): one state per process, shared by every model in it.
- ``redis://host:port/db``: shared by every worker on that Redis (Lua scripts, key expiry).
- ``postgresql://...``: shared by every worker on that database (row locks, row expiry).

A :class:`~langgraph_routing.RoutingChatModel` picks its state with ``routing_state=`` (a URL
or a :class:`SharedRoutingState`), else the variable ``LANGGRAPH_ROUTING_STATE``, else
``memory://``.

>>> with open_routing_state("memory://") as state:
...     state.all_snapshots()
{}
"""

from __future__ import annotations

import os
import threading
from typing import Any

from .._health import ModelHealth, breaker_state
from .._specs import HealthSpec
from .._urls import redact_url
from ._base import Clock, SharedRoutingState, health_key
from ._memory import MemoryRoutingState

__all__ = [
    "STATE_ENV",
    "MemoryRoutingState",
    "ModelHealth",
    "SharedRoutingState",
    "health_key",
    "health_rows",
    "open_routing_state",
    "routing_state_for",
]

STATE_ENV = "LANGGRAPH_ROUTING_STATE"
_SCHEMES = ("memory://", "redis://", "rediss://", "postgresql://", "postgres://")
_shared: dict[tuple[int, str], SharedRoutingState] = {}
_lock = threading.Lock()
_pid = os.getpid()  # states are per process: a forked child opens its own


def _forked() -> None:
    global _pid
    _pid = os.getpid()


if hasattr(os, "register_at_fork"):  # POSIX only; elsewhere there is no fork
    os.register_at_fork(after_in_child=_forked)


def open_routing_state(url: str, *, clock: Clock | None = None) -> SharedRoutingState:
    """A new state object for ``url`` (close it, or use it as a context manager).

    ``memory://`` gives a fresh, private state; use :func:`routing_state_for` for the one a
    process shares."""
    if url.startswith("memory://"):
        return MemoryRoutingState(url, clock)
    if url.startswith(("redis://", "rediss://")):
        from ._redis import RedisRoutingState

        return RedisRoutingState(url, clock)
    if url.startswith(("postgresql://", "postgres://")):
        from ._postgres import PostgresRoutingState

        return PostgresRoutingState(url, clock)
    raise ValueError(
        f"routing state URL must start with one of {', '.join(_SCHEMES)}: {redact_url(url)!r}"
    )


def routing_state_for(state: str | SharedRoutingState | None) -> SharedRoutingState:
    """The state a model uses: the object given; else the process's shared state for the URL
    (``None``: ``$LANGGRAPH_ROUTING_STATE``, else ``memory://``), opened once per process."""
    if state is None:
        url = os.environ.get(STATE_ENV) or "memory://"
    elif isinstance(state, str):
        url = state or os.environ.get(STATE_ENV) or "memory://"
    else:
        return state
    key = (_pid, url)
    found = _shared.get(key)
    if found is not None:
        return found
    with _lock:
        found = _shared.get(key)
        if found is None:
            found = _shared[key] = open_routing_state(url)
        return found


def health_rows(
    state_url: str | None = None, spec: HealthSpec | None = None
) -> list[dict[str, Any]]:
    """Rows for ``langgraph-routing health``: one per (gateway, model) the state knows, with
    its breaker state, why it opened, failures, and latency EWMAs (ms).

    >>> health_rows("memory://")
    []
    """
    spec = spec or HealthSpec()
    state = routing_state_for(state_url)
    now = state.clock()
    rows: list[dict[str, Any]] = []
    for key, h in sorted(state.all_snapshots().items()):
        gateway, _, model = key.rpartition("|")
        status = breaker_state(spec, h, now)
        rows.append(
            {
                "gateway": gateway,
                "model": model,
                "state": status,
                "why": h.why or None,
                "reopens_in_s": (
                    round(h.opened_at + spec.cooldown_s - now, 1) if status == "open" else None
                ),
                "failures_in_row": h.fails_in_row,
                "window_calls": h.win_calls,
                "window_failures": h.win_fails,
                "times_opened": h.opens,
                "ewma_total_ms": round(h.ewma_total_s * 1000, 1) if h.samples else None,
                "ewma_ttft_ms": round(h.ewma_ttft_s * 1000, 1) if h.ewma_ttft_s else None,
                "calls_measured": h.samples,
            }
        )
    return rows
