"""The model nodes of the routing agent: plan, tool_select, synthesize and critique.

Each node is a LangGraph node (sync and async) that builds its prompt from the state, calls the
model bound to its task, and writes its reply plus the ledger entries (``costs``) and the routing
decision (``routing``) of the call. A gateway budget refusal ends the run gracefully
(``stop_reason="gateway_budget_exceeded"``); every other error propagates, so a checkpointer
keeps the state before the node and ``graph.invoke(None, config)`` resumes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    RemoveMessage,
    ToolMessage,
)
from langchain_core.tools import BaseTool

from ._model_node import RECORD_KEY, ModelNode
from ._policy import AgentTask
from ._prompts import (
    CRITIQUE_PROMPT,
    DRAFT_FLAG,
    PLAN_PROMPT,
    REVISE_NOTE,
    SYNTHESIZE_PROMPT,
    SYNTHESIZE_TOOLS_NOTE,
    TOOL_SELECT_PROMPT,
    _text,
    _with_system,
    conversation,
    parse_verdict,
    stop_update,
)
from ._router import Router, request_features
from ._state import StopReason

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
    """Calls the model with the tools bound; its reply (tool calls or a note) joins ``messages``.

    With an ``answer_router``: a reply without tool calls, in a turn without tool results, is
    the final answer (``stop_reason="done"``) when that router would send the synthesis to the
    very model that wrote it (no second call to write the same answer).
    """

    task = AgentTask.TOOL_SELECT
    answer_router: Router | None = None

    def prompt(self, state: Mapping[str, Any]) -> list[BaseMessage]:
        plan = state.get("plan") or "(no plan: decide from the request)"
        return [
            _with_system(self.system_prompt, TOOL_SELECT_PROMPT.format(plan=plan)),
            *conversation(state),
        ]

    def apply(self, state: Mapping[str, Any], reply: AIMessage) -> dict[str, Any]:
        reason = self._answers(state, reply)
        if reason is None:
            return {"messages": [reply]}
        reply.response_metadata[DRAFT_FLAG] = True
        return {
            "messages": [reply],
            "final_answer": _text(reply),
            "stop_reason": StopReason.DONE.value,
            RECORD_KEY: {"router": reason},
        }

    def _answers(self, state: Mapping[str, Any], reply: AIMessage) -> str | None:
        if self.answer_router is None or reply.tool_calls or not _text(reply).strip():
            return None
        messages = conversation(state)
        last_user = max(
            (i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1
        )
        if any(isinstance(m, ToolMessage) for m in messages[last_user + 1 :]):
            return None
        routing = reply.response_metadata.get("routing")
        writer = routing.get("model") if isinstance(routing, Mapping) else None
        features = request_features(AgentTask.SYNTHESIZE.value, messages)
        decision = self.answer_router.route(features)
        if writer is None or decision.model != writer:
            return None
        return f"{decision.reason}; no tool needed: tool_select's reply is the answer"


class SynthesizeNode(ModelNode):
    """Writes the answer (``final_answer``, ``stop_reason="done"``); a revision replaces the draft.

    With ``tools`` bound it may ask for more data instead: a reply with tool calls joins
    ``messages`` (no answer yet), so the graph runs the tools and comes back here. With a
    ``router`` each call goes to the model the router picks (e.g. by difficulty).
    """

    task = AgentTask.SYNTHESIZE

    def prompt(self, state: Mapping[str, Any]) -> list[BaseMessage]:
        text = f"{SYNTHESIZE_PROMPT} {SYNTHESIZE_TOOLS_NOTE}" if self.tools else SYNTHESIZE_PROMPT
        feedback = state.get("critique") if state.get("stop_reason") is None else None
        if state.get("critiques") and feedback:
            text += "\n\n" + REVISE_NOTE.format(feedback=feedback)
        return [_with_system(self.system_prompt, text), *conversation(state)]

    def apply(self, state: Mapping[str, Any], reply: AIMessage) -> dict[str, Any]:
        messages = list(state.get("messages") or [])
        previous = messages[-1] if messages else None
        draft = isinstance(previous, AIMessage) and previous.response_metadata.get(DRAFT_FLAG)
        if reply.tool_calls:  # more data needed: the tools run, then this node again
            removed = [RemoveMessage(id=str(previous.id))] if draft and previous else []
            return {"messages": [*removed, reply]}
        if draft and previous is not None:
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
    answer_router: Router | None = None,
) -> ToolSelectNode:
    """The tool-calling step: the model with ``tools`` bound, its reply appended to ``messages``
    (with ``answer_router``, a reply needing no tool may be the answer: see
    :class:`ToolSelectNode`).

    >>> from langgraph_routing import init_routing_model
    >>> from langgraph_routing.demo import DEMO_TOOLS
    >>> model = init_routing_model(base_url="http://127.0.0.1:4000/v1", api_key="sk-x")
    >>> [s["function"]["name"] for s in tool_select_node(model, DEMO_TOOLS).tool_schemas]
    ['calculator', 'lookup', 'search_docs']
    """
    node = ToolSelectNode(model, tools=tools, system_prompt=system_prompt, name=name)
    node.answer_router = answer_router
    return node


def synthesize_node(
    model: BaseChatModel,
    *,
    system_prompt: str | None = None,
    name: str | None = None,
    tools: Sequence[BaseTool] | None = None,
    router: Router | None = None,
) -> SynthesizeNode:
    """The answer step: writes the reply, ``final_answer`` and ``stop_reason="done"``, plus
    ``costs``/``routing``. Add it to any graph whose state has :class:`RoutingState`'s keys.
    With ``tools`` it may call them instead of answering (route its tool calls to a ToolNode);
    with a ``router`` (e.g. ``DifficultyRouter(policy)``) each call goes to the model it picks.

    >>> from langgraph_routing import init_routing_model
    >>> model = init_routing_model(base_url="http://127.0.0.1:4000/v1", api_key="sk-x")
    >>> synthesize_node(model, name="answer").model.task   # the task is bound
    'synthesize'
    """
    return SynthesizeNode(model, tools=tools, system_prompt=system_prompt, name=name, router=router)


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
