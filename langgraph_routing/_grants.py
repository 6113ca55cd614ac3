"""Budget grants handed from a budget holder to the routed call it admitted.

A :class:`CostCallbackHandler` with a budget decides in ``on_chat_model_start`` (which runs for
``invoke`` and ``stream`` alike, before any request) how many output tokens the call may use; the
routing model takes that grant by run id when it plans the call and sends it as ``max_tokens``.
Bounded: grants never taken (a call that failed before planning) are dropped oldest first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from uuid import UUID

_MAX = 10_000
_grants: OrderedDict[UUID, int] = OrderedDict()
_lock = threading.Lock()


def give_grant(run_id: UUID, max_tokens: int) -> None:
    """Cap the call ``run_id`` at ``max_tokens`` output tokens (the smallest grant wins)."""
    with _lock:
        old = _grants.get(run_id)
        _grants[run_id] = max_tokens if old is None else min(old, max_tokens)
        while len(_grants) > _MAX:
            _grants.popitem(last=False)


def take_grant(run_id: UUID) -> int | None:
    """The cap given for ``run_id`` (removed), or None."""
    with _lock:
        return _grants.pop(run_id, None)
