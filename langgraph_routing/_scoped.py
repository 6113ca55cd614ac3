"""Budgets per user / tenant / key, shared by every worker on one routing state.

The policy's ``budget.scopes`` names config metadata keys (``user_id``, ``tenant_id``...); a
call whose metadata carries one is admitted against that value's budget before its first
request, in the shape of :func:`~langgraph_routing._budget.admit`: the shared state reserves its
worst case (prompt + ``max_tokens``) atomically, shrinking ``max_tokens`` down to the policy's
``budget.min_output_tokens`` when less is left, or refusing with :class:`BudgetExceededError`
(no request is sent). When the call ends the reservation is replaced by what its attempts cost
(released when it failed); a reservation never settled (the worker died) expires.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._budget import admit, reservation_usd
from ._errors import BudgetExceededError
from ._policy import RoutingPolicy
from .shared_state import SharedRoutingState


@dataclass
class ScopeHolds:
    """The reservations one call holds in shared scope budgets; settled once."""

    state: SharedRoutingState
    holds: list[tuple[str, str, float]] = field(default_factory=list)  # (scope, id, usd)
    settled: bool = False

    @property
    def reserved_usd(self) -> float:
        """The smallest reservation: what any attempt of the call may cost."""
        return min(usd for _, _, usd in self.holds)

    def settle(self, attempts: list[dict[str, Any]]) -> None:
        """Replace every reservation by the call's cost (failed attempts included; an
        attempt of unknown cost is charged the reservation, never 0)."""
        if self.settled:
            return
        self.settled = True
        known = math.fsum(a["cost_usd"] for a in attempts if a.get("cost_usd") is not None)
        answered_unpriced = bool(attempts) and attempts[-1].get("cost_usd") is None
        answered_unpriced = answered_unpriced and attempts[-1].get("status") == 200
        for scope, rid, usd in self.holds:
            self.state.settle(scope, rid, known + usd if answered_unpriced else known)


def admit_scopes(
    state: SharedRoutingState,
    policy: RoutingPolicy,
    metadata: Mapping[str, Any],
    model: str,
    prompt_tokens: int,
    max_tokens: int,
    cache_writes: int = 0,
) -> tuple[int, ScopeHolds | None]:
    """Admit a call to every scope budget its metadata names: ``(max_tokens to send, holds)``.
    Raises :class:`BudgetExceededError` (after releasing what it reserved) when one refuses."""
    spec = policy.models.get(model)
    scopes = [(k, b, metadata.get(k)) for k, b in policy.budget.scopes.items()]
    scopes = [(k, b, v) for k, b, v in scopes if v is not None and v != ""]
    if spec is None or not scopes:
        return max_tokens, None
    holds = ScopeHolds(state)
    floor_tokens = min(policy.budget.min_output_tokens, max_tokens)
    for key, budget, value in scopes:
        scope = f"{key}={value}"
        want = reservation_usd(spec, prompt_tokens, max_tokens, cache_writes)
        floor = reservation_usd(spec, prompt_tokens, floor_tokens, cache_writes)
        rid, granted, left = state.reserve(
            scope, budget.usd, want, floor, budget.reservation_ttl_s, budget.period_s
        )
        if rid is None:
            holds.settle([])
            raise BudgetExceededError(
                f"the budget of {scope} has ${max(left, 0.0):.6f} left; a call to {model} with "
                f"~{prompt_tokens} prompt tokens needs ${floor:.6f} for at least {floor_tokens} "
                f"output tokens; raise budget.scopes.{key}.usd or lower the call's max_tokens",
                scope="shared",
                entity=scope,
                budget_usd=budget.usd,
            )
        holds.holds.append((scope, rid, granted))
        if granted < want:
            grant = admit(
                spec,
                prompt_tokens,
                max_tokens,
                granted,
                min_output_tokens=floor_tokens,
                cache_writes=cache_writes,
            )
            max_tokens = max(grant.max_tokens, 1)
    return max_tokens, holds
