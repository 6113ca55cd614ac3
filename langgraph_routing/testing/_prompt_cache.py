"""LocalGateway's emulated prompt cache: a repeated prompt prefix is read from cache.

As OpenAI's prompt caching with a cache key: per key (the request's ``prompt_cache_key``, else
LiteLLM's ``x-litellm-session-id`` header, else one shared key) the cache holds the last prompt
sent, on the model it was sent to. The prefix a request shares with it (same model, same tools,
then the same leading messages) is read from cache once it reaches 1,024 tokens, in steps of
128 tokens; a request to another model finds the cache cold, as a bouncing router does. The answer
reports it as ``usage.prompt_tokens_details.cached_tokens`` and the cost prices it at the
model's cached-input price, as LiteLLM does.

Providers differ in what they cache (the model's ``prompt_cache``): OpenAI and DeepSeek cache
any repeated prefix on their own (``"auto"``); Anthropic reads from cache only a prefix that ends
at a content block marked ``cache_control`` (``"explicit"``: Anthropic's prompt caching docs),
so a plain request to a Claude model is never cached. There a request writes its marked prefix
(when it reaches the minimum) to the cache, less what it read: the gateway charges those tokens
at the model's cache-write price, as Anthropic and LiteLLM do (OpenAI does not charge writes).

>>> cache = PromptCache()
>>> long = {"role": "system", "content": "word " * 2000}
>>> body = {"model": "m", "messages": [long, {"role": "user", "content": "hi"}]}
>>> cache.read_and_write(body, {}, 2050)
(0, 0)
>>> body2 = {"model": "m", "messages": [long, {"role": "user", "content": "again"}]}
>>> cache.read_and_write(body2, {}, 2052)
(1920, 0)
>>> cache.read_and_write({**body2, "model": "claude"}, {}, 2052, mode="explicit")
(0, 0)
>>> marked = {**long, "content": [{"type": "text", "text": long["content"],
...                                "cache_control": {"type": "ephemeral"}}]}
>>> body3 = {"model": "claude", "messages": [marked, {"role": "user", "content": "hi"}]}
>>> cache.read_and_write(body3, {"x-litellm-session-id": "s"}, 2052, mode="explicit")
(0, 2008)
>>> cache.read_and_write(body3, {"x-litellm-session-id": "s"}, 2052, mode="explicit")
(1920, 88)
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from langgraph_routing.testing._tokens import count_prompt_tokens

__all__ = ["PromptCache"]

MIN_TOKENS = 1024
STEP = 128
_MAX_KEYS = 10_000


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _marked(message: Any) -> bool:
    if not isinstance(message, Mapping):
        return False
    if message.get("cache_control"):
        return True
    content = message.get("content")
    return isinstance(content, list) and any(
        isinstance(block, Mapping) and block.get("cache_control") for block in content
    )


def _unmarked(message: Any) -> Any:
    """The message without its ``cache_control`` marks (they do not change the prefix)."""
    if not isinstance(message, Mapping):
        return message
    out = {k: v for k, v in message.items() if k != "cache_control"}
    if isinstance(out.get("content"), list):
        out["content"] = [
            {k: v for k, v in b.items() if k != "cache_control"} if isinstance(b, Mapping) else b
            for b in out["content"]
        ]
    return out


def _last_breakpoint(messages: list[Any]) -> int:
    """Index of the last message marked ``cache_control`` (-1: none)."""
    for index in range(len(messages) - 1, -1, -1):
        if _marked(messages[index]):
            return index
    return -1


class PromptCache:
    """The last prompt seen per (model, cache key), to find the prefix the next one shares."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, tuple[str, str, list[str]]] = OrderedDict()

    def read_and_write(
        self,
        body: Mapping[str, Any],
        headers: Mapping[str, str],
        prompt_tokens: int,
        mode: str = "auto",
    ) -> tuple[int, int]:
        """``(tokens read from cache, tokens written to it)`` of this request; remembers its
        prompt for the next. ``mode`` is the model's caching: ``"auto"``, ``"explicit"``
        (only up to the last message marked ``cache_control``, on this request and the one
        that wrote the cache) or ``"off"``. Writes are counted only for ``"explicit"``
        caching, where the marked prefix (at least the minimum) is written, less what was
        read."""
        if mode == "off":
            return 0, 0
        messages = list(body.get("messages") or [])
        written = 0
        if mode == "explicit":
            messages = messages[: _last_breakpoint(messages) + 1]
            if messages:
                marked = count_prompt_tokens({"tools": body.get("tools"), "messages": messages})
                written = min(marked, prompt_tokens) if marked >= MIN_TOKENS else 0
        cached = self._read(body, headers, prompt_tokens, messages)
        return cached, max(written - cached, 0)

    def _read(
        self,
        body: Mapping[str, Any],
        headers: Mapping[str, str],
        prompt_tokens: int,
        messages: list[Any],
    ) -> int:
        key = str(body.get("prompt_cache_key") or headers.get("x-litellm-session-id") or "")
        model = str(body.get("model"))
        tools = _digest(body.get("tools") or [])
        hashes = [_digest(_unmarked(m)) for m in messages]
        with self._lock:
            previous = self._seen.get(key)
            self._seen[key] = (model, tools, hashes)
            self._seen.move_to_end(key)
            while len(self._seen) > _MAX_KEYS:
                self._seen.popitem(last=False)
        if previous is None or previous[:2] != (model, tools):
            return 0
        shared = 0
        for old, new in zip(previous[2], hashes, strict=False):
            if old != new:
                break
            shared += 1
        if not shared:
            return 0
        prefix = count_prompt_tokens({"tools": body.get("tools"), "messages": messages[:shared]})
        prefix = min(prefix, prompt_tokens)
        return 0 if prefix < MIN_TOKENS else prefix - prefix % STEP
