"""The base of the template's model nodes: prompt from state -> routed call -> reply, with the
call's ledger entries (``costs``) and routing decision (``routing``).

A gateway budget refusal ends the run gracefully (``stop_reason="gateway_budget_exceeded"``);
every other error propagates, so a checkpointer keeps the state before the node and
``graph.invoke(None, config)`` resumes it.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.config import get_stream_writer

from ._errors import BudgetExceededError
from ._ledger import entries_from_routing
from ._model import RoutingChatModel
from ._prompts import stop_update
from ._router import RouteDecision, Router, request_features
from ._state import StopReason, costs_update

__all__ = ["RECORD_KEY", "ModelNode"]


def _for_task(model: BaseChatModel, task: str) -> BaseChatModel:
    if isinstance(model, RoutingChatModel) and model.task is None:
        return model.with_task(task)
    return model


RECORD_KEY = "__routing_record__"  # extra decision-log fields an ``apply`` returns


class ModelNode(RunnableLambda[Any, dict[str, Any]], abc.ABC):
    """Base of the model nodes: prompt from state -> model call -> reply, costs and decision.

    Subclasses define :meth:`prompt` and :meth:`apply`. ``request(state)`` gives what the node
    would send (messages and tool schemas), which the budget guard prices before the call.
    """

    task: str
    starts_run: bool = False
    guard: Any = None
    """The :class:`BudgetGuard` that admitted this node (set by the guard); the node sends the
    ``max_tokens`` it grants."""
    router: Router | None = None
    """Chooses the model of each call from the request's features (see :class:`Router`)."""

    def __init__(
        self,
        model: BaseChatModel,
        *,
        tools: Sequence[BaseTool] | None = None,
        system_prompt: str | None = None,
        name: str | None = None,
        router: Router | None = None,
    ) -> None:
        super().__init__(self._func, afunc=self._afunc, name=name or str(self.task))
        self.model = _for_task(model, self.task)
        self.router = router
        self._by_task: dict[str, Runnable[LanguageModelInput, BaseMessage]] = {}
        self.system_prompt = system_prompt
        self.tools = list(tools or [])
        self.tool_schemas: list[dict[str, Any]] | None = (
            [convert_to_openai_tool(t) for t in self.tools] if self.tools else None
        )
        self.runnable: Runnable[LanguageModelInput, BaseMessage] = (
            self.model.bind_tools(self.tools) if self.tools else self.model
        )

    @abc.abstractmethod
    def prompt(self, state: Mapping[str, Any]) -> list[BaseMessage]:
        """The messages this node sends for ``state``."""

    @abc.abstractmethod
    def apply(self, state: Mapping[str, Any], reply: AIMessage) -> dict[str, Any]:
        """The state update (besides costs and routing) for the model's reply."""

    def request(
        self, state: Mapping[str, Any]
    ) -> tuple[list[BaseMessage], list[dict[str, Any]] | None]:
        """The messages and tool schemas this node would send for ``state``."""
        return self.prompt(state), self.tool_schemas

    def route(self, state: Mapping[str, Any]) -> RouteDecision | None:
        """The router's choice for this step's call (None without a router, or when the model
        is not a :class:`RoutingChatModel`)."""
        if self.router is None or not isinstance(self.model, RoutingChatModel):
            return None
        return self.router.route(request_features(str(self.task), self.prompt(state)))

    def _runnable_for(
        self, decision: RouteDecision | None
    ) -> Runnable[LanguageModelInput, BaseMessage]:
        task = decision.task if decision is not None else None
        if not task or not isinstance(self.model, RoutingChatModel):
            return self.runnable
        if task not in self._by_task:
            model = self.model.with_task(task)
            self._by_task[task] = model.bind_tools(self.tools) if self.tools else model
        return self._by_task[task]

    def _finish(
        self, state: Mapping[str, Any], reply: BaseMessage, decision: RouteDecision | None = None
    ) -> dict[str, Any]:
        if not isinstance(reply, AIMessage):  # a non-chat runnable; keep the contract
            reply = AIMessage(content=reply.content, id=reply.id)
        update = self.apply(state, reply)
        extra = update.pop(RECORD_KEY, None) or {}
        ledger = costs_update(reply)
        update.update(ledger)
        first = self.starts_run or not state.get("model_steps")
        update["model_steps"] = 1 if self.starts_run else int(state.get("model_steps") or 0) + 1
        gate = state.get("plan_gate") if first else None
        writer = get_stream_writer()
        for record in ledger.get("routing", []):
            if decision is not None and decision.reason:
                record["router"] = decision.reason
                pinned = f"model {decision.model} pinned by caller"
                reason = str(record.get("reason") or "")
                if decision.model and reason.startswith(pinned):
                    record["reason"] = decision.reason + reason[len(pinned) :]
            if isinstance(gate, Mapping):
                record["plan_gate"] = gate.get("reason")
            record.update(extra)
            writer({"event": "routing", **record})
        return update

    def _gateway_stop(self, exc: BudgetExceededError) -> dict[str, Any]:
        if exc.scope == "gateway":
            reason = StopReason.GATEWAY_BUDGET_EXCEEDED
            text = f"Stopped before {self.name}: the gateway refused the call ({exc})."
        else:  # a run/thread budget (e.g. a CostCallbackHandler with budget_usd) refused it
            reason = StopReason.BUDGET_EXHAUSTED
            text = f"Stopped before {self.name}: {exc}"
        update = stop_update(reason, text)
        routing = getattr(exc, "routing", None)  # the refused call's attempts, for the ledger
        if isinstance(routing, Mapping):
            update["costs"] = [
                e.to_dict()
                for e in entries_from_routing(routing, None, fallback_id=f"{self.name}:refused")
            ]
        return update

    def _admit(
        self, state: Mapping[str, Any], decision: RouteDecision | None
    ) -> tuple[Any, dict[str, Any] | None]:
        """``(what the guard holds, the stop update if it refused)``: the guard admits the call
        atomically (concurrent ``Send`` branches see each other) and grants its max_tokens."""
        held = self.guard.hold(self, state, decision) if self.guard is not None else None
        if held is None or held[1].admitted:
            return held, None
        text = f"Stopped before {self.name}: {held[1].message}."
        return held, stop_update(StopReason.BUDGET_EXHAUSTED, text)

    @staticmethod
    def _call_kwargs(held: Any, decision: RouteDecision | None) -> dict[str, Any]:
        """The model the router picked, and ``max_tokens`` granted by the budget guard."""
        kwargs: dict[str, Any] = {"model": decision.model} if decision and decision.model else {}
        if held is not None:
            kwargs["max_tokens"] = held[1].max_tokens
        return kwargs

    def _func(self, state: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
        decision = self.route(state)
        held, refused = self._admit(state, decision)
        if refused is not None:
            return refused
        runnable = self._runnable_for(decision)
        try:
            reply = runnable.invoke(self.prompt(state), config, **self._call_kwargs(held, decision))
        except BudgetExceededError as exc:
            return self._gateway_stop(exc)
        finally:
            if held is not None:
                self.guard.release(held)
        return self._finish(state, reply, decision)

    async def _afunc(self, state: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
        decision = self.route(state)
        held, refused = self._admit(state, decision)
        if refused is not None:
            return refused
        runnable = self._runnable_for(decision)
        try:
            reply = await runnable.ainvoke(
                self.prompt(state), config, **self._call_kwargs(held, decision)
            )
        except BudgetExceededError as exc:
            return self._gateway_stop(exc)
        finally:
            if held is not None:
                self.guard.release(held)
        return self._finish(state, reply, decision)
