"""Where a call sits in a run (and in which agent), and what every request of it carries.

:class:`CallContext` holds the run, thread, node and agent of one call (ids only, no secrets);
:meth:`CallContext.request_extras` turns them into the ``user`` field and LiteLLM's headers
(tags, spend-log metadata, the session id), the same for every attempt of the call.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables.config import var_child_runnable_config

__all__ = ["CallContext", "agent_of", "cache_key_of", "current_thread_id"]


def agent_of(metadata: Mapping[str, Any]) -> str | None:
    """The innermost named agent of a call: ``lc_agent_name``, else the subgraph the node runs
    in (from ``langgraph_checkpoint_ns``), else the node.

    >>> agent_of({"lc_agent_name": "math_expert", "langgraph_node": "model"})
    'math_expert'
    >>> agent_of({"langgraph_checkpoint_ns": "researcher:1|tools:2", "langgraph_node": "tools"})
    'researcher'
    >>> agent_of({"langgraph_checkpoint_ns": "agent:9", "langgraph_node": "agent"})
    'agent'
    """
    name = metadata.get("lc_agent_name")
    if isinstance(name, str) and name:
        return name
    ns = metadata.get("langgraph_checkpoint_ns") or metadata.get("checkpoint_ns")
    if isinstance(ns, str) and "|" in ns:
        return ns.split("|")[-2].split(":", 1)[0] or None
    node = metadata.get("langgraph_node")
    return node if isinstance(node, str) and node else None


def current_thread_id() -> str | None:
    """The thread of the runnable running now (its config's ``thread_id``), if any."""
    config = var_child_runnable_config.get() or {}
    thread = (config.get("configurable") or {}).get("thread_id") or (
        config.get("metadata") or {}
    ).get("thread_id")
    return str(thread) if thread else None


_MAX_EXTRAS = 4096
_EXTRAS: dict[tuple[str | None, ...], tuple[str | None, dict[str, str]]] = {}


def cache_key_of(thread_id: str) -> str:
    """The cache-affinity key of a thread (``prompt_cache_key``, LiteLLM's session id): stable
    across processes and resumes, and opaque (a thread id may carry user data).

    >>> cache_key_of("t1")
    'lgr-628b49d96dcde97a430dd4f597705899'
    """
    return "lgr-" + hashlib.sha256(thread_id.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class CallContext:
    """Where a call sits in a run: ids and LangGraph position (no secrets)."""

    run_id: str | None = None
    thread_id: str | None = None
    node: str | None = None
    step: int | None = None
    agent: str | None = None

    def request_extras(self, task: str) -> tuple[str | None, dict[str, str]]:
        """The ``user`` field and the LiteLLM headers attached to every request (a copy)."""
        # keyed without the step: a run's calls at successive steps share their extras
        key = (self.run_id, self.thread_id, self.node, self.agent, task)
        cached = _EXTRAS.get(key)
        if cached is None:
            cached = self._request_extras(task)
            if len(_EXTRAS) >= _MAX_EXTRAS:
                _EXTRAS.clear()
            _EXTRAS[key] = cached
        return cached[0], dict(cached[1])

    def _request_extras(self, task: str) -> tuple[str | None, dict[str, str]]:
        tags = [f"task:{task}"] + ([f"node:{self.node}"] if self.node else [])
        if self.agent and self.agent != self.node:
            tags.append(f"agent:{self.agent}")
        meta = {
            "run_id": self.run_id,
            "thread_id": self.thread_id,
            "node": self.node,
            "agent": self.agent,
            "task": task,
        }
        headers = {
            "x-litellm-tags": ",".join(tags),
            "x-litellm-spend-logs-metadata": json.dumps(meta, separators=(",", ":")),
            "x-litellm-include-cost-in-streaming-usage": "true",
        }
        if self.thread_id:  # LiteLLM's session: the thread's calls grouped in its spend logs
            headers["x-litellm-session-id"] = cache_key_of(self.thread_id)
        user = f"agent-run:{self.run_id}" if self.run_id else None
        return user, headers
