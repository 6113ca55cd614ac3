"""The template's prompts, and the helpers its nodes share to read the state and end a run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, SystemMessage

from ._state import StopReason

__all__ = [
    "CRITIQUE_PROMPT",
    "DRAFT_FLAG",
    "PLAN_PROMPT",
    "REVISE_NOTE",
    "SYNTHESIZE_PROMPT",
    "SYNTHESIZE_TOOLS_NOTE",
    "TOOL_SELECT_PROMPT",
    "conversation",
    "parse_verdict",
    "stop_update",
]

PLAN_PROMPT = (
    "You are the planner. Write a short numbered plan (at most five steps) for answering the "
    "user's latest request with the tools available. Do not answer the request yourself.\n"
    "Tools:\n{tools}"
)
TOOL_SELECT_PROMPT = (
    "Follow the plan. Call the tools you need, several at once when they do not depend on each "
    "other; when no tool is needed, reply with a one-line note and call no tool.\nPlan:\n{plan}"
)
SYNTHESIZE_PROMPT = (
    "Write the final answer to the user's latest request from the conversation and the tool "
    "results. Quote the figures you rely on. Be concise."
)
SYNTHESIZE_TOOLS_NOTE = (
    "If the tool results are not enough, call the tools you still need instead of answering."
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
