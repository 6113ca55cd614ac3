"""``init_routing_model``: a :class:`RoutingChatModel` from a policy object, file or dict."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from ._model import RoutingChatModel
from ._policy import RoutingPolicy


def init_routing_model(
    policy: RoutingPolicy | str | os.PathLike[str] | Mapping[str, Any] | None = None,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    **chat_kwargs: Any,
) -> RoutingChatModel:
    """Build a :class:`RoutingChatModel` from a policy (object, file path or dict; default
    :meth:`RoutingPolicy.default`). ``api_key`` overrides the gateway key variable; role keys are
    always read from the environment at call time. Other keyword arguments (``temperature``,
    ``timeout``...) go to the underlying ChatOpenAI clients."""
    if policy is None:
        resolved = RoutingPolicy.default()
    elif isinstance(policy, RoutingPolicy):
        resolved = policy
    elif isinstance(policy, Mapping):
        resolved = RoutingPolicy.from_dict(policy)
    else:
        resolved = RoutingPolicy.from_file(policy)
    timeout = chat_kwargs.pop("timeout", None)
    return RoutingChatModel(
        policy=resolved,
        base_url=base_url,
        api_key=SecretStr(api_key) if api_key else None,
        timeout_s=timeout,
        chat_kwargs=chat_kwargs,
    )
