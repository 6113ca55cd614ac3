"""One routed call: the plan made before it, and the attempt bookkeeping during it.

:class:`Route` holds no I/O: the chat model asks it which model to call, tells it how the call
ended, and does the waiting. It applies the policy's decisions and records every attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

from ._context import CallContext
from ._errors import ContextTooLargeError, RoutesExhaustedError
from ._failures import FailureInfo, budget_error, inspect_error
from ._health_gate import HealthGate
from ._ledger import CALL_ID_HEADER, COST_HEADER, header, parse_cost, resolve_cost, trusted
from ._policy import Action, Choice, ErrorKind, RoutingPolicy
from ._secrets import scrub_chain
from ._tokens import TokenCount, count_text

_T = TypeVar("_T")

if TYPE_CHECKING:
    from ._scoped import ScopeHolds


@dataclass
class Route:
    """The attempt loop's state for one call."""

    policy: RoutingPolicy
    choice: Choice
    prompt: TokenCount
    needs_tools: bool
    context: CallContext
    model: str = ""
    attempts: list[dict[str, Any]] = field(default_factory=list)
    secret: str = field(default="", repr=False)
    max_tokens: int = 0
    reserve_usd: float | None = None  # what a budget reserved for the whole call, if any
    health: HealthGate | None = None  # circuit breakers (None: ``health: false``)
    scopes: ScopeHolds | None = None  # reservations in shared scope budgets (user_id=...)
    intent: tuple[Any, str] | None = None  # (CallIntents, id) while the call is in flight
    cache_writes: int = 0  # prompt tokens its worst case prices as written to the cache
    _on_model: int = 0
    _visited: list[str] = field(default_factory=list)
    _notes: list[str] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)
    _chained: set[str] = field(default_factory=set)
    _queue: deque[str] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self._started = time.monotonic()
        self.model = self.choice.model
        self._visited = [self.model]
        self._seen = {self.model}

    @property
    def task(self) -> str:
        return self.choice.task

    @property
    def does_io(self) -> bool:
        """Whether this call's breakers, scope budgets or durable intent live outside the
        process (Redis, Postgres, a journal file): async callers then use :meth:`off_loop`."""
        return self.intent is not None or any(
            holder is not None and not holder.state.url.startswith("memory:")
            for holder in (self.health, self.scopes)
        )

    async def off_loop(self, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn(*args)``, in a worker thread when the call does I/O outside the process, so
        the event loop never waits on a socket or a lock; inline otherwise."""
        if self.does_io:
            return await asyncio.to_thread(fn, *args)
        return fn(*args)

    def close(self) -> None:
        """The call is over (answered, failed or cancelled): end its durable intent."""
        intent, self.intent = self.intent, None
        if intent is not None:
            try:
                intent[0].end(intent[1])
            except Exception as exc:  # left behind, it reads as interrupted: never silently low
                warnings.warn(f"call intent not ended ({type(exc).__name__}: {exc})", stacklevel=2)

    def start(self) -> None:
        """Apply the breakers to the first choice: the policy's model unless its breaker is
        open, else the first healthy model of its fallback chain (see :class:`HealthGate`)."""
        if self.health is None or self.health.surely_first(self.model):
            return  # choose() would pick the first candidate: no chain to build
        candidates = [self.model] + [
            m
            for m in self.policy.fallback_chain(self.model, self.needs_tools)
            if self._fits_window(m)
        ]
        model, notes = self.health.choose(candidates)
        self._notes.extend(notes)
        if model != self.model:  # later fallbacks: the rest of the chosen model's chain
            self.model = model
            self._visited, self._seen = [model], {model}
            self._chained = {candidates[0], *candidates[1:]}
            self._queue = deque(c for c in candidates[1:] if c != model)

    def stick(self, previous: str | None) -> None:
        """Stay on ``previous`` (the model of this task's last call in the thread, whose
        prompt cache is warm) when it is the task's model or one of its fallbacks, fits the
        window and its breaker is closed; see ``RoutingPolicy.sticky``."""
        if previous is None or previous == self.model:
            return
        first = self.choice.model
        candidates = [first, *self.policy.fallback_chain(first, self.needs_tools)]
        if previous not in candidates or not self._fits_window(previous):
            return
        if self.health is not None and not self.health.is_closed(previous):
            self._notes.append(f"not sticky: {previous} is not healthy")
            return
        self.model = previous
        self._visited, self._seen = [previous], {previous}
        self._chained = set(candidates)
        self._queue = deque(c for c in candidates if c != previous)
        self._notes.append(f"sticky: {previous} served this task's last call (warm cache)")

    def _switch(self, model: str) -> None:
        self.model = model
        self._on_model = 0
        self._visited.append(model)
        self._seen.add(model)

    def _next_fallback(self) -> str | None:
        """The next untried candidate that fits: the chosen model's chain, then the chains of
        models reached by upgrades. Each chain is built once, so a long chain stays linear."""
        while True:
            while self._queue:
                candidate = self._queue.popleft()
                if candidate not in self._seen and self._fits_window(candidate):
                    return candidate
            fresh = [v for v in self._visited if v not in self._chained]
            if not fresh:
                return None
            for model in fresh:
                chain = self.policy.fallback_chain(model, self.needs_tools)
                # a chain is transitive: its models' own chains are already in it
                self._chained.add(model)
                self._chained.update(chain)
                self._queue.extend(chain)

    def _healthiest(self, first: str) -> str:
        """Among the untried candidates (``first`` and the rest of the queue), the one the
        breakers let through (see :class:`HealthGate`); the others stay queued, in order."""
        assert self.health is not None
        candidates = [first]
        while (nxt := self._next_fallback()) is not None:
            candidates.append(nxt)
        model, notes = self.health.choose(candidates)
        self._notes.extend(notes)
        self._queue.extendleft(reversed([c for c in candidates if c != model]))
        return model

    # ---- hedging (see ``_hedging``) ------------------------------------------------------

    def _worst(self, model: str) -> float:
        spec = self.policy.models[model]
        output = self.max_tokens or self.choice.reserved_output
        return spec.cost_usd(self.prompt.tokens, output, 0, self.cache_writes)

    def hedge_candidate(self) -> str | None:
        """The model to race against the current one: the next healthy candidate that fits,
        when the budget's reservation (if any) holds both worst cases; None otherwise."""
        candidate = self._next_fallback()
        if candidate is not None and self.health is not None:
            candidate = self._healthiest(candidate)
        if candidate is None:
            self._notes.append("no hedge: no other candidate")
            return None
        if self.reserve_usd is not None:
            need = self._worst(self.model) + self._worst(candidate)
            if need > self.reserve_usd:
                self._queue.appendleft(candidate)  # still the next fallback
                self._notes.append(
                    f"no hedge: the budget reserved ${self.reserve_usd:.6f}, both attempts "
                    f"need up to ${need:.6f}"
                )
                return None
        self._seen.add(candidate)
        self._visited.append(candidate)
        self._notes.append(f"hedged {self.model} with {candidate}")
        return candidate

    def hedged_out(self, model: str, latency_s: float, output_tokens: int | None = None) -> None:
        """Record the racer that lost: cancelled, never dropped, priced at its prompt plus
        ``output_tokens`` (what the winner wrote, capped by ``max_tokens``), or at its worst
        case when that is unknown."""
        cost = None
        if model in self.policy.models:
            cost = self._worst(model)
            if output_tokens is not None:
                limit = self.max_tokens or self.choice.reserved_output
                written = min(output_tokens, limit)
                spec = self.policy.models[model]
                cost = spec.cost_usd(self.prompt.tokens, written, 0, self.cache_writes)
        self.attempts.append(
            {
                "model": model,
                "error_kind": "hedged",
                "status": None,
                "waited_s": 0.0,
                "call_id": f"hedge-{uuid.uuid4()}",
                "cost_usd": cost,
                "cost_source": "estimate",
                "latency_s": round(latency_s, 6),
            }
        )

    def hedge_failed(self, model: str, exc: BaseException, latency_s: float) -> None:
        """Record a racer's failure while the other racer still runs (no policy action)."""
        info = inspect_error(exc)
        if info is None:
            raise exc
        self.attempts.append(self._failed_attempt(model, info, latency_s))
        if self.health is not None:
            self.health.failed(model, info.kind)

    def switch_to(self, model: str) -> None:
        """Make ``model`` (a racer already counted as tried) the one this call is on."""
        if model != self.model:
            self.model = model
            self._on_model = 0

    def _fits_window(self, model: str) -> bool:
        spec = self.policy.models.get(model)
        if spec is None:
            return False
        return self.prompt.tokens + self.choice.reserved_output <= spec.context_window

    def _ceiling(self, model: str | None = None) -> float | None:
        """The most a call on ``model`` (default: the current one) can believably cost."""
        spec = self.policy.models.get(model or self.model)
        if spec is None:
            return None
        output = self.max_tokens or self.choice.reserved_output
        # a sanity bound, not a reservation: the dearest the prompt can be (written to cache)
        worst = spec.cost_usd(self.prompt.tokens, output, 0, self.prompt.tokens)
        return worst * self.policy.budget.suspect_factor

    def _failed_attempt(self, model: str, info: FailureInfo, latency_s: float) -> dict[str, Any]:
        """The record of a failed attempt on ``model``; a reported cost that is not believable
        is left out (None: unknown)."""
        cost = parse_cost(header(info.headers, COST_HEADER))
        return {
            "model": model,
            "error_kind": info.kind.value,
            "status": info.status,
            "waited_s": 0.0,
            "call_id": header(info.headers, CALL_ID_HEADER),
            "cost_usd": cost if trusted(cost, self._ceiling(model)) else None,
            "latency_s": round(latency_s, 6),
        }

    def failed(self, exc: BaseException, latency_s: float) -> float:
        """Record a failed attempt; return the seconds to wait before the next one, or raise.

        Whatever is raised carries ``.routing`` (this call's record, every attempt included) and
        never the key the call was made with."""
        try:
            return self._failed(exc, latency_s)
        except BaseException as raised:
            if self.scopes is not None:  # the call is over: settle what it cost
                self.scopes.settle(self.attempts)
            scrub_chain(raised, self.secret)
            if raised is not exc:
                scrub_chain(exc, self.secret)
            with contextlib.suppress(AttributeError):  # exceptions with __slots__
                raised.routing = self.metadata()  # type: ignore[attr-defined]
            raise

    def _failed(self, exc: BaseException, latency_s: float) -> float:
        """Record a failed attempt; return the seconds to wait before the next one, or raise."""
        info = inspect_error(exc)
        if info is None:
            raise exc
        self._on_model += 1
        attempt = self._failed_attempt(self.model, info, latency_s)
        self.attempts.append(attempt)
        action = self.policy.on_error(
            info.kind, self._on_model, info.retry_after_s, random.random()
        )
        now_open = self.health is not None and self.health.failed(self.model, info.kind)
        if action.kind == "retry" and now_open:  # its breaker just opened: do not wait on it
            action = replace(action, kind="fallback")
            self._notes.append(f"{self.model} breaker opened")
        left = self.policy.retry.deadline_s - (time.monotonic() - self._started)
        if action.kind == "retry" and action.delay_s >= left:  # waiting would pass the deadline
            action = Action("fallback", reason=f"{action.reason}; past the call's deadline")
        if action.kind in ("retry", "fallback", "upgrade") and left <= 0:
            attempt["error_kind"] = info.kind.value
            raise RoutesExhaustedError(self.task, self.attempts) from exc
        if action.kind == "retry":
            attempt["waited_s"] = action.delay_s
            return action.delay_s
        if action.kind == "upgrade":
            bigger = self.policy.upgrade_of(self.model)
            while bigger is not None and (
                bigger in self._seen
                or (self.needs_tools and not self.policy.models[bigger].supports_tools)
            ):
                bigger = self.policy.upgrade_of(bigger)
            if bigger is None:
                raise ContextTooLargeError(
                    self.prompt.tokens, self._visited, "the gateway said it does not fit"
                ) from exc
            self._switch(bigger)
            return 0.0
        if action.kind == "fallback":
            candidate = self._next_fallback()
            if candidate is not None and self.health is not None:
                candidate = self._healthiest(candidate)
            if candidate is not None:
                self._switch(candidate)
                return 0.0
            raise RoutesExhaustedError(self.task, self.attempts) from exc
        if info.kind is ErrorKind.BUDGET:
            raise budget_error(info) from exc
        raise exc

    def succeeded(
        self,
        headers: Mapping[str, Any] | None,
        usage_cost: Any,
        prompt_tokens: int | None,
        completion_tokens: int | None,
        latency_s: float,
        fallback_call_id: str | None,
        completion_text: str = "",
        ttft_s: float | None = None,
        cache_tokens: tuple[int, int] = (0, 0),
    ) -> dict[str, Any]:
        """Record the successful attempt; return ``response_metadata["routing"]``.
        ``cache_tokens`` (read, written) price an estimate at the cache prices."""
        if not prompt_tokens and not completion_tokens:  # no usage (or 0/0): count ourselves
            prompt_tokens, completion_tokens = self.prompt.tokens, count_text(completion_text)
        spec = self.policy.models.get(self.model)
        estimate = (
            spec.cost_usd(prompt_tokens or 0, completion_tokens or 0, *cache_tokens)
            if spec is not None
            else None
        )
        cost, source = resolve_cost(headers, usage_cost, estimate, self._ceiling())
        call_id = header(headers, CALL_ID_HEADER) or fallback_call_id
        self.attempts.append(
            {
                "model": self.model,
                "error_kind": None,
                "status": 200,
                "waited_s": 0.0,
                "call_id": call_id,
                "cost_usd": cost,
                "latency_s": round(latency_s, 6),
            }
        )
        if self.health is not None:
            self.health.succeeded(self.model, latency_s, ttft_s)
        if self.scopes is not None:
            self.scopes.settle(self.attempts)
        return self.metadata(call_id=call_id, cost_usd=cost, cost_source=source)

    def metadata(self, **extra: Any) -> dict[str, Any]:
        """The routing record of this call (JSON-safe, no secrets)."""
        reason = "; ".join([self.choice.reason, *self._notes])
        last_error = next(
            (a["error_kind"] for a in reversed(self.attempts) if a["error_kind"]), None
        )
        if self.model != self.choice.model and last_error:
            reason += f"; {last_error} -> {self.model}"
        elif self.model != self.choice.model:
            reason += f" -> {self.model}"
        return {
            "task": self.task,
            "model": self.model,
            "requested_model": self.choice.model,
            "role": self.choice.role,
            "reason": reason,
            "prompt_tokens": self.prompt.tokens,
            "max_tokens": self.max_tokens or None,
            "tokens_approximate": self.prompt.approximate,
            "run_id": self.context.run_id,
            "thread_id": self.context.thread_id,
            "node": self.context.node,
            "agent": self.context.agent,
            "step": self.context.step,
            "attempts": [dict(a) for a in self.attempts],
            "health": self.health.record() if self.health is not None else None,
            **extra,
        }
