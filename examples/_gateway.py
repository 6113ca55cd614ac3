"""Shared by the examples: a LocalGateway by default, a real gateway when one is configured.

Set ``LANGGRAPH_ROUTING_BASE_URL`` (and put the key in ``LANGGRAPH_ROUTING_API_KEY``) to run an
example against a real OpenAI-compatible gateway (e.g. the LiteLLM proxy); fault injection steps
are then skipped with a note, since only the emulator can fail on demand.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from langgraph_routing.testing import LocalGateway


@contextmanager
def gateway(**local_kwargs: Any) -> Iterator[tuple[str, str, LocalGateway | None]]:
    """Yield ``(base_url, api_key, gateway_or_None)``.

    ``local_kwargs`` go to :class:`LocalGateway` (e.g. ``keys=[VirtualKey(...)]``).
    """
    base_url = os.environ.get("LANGGRAPH_ROUTING_BASE_URL")
    if base_url:
        api_key = os.environ.get("LANGGRAPH_ROUTING_API_KEY")
        if not api_key:
            sys.exit(
                "LANGGRAPH_ROUTING_BASE_URL is set: put the gateway key in LANGGRAPH_ROUTING_API_KEY"
            )
        print(f"gateway: {base_url} (real gateway)")
        yield base_url, api_key, None
        return
    with LocalGateway(**local_kwargs) as local:
        print(f"gateway: LocalGateway on {local.base_url}")
        yield local.base_url, local.master_key or "", local


def skipped(what: str) -> None:
    """Say that a fault-injection step does not run against a real gateway."""
    print(f"(skipped on a real gateway: {what} needs LocalGateway's fault injection)")
