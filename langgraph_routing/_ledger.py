"""Ledger entries: one small, JSON-safe record per gateway call, keyed by the gateway's call id.

Cost is read, never guessed silently: ``x-litellm-response-cost`` (``source="header"``), else
``usage.cost`` (``"usage"``), else the policy's prices (``"estimate"``), else ``cost_usd=None``
with ``source="unknown"``. Never 0 for unknown.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

CostSource = Literal["header", "usage", "estimate", "suspect", "interrupted", "unknown"]
CallStatus = Literal["ok", "error", "cancelled"]
COST_HEADER = "x-litellm-response-cost"
CALL_ID_HEADER = "x-litellm-call-id"
MAX_CALL_USD = 1_000_000.0
"""No single call is trusted to cost more than this, whatever the gateway says."""


def parse_cost(value: Any) -> float | None:
    """A cost value from a header or a usage block, or None when missing or garbage.

    >>> parse_cost("0.00045"), parse_cost("abc"), parse_cost("-1"), parse_cost("nan")
    (0.00045, None, None, None)
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        cost = float(value)
    except (TypeError, ValueError):
        return None
    return cost if math.isfinite(cost) and cost >= 0 else None


def trusted(cost: float | None, ceiling: float | None) -> bool:
    """Whether a reported cost is believable: at most ``ceiling`` (a call's worst case x the
    policy's factor) and never above :data:`MAX_CALL_USD`."""
    if cost is None:
        return True
    return cost <= MAX_CALL_USD and (ceiling is None or cost <= ceiling)


def header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    """A response header by lower-case name (gateways and SDKs differ in case)."""
    if not headers:
        return None
    value = headers.get(name)
    if value is None:
        for k, v in headers.items():
            if k.lower() == name:
                value = v
                break
    return None if value is None else str(value)


def resolve_cost(
    headers: Mapping[str, Any] | None,
    usage_cost: Any,
    estimate: float | None,
    ceiling: float | None = None,
) -> tuple[float | None, CostSource]:
    """Pick the cost of one call and say where it came from. A reported cost above
    ``ceiling`` (or :data:`MAX_CALL_USD`) is not trusted: the estimate stands in for it, with
    ``source="suspect"``, so no sum is ever broken by an absurd header.

    >>> resolve_cost({"x-litellm-response-cost": "1e308"}, None, 0.002, ceiling=0.5)
    (0.002, 'suspect')
    """
    for reported, source in ((header(headers, COST_HEADER), "header"), (usage_cost, "usage")):
        cost = parse_cost(reported)
        if cost is not None:
            if trusted(cost, ceiling):
                return cost, source  # type: ignore[return-value]
            return estimate, "suspect"
    if estimate is not None and math.isfinite(estimate) and estimate >= 0:
        return estimate, "estimate"
    return None, "unknown"


@dataclass(frozen=True, slots=True)
class CostEntry:
    """One gateway call in the ledger. JSON-safe via :meth:`to_dict`; holds no secret."""

    call_id: str
    run_id: str | None = None
    thread_id: str | None = None
    node: str | None = None
    agent: str | None = None
    step: int | None = None
    task: str | None = None
    model: str | None = None
    role: str | None = None
    attempt: int = 1
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float | None = None
    source: CostSource = "unknown"
    status: CallStatus = "ok"
    latency_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The entry as a plain dict (what the ``costs`` state channel holds): every field is a
        scalar, so no deep copy (``dataclasses.asdict`` takes 15x as long)."""
        return {name: getattr(self, name) for name in _ENTRY_FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CostEntry:
        """Inverse of :meth:`to_dict`; unknown keys are ignored."""
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in fields})


_ENTRY_FIELDS = tuple(CostEntry.__dataclass_fields__)


def dedupe(entries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Entries with each call id kept once (first wins), order preserved."""
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for e in entries:
        cid = str(e.get("call_id"))
        if cid in seen:
            continue
        seen.add(cid)
        out.append(dict(e))
    return out


def add_costs(
    left: list[dict[str, Any]] | None, right: list[dict[str, Any]] | dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Reducer of the ``costs`` state channel: appends, deduplicating by call id.

    >>> add_costs([{"call_id": "a", "cost_usd": 1.0}], [{"call_id": "a", "cost_usd": 1.0}])
    [{'call_id': 'a', 'cost_usd': 1.0}]
    """
    new = [right] if isinstance(right, dict) else list(right or [])
    return dedupe([*(left or []), *new])


def total_usd(entries: Iterable[Mapping[str, Any]]) -> float:
    """Exact (fsum) total of the known costs of deduplicated entries."""
    return math.fsum(e["cost_usd"] for e in dedupe(entries) if e.get("cost_usd") is not None)


def entries_from_routing(
    routing: Mapping[str, Any],
    usage: Mapping[str, Any] | None,
    *,
    fallback_id: str,
    run_id: str | None = None,
) -> list[CostEntry]:
    """Ledger entries of one routed call: every failed attempt, then the one that answered.
    ``run_id`` is the run when the record has none."""
    usage = usage or {}
    attempts: Sequence[Mapping[str, Any]] = routing.get("attempts") or ()
    if len(attempts) == 1 and attempts[0].get("error_kind") is None:  # the common case
        return [_answer_entry(routing, usage, attempts[0], 1, fallback_id, run_id)]
    common: dict[str, Any] = {
        "run_id": routing.get("run_id") or run_id,
        "thread_id": routing.get("thread_id"),
        "node": routing.get("node"),
        "agent": routing.get("agent"),
        "step": routing.get("step"),
        "task": routing.get("task"),
        "role": routing.get("role"),
    }
    out: list[CostEntry] = []
    for i, attempt in enumerate(attempts, start=1):
        if attempt.get("error_kind") is None:
            out.append(_answer_entry(routing, usage, attempt, i, fallback_id, run_id))
        else:
            call_id = attempt.get("call_id") or f"{fallback_id}:{i}"
            cost = attempt.get("cost_usd")
            out.append(
                CostEntry(
                    call_id=call_id,
                    model=attempt.get("model"),
                    attempt=i,
                    cost_usd=cost,
                    source=attempt.get("cost_source")
                    or ("header" if cost is not None else "unknown"),
                    status="cancelled" if attempt.get("error_kind") == "hedged" else "error",
                    latency_s=attempt.get("latency_s"),
                    **common,
                )
            )
    return out


def _answer_entry(
    routing: Mapping[str, Any],
    usage: Mapping[str, Any],
    attempt: Mapping[str, Any],
    number: int,
    fallback_id: str,
    run_id: str | None,
) -> CostEntry:
    """The entry of the attempt that answered (positional: this runs on every routed call)."""
    in_details = usage.get("input_token_details") or {}
    out_details = usage.get("output_token_details") or {}
    return CostEntry(
        routing.get("call_id") or attempt.get("call_id") or f"{fallback_id}:{number}",
        routing.get("run_id") or run_id,
        routing.get("thread_id"),
        routing.get("node"),
        routing.get("agent"),
        routing.get("step"),
        routing.get("task"),
        attempt.get("model"),
        routing.get("role"),
        number,
        int(usage.get("input_tokens") or 0),
        int(usage.get("output_tokens") or 0),
        int(in_details.get("cache_read") or 0),
        int(out_details.get("reasoning") or 0),
        routing.get("cost_usd"),
        routing.get("cost_source") or "unknown",
        "ok",
        attempt.get("latency_s"),
    )
