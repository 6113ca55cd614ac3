"""Keys never leave in an error: scrub a raised exception and everything chained to it.

A gateway may echo the key it was sent (some LiteLLM versions do, in 401 and 500 messages). The
exception we raise, its ``__cause__``/``__context__`` chain (the ``openai`` error, the httpx one),
their bodies, and the request/response headers they hold all get ``***`` in its place, so neither
``traceback.format_exception``, a tracer's ``Run.error``, ``on_llm_error`` nor logs can show it.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

MASK = "***"
_CREDENTIAL_HEADERS = ("authorization", "api-key", "x-api-key", "proxy-authorization")


def _mask(value: Any, secret: str) -> Any:
    if isinstance(value, str):
        return value.replace(secret, MASK)
    if isinstance(value, dict | list):
        return json.loads(json.dumps(value, default=str).replace(secret, MASK))
    return value


def _scrub_headers(holder: Any, secret: str) -> None:
    headers = getattr(holder, "headers", None)
    if headers is None:
        return
    with contextlib.suppress(Exception):  # immutable or exotic header containers
        for name in list(headers.keys()):
            value = headers[name]
            if name.lower() in _CREDENTIAL_HEADERS or (isinstance(value, str) and secret in value):
                headers[name] = MASK


def _scrub_one(exc: BaseException, secret: str) -> None:
    exc.args = tuple(_mask(a, secret) for a in exc.args)
    for attr in ("message", "body", "detail", "text"):
        value = getattr(exc, attr, None)
        if isinstance(value, str | dict | list) and secret in json.dumps(value, default=str):
            with contextlib.suppress(AttributeError, TypeError):
                setattr(exc, attr, _mask(value, secret))
    for holder_name in ("request", "response"):
        holder = getattr(exc, holder_name, None)
        if holder is None:
            continue
        _scrub_headers(holder, secret)
        request = getattr(holder, "request", None) if holder_name == "response" else None
        if request is not None:
            with contextlib.suppress(Exception):
                _scrub_headers(request, secret)
        if holder_name == "response" and hasattr(holder, "status_code"):
            # LangChain reads response.json() into the traced run's outputs: replace the body
            with contextlib.suppress(Exception):
                setattr(exc, holder_name, _scrubbed_response(holder, secret))


def _scrubbed_response(response: Any, secret: str) -> Any:
    """A copy of an httpx-style response (httpx, or the openai SDK's own fork) whose body has
    the secret masked."""
    try:
        content = bytes(response.content)
    except Exception:  # not read (a stream): nothing of the body can leak
        content = b""
    if secret.encode() not in content:
        return response
    clean = type(response)(
        response.status_code,
        headers=response.headers,
        content=content.replace(secret.encode(), MASK.encode()),
    )
    with contextlib.suppress(Exception):
        clean.request = response.request
    return clean


def scrub_chain(exc: BaseException, secret: str) -> None:
    """Replace ``secret`` by ``***`` in ``exc`` and every exception chained to it, in place.

    >>> inner = ValueError("bad key sk-abcdef")
    >>> try:
    ...     raise RuntimeError("gateway said: sk-abcdef is invalid") from inner
    ... except RuntimeError as outer:
    ...     scrub_chain(outer, "sk-abcdef")
    ...     print(outer, "|", outer.__cause__)
    gateway said: *** is invalid | bad key ***
    """
    if not secret or len(secret) < 4:
        return
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        _scrub_one(current, secret)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                stack.append(linked)
