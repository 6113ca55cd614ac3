"""The routing agent for LangGraph Server (``langgraph.json`` points at :data:`graph`).

``langgraph dev`` (in-memory) or the ``langchain/langgraph-api`` image (Postgres + Redis) load
this file and serve :data:`graph`; the server supplies the checkpointer, so every thread's state,
cost ledger (``costs``) and routing log (``routing``) live in the server's store.

Configuration comes from the server's environment (read once, when the graph is built):

- ``LANGGRAPH_ROUTING_BASE_URL``: the OpenAI-compatible gateway (else the policy's
  ``gateway.base_url``);
- ``LANGGRAPH_ROUTING_POLICY``: a YAML/TOML policy file (default: ``RoutingPolicy.default()``);
- ``LANGGRAPH_ROUTING_BUDGET_USD``: a per-thread budget (optional);
- ``LANGGRAPH_ROUTING_CRITIQUE``: ``1``/``true`` adds the critique step.

The gateway key is read at call time from the variable the policy names (default
``LANGGRAPH_ROUTING_API_KEY``); it never enters the graph state.

The module is loaded by file path, so it imports the package absolutely. Loading it builds the
graph and reads the tokenizer's bundled data file; it does no network I/O.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from langgraph.graph.state import CompiledStateGraph

from langgraph_routing import RoutingPolicy, create_routing_agent
from langgraph_routing._tokens import count_text
from langgraph_routing.demo import DEMO_TOOLS

__all__ = ["ENV_VARS", "build_graph", "graph"]

ENV_VARS = (
    "LANGGRAPH_ROUTING_BASE_URL",
    "LANGGRAPH_ROUTING_POLICY",
    "LANGGRAPH_ROUTING_BUDGET_USD",
    "LANGGRAPH_ROUTING_CRITIQUE",
)
_TRUE = {"1", "true", "yes", "on"}


def _budget(env: Mapping[str, str]) -> float | None:
    raw = env.get("LANGGRAPH_ROUTING_BUDGET_USD", "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"LANGGRAPH_ROUTING_BUDGET_USD must be a number, got {raw!r}") from None


def build_graph(env: Mapping[str, str] | None = None) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The routing agent over the demo tools, configured from ``env`` (default ``os.environ``).

    >>> agent = build_graph({"LANGGRAPH_ROUTING_BASE_URL": "http://127.0.0.1:4000/v1"})
    >>> sorted(n for n in agent.get_graph().nodes if not n.startswith("__"))
    ['gate', 'plan', 'stop', 'synthesize', 'tool_select', 'tools']
    """
    env = os.environ if env is None else env
    policy_path = env.get("LANGGRAPH_ROUTING_POLICY", "").strip()
    policy = RoutingPolicy.from_file(policy_path) if policy_path else RoutingPolicy.default()
    return create_routing_agent(
        DEMO_TOOLS,
        policy=policy,
        base_url=env.get("LANGGRAPH_ROUTING_BASE_URL") or None,
        budget_usd=_budget(env),
        critique=env.get("LANGGRAPH_ROUTING_CRITIQUE", "").strip().lower() in _TRUE,
        name="agent",
    )


def _load_tokenizer() -> None:
    """Read the offline tokenizer's data now, while the server loads the graph: the first call
    would otherwise read it inside the server's event loop (``langgraph dev`` rejects blocking
    calls there)."""
    count_text("warm up")


graph = build_graph()
_load_tokenizer()
"""The compiled agent LangGraph Server serves as ``agent``."""
