"""LocalGateway: a LiteLLM-proxy-compatible OpenAI gateway emulator on 127.0.0.1."""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from langgraph_routing.testing._app import App
from langgraph_routing.testing._config import (
    GatewayConfigError,
    GatewayModel,
    VirtualKey,
    models_from_policy,
    normalize_keys,
    normalize_models,
    validate_budget_mode,
    validate_port,
)
from langgraph_routing.testing._faults import Fault, FaultTable
from langgraph_routing.testing._holds import Holds
from langgraph_routing.testing._latency import LatencyProfile, LatencySpec, LatencyTable
from langgraph_routing.testing._ledger import Ledger
from langgraph_routing.testing._records import RequestRecord
from langgraph_routing.testing._replies import Reply, reply_from_script
from langgraph_routing.testing._server import Server

__all__ = ["LocalGateway", "serve"]


class LocalGateway:
    """An OpenAI-compatible HTTP gateway on 127.0.0.1 that answers like the LiteLLM proxy.

    It prices calls, sends ``x-litellm-*`` headers, enforces virtual-key budgets and rpm,
    and fails on demand (:meth:`add_fault`). Use the real ``openai`` SDK or ``ChatOpenAI``.

    ``budget_mode="worst_case"`` (default) rejects a call with 422 when the key's spend plus
    the call's worst case (prompt + max_tokens, else the model's max output) exceeds
    ``max_budget`` (LiteLLM with ``fail_closed_budget_enforcement: true``; the message's
    "Current cost" is that projected total); ``"spend"`` rejects only once spend >=
    ``max_budget`` (the proxy's default admission).

    ``latency`` emulates model speed (off by default): ``"profiles"`` gives each model its
    time to first token and output tokens per second from public figures
    (:data:`~langgraph_routing.testing.DEFAULT_LATENCY`, sources in its module), a mapping
    ``{model: LatencyProfile | (ttft_s, tokens_per_s) | None}`` overrides some of them, and
    ``latency_scale`` multiplies every delay (``0.05``: a 0.4 s first token takes 20 ms).
    Delays are slept on the server's event loop, so concurrent requests overlap as they do
    on a real provider; see :meth:`set_latency` and ``RequestRecord.latency_s``.

    >>> import openai
    >>> with LocalGateway() as gw:
    ...     client = openai.OpenAI(base_url=gw.base_url, api_key="sk-local-master", max_retries=0)
    ...     r = client.chat.completions.with_raw_response.create(
    ...         model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    ...     float(r.headers["x-litellm-response-cost"]) == gw.total_spend > 0
    True
    """

    def __init__(
        self,
        models: Iterable[GatewayModel] | Mapping[str, GatewayModel] | None = None,
        *,
        keys: Iterable[VirtualKey] | None = None,
        master_key: str | None = "sk-local-master",
        port: int = 0,
        host: str = "127.0.0.1",
        budget_mode: str = "worst_case",
        latency: LatencySpec = None,
        latency_scale: float = 1.0,
    ) -> None:
        self._budget_mode = validate_budget_mode(budget_mode)
        self._models = normalize_models(models)
        self._latency = LatencyTable(latency, latency_scale, list(self._models))
        self._keys = normalize_keys(keys, master_key)
        self._master_key = master_key
        self._requested_port = validate_port(port)
        if not isinstance(host, str) or not host:
            raise GatewayConfigError(f"host must be a non-empty string, got {host!r}")
        self._host = host
        self._faults = FaultTable()
        self._ledger = Ledger()
        self._holds = Holds()
        self._script_counter = 0
        self._lock = threading.Lock()
        self._server: Server | None = None

    @classmethod
    def from_policy(cls, policy: Any, **kw: Any) -> LocalGateway:
        """Serve the models of a routing policy (anything with ``.models: Mapping[str, spec]``).

        >>> from types import SimpleNamespace as NS
        >>> spec = NS(context_window=1000, max_output_tokens=100, input_per_million=1.0,
        ...           output_per_million=2.0, supports_tools=False)
        >>> LocalGateway.from_policy(NS(models={"tiny": spec})).models["tiny"].supports_tools
        False
        """
        return cls(models_from_policy(policy), **kw)

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> LocalGateway:
        """Bind the port and serve in a daemon thread; returns ``self``. Idempotent."""
        with self._lock:
            if self._server is not None:
                return self
            app = App(
                self._models,
                self._keys,
                self._master_key,
                self._faults,
                self._ledger,
                self._budget_mode,
                self._latency,
            )
            server = Server(self._host, self._requested_port, app, self._holds)
            server.start()
            self._server = server
        return self

    def stop(self) -> None:
        """Release held requests, close all connections and free the port. Idempotent."""
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.stop()

    def __enter__(self) -> LocalGateway:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._server is not None

    def _require_server(self) -> Server:
        server = self._server
        if server is None:
            raise RuntimeError("LocalGateway is not started; call start() or use `with`")
        return server

    @property
    def port(self) -> int:
        """The bound TCP port (after :meth:`start`)."""
        return self._require_server().server_port

    @property
    def host(self) -> str:
        return self._host

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self._host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``, the OpenAI ``base_url``."""
        return self.url + "/v1"

    @property
    def master_key(self) -> str | None:
        """The always-valid key (None: any bearer token is accepted)."""
        return self._master_key

    @property
    def models(self) -> dict[str, GatewayModel]:
        """Served models by name."""
        return dict(self._models)

    @property
    def keys(self) -> dict[str, VirtualKey]:
        """Configured virtual keys by key."""
        return dict(self._keys)

    # --- faults and scripts ----------------------------------------------------------------
    def add_fault(
        self,
        kind: str,
        *,
        model: str | None = None,
        key: str | None = None,
        nth: int | None = None,
        times: int | None = 1,
        **params: Any,
    ) -> Fault:
        """Fail matching calls. ``nth`` counts calls matching model/key (1-based); ``times=None``
        fails forever. Kinds and their parameters:

        - ``rate_limit``: 429 ``throttling_error``; at most one of ``retry_after`` (s, header
          ``retry-after``), ``retry_after_ms`` (``retry-after-ms``), ``provider_retry_after``
          (``llm_provider-retry-after`` only, as the proxy relays a provider's) or
          ``provider_retry_after_ms`` (``llm_provider-retry-after-ms``).
        - ``server_error``: ``status`` 500 (default), 502, 503 or 504.
        - ``hang``: hold the request ``seconds`` (None: until :meth:`release_holds`/stop),
          then answer normally; other requests are not blocked.
        - ``drop``: close the connection without an answer.
        - ``truncate_stream``: SSE ends half-way, no finish reason, usage chunk or
          ``[DONE]`` (non-streaming: a body cut in half).
        - ``malformed_json``: 200 with an invalid JSON body.
        - ``missing_usage``: no ``usage`` in the body / no usage chunk (still charged).
        - ``cost_header``: ``value`` (str) sent as ``x-litellm-response-cost`` (None: header
          omitted); on streams it replaces ``usage.cost``.
        - ``context_overflow`` (400), ``budget_exceeded`` (422), ``auth_error`` (401).

        >>> gw = LocalGateway()
        >>> gw.add_fault("server_error", model="gpt-4o", status=503).params["status"]
        503
        """
        fault = Fault(
            kind,
            model=model,
            key=key,
            nth=nth,
            times=times,
            params=params,
            known_models=self._models,
        )
        return self._faults.add(fault)

    @property
    def faults(self) -> list[Fault]:
        """Current fault rules, in priority order."""
        return self._faults.rules

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self._faults.clear()

    def script(
        self,
        model: str,
        replies: list[str | dict[str, Any]],
        *,
        task: str | None = None,
        node: str | None = None,
        agent: str | None = None,
    ) -> None:
        """Queue the next replies of ``model``: a string is the content, a dict a raw assistant
        message (e.g. with ``tool_calls``). Scripts win over synthesized replies. With ``task``,
        ``node`` and/or ``agent`` the replies go only to requests tagged so
        (``x-litellm-tags: task:plan,node:planner,agent:team``, else the JSON header
        ``x-litellm-spend-logs-metadata``; a RoutingChatModel sends both, a plain client may
        add either with ``extra_headers``). The most specific matching queue answers first:
        a queue for (model, task) wins over (model, node), over (model, agent), over the model.

        >>> gw = LocalGateway()
        >>> gw.script("gpt-4o", ["first", {"content": None, "tool_calls": [
        ...     {"function": {"name": "add", "arguments": {"a": 1, "b": 2}}}]}])
        """
        if model not in self._models:
            raise GatewayConfigError(f"script: unknown model {model!r}")
        for field_name, value in (("task", task), ("node", node), ("agent", agent)):
            if value is not None and (not isinstance(value, str) or not value):
                raise GatewayConfigError(
                    f"script: {field_name} must be a non-empty string or None, got {value!r}"
                )
        converted: list[Reply] = []
        for i, item in enumerate(replies):
            if not isinstance(item, str | dict):
                raise GatewayConfigError(f"script: reply {i} must be a str or dict, got {item!r}")
            with self._lock:
                self._script_counter += 1
                seed = f"script-{self._script_counter}"
            try:
                converted.append(reply_from_script(item, seed))
            except (KeyError, TypeError, AttributeError) as exc:
                raise GatewayConfigError(
                    f"script: reply {i} is not a valid message: {exc!r}"
                ) from exc
        self._ledger.add_script(model, converted, task, node, agent)

    # --- latency ---------------------------------------------------------------------------
    @property
    def latency(self) -> dict[str, LatencyProfile | None]:
        """Each model's latency profile (None: answers at once), before ``latency_scale``."""
        return self._latency.profiles()

    @property
    def latency_scale(self) -> float:
        """The factor applied to every emulated delay."""
        return self._latency.scale

    def set_latency(self, model: str, profile: LatencyProfile | tuple[float, float] | None) -> None:
        """Change one model's latency while running (None: no delay for it).

        >>> gw = LocalGateway()
        >>> gw.set_latency("gpt-4o", (0.2, 50))
        >>> gw.latency["gpt-4o"], gw.latency["gpt-4o-mini"]
        (LatencyProfile(ttft_s=0.2, tokens_per_s=50), None)
        """
        if isinstance(profile, tuple):
            try:
                profile = LatencyProfile(*profile)
            except (GatewayConfigError, TypeError) as exc:
                raise GatewayConfigError(f"latency[{model!r}]: {exc}") from None
        self._latency.set(model, profile)

    def release_holds(self) -> None:
        """Let every request held by a ``hang`` fault continue."""
        self._holds.release_all()

    def wait_for_held(self, n: int = 1, timeout: float = 10) -> bool:
        """Wait until ``n`` requests are held by ``hang`` faults; False on timeout."""
        return self._holds.wait_for(n, timeout)

    # --- observation -----------------------------------------------------------------------
    @property
    def log(self) -> list[RequestRecord]:
        """Snapshot of the request log, oldest first."""
        return self._ledger.records()

    def calls(self, model: str | None = None, status: int | None = None) -> list[RequestRecord]:
        """Logged requests, filtered by model and/or HTTP status (0 = dropped)."""
        return [
            r
            for r in self._ledger.records()
            if (model is None or r.model == model) and (status is None or r.status == status)
        ]

    def spend_by_key(self) -> dict[str, float]:
        """USD charged per bearer key (as sent)."""
        return self._ledger.spend_by_key()

    def spend_by_user(self) -> dict[str, float]:
        """USD charged per request ``user`` field."""
        return self._ledger.spend_by_user()

    @property
    def total_spend(self) -> float:
        """USD charged in total (``math.fsum``)."""
        return self._ledger.total_spend()

    def reset(self) -> None:
        """Clear log, faults, scripts, spend and rpm windows, and release held requests."""
        self._faults.clear()
        self._ledger.reset()
        self._holds.release_all()

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "stopped"
        return (
            f"LocalGateway({where}, models={list(self._models)!r}, keys={len(self._keys)}, "
            f"auth={'on' if self._master_key is not None else 'off'})"
        )


def serve(
    port: int,
    policy_path: str | None = None,
    host: str = "127.0.0.1",
    *,
    master_key: str | None = "sk-local-master",
    latency: LatencySpec = None,
    latency_scale: float = 1.0,
) -> None:
    """Run a gateway in the foreground until interrupted (the ``gateway`` CLI command).

    ``policy_path`` (YAML/TOML) supplies the models; default: the five models of the design.
    ``latency``/``latency_scale`` as for :class:`LocalGateway` (off by default).
    """
    kw: dict[str, Any] = {
        "port": port,
        "host": host,
        "master_key": master_key,
        "latency": latency,
        "latency_scale": latency_scale,
    }
    if policy_path is not None:
        policy_module = importlib.import_module("langgraph_routing._policy")
        policy = policy_module.RoutingPolicy.from_file(policy_path)
        gateway = LocalGateway.from_policy(policy, **kw)
    else:
        gateway = LocalGateway(**kw)
    stop = threading.Event()
    # Ctrl-C at any point once serving (even before the banner) is a clean stop
    with contextlib.suppress(KeyboardInterrupt), gateway:
        print(
            f"LocalGateway listening on {gateway.base_url} (models: {', '.join(gateway.models)})",
            flush=True,
        )
        stop.wait()
