"""The stdlib HTTP/1.1 keep-alive server that carries the emulator (one thread per connection)."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import ThreadingHTTPServer

__all__ = ["Outcome", "Request", "Server"]


@dataclass(frozen=True)
class Request:
    """One parsed HTTP request."""

    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True)
class Outcome:
    """A complete raw HTTP response, or ``drop`` to close the connection without one."""

    data: bytes = b""
    drop: bool = False


App = Callable[[Request], Outcome]


_MAX_LINE = 65536
_MAX_HEADERS = 200
_BAD_BODY = b'{"detail":"Bad HTTP request"}'
_BAD_REQUEST = (
    b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_BAD_BODY), _BAD_BODY)
)


class _Handler(socketserver.StreamRequestHandler):
    """Minimal HTTP/1.1 keep-alive handler: faster than BaseHTTPRequestHandler's email parser."""

    disable_nagle_algorithm = True
    server: Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def handle(self) -> None:
        try:
            while self._handle_one():
                pass
        except (OSError, ValueError):  # connection reset / closed under us
            return

    def _read_body(self, headers: Mapping[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline(_MAX_LINE).split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(_MAX_LINE) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline(_MAX_LINE)
        length = int(headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle_one(self) -> bool:
        """Serve one request; False when the connection should close."""
        line = self.rfile.readline(_MAX_LINE + 1)
        while line in (b"\r\n", b"\n"):
            line = self.rfile.readline(_MAX_LINE + 1)
        if not line:
            return False
        words = line.decode("latin-1").split()
        if len(words) != 3 or len(line) > _MAX_LINE:
            self.wfile.write(_BAD_REQUEST)
            return False
        method, target, version = words
        headers: dict[str, str] = {}
        for _ in range(_MAX_HEADERS):
            raw = self.rfile.readline(_MAX_LINE + 1)
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        else:
            self.wfile.write(_BAD_REQUEST)
            return False
        if headers.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = self._read_body(headers)
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        outcome = self.server.app(Request(method, target, headers, body))
        if outcome.drop:
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return False
        self.wfile.write(outcome.data)
        return keep_alive


class Server(ThreadingHTTPServer):
    """ThreadingHTTPServer with a big backlog, no reverse DNS at bind, and closable connections."""

    daemon_threads = True
    request_queue_size = 4096

    def __init__(self, host: str, port: int, app: App) -> None:
        self.app = app
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__((host, port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup: skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def track(self, conn: socket.socket, *, add: bool) -> None:
        with self._conns_lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def close_connections(self) -> None:
        """Shut down every open client connection (keep-alive ones included)."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
