"""The runnable examples in the LocalGateway docstrings stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "langgraph_routing.testing",
    "langgraph_routing.testing._config",
    "langgraph_routing.testing._faults",
    "langgraph_routing.testing._gateway",
    "langgraph_routing.testing._holds",
    "langgraph_routing.testing._latency",
    "langgraph_routing.testing._prompt_cache",
    "langgraph_routing.testing._records",
    "langgraph_routing.testing._replies",
    "langgraph_routing.testing._schema_fill",
    "langgraph_routing.testing._tokens",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_public_names_are_exported() -> None:
    testing = importlib.import_module("langgraph_routing.testing")
    for name in (
        "LocalGateway",
        "GatewayModel",
        "VirtualKey",
        "Fault",
        "RequestRecord",
        "LatencyProfile",
        "serve",
    ):
        assert name in testing.__all__ and getattr(testing, name).__doc__
