"""RoutingCheckpointer (metadata stamping, delegation, sync/async bridging) and open_checkpointer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import operator
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver, empty_checkpoint
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph

from langgraph_routing._errors import RoutingError
from langgraph_routing.checkpointing._adapter import (
    CheckpointerError,
    RoutingCheckpointer,
    routing_summary,
)
from langgraph_routing.checkpointing._open import open_checkpointer, redact_url
from tests.fixtures_postgres import _free_port, sessions_where

SECRET = "sk-live-DO-NOT-LEAK-0123456789"
PASSWORD = "hunter2-pw-XYZ"


class State(TypedDict, total=False):
    costs: Annotated[list[dict[str, Any]], operator.add]
    stop_reason: str
    notes: str


def _entry(call_id: str, model: str, cost: float | None) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "run_id": "r",
        "thread_id": "t",
        "node": "plan",
        "step": 1,
        "task": "plan",
        "model": model,
        "role": None,
        "attempt": 1,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "cached_tokens": 0,
        "reasoning_tokens": 0,
        "cost_usd": cost,
        "source": "header" if cost is not None else "unknown",
        "status": "ok",
        "latency_s": 0.01,
    }


def build_graph(checkpointer: BaseCheckpointSaver[Any], stop: str = "done") -> Any:
    def plan(state: State) -> dict[str, Any]:
        return {
            "costs": [_entry(f"c{i}", "gpt-4o-mini", 0.1) for i in range(10)],
            "notes": f"key={SECRET}",
        }

    def synthesize(state: State) -> dict[str, Any]:
        return {"costs": [_entry("u1", "claude-x", None), _entry("a1", "aaa", 0.5)]}

    def finish(state: State) -> dict[str, Any]:
        return {"stop_reason": stop}

    g = StateGraph(State)
    g.add_node("plan", plan)
    g.add_node("synthesize", synthesize)
    g.add_node("finish", finish)
    g.add_edge(START, "plan")
    g.add_edge("plan", "synthesize")
    g.add_edge("synthesize", "finish")
    g.add_edge("finish", END)
    return g.compile(checkpointer=checkpointer)


def _cfg(thread_id: str) -> Any:
    return {"configurable": {"thread_id": thread_id}}


EXPECTED = {
    "routing_cost_usd": math.fsum([0.1] * 10 + [0.5]),
    "routing_unknown_cost_calls": 1,
    "routing_models": ["aaa", "claude-x", "gpt-4o-mini"],
    "routing_stop_reason": "done",
}


def _check_stamped(checkpointer: BaseCheckpointSaver[Any]) -> None:
    tup = checkpointer.get_tuple(_cfg("t1"))
    assert tup is not None
    for key, value in EXPECTED.items():
        assert tup.metadata[key] == value, key  # type: ignore[literal-required]
    for item in checkpointer.list(_cfg("t1")):
        dumped = json.dumps(item.metadata)  # JSON-safe
        assert SECRET not in dumped
        assert "notes" not in item.metadata


# -- routing_summary ------------------------------------------------------------------------


def test_summary_uses_fsum_and_counts_unknown() -> None:
    s = routing_summary({"costs": [_entry(str(i), "m", 0.1) for i in range(10)]})
    assert s["routing_cost_usd"] == 1.0  # plain sum() gives 0.9999999999999999
    assert s["routing_unknown_cost_calls"] == 0
    s = routing_summary({"costs": [_entry("x", "b", None), _entry("y", "a", float("nan"))]})
    assert s == {
        "routing_cost_usd": 0.0,
        "routing_unknown_cost_calls": 2,
        "routing_models": ["a", "b"],
        "routing_calls": 2,
    }


def test_a_ledger_read_one_entry_at_a_time_sums_as_one_read_in_bulk() -> None:
    """Puts read a growing ledger's new entries one by one, a first read reads it in bulk:
    both count the same (odd costs are unknown or converted alike, never 0)."""
    from langgraph_routing.checkpointing._summary import Ledger

    odd: list[Any] = [0.1, None, 3, float("nan"), "abc", True, -1.0, float("inf"), 0.2]
    entries = [_entry(f"c{i}", f"m{i % 4}", odd[i % len(odd)]) for i in range(40)]
    entries.append({"call_id": "obj", "model": None, "cost_usd": 0.5})
    grown = Ledger()
    for end in range(1, len(entries) + 1):
        grown = grown.read(entries[:end])
    bulk = Ledger().read(entries)
    assert len(entries) > 8  # past the bulk threshold: the two paths differ
    assert grown.summary({}) == bulk.summary({})
    summary = bulk.summary({})
    valid = {0, 2, 8}  # 0.1, 3 (an int, converted) and 0.2; the rest are unknown
    known = [float(odd[i % len(odd)]) for i in range(40) if i % len(odd) in valid] + [0.5]
    assert summary == {
        "routing_cost_usd": math.fsum(known),
        "routing_unknown_cost_calls": 41 - len(known),
        "routing_models": ["m0", "m1", "m2", "m3"],
        "routing_calls": 41,
    }


def test_summary_absent_channels_and_no_other_keys() -> None:
    assert routing_summary({"messages": ["hi"], "notes": SECRET}) == {}
    assert routing_summary({"stop_reason": "budget_exhausted"}) == {
        "routing_stop_reason": "budget_exhausted"
    }


# -- adapter over each backend ---------------------------------------------------------------


def test_stamps_metadata_in_memory() -> None:
    checkpointer = RoutingCheckpointer(InMemorySaver())
    build_graph(checkpointer).invoke({}, _cfg("t1"))
    _check_stamped(checkpointer)


def test_no_ledger_channels_no_stamp() -> None:
    saver = RoutingCheckpointer(InMemorySaver())
    cp = empty_checkpoint()
    cp["channel_values"] = {"messages": ["x"], "notes": SECRET}
    saver.put(_cfg("t0") | {"configurable": {"thread_id": "t0", "checkpoint_ns": ""}}, cp, {}, {})
    tup = saver.get_tuple(_cfg("t0"))
    assert tup is not None
    assert not [k for k in tup.metadata if k.startswith("routing_")]
    assert SECRET not in json.dumps(tup.metadata)


@pytest.fixture
def sqlite_saver(tmp_path: Path) -> Iterator[SqliteSaver]:
    conn = sqlite3.connect(tmp_path / "raw.db", check_same_thread=False)
    saver = SqliteSaver(conn)
    saver.setup()
    yield saver
    conn.close()


def test_sync_only_sqlite_gets_async(sqlite_saver: SqliteSaver) -> None:
    checkpointer = RoutingCheckpointer(sqlite_saver)

    async def run() -> None:
        with pytest.raises(NotImplementedError):  # the raw saver is sync-only
            await sqlite_saver.aget_tuple(_cfg("t1"))
        await build_graph(checkpointer).ainvoke({}, _cfg("t1"))
        tup = await checkpointer.aget_tuple(_cfg("t1"))
        assert tup is not None
        assert tup.metadata["routing_stop_reason"] == "done"  # type: ignore[typeddict-item]
        listed = [t async for t in checkpointer.alist(None, filter={"routing_stop_reason": "done"})]
        assert listed and all(t.config["configurable"]["thread_id"] == "t1" for t in listed)
        await checkpointer.adelete_thread("t1")
        assert await checkpointer.aget_tuple(_cfg("t1")) is None

    asyncio.run(run())
    assert checkpointer.serde is sqlite_saver.serde


def test_sync_sqlite_graph_and_filter(sqlite_saver: SqliteSaver) -> None:
    checkpointer = RoutingCheckpointer(sqlite_saver)
    build_graph(checkpointer).invoke({}, _cfg("t1"))
    build_graph(checkpointer, stop="budget_exhausted").invoke({}, _cfg("t2"))
    _check_stamped(checkpointer)
    hits = list(checkpointer.list(None, filter={"routing_stop_reason": "budget_exhausted"}))
    assert {t.config["configurable"]["thread_id"] for t in hits} == {"t2"}
    assert len(list(checkpointer.list(None, filter={"routing_unknown_cost_calls": 1}))) >= 2
    assert isinstance(checkpointer.get_next_version(None, None), str)  # SqliteSaver's versions


async def test_async_sqlite_sync_methods_from_worker_thread(tmp_path: Path) -> None:
    async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "a.db")) as raw:
        checkpointer = RoutingCheckpointer(raw)
        await build_graph(checkpointer).ainvoke({}, _cfg("t1"))
        tup = await asyncio.to_thread(checkpointer.get_tuple, _cfg("t1"))
        assert tup is not None and tup.metadata["routing_models"] == EXPECTED["routing_models"]  # type: ignore[typeddict-item]
        with pytest.raises(asyncio.InvalidStateError):  # the saver's own rule, kept as is
            checkpointer.get_tuple(_cfg("t1"))


def test_capabilities_follow_the_wrapped_saver() -> None:
    calls: list[Any] = []

    class PruningSaver(InMemorySaver):
        def prune(self, thread_ids: Any, *, strategy: str = "keep_latest") -> None:
            calls.append((list(thread_ids), strategy))

    plain = RoutingCheckpointer(InMemorySaver())
    pruning = RoutingCheckpointer(PruningSaver())
    assert type(plain).prune is BaseCheckpointSaver.prune
    assert type(pruning).prune is not BaseCheckpointSaver.prune
    assert type(pruning).copy_thread is BaseCheckpointSaver.copy_thread
    assert isinstance(pruning, RoutingCheckpointer)
    pruning.prune(["a"], strategy="delete")
    asyncio.run(pruning.aprune(["b"]))  # sync-only prune, run in a worker thread
    assert calls == [(["a"], "delete"), (["b"], "keep_latest")]


def test_unwraps_and_rejects_non_savers() -> None:
    raw = InMemorySaver()
    double = RoutingCheckpointer(RoutingCheckpointer(raw))
    assert double.saver is raw
    assert "InMemorySaver" in repr(double)
    with pytest.raises(CheckpointerError):
        RoutingCheckpointer(object())  # type: ignore[arg-type]


# -- open_checkpointer ------------------------------------------------------------------------


def _pragmas(conn: sqlite3.Connection) -> tuple[Any, ...]:
    return tuple(
        conn.execute(f"PRAGMA {p}").fetchone()[0]
        for p in ("journal_mode", "synchronous", "busy_timeout")
    )


def test_open_memory_sync_and_async() -> None:
    with open_checkpointer("memory://") as checkpointer:
        assert isinstance(checkpointer.saver, InMemorySaver)
        build_graph(checkpointer).invoke({}, _cfg("t1"))
        _check_stamped(checkpointer)

    async def run() -> None:
        async with open_checkpointer("memory://") as checkpointer:
            await build_graph(checkpointer).ainvoke({}, _cfg("t1"))
            tup = await checkpointer.aget_tuple(_cfg("t1"))
            assert tup is not None and tup.metadata["routing_stop_reason"] == "done"  # type: ignore[typeddict-item]

    asyncio.run(run())


def test_open_sqlite_file_sync_then_async(tmp_path: Path) -> None:
    db = tmp_path / "nested" / "dir" / "cp.db"
    url = f"sqlite:///{db}"  # absolute path: four slashes
    with open_checkpointer(url) as checkpointer:
        assert isinstance(checkpointer.saver, SqliteSaver)
        assert _pragmas(checkpointer.saver.conn) == ("wal", 1, 5000)
        build_graph(checkpointer).invoke({}, _cfg("t1"))
    assert db.is_file()

    async def reopen() -> None:
        async with open_checkpointer(url) as checkpointer:
            assert isinstance(checkpointer.saver, AsyncSqliteSaver)
            async with checkpointer.saver.conn.execute("PRAGMA busy_timeout") as cur:
                assert (await cur.fetchone())[0] == 5000  # type: ignore[index]
            tup = await checkpointer.aget_tuple(_cfg("t1"))  # written by the sync saver
            assert tup is not None
            assert tup.metadata["routing_cost_usd"] == EXPECTED["routing_cost_usd"]  # type: ignore[typeddict-item]

    asyncio.run(reopen())


def test_open_sqlite_relative_and_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open_checkpointer("sqlite:///rel/dir/x.db") as checkpointer:
        build_graph(checkpointer).invoke({}, _cfg("t1"))
    assert (tmp_path / "rel" / "dir" / "x.db").is_file()
    with open_checkpointer("sqlite:///:memory:") as checkpointer:
        build_graph(checkpointer).invoke({}, _cfg("t1"))
        _check_stamped(checkpointer)
    assert not (tmp_path / ":memory:").exists()

    async def run() -> None:
        async with open_checkpointer("sqlite:///:memory:") as checkpointer:
            await build_graph(checkpointer).ainvoke({}, _cfg("t1"))
            assert await checkpointer.aget_tuple(_cfg("t1")) is not None

    asyncio.run(run())


def test_unknown_scheme_lists_supported_and_hides_password() -> None:
    with pytest.raises(CheckpointerError) as info:
        open_checkpointer(f"mysql://me:{PASSWORD}@db/x")
    message = str(info.value)
    assert isinstance(info.value, RoutingError)
    for scheme in ("memory://", "sqlite:///", "postgresql://"):
        assert scheme in message
    assert PASSWORD not in message
    with pytest.raises(CheckpointerError, match="sqlite"):
        open_checkpointer("sqlite:relative.db").__enter__()


def test_redact_url() -> None:
    url = f"postgresql://me:{PASSWORD}@127.0.0.1:5432/db"
    assert PASSWORD not in redact_url(url)
    assert redact_url(url) == "postgresql://me:***@127.0.0.1:5432/db"
    assert PASSWORD not in repr(open_checkpointer(url))
    assert redact_url("postgresql://me@h/db") == "postgresql://me@h/db"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://me:{PASSWORD}@127.0.0.1:5432/db",
        f"postgresql://me@127.0.0.1:5432/db?password={PASSWORD}",
        f"postgresql://me@127.0.0.1:5432/db?sslmode=disable&PASSWORD={PASSWORD}&x=1",
        f"host=127.0.0.1 port=5432 dbname=db user=me password={PASSWORD}",
        f"host=127.0.0.1 dbname=db password = '{PASSWORD} with space' user=me",
        f"postgres://me:{PASSWORD}%40x@127.0.0.1/db",
    ],
)
def test_every_password_form_is_redacted(url: str) -> None:
    assert PASSWORD not in redact_url(url)
    assert PASSWORD not in repr(open_checkpointer(url))
    assert "127.0.0.1" in redact_url(url)  # the rest stays readable


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://me@127.0.0.1:{port}/db?password={pw}",
        "host=127.0.0.1 port={port} dbname=db user=me password={pw} connect_timeout=2",
    ],
)
def test_password_forms_never_reach_an_error(url: str) -> None:
    pytest.importorskip("psycopg")
    port = _free_port()
    target = url.format(port=port, pw=PASSWORD)
    with pytest.raises(CheckpointerError) as info, open_checkpointer(target):
        pass
    _assert_unreachable(info.value, port)


def _assert_unreachable(exc: BaseException, port: int) -> None:
    assert isinstance(exc, CheckpointerError)
    text = "".join(traceback.format_exception(exc))
    assert f"127.0.0.1:{port}" in str(exc)
    assert PASSWORD not in text


def test_unreachable_postgres_sync_and_async() -> None:
    pytest.importorskip("psycopg")
    port = _free_port()  # bound then closed: nothing listens there
    url = f"postgres://me:{PASSWORD}@127.0.0.1:{port}/app"
    with pytest.raises(CheckpointerError) as info, open_checkpointer(url, connect_timeout=2):
        pass
    _assert_unreachable(info.value, port)

    async def run() -> None:
        with pytest.raises(CheckpointerError) as ainfo:
            async with open_checkpointer(url, connect_timeout=2):
                pass
        _assert_unreachable(ainfo.value, port)

    asyncio.run(run())


def test_missing_postgres_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "langgraph.checkpoint.postgres", None)
    with (
        pytest.raises(CheckpointerError, match=r"langgraph-routing\[postgres\]"),
        open_checkpointer("postgresql://me@127.0.0.1:1/db"),
    ):
        pass


@pytest.mark.postgres
def test_open_postgres_sync_then_async(postgres_db_url: str) -> None:
    from langgraph.checkpoint.postgres import PostgresSaver
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    with open_checkpointer(postgres_db_url) as checkpointer:
        assert isinstance(checkpointer.saver, PostgresSaver)
        build_graph(checkpointer).invoke({}, _cfg("t1"))
        build_graph(checkpointer, stop="budget_exhausted").invoke({}, _cfg("t2"))
        _check_stamped(checkpointer)
        hits = list(checkpointer.list(None, filter={"routing_stop_reason": "budget_exhausted"}))
        assert {t.config["configurable"]["thread_id"] for t in hits} == {"t2"}
        assert type(checkpointer).prune is not BaseCheckpointSaver.prune

    async def reopen() -> None:
        async with open_checkpointer(postgres_db_url.replace("postgresql", "postgres")) as cp:
            assert isinstance(cp.saver, AsyncPostgresSaver)
            tup = await cp.aget_tuple(_cfg("t1"))
            assert tup is not None
            assert tup.metadata["routing_models"] == EXPECTED["routing_models"]  # type: ignore[typeddict-item]
            await build_graph(cp).ainvoke({}, _cfg("t3"))
            filt = {"routing_stop_reason": "done"}
            found = {
                t.config["configurable"]["thread_id"] async for t in cp.alist(None, filter=filt)
            }
            assert found == {"t1", "t3"}

    asyncio.run(reopen())


def _setup_lock_pollers(url: str) -> int:
    """Sessions whose last statement tried the setup lock (and did not get it, as long as the
    test holds it)."""
    return sessions_where(url, "query LIKE '%%pg_try_advisory_lock%%'")


@pytest.mark.postgres
def test_workers_opening_a_fresh_postgres_database_together_set_it_up_one_at_a_time(
    postgres_db_url: str,
) -> None:
    """Two workers starting at once on an empty database raced on PostgresSaver's migration rows
    (``duplicate key value violates unique constraint "checkpoint_migrations_pkey"``). Opening
    now takes a setup lock: with the lock held, every opener (sync and async) is seen waiting on
    it (polling: a blocked lock call would deadlock with the migrations' CREATE INDEX
    CONCURRENTLY), and once it is released they all open the same, once-migrated tables."""
    import threading

    import psycopg

    from langgraph_routing.checkpointing._postgres_setup import SETUP_LOCK as _SETUP_LOCK

    results: list[str] = []
    errors: list[BaseException] = []

    def open_sync() -> None:
        try:
            with open_checkpointer(postgres_db_url) as cp:
                build_graph(cp).invoke({}, _cfg("sync"))
                results.append("sync")
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    def open_async() -> None:
        async def main() -> None:
            async with open_checkpointer(postgres_db_url) as cp:
                await build_graph(cp).ainvoke({}, _cfg("async"))
                results.append("async")

        try:
            asyncio.run(main())
        except BaseException as exc:
            errors.append(exc)

    openers = [threading.Thread(target=f) for f in (open_sync, open_sync, open_async, open_async)]
    with psycopg.connect(postgres_db_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (_SETUP_LOCK,))
        for thread in openers:
            thread.start()
        deadline = time.monotonic() + 60  # failure detection only
        while _setup_lock_pollers(postgres_db_url) < len(openers) and time.monotonic() < deadline:
            time.sleep(0.01)
        waiting = _setup_lock_pollers(postgres_db_url)
        created = holder.execute("SELECT to_regclass('checkpoint_migrations')").fetchone()
        holder.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK,))
    for thread in openers:
        thread.join(120)
    assert waiting == len(openers) and created == (None,)
    assert not errors, errors
    assert sorted(results) == ["async", "async", "sync", "sync"]
    with psycopg.connect(postgres_db_url) as conn:
        versions = [r[0] for r in conn.execute("SELECT v FROM checkpoint_migrations").fetchall()]
    assert len(versions) == len(set(versions)) > 0
    # a database already set up is opened without the lock (a worker holding it, e.g. during
    # a long migration of another version, delays nobody): opened while the lock is held
    with psycopg.connect(postgres_db_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (_SETUP_LOCK,))
        with open_checkpointer(postgres_db_url) as cp:
            assert cp.get_tuple(_cfg("sync")) is not None
        holder.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK,))


# -- a corrupt or read-only SQLite file fails at open, naming what to do ---------------------

CORRUPT = b"this is not a SQLite database, just bytes a crash or a bad copy left\n" * 64


def test_corrupt_sqlite_fails_at_open_and_is_left_untouched(tmp_path: Path) -> None:
    db = tmp_path / "broken.db"
    db.write_bytes(CORRUPT)
    with pytest.raises(CheckpointerError) as info, open_checkpointer(f"sqlite:///{db}"):
        pass
    message = str(info.value)
    assert "corrupt or not a SQLite database" in message and "mv " in message
    assert str(db) in message

    async def run() -> None:
        async with open_checkpointer(f"sqlite:///{db}"):
            pass

    with pytest.raises(CheckpointerError, match="corrupt or not a SQLite database"):
        asyncio.run(run())
    assert db.read_bytes() == CORRUPT  # nothing lost: the file is as it was


@contextlib.contextmanager
def read_only(*paths: Path) -> Iterator[None]:
    """Make ``paths`` unwritable, even for root (a mode is no barrier to root: ``chattr +i``)."""
    if os.geteuid() != 0:
        for path in paths:
            path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            for path in paths:
                path.chmod(0o755 if path.is_dir() else 0o644)
        return
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("running as root without chattr: cannot make a file read-only")
    done = subprocess.run([chattr, "+i", *map(str, paths)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"chattr +i is not supported here: {done.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", *map(str, paths)], check=True)


def test_read_only_sqlite_fails_at_open(tmp_path: Path) -> None:
    db = tmp_path / "threads.db"
    with open_checkpointer(f"sqlite:///{db}") as cp:
        build_graph(cp).invoke({}, _cfg("t1"))
    before = db.read_bytes()
    # closed cleanly: no -wal/-shm left (the call intents file stays: see _intents)
    assert {p.name for p in tmp_path.glob("threads.db-*")} == {"threads.db-intents"}

    async def run() -> None:
        async with open_checkpointer(f"sqlite:///{db}"):
            pass

    with read_only(db, tmp_path):
        with pytest.raises(CheckpointerError) as info, open_checkpointer(f"sqlite:///{db}"):
            pass
        with pytest.raises(CheckpointerError) as ainfo:
            asyncio.run(run())
    for exc in (info.value, ainfo.value):
        assert "cannot be written" in str(exc) and "writable" in str(exc), exc
        assert str(db) in str(exc)
    assert db.read_bytes() == before
    with open_checkpointer(f"sqlite:///{db}") as cp:  # writable again: the thread is intact
        assert cp.get_tuple(_cfg("t1")) is not None
