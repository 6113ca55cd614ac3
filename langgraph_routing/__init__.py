"""langgraph-routing: per-task model routing, fallbacks, cost ledger and resumable checkpoints
for LangGraph agents, through one OpenAI-compatible gateway."""

from ._callbacks import CostCallbackHandler, cost_tracking
from ._checkpoint import RoutingCheckpointer
from ._checkpoint_open import open_checkpointer
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
from ._threads import (
    ThreadInfo,
    alist_threads,
    aresume_thread,
    list_threads,
    resume_failed,
    resume_thread,
)

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
    "RoutingCheckpointer",
    "RoutingError",
    "RoutingPolicy",
    "ThreadInfo",
    "add_costs",
    "alist_threads",
    "aresume_thread",
    "cost_tracking",
    "init_routing_model",
    "list_threads",
    "open_checkpointer",
    "resume_failed",
    "resume_thread",
]
__version__ = "0.1.0"
