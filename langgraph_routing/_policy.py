"""The routing policy: pure data, and the pure decisions made from it.

No I/O happens here (``from_file`` reads the one file it is given). Every decision the package
makes about which model to call, and what to do after an error, is a method of
:class:`RoutingPolicy` that takes plain values and returns a plain value.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Mapping
from typing import Any

from pydantic import Field, field_validator, model_validator

from ._context import agent_of
from ._errors import ContextTooLargeError, PolicyError, UnknownTaskError
from ._policy_load import DEFAULT_POLICY, deep_merge, read_file, validate
from ._specs import (
    STANDARD_TASKS,
    TASK_NAME,
    Action,
    AgentTask,
    BudgetSpec,
    Choice,
    DifficultySpec,
    ErrorKind,
    GatewaySpec,
    HealthSpec,
    ModelSpec,
    PlanningSpec,
    RetrySpec,
    RoleSpec,
    Strict,
    TaskRoute,
)

__all__ = [
    "Action",
    "AgentTask",
    "BudgetSpec",
    "Choice",
    "DifficultySpec",
    "ErrorKind",
    "GatewaySpec",
    "HealthSpec",
    "ModelSpec",
    "PlanningSpec",
    "RetrySpec",
    "RoleSpec",
    "RoutingPolicy",
    "TaskRoute",
]


class RoutingPolicy(Strict):
    """Which model each task goes to, and what to do when a call fails.

    >>> policy = RoutingPolicy.default()
    >>> policy.select("plan", prompt_tokens=1_000).model
    'o3-mini'
    >>> policy.select("tool_select", prompt_tokens=110_000).model   # too big for gpt-4o-mini
    'gpt-4o'
    """

    gateway: GatewaySpec = GatewaySpec()
    roles: dict[str, RoleSpec] = Field(default_factory=dict)
    models: dict[str, ModelSpec]
    tasks: dict[str, TaskRoute]
    default_task: str = AgentTask.TOOL_SELECT.value
    node_tasks: dict[str, str] = Field(default_factory=dict)
    fallbacks: dict[str, list[str]] = Field(default_factory=dict)
    context_upgrades: dict[str, str] = Field(default_factory=dict)
    upgrade_at: float = Field(default=0.8, gt=0, le=1)
    reserve_output_tokens: int = Field(default=4096, gt=0)
    retry: RetrySpec = RetrySpec()
    budget: BudgetSpec = BudgetSpec()
    health: HealthSpec | None = HealthSpec()
    """Circuit breakers (on by default); ``health: false`` (or None) turns them off."""
    sticky: bool = False
    """Cache-aware stickiness: a call stays on the model that served the same task's last
    call in the thread (read from the routed AIMessages of the prompt, so it survives resumes
    and stateless workers) while that model is healthy, fits, and is the task's model or one
    of its fallbacks. Off by default: a thread that once fell back stays on the fallback."""
    planning: PlanningSpec = PlanningSpec()
    difficulty: dict[str, DifficultySpec] | None = None
    """Difficulty routing per task; None (default): ``synthesize`` is easy on the
    ``tool_select`` model when that one is a different model (see :meth:`difficulty_of`);
    ``{}`` turns difficulty routing off."""

    # ---- construction -------------------------------------------------------------------

    @classmethod
    def default(cls) -> RoutingPolicy:
        """The routing table of the production guide (see DESIGN.md)."""
        return cls.from_dict(DEFAULT_POLICY)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoutingPolicy:
        """Validate a mapping; errors become :class:`PolicyError` naming the key (and the
        closest real key when one is misspelled)."""
        policy: RoutingPolicy = validate(cls, data)
        return policy

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> RoutingPolicy:
        """Load a ``.yaml``/``.yml`` or ``.toml`` policy file."""
        return cls.from_dict(read_file(path))

    def updated(self, changes: Mapping[str, Any]) -> RoutingPolicy:
        """A validated copy with ``changes`` deep-merged in (mappings merge key by key, lists
        and values replace).

        >>> policy = RoutingPolicy.default().updated({"node_tasks": {"writer": "synthesize"}})
        >>> policy.node_tasks
        {'agent': 'tool_select', 'writer': 'synthesize'}
        >>> RoutingPolicy.default().updated({"tasks": {"plan": {"model": "gpt-5"}}})
        Traceback (most recent call last):
        ...
        langgraph_routing._errors.PolicyError: policy key 'tasks.plan.model': unknown model 'gpt-5' (known: o3-mini, gpt-4o-mini, gpt-4o, claude-3-5-sonnet-20241022, claude-3-5-haiku-20241022)
        """
        return type(self).from_dict(deep_merge(self.model_dump(), changes))

    def model_copy(
        self, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> RoutingPolicy:
        """A copy; with ``update`` the result is validated like any policy (a copy can never
        hold a broken policy). Use :meth:`updated` for a deep merge."""
        if not update:
            return super().model_copy(deep=deep)
        return type(self).from_dict({**self.model_dump(), **update})

    @field_validator("health", mode="before")
    @classmethod
    def _health_switch(cls, value: Any) -> Any:
        """``health: false`` turns breakers off, ``health: true`` keeps the defaults."""
        if value is False:
            return None
        if value is True:
            return HealthSpec()
        return value

    @model_validator(mode="after")
    def _check_references(self) -> RoutingPolicy:
        for name, spec in self.models.items():
            if spec.name and spec.name != name:
                raise ValueError(f"models.{name}.name: differs from its key ({spec.name!r})")
            if not spec.name:
                object.__setattr__(spec, "name", name)
        if not self.tasks:
            raise ValueError("tasks.<root>: at least one task is needed")
        for task, route in self.tasks.items():
            if not TASK_NAME.match(task):
                raise ValueError(
                    f"tasks.{task}: a task name is an identifier (letters, digits, _ and -)"
                )
            self._known(f"tasks.{task}.model", route.model)
            if route.role is not None and route.role not in self.roles:
                raise ValueError(f"tasks.{task}.role: unknown role {route.role!r}")
        if self.default_task not in self.tasks:
            raise ValueError(
                f"default_task.{self.default_task}: has no entry in tasks "
                f"(known: {', '.join(self.tasks)})"
            )
        for node, task in self.node_tasks.items():
            if task not in self.tasks:
                raise ValueError(
                    f"node_tasks.{node}: task {task!r} has no entry in tasks "
                    f"(known: {', '.join(self.tasks)})"
                )
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
        for task, rule in (self.difficulty or {}).items():
            if task not in self.tasks and task not in STANDARD_TASKS:
                raise ValueError(
                    f"difficulty.{task}: unknown task (known: {', '.join(self.tasks)})"
                )
            self._known(f"difficulty.{task}.easy", rule.easy)
            if rule.hard is not None:
                self._known(f"difficulty.{task}.hard", rule.hard)
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

    def check_task(self, task: str) -> str:
        """``task`` as the name of a task of this policy; :class:`UnknownTaskError` (listing the
        known tasks) when the policy does not define it. The four standard tasks are always
        accepted: one the policy lacks is its ``default_task``.

        >>> RoutingPolicy.default().check_task("digest")
        Traceback (most recent call last):
        ...
        langgraph_routing._errors.UnknownTaskError: policy key 'tasks': unknown task 'digest' (known: plan, tool_select, synthesize, critique); add it under tasks: or use one of those
        """
        name = str(task.value if isinstance(task, AgentTask) else task)
        if name in self.tasks:
            return name
        if name in STANDARD_TASKS:
            return self.default_task
        raise UnknownTaskError(name, list(self.tasks))

    def route_of(self, task: str) -> TaskRoute:
        """The route of a task (a standard task the policy lacks uses ``default_task``'s)."""
        return self.tasks.get(str(task)) or self.tasks[self.default_task]

    def resolve_task(
        self, bound: str | None = None, metadata: Mapping[str, Any] | None = None
    ) -> str:
        """Task of one call, first hit wins: the bound task; metadata ``routing_task``;
        ``node_tasks`` for ``agent/node``, the agent (:func:`agent_of`), then the node; a node
        named like a task; ``default_task``.

        >>> policy = RoutingPolicy.default().updated(
        ...     {"node_tasks": {"research_expert": "synthesize", "math_expert/agent": "plan"}})
        >>> policy.resolve_task(None, {"langgraph_node": "agent", "lc_agent_name": "research_expert"})
        'synthesize'
        >>> policy.resolve_task(None, {"langgraph_node": "agent", "lc_agent_name": "math_expert"})
        'plan'
        >>> policy.resolve_task(None, {"langgraph_node": "agent"})
        'tool_select'
        """
        if bound:
            return self.check_task(bound)
        meta = metadata or {}
        explicit = meta.get("routing_task")
        if explicit:
            return self.check_task(str(explicit))
        node = meta.get("langgraph_node")
        node = node if isinstance(node, str) and node else None
        agent = agent_of(meta) if self.node_tasks else None
        if self.node_tasks:
            if agent and node and (task := self.node_tasks.get(f"{agent}/{node}")):
                return task
            if agent and (task := self.node_tasks.get(agent)):
                return task
            if node and (task := self.node_tasks.get(node)):
                return task
        if node and node in self.tasks:
            return node
        return self.default_task

    def difficulty_of(self, task: str) -> DifficultySpec | None:
        """The difficulty rule of ``task`` (None: the task always goes to its model).

        >>> rule = RoutingPolicy.default().difficulty_of("synthesize")
        >>> rule.easy, rule.hard
        ('gpt-4o-mini', 'claude-3-5-sonnet-20241022')
        >>> RoutingPolicy.default().updated({"difficulty": {}}).difficulty_of("synthesize") is None
        True
        """
        name = str(task)
        hard = self.route_of(name).model
        if self.difficulty is not None:
            rule = self.difficulty.get(name)
            if rule is None or rule.hard is not None:
                return rule
            return rule.model_copy(update={"hard": hard})
        if name != AgentTask.SYNTHESIZE.value or AgentTask.TOOL_SELECT.value not in self.tasks:
            return None
        easy = self.tasks[AgentTask.TOOL_SELECT.value].model
        return None if easy == hard else DifficultySpec(easy=easy, hard=hard)

    def reserved_output(self, task: str, max_tokens: int | None = None) -> int:
        """Output tokens to reserve for a call: the call's ``max_tokens``, else the task's, else
        the policy's ``reserve_output_tokens`` (bounded by the model's output limit). It is
        also the ``max_tokens`` the call is sent with, so a call never spends more."""
        route = self.route_of(task)
        spec = self.models[route.model]
        wanted = max_tokens or route.max_output_tokens or self.reserve_output_tokens
        return min(wanted, spec.max_output_tokens)

    def window_of(self, task: str, needs_tools: bool = False) -> tuple[int, int]:
        """(largest context window, its model's output limit) a task can reach through its
        context upgrades: what a caller may send to this task."""
        model = self.route_of(task).model
        best = self.models[model]
        nxt = self.upgrade_of(model)
        while nxt is not None:
            spec = self.models[nxt]
            if spec.context_window > best.context_window and (
                not needs_tools or spec.supports_tools
            ):
                best = spec
            nxt = self.upgrade_of(nxt)
        return best.context_window, best.max_output_tokens

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
        task: str,
        prompt_tokens: int,
        needs_tools: bool = False,
        reserved_output: int | None = None,
    ) -> Choice:
        """Pick the model for one call. Raises :class:`ContextTooLargeError` when nothing fits."""
        task = self.check_task(task)
        route = self.route_of(task)
        reserve = reserved_output if reserved_output is not None else self.reserved_output(task)
        model, reason = route.model, f"task {task} -> {route.model}"
        if needs_tools and not self.models[model].supports_tools:
            tool_capable = [
                m for m in self.fallbacks.get(model, []) if self.models[m].supports_tools
            ]
            if not tool_capable:
                raise PolicyError(f"tasks.{task}.model", f"{model!r} cannot call tools")
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
                if prompt_tokens < window:  # as the provider would: output gets what is left
                    reserve = window - prompt_tokens
                    reason += f"; output cut to {reserve} tokens to fit {model}'s window"
                    break
                raise ContextTooLargeError(prompt_tokens, tried, f"{model}'s window is {window}")
            reason += f"; ~{prompt_tokens}+{reserve} tokens > {self.upgrade_at:.0%} of {model} -> {bigger}"
            model = bigger
            tried.append(model)
        return Choice(task, model, route.role, reason, reserve, first if model != first else None)

    def fallback_chain(self, model: str, needs_tools: bool = False) -> list[str]:
        """Models to try after ``model`` fails with a provider error, in order."""
        chain: list[str] = []
        seen = {model}
        queue = deque(self.fallbacks.get(model, []))
        while queue:  # breadth first, each model once: linear in the chain's length
            m = queue.popleft()
            if m in seen:
                continue
            seen.add(m)
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
