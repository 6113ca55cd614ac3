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

from langgraph_routing import RoutingChatModel, RoutingPolicy
from langgraph_routing.shared_state import health_key
from langgraph_routing.testing import LocalGateway
from tests.fixtures_postgres import sessions_where

psycopg = pytest.importorskip("psycopg")


def _lock_waiters(url: str) -> int:
    return sessions_where(url, "wait_event_type = 'Lock'")


def _observe(
    url: str, loop: asyncio.AbstractEventLoop, holder: Any, then: Any = None
) -> tuple[bool, bool]:
    """In a thread: wait until a session waits on the held row lock; then whether the event
    loop still runs a task. Releases the lock (and calls ``then``) either way: a blocked loop
    must not hang the test."""
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
        if then is not None:
            then()


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


def test_a_hedge_failure_waiting_on_a_lock_leaves_the_loop_free(postgres_db_url: str) -> None:
    """Async hedging: the primary is held, the hedge fails at once, and recording that failure
    waits on the hedge model's locked breaker row, off the event loop."""
    primary, hedge = "gpt-4o-mini", "claude-3-5-haiku-20241022"
    policy = RoutingPolicy.default().updated(
        {"tasks": {"tool_select": {"model": primary, "hedge_after_s": 0.05}}}
    )
    with LocalGateway() as gw:
        model = RoutingChatModel(
            policy=policy,
            base_url=gw.base_url,
            api_key=gw.master_key,
            task="tool_select",
            routing_state=postgres_db_url,
        )
        model.invoke("warm up", model=hedge)  # the hedge model's breaker row exists
        gw.add_fault("hang", model=primary, times=None)
        gw.add_fault("server_error", model=hedge, status=503, times=None)
        key = health_key(gw.base_url, hedge)
        with psycopg.connect(postgres_db_url) as holder:
            holder.execute(
                "SELECT key FROM langgraph_routing_health WHERE key = %s FOR UPDATE", (key,)
            )

            async def main() -> tuple[bool, bool, Any]:
                task = asyncio.create_task(model.ainvoke("hello"))
                loop = asyncio.get_running_loop()
                waited, loop_ran = await asyncio.to_thread(
                    _observe, postgres_db_url, loop, holder, gw.release_holds
                )
                return waited, loop_ran, await task

            waited, loop_ran, reply = asyncio.run(main())
        hedged = [(r.model, r.status) for r in gw.log if r.model == hedge]
    assert waited and loop_ran
    assert reply.response_metadata["routing"]["model"] == primary
    assert hedged == [(hedge, 200), (hedge, 503)]  # the warm-up, then the failed hedge


def test_the_first_connection_to_the_state_is_opened_off_the_loop() -> None:
    """A model's first async call opens its Postgres state in the worker thread: here the
    server accepts and never answers, and the loop still runs while the call connects."""
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    connected = threading.Event()

    def accept() -> None:
        conn, _ = server.accept()
        accepted.append(conn)
        connected.set()

    threading.Thread(target=accept, daemon=True).start()
    port = server.getsockname()[1]
    url = f"postgresql://nobody@127.0.0.1:{port}/stalled?connect_timeout=30"
    with LocalGateway() as gw:
        model = RoutingChatModel(
            base_url=gw.base_url, api_key=gw.master_key, task="tool_select", routing_state=url
        )

        def observe(loop: asyncio.AbstractEventLoop) -> bool:
            try:
                assert connected.wait(60), "the call never connected to the state"
                try:
                    asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop).result(timeout=10)
                    return True
                except TimeoutError:
                    return False
            finally:  # the stalled server hangs up: the connection fails at once
                for conn in accepted:
                    conn.close()
                server.close()

        async def main() -> tuple[bool, BaseException | None]:
            task = asyncio.create_task(model.ainvoke("hello"))
            loop_ran = await asyncio.to_thread(observe, asyncio.get_running_loop())
            try:
                await task
            except Exception as exc:  # the state cannot be opened: the call says so
                return loop_ran, exc
            return loop_ran, None

        loop_ran, error = asyncio.run(main())
        sent = len(gw.log)
    assert loop_ran, "the event loop was blocked while the call connected to its state"
    assert error is not None and sent == 0
