"""A hostile OpenAI-compatible server on 127.0.0.1 (stdlib): answers that are not answers.

Modes: ``choices_empty``, ``choices_null``, ``error_in_200``, ``budget_in_200``, ``sse_error``
(an error event mid-stream, LiteLLM's format), ``done_first`` (a stream that sends ``[DONE]``
first), ``redirect`` (307 to ``target``), ``slow_stream`` / ``fast_stream`` (endless streams),
``trickle_body`` (a non-streamed body sent a byte every 0.1 s, forever), ``trickle_headers``
(the status line and headers a byte every 0.1 s, forever), ``echo_key`` (a 401
that quotes the caller's key), ``always_500``, ``retry_after_forever`` (429 with a Retry-After of
999999 s), ``huge_cost`` (a good answer whose cost header is ``1e308``), ``slow_ok`` (a good
answer after ``pause`` seconds). Every request is counted in ``hits``.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

COST = "0.000123"


class Hostile:
    def __init__(self, mode: str, target: str = "", pause: float = 0.2) -> None:
        self.mode = mode
        self.target = target
        self.pause = pause
        self.hits: list[dict[str, Any]] = []
        self.stopped = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
                body["_authorization"] = str(self.headers.get("authorization", ""))
                owner.hits.append(body)
                owner.answer(self, body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> Hostile:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stopped.set()
        self.server.shutdown()
        self.server.server_close()

    def answer(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        mode = self.mode
        if mode == "redirect":
            self._send(handler, 307, b"", [("location", f"{self.target}/chat/completions")])
            return
        simple_errors = {
            "echo_key": (401, f"invalid key {body['_authorization'].removeprefix('Bearer ')}", []),
            "always_500": (500, "upstream is down", []),
            "retry_after_forever": (429, "slow down", [("retry-after", "999999")]),
        }
        if mode in simple_errors:
            status, message, extra = simple_errors[mode]
            error = {"error": {"message": message, "type": "error", "code": str(status)}}
            headers = [("content-type", "application/json"), *extra]
            self._send(handler, status, json.dumps(error).encode(), headers)
            return
        if mode == "slow_ok":
            self.stopped.wait(self.pause)  # the server's own pace, not test synchronisation
        if mode == "trickle_headers":
            self._trickle_headers(handler)
            return
        if mode == "trickle_body" and not body.get("stream"):
            self._trickle(handler)
            return
        if body.get("stream") and mode in ("slow_stream", "fast_stream"):
            self._endless(handler, body, pause=0.2 if mode == "slow_stream" else 0.0)
            return
        if body.get("stream") and mode in ("sse_error", "done_first"):
            chunk = {
                "id": "c1",
                "object": "chat.completion.chunk",
                "model": body.get("model"),
                "choices": [{"index": 0, "delta": {"content": "partial"}, "finish_reason": None}],
            }
            events = (
                ["data: [DONE]\n\n"]
                if mode == "done_first"
                else [
                    f"data: {json.dumps(chunk)}\n\n",
                    'data: {"error": {"message": "upstream died", "type": "internal_server_error",'
                    ' "code": "500"}}\n\n',
                ]
            )
            data = "".join(events).encode()
            self._send(handler, 200, data, [("content-type", "text/event-stream")])
            return
        completion: dict[str, Any] = {
            "id": "c1",
            "object": "chat.completion",
            "model": body.get("model"),
            "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
        }
        if mode == "choices_empty":
            completion["choices"] = []
        elif mode == "choices_null":
            completion["choices"] = None
        elif mode == "error_in_200":
            completion = {"error": {"message": "provider hiccup", "type": "api_error"}}
        elif mode == "budget_in_200":
            completion = {
                "error": {
                    "message": "Budget has been exceeded! Key=abc Current cost: 2, Max budget: 1",
                    "type": "budget_exceeded",
                    "code": "400",
                }
            }
        else:
            completion["choices"] = [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "ok"},
                    "finish_reason": "stop",
                }
            ]
        data = json.dumps(completion).encode()
        cost = "1e308" if mode == "huge_cost" else COST
        headers = [("content-type", "application/json"), ("x-litellm-response-cost", cost)]
        self._send(handler, 200, data, headers)

    def _endless(self, handler: BaseHTTPRequestHandler, body: dict[str, Any], pause: float) -> None:
        """A chunked SSE stream that never finishes (until the client goes away)."""
        handler.send_response(200)
        handler.send_header("content-type", "text/event-stream")
        handler.send_header("transfer-encoding", "chunked")
        handler.end_headers()
        chunk = {
            "id": "c1",
            "object": "chat.completion.chunk",
            "model": body.get("model"),
            "choices": [{"index": 0, "delta": {"content": "x" * 256}, "finish_reason": None}],
        }
        event = f"data: {json.dumps(chunk)}\n\n".encode()
        frame = f"{len(event):x}\r\n".encode() + event + b"\r\n"
        try:
            while not self.stopped.is_set():
                handler.wfile.write(frame)
                handler.wfile.flush()
                if pause:
                    self.stopped.wait(pause)  # the server's own pace, not test synchronisation
        except OSError:
            return  # the client hung up: what we wanted

    def _trickle_headers(self, handler: BaseHTTPRequestHandler) -> None:
        """A status line and headers one byte at a time that never end."""
        head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-padding: "
        try:
            for i in range(10**9):
                handler.wfile.write(head[i : i + 1] or b"a")
                handler.wfile.flush()
                if self.stopped.wait(0.1):  # the server's own pace, not test synchronisation
                    return
        except OSError:
            return

    def _trickle(self, handler: BaseHTTPRequestHandler) -> None:
        """Headers at once, then a JSON body one byte at a time that never ends."""
        handler.send_response(200)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(10**9))
        handler.end_headers()
        try:
            handler.wfile.write(b"{")
            while not self.stopped.is_set():
                handler.wfile.write(b" ")
                handler.wfile.flush()
                self.stopped.wait(0.1)  # the server's own pace, not test synchronisation
        except OSError:
            return

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler, status: int, data: bytes, headers: list[tuple[str, str]]
    ) -> None:
        handler.send_response(status)
        for name, value in headers:
            handler.send_header(name, value)
        handler.send_header("content-length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
