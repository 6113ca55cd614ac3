"""Creating the PostgreSQL checkpoint tables when several workers open one database at once.

A session advisory lock is held while the checkpoint tables are created: workers that start
together on a fresh database would otherwise race on PostgresSaver's migration rows (a duplicate
key). It is polled with ``pg_try_advisory_lock``, never waited for in a statement: the
migrations run ``CREATE INDEX CONCURRENTLY``, which waits for every open transaction of the
database, including a blocked ``pg_advisory_lock`` call (a deadlock). A database already set up
(the usual case: every open after the first) takes no lock at all.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from langgraph_routing.checkpointing._adapter import CheckpointerError
from langgraph_routing.checkpointing._intents import TABLE as INTENTS_TABLE

__all__ = ["SETUP_LOCK", "aset_up", "asetup_lock", "set_up", "setup_lock"]

SETUP_LOCK = 0x6C67725F63  # "lgr_c"
_SETUP_WAIT_S = 120.0
_TRY_LOCK = "SELECT pg_try_advisory_lock(%s) AS locked"
_UNLOCK = "SELECT pg_advisory_unlock(%s) AS unlocked"
_TABLES = (
    "SELECT to_regclass('checkpoint_migrations') IS NOT NULL "
    f"AND to_regclass('{INTENTS_TABLE}') IS NOT NULL AS present"
)
_VERSION = "SELECT max(v) AS v FROM checkpoint_migrations"
_log = logging.getLogger("langgraph_routing.checkpointing")


def set_up(conn: Any, saver: Any) -> bool:
    """Whether every table exists and every migration of ``saver`` has run (no lock needed)."""
    if not conn.execute(_TABLES).fetchone()["present"]:
        return False
    return bool(conn.execute(_VERSION).fetchone()["v"] == len(saver.MIGRATIONS) - 1)


async def aset_up(conn: Any, saver: Any) -> bool:
    if not (await (await conn.execute(_TABLES)).fetchone())["present"]:
        return False
    return bool((await (await conn.execute(_VERSION)).fetchone())["v"] == len(saver.MIGRATIONS) - 1)


def _unlocked(row: Any) -> None:
    if not row["unlocked"]:  # the unlock ran on another server session than the lock
        _log.warning(
            "the checkpoint setup lock was not held by this session at release: is a "
            "transaction-pooling proxy (PgBouncer pool_mode=transaction) between this worker "
            "and PostgreSQL? Open checkpointers through a direct or session-pooled connection."
        )


def _setup_wait_error(target: str) -> CheckpointerError:
    return CheckpointerError(
        f"cannot create the checkpoint tables in {target}: another worker has held the setup "
        f"lock for over {_SETUP_WAIT_S:.0f} s; is a worker stuck while opening the database?"
    )


@contextmanager
def setup_lock(conn: Any, target: str) -> Iterator[None]:
    """Hold the database's setup lock (one opening worker at a time creates the tables)."""
    delay, deadline = 0.005, time.monotonic() + _SETUP_WAIT_S
    while not conn.execute(_TRY_LOCK, (SETUP_LOCK,)).fetchone()["locked"]:
        if time.monotonic() > deadline:
            raise _setup_wait_error(target)
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    try:
        yield
    finally:
        _unlocked(conn.execute(_UNLOCK, (SETUP_LOCK,)).fetchone())


@asynccontextmanager
async def asetup_lock(conn: Any, target: str) -> AsyncIterator[None]:
    delay, deadline = 0.005, time.monotonic() + _SETUP_WAIT_S
    while not (await (await conn.execute(_TRY_LOCK, (SETUP_LOCK,))).fetchone())["locked"]:
        if time.monotonic() > deadline:
            raise _setup_wait_error(target)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.2)
    try:
        yield
    finally:
        _unlocked(await (await conn.execute(_UNLOCK, (SETUP_LOCK,))).fetchone())
