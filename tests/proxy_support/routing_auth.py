"""Static virtual keys for the real LiteLLM proxy, without a database.

Loaded BY THE PROXY (its own venv), not by pytest: the proxy config names
``routing_auth.user_api_key_auth`` as ``general_settings.custom_auth`` and
``routing_auth.spend_logger`` as a callback, and the proxy runs with this folder on
``PYTHONPATH`` so both resolve to ONE module instance (a ``.py`` next to config.yaml would be
executed once per config entry, giving two spend tables).

Keys come from the JSON file named by env ``ROUTING_PROXY_KEYS``:
``{"keys": [{"key": "sk-...", "max_budget": 1e-9, "rpm": 2, "alias": "tiny"}, ...]}``.
With ``custom_auth_run_common_checks: true`` the proxy itself enforces ``max_budget``
(-> 422 budget_exceeded) and ``rpm_limit`` (-> 429) on the object returned here; the spend it
compares against is what :data:`spend_logger` summed from ``kwargs["response_cost"]``.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from typing import Any

from fastapi import Request
from litellm.integrations.custom_logger import CustomLogger
from litellm.proxy._types import ProxyErrorTypes, ProxyException, UserAPIKeyAuth

KEYS_ENV = "ROUTING_PROXY_KEYS"

_lock = threading.Lock()
_spend: dict[str, float] = {}  # sha256(key) -> USD
_keys: dict[str, dict[str, Any]] | None = None


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _load_keys() -> dict[str, dict[str, Any]]:
    global _keys
    if _keys is None:
        path = os.environ.get(KEYS_ENV)
        entries: list[dict[str, Any]] = []
        if path:
            with open(path, encoding="utf-8") as fh:
                entries = json.load(fh).get("keys", [])
        _keys = {entry["key"]: entry for entry in entries}
    return _keys


async def user_api_key_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    """Accept the configured static keys; anything else is rejected (-> 401)."""
    entry = _load_keys().get(api_key)
    if entry is None:
        raise ProxyException(
            message="Authentication Error, Invalid proxy server token passed. "
            f"Key Hash (Token)={_hash(api_key or '')}. Unable to find token in routing_auth static keys",
            type=ProxyErrorTypes.auth_error,
            param="None",
            code=401,
        )
    token = _hash(api_key)
    with _lock:
        spend = _spend.get(token, 0.0)
    return UserAPIKeyAuth(
        api_key=api_key,
        token=token,
        key_alias=entry.get("alias"),
        max_budget=entry.get("max_budget"),
        rpm_limit=entry.get("rpm"),
        spend=spend,
    )


class SpendLogger(CustomLogger):
    """Adds each successful call's ``response_cost`` to the in-memory spend of its key."""

    async def async_log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        cost = kwargs.get("response_cost")
        slo = kwargs.get("standard_logging_object") or {}
        token = (slo.get("metadata") or {}).get("user_api_key_hash")
        if token is None:
            meta = (kwargs.get("litellm_params") or {}).get("metadata") or {}
            token = meta.get("user_api_key_hash")
        if token and isinstance(cost, int | float):
            with _lock:
                _spend[token] = _spend.get(token, 0.0) + float(cost)


spend_logger = SpendLogger()
