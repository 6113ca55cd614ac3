"""The policy's building blocks: tasks, error kinds, model and route specs, decisions' results.

Pure data. :class:`~langgraph_routing.RoutingPolicy` (``_policy``) holds them and makes the
decisions.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class AgentTask(enum.StrEnum):
    """The standard kinds of step an agent run is made of.

    Tasks are open: any name a policy defines under ``tasks:`` is accepted wherever a task is
    (``with_task("digest")``, ``node_tasks``, metadata ``routing_task``). These four are the
    defaults of :meth:`RoutingPolicy.default` and the tasks of the template's nodes.
    """

    PLAN = "plan"
    TOOL_SELECT = "tool_select"
    SYNTHESIZE = "synthesize"
    CRITIQUE = "critique"


STANDARD_TASKS = frozenset(t.value for t in AgentTask)
TASK_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
"""What a task name may look like: an identifier (dashes allowed), at most 64 characters."""


class ErrorKind(enum.StrEnum):
    """What a failed gateway call means for routing (see the failure table of the design)."""

    RATE_LIMIT = "rate_limit"
    TRANSIENT = "transient"
    CONTEXT_OVERFLOW = "context_overflow"
    BUDGET = "budget"
    AUTH = "auth"
    BAD_REQUEST = "bad_request"


class Strict(BaseModel):
    """Frozen, and unknown keys are errors (with a "did you mean" when close to a real one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSpec(Strict):
    """One model the gateway serves: its window, output limit and USD prices per 1M tokens.

    ``supports_parallel_tool_calls`` says whether the ``parallel_tool_calls`` request field is
    sent to this model (reasoning models such as o3-mini reject it); when False the field is
    dropped for calls that land on it.
    """

    name: str = ""
    context_window: int = Field(gt=0, le=100_000_000)
    max_output_tokens: int = Field(gt=0, le=100_000_000)
    input_per_million: float = Field(ge=0, le=100_000)
    output_per_million: float = Field(ge=0, le=100_000)
    supports_tools: bool = True
    supports_structured_output: bool = True
    supports_parallel_tool_calls: bool = True
    cached_input_per_million: float | None = Field(default=None, ge=0, le=100_000)
    """Price of prompt tokens read from the provider's prompt cache (None: the input price)."""
    cache_write_per_million: float | None = Field(default=None, ge=0, le=100_000)
    """Price of prompt tokens written to the cache, where a provider charges it (Anthropic)."""
    supports_prompt_cache_key: bool = False
    """Whether ``prompt_cache_key`` (OpenAI's cache-affinity field) is sent to this model."""

    def cost_usd(
        self,
        prompt_tokens: int,
        completion_tokens: int,
        cached_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> float:
        """Price of a call at this model's list prices (per-token prices, as LiteLLM computes).

        ``cached_tokens`` and ``cache_write_tokens`` are part of ``prompt_tokens`` (as LangChain's
        ``usage_metadata`` counts them) and priced at the cache prices; reasoning tokens are
        part of ``completion_tokens``, at the output price.

        >>> spec = ModelSpec(context_window=1000, max_output_tokens=100, input_per_million=2.0,
        ...                  output_per_million=8.0, cached_input_per_million=0.5)
        >>> round(spec.cost_usd(1000, 100) * 1e6), round(spec.cost_usd(1000, 100, 800) * 1e6)
        (2800, 1600)
        """
        cost = prompt_tokens * (self.input_per_million / 1e6) + completion_tokens * (
            self.output_per_million / 1e6
        )
        if not (cached_tokens or cache_write_tokens):
            return cost
        cached = min(max(cached_tokens, 0), prompt_tokens)
        written = min(max(cache_write_tokens, 0), prompt_tokens - cached)
        read_price = (
            self.input_per_million
            if self.cached_input_per_million is None
            else (self.cached_input_per_million)
        )
        write_price = (
            self.input_per_million
            if self.cache_write_per_million is None
            else (self.cache_write_per_million)
        )
        return (
            cost
            + cached * ((read_price - self.input_per_million) / 1e6)
            + written * ((write_price - self.input_per_million) / 1e6)
        )

    def affordable_output(self, usd: float, prompt_tokens: int, cache_writes: int = 0) -> int:
        """Output tokens that ``usd`` pays for once the prompt is paid (0 when it is not);
        ``cache_writes`` of the prompt tokens priced as written to the cache."""
        left = usd - self.cost_usd(prompt_tokens, 0, 0, cache_writes)
        if left <= 0:
            return 0
        if self.output_per_million <= 0:
            return self.max_output_tokens
        return min(int(left / (self.output_per_million / 1e6)), self.max_output_tokens)


class GatewaySpec(Strict):
    """Where the OpenAI-compatible gateway is, and which variable holds its key."""

    base_url: str | None = None
    api_key_env: str = "LANGGRAPH_ROUTING_API_KEY"
    timeout_s: float = Field(default=60.0, gt=0, le=3600)


class RoleSpec(Strict):
    """An agent role with its own virtual key (the variable's name, never the key)."""

    api_key_env: str = Field(min_length=1)


class TaskRoute(Strict):
    """The model (and role) a task goes to."""

    model: str
    role: str | None = None
    max_output_tokens: int | None = Field(default=None, gt=0)
    hedge_after_s: float | None = Field(default=None, gt=0, le=600)
    """Race the next candidate when the first attempt has not answered within this many
    seconds (non-streamed calls; see ``_hedging``). None: never hedge."""


class RetrySpec(Strict):
    """Rate-limit retries on the same model before falling back."""

    max_attempts: int = Field(default=3, ge=1, le=20)
    initial_delay_s: float = Field(default=0.5, ge=0, le=600)
    max_delay_s: float = Field(default=8.0, ge=0, le=600)
    max_retry_after_s: float = Field(default=60.0, ge=0, le=3600)
    deadline_s: float = Field(default=180.0, gt=0, le=86400)
    """Bounds one call, retries and fallbacks included: a wait that would pass it becomes a
    fallback, and no new attempt starts after it."""
    jitter: float = Field(default=0.25, ge=0, le=1)


class ScopeBudget(Strict):
    """A budget shared by every call whose config metadata carries the scope's key (one budget
    per value: ``user_id: {usd: 5}`` gives each user $5), held in the shared routing state.

    ``period_s``: spend starts again from 0 every period (None: never). An admitted call holds
    a reservation until it is settled; one never settled (its worker died) expires after
    ``reservation_ttl_s``."""

    usd: float = Field(ge=0)
    period_s: float | None = Field(default=None, gt=0)
    reservation_ttl_s: float = Field(default=600.0, gt=0)


class BudgetSpec(Strict):
    """How budgets admit calls.

    A call's reservation is its prompt at the input price plus its ``max_tokens`` at the output
    price, and ``max_tokens`` is always sent, so a call can never spend more than it reserved.
    When the budget left affords fewer output tokens than the call wants, the call is sent with a
    smaller ``max_tokens``, down to ``min_output_tokens``; below that it is refused.

    ``scopes``: budgets per user / tenant / key shared by every worker on one routing state,
    by config metadata key (``{"user_id": {"usd": 5.0, "period_s": 86400}}``).
    """

    min_output_tokens: int = Field(default=256, gt=0)
    scopes: dict[str, ScopeBudget] = Field(default_factory=dict)
    suspect_factor: float = Field(default=100.0, gt=1, le=1e6)
    """A reported cost above the call's worst case (prompt + max_tokens at list prices) times
    this factor is not trusted: it is recorded as ``source="suspect"`` at the estimate."""


class HealthSpec(Strict):
    """Circuit breaker per (gateway, model), on by default (``health: false`` turns it off).

    Only transient and rate-limit failures count (budget, auth, bad-request and context errors
    never do). A breaker opens after ``failure_threshold`` consecutive failures, or when at least
    ``failure_rate`` of at least ``min_calls`` calls failed in the current ``window_s`` window
    (a fixed window restarted when it has elapsed). An open model is skipped for ``cooldown_s``;
    then up to ``half_open_probes`` calls probe it at a time: a success closes the breaker, a
    failure opens it for another cooldown. When every candidate is open, the least recently
    failed one is tried rather than failing without a request.

    ``order``: ``listed`` tries a task's model then its fallbacks as listed; ``fastest`` tries
    the healthy candidates fastest first (by the EWMA of their total call time, weight
    ``latency_alpha``; models not measured yet keep their listed place after measured ones).
    """

    failure_threshold: int = Field(default=5, ge=1)
    failure_rate: float = Field(default=0.5, gt=0, le=1)
    min_calls: int = Field(default=10, ge=1)
    window_s: float = Field(default=60.0, gt=0)
    cooldown_s: float = Field(default=30.0, ge=0)
    half_open_probes: int = Field(default=1, ge=1)
    order: Literal["listed", "fastest"] = "listed"
    latency_alpha: float = Field(default=0.2, gt=0, le=1)


@dataclass(frozen=True)
class Choice:
    """The model picked for a call, and why."""

    task: str
    model: str
    role: str | None
    reason: str
    reserved_output: int
    upgraded_from: str | None = None


@dataclass(frozen=True)
class Action:
    """What to do after a failed attempt: ``retry`` (after ``delay_s``), ``fallback``,
    ``upgrade`` or ``raise``."""

    kind: Literal["retry", "fallback", "upgrade", "raise"]
    delay_s: float = 0.0
    reason: str = ""


class PlanningSpec(Strict):
    """When the template's plan step runs (the complexity gate's default rule).

    ``mode``: ``"auto"`` plans only requests that look multi-step (a sequencing marker such as
    "then" or "step by step", a list of at least two items, or more than ``max_questions``
    questions); ``"always"`` and ``"never"`` do what they say.
    """

    mode: Literal["auto", "always", "never"] = "auto"
    max_questions: int = Field(default=2, ge=1)


class DifficultySpec(Strict):
    """Routes one task by difficulty: an easy call goes to ``easy``, the others to ``hard``
    (default: the task's own model).

    A call is easy when its prompt is at most ``max_prompt_tokens``, the tool results of the
    turn at most ``max_tool_tokens``, and (with ``open_ended_hard``) the request is not
    open-ended ("explain why", "compare", "summarize", ...).
    """

    easy: str
    hard: str | None = None
    max_prompt_tokens: int = Field(default=4000, gt=0)
    max_tool_tokens: int = Field(default=1500, ge=0)
    open_ended_hard: bool = True
