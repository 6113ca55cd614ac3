"""A run budget: before each call, the handler reserves its worst case, or refuses it.

:class:`RunBudget` is the part of :class:`~langgraph_routing.CostCallbackHandler` that admits a
call against ``budget_usd``: it counts the prompt, picks the model a routed call will use,
prices the worst case (a prompt written to a provider's cache at the write price) and holds it
until the call ends. Admission is atomic across threads: spent + held by calls in flight + this
call. A routed call that the budget cannot fully pay for gets a smaller ``max_tokens`` (a grant),
any other call whose worst case does not fit is refused with :class:`BudgetExceededError`.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from langchain_core.messages import BaseMessage

from ._budget import admit
from ._cache_marks import cache_writes_of
from ._cost_events import _Pending
from ._errors import BudgetExceededError, RoutingError
from ._grants import give_grant, on_cancel
from ._policy import RoutingPolicy
from ._tokens import TokenCounter

MAX_PENDING = 10_000
"""Calls in flight a handler keeps at most (runs that never ended are dropped, oldest first)."""


class RunBudget:
    """Admission of calls against a run budget; the handler provides the state and ``_flush``."""

    policy: RoutingPolicy
    budget_usd: float | None
    _counter: TokenCounter
    _lock: threading.Lock
    _pending: dict[UUID, _Pending]
    _spent: dict[str, float]
    _reserved: dict[str, float]

    def _flush(self, keep: int = 0) -> None:
        raise NotImplementedError

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        raise NotImplementedError

    def reserved_usd(self, run_id: str | None = None) -> float:
        """What calls in flight hold against a run's budget (all runs when None): 0 once every
        call has ended, failed or been cancelled."""
        with self._lock:
            if run_id is None:
                return math.fsum(self._reserved.values())
            return self._reserved.get(str(run_id), 0.0)

    def _release(self, pending: _Pending) -> None:
        """Give back what a finished call held (under the lock)."""
        if pending.reserved_usd:
            left = self._reserved.get(pending.root, 0.0) - pending.reserved_usd
            if left > 1e-15:
                self._reserved[pending.root] = left
            else:
                self._reserved.pop(pending.root, None)
            pending.reserved_usd = 0.0

    def _admit(
        self,
        messages: list[list[BaseMessage]],
        run_id: UUID,
        parent_run_id: UUID | None,
        meta: Mapping[str, Any],
        params: Mapping[str, Any],
        model: Any,
    ) -> None:
        """Reserve a call's worst case against the run budget, or refuse it."""
        max_out = params.get("max_tokens") or params.get("max_completion_tokens")
        task = meta.get("routing_task")
        routed = "routing_bound_task" in meta  # a RoutingChatModel
        pinned = params.get("model") if routed else None  # e.g. by a Router: that model
        prompt = messages[0] if messages else []
        prompt_tokens = self._counter.count(prompt, "", params.get("tools") or None).tokens
        reserve_tokens = max_out or self.policy.reserve_output_tokens
        if routed:
            try:
                resolved = self.policy.resolve_task(meta["routing_bound_task"] or None, meta)
                reserve_tokens = self.policy.reserved_output(
                    resolved, max_out or meta.get("ls_max_tokens")
                )
                if pinned in self.policy.models:
                    spec = self.policy.models[str(pinned)]
                    model, reserve_tokens = pinned, min(reserve_tokens, spec.max_output_tokens)
                else:
                    model = self.policy.select(
                        resolved, prompt_tokens, bool(params.get("tools")), reserve_tokens
                    ).model
                task = resolved
            except (ValueError, RoutingError):
                routed = False  # the model itself will raise on an impossible call
        pending = _Pending(
            time.perf_counter(),
            run_id,
            parent_run_id,
            meta,
            model if isinstance(model, str) else None,
            task,
            prompt_tokens,
        )
        if pending.model not in self.policy.models:  # no price to reserve with: only noted
            with self._lock:
                self._pending_add(pending)
            return
        marks = self.policy if routed else None  # only routed calls get our marks
        writes = cache_writes_of(marks, pending.thread_id, prompt_tokens, prompt)
        with self._lock:  # admission is atomic: spent + held by calls in flight + this call
            self._flush()
            root = pending.root
            spent = self._spent.get(root, 0.0)
            held = self._reserved.get(root, 0.0)
            grant = admit(
                self.policy.models[str(pending.model)],
                prompt_tokens,
                reserve_tokens,
                (self.budget_usd or 0.0) - spent - held,
                # a call we cannot shrink must fit whole
                min_output_tokens=self.policy.budget.min_output_tokens if routed else 10**9,
                what=(
                    f"the run budget of ${self.budget_usd:.6f} (spent ${spent:.6f}, "
                    f"${held:.6f} held by calls in flight)"
                ),
                cache_writes=writes,
            )
            if grant.admitted:
                pending.reserved_usd = grant.reserve_usd
                self._reserved[root] = held + grant.reserve_usd
                on_cancel(run_id, functools.partial(self._cancelled, run_id))
                self._pending_add(pending)
        if not grant.admitted:
            raise BudgetExceededError(
                f"run {root}: {grant.message}",
                scope="run",
                entity=f"run={root}",
                spent_usd=spent,
                budget_usd=self.budget_usd,
            )
        if routed:
            give_grant(run_id, grant.max_tokens, grant.reserve_usd)

    def _pending_add(self, pending: _Pending) -> None:
        """Keep a call in flight until its end (under the lock)."""
        self._pending[pending.run_id] = pending
        if len(self._pending) > MAX_PENDING:  # runs that never ended
            self._release(self._pending.pop(next(iter(self._pending))))

    def _cancelled(self, run_id: UUID, exc: BaseException) -> None:
        self.on_llm_error(exc, run_id=run_id)

    def _settle(self, pending: _Pending) -> None:
        """After the call's entries are in the ledger: release its reservation."""
        if not pending.reserved_usd:
            return  # nothing held (no budget): no lock to take
        with self._lock:
            self._release(pending)
