"""The HTTP/1.1 keep-alive server that carries the emulator: one asyncio loop in a daemon thread.

A single event loop (rather than a thread per connection) keeps 1,000 concurrent clients in
the same process from starving each other on the GIL; held requests (``hang`` faults) wait
on futures, so they block nobody. asyncio sets TCP_NODELAY on its TCP sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from langgraph_routing.testing._holds import Holds

__all__ = ["Outcome", "Pending", "Request", "Server"]

_MAX_HEAD = 256 * 1024
_BAD_BODY = b'{"detail":"Bad HTTP request"}'
_BAD_REQUEST = (
    b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_BAD_BODY), _BAD_BODY)
)


_BUG_BODY = (
    b'{"error":{"message":"LocalGateway internal error (a bug in the emulator)",'
    b'"type":"internal_server_error","param":null,"code":"500"}}'
)
_INTERNAL_ERROR = (
    b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_BUG_BODY), _BUG_BODY)
)
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Request:
    """One parsed HTTP request."""

    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True)
class Outcome:
    """A complete raw HTTP response, or ``drop`` to close the connection without one.

    ``pacing`` (latency emulation): ``(seconds, bytes)`` parts written in order, each after
    sleeping its seconds on the server's loop (nobody else waits); ``data`` is then unused.
    """

    data: bytes = b""
    drop: bool = False
    pacing: tuple[tuple[float, bytes], ...] = ()


@dataclass(frozen=True)
class Pending:
    """Hold the request ``seconds`` (None: until released), then answer with ``resume()``."""

    seconds: float | None
    resume: Callable[[], Outcome]


App = Callable[[Request], "Outcome | Pending"]


class _BadRequest(Exception):
    pass


def _parse(buf: bytearray) -> tuple[Request, int] | None:
    """Parse one request from the start of ``buf``; None if incomplete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > _MAX_HEAD:
            raise _BadRequest
        return None
    lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
    while lines and not lines[0]:
        lines.pop(0)
    words = lines[0].split() if lines else []
    if len(words) != 3:
        raise _BadRequest
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    pos = end + 4
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts: list[bytes] = []
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return None
            try:
                size = int(bytes(buf[pos:eol]).split(b";", 1)[0].strip() or b"0", 16)
            except ValueError as exc:
                raise _BadRequest from exc
            if size == 0:
                trailer = buf.find(b"\r\n\r\n", eol)
                if trailer < 0:
                    return None
                body, pos = b"".join(parts), trailer + 4
                break
            if len(buf) < eol + 2 + size + 2:
                return None
            parts.append(bytes(buf[eol + 2 : eol + 2 + size]))
            pos = eol + 2 + size + 2
    else:
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError as exc:
            raise _BadRequest from exc
        if len(buf) < pos + length:
            return None
        body, pos = bytes(buf[pos : pos + length]), pos + length
    method, target, version = words
    if version == "HTTP/1.0" and headers.get("connection", "").lower() != "keep-alive":
        headers.setdefault("connection", "close")
    return Request(method, target, headers, body), pos


class _Connection(asyncio.Protocol):
    def __init__(self, server: Server) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self._process()

    def _process(self) -> None:
        while not self.busy and self.transport is not None:
            try:
                parsed = _parse(self.buf)
            except _BadRequest:
                self.transport.write(_BAD_REQUEST)
                self.transport.close()
                return
            if parsed is None:
                return
            request, used = parsed
            del self.buf[:used]
            try:
                result = self.server.app(request)
            except Exception:  # never kill the connection on an emulator bug: answer 500
                _log.exception("LocalGateway failed on %s %s", request.method, request.path)
                result = Outcome(_INTERNAL_ERROR)
            if isinstance(result, Pending) or result.pacing:
                self.busy = True
                task = asyncio.get_running_loop().create_task(self._later(request, result))
                self.server.tasks.add(task)  # keep a reference until done
                task.add_done_callback(self.server.tasks.discard)
                return
            self._send(request, result)

    async def _later(self, request: Request, result: Outcome | Pending) -> None:
        """Answer a held request when released, and/or a paced answer part by part."""
        if isinstance(result, Pending):
            await self.server.holds.hold_async(result.seconds)
            if self.transport is None or self.transport.is_closing():
                self.busy = False
                return
            try:
                result = result.resume()
            except Exception:
                _log.exception("LocalGateway failed on %s %s", request.method, request.path)
                result = Outcome(_INTERNAL_ERROR)
        if result.pacing and not result.drop:
            for seconds, part in result.pacing:
                if seconds > 0:
                    await asyncio.sleep(seconds)  # emulated model latency, not synchronisation
                if self.transport is None or self.transport.is_closing():
                    self.busy = False
                    return
                self.transport.write(part)
            result = Outcome()
        self.busy = False
        self._send(request, result)
        self._process()

    def _send(self, request: Request, outcome: Outcome) -> None:
        transport = self.transport
        if transport is None:
            return
        if outcome.drop:
            transport.close()
            return
        if outcome.data:
            transport.write(outcome.data)
        if request.headers.get("connection", "").lower() == "close":
            transport.close()


class Server:
    """Start/stop an asyncio HTTP server on ``host:port`` in a daemon thread."""

    def __init__(self, host: str, port: int, app: App, holds: Holds) -> None:
        self.app = app
        self.holds = holds
        self.connections: set[_Connection] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self._host, self._port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self.server_port = 0

    def start(self, name: str = "LocalGateway") -> None:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    loop.create_server(
                        lambda: _Connection(self), self._host, self._port, backlog=4096
                    )
                )
                self.server_port = int(self._server.sockets[0].getsockname()[1])
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            self.holds.bind(loop)
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name=name, daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            raise failure[0]

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for conn in list(self.connections):
                if conn.transport is not None:
                    conn.transport.abort()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*tasks, return_exceptions=True)
            loop.stop()

        with contextlib.suppress(RuntimeError):  # loop already closed
            asyncio.run_coroutine_threadsafe(shutdown(), loop)
        thread.join(timeout=10)
        self._loop = self._thread = self._server = None

    def call_in_loop(self, fn: Callable[[], Any]) -> None:
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(fn)
