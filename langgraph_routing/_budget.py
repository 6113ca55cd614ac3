"""Budgets in USD: the worst-case price of a call, checked before it is made."""

from __future__ import annotations

from ._policy import ModelSpec


def reservation_usd(spec: ModelSpec, prompt_tokens: int, max_output_tokens: int) -> float:
    """Worst case of one call: the prompt at the input price plus the whole output allowance
    at the output price.

    >>> reservation_usd(ModelSpec(context_window=8, max_output_tokens=4,
    ...     input_per_million=1.0, output_per_million=2.0), 1_000_000, 500_000)
    2.0
    """
    return spec.cost_usd(prompt_tokens, max_output_tokens)
