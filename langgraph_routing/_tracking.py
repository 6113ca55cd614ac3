"""``cost_tracking()``: a :class:`CostCallbackHandler` for every LLM call made in a block."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from langchain_core.tracers.context import register_configure_hook

from ._budget import check_budget
from ._callbacks import CostCallbackHandler
from ._policy import RoutingPolicy

_COST_VAR: ContextVar[CostCallbackHandler | None] = ContextVar(
    "langgraph_routing_cost_tracking", default=None
)
_hook_lock = threading.Lock()
_hook_registered = False


@contextmanager
def cost_tracking(
    policy: RoutingPolicy | None = None, *, budget_usd: float | None = None
) -> Iterator[CostCallbackHandler]:
    """Track the cost of every LLM call made inside the block.

    >>> from langgraph_routing import init_routing_model
    >>> from langgraph_routing.testing import LocalGateway
    >>> with LocalGateway() as gw, cost_tracking() as costs:
    ...     model = init_routing_model(base_url=gw.base_url, api_key=gw.master_key)
    ...     _ = model.with_task("plan").invoke("Plan a trip")
    >>> costs.report().calls
    1
    """
    global _hook_registered
    if not _hook_registered:
        with _hook_lock:
            if not _hook_registered:
                register_configure_hook(_COST_VAR, inheritable=True)
                _hook_registered = True
    handler = CostCallbackHandler(policy, budget_usd=check_budget(budget_usd))
    handler._outer = _COST_VAR.get()
    token = _COST_VAR.set(handler)
    try:
        yield handler
    finally:
        _COST_VAR.reset(token)
