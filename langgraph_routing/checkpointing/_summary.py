"""What a checkpoint's state says a thread cost, for any graph state.

Three sources, merged by gateway call id so that nothing counts twice:

- the ``costs`` ledger channel, when the state has one (our template);
- otherwise the routing record that ``RoutingChatModel`` puts on every answer
  (``AIMessage.response_metadata["routing"]``), in any channel holding a list of messages
  (``messages`` for ``MessagesState``, ``create_agent``, supervisor and deepagents apps);
- a :class:`~langgraph_routing.CostCallbackHandler` attached to the adapter: its entries carry
  ``thread_id``; they add what the state cannot hold (failed attempts of a node that raised,
  whose writes LangGraph drops).

Pure readers of channel values; the per-thread cache the adapter uses on ``put`` is
``_thread_costs.ThreadCosts``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage

from langgraph_routing._ledger import entries_from_routing

__all__ = [
    "LEDGER_CHANNEL",
    "STOP_REASON_CHANNEL",
    "Ledger",
    "Record",
    "is_message_list",
    "message_groups",
    "new_message_groups",
    "routing_records",
    "state_entries",
    "state_summary",
    "summarize",
    "to_record",
]

LEDGER_CHANNEL = "costs"
"""Name of the state channel holding the cost ledger (a list of entries)."""

STOP_REASON_CHANNEL = "stop_reason"
"""Name of the state channel holding why a run stopped."""

Record = tuple[float | None, str | None]
"""One call: (cost in USD or None when unknown, model name)."""


def _field(entry: Any, name: str) -> Any:
    if type(entry) is dict or isinstance(entry, Mapping):
        return entry.get(name)
    return getattr(entry, name, None)


def to_record(cost: Any, model: Any) -> Record:
    """(cost, model) of one call: a finite non-negative number or None, a name or None."""
    kind = type(cost)
    if kind is float and cost - cost == 0.0 and cost >= 0.0:  # the common case
        known: float | None = cost
    elif kind is bool or not isinstance(cost, int | float) or not math.isfinite(cost) or cost < 0:
        known = None
    else:
        known = float(cost)
    return known, model if type(model) is str and model else None


def routing_records(
    routing: Mapping[str, Any], fallback_id: str
) -> tuple[str, dict[str, Record]] | None:
    """(answer call id, records by call id) of one routing record: the failed attempts and the
    answer, keyed exactly as :func:`~langgraph_routing._ledger.entries_from_routing` keys its
    entries (without building them: this runs on puts).

    >>> routing_records({"call_id": "c2", "cost_usd": 0.5, "attempts": [
    ...     {"model": "a", "error_kind": "transient", "cost_usd": 0.0},
    ...     {"model": "b", "error_kind": None, "call_id": "c2"}]}, "m1")
    ('c2', {'m1:1': (0.0, 'a'), 'c2': (0.5, 'b')})
    """
    answer = routing.get("call_id")
    attempts: Sequence[Any] = routing.get("attempts") or ()
    if len(attempts) == 1 and type(attempts[0]) is dict and attempts[0].get("error_kind") is None:
        only = attempts[0]  # the common case: answered at the first attempt
        key = answer or only.get("call_id") or f"{fallback_id}:1"
        return str(key), {key: to_record(routing.get("cost_usd"), only.get("model"))}
    records: dict[str, Record] = {}
    key = ""
    for i, attempt in enumerate(attempts, start=1):
        call_id = attempt.get("call_id") or f"{fallback_id}:{i}"
        if attempt.get("error_kind") is None:
            key = answer or call_id
            records[key] = to_record(routing.get("cost_usd"), attempt.get("model"))
        else:
            key = call_id
            records[key] = to_record(attempt.get("cost_usd"), attempt.get("model"))
    if not records:
        return None
    return str(answer or key), records


def _group(message: Any, position: int) -> tuple[str, dict[str, Record]] | None:
    # exact types first: these run for every new message of every put
    if type(message) is not AIMessage and not isinstance(message, AIMessage):
        return None
    routing = message.response_metadata.get("routing")
    if type(routing) is not dict and not isinstance(routing, Mapping):
        return None
    return routing_records(routing, str(message.id or f"message-{position}"))


def message_groups(messages: Sequence[Any]) -> Iterator[tuple[str, dict[str, Record]]]:
    """(answer call id, records of its attempts) of each routed AIMessage of ``messages``."""
    for position, message in enumerate(messages):
        found = _group(message, position)
        if found is not None:
            yield found


def new_message_groups(
    messages: Sequence[Any], seen: set[str]
) -> list[tuple[str, dict[str, Record]]]:
    """Like :func:`message_groups` for the messages not in ``seen`` (by id; ids are added).

    Walks from the end and stops at the first message already seen: ``add_messages`` appends
    new messages (and replaces updated ones in place, keeping their id), so a put costs only
    the messages it adds.
    """
    found: list[tuple[str, dict[str, Record]]] = []
    position = len(messages)
    for message in reversed(messages):
        position -= 1
        mid = getattr(message, "id", None)
        if mid is not None:
            if mid in seen:
                break
            seen.add(mid)
        group = _group(message, position)
        if group is not None:
            found.append(group)
    found.reverse()
    return found


def is_message_list(value: Any) -> bool:
    """True for a non-empty list whose first or last item is a message."""
    return (
        type(value) is list
        and bool(value)
        and (isinstance(value[-1], BaseMessage) or isinstance(value[0], BaseMessage))
    )


def summarize(records: Iterable[Record]) -> dict[str, Any]:
    """The ``routing_*`` metadata keys of some records (exact fsum; unknown never 0).

    >>> summarize([(0.1, "m"), (None, "n"), (0.2, "m")])  # doctest: +NORMALIZE_WHITESPACE
    {'routing_cost_usd': 0.30000000000000004, 'routing_unknown_cost_calls': 1,
     'routing_models': ['m', 'n'], 'routing_calls': 3}
    """
    known: list[float] = []
    unknown = 0
    models: set[str] = set()
    calls = 0
    for cost, model in records:
        calls += 1
        if cost is None:
            unknown += 1
        else:
            known.append(cost)
        if model is not None:
            models.add(model)
    return {
        "routing_cost_usd": math.fsum(known),
        "routing_unknown_cost_calls": unknown,
        "routing_models": sorted(models),
        "routing_calls": calls,
    }


def state_summary(channel_values: Mapping[str, Any]) -> dict[str, Any]:
    """Cost keys of one checkpoint's values alone: the ledger, else the routed messages."""
    costs = channel_values.get(LEDGER_CHANNEL)
    if isinstance(costs, list | tuple):
        return Ledger().read(costs).summary({})
    merged: dict[str, Record] = {}
    for value in channel_values.values():
        if is_message_list(value):
            for _, records in message_groups(value):
                for key, rec in records.items():
                    merged.setdefault(key, rec)
    return summarize(merged.values()) if merged else {}


def state_entries(channel_values: Mapping[str, Any], thread_id: str) -> list[dict[str, Any]]:
    """Ledger entries (dicts) of one checkpoint's values: the ``costs`` channel, else the
    entries of the routed AIMessages (deduplicated by call id); ``thread_id`` fills a gap."""
    costs = channel_values.get(LEDGER_CHANNEL)
    if isinstance(costs, list | tuple):
        raw = [e if isinstance(e, Mapping) else _as_dict(e) for e in costs]
    else:
        raw = []
        for value in channel_values.values():
            if is_message_list(value):
                for position, message in enumerate(value):
                    routing = _routing_of(message)
                    if routing is not None:
                        fallback = str(message.id or f"message-{position}")
                        entries = entries_from_routing(
                            routing, message.usage_metadata, fallback_id=fallback
                        )
                        raw.extend(e.to_dict() for e in entries)
    out: dict[str, dict[str, Any]] = {}
    for entry in raw:
        item = dict(entry)
        if not item.get("thread_id"):
            item["thread_id"] = thread_id
        out.setdefault(str(item.get("call_id")), item)
    return list(out.values())


def _as_dict(entry: Any) -> dict[str, Any]:
    to_dict = getattr(entry, "to_dict", None)
    return dict(to_dict()) if callable(to_dict) else {}


def _routing_of(message: Any) -> Mapping[str, Any] | None:
    if not isinstance(message, AIMessage):
        return None
    routing = message.response_metadata.get("routing")
    return routing if isinstance(routing, Mapping) else None


_BULK = 8
"""Above this many new entries, a ledger is read with comprehensions (a first read)."""


class Ledger:
    """Running totals of one ledger channel (known costs, unknown count, models).

    The ``add_costs`` reducer already keeps each call id once, so call ids are only collected
    (lazily) to merge the handler's entries.
    """

    __slots__ = ("_ids", "_sorted", "entries", "known", "last", "models", "unknown")

    def __init__(self) -> None:
        self.entries: list[Any] | tuple[Any, ...] = ()
        self.known: list[float] = []
        self.unknown = 0
        self.models: set[str] = set()
        self.last: Any = None
        self._ids: set[str] | None = None
        self._sorted: list[str] = []  # ``models`` sorted (a new list whenever it changes)

    def read(self, entries: list[Any] | tuple[Any, ...]) -> Ledger:
        """Add the entries appended since the last read (what ``add_costs`` does); a ledger
        that was not appended to is read again in full (into a new object, returned).

        A put usually brings one new entry: it is read in a plain loop (before Python 3.12
        each comprehension is a function call of its own); many are read in bulk.

        >>> ledger = Ledger().read([{"call_id": "a", "model": "m", "cost_usd": 0.5}])
        >>> ledger = ledger.read([*ledger.entries, {"call_id": "b", "model": "n", "cost_usd": None}])
        >>> ledger.known, ledger.unknown, ledger.summary({})["routing_models"]
        ([0.5], 1, ['m', 'n'])
        """
        n = len(self.entries)
        start = 0
        if 0 < n <= len(entries):
            tail = entries[n - 1]
            if (
                tail.get("call_id") if type(tail) is dict else _field(tail, "call_id")
            ) == self.last:
                start = n
        totals = self if start or not n else Ledger()
        if len(entries) - start > _BULK:
            unknown, new_model = totals._add_bulk(entries[start:])
        else:
            unknown, new_model = totals._add_few(entries, start)
        if new_model:
            totals._sorted = sorted(totals.models)
        totals.unknown += unknown
        totals.entries = entries
        if entries:
            last = entries[-1]
            totals.last = last.get("call_id") if type(last) is dict else _field(last, "call_id")
        else:
            totals.last = None
        totals._ids = None
        return totals

    def _add_few(self, entries: Sequence[Any], start: int) -> tuple[int, bool]:
        """Add ``entries[start:]`` one by one: (unknown costs, whether a model is new)."""
        known, models = self.known, self.models
        unknown, new_model = 0, False
        for i in range(start, len(entries)):
            entry = entries[i]
            if type(entry) is dict:  # the ledger's shape
                cost, model = entry.get("cost_usd"), entry.get("model")
            else:  # CostEntry objects, other mappings
                cost, model = _field(entry, "cost_usd"), _field(entry, "model")
            if type(cost) is float and cost - cost == 0.0 and cost >= 0.0:  # the common case
                known.append(cost)
            elif cost is None:
                unknown += 1
            else:  # ints, numpy scalars, nan, garbage
                value = to_record(cost, None)[0]
                if value is None:
                    unknown += 1
                else:
                    known.append(value)
            if type(model) is str and model and model not in models:
                models.add(model)
                new_model = True
        return unknown, new_model

    def _add_bulk(self, tail: Sequence[Any]) -> tuple[int, bool]:
        """Like :meth:`_add_few` for many entries (a first read): comprehensions, faster in
        bulk."""
        try:  # dicts (the ledger's shape)
            costs = [e.get("cost_usd") for e in tail]
            names = {e.get("model") for e in tail}
        except AttributeError:  # CostEntry objects
            costs = [_field(e, "cost_usd") for e in tail]
            names = {_field(e, "model") for e in tail}
        finite = [c for c in costs if type(c) is float and c - c == 0.0 and c >= 0.0]
        self.known.extend(finite)
        unknown = costs.count(None)
        if len(finite) + unknown != len(costs):  # ints, numpy scalars, nan, garbage
            for cost in costs:
                if cost is None or (type(cost) is float and cost - cost == 0.0 and cost >= 0.0):
                    continue
                value = to_record(cost, None)[0]
                if value is None:
                    unknown += 1
                else:
                    self.known.append(value)
        before = len(self.models)
        self.models.update([m for m in names if type(m) is str and m])
        return unknown, len(self.models) != before

    def ids(self) -> set[str]:
        if self._ids is None:
            self._ids = {str(_field(e, "call_id")) for e in self.entries}
        return self._ids

    def summary(self, extra: Mapping[str, Record]) -> dict[str, Any]:
        """The totals plus the ``extra`` records whose call id the ledger does not have."""
        known, unknown, models = self.known, self.unknown, self._sorted
        calls = len(self.entries)
        if extra:
            ids = self.ids()
            more = [rec for call_id, rec in extra.items() if call_id not in ids]
            if more:
                known, names = list(known), set(self.models)
                for cost, model in more:
                    if cost is None:
                        unknown += 1
                    else:
                        known.append(cost)
                    if model is not None:
                        names.add(model)
                calls += len(more)
                models = sorted(names)
        return {  # the models list is shared with earlier summaries: never mutated
            "routing_cost_usd": math.fsum(known),
            "routing_unknown_cost_calls": unknown,
            "routing_models": models,
            "routing_calls": calls,
        }
