"""Prompt-cache marks: where a sticky thread's prompt is marked, and what a marked prompt costs.

Anthropic caches only a prefix that ends at a content block marked ``cache_control``, and
charges the tokens it writes to the cache at its cache-write price (1.25x the input price). A
sticky thread on such a model (its spec prices cache writes) gets its last system or user
message marked, so each turn reads the previous one from cache (:func:`cache_marked`).

Worst cases (budget reservations, the intent a crash leaves) price a prompt that may be
written to the cache at the write price (:func:`cache_writes_of`): a read from the cache is
never assumed, since the provider may have evicted it, but a write is, since it costs more.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

if TYPE_CHECKING:
    from ._policy import RoutingPolicy
    from ._route import Route

__all__ = ["CACHE_MARK_MIN_TOKENS", "cache_marked", "cache_writes_of", "has_cache_mark"]

CACHE_MARK_MIN_TOKENS = 1024
"""Anthropic caches nothing shorter (2,048 for its Haiku models: a shorter mark is ignored)."""


def has_cache_mark(message: BaseMessage) -> bool:
    """Whether one of the message's content blocks carries a ``cache_control`` mark."""
    content = message.content
    return not isinstance(content, str) and any(
        isinstance(block, dict) and "cache_control" in block for block in content
    )


def marks_ours(policy: RoutingPolicy, thread_id: str | None, prompt_tokens: int) -> bool:
    """Whether a routed call of this thread gets our mark (on models that charge writes)."""
    return policy.sticky and thread_id is not None and prompt_tokens >= CACHE_MARK_MIN_TOKENS


def cache_writes_of(
    policy: RoutingPolicy | None,
    thread_id: str | None,
    prompt_tokens: int,
    messages: Sequence[BaseMessage],
) -> int:
    """Prompt tokens a call may write to a provider's cache: all of them when the caller
    marked the prompt, or when a routed call (``policy`` given) of a sticky thread is long
    enough for our marks; else 0. Pricing them with ``ModelSpec.cost_usd(...,
    cache_write_tokens=...)`` charges the write price only on models that have one.

    >>> from langgraph_routing import RoutingPolicy
    >>> sticky = RoutingPolicy.default().updated({"sticky": True})
    >>> cache_writes_of(sticky, "t1", 5000, []), cache_writes_of(sticky, None, 5000, [])
    (5000, 0)
    >>> marked = HumanMessage([{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}])
    >>> cache_writes_of(None, None, 5000, [marked])
    5000
    """
    if policy is not None and marks_ours(policy, thread_id, prompt_tokens):
        return prompt_tokens
    if any(has_cache_mark(m) for m in messages):
        return prompt_tokens
    return 0


def cache_marked(route: Route, messages: list[BaseMessage], model: str) -> list[BaseMessage]:
    """The prompt to send ``model``: for a sticky thread on a model that caches only marked
    prefixes (its spec prices cache writes, as Anthropic does), a copy whose last system or
    user message ends with a ``cache_control`` mark, so the next turn reads the prefix from
    cache; otherwise ``messages`` itself (also when the caller placed marks of its own). The
    caller's messages are never changed."""
    spec = route.policy.models.get(model)
    if (
        spec is None
        or spec.cache_write_per_million is None
        or not marks_ours(route.policy, route.context.thread_id, route.prompt.tokens)
        or any(has_cache_mark(m) for m in messages)  # the caller places its own marks
    ):
        return messages
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, HumanMessage | SystemMessage):
            content = message.content
            blocks: list[Any] = (
                [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
            )
            texts = [
                i for i, b in enumerate(blocks) if isinstance(b, dict) and b.get("type") == "text"
            ]
            if not texts:
                return messages
            last: dict[str, Any] = blocks[texts[-1]]
            blocks[texts[-1]] = {**last, "cache_control": {"type": "ephemeral"}}
            copy = message.model_copy(update={"content": blocks})
            return [*messages[:index], copy, *messages[index + 1 :]]
    return messages
