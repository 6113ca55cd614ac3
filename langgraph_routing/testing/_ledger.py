"""Thread-safe mutable state of the gateway: request log, spend, rpm windows, scripted replies."""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping

from langgraph_routing.testing._records import RequestRecord
from langgraph_routing.testing._replies import Reply

__all__ = ["Ledger"]

_WINDOW_S = 60.0


ScriptKey = tuple[str, str | None, str | None, str | None]  # model, task, node, agent


class Ledger:
    """Everything a call changes, behind one lock."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._log: list[RequestRecord] = []
        self._by_key: defaultdict[str, list[float]] = defaultdict(list)
        self._by_user: defaultdict[str, list[float]] = defaultdict(list)
        self._key_sum: defaultdict[str, float] = defaultdict(float)
        self._charges: list[float] = []
        self._windows: defaultdict[str, deque[float]] = defaultdict(deque)
        # scripted replies per (model, task, node, agent); None matches any
        self._scripts: defaultdict[ScriptKey, deque[Reply]] = defaultdict(deque)

    def reset(self) -> None:
        with self._lock:
            self._log.clear()
            self._by_key.clear()
            self._by_user.clear()
            self._key_sum.clear()
            self._charges.clear()
            self._windows.clear()
            self._scripts.clear()

    # --- log -------------------------------------------------------------------------------
    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._log.append(record)

    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._log)

    # --- spend -----------------------------------------------------------------------------
    def charge(self, key: str | None, user: str | None, cost: float) -> float:
        """Add ``cost``; return the key's spend after it."""
        with self._lock:
            self._charges.append(cost)
            if user:
                self._by_user[user].append(cost)
            if key is None:
                return 0.0
            self._by_key[key].append(cost)
            self._key_sum[key] += cost
            return self._key_sum[key]

    def key_spend(self, key: str | None) -> float:
        if key is None:
            return 0.0
        with self._lock:
            return math.fsum(self._by_key.get(key, ()))

    def spend_by_key(self) -> dict[str, float]:
        with self._lock:
            return {k: math.fsum(v) for k, v in self._by_key.items()}

    def spend_by_user(self) -> dict[str, float]:
        with self._lock:
            return {k: math.fsum(v) for k, v in self._by_user.items()}

    def total_spend(self) -> float:
        with self._lock:
            return math.fsum(self._charges)

    # --- rpm -------------------------------------------------------------------------------
    def admit(self, key: str, limit: int) -> tuple[bool, int]:
        """Count one request of ``key`` in its rolling minute unless it would exceed ``limit``.

        Returns (admitted, requests in the window including this one if admitted).
        """
        now = self._clock()
        with self._lock:
            window = self._windows[key]
            while window and now - window[0] >= _WINDOW_S:
                window.popleft()
            if len(window) >= limit:
                return False, len(window) + 1
            window.append(now)
            return True, len(window)

    # --- scripts ---------------------------------------------------------------------------
    def add_script(
        self,
        model: str,
        replies: list[Reply],
        task: str | None = None,
        node: str | None = None,
        agent: str | None = None,
    ) -> None:
        with self._lock:
            self._scripts[(model, task, node, agent)].extend(replies)

    def next_script(self, model: str, tags: Mapping[str, str] | None = None) -> Reply | None:
        """The next scripted reply for a request tagged ``tags`` (task/node/agent): among the
        model's non-empty queues whose every given field equals the request's, the most
        specific wins; task counts most, then node, then agent (so (model, task) beats
        (model, node), which beats (model, agent), which beats the model-only queue)."""
        tags = tags or {}
        best: ScriptKey | None = None
        best_rank = -1
        with self._lock:
            for key, queue in self._scripts.items():
                if key[0] != model or not queue:
                    continue
                fields = zip(("task", "node", "agent"), key[1:], strict=True)
                rank = 0
                for (name, wanted), weight in zip(fields, (4, 2, 1), strict=True):
                    if wanted is None:
                        continue
                    if tags.get(name) != wanted:
                        rank = -1
                        break
                    rank += weight
                if rank > best_rank:
                    best, best_rank = key, rank
            return self._scripts[best].popleft() if best is not None else None

    def pending_scripts(self, model: str) -> int:
        with self._lock:
            return sum(len(q) for key, q in self._scripts.items() if key[0] == model)
