"""The ChatOpenAI clients behind a RoutingChatModel: one per (model, key, event loop).

Every client has ``max_retries=0`` (the routing model owns retries), response headers and stream
usage on, and keeps ``usage.cost`` of the final stream chunk, which langchain-openai drops.
Async clients get an HTTP client of their own per event loop, so repeated ``asyncio.run``
never meets langchain-openai's cached client bound to a closed loop. Sync clients read answers
through :class:`AttemptDeadlineTransport`: httpx's timeouts bound each read, so an answer
trickled a byte at a time would otherwise run forever (async attempts are bounded by
``wait_for``).
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
import weakref
from collections import OrderedDict
from typing import Any, ClassVar

from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI

from ._answers import DictAnswers
from ._errors import BadGatewayAnswerError
from ._http import core, http

USAGE_COST_KEY = "usage_cost"
FORCED_CLIENT_KEYS = frozenset(
    {
        "model",
        "model_name",
        "api_key",
        "openai_api_key",
        "base_url",
        "openai_api_base",
        "max_retries",
        "include_response_headers",
        "stream_usage",
        "http_async_client",
        "http_client",
    }
)
"""Client settings routing owns: retries live in the routing model only (never stacked), the
model is chosen per call, and headers/stream usage carry the cost."""
_LIMITS = http.Limits(max_connections=1000, max_keepalive_connections=100)


def _as_dict(response: Any) -> dict[str, Any] | None:
    dump = getattr(response, "model_dump", None)
    if dump is None:
        return None
    try:
        data = dump()
    except Exception:  # an SDK object that cannot dump itself: let LangChain read it
        return None
    return data if isinstance(data, dict) else None


def _looks_answered(response: Any) -> bool:
    """An SDK answer with choices and no ``error`` field (read without dumping it)."""
    extra = getattr(response, "model_extra", None) or {}
    return bool(getattr(response, "choices", None)) and not extra.get("error")


class GatewayChatOpenAI(ChatOpenAI):
    """ChatOpenAI that keeps the gateway's ``usage.cost`` of the final stream chunk in
    ``response_metadata["usage_cost"]``."""

    def _create_chat_result(
        self, response: Any, generation_info: dict[str, Any] | None = None
    ) -> ChatResult:
        if not isinstance(response, dict) and _looks_answered(response):
            body: dict[str, Any] | None = None  # the usual case: no second dump of the answer
        else:
            body = response if isinstance(response, dict) else _as_dict(response)
        if body is not None and (body.get("error") or not body.get("choices")):
            raise BadGatewayAnswerError(body, (generation_info or {}).get("headers"))
        result = super()._create_chat_result(response, generation_info)
        if isinstance(response, dict) and result.generations:  # as for the SDK's model
            first = (response.get("choices") or [{}])[0]
            message = first.get("message") if isinstance(first, dict) else None
            refusal = message.get("refusal") if isinstance(message, dict) else None
            result.generations[0].message.additional_kwargs.setdefault("refusal", refusal)
        usage = (
            response.get("usage")
            if isinstance(response, dict)
            else getattr(response, "usage", None)
        )
        cost = usage.get("cost") if isinstance(usage, dict) else getattr(usage, "cost", None)
        if cost is not None and result.generations:  # OpenRouter-style usage.cost, non-streaming
            result.generations[0].message.response_metadata[USAGE_COST_KEY] = cost
        return result

    def _convert_chunk_to_generation_chunk(
        self,
        chunk: dict[str, Any],
        default_chunk_class: type,
        base_generation_info: dict[str, Any] | None,
    ) -> ChatGenerationChunk | None:
        generation = super()._convert_chunk_to_generation_chunk(
            chunk, default_chunk_class, base_generation_info
        )
        usage = chunk.get("usage")
        if generation is not None and isinstance(usage, dict) and usage.get("cost") is not None:
            generation.message.response_metadata[USAGE_COST_KEY] = usage["cost"]
        return generation


_deadline = threading.local()  # the monotonic deadline of the attempt this thread is reading


class _DeadlineNetworkStream(core.NetworkStream):  # type: ignore[misc,name-defined]
    """A socket whose every read ends by the attempt's deadline: httpx's timeouts bound one
    read, so headers or a body trickled a byte at a time would otherwise never end."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        deadline: float | None = getattr(_deadline, "at", None)
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise core.ReadTimeout("the answer took longer than the attempt's timeout")
            timeout = left if timeout is None else min(timeout, left)
        data: bytes = self._inner.read(max_bytes, timeout)
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        return _DeadlineNetworkStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(core.SyncBackend):  # type: ignore[misc,name-defined]
    def connect_tcp(self, *args: Any, **kwargs: Any) -> Any:
        return _DeadlineNetworkStream(super().connect_tcp(*args, **kwargs))

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> Any:
        return _DeadlineNetworkStream(super().connect_unix_socket(*args, **kwargs))


class AttemptDeadlineTransport(http.HTTPTransport):  # type: ignore[misc,name-defined]
    """httpx's transport, with every answer (headers and body) read within ``total_s`` of its
    request: the attempt fails with ``ReadTimeout``, which the failure table calls transient.
    Built on the httpx flavour the openai SDK speaks (see ``_http``). The deadline is the
    requesting thread's, so a body is bounded when it is read in that thread (as the openai
    SDK does)."""

    def __init__(self, total_s: float, limits: Any) -> None:
        super().__init__(limits=limits)
        self._total = total_s
        self._pool = core.ConnectionPool(
            ssl_context=http.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(),
        )

    def handle_request(self, request: Any) -> Any:
        _deadline.at = time.monotonic() + self._total
        return super().handle_request(request)


class ClientPool:
    """Caches configured clients; never exposes the keys it was given.

    :meth:`shared` gives one pool per process and (gateway, timeout, request options), so apps
    that build a model per call reuse the clients, their connection pools and SSL contexts.
    """

    _shared: ClassVar[OrderedDict[str, ClientPool]] = OrderedDict()
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()
    _MAX_SHARED: ClassVar[int] = 64

    @classmethod
    def shared(
        cls, base_url: str | None, timeout_s: float, chat_kwargs: dict[str, Any]
    ) -> ClientPool:
        """The process-wide pool for this configuration (created on first use)."""
        key = json.dumps([base_url, timeout_s, chat_kwargs], sort_keys=True, default=repr)
        with cls._shared_lock:
            pool = cls._shared.get(key)
            if pool is None:
                pool = cls._shared[key] = cls(base_url, timeout_s, chat_kwargs)
                while len(cls._shared) > cls._MAX_SHARED:
                    cls._shared.popitem(last=False)
            else:
                cls._shared.move_to_end(key)
            return pool

    def __init__(self, base_url: str | None, timeout_s: float, chat_kwargs: dict[str, Any]) -> None:
        self._base_url = base_url
        self._timeout = timeout_s
        self._chat_kwargs = chat_kwargs
        self._sync: dict[tuple[str, str], ChatOpenAI] = {}
        # never follow a redirect: the prompt would go to another host (a 3xx is a bad answer)
        self._http = http.Client(
            timeout=timeout_s,
            follow_redirects=False,
            transport=AttemptDeadlineTransport(timeout_s, _LIMITS),
        )
        self._async: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[tuple[str, str], ChatOpenAI]
        ] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ClientPool(base_url={self._base_url!r}, clients={len(self._sync)})"

    def _build(self, model: str, api_key: str, http_async_client: Any = None) -> ChatOpenAI:
        if http_async_client is None:
            return self._build_client(model, api_key, http_client=self._http)
        return self._build_client(model, api_key, http_async_client=http_async_client)

    def _build_client(self, model: str, api_key: str, **http: Any) -> ChatOpenAI:
        kwargs: dict[str, Any] = {
            **self._chat_kwargs,
            "model": model,
            "api_key": api_key,
            "base_url": self._base_url,
            "max_retries": 0,
            "timeout": self._timeout,
            "include_response_headers": True,
            "stream_usage": True,
        }
        kwargs.update(http)
        client = GatewayChatOpenAI(**kwargs)
        # non-streamed answers read as dicts: no ChatCompletion built and dumped (see _answers)
        if client.client is not None:
            client.client = DictAnswers(client.client, is_async=False)
        if client.async_client is not None:
            client.async_client = DictAnswers(client.async_client, is_async=True)
        return client

    def sync_client(self, model: str, api_key: str) -> ChatOpenAI:
        key = (model, api_key)  # held in memory only, like the client itself holds it
        client = self._sync.get(key)
        if client is None:
            with self._lock:
                client = self._sync.get(key) or self._build(model, api_key)
                self._sync[key] = client
        return client

    def async_client(self, model: str, api_key: str) -> ChatOpenAI:
        loop = asyncio.get_running_loop()
        key = (model, api_key)
        with self._lock:
            per_loop = self._async.get(loop)
            if per_loop is None:
                # clients hold their loop, so the weak keys alone never free closed loops' clients
                for old in [lp for lp in self._async if lp.is_closed()]:
                    del self._async[old]
                per_loop = {}
                self._async[loop] = per_loop
            client = per_loop.get(key)
            if client is None:
                async_http = http.AsyncClient(
                    timeout=self._timeout, follow_redirects=False, limits=_LIMITS
                )
                client = self._build(model, api_key, http_async_client=async_http)
                per_loop[key] = client
        return client


_CREDENTIAL_HEADERS = frozenset(
    {
        "set-cookie",
        "cookie",
        "authorization",
        "proxy-authorization",
        "www-authenticate",
        "x-api-key",
        "api-key",
    }
)


def drop_credential_headers(holder: dict[str, Any]) -> None:
    """Remove credential-bearing response headers from ``holder["headers"]`` in place: they
    would otherwise be checkpointed with the message and sent to traces."""
    headers = holder.get("headers")
    if isinstance(headers, dict) and not _CREDENTIAL_HEADERS.isdisjoint(map(str.lower, headers)):
        holder["headers"] = {
            k: v for k, v in headers.items() if k.lower() not in _CREDENTIAL_HEADERS
        }
