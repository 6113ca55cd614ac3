"""Budgets in USD: the worst-case price of a call, checked before it is made."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ._errors import BudgetExceededError
from ._ledger import total_usd
from ._policy import ModelSpec


def reservation_usd(spec: ModelSpec, prompt_tokens: int, max_output_tokens: int) -> float:
    """Worst case of one call: the prompt at the input price plus the whole output allowance
    at the output price.

    >>> reservation_usd(ModelSpec(context_window=8, max_output_tokens=4,
    ...     input_per_million=1.0, output_per_million=2.0), 1_000_000, 500_000)
    2.0
    """
    return spec.cost_usd(prompt_tokens, max_output_tokens)


def check_budget(
    entries: Iterable[Mapping[str, Any]],
    budget_usd: float | None,
    reserve_usd: float,
    *,
    scope: str,
    entity: str | None = None,
) -> float:
    """Raise :class:`BudgetExceededError` when spent + reserve would pass the budget; return
    what has been spent."""
    spent = total_usd(entries)
    if budget_usd is not None and spent + reserve_usd > budget_usd:
        raise BudgetExceededError(
            f"{scope} budget ${budget_usd:.6f}: ${spent:.6f} spent, the next call could cost up "
            f"to ${reserve_usd:.6f}",
            scope=scope,
            entity=entity,
            spent_usd=spent,
            budget_usd=budget_usd,
        )
    return spent
