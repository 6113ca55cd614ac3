"""Turning a failed gateway call into an :class:`ErrorKind` and the facts routing needs.

:func:`classify` is pure (status, ``error.type``, ``error.code``, message). :func:`inspect_error`
reads those facts off whatever exception the OpenAI SDK or langchain-openai raised.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import openai

from ._errors import BadGatewayAnswerError, BudgetExceededError
from ._http import TRANSPORT_ERRORS
from ._policy import ErrorKind


@dataclass(frozen=True)
class FailureInfo:
    """What one failed call told us."""

    kind: ErrorKind
    status: int | None
    error_type: str | None
    code: str | None
    message: str
    retry_after_s: float | None
    headers: Mapping[str, str]


def classify(
    status: int | None, error_type: str | None, code: str | None, message: str
) -> ErrorKind:
    """Map a gateway error to an :class:`ErrorKind` (pure).

    >>> classify(422, "budget_exceeded", "422", "Budget has been exceeded!")
    <ErrorKind.BUDGET: 'budget'>
    >>> classify(400, "invalid_request_error", "400", "litellm.ContextWindowExceededError: ...")
    <ErrorKind.CONTEXT_OVERFLOW: 'context_overflow'>
    """
    etype, ecode, msg = (error_type or "").lower(), (code or "").lower(), message.lower()
    if etype == "budget_exceeded" or status == 402 or "budget has been exceeded" in msg:
        return ErrorKind.BUDGET
    if (
        ecode == "context_length_exceeded"
        or etype == "context_length_exceeded"
        or "contextwindowexceedederror" in msg
        or "maximum context length" in msg
    ):
        return ErrorKind.CONTEXT_OVERFLOW
    if (
        status == 429
        or etype in ("throttling_error", "rate_limit_error")
        or ecode == "rate_limit_exceeded"
    ):
        return ErrorKind.RATE_LIMIT
    if status in (401, 403) or etype in ("auth_error", "authentication_error", "permission_error"):
        return ErrorKind.AUTH
    if status is None or status >= 500 or status in (408, 409) or 300 <= status < 400:
        return ErrorKind.TRANSIENT  # 3xx: a redirect is never followed, a bad gateway answer
    return ErrorKind.BAD_REQUEST


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms``, ``retry-after`` or ``llm_provider-retry-after``."""
    lower = {k.lower(): v for k, v in headers.items()}
    for name, scale in (
        ("retry-after-ms", 0.001),
        ("retry-after", 1.0),
        ("llm_provider-retry-after-ms", 0.001),
        ("llm_provider-retry-after", 1.0),
    ):
        raw = lower.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) * scale
        except ValueError:
            continue  # an HTTP date: treat as absent rather than guess
        if math.isfinite(value) and value >= 0:
            return value
    return None


def _body_error(body: Any) -> dict[str, Any]:
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return inner
    return {}


def inspect_error(exc: BaseException) -> FailureInfo | None:
    """Facts about a failed call, or None when ``exc`` is not a gateway/transport failure."""
    if isinstance(exc, BudgetExceededError):
        return None  # our budget refused before any request: raised as is, never retried
    if isinstance(exc, openai.APIStatusError) or hasattr(exc, "status_code"):
        status = getattr(exc, "status_code", None)
        status = status if isinstance(status, int) else None
        response = getattr(exc, "response", None)
        headers: Mapping[str, str] = {}
        raw_headers = getattr(response, "headers", None)  # httpx or httpx2 (openai 3.x)
        if raw_headers is not None and hasattr(raw_headers, "items"):
            headers = {str(k).lower(): str(v) for k, v in raw_headers.items()}
        err = _body_error(getattr(exc, "body", None))
        message = str(err.get("message") or exc)
        etype = err.get("type") if isinstance(err.get("type"), str) else None
        raw_code = err.get("code", getattr(exc, "code", None))
        code = str(raw_code) if raw_code is not None else None
        kind = classify(status, etype, code, message)
        if isinstance(exc, BadGatewayAnswerError) and kind is ErrorKind.BAD_REQUEST:
            kind = ErrorKind.TRANSIENT  # a 200 that is not an answer: try the next model
        return FailureInfo(kind, status, etype, code, message, parse_retry_after(headers), headers)
    if isinstance(exc, openai.APIError) and getattr(exc, "body", None) is not None:
        # an error event in the middle of a stream (LiteLLM sends ``data: {"error": ...}``)
        err = _body_error(exc.body)
        message = str(err.get("message") or exc)
        etype = err.get("type") if isinstance(err.get("type"), str) else None
        raw_code = err.get("code")
        code = str(raw_code) if raw_code is not None else None
        return FailureInfo(
            classify(None, etype, code, message), None, etype, code, message, None, {}
        )
    if isinstance(
        exc,
        (
            openai.APITimeoutError,
            openai.APIConnectionError,
            ConnectionError,
            TimeoutError,
            *TRANSPORT_ERRORS,
        ),
    ):
        return FailureInfo(
            ErrorKind.TRANSIENT, None, None, None, str(exc) or type(exc).__name__, None, {}
        )
    if isinstance(exc, openai.APIResponseValidationError | json.JSONDecodeError) or (
        isinstance(exc, ValueError) and "json" in str(exc).lower()
    ):
        return FailureInfo(
            ErrorKind.TRANSIENT, None, None, None, f"malformed response: {exc}", None, {}
        )
    return None


_ENTITY = re.compile(
    r"\b(Key|Team|User|End ?User|Customer|Org(?:anization)?)\s*[=:]\s*([^\s,]+)", re.I
)
_NUM = r"([0-9.eE+-]+)"


def budget_error(info: FailureInfo) -> BudgetExceededError:
    """A gateway budget answer as ``BudgetExceededError(scope="gateway", entity=...)``."""
    entity = None
    if match := _ENTITY.search(info.message):
        entity = f"{match.group(1).lower().replace(' ', '')}={match.group(2)}"
    spent = re.search(r"Current (?:cost|spend):\s*" + _NUM, info.message)
    cap = re.search(r"Max budget:\s*" + _NUM, info.message)

    def num(m: re.Match[str] | None) -> float | None:
        try:
            return float(m.group(1).rstrip(".,")) if m else None
        except ValueError:
            return None

    return BudgetExceededError(
        f"the gateway refused the call: budget exceeded ({entity or 'unknown entity'})",
        scope="gateway",
        entity=entity,
        spent_usd=num(spent),
        budget_usd=num(cap),
        status_code=info.status,
    )
