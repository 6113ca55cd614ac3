"""Knowing the root run of any LLM call.

LangChain gives a model call its own run id and its parent's, not the root's: inside a LangGraph
node the parent is the node. A tiny inline handler, added to every callback manager through
``register_configure_hook``, remembers each run's parent (bounded), so the root of any call can
be found by walking up. It stores ids only: no inputs, outputs or metadata.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.tracers.context import register_configure_hook


@dataclass(frozen=True)
class StartedRun:
    """The most recent chat model run started in the current context."""

    run_id: UUID
    parent_run_id: UUID | None
    metadata: dict[str, Any]


_LAST_START: ContextVar[StartedRun | None] = ContextVar(
    "langgraph_routing_last_start", default=None
)


def last_started_run() -> StartedRun | None:
    """The chat model run most recently started in this context (see :class:`RunTracker`)."""
    return _LAST_START.get()


class RunTracker(BaseCallbackHandler):
    """Remembers ``run_id -> parent_run_id`` for the most recent ``max_runs`` runs."""

    run_inline = True
    raise_error = False

    def __init__(self, max_runs: int = 200_000, max_roots: int = 10_000) -> None:
        self._parents: OrderedDict[UUID, UUID | None] = OrderedDict()
        self._spend: OrderedDict[str, dict[str, float | None]] = OrderedDict()
        self._max = max_runs
        self._max_roots = max_roots
        self._lock = threading.Lock()

    def record_cost(self, root: str, call_id: str, cost_usd: float | None) -> None:
        """Remember what one gateway call of the run ``root`` cost (by call id, so a replay
        changes nothing). Subagents and tools that call models inside the run count too."""
        with self._lock:
            calls = self._spend.get(root)
            if calls is None:
                calls = self._spend[root] = {}
                if len(self._spend) > self._max_roots:
                    self._spend.popitem(last=False)
            calls[call_id] = cost_usd

    def spend_of(self, root: str) -> dict[str, float | None]:
        """``call_id -> cost`` of every routed call made so far in the run ``root`` by this
        process (None: unknown cost)."""
        with self._lock:
            return dict(self._spend.get(root) or {})

    def _record(self, run_id: UUID, parent_run_id: UUID | None) -> None:
        with self._lock:
            self._parents[run_id] = parent_run_id
            if len(self._parents) > self._max:
                self._parents.popitem(last=False)

    def on_chain_start(
        self,
        serialized: Any,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self._record(run_id, parent_run_id)

    def on_chat_model_start(
        self,
        serialized: Any,
        messages: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._record(run_id, parent_run_id)
        # BaseChatModel.stream() does not hand its run manager to _stream(): remember the
        # start of the chat model run in this context so the model can still attribute it.
        _LAST_START.set(StartedRun(run_id, parent_run_id, dict(metadata or {})))

    def on_llm_start(
        self,
        serialized: Any,
        prompts: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self._record(run_id, parent_run_id)

    def on_tool_start(
        self,
        serialized: Any,
        input_str: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self._record(run_id, parent_run_id)

    def root_of(self, run_id: UUID, parent_run_id: UUID | None = None) -> UUID:
        """The outermost known ancestor of ``run_id``."""
        current = run_id
        parent = parent_run_id
        with self._lock:
            if parent is None:
                parent = self._parents.get(current)
            for _ in range(256):
                if parent is None:
                    return current
                current = parent
                parent = self._parents.get(current)
        return current


_TRACKER = RunTracker()
_installed = False
_install_lock = threading.Lock()


def run_tracker() -> RunTracker:
    """The process-wide tracker, registered with LangChain on first use (idempotent)."""
    global _installed
    if not _installed:
        with _install_lock:
            if not _installed:
                register_configure_hook(
                    ContextVar("langgraph_routing_run_tracker_default", default=_TRACKER),
                    inheritable=True,
                )
                _installed = True
    return _TRACKER


def current_root() -> str | None:
    """The root run of the graph step running now (None outside a run): from the running
    node's callback manager, whose parent is the node's run."""
    from langgraph.config import get_config

    try:
        callbacks = get_config().get("callbacks")
    except RuntimeError:
        return None
    parent = getattr(callbacks, "parent_run_id", None)
    return str(run_tracker().root_of(parent)) if parent is not None else None
