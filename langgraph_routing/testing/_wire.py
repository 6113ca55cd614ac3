"""Wire formats: OpenAI completion bodies, SSE chunks, LiteLLM error bodies, raw HTTP bytes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from langgraph_routing.testing._replies import Reply

__all__ = [
    "LITELLM_VERSION",
    "auth_error",
    "budget_error",
    "completion_body",
    "context_error",
    "dumps",
    "error_body",
    "http_bytes",
    "http_parts",
    "rate_limit_error",
    "rpm_error",
    "server_error",
    "stream_body",
    "unknown_model_error",
]

LITELLM_VERSION = "1.108.7"
_PIECE = re.compile(r"\S+\s*|\s+")
_SERVER_ERRORS = {
    500: ("litellm.InternalServerError: InternalServerError", "internal_server_error"),
    502: ("litellm.APIError: APIError", "api_error"),
    503: ("litellm.ServiceUnavailableError: ServiceUnavailableError", "service_unavailable"),
    504: ("litellm.Timeout: Timeout Error", "timeout"),
}
_SERVER_REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def dumps(value: Any) -> bytes:
    """Compact JSON bytes."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def error_body(message: str, type_: str | None, param: str | None, code: int) -> bytes:
    """LiteLLM proxy error body: ``{"error": {"message", "type", "param", "code": "<status>"}}``."""
    return dumps({"error": {"message": message, "type": type_, "param": param, "code": str(code)}})


def _group_suffix(model: str) -> str:
    return f" Received Model Group={model}\nAvailable Model Group Fallbacks=None"


def auth_error(key_hash: str | None) -> bytes:
    if key_hash is None:
        message = "Authentication Error, No api key passed in."
    else:
        message = (
            "Authentication Error, Invalid proxy server token passed. "
            f"Key Hash (Token)={key_hash}. Unable to find token in cache or "
            "`LiteLLM_VerificationTokenTable`"
        )
    return error_body(message, "auth_error", "None", 401)


def unknown_model_error(model: object) -> bytes:
    message = (
        f"/chat/completions: Invalid model name passed in model={model}. "
        "Call `/v1/models` to view available models for your key."
    )
    return error_body(message, "invalid_request_error", "model", 400)


def context_error(model: str, window: int, tokens: int) -> bytes:
    message = (
        "litellm.ContextWindowExceededError: litellm.BadRequestError: "
        "ContextWindowExceededError: OpenAIException - "
        f"This model's maximum context length is {window} tokens. However, your messages "
        f"resulted in {tokens} tokens. Please reduce the length of the messages."
        + _group_suffix(model)
    )
    return error_body(message, "invalid_request_error", None, 400)


def budget_error(key_hash: str, spend: float, max_budget: float) -> bytes:
    message = (
        f"Budget has been exceeded! Key={key_hash} Current cost: {spend}, Max budget: {max_budget}"
    )
    return error_body(message, "budget_exceeded", None, 422)


def rate_limit_error(model: str) -> bytes:
    message = (
        "litellm.RateLimitError: RateLimitError: OpenAIException - "
        "Rate limit reached for requests." + _group_suffix(model)
    )
    return error_body(message, "throttling_error", None, 429)


def rpm_error(key_hash: str, limit: int, reset_at: str) -> bytes:
    """The v3 rate limiter's answer for a key over its rpm (1.108.7 wording)."""
    message = (
        f"Rate limit exceeded for api_key: {key_hash}. Limit type: requests. "
        f"Current limit: {limit}, Remaining: 0. Limit resets at: {reset_at}"
    )
    return error_body(message, "throttling_error", None, 429)


def server_error(model: str, status: int) -> bytes:
    prefix, type_ = _SERVER_ERRORS[status]
    message = f"{prefix}: OpenAIException - {_SERVER_REASONS[status]}." + _group_suffix(model)
    return error_body(message, type_, None, status)


def _usage(prompt: int, completion: int, cached: int = 0, written: int = 0) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if cached or written:  # OpenAI's shape: both are part of the prompt tokens
        details: dict[str, int] = {"cached_tokens": cached}
        if written:  # the name LangChain reads as input_token_details["cache_creation"]
            details["cache_write_tokens"] = written
            # LiteLLM's Anthropic fields, beside the OpenAI-shaped details
            usage["cache_creation_input_tokens"] = written
            usage["cache_read_input_tokens"] = cached
        usage["prompt_tokens_details"] = details
    return usage


def completion_body(
    reply: Reply, *, call_id: str, model: str, created: int, usage: tuple[int, ...] | None
) -> bytes:
    """Non-streaming ``chat.completion`` body (``usage=None`` omits the usage block)."""
    body: dict[str, Any] = {
        "id": f"chatcmpl-{call_id}",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": reply.message(),
                "logprobs": None,
                "finish_reason": reply.finish_reason,
            }
        ],
    }
    if usage is not None:
        body["usage"] = _usage(*usage)
    return dumps(body)


def _split_text(text: str, parts: int = 4) -> list[str]:
    pieces = _PIECE.findall(text)
    if len(pieces) <= 1:
        return [text] if text else []
    size = -(-len(pieces) // parts)
    return ["".join(pieces[i : i + size]) for i in range(0, len(pieces), size)]


def _split_chars(text: str, parts: int = 3) -> list[str]:
    if not text:
        return [""]
    size = -(-len(text) // parts)
    return [text[i : i + size] for i in range(0, len(text), size)]


def _deltas(reply: Reply) -> list[dict[str, Any]]:
    deltas: list[dict[str, Any]] = []
    if reply.tool_calls:
        first: dict[str, Any] = {"role": "assistant", "content": reply.content}
        for index, call in enumerate(reply.tool_calls):
            pieces = _split_chars(call.arguments)
            head = {
                "index": index,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": pieces[0]},
            }
            if index == 0:
                first["tool_calls"] = [head]
                deltas.append(first)
            else:
                deltas.append({"tool_calls": [head]})
            deltas.extend(
                {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
                for piece in pieces[1:]
            )
        return deltas
    pieces = _split_text(reply.content or "")
    deltas.append({"role": "assistant", "content": pieces[0] if pieces else ""})
    deltas.extend({"content": piece} for piece in pieces[1:])
    return deltas


def stream_body(
    reply: Reply,
    *,
    call_id: str,
    model: str,
    created: int,
    usage: tuple[int, ...] | None,
    cost: float | str | None,
    truncate: bool = False,
) -> list[bytes]:
    """SSE events of a streamed completion, each ``data: ...\\n\\n``; ends with ``[DONE]``.

    ``usage`` (when the client asked for it) adds the final usage chunk with ``cost``.
    ``truncate`` stops half-way: no finish reason, no usage chunk, no ``[DONE]``.
    """
    base = {
        "id": f"chatcmpl-{call_id}",
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": None,
    }

    def chunk(delta: Mapping[str, Any], finish: str | None, **extra: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return b"data: " + dumps({**base, "choices": [choice], **extra}) + b"\n\n"

    deltas = _deltas(reply)
    if truncate:
        return [chunk(d, None) for d in deltas[: max(1, len(deltas) // 2)]]
    events = [chunk(d, None) for d in deltas]
    events.append(chunk({}, reply.finish_reason))
    if usage is not None:
        usage_block = _usage(*usage)
        if cost is not None:
            usage_block["cost"] = cost
        events.append(
            b"data: "
            + dumps({**base, "choices": [{"index": 0, "delta": {}}], "usage": usage_block})
            + b"\n\n"
        )
    events.append(b"data: [DONE]\n\n")
    return events


def http_parts(
    status: int,
    headers: Iterable[tuple[str, str]],
    body: bytes | None = None,
    *,
    events: list[bytes] | None = None,
    terminate: bool = True,
) -> list[bytes]:
    """A full HTTP/1.1 response in deliverable parts: the head with the fixed-length ``body``
    (one part), or the head with the first SSE event, then one part per further event, then
    the chunked terminator (when ``terminate``) with the last event."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    if events is None:
        payload = body or b""
        lines.append(f"content-length: {len(payload)}")
        return [("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload]
    lines.append("transfer-encoding: chunked")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    chunks = [b"%x\r\n%s\r\n" % (len(e), e) for e in events if e]
    if not chunks:
        return [head + (b"0\r\n\r\n" if terminate else b"")]
    chunks[0] = head + chunks[0]
    if terminate:
        chunks[-1] += b"0\r\n\r\n"
    return chunks


def http_bytes(
    status: int,
    headers: Iterable[tuple[str, str]],
    body: bytes | None = None,
    *,
    events: list[bytes] | None = None,
    terminate: bool = True,
) -> bytes:
    """A full HTTP/1.1 response: fixed-length ``body`` or chunked ``events`` (SSE)."""
    return b"".join(http_parts(status, headers, body, events=events, terminate=terminate))
