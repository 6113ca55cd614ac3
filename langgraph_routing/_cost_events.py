"""How one LLM call's end or failure becomes ledger entries (the handler's bookkeeping).

:class:`CostEvents` is the part of :class:`~langgraph_routing.CostCallbackHandler` that turns a
finished call (its routing record, or the gateway's headers for other chat models) or a failed
one (the attempts the routing model raised with, a cancelled stream priced at its estimate) into
:class:`~langgraph_routing.CostEntry` records.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult

from ._context import agent_of
from ._errors import RoutesExhaustedError
from ._failures import inspect_error
from ._ledger import CALL_ID_HEADER, CostEntry, entries_from_routing, header, resolve_cost
from ._policy import RoutingPolicy
from ._runs import run_tracker
from ._tokens import TokenCounter


@dataclass(slots=True)
class _Pending:
    """A call in flight. Where it sits in the run (root, node, agent, step, thread) is read from
    its metadata only when an entry needs it: a routed answer's record says all of it."""

    started: float
    run_id: UUID
    parent_run_id: UUID | None
    meta: Mapping[str, Any]
    model: str | None
    task: str | None
    prompt_tokens: int  # -1: not counted yet (see ``tokens``)
    prompt: list[BaseMessage] | None = None
    tools: Any = None  # the tools sent with the prompt (counted with it)
    reserved_usd: float = 0.0  # held against the run's budget until the call ends
    first: dict[str, Any] | None = None  # the first streamed chunk's headers and record
    streamed_chars: int = 0
    known_root: str | None = None

    @property
    def root(self) -> str:
        """The run's root id (the outermost known ancestor of the call)."""
        if self.known_root is None:
            self.known_root = str(run_tracker().root_of(self.run_id, self.parent_run_id))
        return self.known_root

    @property
    def node(self) -> str | None:
        node = self.meta.get("langgraph_node")
        return node if isinstance(node, str) else None

    @property
    def agent(self) -> str | None:
        return agent_of(self.meta)

    @property
    def step(self) -> int | None:
        step = self.meta.get("langgraph_step")
        return step if isinstance(step, int) else None

    @property
    def thread_id(self) -> str | None:
        thread_id = self.meta.get("thread_id")
        return str(thread_id) if thread_id else None


def routed_record(response: LLMResult) -> tuple[Mapping[str, Any] | None, Mapping[str, Any]]:
    """(the routing record, the usage) of a routed answer; (None, usage) for another model's."""
    generations = response.generations
    if not generations or not generations[0]:
        return None, {}
    generation = generations[0][0]
    message = getattr(generation, "message", None)
    answered: Mapping[str, Any] = getattr(message, "response_metadata", None) or {}
    routing = answered.get("routing")
    if routing is None:
        routing = (generation.generation_info or {}).get("routing")
    usage: Mapping[str, Any] = getattr(message, "usage_metadata", None) or {}
    # exact type first: an abstract-class check is slow on this path, which every call takes
    if type(routing) is dict or isinstance(routing, Mapping):
        return routing, usage
    return None, usage


class CostEvents:
    """Turns call ends and failures into entries; the handler provides ``add``."""

    policy: RoutingPolicy
    _counter: TokenCounter

    def add(self, entry: CostEntry) -> bool:
        raise NotImplementedError

    def _add_routed(
        self, routing: Mapping[str, Any], usage: Mapping[str, Any], call_run: UUID, run: str
    ) -> None:
        """Add the entries of a routed call's record (a handler may defer building them);
        ``call_run`` is the call's own run id, ``run`` the run it belongs to."""
        fallback_id = str(call_run)
        for entry in entries_from_routing(routing, usage, fallback_id=fallback_id, run_id=run):
            self.add(entry)

    def _ended(self, pending: _Pending, response: LLMResult, run_id: UUID) -> None:
        routing, usage = routed_record(response)
        if routing is not None:  # a routed call's record, read without copies
            self._add_routed(routing, usage, run_id, routing.get("run_id") or pending.root)
            return
        if not response.generations or not response.generations[0]:
            return
        generation = response.generations[0][0]
        message = getattr(generation, "message", None)
        answered: Mapping[str, Any] = getattr(message, "response_metadata", None) or {}
        meta: dict[str, Any] = {**(generation.generation_info or {}), **answered}
        model = str(meta.get("model_name") or pending.model or "")
        headers = meta.get("headers")
        prompt = int(usage.get("input_tokens") or self._prompt_tokens(pending))
        completion = int(usage.get("output_tokens") or 0)
        estimate = None
        if model in self.policy.models:
            estimate = self.policy.models[model].cost_usd(prompt, completion)
        cost, source = resolve_cost(headers, meta.get("usage_cost"), estimate)
        call_id = header(headers, CALL_ID_HEADER) or meta.get("id") or getattr(message, "id", None)
        self.add(
            self._entry(
                pending, str(call_id or run_id), model, prompt, completion, cost, source, "ok"
            )
        )

    def _failed(self, pending: _Pending, error: BaseException, run_id: UUID) -> None:
        raised_routing = getattr(error, "routing", None)  # set by RoutingChatModel when it raises
        if isinstance(raised_routing, Mapping):
            for entry in entries_from_routing(
                raised_routing, None, fallback_id=str(run_id), run_id=pending.root
            ):
                self.add(entry)
            return
        if isinstance(error, RoutesExhaustedError):
            exhausted: dict[str, Any] = {
                "run_id": pending.root,
                "thread_id": pending.thread_id,
                "node": pending.node,
                "agent": pending.agent,
                "step": pending.step,
                "task": error.task,
                "attempts": error.attempts,
            }
            for entry in entries_from_routing(exhausted, None, fallback_id=str(run_id)):
                self.add(entry)
            return
        cancelled = (
            isinstance(error, GeneratorExit | KeyboardInterrupt)
            or type(error).__name__ == "CancelledError"
        )
        first = pending.first or {}
        headers = (first.get("headers") if cancelled else None) or {}
        info = None if cancelled else inspect_error(error)
        if info is not None:
            headers = dict(info.headers)
        routing: dict[str, Any] = first.get("routing") or {}
        model = str(routing.get("model") or pending.model or "")
        completion = max(pending.streamed_chars // 4, 0) if cancelled else 0
        estimate = None
        if cancelled and model in self.policy.models:
            estimate = self.policy.models[model].cost_usd(self._prompt_tokens(pending), completion)
        cost, source = resolve_cost(headers, None, estimate)
        call_id = header(headers, CALL_ID_HEADER) or f"{run_id}:error"
        if not cancelled and info is None:
            return  # not a gateway call failure (e.g. a budget refusal before any request)
        self.add(
            self._entry(
                pending,
                call_id,
                model,
                self._prompt_tokens(pending),
                completion,
                cost,
                source,
                "cancelled" if cancelled else "error",
                task=routing.get("task"),
                role=routing.get("role"),
            )
        )

    def _prompt_tokens(self, pending: _Pending) -> int:
        if pending.prompt_tokens < 0:
            pending.prompt_tokens = self._counter.count(
                pending.prompt or [], "", pending.tools or None
            ).tokens
            pending.tools = None
            pending.prompt = None
        return pending.prompt_tokens

    def _entry(
        self,
        pending: _Pending,
        call_id: str,
        model: str,
        prompt: int,
        completion: int,
        cost: float | None,
        source: Any,
        status: Any,
        task: str | None = None,
        role: str | None = None,
    ) -> CostEntry:
        return CostEntry(
            call_id=call_id,
            run_id=pending.root,
            thread_id=pending.thread_id,
            node=pending.node,
            agent=pending.agent,
            step=pending.step,
            task=task or pending.task,
            model=model or None,
            role=role,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost_usd=cost,
            source=source,
            status=status,
            latency_s=round(time.perf_counter() - pending.started, 6),
        )
