"""Errors raised by langgraph-routing.

::

    RoutingError                       base of everything raised here
    ├── PolicyError (also ValueError)  a policy file or dict is malformed; names the key
    │   └── UnknownTaskError           a call named a task the policy does not define
    ├── MissingKeyError                a role's key variable is unset at call time
    ├── ContextTooLargeError           no model of the chain fits the prompt (also
    │                                  langchain_core's ContextOverflowError)
    ├── BudgetExceededError            a run, thread or gateway budget refused the call
    ├── RoutesExhaustedError           every candidate failed; lists every attempt
    ├── StreamInterruptedError         a live stream failed after delivering output (_streaming)
    ├── BadGatewayAnswerError          a 200 without choices, or with an error object in it
    └── CheckpointerError              a checkpointer URL could not be opened

Errors raised by a RoutingChatModel call carry ``.routing``: the call's record with every
attempt, so failed attempts reach the cost ledger.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.exceptions import ContextOverflowError


class RoutingError(Exception):
    """Base class of every error raised by langgraph-routing."""


class PolicyError(RoutingError, ValueError):
    """A routing policy is malformed. The message names the key and the problem."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"policy key {key!r}: {problem}")


class UnknownTaskError(PolicyError):
    """A call named a task the policy does not define; the message lists the known ones."""

    def __init__(self, task: str, known: Sequence[str]) -> None:
        self.task = task
        self.known = list(known)
        super().__init__(
            "tasks",
            f"unknown task {task!r} (known: {', '.join(self.known)}); add it under tasks: "
            "or use one of those",
        )


class MissingKeyError(RoutingError):
    """The environment variable holding a role's (or the gateway's) key is unset."""

    def __init__(self, env_var: str, role: str | None) -> None:
        self.env_var = env_var
        self.role = role
        who = f"role {role!r}" if role else "the gateway"
        super().__init__(f"the API key of {who} is read from ${env_var}, which is not set")


class ContextTooLargeError(RoutingError, ContextOverflowError):
    """The prompt fits no model of the task's upgrade chain.

    Also a ``langchain_core.exceptions.ContextOverflowError``, the standard overflow error, so
    ``SummarizationMiddleware``, deepagents and apps' own trim-and-retry recover from it as they
    do with ChatOpenAI."""

    def __init__(self, prompt_tokens: int, tried: Sequence[str], detail: str = "") -> None:
        self.prompt_tokens = prompt_tokens
        self.tried = list(tried)
        extra = f" ({detail})" if detail else ""
        super().__init__(
            f"a prompt of ~{prompt_tokens} tokens fits none of {', '.join(tried)}{extra}"
        )


class BudgetExceededError(RoutingError):
    """A budget refused the call.

    ``scope`` is ``"run"``, ``"thread"`` or ``"gateway"``; ``entity`` names what the gateway
    said was over budget (``"key=…"``, ``"team=…"``, ``"user=…"``) when it said so.
    """

    def __init__(
        self,
        message: str,
        *,
        scope: str,
        entity: str | None = None,
        spent_usd: float | None = None,
        budget_usd: float | None = None,
        status_code: int | None = None,
    ) -> None:
        self.scope = scope
        self.entity = entity
        self.spent_usd = spent_usd
        self.budget_usd = budget_usd
        self.status_code = status_code
        super().__init__(message)


class RoutesExhaustedError(RoutingError):
    """Every candidate model failed. ``attempts`` lists each try, failed or not."""

    def __init__(self, task: str, attempts: Sequence[dict[str, Any]]) -> None:
        self.task = task
        self.attempts = list(attempts)
        lines = "; ".join(
            f"{a.get('model')}: {a.get('error_kind')}"
            + (f" {a['status']}" if a.get("status") else "")
            + (f" after waiting {a['waited_s']:.2f}s" if a.get("waited_s") else "")
            for a in self.attempts
        )
        super().__init__(
            f"all routes failed for task {task!r} ({len(self.attempts)} attempts: {lines})"
        )


class BadGatewayAnswerError(RoutingError):
    """The gateway answered 200 but not with a completion: no ``choices``, or an ``error``
    object in the body. Classified by the failure table like an HTTP error (a budget error in
    a 200 is still a budget error; anything else is a transient failure that falls back), and
    the answer's cost headers are kept."""

    def __init__(self, body: Any, headers: Mapping[str, Any] | None = None) -> None:
        self.status_code = 200
        self.body = body if isinstance(body, dict) else {"error": {"message": str(body)}}
        self.headers = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
        self.response = _Headers(self.headers)
        error = self.body.get("error")
        detail = error.get("message") if isinstance(error, dict) else None
        super().__init__(
            f"bad gateway answer: {detail}" if detail else "bad gateway answer: no choices"
        )


class _Headers:
    """Just enough of a response for the failure table to read the cost headers."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self.headers = dict(headers)


class CheckpointerError(RoutingError):
    """A checkpointer URL could not be opened; the message says what to do."""
