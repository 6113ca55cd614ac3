"""PostgreSQL fixtures: a private throw-away cluster on 127.0.0.1 for the whole session.

``postgres_url`` starts one cluster per test session (``initdb`` + ``pg_ctl start`` on a free
port, trust auth, fsync off) and yields ``postgresql://postgres@127.0.0.1:PORT/routing``.
``postgres_db_url`` gives each test a fresh, empty database on that cluster.

Without server binaries the tests are skipped (and fail under ``CI=true``):
``apt-get install -y postgresql``. The helpers are plain functions so that
``benchmarks/bench_checkpoint.py`` can start a cluster the same way.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

NO_BINARIES = "no PostgreSQL server binaries: apt-get install -y postgresql"
_OS_USER = "postgres"


def find_pg_bin() -> Path | None:
    """The folder holding ``initdb``/``pg_ctl``: Debian's versioned folder, else PATH."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0,
        reverse=True,
    )
    for folder in candidates:
        if os.access(os.path.join(folder, "initdb"), os.X_OK) and os.access(
            os.path.join(folder, "pg_ctl"), os.X_OK
        ):
            return Path(folder)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(os.path.realpath(initdb)).parent
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_db_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the ``postgres`` OS user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", _OS_USER, "--", *cmd]
    return cmd


def _run(cmd: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _as_db_user(cmd), capture_output=True, text=True, timeout=timeout, check=False
    )


@contextmanager
def postgres_cluster(dbname: str = "routing") -> Iterator[str]:
    """Start a private cluster, create ``dbname``, yield its URL, stop the cluster.

    Raises ``FileNotFoundError(NO_BINARIES)`` when the server binaries are missing and
    ``RuntimeError`` (with the server log) when the cluster does not start.
    """
    bindir = find_pg_bin()
    if bindir is None:
        raise FileNotFoundError(NO_BINARIES)
    root = Path(tempfile.mkdtemp(prefix="lgr-pg-"))
    data, sock_dir, log = root / "data", root / "sock", root / "server.log"
    sock_dir.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, _OS_USER, _OS_USER)
        shutil.chown(sock_dir, _OS_USER, _OS_USER)
    port = _free_port()
    started = False
    try:
        initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
        done = _run([*initdb, "-E", "UTF8", "--no-sync"], timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.strip()[-2000:]}")
        options = f"-k {sock_dir} -c listen_addresses=127.0.0.1 -p {port} -c fsync=off"
        done = _run(
            [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"],
            timeout=120,
        )
        started = True
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {done.stderr.strip()}\n{_tail(log)}")
        # Readiness of an external process: bounded polling with short waits.
        isready = bindir / "pg_isready"
        deadline = time.monotonic() + 30
        while True:
            probe = _run([str(isready), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"])
            if probe.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL on port {port} not ready after 30 s\n{_tail(log)}")
            time.sleep(0.1)
        create_database(f"postgresql://postgres@127.0.0.1:{port}/postgres", dbname)
        yield f"postgresql://postgres@127.0.0.1:{port}/{dbname}"
    finally:
        if started:
            _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-2000:]
    except OSError:
        return ""


def create_database(admin_url: str, dbname: str) -> None:
    """Create database ``dbname`` through ``admin_url`` (psycopg, autocommit)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))


def sessions_where(url: str, condition: str) -> int:
    """How many other sessions of the database ``url`` match ``condition`` (SQL over
    ``pg_stat_activity``): lets a test see a worker waiting on a lock."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            f"AND pid <> pg_backend_pid() AND ({condition})"
        ).fetchone()
    return int(row[0]) if row else 0


def _skip_or_fail(message: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a database on a private PostgreSQL cluster started for this test session."""
    if find_pg_bin() is None:
        _skip_or_fail(NO_BINARIES)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _skip_or_fail("psycopg is missing: pip install 'langgraph-routing[postgres]'")
    with postgres_cluster() as url:
        yield url


@pytest.fixture
def postgres_db_url(postgres_url: str) -> str:
    """A fresh, empty database on the session cluster, for one test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = postgres_url.rsplit("/", 1)[0] + "/postgres"
    create_database(admin, name)
    return postgres_url.rsplit("/", 1)[0] + "/" + name
