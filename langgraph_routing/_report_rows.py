"""Rows of a :class:`CostReport`: one breakdown group, and a savings comparison."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class CostRow:
    """One group of a :meth:`CostReport.breakdown`.

    ``cost_usd`` sums the known costs only; ``unknown`` counts the calls whose cost is unknown;
    ``share`` is ``cost_usd / total_usd`` of the report (0.0 when the total is 0).
    """

    key: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    unknown: int
    share: float

    @property
    def cost_text(self) -> str:
        """Cost for display: ``"$0.001200"``, ``"$0.001200 + 2 unknown"`` or ``"unknown"``."""
        return _cost_text(self.cost_usd, self.unknown, self.calls)


@dataclass(frozen=True, slots=True)
class Savings:
    """Result of :meth:`CostReport.savings_vs`.

    Only entries priced on both sides are compared (``compared_calls``); the others are counted
    in ``skipped_calls``. ``ratio = baseline_usd / actual_usd`` ("N times cheaper"): ``inf`` when
    the actual cost is 0 and the baseline is not, ``1.0`` when both are 0.

    Example:
        >>> Savings(baseline_usd=1.0, actual_usd=0.25, ratio=4.0, compared_calls=3,
        ...         skipped_calls=0).saved_usd
        0.75
    """

    baseline_usd: float
    actual_usd: float
    ratio: float
    compared_calls: int
    skipped_calls: int

    @property
    def saved_usd(self) -> float:
        """``baseline_usd - actual_usd`` (negative when the baseline would have been cheaper)."""
        return self.baseline_usd - self.actual_usd

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (an infinite ratio becomes ``None``)."""
        data = asdict(self)
        data["ratio"] = self.ratio if math.isfinite(self.ratio) else None
        data["saved_usd"] = self.saved_usd
        return data


def _money(value: float) -> str:
    return f"${value:.6f}"


def _cost_text(known: float, unknown: int, calls: int) -> str:
    if unknown and unknown == calls:
        return "unknown"
    return _money(known) + (f" + {unknown} unknown" if unknown else "")
