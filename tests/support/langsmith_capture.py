"""A LangSmith ingestion endpoint on 127.0.0.1 that records what the real client sends.

It answers ``GET /info`` and accepts ``POST /runs/multipart`` (multipart/form-data, chunked or
not), ``POST /runs/batch``, ``POST /runs`` and ``PATCH /runs/{id}``. ``runs()`` merges the
post and patch parts of each run into one dict per run id.
"""

from __future__ import annotations

import json
import threading
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

INFO = {
    "version": "x",
    "license_expiration_time": None,
    "instance_flags": {"zstd_compression_enabled": False},
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: CaptureServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _reply(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._reply(200, INFO if self.path.startswith("/info") else {})

    def do_POST(self) -> None:
        body = self._body()
        ctype = self.headers.get("Content-Type", "")
        if self.path.startswith("/runs/multipart"):
            self.server.add_multipart(ctype, body)
        elif self.path.startswith("/runs/batch"):
            batch = json.loads(body or b"{}")
            for op in ("post", "patch"):
                for run in batch.get(op) or []:
                    self.server.add(op, str(run["id"]), run)
        elif self.path.startswith("/runs"):
            run = json.loads(body)
            self.server.add("post", str(run["id"]), run)
        self._reply(202, {})

    def do_PATCH(self) -> None:
        run = json.loads(self._body() or b"{}")
        self.server.add("patch", self.path.rsplit("/", 1)[-1], run)
        self._reply(202, {})


class CaptureServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self._lock = threading.Lock()
        self._runs: dict[str, dict[str, Any]] = {}
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> CaptureServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()

    def add(self, op: str, run_id: str, fields: dict[str, Any]) -> None:
        with self._lock:
            run = self._runs.setdefault(run_id, {"id": run_id})
            for key, value in fields.items():
                if key == "extra" and isinstance(value, dict):
                    merged = run.setdefault("extra", {})
                    meta = {**merged.get("metadata", {}), **value.get("metadata", {})}
                    merged.update(value)
                    merged["metadata"] = meta
                elif value is not None or key not in run:
                    run[key] = value

    def add_multipart(self, content_type: str, body: bytes) -> None:
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                continue
            payload = part.get_payload(decode=True)
            value = json.loads(payload) if payload else None
            op, _, rest = name.partition(".")
            run_id, _, field = rest.partition(".")
            if field:
                self.add(op, run_id, {field: value})
            elif isinstance(value, dict):
                self.add(op, run_id, value)

    def runs(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._runs.values()]
