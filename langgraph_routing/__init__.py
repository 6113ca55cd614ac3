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
from ._factory import init_routing_model
from ._graph import BudgetGuard, budget_guard, create_routing_agent
from ._ledger import CostEntry, add_costs
from ._middleware import RoutingMiddleware
from ._model import RoutingChatModel
from ._nodes import critique_node, plan_node, synthesize_node, tool_select_node
from ._policy import AgentTask, ErrorKind, ModelSpec, RoutingPolicy
from ._report import CostReport
from ._state import RoutingState, StopReason, costs_update
from ._streaming import StreamInterruptedError
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
    "BudgetExceededError",
    "BudgetGuard",
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
    "RoutingCheckpointer",
    "RoutingError",
    "RoutingMiddleware",
    "RoutingPolicy",
    "RoutingState",
    "StopReason",
    "StreamInterruptedError",
    "ThreadInfo",
    "add_costs",
    "alist_threads",
    "aresume_thread",
    "budget_guard",
    "cost_tracking",
    "costs_update",
    "create_routing_agent",
    "critique_node",
    "init_routing_model",
    "list_threads",
    "open_checkpointer",
    "plan_node",
    "resume_failed",
    "resume_thread",
    "synthesize_node",
    "tool_select_node",
]
__version__ = "0.1.0"
