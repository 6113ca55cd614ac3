"""The apps tier: real third-party agents, pinned and unmodified, with our model dropped in.

Each app runs against LocalGateway on 127.0.0.1 with scripted replies (the gateway answers
deterministically), so every assertion is about what our model, ledger and checkpointer did:
total cost == gateway spend, cost by agent, thread cost saved, the failure table applied.
"""

from __future__ import annotations

import math
from typing import Any

from langgraph_routing.testing import LocalGateway


def call(name: str, **args: Any) -> dict[str, Any]:
    """A scripted assistant message that calls one tool."""
    return {"content": None, "tool_calls": [{"function": {"name": name, "arguments": args}}]}


def spend(gateway: LocalGateway) -> float:
    return math.fsum(r.cost_usd or 0.0 for r in gateway.log)
