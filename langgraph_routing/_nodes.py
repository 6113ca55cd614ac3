"""The model nodes of the routing agent: plan, tool_select, synthesize and critique.

Each node is a LangGraph node (sync and async) that builds its prompt from the state, calls the
model bound to its task, and writes its reply plus the ledger entries (``costs``) and the routing
decision (``routing``) of the call. A gateway budget refusal ends the run gracefully
(``stop_reason="gateway_budget_exceeded"``); every other error propagates, so a checkpointer
keeps the state before the node and ``graph.invoke(None, config)`` resumes it.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.config import get_stream_writer

from ._errors import BudgetExceededError
from ._ledger import entries_from_routing
from ._model import RoutingChatModel
from ._policy import AgentTask
from ._state import StopReason, costs_update

__all__ = [
    "CRITIQUE_PROMPT",
    "DRAFT_FLAG",
    "PLAN_PROMPT",
    "SYNTHESIZE_PROMPT",
    "TOOL_SELECT_PROMPT",
    "CritiqueNode",
    "ModelNode",
    "PlanNode",
    "SynthesizeNode",
    "ToolSelectNode",
    "critique_node",
    "parse_verdict",
    "plan_node",
    "stop_update",
    "synthesize_node",
    "tool_select_node",
]

PLAN_PROMPT = (
    "You are the planner. Write a short numbered plan (at most five steps) for answering the "
    "user's latest request with the tools available. Do not answer the request yourself.\n"
    "Tools:\n{tools}"
)
TOOL_SELECT_PROMPT = (
    "Follow the plan. Call a tool whenever you need data; when the tool results are enough, "
    "reply with a one-line note of what you found and call no tool.\nPlan:\n{plan}"
)
SYNTHESIZE_PROMPT = (
    "Write the final answer to the user's latest request from the conversation and the tool "
    "results. Quote the figures you rely on. Be concise."
)
CRITIQUE_PROMPT = (
    "You review a draft answer to the user's latest request. Reply 'APPROVE' when it is correct "
    "and supported by the tool results; otherwise reply 'REVISE: ' followed by what to fix."
)
REVISE_NOTE = "A reviewer asked for a revision of your previous draft:\n{feedback}"
DRAFT_FLAG = "routing_draft"
"""``response_metadata`` flag of a synthesize reply (a draft until a critique approves it)."""


def stop_update(
    reason: StopReason | str, text: str, final_answer: str | None = None
) -> dict[str, Any]:
    """State update that ends a run: a final AIMessage saying why, ``final_answer``, ``stop_reason``.

    >>> stop_update("budget_exhausted", "Stopped: budget.")["stop_reason"]
    'budget_exhausted'
    """
    reason = StopReason(reason).value
    message = AIMessage(content=text, response_metadata={"stop_reason": reason})
    return {"messages": [message], "final_answer": final_answer or text, "stop_reason": reason}


def _text(message: BaseMessage) -> str:
    return str(message.text)


def _for_task(model: BaseChatModel, task: str) -> BaseChatModel:
    if isinstance(model, RoutingChatModel) and model.task is None:
        return model.with_task(task)
    return model


def _with_system(system_prompt: str | None, text: str) -> SystemMessage:
    return SystemMessage(f"{system_prompt}\n\n{text}" if system_prompt else text)


def conversation(state: Mapping[str, Any]) -> list[BaseMessage]:
    """The state's messages without trailing drafts and stop notices (what a model re-reads)."""
    messages: list[BaseMessage] = list(state.get("messages") or [])
    while messages and isinstance(messages[-1], AIMessage) and _is_draft(messages[-1]):
        messages.pop()
    return messages


def _is_draft(message: AIMessage) -> bool:
    meta = message.response_metadata
    return bool(meta.get(DRAFT_FLAG)) or "stop_reason" in meta


def parse_verdict(text: str) -> tuple[bool, str]:
    """``(approved, feedback)`` of a critique: only a reply starting with REVISE rejects.

    >>> parse_verdict("REVISE: give the units")
    (False, 'give the units')
    >>> parse_verdict("APPROVE")[0], parse_verdict("Looks fine to me.")[0]
    (True, True)
    """
    stripped = text.strip().lstrip("*#> ").strip()
    if stripped[:6].upper() == "REVISE":
        return False, stripped[6:].lstrip(" :-\n").strip() or "Revise the answer."
    return True, stripped


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

    def __init__(
        self,
        model: BaseChatModel,
        *,
        tools: Sequence[BaseTool] | None = None,
        system_prompt: str | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(self._func, afunc=self._afunc, name=name or str(self.task))
        self.model = _for_task(model, self.task)
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

    def _finish(self, state: Mapping[str, Any], reply: BaseMessage) -> dict[str, Any]:
        if not isinstance(reply, AIMessage):  # a non-chat runnable; keep the contract
            reply = AIMessage(content=reply.content, id=reply.id)
        update = self.apply(state, reply)
        ledger = costs_update(reply)
        update.update(ledger)
        update["model_steps"] = 1 if self.starts_run else int(state.get("model_steps") or 0) + 1
        writer = get_stream_writer()
        for decision in ledger.get("routing", []):
            writer({"event": "routing", **decision})
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

    def _admit(self, state: Mapping[str, Any]) -> tuple[Any, dict[str, Any] | None]:
        """``(what the guard holds, the stop update if it refused)``: the guard admits the call
        atomically (concurrent ``Send`` branches see each other) and grants its max_tokens."""
        held = self.guard.hold(self, state) if self.guard is not None else None
        if held is None or held[1].admitted:
            return held, None
        text = f"Stopped before {self.name}: {held[1].message}."
        return held, stop_update(StopReason.BUDGET_EXHAUSTED, text)

    def _func(self, state: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
        held, refused = self._admit(state)
        if refused is not None:
            return refused
        kwargs = {"max_tokens": held[1].max_tokens} if held is not None else {}
        try:
            reply = self.runnable.invoke(self.prompt(state), config, **kwargs)
        except BudgetExceededError as exc:
            return self._gateway_stop(exc)
        finally:
            if held is not None:
                self.guard.release(held)
        return self._finish(state, reply)

    async def _afunc(self, state: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
        held, refused = self._admit(state)
        if refused is not None:
            return refused
        kwargs = {"max_tokens": held[1].max_tokens} if held is not None else {}
        try:
            reply = await self.runnable.ainvoke(self.prompt(state), config, **kwargs)
        except BudgetExceededError as exc:
            return self._gateway_stop(exc)
        finally:
            if held is not None:
                self.guard.release(held)
        return self._finish(state, reply)


class PlanNode(ModelNode):
    """Writes ``plan``; starts a run (resets the step and critique counters)."""

    task = AgentTask.PLAN
    starts_run = True

    def __init__(
        self,
        model: BaseChatModel,
        *,
        tools: Sequence[BaseTool] | None = None,
        system_prompt: str | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(model, system_prompt=system_prompt, name=name)
        self.tool_list = "\n".join(f"- {t.name}: {t.description}" for t in tools or []) or "(none)"

    def prompt(self, state: Mapping[str, Any]) -> list[BaseMessage]:
        system = _with_system(self.system_prompt, PLAN_PROMPT.format(tools=self.tool_list))
        return [system, *conversation(state)]

    def apply(self, state: Mapping[str, Any], reply: AIMessage) -> dict[str, Any]:
        return {
            "plan": _text(reply),
            "stop_reason": None,
            "final_answer": "",
            "critiques": 0,
            "critique": "",
        }


class ToolSelectNode(ModelNode):
    """Calls the model with the tools bound; its reply (tool calls or a note) joins ``messages``."""

    task = AgentTask.TOOL_SELECT

    def prompt(self, state: Mapping[str, Any]) -> list[BaseMessage]:
        plan = state.get("plan") or "(no plan: decide from the request)"
        return [
            _with_system(self.system_prompt, TOOL_SELECT_PROMPT.format(plan=plan)),
            *conversation(state),
        ]

    def apply(self, state: Mapping[str, Any], reply: AIMessage) -> dict[str, Any]:
        return {"messages": [reply]}


class SynthesizeNode(ModelNode):
    """Writes the answer (``final_answer``, ``stop_reason="done"``); a revision replaces the draft."""

    task = AgentTask.SYNTHESIZE

    def prompt(self, state: Mapping[str, Any]) -> list[BaseMessage]:
        text = SYNTHESIZE_PROMPT
        feedback = state.get("critique") if state.get("stop_reason") is None else None
        if state.get("critiques") and feedback:
            text += "\n\n" + REVISE_NOTE.format(feedback=feedback)
        return [_with_system(self.system_prompt, text), *conversation(state)]

    def apply(self, state: Mapping[str, Any], reply: AIMessage) -> dict[str, Any]:
        messages = list(state.get("messages") or [])
        previous = messages[-1] if messages else None
        if isinstance(previous, AIMessage) and previous.response_metadata.get(DRAFT_FLAG):
            reply = reply.model_copy(update={"id": previous.id})  # the revision replaces it
        reply.response_metadata[DRAFT_FLAG] = True
        return {"messages": [reply], "final_answer": _text(reply), "stop_reason": "done"}


class CritiqueNode(ModelNode):
    """Reviews the draft: only a reply starting with ``REVISE`` sends it back to synthesize,
    at most ``max_critiques`` times (then ``stop_reason="critique_rejected"``)."""

    task = AgentTask.CRITIQUE

    def __init__(
        self,
        model: BaseChatModel,
        *,
        max_critiques: int = 2,
        system_prompt: str | None = None,
        name: str | None = None,
    ) -> None:
        if max_critiques < 1:
            raise ValueError(f"max_critiques must be >= 1, got {max_critiques}")
        super().__init__(model, system_prompt=system_prompt, name=name)
        self.max_critiques = max_critiques

    def prompt(self, state: Mapping[str, Any]) -> list[BaseMessage]:
        draft = state.get("final_answer") or ""
        return [
            _with_system(self.system_prompt, CRITIQUE_PROMPT),
            *conversation(state),
            HumanMessage(f"Draft answer to review:\n{draft}"),
        ]

    def apply(self, state: Mapping[str, Any], reply: AIMessage) -> dict[str, Any]:
        approved, feedback = parse_verdict(_text(reply))
        rounds = int(state.get("critiques") or 0) + 1
        if approved:
            reason: str | None = StopReason.DONE.value
        elif rounds < self.max_critiques:
            reason = None
        else:
            reason = StopReason.CRITIQUE_REJECTED.value
        return {"critiques": rounds, "critique": feedback, "stop_reason": reason}


def plan_node(
    model: BaseChatModel,
    tools: Sequence[BaseTool] | None = None,
    *,
    system_prompt: str | None = None,
    name: str | None = None,
) -> PlanNode:
    """The plan step: writes ``plan`` (the tools are only listed in the prompt, not bound).

    >>> from langgraph_routing import init_routing_model
    >>> node = plan_node(init_routing_model(base_url="http://127.0.0.1:4000/v1", api_key="sk-x"))
    >>> node.name, node.task.value
    ('plan', 'plan')
    """
    return PlanNode(model, tools=tools, system_prompt=system_prompt, name=name)


def tool_select_node(
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    *,
    system_prompt: str | None = None,
    name: str | None = None,
) -> ToolSelectNode:
    """The tool-calling step: the model with ``tools`` bound, its reply appended to ``messages``.

    >>> from langgraph_routing import init_routing_model
    >>> from langgraph_routing.demo import DEMO_TOOLS
    >>> model = init_routing_model(base_url="http://127.0.0.1:4000/v1", api_key="sk-x")
    >>> [s["function"]["name"] for s in tool_select_node(model, DEMO_TOOLS).tool_schemas]
    ['calculator', 'lookup', 'search_docs']
    """
    return ToolSelectNode(model, tools=tools, system_prompt=system_prompt, name=name)


def synthesize_node(
    model: BaseChatModel, *, system_prompt: str | None = None, name: str | None = None
) -> SynthesizeNode:
    """The answer step: writes the reply, ``final_answer`` and ``stop_reason="done"``, plus
    ``costs``/``routing``. Add it to any graph whose state has :class:`RoutingState`'s keys.

    >>> from langgraph_routing import init_routing_model
    >>> model = init_routing_model(base_url="http://127.0.0.1:4000/v1", api_key="sk-x")
    >>> synthesize_node(model, name="answer").model.task   # the task is bound
    'synthesize'
    """
    return SynthesizeNode(model, system_prompt=system_prompt, name=name)


def critique_node(
    model: BaseChatModel,
    *,
    max_critiques: int = 2,
    system_prompt: str | None = None,
    name: str | None = None,
) -> CritiqueNode:
    """The review step: ``stop_reason`` becomes ``"done"`` unless the reply starts with REVISE
    (then None, to revise, or ``"critique_rejected"`` after ``max_critiques`` rounds).

    >>> from langgraph_routing import init_routing_model
    >>> model = init_routing_model(base_url="http://127.0.0.1:4000/v1", api_key="sk-x")
    >>> critique_node(model, max_critiques=3).max_critiques
    3
    """
    return CritiqueNode(model, max_critiques=max_critiques, system_prompt=system_prompt, name=name)
