"""Streaming attempts: completion check, first-chunk marker, headers and ``usage.cost``."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.messages import AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk, ChatResult

from ._clients import USAGE_COST_KEY, drop_credential_headers
from ._errors import RoutingError
from ._planning import cache_tokens, record_outcome
from ._route import Route

_RunManager = CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None


class StreamInterruptedError(RoutingError):
    """A live stream failed after chunks were delivered; not retried, so output is never
    duplicated (``stream_buffering="attempt"`` falls back instead)."""

    def __init__(self, model: str, delivered: int) -> None:
        self.model = model
        self.delivered = delivered
        super().__init__(
            f"the stream from {model} failed after {delivered} chunks were delivered; not "
            "retried to avoid duplicated output (stream_buffering='attempt' falls back)"
        )


class TruncatedStreamError(ConnectionError):
    """The gateway's stream ended without a finish reason (counted as a transient failure)."""


class AttemptTimeoutError(TimeoutError):
    """One attempt ran past the model's timeout (a stream that trickles forever): the
    failure table treats it as a transient failure."""


class StreamTooLargeError(ConnectionError):
    """A stream sent far more than its ``max_tokens`` allows: a transient failure, and the
    buffer is dropped."""


class StreamTracker:
    """Watches one streamed attempt: first-chunk marker, completion, headers and usage.cost."""

    def __init__(self, route: Route, live: bool = False, timeout_s: float | None = None) -> None:
        self.route = route
        self.live = live
        self.started = time.perf_counter()
        self.timeout_s = timeout_s
        # what one attempt may send: its max_tokens at a generous 16 characters a token
        self.max_chars = 16 * max(route.max_tokens or route.choice.reserved_output, 1) + 65_536
        self.chars = 0
        self.delivered = 0
        self.buffer: list[ChatGenerationChunk] = []
        self.response_id: str | None = None
        self.first = True
        self.finished = False
        self.headers: dict[str, Any] | None = None
        self.usage_cost: Any = None
        self.usage: dict[str, Any] = {}
        self.text: list[str] = []
        self.opened = time.perf_counter()
        self.ttft_s: float | None = None  # time to the first chunk (latency statistics)

    def see(self, chunk: ChatGenerationChunk) -> ChatGenerationChunk | None:
        """Inspect a chunk; return it when it is to be delivered now (live mode)."""
        info = chunk.generation_info or {}
        meta = chunk.message.response_metadata
        if info.get("finish_reason") or meta.get("finish_reason"):
            self.finished = True
        if chunk.generation_info:
            drop_credential_headers(chunk.generation_info)
            info = chunk.generation_info
        if self.headers is None and isinstance(info.get("headers"), dict):
            self.headers = info["headers"]
        if USAGE_COST_KEY in meta:
            self.usage_cost = meta[USAGE_COST_KEY]
        content = chunk.message.content
        text = content if isinstance(content, str) else str(content)
        self.text.append(text)
        self.chars += len(text)
        if self.chars > self.max_chars:
            raise StreamTooLargeError(
                f"the stream sent over {self.max_chars} characters for max_tokens "
                f"{self.route.max_tokens}: not a completion"
            )
        if self.timeout_s is not None and time.perf_counter() - self.started > self.timeout_s:
            raise AttemptTimeoutError(f"the attempt ran past its {self.timeout_s}s timeout")
        for call in getattr(chunk.message, "tool_call_chunks", None) or []:
            self.text.append(f"{call.get('name') or ''}{call.get('args') or ''}")
        usage = getattr(chunk.message, "usage_metadata", None)
        if usage:
            self.usage = dict(usage)
        if self.first:
            self.first = False
            self.ttft_s = time.perf_counter() - self.opened
            self.response_id = chunk.message.id
            chunk.message.response_metadata["routing_call"] = self.route.metadata()
        if self.live:
            self.delivered += 1
            return chunk
        self.buffer.append(chunk)
        return None

    def interrupted(self, exc: BaseException) -> None:
        """After a failed attempt: raise when output was already delivered (it cannot be
        taken back), else let the failure table decide."""
        if self.delivered:
            raise StreamInterruptedError(self.route.model, self.delivered) from exc

    def release(self) -> list[ChatGenerationChunk]:
        """The buffered chunks of the completed attempt, to deliver now."""
        out, self.buffer = self.buffer, []
        return out

    def check_complete(self) -> None:
        if not self.finished:
            raise TruncatedStreamError("the stream ended before a finish reason (truncated)")

    def final(self, latency_s: float, run_manager: _RunManager) -> ChatGenerationChunk:
        routing = self.route.succeeded(
            self.headers,
            self.usage_cost,
            self.usage.get("input_tokens"),
            self.usage.get("output_tokens"),
            latency_s,
            fallback_call_id=self.response_id or str(uuid.uuid4()),
            completion_text="".join(self.text),
            ttft_s=self.ttft_s,
            cache_tokens=cache_tokens(self.usage),
        )
        record_outcome(routing, run_manager)
        return ChatGenerationChunk(
            message=AIMessageChunk(content="", response_metadata={"routing": routing})
        )


def as_chunk(result: ChatResult) -> ChatGenerationChunk:
    generation = result.generations[0]
    message = generation.message
    chunk_message = AIMessageChunk(
        content=message.content,
        additional_kwargs=message.additional_kwargs,
        response_metadata=message.response_metadata,
        tool_call_chunks=[
            {
                "name": tc["name"],
                "args": json.dumps(tc["args"]),
                "id": tc["id"],
                "index": i,
                "type": "tool_call_chunk",
            }
            for i, tc in enumerate(getattr(message, "tool_calls", []) or [])
        ],
        usage_metadata=getattr(message, "usage_metadata", None),
        id=message.id,
    )
    return ChatGenerationChunk(message=chunk_message, generation_info=generation.generation_info)
