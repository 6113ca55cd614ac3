"""The threads of a checkpointer with their status and cost (resuming them: ``_resume``).

A thread's status is read from its latest root checkpoint tuple:

- pending ``__error__`` writes -> ``"failed"`` (LangGraph saved the state before the failing
  node and stored the node's error as a pending write);
- pending ``__interrupt__`` writes -> ``"interrupted"`` (a node called ``interrupt()``);
- no next node -> ``"done"``;
- otherwise ``"running"`` (or ``"failed"`` when ``stale_after`` seconds passed without a new
  checkpoint: the process running it probably stopped).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

from langgraph_routing.checkpointing._adapter import routing_summary
from langgraph_routing.checkpointing._intents import CallIntents, intent_entry
from langgraph_routing.checkpointing._summary import LEDGER_CHANNEL, state_entries, to_record

__all__ = [
    "ThreadInfo",
    "ThreadStatus",
    "alist_threads",
    "interrupted_entries",
    "list_threads",
    "short_error",
    "thread_info",
]

ThreadStatus = Literal["done", "failed", "interrupted", "running"]

_ERROR = "__error__"
_INTERRUPT = "__interrupt__"
_MAX_ERROR_CHARS = 300
_SECRET_PATTERNS = (
    (re.compile(r"\b(sk|pk|rk)-[A-Za-z0-9_\-]{3,}"), r"\1-***"),
    (re.compile(r"(?i)\bbearer\s+[^\s'\",]+"), "Bearer ***"),
    (re.compile(r"(//[^/\s:@]*:)[^@\s/]+@"), r"\1***@"),
    (
        re.compile(
            r"(?i)\b(api[_-]?key|password|passwd|pwd|secret|token)(['\"]?\s*[=:]\s*['\"]?)[^\s'\",}]+"
        ),
        r"\1\2***",
    ),
)


def short_error(value: Any) -> str:
    """A short, secret-free text for an error (or a stored error write).

    >>> short_error("ValueError('bad key sk-abc123 for https://u:pw@host')")
    "ValueError('bad key sk-*** for https://u:***@host')"
    """
    text = value if isinstance(value, str) else f"{type(value).__name__}: {value}"
    if isinstance(value, str) and len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]  # LangGraph stores the error write as a JSON-quoted repr
    for pattern, repl in _SECRET_PATTERNS:
        text = pattern.sub(repl, text)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"


@dataclass(frozen=True)
class ThreadInfo:
    """What one thread of a checkpointer looks like now. ``to_dict()`` is JSON-safe.

    Example::

        for info in list_threads(checkpointer):
            print(info.thread_id, info.status, info.cost_usd, info.last_error)
    """

    thread_id: str
    status: ThreadStatus
    cost_usd: float | None
    stop_reason: str | None
    models: tuple[str, ...]
    steps: int | None
    updated_at: str | None
    last_error: str | None
    unknown_cost_calls: int = 0
    next_nodes: tuple[str, ...] = ()
    calls: int = 0
    """Gateway calls counted in ``cost_usd`` (failed attempts included)."""
    interrupted_calls: int = 0
    """Calls in flight when their process died (counted in ``cost_usd`` at their worst case;
    see ``checkpointing._intents``)."""

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-safe dict (tuples become lists)."""
        data = asdict(self)
        data["models"] = list(self.models)
        data["next_nodes"] = list(self.next_nodes)
        return data


def _next_nodes(tup: CheckpointTuple) -> tuple[str, ...]:
    """Nodes LangGraph would run next, read from the checkpoint's trigger channels."""
    checkpoint = tup.checkpoint
    values = checkpoint.get("channel_values") or {}
    versions = checkpoint.get("channel_versions") or {}
    seen = checkpoint.get("versions_seen") or {}
    nodes: set[str] = set()
    for channel in values:
        if channel.startswith("branch:to:"):
            node = channel[len("branch:to:") :]
        elif channel == "__start__":
            node = "__start__"
        elif channel == "__pregel_tasks":  # pending Send()s (an empty list is none)
            if values.get(channel):
                nodes.add("(send)")
            continue
        else:
            continue
        current = versions.get(channel)
        if current is None or seen.get(node, {}).get(channel) != current:
            nodes.add(node)
    return tuple(sorted(nodes))


def _age_s(ts: str | None) -> float | None:
    if not ts:
        return None
    try:
        when = datetime.fromisoformat(ts)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (datetime.now(UTC) - when).total_seconds()


def _ledger_ids(tup: CheckpointTuple) -> dict[str, Any] | None:
    """The ``costs`` ledger of one checkpoint by call id (None: the state has no ledger)."""
    values = tup.checkpoint.get("channel_values") or {}
    if not isinstance(values.get(LEDGER_CHANNEL), list | tuple):
        return None
    return {str(e.get("call_id")): e for e in state_entries(values, "")}


def lost_ledger_entries(
    tuples: Iterable[CheckpointTuple], latest: CheckpointTuple
) -> list[dict[str, Any]]:
    """Ledger entries an earlier root checkpoint of the thread holds and ``latest`` does not.

    The ``costs`` channel only grows (``add_costs``), so such an entry was paid by a run whose
    state another run overwrote: two runs on one thread at once, each writing its own branch
    (LangGraph keeps the last writer's state). Merging them back makes the thread's ledger
    exact whatever the interleaving, across processes too."""
    have = _ledger_ids(latest)
    if have is None:
        return []
    lost: dict[str, Any] = {}
    for tup in tuples:
        if tup is latest or tup.config["configurable"].get("checkpoint_ns", ""):
            continue
        for call_id, entry in (_ledger_ids(tup) or {}).items():
            if call_id not in have:
                lost.setdefault(call_id, entry)
    return list(lost.values())


def _with_lost(summary: dict[str, Any], lost: list[dict[str, Any]]) -> dict[str, Any]:
    if not lost:
        return summary
    merged = dict(summary)
    known = [r[0] for r in (to_record(e.get("cost_usd"), e.get("model")) for e in lost)]
    merged["routing_cost_usd"] = float(summary.get("routing_cost_usd") or 0.0) + sum(
        c for c in known if c is not None
    )
    merged["routing_unknown_cost_calls"] = int(summary.get("routing_unknown_cost_calls") or 0) + (
        known.count(None)
    )
    merged["routing_calls"] = int(summary.get("routing_calls") or 0) + len(lost)
    models = {str(m) for m in summary.get("routing_models") or ()}
    models.update(str(e["model"]) for e in lost if e.get("model"))
    merged["routing_models"] = sorted(models)
    return merged


def thread_info(
    tup: CheckpointTuple,
    *,
    stale_after: float | None = None,
    lost: list[dict[str, Any]] | None = None,
) -> ThreadInfo:
    """Build a :class:`ThreadInfo` from a thread's latest checkpoint tuple (and the ledger
    entries concurrent runs left in earlier checkpoints: :func:`lost_ledger_entries`)."""
    writes = tup.pending_writes or []
    errors = [value for _, channel, value in writes if channel == _ERROR]
    interrupted = any(channel == _INTERRUPT for _, channel, _ in writes)
    next_nodes = _next_nodes(tup)
    ts = tup.checkpoint.get("ts")
    last_error: str | None = short_error(errors[-1]) if errors else None
    status: ThreadStatus
    if errors:
        status = "failed"
    elif interrupted:
        status = "interrupted"
    elif not next_nodes:
        status = "done"
    else:
        status = "running"
        age = _age_s(ts)
        if stale_after is not None and age is not None and age > stale_after:
            status = "failed"
            last_error = f"no new checkpoint for {age:.0f}s: the process running it stopped?"
    meta: dict[str, Any] = dict(tup.metadata or {})
    if "routing_cost_usd" in meta:
        # Stamped by RoutingCheckpointer: the thread's cost merged from the ledger or the
        # messages and the attached handler (failed attempts included).
        summary = {k: v for k, v in meta.items() if k.startswith("routing_")}
    else:  # a plain saver: read this checkpoint's values (ledger, else routed messages)
        summary = routing_summary(tup.checkpoint.get("channel_values") or {})
        if not summary:
            summary = {k: v for k, v in meta.items() if k.startswith("routing_")}
    summary = _with_lost(summary, lost or [])
    cost = summary.get("routing_cost_usd")
    stop = summary.get("routing_stop_reason")
    step = meta.get("step")
    return ThreadInfo(
        thread_id=str(tup.config["configurable"]["thread_id"]),
        status=status,
        cost_usd=float(cost) if isinstance(cost, int | float) else None,
        stop_reason=stop if isinstance(stop, str) else None,
        models=tuple(str(m) for m in summary.get("routing_models") or ()),
        steps=step if isinstance(step, int) else None,
        updated_at=ts if isinstance(ts, str) else None,
        last_error=last_error,
        unknown_cost_calls=int(summary.get("routing_unknown_cost_calls") or 0),
        next_nodes=next_nodes,
        calls=int(summary.get("routing_calls") or 0),
        interrupted_calls=sum(1 for e in lost or () if e.get("source") == "interrupted"),
    )


def _latest_per_thread(
    tuples: Iterable[CheckpointTuple],
) -> list[tuple[CheckpointTuple, list[CheckpointTuple]]]:
    """Per thread: its latest root checkpoint and all its root checkpoints."""
    latest: dict[str, CheckpointTuple] = {}
    every: dict[str, list[CheckpointTuple]] = {}
    for tup in tuples:
        conf = tup.config["configurable"]
        if conf.get("checkpoint_ns", ""):
            continue  # subgraph checkpoints belong to their parent's thread
        thread_id = str(conf["thread_id"])
        every.setdefault(thread_id, []).append(tup)
        best = latest.get(thread_id)
        if best is None or conf["checkpoint_id"] > best.config["configurable"]["checkpoint_id"]:
            latest[thread_id] = tup
    return [(tup, every[thread_id]) for thread_id, tup in latest.items()]


def interrupted_entries(
    checkpointer: BaseCheckpointSaver[Any], thread_id: str | None = None
) -> list[dict[str, Any]]:
    """Ledger entries (``source="interrupted"``) of the calls whose process died mid-request,
    from the intents the checkpointer keeps (none for a saver without intents)."""
    intents: CallIntents | None = getattr(checkpointer, "intents", None)
    if intents is None:
        return []
    return [intent_entry(i) for i in intents.open_intents(thread_id)]


def _infos(
    tuples: Iterable[CheckpointTuple],
    stale_after: float | None,
    interrupted: list[dict[str, Any]],
) -> list[ThreadInfo]:
    by_thread: dict[str, list[dict[str, Any]]] = {}
    for entry in interrupted:
        by_thread.setdefault(str(entry["thread_id"]), []).append(entry)
    infos = [
        thread_info(
            t,
            stale_after=stale_after,
            lost=lost_ledger_entries(history, t)
            + by_thread.get(str(t.config["configurable"]["thread_id"]), []),
        )
        for t, history in _latest_per_thread(tuples)
    ]
    infos.sort(key=lambda i: (i.updated_at or "", i.thread_id), reverse=True)
    return infos


def list_threads(
    checkpointer: BaseCheckpointSaver[Any], *, stale_after: float | None = None
) -> list[ThreadInfo]:
    """List every thread of ``checkpointer`` with its status, newest first.

    Reads every stored checkpoint once (one ``list(None)`` call): fine for a developer's or a
    CI's store, slow for a very large one.

    Example::

        failed = [t.thread_id for t in list_threads(checkpointer) if t.status == "failed"]
    """
    # Materialise before anything else touches the saver (SqliteSaver holds its lock while
    # a list() iterator is open).
    tuples: list[CheckpointTuple] = list(checkpointer.list(None))
    return _infos(tuples, stale_after, interrupted_entries(checkpointer))


async def alist_threads(
    checkpointer: BaseCheckpointSaver[Any], *, stale_after: float | None = None
) -> list[ThreadInfo]:
    """Async :func:`list_threads`.

    Example::

        infos = await alist_threads(checkpointer)
    """
    items: AsyncIterator[CheckpointTuple] = checkpointer.alist(None)
    tuples = [t async for t in items]
    return _infos(tuples, stale_after, interrupted_entries(checkpointer))
