"""The public names are locked: removing or renaming one is a breaking change."""

import langgraph_routing
import langgraph_routing.testing

DESIGN_NAMES = {
    "AgentTask",
    "ModelSpec",
    "RoutingPolicy",
    "init_routing_model",
    "RoutingChatModel",
    "CostCallbackHandler",
    "cost_tracking",
    "CostReport",
    "RoutingError",
    "BudgetExceededError",
    "RoutesExhaustedError",
    "ContextTooLargeError",
    "RoutingCheckpointer",
    "open_checkpointer",
    "create_routing_agent",
}


EXPORTED = [
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


def test_all_is_locked() -> None:
    assert sorted(langgraph_routing.__all__) == EXPORTED
    missing = {n for n in langgraph_routing.__all__ if not hasattr(langgraph_routing, n)}
    assert missing == set()


def test_design_names_are_exported() -> None:
    assert DESIGN_NAMES - set(langgraph_routing.__all__) == set()


def test_testing_exports_local_gateway() -> None:
    assert "LocalGateway" in langgraph_routing.testing.__all__


def test_error_tree() -> None:
    for name in ("BudgetExceededError", "RoutesExhaustedError", "ContextTooLargeError"):
        assert issubclass(getattr(langgraph_routing, name), langgraph_routing.RoutingError)
