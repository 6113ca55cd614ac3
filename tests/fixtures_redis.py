"""Redis fixtures: a private ``redis-server`` on a free 127.0.0.1 port for the test session,
and the isolation of the process's shared ``memory://`` routing state between tests.

``redis_server_url`` starts one server per session (no persistence) and stops it at the end;
``redis_url`` gives each test that database, flushed. Without ``redis-server`` (Debian:
``apt-get install -y redis-server``) or the ``redis`` client the tests are skipped (and fail
under ``CI=true``). :func:`redis_server` is a plain context manager so that benchmarks can
start a server the same way.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from langgraph_routing.shared_state import routing_state_for

NO_SERVER = "no redis-server binary: apt-get install -y redis-server"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def redis_server() -> Iterator[str]:
    """Start a private redis-server on 127.0.0.1, yield ``redis://127.0.0.1:PORT/0``, stop it."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError(NO_SERVER)
    import redis

    root = Path(tempfile.mkdtemp(prefix="lgr-redis-"))
    port = _free_port()
    cmd = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(root),
        "--logfile",
        str(root / "server.log"),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        # Readiness of an external process: bounded polling with short waits.
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                if client.ping():
                    break
            except redis.exceptions.ConnectionError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (root / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server on port {port} did not start\n{log}")
            time.sleep(0.05)
        client.close()
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)


def _skip_or_fail(message: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    """URL of database 0 on a private redis-server started for this test session."""
    if shutil.which("redis-server") is None:
        _skip_or_fail(NO_SERVER)
    try:
        import redis  # noqa: F401
    except ImportError:
        _skip_or_fail("the redis client is missing: pip install 'langgraph-routing[shared]'")
    with redis_server() as url:
        yield url


@pytest.fixture
def redis_url(redis_server_url: str) -> str:
    """The session server's database 0, flushed for this test."""
    import redis

    with redis.Redis.from_url(redis_server_url) as client:
        client.flushdb()
    return redis_server_url


@pytest.fixture(autouse=True)
def _fresh_memory_routing_state() -> Iterator[None]:
    """Breakers of the process's ``memory://`` state are keyed by gateway URL; a later test's
    gateway may get a port an earlier one used, so each test starts with a clean state."""
    routing_state_for("memory://").clear()
    yield
