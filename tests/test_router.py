"""The plan gate and the difficulty router: pure rules, pluggable, and what they do to calls."""

from __future__ import annotations

from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import tool

from langgraph_routing import PolicyError, RoutingMiddleware, RoutingPolicy, init_routing_model
from langgraph_routing._graph import BudgetGuard, create_routing_agent
from langgraph_routing._nodes import synthesize_node
from langgraph_routing._router import (
    DifficultyRouter,
    GateDecision,
    RequestFeatures,
    RouteDecision,
    Router,
    complexity_gate,
    request_features,
)
from langgraph_routing._specs import PlanningSpec
from langgraph_routing.demo import DEMO_QUESTIONS, DEMO_TOOLS
from langgraph_routing.testing import LocalGateway

MINI, SONNET = "gpt-4o-mini", "claude-3-5-sonnet-20241022"


@pytest.mark.parametrize(
    ("request_text", "plan", "reason"),
    [
        ("What is 17.5 * 4 + 12?", False, "no plan: single-step request (7 words, 1 '?')"),
        ("Find the capital of Japan, then its population.", True, "plan: sequencing marker 'then'"),
        ("Do this:\n1. look up Japan\n2. divide by 4", True, "plan: a list of 2 items"),
        ("Why? How? When?", True, "plan: 3 questions"),
        ("Explain it step by step", True, "plan: sequencing marker 'step by step'"),
    ],
)
def test_complexity_gate(request_text: str, plan: bool, reason: str) -> None:
    assert complexity_gate(request_text, DEMO_TOOLS) == GateDecision(plan, reason)


def test_gate_modes_and_threshold() -> None:
    assert complexity_gate("a, then b", spec=PlanningSpec(mode="never")).plan is False
    assert complexity_gate("hi", spec=PlanningSpec(mode="always")).plan is True
    assert complexity_gate("A? B? C?", spec=PlanningSpec(max_questions=3)).plan is False
    with pytest.raises(PolicyError, match=r"planning\.mode"):
        RoutingPolicy.default().updated({"planning": {"mode": "sometimes"}})


def features(**kw: Any) -> RequestFeatures:
    base: dict[str, Any] = {
        "task": "synthesize",
        "request": "What is 2 + 2?",
        "request_tokens": 8,
        "prompt_tokens": 300,
        "tool_results": 1,
        "tool_result_tokens": 5,
        "open_ended": False,
    }
    return RequestFeatures(**{**base, **kw})


def test_difficulty_rule_thresholds_and_policy_keys() -> None:
    router = DifficultyRouter(RoutingPolicy.default())
    assert router.route(features()).model == MINI
    assert router.route(features(prompt_tokens=4001)).reason == (
        f"hard: prompt ~4001 > 4000 tokens -> {SONNET}"
    )
    assert router.route(features(tool_result_tokens=1501)).label == "hard"
    assert router.route(features(open_ended=True)).model == SONNET
    assert router.route(features(task="plan")) == RouteDecision()  # no rule for plan

    policy = RoutingPolicy.default().updated(
        {
            "difficulty": {
                "synthesize": {
                    "easy": "claude-3-5-haiku-20241022",
                    "hard": "gpt-4o",
                    "max_prompt_tokens": 100,
                    "open_ended_hard": False,
                }
            }
        }
    )
    custom = DifficultyRouter(policy)
    assert custom.route(features(open_ended=True)).model == "gpt-4o"  # 300 > 100 tokens
    assert custom.route(features(prompt_tokens=50, open_ended=True)).model == (
        "claude-3-5-haiku-20241022"
    )
    off = RoutingPolicy.default().updated({"difficulty": {}})
    assert DifficultyRouter(off).route(features()).model is None
    with pytest.raises(PolicyError, match=r"difficulty\.synthesize\.easy"):
        RoutingPolicy.default().updated({"difficulty": {"synthesize": {"easy": "gpt-9"}}})
    with pytest.raises(PolicyError, match=r"difficulty\.digest"):
        RoutingPolicy.default().updated({"difficulty": {"digest": {"easy": MINI}}})


def test_request_features_read_the_turn() -> None:
    old = [HumanMessage("earlier question"), ToolMessage("old result " * 50, tool_call_id="0")]
    turn = [HumanMessage("Compare Japan and France"), ToolMessage("Tokyo; Paris", tool_call_id="1")]
    f = request_features("synthesize", [*old, *turn])
    assert f.request == "Compare Japan and France" and f.open_ended
    assert f.tool_results == 1 and f.tool_result_tokens < 20 < f.prompt_tokens


class AlwaysGpt4o:
    def __init__(self) -> None:
        self.seen: list[RequestFeatures] = []

    def route(self, features: RequestFeatures) -> RouteDecision:
        self.seen.append(features)
        return RouteDecision(model="gpt-4o", label="learned", reason="kNN: 3 similar -> gpt-4o")


def test_a_router_of_ones_own_replaces_the_rule(gateway: LocalGateway) -> None:
    router = AlwaysGpt4o()
    assert isinstance(router, Router)
    agent = create_routing_agent(
        DEMO_TOOLS, base_url=gateway.base_url, api_key=gateway.master_key, router=router
    )
    out = agent.invoke({"messages": [("user", DEMO_QUESTIONS[1].question)]})

    assert [r.model for r in gateway.log] == [MINI, "gpt-4o"]
    assert out["routing"][1]["router"] == "kNN: 3 similar -> gpt-4o"
    assert out["routing"][1]["reason"] == "kNN: 3 similar -> gpt-4o"
    assert router.seen[-1].request == DEMO_QUESTIONS[1].question
    assert router.seen[-1].tool_results == 1


def test_a_router_may_name_a_task(gateway: LocalGateway) -> None:
    policy = RoutingPolicy.default().updated({"tasks": {"deep": {"model": "gpt-4o"}}})

    class ToDeep:
        def route(self, features: RequestFeatures) -> RouteDecision:
            return RouteDecision(task="deep", reason="deep task")

    agent = create_routing_agent(
        DEMO_TOOLS,
        policy=policy,
        base_url=gateway.base_url,
        api_key=gateway.master_key,
        router=ToDeep(),
    )
    out = agent.invoke({"messages": [("user", DEMO_QUESTIONS[0].question)]})
    assert [r.model for r in gateway.log] == [MINI, "gpt-4o"]
    assert (out["routing"][1]["node"], out["routing"][1]["task"]) == ("synthesize", "deep")


def test_budget_guard_prices_the_routed_model() -> None:
    model = init_routing_model(base_url="http://127.0.0.1:9/v1", api_key="sk-x")
    state = {
        "messages": [HumanMessage("What is 2 + 2?"), ToolMessage("4", tool_call_id="1")],
    }
    plain = synthesize_node(model)
    routed = synthesize_node(model, router=DifficultyRouter(model.policy))
    guard = BudgetGuard(model.policy)
    usd_plain, chosen_plain = guard.reservation(plain, state)
    usd_routed, chosen_routed = guard.reservation(routed, state)
    assert (chosen_plain, chosen_routed) == (SONNET, MINI)
    assert usd_routed < usd_plain / 10


def test_middleware_router_sends_the_easy_synthesis_to_the_easy_model(
    gateway: LocalGateway,
) -> None:
    @tool
    def population(city: str) -> str:
        """Population of a city."""
        return "1,234,567"

    policy = RoutingPolicy.default()
    routing = RoutingMiddleware(
        policy,
        base_url=gateway.base_url,
        api_key=gateway.master_key,
        router=DifficultyRouter(policy),
    )
    agent = create_agent(routing.model, [population], middleware=[routing])
    out = agent.invoke({"messages": [("user", "How many people live in Kyoto?")]})

    assert [r.model for r in gateway.log] == [MINI, MINI]  # tool_select, then easy synthesis
    assert "1,234,567" in out["messages"][-1].text
    last = out["messages"][-1].response_metadata["routing"]
    assert (last["task"], last["model"]) == ("synthesize", MINI)
