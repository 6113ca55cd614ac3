"""Request handling of the emulator: auth, model, budget, rpm, faults, window, reply, charge."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from langgraph_routing.testing import _wire as wire
from langgraph_routing.testing._config import GatewayModel, VirtualKey, hash_key
from langgraph_routing.testing._faults import ERROR_FAULTS, Fault, FaultTable, error_answer
from langgraph_routing.testing._latency import LatencyTable
from langgraph_routing.testing._ledger import Ledger
from langgraph_routing.testing._prompt_cache import PromptCache
from langgraph_routing.testing._records import Call, record_of, request_tags
from langgraph_routing.testing._replies import apply_max_tokens, synthesize_reply
from langgraph_routing.testing._server import Outcome, Pending, Request
from langgraph_routing.testing._tokens import count_prompt_tokens

__all__ = ["App"]

_CHAT_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})
_MODEL_PATHS = frozenset({"/v1/models", "/models"})
_HEALTH_PATHS = frozenset({"/health/liveliness", "/health/readiness", "/health"})


class App:
    """Turns requests into complete HTTP responses; shared by all server threads."""

    def __init__(
        self,
        models: Mapping[str, GatewayModel],
        keys: Mapping[str, VirtualKey],
        master_key: str | None,
        faults: FaultTable,
        ledger: Ledger,
        budget_mode: str = "worst_case",
        latency: LatencyTable | None = None,
    ) -> None:
        self.budget_mode = budget_mode
        self.latency = latency
        self.models = dict(models)
        self.keys = dict(keys)
        self.master_key = master_key
        self.faults = faults
        self.ledger = ledger
        self.prompt_cache = PromptCache()
        self._model_ids = {
            name: hashlib.sha256(f"emulator/{name}".encode()).hexdigest() for name in self.models
        }

    # --- entry point ------------------------------------------------------------------------
    def __call__(self, request: Request) -> Outcome | Pending:
        path = request.path.split("?", 1)[0].rstrip("/") or "/"
        if path in _HEALTH_PATHS and request.method == "GET":
            return self._json(200, [], wire.dumps("I'm alive!"))
        if path in _MODEL_PATHS and request.method == "GET":
            return self._list_models(request)
        if path in _CHAT_PATHS and request.method == "POST":
            return self._chat(request)
        return self._json(404, [], wire.dumps({"detail": "Not Found"}))

    @staticmethod
    def _json(status: int, headers: list[tuple[str, str]], body: bytes) -> Outcome:
        return Outcome(
            wire.http_bytes(status, [("content-type", "application/json"), *headers], body)
        )

    @staticmethod
    def _bearer(request: Request) -> str | None:
        raw = request.headers.get("authorization") or request.headers.get("x-litellm-api-key")
        if not raw:
            return None
        scheme, _, token = raw.strip().partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else raw.strip()
        return token or None

    def _auth_failure(self, key: str | None) -> bytes | None:
        if (
            self.master_key is None
            or key == self.master_key
            or (key is not None and key in self.keys)
        ):
            return None
        return wire.auth_error(None if key is None else hash_key(key))

    def _list_models(self, request: Request) -> Outcome:
        failure = self._auth_failure(self._bearer(request))
        if failure is not None:
            return self._json(401, [], failure)
        data = [
            {"id": name, "object": "model", "created": 1677610602, "owned_by": "openai"}
            for name in self.models
        ]
        return self._json(200, [], wire.dumps({"object": "list", "data": data}))

    # --- chat completions -------------------------------------------------------------------
    def _headers(self, call: Call) -> list[tuple[str, str]]:
        headers = [
            ("x-litellm-call-id", call.call_id),
            ("x-litellm-version", wire.LITELLM_VERSION),
        ]
        if call.model is not None:
            name = call.model.name
            headers += [
                ("x-litellm-model-id", self._model_ids[name]),
                ("x-litellm-model-name", name),
                ("x-litellm-model-group", name),
                ("x-litellm-attempted-retries", "0"),
                ("x-litellm-attempted-fallbacks", "0"),
            ]
        if call.key_spend is not None:
            headers.append(("x-litellm-key-spend", repr(call.key_spend)))
        return headers

    def _finish(
        self,
        call: Call,
        status: int,
        *,
        body: bytes | None = None,
        events: list[bytes] | None = None,
        extra: list[tuple[str, str]] | None = None,
        stream: bool = False,
    ) -> Outcome:
        if call.key_spend is None and call.model is not None:
            call.key_spend = self.ledger.key_spend(call.key)
        if status == 0:
            self._record(call, status, stream)
            return Outcome(drop=True)
        ctype = "text/event-stream" if events is not None else "application/json"
        headers = [("content-type", ctype), *self._headers(call), *(extra or [])]
        if (
            status >= 400
            and status != 401
            and not any(k == "x-litellm-response-cost" for k, _ in headers)
        ):
            headers.append(
                ("x-litellm-response-cost", "0")
            )  # as the proxy: a failed call cost nothing
        parts = wire.http_parts(status, headers, body, events=events)
        delays = [0.0] * len(parts)
        if status == 200 and self.latency is not None and call.model is not None:
            delays = self.latency.plan(call.model.name, call.completion_tokens, len(parts))
        call.latency_s = sum(delays)
        self._record(call, status, stream)
        if call.latency_s > 0:
            return Outcome(pacing=tuple(zip(delays, parts, strict=True)))
        return Outcome(b"".join(parts))

    def _record(self, call: Call, status: int, stream: bool) -> None:
        vk = self.keys.get(call.key) if call.key is not None else None
        alias = vk.alias if vk is not None else ("master" if call.key == self.master_key else None)
        self.ledger.append(record_of(call, status, stream, alias))

    def _chat(self, request: Request) -> Outcome | Pending:
        call = Call(request, str(uuid.uuid4()), time.time(), self._bearer(request))
        failure = self._auth_failure(call.key)
        if failure is not None:
            return self._finish(call, 401, body=failure)
        try:
            parsed = json.loads(request.body or b"{}")
        except ValueError as exc:
            msg = f"Invalid JSON in request body: {exc}"
            return self._finish(
                call, 400, body=wire.error_body(msg, "invalid_request_error", None, 400)
            )
        if not isinstance(parsed, dict):
            msg = "Request body must be a JSON object"
            return self._finish(
                call, 400, body=wire.error_body(msg, "invalid_request_error", None, 400)
            )
        call.body = parsed
        stream = bool(parsed.get("stream"))
        name = parsed.get("model")
        model = self.models.get(name) if isinstance(name, str) else None
        if model is None:
            return self._finish(
                call, 400, body=wire.unknown_model_error(parsed.get("model")), stream=stream
            )
        call.model = model
        messages = parsed.get("messages")
        if not isinstance(messages, list) or not messages:
            msg = "litellm.BadRequestError: `messages` must be a non-empty list of messages"
            err = wire.error_body(msg, "invalid_request_error", "messages", 400)
            return self._finish(call, 400, body=err, stream=stream)
        call.prompt_tokens = count_prompt_tokens(parsed)
        return self._checked_chat(call, model, stream)

    def _max_tokens(self, body: Mapping[str, Any]) -> int | None:
        value = body.get("max_completion_tokens") or body.get("max_tokens")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def _checked_chat(self, call: Call, model: GatewayModel, stream: bool) -> Outcome | Pending:
        body = call.body
        vk = self.keys.get(call.key) if call.key is not None else None
        max_tokens = self._max_tokens(body)
        if vk is not None and vk.max_budget is not None:
            spend = self.ledger.key_spend(call.key)
            if self.budget_mode == "spend":  # LiteLLM's default: admit while spend < budget
                over, shown = spend >= vk.max_budget, spend
            else:  # fail-closed: spend + worst case of this call must fit
                worst = model.cost(call.prompt_tokens, max_tokens or model.max_output_tokens)
                over, shown = spend + worst > vk.max_budget, spend + worst
            if over:
                err = wire.budget_error(hash_key(vk.key), shown, vk.max_budget)
                return self._finish(call, 422, body=err, stream=stream)
        if vk is not None and vk.rpm is not None:
            admitted, _ = self.ledger.admit(vk.key, vk.rpm)
            if not admitted:
                reset_at = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(time.time() + 60))
                err = wire.rpm_error(hash_key(vk.key), vk.rpm, reset_at)
                extra = [
                    ("retry-after", "60"),
                    ("rate_limit_type", "requests"),
                    ("reset_at", reset_at),
                ]
                return self._finish(call, 429, body=err, extra=extra, stream=stream)
        fault = self.faults.pick(model.name, call.key)
        if fault is not None:
            call.fault = fault.kind
            if fault.kind == "hang":
                seconds = fault.params.get("seconds")
                return Pending(seconds, lambda: self._reply(call, model, stream, None))
            if fault.kind == "drop":
                return self._finish(call, 0, stream=stream)
            if fault.kind in ERROR_FAULTS:
                return self._error_fault(call, model, fault.kind, fault.params, stream)
        return self._reply(call, model, stream, fault)

    def _reply(self, call: Call, model: GatewayModel, stream: bool, fault: Fault | None) -> Outcome:
        body = call.body
        max_tokens = self._max_tokens(body)
        if body.get("tools") and not model.supports_tools:
            msg = (
                f"litellm.UnsupportedParamsError: {model.name} does not support parameters: "
                "['tools']. To drop these, set `litellm.drop_params=True`."
            )
            return self._finish(
                call,
                400,
                body=wire.error_body(msg, "invalid_request_error", None, 400),
                stream=stream,
            )
        needed = call.prompt_tokens + (max_tokens or 0)
        if needed > model.context_window:
            err = wire.context_error(model.name, model.context_window, needed)
            return self._finish(call, 400, body=err, stream=stream)
        return self._answer(
            call, model, stream, fault.kind if fault else None, fault.params if fault else {}
        )

    def _error_fault(
        self, call: Call, model: GatewayModel, kind: str, params: Mapping[str, Any], stream: bool
    ) -> Outcome:
        vk = self.keys.get(call.key) if call.key is not None else None
        status, body, extra = error_answer(
            kind,
            params,
            model=model.name,
            context_window=model.context_window,
            key=call.key,
            key_spend=self.ledger.key_spend(call.key),
            max_budget=vk.max_budget if vk is not None else None,
        )
        return self._finish(call, status, body=body, extra=extra, stream=stream)

    def _answer(
        self,
        call: Call,
        model: GatewayModel,
        stream: bool,
        fault: str | None,
        params: Mapping[str, Any],
    ) -> Outcome:
        body = call.body
        tags = request_tags(call.request.headers)
        scripted = self.ledger.next_script(model.name, tags)
        # a scripted reply stops at max_tokens too, as a model does
        reply = apply_max_tokens(scripted, body) if scripted else synthesize_reply(body)
        call.completion_tokens = reply.completion_tokens()
        call.cached_tokens, written = self.prompt_cache.read_and_write(
            body, call.request.headers, call.prompt_tokens, model.prompt_cache
        )
        call.cache_write_tokens = written if model.cache_write_per_million is not None else 0
        call.cost = model.cost(
            call.prompt_tokens, call.completion_tokens, call.cached_tokens, call.cache_write_tokens
        )
        call.key_spend = self.ledger.charge(call.key, _user(body), call.cost)
        created = int(call.started_at)
        with_usage = fault != "missing_usage"
        usage = (
            call.prompt_tokens,
            call.completion_tokens,
            call.cached_tokens,
            call.cache_write_tokens,
        )
        if stream:
            options = body.get("stream_options")
            include = isinstance(options, Mapping) and bool(options.get("include_usage"))
            cost: float | str | None = call.cost
            if fault == "cost_header":
                cost = _cost_value(params.get("value"))
            events = wire.stream_body(
                reply,
                call_id=call.call_id,
                model=model.name,
                created=created,
                usage=usage if include and with_usage else None,
                cost=cost,
                truncate=fault == "truncate_stream",
            )
            return self._finish(call, 200, events=events, stream=True)
        payload = wire.completion_body(
            reply,
            call_id=call.call_id,
            model=model.name,
            created=created,
            usage=usage if with_usage else None,
        )
        if fault in ("malformed_json", "truncate_stream"):
            payload = payload[: max(1, len(payload) // 2)] + (
                b"}{" if fault == "malformed_json" else b""
            )
        extra: list[tuple[str, str]] = []
        if fault == "cost_header":
            if params.get("value") is not None:
                extra.append(("x-litellm-response-cost", str(params["value"])))
        else:
            extra.append(("x-litellm-response-cost", repr(call.cost)))
        return self._finish(call, 200, body=payload, extra=extra)


def _user(body: Mapping[str, Any]) -> str | None:
    user = body.get("user")
    return user if isinstance(user, str) and user else None


def _cost_value(value: Any) -> float | str | None:
    """The streamed ``usage.cost`` for a cost_header fault: a float when it parses, else the raw string."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return str(value)
    return number if number == number and abs(number) != float("inf") else str(value)
