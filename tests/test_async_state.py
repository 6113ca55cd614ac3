"""Async calls never block the event loop on the shared routing state.

A worker's breaker update on PostgreSQL locks the model's row (``SELECT ... FOR UPDATE``); when
another worker holds that lock, the update waits. An async call does that wait in a worker
thread, so the event loop keeps serving other tasks, as LangGraph's async savers do. The lock is
real (a second connection holds it) and the wait is observed in ``pg_stat_activity``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from langgraph_routing import RoutingChatModel
from langgraph_routing.shared_state import health_key
from langgraph_routing.testing import LocalGateway

psycopg = pytest.importorskip("psycopg")


def _lock_waiters(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
    return int(row[0]) if row else 0


def _observe(url: str, loop: asyncio.AbstractEventLoop, holder: Any) -> tuple[bool, bool]:
    """In a thread: wait until a session waits on the held row lock; then whether the event
    loop still runs a task. Releases the lock either way (a blocked loop must not hang)."""
    try:
        deadline = time.monotonic() + 60  # failure detection only
        while not (waited := _lock_waiters(url) > 0) and time.monotonic() < deadline:
            time.sleep(0.01)
        try:
            asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop).result(timeout=10)
            loop_ran = True
        except TimeoutError:
            loop_ran = False
        return waited, loop_ran
    finally:
        holder.commit()


@pytest.mark.parametrize("stream", [False, True])
def test_a_breaker_update_waiting_on_a_lock_leaves_the_loop_free(
    postgres_db_url: str, stream: bool
) -> None:
    with LocalGateway() as gw:
        model = RoutingChatModel(
            base_url=gw.base_url,
            api_key=gw.master_key,
            task="tool_select",
            routing_state=postgres_db_url,
        )
        model.invoke("warm up")  # the model's breaker row exists
        key = health_key(gw.base_url, "gpt-4o-mini")
        with psycopg.connect(postgres_db_url) as holder:  # a transaction holds the row lock
            held = holder.execute(
                "SELECT key FROM langgraph_routing_health WHERE key = %s FOR UPDATE", (key,)
            ).fetchall()
            assert held == [(key,)]

            async def call() -> str:
                if stream:
                    return "".join([str(c.content) async for c in model.astream("hello")])
                return str((await model.ainvoke("hello")).content)

            async def main() -> tuple[bool, bool, str]:
                task = asyncio.create_task(call())
                loop = asyncio.get_running_loop()
                waited, loop_ran = await asyncio.to_thread(_observe, postgres_db_url, loop, holder)
                return waited, loop_ran, await task

            waited, loop_ran, answer = asyncio.run(main())
        statuses = [r.status for r in gw.log]
    assert waited, "the call's breaker update never waited on the held lock"
    assert loop_ran, "the event loop was blocked while the call waited on the shared state"
    assert answer and statuses == [200, 200]
