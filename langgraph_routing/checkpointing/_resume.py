"""Resuming threads: one from its last checkpoint, or every failed one of a checkpointer.

Finished nodes are not run again (their results are in the checkpoint); a thread that fails
again is reported with a short, secret-free error and the others still run. Which threads
failed is read by :func:`~langgraph_routing.checkpointing._threads.list_threads`.

A resume runs with ``durability="sync"`` by default: each finished step's checkpoint is
written before the next step starts. With LangGraph's default (``"async"``, written while the
next step runs), a process killed during a step could lose the step before it, which would then
be run, and paid for, again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.base import RunnableBindingBase
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.pregel import Pregel
from langgraph.types import Durability

from langgraph_routing.checkpointing._threads import (
    ThreadInfo,
    ThreadStatus,
    alist_threads,
    list_threads,
    short_error,
    thread_info,
)

__all__ = [
    "ResumeOutcome",
    "aresume_failed",
    "aresume_thread",
    "resume_failed",
    "resume_thread",
]


@dataclass(frozen=True)
class ResumeOutcome:
    """The result of resuming one thread: ``ok`` and its status afterwards, or the error."""

    thread_id: str
    ok: bool
    status: ThreadStatus | None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-safe dict."""
        return asdict(self)


def _thread_config(thread_id: str, config: dict[str, Any]) -> RunnableConfig:
    merged: dict[str, Any] = dict(config)
    merged["configurable"] = {**(config.get("configurable") or {}), "thread_id": thread_id}
    out: RunnableConfig = merged  # type: ignore[assignment]
    return out


def _run_kwargs(graph: Runnable[Any, Any], durability: Durability | None) -> dict[str, Any]:
    """``durability`` for a LangGraph graph, also inside bindings (``with_config``, ``bind``,
    ``with_retry``); nothing for other runnables, nor when a binding already sets one."""
    target: Any = graph
    while isinstance(target, RunnableBindingBase):
        if "durability" in target.kwargs:
            return {}  # the caller's own choice (graph.bind(durability=...)) stands
        target = target.bound
    return {"durability": durability} if durability and isinstance(target, Pregel) else {}


def resume_thread(
    graph: Runnable[Any, Any],
    thread_id: str,
    *,
    durability: Durability | None = "sync",
    **config: Any,
) -> Any:
    """Resume a thread from its last checkpoint: ``graph.invoke(None, {thread_id})``.

    Finished nodes are not run again. ``durability`` (``"sync"`` by default: a process killed
    mid-resume loses no finished step; None: the graph's own default) is LangGraph's. Extra
    keyword arguments are config keys (``recursion_limit=...``, ``configurable={...}``,
    ``callbacks=[...]``).

    Example::

        result = resume_thread(graph, "t1", recursion_limit=50)
    """
    return graph.invoke(None, _thread_config(thread_id, config), **_run_kwargs(graph, durability))


async def aresume_thread(
    graph: Runnable[Any, Any],
    thread_id: str,
    *,
    durability: Durability | None = "sync",
    **config: Any,
) -> Any:
    """Async :func:`resume_thread`.

    Example::

        result = await aresume_thread(graph, "t1")
    """
    return await graph.ainvoke(
        None, _thread_config(thread_id, config), **_run_kwargs(graph, durability)
    )


def _status_of(checkpointer: BaseCheckpointSaver[Any], thread_id: str) -> ThreadStatus | None:
    tup = checkpointer.get_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}})
    return thread_info(tup).status if tup else None


async def _astatus_of(
    checkpointer: BaseCheckpointSaver[Any], thread_id: str
) -> ThreadStatus | None:
    tup = await checkpointer.aget_tuple(
        {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    )
    return thread_info(tup).status if tup else None


def _failed_ids(infos: list[ThreadInfo]) -> Iterator[str]:
    return (i.thread_id for i in infos if i.status == "failed")


def resume_failed(
    graph: Runnable[Any, Any],
    checkpointer: BaseCheckpointSaver[Any],
    *,
    thread_ids: Iterable[str] | None = None,
    **config: Any,
) -> list[ResumeOutcome]:
    """Resume every failed thread of ``checkpointer`` (or those of ``thread_ids``), one after
    the other.

    A thread that fails again is reported (``ok=False``, short secret-free ``error``) and the
    others still run.

    Example::

        for outcome in resume_failed(graph, checkpointer):
            print(outcome.thread_id, outcome.ok, outcome.status, outcome.error)
    """
    outcomes: list[ResumeOutcome] = []
    ids = list(_failed_ids(list_threads(checkpointer))) if thread_ids is None else thread_ids
    for thread_id in ids:
        try:
            resume_thread(graph, thread_id, **config)
        except Exception as exc:
            outcomes.append(ResumeOutcome(thread_id, False, "failed", short_error(exc)))
        else:
            outcomes.append(ResumeOutcome(thread_id, True, _status_of(checkpointer, thread_id)))
    return outcomes


async def aresume_failed(
    graph: Runnable[Any, Any], checkpointer: BaseCheckpointSaver[Any], **config: Any
) -> list[ResumeOutcome]:
    """Async :func:`resume_failed`.

    Example::

        outcomes = await aresume_failed(graph, checkpointer)
    """
    outcomes: list[ResumeOutcome] = []
    for thread_id in list(_failed_ids(await alist_threads(checkpointer))):
        try:
            await aresume_thread(graph, thread_id, **config)
        except Exception as exc:
            outcomes.append(ResumeOutcome(thread_id, False, "failed", short_error(exc)))
        else:
            status = await _astatus_of(checkpointer, thread_id)
            outcomes.append(ResumeOutcome(thread_id, True, status))
    return outcomes
