"""CostCallbackHandler: the cost of every LLM call, per run, node, task, model and role.

Works on any LangGraph graph or LCEL chain: it reads what the gateway said (the
``x-litellm-response-cost`` header, ``usage.cost`` of streams) off the LLM results, and the routing
record our chat model adds. Entries are keyed by the gateway call id, so replays change nothing.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult

from ._budget import check_budget
from ._cost_events import CostEvents, _Pending
from ._errors import BudgetExceededError
from ._grants import forget
from ._ledger import CostEntry, entries_from_routing
from ._policy import RoutingPolicy
from ._report import CostReport
from ._run_budget import RunBudget
from ._runs import run_tracker
from ._tokens import TokenCounter

_log = logging.getLogger("langgraph_routing.costs")
_MAX_DEFERRED = 256
_FLUSH_BATCH = 64  # built together: one entry at a time, on cold caches, costs 4-8x as much


def _never_raises(method: Callable[..., None]) -> Callable[..., None]:
    """A bookkeeping failure is logged, never turned into a failed LLM call."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            method(self, *args, **kwargs)
        except BudgetExceededError:
            raise
        except Exception as exc:  # pragma: no cover - defensive
            _log.warning("cost tracking skipped one event: %s", type(exc).__name__)

    return wrapper


class CostCallbackHandler(RunBudget, CostEvents, BaseCallbackHandler):
    """Accumulates a cost ledger from LLM callbacks.

    ``budget_usd`` (optional) is a per-run budget. Before each call it reserves the call's
    worst case (prompt at the input price + ``max_tokens`` at the output price). A routed call
    (:class:`RoutingChatModel`) that the budget left cannot fully pay for is sent with a smaller
    ``max_tokens`` (down to the policy's ``budget.min_output_tokens``), so it can never spend
    more than the budget has left; below that, and for other chat models whose worst case does
    not fit, the call is refused with :class:`BudgetExceededError` before any request (the
    message names the model, the reservation and the knob to turn). NaN, negative or
    non-number budgets are refused at construction. ``max_entries`` bounds memory; export and
    drop finished runs with :meth:`pop_run`.

    >>> from langgraph_routing import init_routing_model
    >>> from langgraph_routing.testing import LocalGateway
    >>> handler = CostCallbackHandler(budget_usd=0.05)
    >>> with LocalGateway() as gw:
    ...     model = init_routing_model(base_url=gw.base_url, api_key=gw.master_key,
    ...                                callbacks=[handler])
    ...     reply = model.with_task("synthesize").invoke("Summarise: routing saves money")
    >>> handler.report().calls, handler.total_usd == gw.total_spend
    (1, True)
    >>> reply.response_metadata["routing"]["max_tokens"] < 4096    # shrunk to fit $0.05
    True
    """

    run_inline = True
    raise_error = True  # only BudgetExceededError is ever raised on purpose

    def __init__(
        self,
        policy: RoutingPolicy | None = None,
        *,
        budget_usd: float | None = None,
        max_entries: int = 200_000,
    ) -> None:
        self.policy = policy or RoutingPolicy.default()
        self.budget_usd = check_budget(budget_usd)
        self._entries: OrderedDict[str, CostEntry] = OrderedDict()
        self._pending: dict[UUID, _Pending] = {}
        self._spent: dict[str, float] = {}  # known cost per run (root id)
        self._reserved: dict[str, float] = {}  # held by calls in flight, per run
        self._max = max_entries
        self._lock = threading.Lock()
        self._counter = TokenCounter(max_entries=10_000)
        self._tracker = run_tracker()
        self._outer: CostCallbackHandler | None = None
        # routed answers' records, turned into entries on the next read (or add): building
        # them is most of the handler's work, and most ledgers are read once, at the end
        self._deferred: deque[tuple[Mapping[str, Any], Mapping[str, Any], UUID, str]] = deque()

    def __repr__(self) -> str:
        entries = self.entries
        total = math.fsum(e.cost_usd for e in entries if e.cost_usd is not None)
        return f"CostCallbackHandler(entries={len(entries)}, total_usd={total:.6f})"

    # ---- reading --------------------------------------------------------------------------

    @property
    def entries(self) -> list[CostEntry]:
        """All entries, oldest first."""
        with self._lock:
            self._flush()
            return list(self._entries.values())

    @property
    def total_usd(self) -> float:
        """Total of known costs over every run."""
        return self.report().total_usd

    def report(self, run_id: str | UUID | None = None) -> CostReport:
        """A :class:`CostReport` of one run (``run_id``) or of everything."""
        wanted = str(run_id) if run_id is not None else None
        entries = [e for e in self.entries if wanted is None or e.run_id == wanted]
        return CostReport(entries, run_id=wanted)

    def spent_usd(self, run_id: str) -> float:
        """Known cost of one run so far."""
        with self._lock:
            self._flush()
            return self._spent.get(str(run_id), 0.0)

    def _end(self, run_id: UUID) -> _Pending | None:
        with self._lock:
            pending = self._pending.pop(run_id, None)
        if pending is not None and pending.reserved_usd:
            forget(run_id)
        return pending

    def entries_since(self, mark: str | None) -> tuple[list[CostEntry], str | None]:
        """``(entries added after the entry whose call id is mark, oldest first; the new mark)``:
        lets a reader (the checkpointer adapter) take the ledger incrementally."""
        with self._lock:
            self._flush()
            if not self._entries:
                return [], mark
            newest = next(reversed(self._entries))
            fresh: list[CostEntry] = []
            if newest != mark:
                for call_id in reversed(self._entries):
                    if call_id == mark:
                        break
                    fresh.append(self._entries[call_id])
        fresh.reverse()
        return fresh, newest

    def pop_run(self, run_id: str | UUID) -> list[dict[str, Any]]:
        """Remove a finished run's entries and return them (JSON-safe dicts)."""
        wanted = str(run_id)
        with self._lock:
            self._flush()
            ids = [cid for cid, e in self._entries.items() if e.run_id == wanted]
            self._spent.pop(wanted, None)
            return [self._entries.pop(cid).to_dict() for cid in ids]

    def add(self, entry: CostEntry) -> bool:
        """Add an entry; False when its call id is already in the ledger."""
        if self._outer is not None:  # a nested cost_tracking() block: the outer one sees it too
            self._outer.add(entry)
        with self._lock:
            self._flush()
            return self._insert(entry)

    def _add_routed(
        self, routing: Mapping[str, Any], usage: Mapping[str, Any], call_run: UUID, run: str
    ) -> None:
        if self.budget_usd is not None or self._outer is not None:
            super()._add_routed(routing, usage, call_run, run)  # spend must be known now
            return
        self._deferred.append((routing, usage, call_run, run))  # atomic: no lock
        if len(self._deferred) > _MAX_DEFERRED:  # a ledger nobody reads: build the oldest
            with self._lock:  # in one batch (one call in _FLUSH_BATCH pays ~4 µs per entry)
                self._flush(keep=_MAX_DEFERRED - _FLUSH_BATCH)

    def _flush(self, keep: int = 0) -> None:
        """Turn the deferred records into entries, oldest first, until ``keep`` are left
        (under the lock)."""
        deferred = self._deferred
        while len(deferred) > keep:
            try:
                routing, usage, call_run, run = deferred.popleft()
            except IndexError:  # pragma: no cover - emptied by another thread's read
                return
            try:
                entries = entries_from_routing(
                    routing, usage, fallback_id=str(call_run), run_id=run
                )
            except Exception as exc:  # a malformed record: skipped, as a callback would skip it
                _log.warning("cost tracking skipped one event: %s", type(exc).__name__)
                continue
            for entry in entries:
                self._insert(entry)

    def _insert(self, entry: CostEntry) -> bool:
        if entry.call_id in self._entries:
            return False
        self._entries[entry.call_id] = entry
        if entry.run_id is not None and entry.cost_usd is not None:
            self._spent[entry.run_id] = self._spent.get(entry.run_id, 0.0) + entry.cost_usd
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return True

    # ---- callbacks --------------------------------------------------------------------------

    def on_chat_model_start(
        self,
        serialized: Any,
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: Mapping[str, Any] | None = None,
        invocation_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        # every call takes this path: no decorator (it would pack and unpack the keywords)
        try:
            meta: Mapping[str, Any] = metadata or {}  # read only: no copies on the hot path
            params: Mapping[str, Any] = invocation_params or kwargs.get("invocation_params") or {}
            model = meta.get("ls_model_name") or params.get("model") or params.get("model_name")
            if self.budget_usd is not None:
                self._admit(messages, run_id, parent_run_id, meta, params, model)
                return
            pending = _Pending(  # nothing to admit: note the call, read the rest at its end
                time.perf_counter(),
                run_id,
                parent_run_id,
                meta,
                model if type(model) is str or isinstance(model, str) else None,
                meta.get("routing_task"),
                -1,
                messages[0] if messages else [],
                params.get("tools"),
            )
            with self._lock:
                self._pending_add(pending)
        except BudgetExceededError:
            raise
        except Exception as exc:  # pragma: no cover - defensive
            _log.warning("cost tracking skipped one event: %s", type(exc).__name__)

    @_never_raises
    def on_llm_new_token(  # type: ignore[override]
        self, token: Any, *, run_id: UUID, chunk: Any = None, **kwargs: Any
    ) -> None:
        with self._lock:
            pending = self._pending.get(run_id)
        if pending is None:
            return
        pending.streamed_chars += len(token or "")
        if pending.first is not None or chunk is None:
            return
        info = dict(getattr(chunk, "generation_info", None) or {})
        message = getattr(chunk, "message", None)
        if message is not None:
            info.update(message.response_metadata)
        pending.first = {"headers": info.get("headers"), "routing": info.get("routing_call")}

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        try:  # every call takes this path: no decorator
            with self._lock:
                pending = self._pending.pop(run_id, None)
            if pending is None:
                return
            if not pending.reserved_usd:  # the common case: nothing to give back
                self._ended(pending, response, run_id)
                return
            forget(run_id)
            try:
                self._ended(pending, response, run_id)
            finally:
                self._settle(pending)
        except Exception as exc:  # pragma: no cover - defensive
            _log.warning("cost tracking skipped one event: %s", type(exc).__name__)

    @_never_raises
    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        pending = self._end(run_id)
        if pending is None:
            return
        try:
            self._failed(pending, error, run_id)
        finally:
            self._settle(pending)
