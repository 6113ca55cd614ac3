"""Gateway fixtures (LocalGateway).

- ``gateway``: a started :class:`LocalGateway` with the default models and master key
  ``sk-local-master``, fresh for each test (starting costs about a millisecond; a new port per
  test also sidesteps langchain-openai's per-base_url cached async httpx client, which breaks
  across event loops).
- ``make_gateway``: factory for gateways with custom models/keys; all are stopped at teardown.
- ``gateway_key``: the master key of ``gateway``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from langgraph_routing.testing import LocalGateway

MASTER_KEY = "sk-local-master"


@pytest.fixture
def make_gateway() -> Iterator[Callable[..., LocalGateway]]:
    """Factory: ``make_gateway(models=..., keys=..., master_key=...)`` -> started gateway."""
    started: list[LocalGateway] = []

    def factory(*args: Any, **kwargs: Any) -> LocalGateway:
        gw = LocalGateway(*args, **kwargs).start()
        started.append(gw)
        return gw

    yield factory
    for gw in started:
        gw.stop()


@pytest.fixture
def gateway(make_gateway: Callable[..., LocalGateway]) -> LocalGateway:
    """A started LocalGateway with the five default models, clean for this test."""
    return make_gateway()


@pytest.fixture
def gateway_key() -> str:
    """The master key accepted by the ``gateway`` fixture."""
    return MASTER_KEY
