"""Deterministic assistant replies: tool calls, structured output, text that ends agent loops."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langgraph_routing.testing._schema_fill import TextFacts, fill_schema
from langgraph_routing.testing._text_facts import singular
from langgraph_routing.testing._tokens import count_tokens, truncate_to_tokens

__all__ = ["Reply", "ToolCall", "reply_from_script", "synthesize_reply"]

_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "get",
        "give",
        "how",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "please",
        "the",
        "this",
        "to",
        "use",
        "what",
        "when",
        "which",
        "who",
        "why",
        "with",
        "you",
        "your",
    ]
)
_MAX_QUOTE = 300


@dataclass(frozen=True)
class ToolCall:
    """One tool call of a reply (``arguments`` is a JSON string, as on the wire)."""

    id: str
    name: str
    arguments: str

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(frozen=True)
class Reply:
    """What the assistant answers: content and/or tool calls, plus the finish reason."""

    content: str | None
    tool_calls: tuple[ToolCall, ...] = field(default=())
    finish_reason: str = "stop"

    def message(self) -> dict[str, Any]:
        msg: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            msg["tool_calls"] = [tc.to_wire() for tc in self.tool_calls]
        return msg

    def completion_tokens(self) -> int:
        n = count_tokens(self.content or "")
        for tc in self.tool_calls:
            n += 3 + count_tokens(tc.name) + count_tokens(tc.arguments)
        return n


_EXPRESSION_PARAMS = ("expression", "expr", "formula", "equation", "calculation")


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return " ".join(
            str(p.get("text", "")) for p in content if isinstance(p, Mapping) and p.get("text")
        )
    return "" if content is None else str(content)


def _words(text: str) -> set[str]:
    """Content words of a text, singular and cut to a 6-letter stem (forecasts ~ forecast)."""
    split = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).replace("_", " ").lower()
    return {singular(w)[:6] for w in _WORD.findall(split) if w not in _STOPWORDS}


def _call_id(seed: str, index: int) -> str:
    return "call_" + hashlib.sha256(f"{seed}|{index}".encode()).hexdigest()[:24]


def _last_user_index(messages: Sequence[Any]) -> int:
    for i in range(len(messages) - 1, -1, -1):
        msg = messages[i]
        if isinstance(msg, Mapping) and msg.get("role") == "user":
            return i
    return -1


def _tool_functions(tools: Any) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for tool in tools or ():
        if isinstance(tool, Mapping):
            fn = tool.get("function", tool)
            if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
                out.append(fn)
    return out


def _pick_tool(functions: list[Mapping[str, Any]], text: str) -> Mapping[str, Any]:
    """The tool a model would pick: its name and description against the request's words, a
    tool taking an expression for arithmetic, ties to the first listed."""
    wanted = _words(text)
    has_expression = TextFacts(text).expression is not None
    best, best_score = functions[0], -1.0
    for fn in functions:
        name_words = _words(str(fn["name"]))
        desc_words = _words(str(fn.get("description") or ""))
        score = 3.0 * len(name_words & wanted) + len(desc_words & wanted)
        if str(fn["name"]).lower() in text.lower():
            score += 10
        params = (fn.get("parameters") or {}).get("properties") or {}
        if has_expression and any(
            word in str(p).lower() for p in params for word in _EXPRESSION_PARAMS
        ):
            score += 5
        if score > best_score:
            best, best_score = fn, score
    return best


def _forced_tool(tool_choice: Any, functions: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    if isinstance(tool_choice, Mapping):
        fn = tool_choice.get("function")
        name = fn.get("name") if isinstance(fn, Mapping) else tool_choice.get("name")
        for candidate in functions:
            if candidate["name"] == name:
                return candidate
    return None


def _seed(body: Mapping[str, Any]) -> str:
    raw = json.dumps(
        [body.get("model"), body.get("messages"), body.get("tools")], sort_keys=True, default=str
    )
    return hashlib.sha256(raw.encode()).hexdigest()


def _user_texts(messages: Sequence[Any]) -> list[str]:
    """Text of every user message, newest first."""
    return [
        _text_of(m.get("content"))
        for m in reversed(messages)
        if isinstance(m, Mapping) and m.get("role") == "user"
    ]


def _tool_call_reply(fn: Mapping[str, Any], facts: TextFacts, seed: str) -> Reply:
    params = fn.get("parameters") or {"type": "object", "properties": {}}
    args = fill_schema(params, facts, name=str(fn["name"]))
    if not isinstance(args, dict):
        args = {}
    call = ToolCall(_call_id(seed, 0), str(fn["name"]), json.dumps(args, ensure_ascii=False))
    return Reply(content=None, tool_calls=(call,), finish_reason="tool_calls")


def _structured_reply(fmt: Mapping[str, Any], facts: TextFacts, answer: str) -> Reply | None:
    kind = fmt.get("type")
    if kind == "json_schema":
        spec = fmt.get("json_schema") or {}
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
        value = fill_schema(schema or {"type": "object"}, facts)
        return Reply(content=json.dumps(value, ensure_ascii=False))
    if kind == "json_object":
        return Reply(content=json.dumps({"answer": answer}, ensure_ascii=False))
    return None


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_QUOTE else text[: _MAX_QUOTE - 3] + "..."


def _text_answer(messages: Sequence[Any], last_user: int, user_text: str) -> str:
    results = [
        _shorten(_text_of(m.get("content")))
        for m in messages[last_user + 1 :]
        if isinstance(m, Mapping) and m.get("role") in ("tool", "function")
    ]
    if results:
        return f"Based on the tool results: {'; '.join(results)}. Answer: {results[-1]}"
    if user_text:
        return f"Here is a short answer to your request ({_shorten(user_text)}): done."
    return "Hello! How can I help you today?"


def apply_max_tokens(reply: Reply, body: Mapping[str, Any]) -> Reply:
    """``reply`` cut at the request's ``max_tokens`` (``finish_reason="length"``), as a model
    stops there; tool calls are left whole."""
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if reply.tool_calls or not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
        return reply
    if reply.content and count_tokens(reply.content) > limit:
        return Reply(content=truncate_to_tokens(reply.content, limit), finish_reason="length")
    return reply


def synthesize_reply(body: Mapping[str, Any]) -> Reply:
    """The deterministic answer to a chat completion request body.

    >>> synthesize_reply({"messages": [{"role": "user", "content": "hi"}]}).content
    'Here is a short answer to your request (hi): done.'
    """
    raw_messages = body.get("messages")
    messages: Sequence[Any] = raw_messages if isinstance(raw_messages, list) else []
    last_user = _last_user_index(messages)
    user_text = _text_of(messages[last_user].get("content")) if last_user >= 0 else ""
    history = _user_texts(messages)[1:]
    functions = _tool_functions(body.get("tools"))
    tool_choice = body.get("tool_choice")
    if functions and tool_choice != "none":
        forced = _forced_tool(tool_choice, functions)
        answered = any(
            isinstance(m, Mapping) and m.get("role") in ("tool", "function")
            for m in messages[last_user + 1 :]
        )
        if forced is not None or tool_choice == "required" or not answered:
            fn = forced or _pick_tool(functions, user_text)
            return _tool_call_reply(fn, TextFacts(user_text, history), _seed(body))
    answer = _text_answer(messages, last_user, user_text)
    fmt = body.get("response_format")
    if isinstance(fmt, Mapping):
        structured = _structured_reply(fmt, TextFacts(user_text, history), answer)
        if structured is not None:
            return structured
    return apply_max_tokens(Reply(content=answer), body)


def reply_from_script(item: str | Mapping[str, Any], seed: str) -> Reply:
    """Turn a scripted reply (content string, or raw assistant message dict) into a Reply."""
    if isinstance(item, str):
        return Reply(content=item)
    calls: list[ToolCall] = []
    for i, raw in enumerate(item.get("tool_calls") or ()):
        fn = raw.get("function", raw)
        args = fn.get("arguments", {})
        if not isinstance(args, str):
            args = json.dumps(args, ensure_ascii=False)
        calls.append(ToolCall(str(raw.get("id") or _call_id(seed, i)), str(fn["name"]), args))
    content = item.get("content")
    finish = item.get("finish_reason") or ("tool_calls" if calls else "stop")
    return Reply(
        content=None if content is None else str(content),
        tool_calls=tuple(calls),
        finish_reason=str(finish),
    )
