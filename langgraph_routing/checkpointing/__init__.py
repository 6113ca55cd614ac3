"""Checkpointing: the cost-stamping saver adapter, opening a saver from a URL, threads.

- :class:`RoutingCheckpointer` wraps any LangGraph saver and stamps each checkpoint's metadata
  with the thread's cost (``routing_cost_usd``, ``routing_calls``, ...), for any graph state;
- :func:`open_checkpointer` opens ``memory://``, ``sqlite:///...`` or ``postgresql://...``;
- :func:`list_threads` / :func:`resume_thread` / :func:`resume_failed` list and resume threads.

Everything here is also importable from ``langgraph_routing``.
"""

from langgraph_routing.checkpointing._adapter import RoutingCheckpointer, routing_summary
from langgraph_routing.checkpointing._open import open_checkpointer, redact_url
from langgraph_routing.checkpointing._resume import (
    ResumeOutcome,
    aresume_failed,
    aresume_thread,
    resume_failed,
    resume_thread,
)
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
    "RoutingCheckpointer",
    "ThreadInfo",
    "ThreadStatus",
    "alist_threads",
    "aresume_failed",
    "aresume_thread",
    "list_threads",
    "open_checkpointer",
    "redact_url",
    "resume_failed",
    "resume_thread",
    "routing_summary",
    "short_error",
    "thread_info",
]
