"""Test helpers: :class:`LocalGateway`, a LiteLLM-proxy-compatible OpenAI gateway on 127.0.0.1.

>>> from langgraph_routing.testing import LocalGateway
>>> with LocalGateway() as gw:
...     gw.base_url.startswith("http://127.0.0.1:")
True
"""

from langgraph_routing.testing._config import (
    DEFAULT_MODELS,
    GatewayConfigError,
    GatewayModel,
    VirtualKey,
    hash_key,
)
from langgraph_routing.testing._faults import FAULT_KINDS, Fault
from langgraph_routing.testing._gateway import LocalGateway, serve
from langgraph_routing.testing._latency import DEFAULT_LATENCY, GENERIC_LATENCY, LatencyProfile
from langgraph_routing.testing._records import RequestRecord

__all__ = [
    "DEFAULT_LATENCY",
    "DEFAULT_MODELS",
    "FAULT_KINDS",
    "GENERIC_LATENCY",
    "Fault",
    "GatewayConfigError",
    "GatewayModel",
    "LatencyProfile",
    "LocalGateway",
    "RequestRecord",
    "VirtualKey",
    "hash_key",
    "serve",
]
