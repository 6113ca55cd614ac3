"""``postgresql://``: routing state shared by every worker using one PostgreSQL database.

One row per (gateway, model) in ``langgraph_routing_health`` (created on first use, under an
advisory lock so that workers starting together do not race). :meth:`claim` and :meth:`record`
lock the row (``SELECT ... FOR UPDATE``) and apply the pure rules of
:mod:`langgraph_routing._health` in one transaction. Rows carry an expiry; expired rows read as
absent and are deleted by later writes. Needs ``pip install 'langgraph-routing[postgres]'``.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from .._health import ModelHealth, claim, record
from .._specs import HealthSpec
from ._base import Clock, SharedRoutingState, expiry_s, period_rolled, reserve_rule

TABLE = "langgraph_routing_health"
_SETUP_LOCK = 0x6C67725F68  # advisory lock id ("lgr_h")
_SETUP = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    key text PRIMARY KEY,
    state jsonb NOT NULL,
    expires_at double precision NOT NULL
);
CREATE TABLE IF NOT EXISTS langgraph_routing_budget (
    scope text PRIMARY KEY,
    spent double precision NOT NULL DEFAULT 0,
    period_start double precision NOT NULL
);
CREATE TABLE IF NOT EXISTS langgraph_routing_reservation (
    id text PRIMARY KEY,
    scope text NOT NULL,
    usd double precision NOT NULL,
    expires_at double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS langgraph_routing_reservation_scope
    ON langgraph_routing_reservation (scope, expires_at)
"""


class PostgresRoutingState(SharedRoutingState):
    """Routing state in PostgreSQL (``postgresql://user@host:port/db``)."""

    def __init__(self, url: str, clock: Clock | None = None) -> None:
        super().__init__(clock)
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError(
                "postgresql:// routing state needs psycopg: "
                "pip install 'langgraph-routing[postgres]'"
            ) from exc
        self.url = url
        self._lock = threading.Lock()
        self._conn: Any = psycopg.connect(url, autocommit=True, connect_timeout=10)
        with self._lock, self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SETUP_LOCK,))
            self._conn.execute(_SETUP)

    def snapshots(self, keys: Sequence[str]) -> dict[str, ModelHealth]:
        if not keys:
            return {}
        with self._lock:
            rows = self._conn.execute(
                f"SELECT key, state FROM {TABLE} WHERE key = ANY(%s) AND expires_at > %s",
                (list(keys), self.clock()),
            ).fetchall()
        return {key: ModelHealth.from_mapping(state) for key, state in rows}

    def _update(
        self, key: str, spec: HealthSpec, change: Callable[[ModelHealth, float], ModelHealth]
    ) -> tuple[ModelHealth, ModelHealth]:
        """Lock the row, apply ``change`` (pure), write it back; (before, after)."""
        now = self.clock()
        with self._lock, self._conn.transaction():
            self._conn.execute(
                f"INSERT INTO {TABLE} (key, state, expires_at) VALUES (%s, '{{}}', 0) "
                "ON CONFLICT (key) DO NOTHING",
                (key,),
            )
            state, expires = self._conn.execute(
                f"SELECT state, expires_at FROM {TABLE} WHERE key = %s FOR UPDATE", (key,)
            ).fetchone()
            before = ModelHealth.from_mapping(state) if expires > now else ModelHealth()
            after = change(before, now)
            if after is not before:
                self._conn.execute(
                    f"UPDATE {TABLE} SET state = %s::jsonb, expires_at = %s WHERE key = %s",
                    (json.dumps(after.to_dict()), now + expiry_s(spec), key),
                )
        return before, after

    def claim(self, key: str, spec: HealthSpec) -> bool:
        allowed: list[bool] = []

        def change(h: ModelHealth, now: float) -> ModelHealth:
            ok, new = claim(spec, h, now)
            allowed.append(ok)
            return new

        self._update(key, spec, change)
        return allowed[0]

    def record(
        self,
        key: str,
        spec: HealthSpec,
        ok: bool,
        total_s: float | None = None,
        ttft_s: float | None = None,
    ) -> ModelHealth:
        before, after = self._update(
            key, spec, lambda h, now: record(spec, h, ok, now, total_s, ttft_s)
        )
        if after.opens > before.opens:  # a breaker opened (rare): clean up expired rows
            with self._lock:
                self._conn.execute(f"DELETE FROM {TABLE} WHERE expires_at < %s", (self.clock(),))
        return after

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
        with self._lock, self._conn.transaction():
            c = self._conn
            c.execute(
                "INSERT INTO langgraph_routing_budget (scope, period_start) VALUES (%s, %s) "
                "ON CONFLICT (scope) DO NOTHING",
                (scope, now),
            )
            spent, start = c.execute(
                "SELECT spent, period_start FROM langgraph_routing_budget WHERE scope = %s "
                "FOR UPDATE",
                (scope,),
            ).fetchone()
            if period_rolled(period_s, start, now):
                spent = 0.0
                c.execute(
                    "UPDATE langgraph_routing_budget SET spent = 0, period_start = %s "
                    "WHERE scope = %s",
                    (now, scope),
                )
            c.execute(
                "DELETE FROM langgraph_routing_reservation WHERE scope = %s AND expires_at <= %s",
                (scope, now),
            )
            (held,) = c.execute(
                "SELECT COALESCE(SUM(usd), 0) FROM langgraph_routing_reservation WHERE scope = %s",
                (scope,),
            ).fetchone()
            granted = reserve_rule(limit_usd, spent, held, want_usd, floor_usd)
            left = limit_usd - spent - held
            if not granted:
                return None, 0.0, left
            rid = uuid.uuid4().hex
            c.execute(
                "INSERT INTO langgraph_routing_reservation (id, scope, usd, expires_at) "
                "VALUES (%s, %s, %s, %s)",
                (rid, scope, granted, now + ttl_s),
            )
            return rid, granted, left

    def settle(self, scope: str, reservation: str, cost_usd: float) -> None:
        with self._lock, self._conn.transaction():
            self._conn.execute(
                "DELETE FROM langgraph_routing_reservation WHERE id = %s", (reservation,)
            )
            self._conn.execute(
                "UPDATE langgraph_routing_budget SET spent = spent + %s WHERE scope = %s",
                (cost_usd, scope),
            )

    def budget_usage(self, scope: str) -> tuple[float, float]:
        with self._lock:
            row = self._conn.execute(
                "SELECT spent FROM langgraph_routing_budget WHERE scope = %s", (scope,)
            ).fetchone()
            (held,) = self._conn.execute(
                "SELECT COALESCE(SUM(usd), 0) FROM langgraph_routing_reservation "
                "WHERE scope = %s AND expires_at > %s",
                (scope, self.clock()),
            ).fetchone()
        return (float(row[0]) if row else 0.0), float(held)

    def all_snapshots(self) -> dict[str, ModelHealth]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT key, state FROM {TABLE} WHERE expires_at > %s ORDER BY key",
                (self.clock(),),
            ).fetchall()
        return {key: ModelHealth.from_mapping(state) for key, state in rows}

    def clear(self) -> None:
        with self._lock:
            self._conn.execute(f"DELETE FROM {TABLE}")
            self._conn.execute("DELETE FROM langgraph_routing_budget")
            self._conn.execute("DELETE FROM langgraph_routing_reservation")

    def close(self) -> None:
        self._conn.close()
