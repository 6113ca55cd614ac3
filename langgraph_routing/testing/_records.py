"""A chat call as the gateway emulator's pipeline fills it in, and the log record it leaves."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from langgraph_routing.testing._config import GatewayModel, hash_key, key_label

if TYPE_CHECKING:
    from langgraph_routing.testing._server import Request

__all__ = [
    "LOGGED_HEADERS",
    "TAG_FIELDS",
    "Call",
    "RequestRecord",
    "record_of",
    "request_fields",
    "request_tags",
]

TAG_FIELDS = ("task", "node", "agent")

LOGGED_HEADERS = (
    "x-litellm-tags",
    "x-litellm-spend-logs-metadata",
    "x-litellm-include-cost-in-streaming-usage",
    "x-stainless-retry-count",
    "x-litellm-session-id",
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
    cached_tokens: int = 0
    """Prompt tokens read from the emulated prompt cache (see ``_prompt_cache``)."""
    cache_write_tokens: int = 0
    """Prompt tokens written to the cache, where the model charges writes (Anthropic)."""
    path: str = "/v1/chat/completions"
    max_tokens: int | None = None
    """``max_tokens`` (or ``max_completion_tokens``) of the request body."""
    parallel_tool_calls: bool | None = None
    tool_choice: Any = field(default=None, hash=False)
    response_format: str | None = None
    """The ``response_format`` type (``json_schema``, ``json_object``...), if any."""
    temperature: float | None = None
    latency_s: float = 0.0
    """Emulated model latency of the answer (seconds, after ``latency_scale``; 0 when off)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", MappingProxyType(dict(self.headers)))
        if self.key_alias is None and self.key is not None:
            object.__setattr__(self, "key_alias", key_label(self.key))

    @property
    def task(self) -> str | None:
        """The task the caller tagged the request with (``x-litellm-tags: task:...``, else
        ``x-litellm-spend-logs-metadata`` ``{"task": ...}``)."""
        return request_tags(self.headers).get("task")

    @property
    def node(self) -> str | None:
        """The graph node the caller tagged the request with."""
        return request_tags(self.headers).get("node")

    @property
    def agent(self) -> str | None:
        """The agent the caller tagged the request with (absent when it is the node)."""
        return request_tags(self.headers).get("agent")

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


def request_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """The request-body fields a :class:`RequestRecord` keeps (never a key or a message).

    >>> request_fields({"max_completion_tokens": 64, "parallel_tool_calls": False,
    ...                 "response_format": {"type": "json_schema"}})["max_tokens"]
    64
    """
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
    parallel = body.get("parallel_tool_calls")
    response_format = body.get("response_format")
    temperature = body.get("temperature")
    return {
        "max_tokens": max_tokens if isinstance(max_tokens, int) else None,
        "parallel_tool_calls": parallel if isinstance(parallel, bool) else None,
        "tool_choice": body.get("tool_choice"),
        "response_format": (
            str(response_format.get("type"))
            if isinstance(response_format, Mapping) and response_format.get("type")
            else None
        ),
        "temperature": float(temperature) if isinstance(temperature, int | float) else None,
    }


def request_tags(headers: Mapping[str, str]) -> dict[str, str]:
    """``task``/``node``/``agent`` of a request: from ``x-litellm-tags``
    (``task:plan,node:planner,agent:team``), else from the JSON object of
    ``x-litellm-spend-logs-metadata`` (what a RoutingChatModel sends both ways; a plain client
    may send either). Malformed headers give nothing.

    >>> request_tags({"x-litellm-tags": "task:plan,node:planner"})
    {'task': 'plan', 'node': 'planner'}
    >>> request_tags({"x-litellm-spend-logs-metadata": '{"task": "critique", "agent": null}'})
    {'task': 'critique'}
    """
    found: dict[str, str] = {}
    for tag in headers.get("x-litellm-tags", "").split(","):
        name, _, value = tag.strip().partition(":")
        if name in TAG_FIELDS and value:
            found.setdefault(name, value)
    raw = headers.get("x-litellm-spend-logs-metadata")
    if raw:
        try:
            meta = json.loads(raw)
        except ValueError:
            meta = None
        if isinstance(meta, Mapping):
            for field_name in TAG_FIELDS:
                meta_value = meta.get(field_name)
                if isinstance(meta_value, str) and meta_value:
                    found.setdefault(field_name, meta_value)
    if found.get("agent") is not None and found.get("agent") == found.get("node"):
        del found["agent"]  # as the tags: an agent is named only when it is not the node
    return found


@dataclass
class Call:
    """What is known about one chat call so far (filled in as the pipeline goes); it leaves a
    :class:`RequestRecord` (:func:`record_of`)."""

    request: Request
    call_id: str
    started_at: float
    key: str | None
    body: Mapping[str, Any] = field(default_factory=dict)
    model: GatewayModel | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    cost: float | None = None
    fault: str | None = None
    key_spend: float | None = None
    latency_s: float = 0.0


def record_of(call: Call, status: int, stream: bool, key_alias: str | None) -> RequestRecord:
    """The log record a call leaves (``status`` 0: the connection was dropped)."""
    body = call.body
    messages = body.get("messages")
    raw_tools = body.get("tools")
    tools: list[Any] = raw_tools if isinstance(raw_tools, list) else []
    names = tuple(
        str((t.get("function") or t).get("name", "")) for t in tools if isinstance(t, Mapping)
    )
    user = body.get("user")
    model_name = call.model.name if call.model else body.get("model")
    return RequestRecord(
        call_id=call.call_id,
        model=model_name if isinstance(model_name, str) else None,
        key=call.key,
        key_alias=key_alias,
        user=user if isinstance(user, str) else None,
        headers={h: call.request.headers[h] for h in LOGGED_HEADERS if h in call.request.headers},
        message_count=len(messages) if isinstance(messages, list) else 0,
        tools=names,
        stream=stream,
        status=status,
        fault=call.fault,
        prompt_tokens=call.prompt_tokens,
        completion_tokens=call.completion_tokens,
        cached_tokens=call.cached_tokens,
        cache_write_tokens=call.cache_write_tokens,
        cost_usd=call.cost,
        started_at=call.started_at,
        path=call.request.path,
        latency_s=call.latency_s,
        **request_fields(body),
    )
