"""Routing and cost on traced runs (LangSmith and any tracer with a ``run_map``).

The LLM run gets the model actually used (``ls_model_name``), the routing fields and the cost;
the root run of the agent accumulates ``routing_cost_usd`` and ``routing_calls`` while it is still
open, so its final record carries the run's total.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun

_lock = threading.Lock()


def _metadata_of(run: Any) -> dict[str, Any] | None:
    extra = getattr(run, "extra", None)
    if not isinstance(extra, dict):
        return None
    meta = extra.setdefault("metadata", {})
    return meta if isinstance(meta, dict) else None


def annotate_trace(
    run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None,
    routing: Mapping[str, Any],
) -> None:
    """Add routing fields and cost to the traced LLM run, and the cost to its root run."""
    if run_manager is None:
        return
    run_maps = [
        m for h in run_manager.handlers if isinstance(m := getattr(h, "run_map", None), dict)
    ]
    if not run_maps:  # no tracer on this call
        return
    fields = {
        "ls_model_name": routing["model"],
        "routing_task": routing["task"],
        "routing_model": routing["model"],
        "routing_role": routing["role"],
        "routing_reason": routing["reason"],
        "routing_attempts": len(routing["attempts"]),
        "cost_usd": routing.get("cost_usd"),
        "cost_source": routing.get("cost_source"),
    }
    health = routing.get("health")
    if health:  # what the circuit breakers did: models skipped (and why), half-open probes
        fields["routing_health_skipped"] = [s["model"] for s in health["skipped"]]
        fields["routing_health_probes"] = list(health["probes"])
    paid = [a["cost_usd"] for a in routing["attempts"] if a.get("cost_usd") is not None]
    for run_map in run_maps:
        meta = _metadata_of(run_map.get(str(run_manager.run_id)))
        if meta is not None:
            meta.update(fields)
        root = run_map.get(str(routing.get("run_id")))
        root_meta = _metadata_of(root) if root is not None else None
        if root_meta is not None:
            with _lock:
                root_meta["routing_cost_usd"] = math.fsum(
                    [root_meta.get("routing_cost_usd") or 0.0, *paid]
                )
                root_meta["routing_calls"] = int(root_meta.get("routing_calls") or 0) + len(
                    routing["attempts"]
                )
                if routing.get("cost_usd") is None:
                    root_meta["routing_unknown_cost_calls"] = (
                        int(root_meta.get("routing_unknown_cost_calls") or 0) + 1
                    )
