"""Call intents: a durable note of every routed call in flight, so a crash loses no cost.

A node's ledger entries reach the checkpoint only with the node's writes, after its model call
returned. A process killed while a request is in flight (SIGKILL, OOM, a lost pod) leaves no
trace of a call the provider may well have charged for. So, where a checkpointer opened by URL
is in use, each routed call writes an *intent* (thread, run, node, task, model, prompt tokens
and the call's worst-case cost) beside the checkpoints (a ``<file>-intents`` SQLite file next
to a SQLite checkpoint file, a table of the PostgreSQL database) before its first request, and
deletes it when the call ends, answered, failed or cancelled: a few hundred microseconds per
call on SQLite. An intent still there belongs to a call whose process died mid-request:
``runs``, ``report`` and :func:`~langgraph_routing.list_threads` count it as a ledger entry with
``source="interrupted"``, ``status="cancelled"``, priced at its worst case, so a thread's total
is never silently low (it is high by at most the difference between the estimate and what the
provider charged).

Intents are only kept by checkpointers that :func:`~langgraph_routing.open_checkpointer` opens
on a SQLite file or PostgreSQL (``memory://`` dies with the process anyway).
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from abc import ABC, abstractmethod
from typing import Any

__all__ = ["CallIntents", "PostgresIntents", "SqliteIntents", "intent_entry"]

TABLE = "langgraph_routing_intents"
_COLUMNS = ("id", "thread_id", "run_id", "node", "agent", "task", "model", "prompt_tokens")
_SELECT = f"SELECT {', '.join(_COLUMNS)}, estimate_usd, created_at FROM {TABLE}"


class CallIntents(ABC):
    """Where the intents of one checkpoint database live (thread-safe, one connection)."""

    _param = "?"  # the driver's placeholder

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @abstractmethod
    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """Execute one statement (autocommit); return its rows."""

    def _create(self, real: str) -> None:
        self._run(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (id TEXT PRIMARY KEY, thread_id TEXT, "
            "run_id TEXT, node TEXT, agent TEXT, task TEXT, model TEXT, prompt_tokens INTEGER, "
            f"estimate_usd {real}, created_at {real})"
        )

    def begin(self, fields: dict[str, Any], estimate_usd: float | None) -> str:
        """Note a call about to be sent; returns its intent id."""
        intent_id = uuid.uuid4().hex
        row = (intent_id, *[fields.get(c) for c in _COLUMNS[1:]], estimate_usd, time.time())
        marks = ",".join([self._param] * len(row))
        self._run(f"INSERT INTO {TABLE} VALUES ({marks})", row)
        return intent_id

    def end(self, intent_id: str) -> None:
        """The call ended (whatever the outcome): its cost is in the ledger or the handler."""
        self._run(f"DELETE FROM {TABLE} WHERE id = {self._param}", (intent_id,))

    def open_intents(self, thread_id: str | None = None) -> list[dict[str, Any]]:
        """Intents of calls that never ended (of one thread, or all), oldest first."""
        if thread_id is None:
            rows = self._run(f"{_SELECT} ORDER BY created_at")
        else:
            where = f"WHERE thread_id = {self._param}"
            rows = self._run(f"{_SELECT} {where} ORDER BY created_at", (thread_id,))
        names = (*_COLUMNS, "estimate_usd", "created_at")
        return [dict(zip(names, row, strict=True)) for row in rows]

    @abstractmethod
    def close(self) -> None: ...


class SqliteIntents(CallIntents):
    """Intents in a file beside the SQLite checkpoint file (``<file>-intents``, WAL).

    Not in the checkpoint file itself: an async saver's connection holds that file's write
    lock across awaits, and a call noting its intent from the same event loop would wait on a
    lock only the (blocked) loop can release."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = f"{path}-intents"
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=5000"):
            self._conn.execute(f"PRAGMA {pragma}")
        self._create("REAL")

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class PostgresIntents(CallIntents):
    """Intents in a table of the PostgreSQL checkpoint database (its own connection)."""

    _param = "%s"

    def __init__(self, url: str, connect_timeout: float) -> None:
        import psycopg

        super().__init__()
        self._conn: Any = psycopg.connect(
            url, autocommit=True, connect_timeout=max(1, round(connect_timeout))
        )
        self._create("DOUBLE PRECISION")

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            cursor = self._conn.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description else []

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def intent_entry(intent: dict[str, Any]) -> dict[str, Any]:
    """The ledger entry (a dict, as the ``costs`` channel holds them) of an unended intent."""
    return {
        "call_id": f"interrupted-{intent['id']}",
        "run_id": intent.get("run_id"),
        "thread_id": intent.get("thread_id"),
        "node": intent.get("node"),
        "agent": intent.get("agent"),
        "step": None,
        "task": intent.get("task"),
        "model": intent.get("model"),
        "role": None,
        "attempt": 1,
        "prompt_tokens": int(intent.get("prompt_tokens") or 0),
        "completion_tokens": 0,
        "cached_tokens": 0,
        "reasoning_tokens": 0,
        "cost_usd": intent.get("estimate_usd"),
        "source": "interrupted",
        "status": "cancelled",
        "latency_s": None,
    }
