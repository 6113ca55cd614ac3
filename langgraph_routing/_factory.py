"""``init_routing_model``: a :class:`RoutingChatModel` from a policy object, file or dict.

Keyword arguments go where they belong: LangChain model settings (``callbacks``, ``tags``,
``metadata``, ``rate_limiter``, ``disable_streaming``, ``profile``...) to the routing model
itself; request options (``temperature``, ``reasoning_effort``, ``stop``...) to every request;
``max_tokens`` to the routing model, which sends it on every call and reserves exactly it in
budgets. Anything else is an error naming it.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from typing import Any

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from ._clients import FORCED_CLIENT_KEYS
from ._model import RoutingChatModel
from ._policy import RoutingPolicy

REQUEST_OPTIONS = frozenset(
    {
        "temperature",
        "top_p",
        "stop",
        "stop_sequences",
        "seed",
        "frequency_penalty",
        "presence_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "n",
        "reasoning_effort",
        "reasoning",
        "verbosity",
        "service_tier",
        "store",
        "model_kwargs",
        "extra_body",
        "default_headers",
        "default_query",
        "disabled_params",
        "streaming",
        "organization",
        "openai_organization",
        "tiktoken_model_name",
    }
)
"""Options sent with every request (set on the underlying ChatOpenAI clients)."""

MODEL_SETTINGS = frozenset(BaseChatModel.model_fields) | {"task", "stream_buffering"}
"""Settings of the routing model itself (LangChain's chat-model fields and ours)."""


def _split(chat_kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(routing model settings, request options)``; unknown names raise TypeError."""
    settings: dict[str, Any] = {}
    options: dict[str, Any] = {}
    for name, value in chat_kwargs.items():
        if name in MODEL_SETTINGS:
            settings[name] = value
        elif name in REQUEST_OPTIONS:
            options[name] = value
        elif name in FORCED_CLIENT_KEYS:
            raise ValueError(
                f"{name} cannot be set on a routing model: routing owns it (retries happen once, "
                "in the routing model; the model is chosen per call; headers carry the cost)"
            )
        else:
            known = sorted(MODEL_SETTINGS | REQUEST_OPTIONS | {"max_tokens", "timeout"})
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise TypeError(
                f"init_routing_model() got an unexpected keyword argument {name!r}{hint}"
            )
    return settings, options


def init_routing_model(
    policy: RoutingPolicy | str | os.PathLike[str] | Mapping[str, Any] | None = None,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    **chat_kwargs: Any,
) -> RoutingChatModel:
    """Build a :class:`RoutingChatModel` from a policy (object, file path or dict; default
    :meth:`RoutingPolicy.default`).

    ``base_url`` (else ``$LANGGRAPH_ROUTING_BASE_URL``, else the policy's ``gateway.base_url``;
    none of them is an error) is the OpenAI-compatible gateway; ``api_key`` overrides the
    gateway key variable (role keys are always read from the environment at call time).
    ``callbacks``, ``tags``, ``metadata``, ``rate_limiter``, ``disable_streaming``, ``profile``
    configure the routing model; ``max_tokens`` (alias ``max_completion_tokens``) is sent on
    every call and is what budgets reserve; ``timeout`` bounds each attempt; request options
    (``temperature``, ``top_p``, ``reasoning_effort``, ``stop``, ``seed``, ``extra_body``...)
    are sent on every call. Any other name raises TypeError.

    >>> from langgraph_routing import CostCallbackHandler
    >>> from langgraph_routing.testing import LocalGateway
    >>> costs = CostCallbackHandler()
    >>> with LocalGateway() as gw:
    ...     model = init_routing_model(base_url=gw.base_url, api_key=gw.master_key,
    ...                                callbacks=[costs], max_tokens=512, temperature=0)
    ...     reply = model.with_task("plan").invoke("Plan a trip to Kyoto")
    ...     sent = gw.log[-1].max_tokens
    >>> reply.response_metadata["routing"]["model"], sent, costs.report().calls
    ('o3-mini', 512, 1)
    >>> init_routing_model(base_url="http://127.0.0.1:1/v1", temperatur=0)
    Traceback (most recent call last):
    ...
    TypeError: init_routing_model() got an unexpected keyword argument 'temperatur'; did you mean 'temperature'?
    """
    if policy is None:
        resolved = RoutingPolicy.default()
    elif isinstance(policy, RoutingPolicy):
        resolved = policy
    elif isinstance(policy, Mapping):
        resolved = RoutingPolicy.from_dict(policy)
    else:
        resolved = RoutingPolicy.from_file(policy)
    kwargs = dict(chat_kwargs)
    timeout = kwargs.pop("timeout", None)
    max_tokens = kwargs.pop("max_tokens", None) or kwargs.pop("max_completion_tokens", None)
    settings, options = _split(kwargs)
    return RoutingChatModel(
        policy=resolved,
        base_url=base_url,
        api_key=SecretStr(api_key) if api_key else None,
        timeout_s=timeout,
        max_tokens=max_tokens,
        chat_kwargs=options,
        **settings,
    )
