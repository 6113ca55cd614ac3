"""Open a :class:`RoutingCheckpointer` from a URL, as a sync or an async context manager."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from contextlib import (
    AsyncExitStack,
    ExitStack,
    nullcontext,
)
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from langgraph.checkpoint.memory import InMemorySaver

from langgraph_routing._callbacks import CostCallbackHandler
from langgraph_routing._urls import redact_url, scrub_connection_text
from langgraph_routing.checkpointing._adapter import CheckpointerError, RoutingCheckpointer
from langgraph_routing.checkpointing._intents import PostgresIntents, SqliteIntents
from langgraph_routing.checkpointing._postgres_setup import aset_up, asetup_lock, set_up, setup_lock

__all__ = ["CheckpointerOpener", "open_checkpointer", "redact_url"]

SUPPORTED_URLS = (
    "memory://",
    "sqlite:///relative/path.db",
    "sqlite:////absolute/path.db",
    "sqlite:///:memory:",
    "postgresql://user:password@host:5432/dbname (or postgres://)",
    "a libpq string: host=... dbname=... user=... password=...",
)
_SQLITE_BUSY_TIMEOUT_MS = 5000
_POSTGRES_HINT = "install langgraph-routing[postgres] (pip install 'langgraph-routing[postgres]')"


def _scrub(text: str, url: str) -> str:
    """A driver's error text without the URL's password (in any form), first line only."""
    text = scrub_connection_text(text, url).strip()
    return text.splitlines()[0] if text else "unknown error"


def _is_libpq_dsn(url: str) -> bool:
    """``host=db dbname=app ...``: a libpq key=value connection string."""
    return "://" not in url and re.match(r"\s*[A-Za-z_]+\s*=", url) is not None


def _sqlite_path(url: str) -> str:
    rest = url[len("sqlite://") :]
    if not rest.startswith("/") or rest == "/":
        raise CheckpointerError(
            f"bad SQLite URL {url!r}: use sqlite:///relative/path.db, "
            "sqlite:////absolute/path.db or sqlite:///:memory:"
        )
    path = rest[1:]
    if path == ":memory:":
        return path
    if "?" in path:
        raise CheckpointerError(f"bad SQLite URL {url!r}: query parameters are not supported")
    file = Path(path).expanduser()
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CheckpointerError(f"cannot create the folder of {str(file)!r}: {exc}") from None
    return str(file)


def _sqlite_pragmas(path: str) -> list[str]:
    pragmas = ["PRAGMA synchronous=NORMAL", f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}"]
    if path != ":memory:":
        pragmas.insert(0, "PRAGMA journal_mode=WAL")
    return pragmas


def _sqlite_check(conn: sqlite3.Connection) -> None:
    """Read the schema and take the write lock once: a corrupt or read-only file fails here,
    at open, rather than at the first checkpoint after a paid call."""
    conn.execute("PRAGMA schema_version").fetchall()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("ROLLBACK")


def _attach_sqlite_intents(
    checkpointer: RoutingCheckpointer, path: str, on_close: Callable[[Callable[[], None]], Any]
) -> None:
    """Keep call intents in the checkpoint file (an in-memory database dies with its calls)."""
    if path == ":memory:":
        return
    intents = SqliteIntents(path)
    on_close(intents.close)
    checkpointer.intents = intents


def _sqlite_error(path: str, exc: sqlite3.Error) -> CheckpointerError:
    text = str(exc)
    lowered = text.lower()
    if "readonly" in lowered or "read-only" in lowered or "unable to open" in lowered:
        what = "cannot be written"
        todo = (
            "make the file and its folder (SQLite writes -wal/-shm files beside it) writable by "
            "this user, or choose another path"
        )
    elif "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        what = "is corrupt or not a SQLite database"
        todo = (
            f"move it aside (mv {path} {path}.corrupt) and start again, or restore a backup; "
            f"`sqlite3 {path} .recover` may save its threads"
        )
    else:
        what, todo = "cannot be opened", "check the path and that no other program locks it"
    return CheckpointerError(f"the SQLite checkpoint file {path} {what} ({text}): {todo}")


def _postgres_target(url: str) -> tuple[str, str]:
    """Return (libpq URL or DSN, "host:port/dbname") for messages."""
    if _is_libpq_dsn(url):
        try:
            from psycopg.conninfo import conninfo_to_dict
        except ImportError as exc:
            raise _postgres_missing(exc) from None
        try:
            info = conninfo_to_dict(url)
        except Exception as exc:  # psycopg.ProgrammingError: a malformed string
            raise CheckpointerError(
                f"bad PostgreSQL connection string {redact_url(url)!r}: {_scrub(str(exc), url)}"
            ) from None
        host, port = info.get("host") or "localhost", info.get("port") or 5432
        return url, f"{host}:{port}/{info.get('dbname') or info.get('user') or ''}"
    if url.startswith("postgresql+"):  # SQLAlchemy-style driver suffix
        url = "postgresql" + url[url.index(":") :]
    try:
        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        port = parts.port or 5432
    except ValueError as exc:
        raise CheckpointerError(f"bad PostgreSQL URL {redact_url(url)!r}: {exc}") from None
    dbname = parts.path.lstrip("/") or (parts.username or "")
    return url, f"{host}:{port}/{dbname}"


def _postgres_missing(exc: ImportError) -> CheckpointerError:
    return CheckpointerError(
        f"PostgreSQL checkpoints need extra packages ({exc.name}): {_POSTGRES_HINT}"
    )


def _connect_kwargs(url: str, connect_timeout: float) -> dict[str, Any]:
    from psycopg.rows import dict_row

    kwargs: dict[str, Any] = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    if "connect_timeout=" not in url:
        kwargs["connect_timeout"] = max(1, round(connect_timeout))
    return kwargs


def _unreachable(url: str, target: str, exc: Exception) -> CheckpointerError:
    return CheckpointerError(
        f"cannot connect to PostgreSQL at {target}: {_scrub(str(exc), url)}. "
        "Is the server running and reachable, and are the user, password and database right?"
    )


class CheckpointerOpener:
    """A context manager (sync and async) that opens a checkpointer URL.

    Made by :func:`open_checkpointer`; see there. One opener is one connection: enter it once
    at a time. The repr never shows the URL's password.
    """

    def __init__(
        self, url: str, *, connect_timeout: float = 5.0, costs: CostCallbackHandler | None = None
    ) -> None:
        self._url = url
        self._costs = costs
        self._connect_timeout = connect_timeout
        self._stack: ExitStack | None = None
        self._astack: AsyncExitStack | None = None
        self._scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if _is_libpq_dsn(url):
            self._scheme = "postgresql"
        if self._scheme not in ("memory", "sqlite", "postgresql", "postgres") and not (
            self._scheme.startswith("postgresql+")
        ):
            raise CheckpointerError(
                f"unsupported checkpointer URL {redact_url(url)!r}; supported: "
                + ", ".join(SUPPORTED_URLS)
            )

    def __repr__(self) -> str:
        return f"open_checkpointer({redact_url(self._url)!r})"

    # -- sync -------------------------------------------------------------------------------

    def __enter__(self) -> RoutingCheckpointer:
        if self._stack is not None:
            raise CheckpointerError(f"{self!r} is already open")
        stack = ExitStack()
        try:
            checkpointer = self._open_sync(stack)
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        return checkpointer

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()

    def _open_sync(self, stack: ExitStack) -> RoutingCheckpointer:
        if self._scheme == "memory":
            return RoutingCheckpointer(InMemorySaver(), costs=self._costs)
        if self._scheme == "sqlite":
            from langgraph.checkpoint.sqlite import SqliteSaver

            path = _sqlite_path(self._url)
            try:
                conn = sqlite3.connect(path, check_same_thread=False)
                stack.callback(conn.close)
                for pragma in _sqlite_pragmas(path):
                    conn.execute(pragma)
                saver = SqliteSaver(conn)
                saver.setup()
                _sqlite_check(conn)
                checkpointer = RoutingCheckpointer(saver, costs=self._costs)
                _attach_sqlite_intents(checkpointer, path, stack.callback)
            except sqlite3.Error as exc:
                raise _sqlite_error(path, exc) from None
            return checkpointer
        return self._open_postgres_sync(stack)

    def _open_postgres_sync(self, stack: ExitStack) -> RoutingCheckpointer:
        url, target = _postgres_target(self._url)
        try:
            import psycopg
            from langgraph.checkpoint.postgres import PostgresSaver
        except ImportError as exc:
            raise _postgres_missing(exc) from None
        try:
            conn = psycopg.Connection.connect(url, **_connect_kwargs(url, self._connect_timeout))
        except psycopg.Error as exc:
            raise _unreachable(url, target, exc) from None
        stack.callback(conn.close)
        saver = PostgresSaver(conn)
        try:
            with nullcontext() if set_up(conn, saver) else setup_lock(conn, target):
                saver.setup()
                intents = PostgresIntents(url, self._connect_timeout)
        except psycopg.Error as exc:
            raise CheckpointerError(
                f"cannot create the checkpoint tables in {target}: {_scrub(str(exc), url)}"
            ) from None
        stack.callback(intents.close)
        checkpointer = RoutingCheckpointer(saver, costs=self._costs)
        checkpointer.intents = intents
        return checkpointer

    # -- async ------------------------------------------------------------------------------

    async def __aenter__(self) -> RoutingCheckpointer:
        if self._astack is not None:
            raise CheckpointerError(f"{self!r} is already open")
        stack = AsyncExitStack()
        try:
            checkpointer = await self._open_async(stack)
        except BaseException:
            await stack.aclose()
            raise
        self._astack = stack
        return checkpointer

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._astack = self._astack, None
        if stack is not None:
            await stack.aclose()

    async def _open_async(self, stack: AsyncExitStack) -> RoutingCheckpointer:
        if self._scheme == "memory":
            return RoutingCheckpointer(InMemorySaver(), costs=self._costs)
        if self._scheme == "sqlite":
            import aiosqlite
            from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

            path = _sqlite_path(self._url)
            try:
                conn = await aiosqlite.connect(path)
                stack.push_async_callback(conn.close)
                for pragma in _sqlite_pragmas(path):
                    await conn.execute(pragma)
                saver = AsyncSqliteSaver(conn)
                await saver.setup()
                await conn.execute("PRAGMA schema_version")
                await conn.execute("BEGIN IMMEDIATE")
                await conn.execute("ROLLBACK")
                checkpointer = RoutingCheckpointer(saver, costs=self._costs)
                _attach_sqlite_intents(checkpointer, path, stack.callback)
            except sqlite3.Error as exc:
                raise _sqlite_error(path, exc) from None
            return checkpointer
        return await self._open_postgres_async(stack)

    async def _open_postgres_async(self, stack: AsyncExitStack) -> RoutingCheckpointer:
        url, target = _postgres_target(self._url)
        try:
            import psycopg
            from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        except ImportError as exc:
            raise _postgres_missing(exc) from None
        try:
            conn = await psycopg.AsyncConnection.connect(
                url, **_connect_kwargs(url, self._connect_timeout)
            )
        except psycopg.Error as exc:
            raise _unreachable(url, target, exc) from None
        stack.push_async_callback(conn.close)
        saver = AsyncPostgresSaver(conn)
        try:
            ready = await aset_up(conn, saver)
            async with nullcontext() if ready else asetup_lock(conn, target):
                await saver.setup()
                intents = PostgresIntents(url, self._connect_timeout)
        except psycopg.Error as exc:
            raise CheckpointerError(
                f"cannot create the checkpoint tables in {target}: {_scrub(str(exc), url)}"
            ) from None
        stack.callback(intents.close)
        checkpointer = RoutingCheckpointer(saver, costs=self._costs)
        checkpointer.intents = intents
        return checkpointer


def open_checkpointer(
    url: str, *, connect_timeout: float = 5.0, costs: CostCallbackHandler | None = None
) -> CheckpointerOpener:
    """Open a checkpointer by URL; use with ``with`` (sync) or ``async with`` (async).

    ``memory://`` is an in-process ``InMemorySaver``. ``sqlite:///relative/path.db``,
    ``sqlite:////absolute/path.db`` and ``sqlite:///:memory:`` use SQLite (file and folder
    created, WAL journal, ``synchronous=NORMAL``, a busy timeout): ``SqliteSaver`` under
    ``with``, ``AsyncSqliteSaver`` under ``async with``. ``postgresql://`` / ``postgres://``
    use ``PostgresSaver`` / ``AsyncPostgresSaver`` (extra ``langgraph-routing[postgres]``), as
    does a libpq ``key=value`` string (``host=db dbname=app user=me password=...``). The
    password is redacted in every form (user info, ``?password=``, ``password=``).
    Tables are created on open. Errors are :class:`CheckpointerError` and never show the
    password. ``costs=handler`` (a ``CostCallbackHandler``) merges the handler's entries of each
    thread into the cost stamped on its checkpoints (see :class:`RoutingCheckpointer`).

    Example::

        with open_checkpointer("sqlite:///.checkpoints/agent.db") as checkpointer:
            graph = builder.compile(checkpointer=checkpointer)
            graph.invoke(inputs, {"configurable": {"thread_id": "t1"}})

        async with open_checkpointer("postgresql://me:pw@127.0.0.1:5432/app") as checkpointer:
            graph = builder.compile(checkpointer=checkpointer)
            await graph.ainvoke(inputs, {"configurable": {"thread_id": "t1"}})
    """
    return CheckpointerOpener(url, connect_timeout=connect_timeout, costs=costs)
