"""langgraph-routing: per-task model routing, fallbacks, cost ledger and resumable checkpoints
for LangGraph agents, through one OpenAI-compatible gateway.

>>> from langgraph_routing import RoutingPolicy, cost_tracking, init_routing_model
>>> from langgraph_routing.testing import LocalGateway
>>> policy = RoutingPolicy.default().updated({"tasks": {"digest": {"model": "gpt-4o"}}})
>>> with LocalGateway() as gw, cost_tracking(policy) as costs:
...     model = init_routing_model(policy, base_url=gw.base_url, api_key=gw.master_key)
...     plan = model.with_task("plan").invoke("Plan a weekend in Kyoto")
...     digest = model.with_task("digest").invoke("Summarise the plan")
>>> [m.response_metadata["routing"]["model"] for m in (plan, digest)]
['o3-mini', 'gpt-4o']
>>> sorted(costs.report().by_task()), costs.total_usd == gw.total_spend
(['digest', 'plan'], True)
"""

from ._callbacks import CostCallbackHandler
from ._errors import (
    BadGatewayAnswerError,
    BudgetExceededError,
    CheckpointerError,
    ContextTooLargeError,
    MissingKeyError,
    PolicyError,
    RoutesExhaustedError,
    RoutingError,
    UnknownTaskError,
)
from ._factory import init_routing_model
from ._graph import BudgetGuard, budget_guard, create_routing_agent
from ._ledger import CostEntry, add_costs
from ._middleware import RoutingMiddleware
from ._model import RoutingChatModel
from ._nodes import critique_node, plan_node, synthesize_node, tool_select_node
from ._policy import AgentTask, ErrorKind, ModelSpec, RoutingPolicy
from ._report import CostReport
from ._router import (
    DifficultyRouter,
    GateDecision,
    PlanGate,
    RequestFeatures,
    RouteDecision,
    Router,
    complexity_gate,
    request_features,
)
from ._specs import DifficultySpec, HealthSpec, PlanningSpec, ScopeBudget
from ._state import RoutingState, StopReason, costs_update
from ._streaming import StreamInterruptedError
from ._tracking import cost_tracking
from .checkpointing import (
    RoutingCheckpointer,
    ThreadInfo,
    alist_threads,
    aresume_thread,
    list_threads,
    open_checkpointer,
    resume_failed,
    resume_thread,
)

__all__ = [
    "AgentTask",
    "BadGatewayAnswerError",
    "BudgetExceededError",
    "BudgetGuard",
    "CheckpointerError",
    "ContextTooLargeError",
    "CostCallbackHandler",
    "CostEntry",
    "CostReport",
    "DifficultyRouter",
    "DifficultySpec",
    "ErrorKind",
    "GateDecision",
    "HealthSpec",
    "MissingKeyError",
    "ModelSpec",
    "PlanGate",
    "PlanningSpec",
    "PolicyError",
    "RequestFeatures",
    "RouteDecision",
    "Router",
    "RoutesExhaustedError",
    "RoutingChatModel",
    "RoutingCheckpointer",
    "RoutingError",
    "RoutingMiddleware",
    "RoutingPolicy",
    "RoutingState",
    "ScopeBudget",
    "StopReason",
    "StreamInterruptedError",
    "ThreadInfo",
    "UnknownTaskError",
    "add_costs",
    "alist_threads",
    "aresume_thread",
    "budget_guard",
    "complexity_gate",
    "cost_tracking",
    "costs_update",
    "create_routing_agent",
    "critique_node",
    "init_routing_model",
    "list_threads",
    "open_checkpointer",
    "plan_node",
    "request_features",
    "resume_failed",
    "resume_thread",
    "synthesize_node",
    "tool_select_node",
]
__version__ = "0.1.0"
