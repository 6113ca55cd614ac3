"""langgraph-routing: per-task model routing, fallbacks, cost ledger and resumable checkpoints
for LangGraph agents, through one OpenAI-compatible gateway."""

from ._callbacks import CostCallbackHandler, cost_tracking
from ._errors import (
    BudgetExceededError,
    CheckpointerError,
    ContextTooLargeError,
    MissingKeyError,
    PolicyError,
    RoutesExhaustedError,
    RoutingError,
)
from ._ledger import CostEntry, add_costs
from ._model import RoutingChatModel, init_routing_model
from ._policy import AgentTask, ErrorKind, ModelSpec, RoutingPolicy
from ._report import CostReport

__all__ = [
    "AgentTask",
    "BudgetExceededError",
    "CheckpointerError",
    "ContextTooLargeError",
    "CostCallbackHandler",
    "CostEntry",
    "CostReport",
    "ErrorKind",
    "MissingKeyError",
    "ModelSpec",
    "PolicyError",
    "RoutesExhaustedError",
    "RoutingChatModel",
    "RoutingError",
    "RoutingPolicy",
    "add_costs",
    "cost_tracking",
    "init_routing_model",
]
__version__ = "0.1.0"
