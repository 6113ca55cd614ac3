"""The per-request log record of the gateway emulator."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from langgraph_routing.testing._config import hash_key, key_label

__all__ = ["LOGGED_HEADERS", "RequestRecord"]

LOGGED_HEADERS = (
    "x-litellm-tags",
    "x-litellm-spend-logs-metadata",
    "x-litellm-include-cost-in-streaming-usage",
    "x-stainless-retry-count",
)


@dataclass(frozen=True)
class RequestRecord:
    """One request the gateway answered (or dropped), in arrival order of completion.

    ``key`` is the bearer token as sent; it never appears in ``repr`` (``key_alias`` does).
    ``status`` is 0 for a dropped connection. ``cost_usd`` is what the key was charged: the
    call's cost on a 200, None when nothing was charged (errors, dropped connections).

    >>> r = RequestRecord(call_id="c1", model="gpt-4o", key="sk-secret", key_alias=None,
    ...                   user=None, headers={}, message_count=1, tools=(), stream=False,
    ...                   status=200, fault=None, prompt_tokens=9, completion_tokens=3,
    ...                   cost_usd=5.25e-05, started_at=0.0)
    >>> "sk-secret" in repr(r), r.key_alias
    (False, 'sha256:746b4ad1')
    """

    call_id: str
    model: str | None
    key: str | None = field(repr=False)
    key_alias: str | None
    user: str | None
    headers: Mapping[str, str] = field(hash=False)
    message_count: int
    tools: tuple[str, ...]
    stream: bool
    status: int
    fault: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    started_at: float
    path: str = "/v1/chat/completions"

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", MappingProxyType(dict(self.headers)))
        if self.key_alias is None and self.key is not None:
            object.__setattr__(self, "key_alias", key_label(self.key))

    @property
    def key_hash(self) -> str | None:
        """sha256 hex digest of the key, as LiteLLM names keys in its messages."""
        return None if self.key is None else hash_key(self.key)

    @property
    def ok(self) -> bool:
        """True for a 2xx answer."""
        return 200 <= self.status < 300

    def __repr__(self) -> str:
        return (
            f"RequestRecord(call_id={self.call_id!r}, model={self.model!r}, "
            f"key_alias={self.key_alias!r}, user={self.user!r}, status={self.status}, "
            f"fault={self.fault!r}, stream={self.stream}, tools={self.tools!r}, "
            f"prompt_tokens={self.prompt_tokens}, completion_tokens={self.completion_tokens}, "
            f"cost_usd={self.cost_usd!r})"
        )
