"""Budget grants handed from a budget holder to the routed call it admitted.

A :class:`CostCallbackHandler` with a budget decides in ``on_chat_model_start`` (which runs for
``invoke`` and ``stream`` alike, before any request) how many output tokens the call may use; the
routing model takes that grant by run id when it plans the call and sends it as ``max_tokens``.
Bounded: grants never taken (a call that failed before planning) are dropped oldest first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from uuid import UUID

_MAX = 10_000
_grants: OrderedDict[UUID, tuple[int, float]] = OrderedDict()
_lock = threading.Lock()


def give_grant(run_id: UUID, max_tokens: int, reserve_usd: float) -> None:
    """Cap the call ``run_id`` at ``max_tokens`` output tokens and ``reserve_usd`` for any
    attempt (a fallback to a pricier model gets fewer tokens). The smallest grant wins."""
    with _lock:
        old = _grants.get(run_id)
        new = (max_tokens, reserve_usd)
        _grants[run_id] = (
            new if old is None else (min(old[0], max_tokens), min(old[1], reserve_usd))
        )
        while len(_grants) > _MAX:
            _grants.popitem(last=False)


def take_grant(run_id: UUID) -> tuple[int, float] | None:
    """``(max_tokens, reserve_usd)`` given for ``run_id`` (removed), or None."""
    with _lock:
        return _grants.pop(run_id, None)


_on_cancel: OrderedDict[UUID, Callable[[BaseException], None]] = OrderedDict()


def on_cancel(run_id: UUID, hook: Callable[[BaseException], None]) -> None:
    """Run ``hook`` if the call ``run_id`` is cancelled: LangChain does not await its error
    callbacks when an asyncio task is cancelled, so a budget holder learns it from the model."""
    with _lock:
        _on_cancel[run_id] = hook
        while len(_on_cancel) > _MAX:
            _on_cancel.popitem(last=False)


def forget(run_id: UUID) -> None:
    """The call ended normally: drop its cancel hook."""
    with _lock:
        _on_cancel.pop(run_id, None)


def cancelled(run_id: UUID | None, exc: BaseException) -> None:
    """The call ``run_id`` was cancelled: run (and drop) its hook."""
    if run_id is None:
        return
    with _lock:
        hook = _on_cancel.pop(run_id, None)
    if hook is not None:
        hook(exc)
