"""Budgets in USD: what a call may cost, decided before it is made.

A call reserves its prompt at the input price plus its ``max_tokens`` at the output price, and
that ``max_tokens`` is always sent, so the call can never spend more than it reserved. When the
budget left affords fewer output tokens than the call wants, it is sent with a smaller
``max_tokens`` (down to the policy's ``budget.min_output_tokens``, 256 by default) instead of
being refused. Every budget holder (``CostCallbackHandler(budget_usd=...)``, the template's
guard, ``RoutingMiddleware``) decides with :func:`admit`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._specs import ModelSpec

if TYPE_CHECKING:
    from ._policy import RoutingPolicy

_KNOB = "raise budget_usd, or lower the call's max_tokens / the policy's budget.min_output_tokens"


def reservation_usd(
    spec: ModelSpec, prompt_tokens: int, max_output_tokens: int, cache_writes: int = 0
) -> float:
    """Worst case of one call: the prompt at the input price (``cache_writes`` of its tokens
    at the cache-write price, where the model charges one: see ``_cache_marks``) plus the
    whole output allowance at the output price. A read from the cache is never assumed.

    >>> spec = ModelSpec(context_window=8, max_output_tokens=4, input_per_million=1.0,
    ...                  output_per_million=2.0, cache_write_per_million=1.25)
    >>> reservation_usd(spec, 1_000_000, 500_000), reservation_usd(spec, 1_000_000, 0, 1_000_000)
    (2.0, 1.25)
    """
    return spec.cost_usd(prompt_tokens, max_output_tokens, 0, cache_writes)


@dataclass(frozen=True)
class Grant:
    """A budget's answer for one call: ``max_tokens`` to send (0 when refused), what that
    reserves, and a message naming the model, the reservation and the knob to turn."""

    max_tokens: int
    reserve_usd: float
    message: str = ""

    @property
    def admitted(self) -> bool:
        return self.max_tokens > 0


def check_budget(value: object, name: str = "budget_usd") -> float | None:
    """``value`` as a budget: None, or a finite number >= 0 (NaN, negatives, strings and
    booleans are refused with a ValueError naming ``name``)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number of USD, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def admit(
    spec: ModelSpec,
    prompt_tokens: int,
    wanted_output: int,
    remaining_usd: float,
    *,
    min_output_tokens: int = 256,
    what: str = "the budget",
    cache_writes: int = 0,
) -> Grant:
    """Admit a call to ``spec`` if ``remaining_usd`` pays for its prompt and at least
    ``min(min_output_tokens, wanted_output)`` output tokens; the grant is the largest
    ``max_tokens`` <= ``wanted_output`` it pays for. ``cache_writes`` of the prompt tokens
    are priced as written to the cache (see :func:`reservation_usd`).

    >>> spec = ModelSpec(name="m", context_window=10_000, max_output_tokens=4096,
    ...                  input_per_million=3.0, output_per_million=15.0)
    >>> admit(spec, 1000, 4096, 1.0).max_tokens          # affords everything it wants
    4096
    >>> admit(spec, 1000, 4096, 0.02).max_tokens         # affords 1133 output tokens
    1133
    >>> admit(spec, 1000, 4096, 0.005).admitted          # not even the floor of 256
    False
    """
    wanted = max(1, wanted_output)

    def worst(output: int) -> float:
        return reservation_usd(spec, prompt_tokens, output, cache_writes)

    full = worst(wanted)
    if full <= remaining_usd:
        return Grant(wanted, full)
    affordable = min(spec.affordable_output(remaining_usd, prompt_tokens, cache_writes), wanted)
    # rounding must never make the grant cost more than what is left
    while affordable > 0 and worst(affordable) > remaining_usd:
        affordable -= 1
    if affordable >= min(min_output_tokens, wanted):
        return Grant(affordable, worst(affordable))
    floor = min(min_output_tokens, wanted)
    need = worst(floor)
    return Grant(
        0,
        need,
        f"{what} has ${max(remaining_usd, 0.0):.6f} left; a call to {spec.name or 'the model'} "
        f"with ~{prompt_tokens} prompt tokens needs ${need:.6f} for at least {floor} output "
        f"tokens (it wanted {wanted}: ${full:.6f}); {_KNOB}",
    )


class InFlight:
    """What calls in flight hold against budgets, per scope key (a run, a thread...).

    :meth:`admit` decides and reserves in one step under a lock, so concurrent callers can
    never together pass a budget; :meth:`release` gives a reservation back once the call's
    cost is counted (or it failed, or was cancelled).
    """

    def __init__(self) -> None:
        self._held: dict[str, float] = {}
        self._lock = threading.Lock()

    def held(self, key: str | None = None) -> float:
        """What calls in flight hold for ``key`` (every key when None)."""
        with self._lock:
            if key is None:
                return math.fsum(self._held.values())
            return self._held.get(key, 0.0)

    def admit(
        self,
        key: str,
        decide: Callable[[float], Grant],
        spent_usd: float,
        budget_usd: float,
    ) -> Grant:
        """``decide(left)`` with ``left = budget - spent - held``; an admitted grant's
        reservation is held for ``key`` until :meth:`release`."""
        with self._lock:
            held = self._held.get(key, 0.0)
            grant = decide(budget_usd - spent_usd - held)
            if grant.admitted:
                self._held[key] = held + grant.reserve_usd
            return grant

    def release(self, key: str, grant: Grant) -> None:
        """Give back what an admitted call held."""
        if not grant.admitted:
            return
        with self._lock:
            left = self._held.get(key, 0.0) - grant.reserve_usd
            if left > 1e-15:
                self._held[key] = left
            else:
                self._held.pop(key, None)


def grant_for_task(
    policy: RoutingPolicy,
    task: str,
    prompt_tokens: int,
    needs_tools: bool,
    wanted_output: int | None,
    left_usd: float,
    what: str,
    cache_writes: int = 0,
) -> tuple[Grant, str]:
    """``(grant, model)`` for a call of ``task``: the model the policy picks for this prompt,
    and what ``left_usd`` admits of the output the call wants (``inf``: everything)."""
    reserve = policy.reserved_output(task, wanted_output)
    choice = policy.select(task, prompt_tokens, needs_tools, reserve)
    spec = policy.models[choice.model]
    if left_usd == float("inf"):
        worst = reservation_usd(spec, prompt_tokens, reserve, cache_writes)
        return Grant(reserve, worst), choice.model
    grant = admit(
        spec,
        prompt_tokens,
        reserve,
        left_usd,
        min_output_tokens=policy.budget.min_output_tokens,
        what=what,
        cache_writes=cache_writes,
    )
    return grant, choice.model
