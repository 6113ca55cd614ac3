"""The routing policy: pure data, and the pure decisions made from it.

No I/O happens here (``from_file`` reads the one file it is given). Every decision the package
makes about which model to call, and what to do after an error, is a method of
:class:`RoutingPolicy` that takes plain values and returns a plain value.
"""

from __future__ import annotations

import enum
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ._errors import ContextTooLargeError, PolicyError


class AgentTask(enum.StrEnum):
    """The kinds of step an agent run is made of."""

    PLAN = "plan"
    TOOL_SELECT = "tool_select"
    SYNTHESIZE = "synthesize"
    CRITIQUE = "critique"


class ErrorKind(enum.StrEnum):
    """What a failed gateway call means for routing (see the failure table of the design)."""

    RATE_LIMIT = "rate_limit"
    TRANSIENT = "transient"
    CONTEXT_OVERFLOW = "context_overflow"
    BUDGET = "budget"
    AUTH = "auth"
    BAD_REQUEST = "bad_request"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSpec(_Strict):
    """One model the gateway serves: its window, output limit and USD prices per 1M tokens."""

    name: str = ""
    context_window: int = Field(gt=0)
    max_output_tokens: int = Field(gt=0)
    input_per_million: float = Field(ge=0)
    output_per_million: float = Field(ge=0)
    supports_tools: bool = True
    supports_structured_output: bool = True

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Price of a call at this model's list prices (per-token prices, as LiteLLM computes)."""
        return prompt_tokens * (self.input_per_million / 1e6) + completion_tokens * (
            self.output_per_million / 1e6
        )


class GatewaySpec(_Strict):
    """Where the OpenAI-compatible gateway is, and which variable holds its key."""

    base_url: str | None = None
    api_key_env: str = "LANGGRAPH_ROUTING_API_KEY"
    timeout_s: float = Field(default=60.0, gt=0)


class RoleSpec(_Strict):
    """An agent role with its own virtual key (the variable's name, never the key)."""

    api_key_env: str = Field(min_length=1)


class TaskRoute(_Strict):
    """The model (and role) a task goes to."""

    model: str
    role: str | None = None
    max_output_tokens: int | None = Field(default=None, gt=0)


class RetrySpec(_Strict):
    """Rate-limit retries on the same model before falling back."""

    max_attempts: int = Field(default=3, ge=1)
    initial_delay_s: float = Field(default=0.5, ge=0)
    max_delay_s: float = Field(default=8.0, ge=0)
    max_retry_after_s: float = Field(default=60.0, ge=0)
    jitter: float = Field(default=0.25, ge=0, le=1)


@dataclass(frozen=True)
class Choice:
    """The model picked for a call, and why."""

    task: AgentTask
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


_DEFAULT_POLICY: dict[str, Any] = {
    "models": {
        "o3-mini": {
            "context_window": 200000,
            "max_output_tokens": 100000,
            "input_per_million": 1.10,
            "output_per_million": 4.40,
        },
        "gpt-4o-mini": {
            "context_window": 128000,
            "max_output_tokens": 16384,
            "input_per_million": 0.15,
            "output_per_million": 0.60,
        },
        "gpt-4o": {
            "context_window": 128000,
            "max_output_tokens": 16384,
            "input_per_million": 2.50,
            "output_per_million": 10.00,
        },
        "claude-3-5-sonnet-20241022": {
            "context_window": 200000,
            "max_output_tokens": 8192,
            "input_per_million": 3.00,
            "output_per_million": 15.00,
        },
        "claude-3-5-haiku-20241022": {
            "context_window": 200000,
            "max_output_tokens": 8192,
            "input_per_million": 0.80,
            "output_per_million": 4.00,
        },
    },
    "tasks": {
        "plan": {"model": "o3-mini"},
        "tool_select": {"model": "gpt-4o-mini"},
        "synthesize": {"model": "claude-3-5-sonnet-20241022"},
        "critique": {"model": "gpt-4o-mini"},
    },
    "default_task": "tool_select",
    "node_tasks": {"agent": "tool_select"},
    "fallbacks": {
        "o3-mini": ["claude-3-5-sonnet-20241022"],
        "gpt-4o": ["claude-3-5-sonnet-20241022"],
        "gpt-4o-mini": ["claude-3-5-haiku-20241022"],
    },
    "context_upgrades": {
        "gpt-4o-mini": "gpt-4o",
        "claude-3-5-haiku-20241022": "claude-3-5-sonnet-20241022",
    },
}


class RoutingPolicy(_Strict):
    """Which model each task goes to, and what to do when a call fails.

    >>> policy = RoutingPolicy.default()
    >>> policy.select("plan", prompt_tokens=1_000).model
    'o3-mini'
    >>> policy.select("tool_select", prompt_tokens=110_000).model   # too big for gpt-4o-mini
    'gpt-4o'
    """

    gateway: GatewaySpec = GatewaySpec()
    roles: dict[str, RoleSpec] = {}
    models: dict[str, ModelSpec]
    tasks: dict[AgentTask, TaskRoute]
    default_task: AgentTask = AgentTask.TOOL_SELECT
    node_tasks: dict[str, AgentTask] = {}
    fallbacks: dict[str, list[str]] = {}
    context_upgrades: dict[str, str] = {}
    upgrade_at: float = Field(default=0.8, gt=0, le=1)
    reserve_output_tokens: int = Field(default=4096, gt=0)
    retry: RetrySpec = RetrySpec()

    # ---- construction -------------------------------------------------------------------

    @classmethod
    def default(cls) -> RoutingPolicy:
        """The routing table of the production guide (see DESIGN.md)."""
        return cls.from_dict(_DEFAULT_POLICY)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoutingPolicy:
        """Validate a mapping; errors become :class:`PolicyError` naming the key."""
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"]) or "<root>"
            msg = str(err["msg"]).removeprefix("Value error, ")
            if "." in msg.split(":", 1)[0] and ": " in msg:  # our own "key: problem" form
                key, msg = msg.split(": ", 1)
            raise PolicyError(key, msg) from None

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> RoutingPolicy:
        """Load a ``.yaml``/``.yml`` or ``.toml`` policy file."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyError(str(p), f"cannot read the policy file ({exc.strerror})") from None
        try:
            data = tomllib.loads(text) if p.suffix == ".toml" else yaml.safe_load(text)
        except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
            raise PolicyError(
                str(p), f"not valid {p.suffix.lstrip('.') or 'YAML'}: {exc}"
            ) from None
        if not isinstance(data, dict):
            raise PolicyError(str(p), "the file must hold a mapping of policy keys")
        return cls.from_dict(data)

    @model_validator(mode="after")
    def _check_references(self) -> RoutingPolicy:
        for name, spec in self.models.items():
            if spec.name and spec.name != name:
                raise ValueError(f"models.{name}.name: differs from its key ({spec.name!r})")
            if not spec.name:
                object.__setattr__(spec, "name", name)
        for task, route in self.tasks.items():
            self._known(f"tasks.{task.value}.model", route.model)
            if route.role is not None and route.role not in self.roles:
                raise ValueError(f"tasks.{task.value}.role: unknown role {route.role!r}")
        if self.default_task not in self.tasks:
            raise ValueError(f"default_task.{self.default_task.value}: has no entry in tasks")
        for node, task in self.node_tasks.items():
            if task not in self.tasks:
                raise ValueError(f"node_tasks.{node}: task {task.value!r} has no entry in tasks")
        for src, chain in self.fallbacks.items():
            self._known(f"fallbacks.{src}", src)
            for dst in chain:
                self._known(f"fallbacks.{src}", dst)
                if dst == src:
                    raise ValueError(f"fallbacks.{src}: a model cannot fall back to itself")
        for src, dst in self.context_upgrades.items():
            self._known(f"context_upgrades.{src}", src)
            self._known(f"context_upgrades.{src}", dst)
            if self.models[dst].context_window < self.models[src].context_window:
                raise ValueError(
                    f"context_upgrades.{src}: {dst!r} has a smaller window "
                    f"({self.models[dst].context_window} < {self.models[src].context_window})"
                )
        for start in self.context_upgrades:  # equal windows are allowed, so look for cycles
            seen = [start]
            nxt = self.context_upgrades.get(start)
            while nxt is not None:
                if nxt in seen:
                    raise ValueError(f"context_upgrades.{start}: cycle {' -> '.join([*seen, nxt])}")
                seen.append(nxt)
                nxt = self.context_upgrades.get(nxt)
        return self

    def _known(self, key: str, model: str) -> None:
        if model not in self.models:
            raise ValueError(f"{key}: unknown model {model!r} (known: {', '.join(self.models)})")

    # ---- pure decisions ------------------------------------------------------------------

    def resolve_task(
        self, bound: str | None = None, metadata: Mapping[str, Any] | None = None
    ) -> AgentTask:
        """Task of one call: bound task, metadata ``routing_task``, ``node_tasks[langgraph_node]``,
        a node named like a task, then ``default_task``."""
        if bound:
            return AgentTask(bound)
        meta = metadata or {}
        explicit = meta.get("routing_task")
        if explicit:
            return AgentTask(explicit)
        node = meta.get("langgraph_node")
        if isinstance(node, str):
            if node in self.node_tasks:
                return self.node_tasks[node]
            if node in AgentTask.__members__.values() and AgentTask(node) in self.tasks:
                return AgentTask(node)
        return self.default_task

    def reserved_output(self, task: AgentTask | str, max_tokens: int | None = None) -> int:
        """Output tokens to reserve for a call: the call's ``max_tokens``, else the task's, else
        the policy's ``reserve_output_tokens`` (bounded by the model's output limit)."""
        route = self.tasks.get(AgentTask(task)) or self.tasks[self.default_task]
        spec = self.models[route.model]
        wanted = max_tokens or route.max_output_tokens or self.reserve_output_tokens
        return min(wanted, spec.max_output_tokens)

    def fits(self, model: str, prompt_tokens: int, reserved_output: int) -> bool:
        """Whether prompt + reserved output stay under ``upgrade_at`` of the model's window."""
        return (
            prompt_tokens + reserved_output <= self.upgrade_at * self.models[model].context_window
        )

    def upgrade_of(self, model: str) -> str | None:
        """The larger-window model configured for ``model``, if any."""
        return self.context_upgrades.get(model)

    def select(
        self,
        task: AgentTask | str,
        prompt_tokens: int,
        needs_tools: bool = False,
        reserved_output: int | None = None,
    ) -> Choice:
        """Pick the model for one call. Raises :class:`ContextTooLargeError` when nothing fits."""
        task = AgentTask(task)
        route = self.tasks.get(task) or self.tasks[self.default_task]
        reserve = reserved_output if reserved_output is not None else self.reserved_output(task)
        model, reason = route.model, f"task {task.value} -> {route.model}"
        if needs_tools and not self.models[model].supports_tools:
            tool_capable = [
                m for m in self.fallbacks.get(model, []) if self.models[m].supports_tools
            ]
            if not tool_capable:
                raise PolicyError(f"tasks.{task.value}.model", f"{model!r} cannot call tools")
            model, reason = (
                tool_capable[0],
                f"{reason}; {route.model} has no tools -> {tool_capable[0]}",
            )
        first, tried = model, [model]
        while not self.fits(model, prompt_tokens, reserve):
            bigger = self.upgrade_of(model)
            if bigger is None or (needs_tools and not self.models[bigger].supports_tools):
                window = self.models[model].context_window
                if prompt_tokens + reserve <= window:
                    reason += f"; over {self.upgrade_at:.0%} of {model}'s window but fits"
                    break
                raise ContextTooLargeError(
                    prompt_tokens, tried, f"{reserve} output tokens reserved"
                )
            reason += f"; ~{prompt_tokens}+{reserve} tokens > {self.upgrade_at:.0%} of {model} -> {bigger}"
            model = bigger
            tried.append(model)
        return Choice(task, model, route.role, reason, reserve, first if model != first else None)

    def fallback_chain(self, model: str, needs_tools: bool = False) -> list[str]:
        """Models to try after ``model`` fails with a provider error, in order."""
        chain: list[str] = []
        queue = list(self.fallbacks.get(model, []))
        while queue:
            m = queue.pop(0)
            if m == model or m in chain:
                continue
            if not needs_tools or self.models[m].supports_tools:
                chain.append(m)
            queue.extend(self.fallbacks.get(m, []))
        return chain

    def on_error(
        self,
        kind: ErrorKind | str,
        attempt: int,
        retry_after_s: float | None = None,
        rand: float = 0.5,
    ) -> Action:
        """What to do after attempt number ``attempt`` (1-based) on one model failed with ``kind``.

        >>> RoutingPolicy.default().on_error("rate_limit", 1, retry_after_s=2.0)
        Action(kind='retry', delay_s=2.0, reason='rate limited; retry-after 2.0s')
        """
        kind = ErrorKind(kind)
        r = self.retry
        if kind is ErrorKind.RATE_LIMIT:
            if attempt >= r.max_attempts:
                return Action("fallback", reason=f"rate limited {attempt} times")
            if retry_after_s is not None and retry_after_s >= 0:
                delay = min(retry_after_s, r.max_retry_after_s)
                return Action("retry", delay, f"rate limited; retry-after {delay}s")
            base = min(r.initial_delay_s * 2 ** (attempt - 1), r.max_delay_s)
            delay = base * (1 - r.jitter + 2 * r.jitter * rand)
            return Action("retry", round(delay, 4), "rate limited; backoff")
        if kind is ErrorKind.TRANSIENT:
            return Action("fallback", reason="provider failure")
        if kind is ErrorKind.CONTEXT_OVERFLOW:
            return Action("upgrade", reason="gateway said the prompt does not fit")
        return Action("raise", reason=f"{kind.value} errors are not retried")
