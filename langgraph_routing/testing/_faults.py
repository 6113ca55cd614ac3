"""Programmable faults: which calls fail, and how."""

from __future__ import annotations

import math
import threading
from collections.abc import Collection, Mapping
from types import MappingProxyType
from typing import Any

from langgraph_routing.testing import _wire as wire
from langgraph_routing.testing._config import GatewayConfigError, hash_key, key_label

__all__ = [
    "ERROR_FAULTS",
    "FAULT_KINDS",
    "SERVER_ERROR_STATUSES",
    "Fault",
    "FaultTable",
    "error_answer",
]

# kind -> allowed parameters
FAULT_KINDS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "rate_limit": frozenset(
            {"retry_after", "retry_after_ms", "provider_retry_after", "provider_retry_after_ms"}
        ),
        "server_error": frozenset({"status"}),
        "hang": frozenset({"seconds"}),
        "drop": frozenset(),
        "truncate_stream": frozenset(),
        "malformed_json": frozenset(),
        "missing_usage": frozenset(),
        "cost_header": frozenset({"value"}),
        "context_overflow": frozenset(),
        "budget_exceeded": frozenset(),
        "auth_error": frozenset(),
    }
)
SERVER_ERROR_STATUSES = frozenset({500, 502, 503, 504})
ERROR_FAULTS = frozenset(
    {"rate_limit", "server_error", "context_overflow", "budget_exceeded", "auth_error"}
)
_NUMERIC_PARAMS = {
    "retry_after",
    "retry_after_ms",
    "provider_retry_after",
    "provider_retry_after_ms",
    "seconds",
}


def _fail(message: str) -> GatewayConfigError:
    return GatewayConfigError(f"fault rule: {message}")


def _validate_params(kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
    allowed = FAULT_KINDS[kind]
    out = dict(params)
    for name, value in out.items():
        if name not in allowed:
            expected = ", ".join(sorted(allowed)) or "none"
            raise _fail(f"unknown parameter {name!r} for kind {kind!r} (allowed: {expected})")
        if name in _NUMERIC_PARAMS and value is not None:
            bad = isinstance(value, bool) or not isinstance(value, int | float)
            if bad or not math.isfinite(value) or value < 0:
                raise _fail(f"{kind}: {name} must be a non-negative number, got {value!r}")
    if kind == "rate_limit" and sum(v is not None for v in out.values()) > 1:
        raise _fail(
            "rate_limit: give at most one of retry_after, retry_after_ms, provider_retry_after, "
            "provider_retry_after_ms"
        )
    if kind == "server_error":
        status = out.setdefault("status", 500)
        if status not in SERVER_ERROR_STATUSES or isinstance(status, bool):
            allowed_s = ", ".join(str(s) for s in sorted(SERVER_ERROR_STATUSES))
            raise _fail(f"server_error: status must be one of {allowed_s}, got {status!r}")
    if kind == "cost_header":
        value = out.setdefault("value", None)
        if value is not None and not isinstance(value, str):
            raise _fail(f"cost_header: value must be a string or None, got {value!r}")
    if kind == "hang":
        out.setdefault("seconds", None)
    return out


class Fault:
    """One fault rule, as returned by :meth:`LocalGateway.add_fault`.

    It fires on calls that match ``model``/``key`` (None = any), starting at the ``nth``
    matching call (1-based, None = the first), ``times`` times (None = forever).

    >>> f = Fault("server_error", model=None, key="sk-x", nth=2, times=1, params={"status": 503})
    >>> f
    Fault(kind='server_error', model=None, key='sha256:9df37f5e', nth=2, times=1, fired=0, params={'status': 503})
    """

    def __init__(
        self,
        kind: str,
        *,
        model: str | None = None,
        key: str | None = None,
        nth: int | None = None,
        times: int | None = 1,
        params: Mapping[str, Any] | None = None,
        known_models: Collection[str] | None = None,
    ) -> None:
        if kind not in FAULT_KINDS:
            kinds = ", ".join(FAULT_KINDS)
            raise _fail(f"unknown kind {kind!r} (expected one of: {kinds})")
        if model is not None and known_models is not None and model not in known_models:
            raise _fail(f"unknown model {model!r}")
        for name, value in (("nth", nth), ("times", times)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise _fail(f"{name} must be a positive integer or None, got {value!r}")
        self.kind = kind
        self.model = model
        self._key = key
        self.nth = nth
        self.times = times
        self.params: Mapping[str, Any] = MappingProxyType(_validate_params(kind, params or {}))
        self._seen = 0
        self._fired = 0
        self._lock = threading.Lock()

    @property
    def key(self) -> str | None:
        """The key this rule is limited to (kept out of ``repr``)."""
        return self._key

    @property
    def fired(self) -> int:
        """How many calls this rule has failed so far."""
        return self._fired

    @property
    def exhausted(self) -> bool:
        """True once the rule has fired ``times`` times."""
        return self.times is not None and self._fired >= self.times

    def matches(self, model: str, key: str | None) -> bool:
        """Whether a call to ``model`` with ``key`` is one this rule counts."""
        return (self.model is None or self.model == model) and (
            self._key is None or self._key == key
        )

    def observe(self) -> bool:
        """Count one matching call; return True if the rule fires on it."""
        with self._lock:
            self._seen += 1
            return not (self.exhausted or self._seen < (self.nth or 1))

    def consume(self) -> None:
        """Record that the rule fired."""
        with self._lock:
            self._fired += 1

    def __repr__(self) -> str:
        key = None if self._key is None else key_label(self._key)
        return (
            f"Fault(kind={self.kind!r}, model={self.model!r}, key={key!r}, nth={self.nth!r}, "
            f"times={self.times!r}, fired={self._fired}, params={dict(self.params)!r})"
        )


class FaultTable:
    """Thread-safe ordered list of fault rules; the first due rule wins."""

    def __init__(self) -> None:
        self._rules: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._rules.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> list[Fault]:
        with self._lock:
            return list(self._rules)

    def pick(self, model: str, key: str | None) -> Fault | None:
        """Count this call against every matching rule; return the first that fires."""
        with self._lock:
            if not self._rules:
                return None
            chosen: Fault | None = None
            for rule in self._rules:
                if rule.matches(model, key) and rule.observe() and chosen is None:
                    chosen = rule
            if chosen is not None:
                chosen.consume()
            return chosen


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


_RETRY_HEADERS = (
    ("retry_after", "retry-after"),
    ("retry_after_ms", "retry-after-ms"),
    ("provider_retry_after", "llm_provider-retry-after"),
    ("provider_retry_after_ms", "llm_provider-retry-after-ms"),
)


def error_answer(
    kind: str,
    params: Mapping[str, Any],
    *,
    model: str,
    context_window: int,
    key: str | None,
    key_spend: float,
    max_budget: float | None,
) -> tuple[int, bytes, list[tuple[str, str]]]:
    """``(status, body, extra headers)`` of an error fault (one of :data:`ERROR_FAULTS`)."""
    if kind == "rate_limit":
        extra = [
            (header, _num(params[name]))
            for name, header in _RETRY_HEADERS
            if params.get(name) is not None
        ][:1]
        return 429, wire.rate_limit_error(model), extra
    if kind == "server_error":
        status = int(params.get("status", 500))
        return status, wire.server_error(model, status), []
    if kind == "context_overflow":
        return 400, wire.context_error(model, context_window, context_window + 1), []
    if kind == "budget_exceeded":
        key_hash = hash_key(key) if key is not None else "None"
        return 422, wire.budget_error(key_hash, key_spend, max_budget or 0.0), []
    return 401, wire.auth_error(hash_key(key or "")), []
