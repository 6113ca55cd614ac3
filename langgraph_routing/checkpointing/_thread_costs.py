"""The per-thread cost cache behind ``RoutingCheckpointer.put``.

:class:`ThreadCosts` keeps, per thread, the records already seen (message ids, ledger length,
the handler's call ids) and their running merge, so a ``put`` only rescans a channel written
since the parent checkpoint and only messages it has not seen. Sources and merge rules are
described in ``_summary``.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage

from langgraph_routing.checkpointing._summary import (
    LEDGER_CHANNEL,
    Ledger,
    Record,
    new_message_groups,
    to_record,
)

__all__ = ["ThreadCosts"]

_MAX_THREADS = 10_000


class _Ns:
    """What one (thread, namespace) was last seen with: its ledger and its summary."""

    __slots__ = ("cache_key", "ledger", "ledger_version", "summary")

    def __init__(self) -> None:
        self.ledger = Ledger()
        self.ledger_version: Any = None
        self.cache_key: Any = None  # what ``summary`` was computed for
        self.summary: dict[str, Any] = {}


class _Thread:
    """One thread: routed-message groups, handler records and their running merge.

    The merge keeps each call id once. A group (one routed answer and its failed attempts)
    counts unless the handler saw the same answer: then the handler's entries are the truth
    (its failed attempts may be keyed by run id where the message's are keyed by message id).
    """

    __slots__ = (
        "changes",
        "groups",
        "handler",
        "known",
        "merged",
        "models",
        "namespaces",
        "seen_messages",
        "sorted_models",
        "unknown",
    )

    def __init__(self) -> None:
        self.groups: dict[str, dict[str, Record]] = {}
        self.handler: dict[str, Record] = {}
        self.seen_messages: set[str] = set()
        self.namespaces: dict[str, _Ns] = {}
        self.merged: dict[str, Record] = {}
        self.known: dict[str, float] = {}
        self.unknown = 0
        self.models: dict[str, int] = {}  # calls per model (a dict: Counter's += is slower)
        self.sorted_models: list[str] = []  # a new list whenever the set of models changes
        self.changes = 0

    def _add(self, call_id: str, rec: Record) -> None:
        if call_id in self.merged:
            return
        self.merged[call_id] = rec
        cost, model = rec
        if cost is None:
            self.unknown += 1
        else:
            self.known[call_id] = cost
        if model is not None:
            count = self.models.get(model, 0)
            self.models[model] = count + 1
            if not count:
                self.sorted_models = sorted(self.models)
        self.changes += 1

    def _remove(self, call_id: str) -> None:
        rec = self.merged.pop(call_id, None)
        if rec is None:
            return
        cost, model = rec
        if cost is None:
            self.unknown -= 1
        else:
            del self.known[call_id]
        if model is not None:
            left = self.models[model] - 1
            if left:
                self.models[model] = left
            else:
                del self.models[model]
                self.sorted_models = sorted(self.models)
        self.changes += 1

    def add_group(self, group: str, records: dict[str, Record]) -> None:
        if group in self.groups:
            return
        self.groups[group] = records
        if group not in self.handler:
            for call_id, rec in records.items():
                self._add(call_id, rec)

    def add_handler(self, call_id: str, rec: Record) -> None:
        if call_id in self.handler:
            return
        self.handler[call_id] = rec
        records = self.groups.get(call_id)
        if records is not None:  # the handler saw this answer: drop the group's own keys
            for key in records:
                if key not in self.handler:
                    self._remove(key)
        self._add(call_id, rec)

    def summary(self) -> dict[str, Any]:
        unknown = self.unknown
        return {
            "routing_cost_usd": math.fsum(self.known.values()),
            "routing_unknown_cost_calls": unknown,
            "routing_models": self.sorted_models,  # never mutated: shared
            "routing_calls": len(self.known) + unknown,
        }


class ThreadCosts:
    """Per-thread cost records for the adapter's ``put`` (bounded LRU of threads).

    ``handler`` is an optional ``CostCallbackHandler``; its entries are read incrementally.
    """

    def __init__(self, handler: Any = None, *, max_threads: int = _MAX_THREADS) -> None:
        self.handler = handler
        self._threads: OrderedDict[str, _Thread] = OrderedDict()
        self._max = max_threads
        self._handler_mark: str | None = None
        self._lock = threading.Lock()  # puts of parallel subgraphs may come from several threads

    def _thread(self, thread_id: str) -> _Thread:
        thread = self._threads.get(thread_id)
        if thread is None:
            thread = self._threads[thread_id] = _Thread()
            while len(self._threads) > self._max:
                self._threads.popitem(last=False)
        else:
            self._threads.move_to_end(thread_id)
        return thread

    def _pull_handler(self) -> None:
        """Take the handler entries added since the last call (newest first, up to the mark)."""
        entries_since = getattr(self.handler, "entries_since", None)
        if entries_since is None:
            return
        fresh, self._handler_mark = entries_since(self._handler_mark)
        for entry in fresh:  # oldest first: failed attempts before their answer
            thread_id = entry.thread_id
            if thread_id:
                thread = self._thread(str(thread_id))
                thread.add_handler(entry.call_id, to_record(entry.cost_usd, entry.model))

    def observe_writes(self, config: Mapping[str, Any], writes: Sequence[tuple[str, Any]]) -> None:
        """Take the routed messages among a task's writes (any channel; a message or a list)
        on the thread of ``config`` (the ``put_writes`` config).

        A task that writes the ledger channel is skipped: its graph's cost is its ledger, which
        ``summary`` reads (and a graph without one reads its own channels there).
        """
        batches: list[list[Any]] = []
        for channel, value in writes:
            if channel == LEDGER_CHANNEL:
                return
            if type(value) is list:
                if value and (
                    isinstance(value[-1], AIMessage) or any(isinstance(m, AIMessage) for m in value)
                ):
                    batches.append(value)
            elif isinstance(value, AIMessage):  # tool results hold no cost: not read here
                batches.append([value])
        if not batches:
            return
        thread_id = (config.get("configurable") or {}).get("thread_id")
        if thread_id is None:
            return
        thread_id = thread_id if type(thread_id) is str else str(thread_id)
        with self._lock:
            thread = self._thread(thread_id)
            for batch in batches:
                for group, records in new_message_groups(batch, thread.seen_messages):
                    thread.add_group(group, records)

    def summary(
        self,
        thread_id: str,
        ns: str,
        checkpoint: Mapping[str, Any],
        new_versions: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The cost keys to stamp on this checkpoint of (``thread_id``, ``ns``).

        ``new_versions`` (what ``put`` receives) names the channels written since the parent
        checkpoint: once a (thread, namespace) has been read in full, only those are rescanned.
        This runs on every put, on caches the graph's own work has just evicted: it is one
        function with few lookups, on purpose.
        """
        values: Mapping[str, Any] = checkpoint.get("channel_values") or {}
        ledger: Any = values.get(LEDGER_CHANNEL)
        has_ledger = type(ledger) is list or isinstance(ledger, list | tuple)
        with self._lock:
            if self.handler is not None:
                self._pull_handler()
            threads = self._threads
            thread = threads.get(thread_id)
            if thread is None:
                thread = self._thread(thread_id)
            else:
                threads.move_to_end(thread_id)
            space = thread.namespaces.get(ns)
            names: Iterable[str]
            if space is None:
                space = thread.namespaces[ns] = _Ns()
                names = values  # first sight of this namespace: every channel
            else:
                names = values if new_versions is None else new_versions
            if has_ledger:  # the ledger, when there is one, is the state's cost
                version = (checkpoint.get("channel_versions") or {}).get(LEDGER_CHANNEL)
                if version is None or version != space.ledger_version:
                    space.ledger = space.ledger.read(ledger)
                    space.ledger_version = version if version is not None else object()
                key: tuple[Any, ...] = (space.ledger_version, len(thread.handler))
                if key != space.cache_key:
                    space.summary = space.ledger.summary(thread.handler)
                    space.cache_key = key
                return space.summary
            seen = thread.seen_messages
            for name in names:
                value: Any = values.get(name)
                if type(value) is not list or not value:
                    continue
                last = value[-1]
                if getattr(last, "id", None) in seen:  # nothing new (``put_writes`` saw it)
                    continue
                if isinstance(last, BaseMessage) or isinstance(value[0], BaseMessage):
                    for group, records in new_message_groups(value, seen):
                        thread.add_group(group, records)
            if not thread.groups and not thread.handler:
                return {}
            if thread.changes != space.cache_key:
                space.summary = thread.summary()
                space.cache_key = thread.changes
            return space.summary
