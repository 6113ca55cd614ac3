"""RoutingMiddleware inside ``langchain.agents.create_agent``, against LocalGateway over HTTP.

The fault scenarios run the same agent (one tool, one question) four ways: with our
middleware, and with LangChain's ``ModelRetryMiddleware``, ``ModelFallbackMiddleware`` and the
three stacked (``ModelRouterMiddleware`` -> fallback -> retry) around a plain ``ChatOpenAI``.
The gateway's request log is the evidence. Ours is asserted strictly; LangChain's as observed,
so the tests document the gap. The comparison table is printed at the end of the module.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain.agents.middleware import (
    ModelChoice,
    ModelFallbackMiddleware,
    ModelRequest,
    ModelRetryMiddleware,
    ModelRouterMiddleware,
)
from langchain_core.decisions import BaseDecisionModel, ChoiceAnswer, ClassifierResponse
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.memory import InMemorySaver

from langgraph_routing import BudgetExceededError, RoutingPolicy, cost_tracking
from langgraph_routing._middleware import RoutingMiddleware, default_task_for, spent_usd
from langgraph_routing.testing import LocalGateway

pytestmark = pytest.mark.filterwarnings("ignore:The middleware `ModelRouterMiddleware` is in beta")

MINI, HAIKU, SONNET = "gpt-4o-mini", "claude-3-5-haiku-20241022", "claude-3-5-sonnet-20241022"
SHORT = {MINI: "mini", HAIKU: "haiku", SONNET: "sonnet", "gpt-4o": "4o", "o3-mini": "o3"}
QUESTION = "What is the population of Kyoto?"
TOOL_RESULT = "population 1,463,723 (2024 census)"
THEIR_BACKOFF_S = 0.25  # ModelRetryMiddleware(initial_delay=0.25, jitter=False): 0.25 s, 0.5 s


@tool
def lookup(city: str) -> str:
    """Look up facts about a city."""
    return TOOL_RESULT


# ---- agents ------------------------------------------------------------------------------


def ours(gw: LocalGateway, saver: Any = None, **kwargs: Any) -> tuple[Any, RoutingMiddleware]:
    mw = RoutingMiddleware(base_url=gw.base_url, api_key=gw.master_key, **kwargs)
    return create_agent(mw.model, [lookup], middleware=[mw], checkpointer=saver), mw


def chat(gw: LocalGateway, model: str) -> ChatOpenAI:
    return ChatOpenAI(
        model=model,
        base_url=gw.base_url,
        api_key=gw.master_key,  # type: ignore[arg-type]
        max_retries=0,
        include_response_headers=True,
    )


class PickRoute(BaseDecisionModel):
    """A stand-in classifier: always answers ``route`` (no model call)."""

    model: str = "stub"
    route: str = "fast"

    @property
    def _provider(self) -> str:
        return "stub"

    def _classify(self, state: Any, questions: Any) -> ClassifierResponse:
        answers: dict[str, Any] = {
            str(qid): ChoiceAnswer(
                type="choice", choice=self.route, probabilities={self.route: 1.0}, confidence=1.0
            )
            for qid in questions
        }
        return ClassifierResponse(model=self.model, answers=answers)


def retry_mw(**kwargs: Any) -> ModelRetryMiddleware:
    return ModelRetryMiddleware(initial_delay=THEIR_BACKOFF_S, jitter=False, **kwargs)


def lc_stack(gw: LocalGateway) -> Any:
    """Router (stub classifier: "fast") -> fallback -> retry. The retry must raise, or the
    fallback never sees an error (on_failure="continue" returns an AIMessage instead)."""
    router = ModelRouterMiddleware(
        choices={
            "fast": ModelChoice(chat(gw, MINI), "simple lookups"),
            "strong": ModelChoice(chat(gw, "gpt-4o"), "hard questions"),
        },
        instructions="Pick the cheapest model that fits.",
        classifier=PickRoute(),
    )
    middleware: list[Any] = [
        router,
        ModelFallbackMiddleware(chat(gw, HAIKU)),
        retry_mw(on_failure="error"),
    ]
    return create_agent(chat(gw, MINI), [lookup], middleware=middleware)


THEIRS: dict[str, Callable[[LocalGateway], Any]] = {
    # defaults except the backoff (on_failure="continue", max_retries=2)
    "LC retry": lambda gw: create_agent(chat(gw, MINI), [lookup], middleware=[retry_mw()]),
    "LC fallback": lambda gw: create_agent(
        chat(gw, MINI), [lookup], middleware=[ModelFallbackMiddleware(chat(gw, HAIKU))]
    ),
    "LC router+fallback+retry": lambda gw: lc_stack(gw),
}


# ---- running and recording ---------------------------------------------------------------


@dataclass
class Run:
    """One agent run against the gateway: outcome, result or exception, and the request log."""

    outcome: str
    messages: list[BaseMessage]
    error: BaseException | None
    log: list[Any]

    @property
    def models(self) -> list[str | None]:
        return [r.model for r in self.log]

    @property
    def statuses(self) -> list[int]:
        return [r.status for r in self.log]

    def gap_s(self, i: int = 0) -> float:
        return float(self.log[i + 1].started_at - self.log[i].started_at)

    def cell(self) -> str:
        reqs = ", ".join(f"{SHORT.get(r.model, r.model)} {r.status}" for r in self.log)
        return f"{len(self.log)} req [{reqs}] -> {self.outcome}"


def _outcome(messages: list[BaseMessage]) -> str:
    last = messages[-1]
    if not isinstance(last, AIMessage):
        return f"ended on {type(last).__name__}"
    reason = last.response_metadata.get("stop_reason")
    if reason:
        return f"stopped ({reason})"
    if last.text.startswith("Model call failed"):
        return "error text returned as the answer"
    if TOOL_RESULT in last.text:
        return "answered"
    return "answered without the tool result"


def run(gw: LocalGateway, agent: Any, *, config: dict[str, Any] | None = None) -> Run:
    try:
        out = agent.invoke({"messages": [HumanMessage(QUESTION)]}, config)
    except Exception as exc:
        return Run(f"raised {type(exc).__name__}", [], exc, _sorted_log(gw))
    return Run(_outcome(out["messages"]), out["messages"], None, _sorted_log(gw))


async def arun(gw: LocalGateway, agent: Any) -> Run:
    try:
        out = await agent.ainvoke({"messages": [HumanMessage(QUESTION)]})
    except Exception as exc:
        return Run(f"raised {type(exc).__name__}", [], exc, _sorted_log(gw))
    return Run(_outcome(out["messages"]), out["messages"], None, _sorted_log(gw))


def _sorted_log(gw: LocalGateway) -> list[Any]:
    return sorted(gw.log, key=lambda r: r.started_at)


TABLE: dict[str, dict[str, str]] = {}
COLUMNS = ["ours (RoutingMiddleware)", *THEIRS]


@pytest.fixture(scope="module", autouse=True)
def _print_table(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if not TABLE:
        return
    lines = ["", "Fault scenarios: requests seen by the gateway -> outcome"]
    for scenario, row in TABLE.items():
        lines.append(f"* {scenario}")
        lines.extend(f"    {col:<26} {row.get(col, '-')}" for col in COLUMNS)
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        with capture.global_and_fixture_disabled():
            print("\n".join(lines))
    else:  # pragma: no cover
        print("\n".join(lines))


def compare(
    gw: LocalGateway, scenario: str, fault: Callable[[LocalGateway], object]
) -> tuple[Run, dict[str, Run]]:
    """Run ours and each LangChain agent against a fresh copy of the fault."""
    results: dict[str, Run] = {}
    gw.reset()
    fault(gw)
    mine = run(gw, ours(gw)[0])
    for name, build in THEIRS.items():
        gw.reset()
        fault(gw)
        results[name] = run(gw, build(gw))
    TABLE[scenario] = {COLUMNS[0]: mine.cell(), **{k: v.cell() for k, v in results.items()}}
    return mine, results


# ---- the normal run ----------------------------------------------------------------------


def test_agent_run_routes_each_step_and_the_ledger_equals_gateway_spend(
    gateway: LocalGateway,
) -> None:
    calls: list[str] = []

    @tool
    def city_facts(city: str) -> str:
        """Look up facts about a city."""
        calls.append(city)
        return TOOL_RESULT

    mw = RoutingMiddleware(base_url=gateway.base_url, api_key=gateway.master_key)
    agent = create_agent(mw.model, [city_facts], middleware=[mw])
    with cost_tracking(mw.policy) as costs:
        out = agent.invoke({"messages": [HumanMessage(QUESTION)]})
    messages = out["messages"]

    assert len(calls) == 1
    assert [type(m).__name__ for m in messages] == [
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "AIMessage",
    ]
    assert messages[2].content == TOOL_RESULT
    assert TOOL_RESULT in messages[-1].text
    # each model call went to its task's model, with the tools create_agent bound
    assert [(r.model, r.status, r.tools) for r in gateway.log] == [
        (MINI, 200, ("city_facts",)),
        (SONNET, 200, ("city_facts",)),
    ]
    routed = [m.response_metadata["routing"] for m in messages if isinstance(m, AIMessage)]
    assert [(r["task"], r["model"], r["cost_source"]) for r in routed] == [
        ("tool_select", MINI, "header"),
        ("synthesize", SONNET, "header"),
    ]
    assert [r["call_id"] for r in routed] == [r.call_id for r in gateway.log]
    gateway_spend = math.fsum(r.cost_usd for r in gateway.log if r.cost_usd is not None)
    assert gateway_spend > 0
    assert spent_usd(messages) == gateway_spend == gateway.total_spend
    assert math.fsum(r["cost_usd"] for r in routed) == gateway_spend
    assert costs.total_usd == gateway_spend


async def test_async_agent_run_routes_like_sync(gateway: LocalGateway) -> None:
    agent, _ = ours(gateway)
    result = await arun(gateway, agent)
    assert result.outcome == "answered"
    assert result.models == [MINI, SONNET]
    assert spent_usd(result.messages) == gateway.total_spend > 0


def test_first_task_plan_and_task_for_override(gateway: LocalGateway) -> None:
    planned, _ = ours(gateway, first_task="plan")
    assert run(gateway, planned).models == ["o3-mini", SONNET]

    gateway.reset()
    seen: list[int] = []

    def task_for(request: ModelRequest[Any]) -> str | None:
        seen.append(len(request.messages))
        return "critique" if len(request.messages) > 1 else None  # None: keep the default

    custom, _ = ours(gateway, task_for=task_for)
    result = run(gateway, custom)
    assert seen == [1, 3]
    assert result.models == [MINI, MINI]  # tool_select by default, then critique (gpt-4o-mini)
    last = result.messages[-1]
    assert isinstance(last, AIMessage)
    assert last.response_metadata["routing"]["task"] == "critique"


def test_task_without_a_route_uses_the_default_task(gateway: LocalGateway) -> None:
    data = RoutingPolicy.default().model_dump(mode="json")
    del data["tasks"]["critique"]
    mw = RoutingMiddleware(
        RoutingPolicy.from_dict(data),
        base_url=gateway.base_url,
        api_key=gateway.master_key,
        task_for=lambda request: "critique",
    )
    out = create_agent(mw.model, [lookup], middleware=[mw]).invoke({"messages": [QUESTION]})
    assert [r.model for r in gateway.log] == [MINI, MINI]
    tasks = [m.response_metadata["routing"]["task"] for m in out["messages"][1::2]]
    assert tasks == ["tool_select", "tool_select"]


def test_default_task_for_is_per_turn() -> None:
    turn1 = [HumanMessage("a"), AIMessage(""), ToolMessage("x", tool_call_id="1"), AIMessage("b")]
    assert default_task_for(turn1, has_tools=True) == "synthesize"
    assert default_task_for([*turn1, HumanMessage("next")], has_tools=True) == "tool_select"
    assert default_task_for([HumanMessage("a")], has_tools=False) == "synthesize"
    assert default_task_for([HumanMessage("a")], True, first_task="plan") == "plan"


def test_constructor_rejects_bad_arguments(gateway: LocalGateway) -> None:
    mw = RoutingMiddleware(base_url=gateway.base_url, api_key=gateway.master_key)
    with pytest.raises(ValueError, match="either policy or model"):
        RoutingMiddleware(RoutingPolicy.default(), model=mw.model)
    with pytest.raises(ValueError, match="budget_usd"):
        RoutingMiddleware(model=mw.model, budget_usd=-1)
    assert RoutingMiddleware(mw.policy, model=mw.model).model is mw.model
    with pytest.raises(ValueError, match="unknown task 'digest' \\(known: plan, tool_select"):
        RoutingMiddleware(mw.policy, first_task="digest")
    assert gateway.log == []


# ---- our USD budget ----------------------------------------------------------------------


def test_budget_stops_before_any_request(gateway: LocalGateway) -> None:
    agent, _ = ours(gateway, budget_usd=0.0001)  # tool_select reserves ~$0.0025
    result = run(gateway, agent)
    assert result.log == []
    assert result.outcome == "stopped (budget_exhausted)"
    text = result.messages[-1].text
    assert "gpt-4o-mini" in text and "budget_usd" in text and "needs $" in text


def test_budget_stops_before_the_expensive_step(gateway: LocalGateway) -> None:
    # tool_select on gpt-4o-mini fits; synthesize needs ~$0.0047 of Sonnet for even the floor
    # of 256 output tokens (a $0.01 budget would now shrink it to ~600 tokens and answer)
    agent, _ = ours(gateway, budget_usd=0.003)
    result = run(gateway, agent)
    assert result.models == [MINI]
    assert result.outcome == "stopped (budget_exhausted)"
    assert isinstance(result.messages[-2], ToolMessage)  # the tool ran; the answer was refused
    stop = result.messages[-1]
    assert stop.response_metadata["spent_usd"] == gateway.total_spend > 0
    assert spent_usd(result.messages) <= 0.003


def test_budget_raise_mode(gateway: LocalGateway) -> None:
    agent, _ = ours(gateway, budget_usd=0.0001, on_budget="raise")
    result = run(gateway, agent)
    assert isinstance(result.error, BudgetExceededError)
    assert result.error.scope == "run"
    assert result.log == []


async def test_async_budget_stop(gateway: LocalGateway) -> None:
    agent, _ = ours(gateway, budget_usd=0.003)
    result = await arun(gateway, agent)
    assert result.models == [MINI]
    assert result.outcome == "stopped (budget_exhausted)"


def test_budget_scope_thread_counts_earlier_turns(gateway: LocalGateway) -> None:
    saver = InMemorySaver()
    config: dict[str, Any] = {"configurable": {"thread_id": "t1"}}
    agent, mw = ours(gateway, saver)
    assert run(gateway, agent, config=config).outcome == "answered"
    turn1 = gateway.total_spend
    assert turn1 > 0
    # a budget between the next call's reservation and that plus turn 1's spend
    history = list(agent.get_state(config).values["messages"])
    request = ModelRequest(
        model=mw.model,
        messages=[*history, HumanMessage(QUESTION)],
        tools=[lookup],
        state={"messages": [*history, HumanMessage(QUESTION)]},
    )
    reserve, model = mw.reservation(request, mw.task_of(request))
    assert model == MINI
    # the least the call can be sent with: its prompt and the policy's floor of output tokens
    policy = mw.policy
    wanted = policy.reserved_output("tool_select")
    least = reserve - policy.models[MINI].cost_usd(0, wanted - policy.budget.min_output_tokens)
    budget = least + turn1 / 2
    seen = {}
    for scope in ("thread", "run"):  # thread first: its refusal adds no cost to the thread
        gateway.reset()
        scoped, _ = ours(gateway, saver, budget_usd=budget, budget_scope=scope)
        result = run(gateway, scoped, config=config)
        seen[scope] = (result.models[:1], result.outcome)
    assert seen["thread"] == ([], "stopped (budget_exhausted)")
    assert seen["run"][0] == [MINI]


# ---- fault scenarios: ours vs LangChain's middleware -------------------------------------


def test_a_gateway_budget_exceeded(gateway: LocalGateway) -> None:
    mine, theirs = compare(
        gateway,
        "a. 422 budget_exceeded (every model)",
        lambda gw: gw.add_fault("budget_exceeded", times=None),
    )
    assert mine.statuses == [422]
    assert mine.outcome == "stopped (gateway_budget_exceeded)"
    assert "budget exceeded (key=" in mine.messages[-1].text
    # LangChain: a 422 is not a ModelError, so it is retried; retry's default on_failure
    # returns the error as the agent's answer
    assert theirs["LC retry"].statuses == [422, 422, 422]
    assert theirs["LC retry"].outcome == "error text returned as the answer"
    assert theirs["LC fallback"].models == [MINI, HAIKU]
    assert theirs["LC fallback"].outcome == "raised UnprocessableEntityError"
    assert theirs["LC router+fallback+retry"].models == [MINI] * 3 + [HAIKU] * 3
    assert theirs["LC router+fallback+retry"].outcome == "raised UnprocessableEntityError"


def test_a_gateway_budget_exceeded_raise_mode(gateway: LocalGateway) -> None:
    gateway.add_fault("budget_exceeded", times=None)
    agent, _ = ours(gateway, on_budget="raise")
    result = run(gateway, agent)
    assert isinstance(result.error, BudgetExceededError)
    assert result.error.scope == "gateway"
    assert result.statuses == [422]


def test_b_context_overflow(gateway: LocalGateway) -> None:
    mine, theirs = compare(
        gateway,
        "b. 400 context overflow on gpt-4o-mini",
        lambda gw: gw.add_fault("context_overflow", model=MINI, times=None),
    )
    # ours: one retry on the upgrade model (gpt-4o), tools kept, then synthesize as usual
    assert [(r.model, r.status, r.tools) for r in mine.log] == [
        (MINI, 400, ("lookup",)),
        ("gpt-4o", 200, ("lookup",)),
        (SONNET, 200, ("lookup",)),
    ]
    assert mine.outcome == "answered"
    first = mine.messages[1].response_metadata["routing"]
    assert [a["error_kind"] for a in first["attempts"]] == ["context_overflow", None]
    # LangChain: ContextOverflowError is not retryable; the fallback model gets it instead
    assert theirs["LC retry"].statuses == [400]
    assert theirs["LC retry"].outcome == "raised OpenAIContextOverflowError"
    assert theirs["LC fallback"].models == [MINI, HAIKU, MINI, HAIKU]
    assert theirs["LC fallback"].outcome == "answered"
    assert theirs["LC router+fallback+retry"].models == [MINI, HAIKU, MINI, HAIKU]


def test_c_rate_limit_with_retry_after(gateway: LocalGateway) -> None:
    mine, theirs = compare(
        gateway,
        "c. 429 retry-after: 1 on gpt-4o-mini (once)",
        lambda gw: gw.add_fault("rate_limit", model=MINI, retry_after=1),
    )
    assert [(r.model, r.status) for r in mine.log[:2]] == [(MINI, 429), (MINI, 200)]
    assert mine.models == [MINI, MINI, SONNET]
    assert mine.gap_s() >= 1.0
    assert mine.outcome == "answered"
    waited = mine.messages[1].response_metadata["routing"]["attempts"][0]["waited_s"]
    assert waited == 1.0
    TABLE["c. 429 retry-after: 1 on gpt-4o-mini (once)"]["ours (RoutingMiddleware)"] += (
        f"; waited {mine.gap_s():.2f}s"
    )
    # LangChain's retry waits its own backoff (0.25 s here), whatever Retry-After says
    retry = theirs["LC retry"]
    assert retry.statuses[:2] == [429, 200]
    assert retry.gap_s() < 1.0
    TABLE["c. 429 retry-after: 1 on gpt-4o-mini (once)"]["LC retry"] += (
        f"; waited {retry.gap_s():.2f}s"
    )
    # the fallback switches model at once
    assert theirs["LC fallback"].models[:2] == [MINI, HAIKU]
    assert theirs["LC fallback"].gap_s() < 1.0
    stack = theirs["LC router+fallback+retry"]
    assert stack.statuses[:2] == [429, 200] and stack.gap_s() < 1.0


def test_d_server_error_on_the_task_model(gateway: LocalGateway) -> None:
    mine, theirs = compare(
        gateway,
        "d. 503 on gpt-4o-mini (down)",
        lambda gw: gw.add_fault("server_error", model=MINI, status=503, times=None),
    )
    assert [(r.model, r.status, r.tools) for r in mine.log] == [
        (MINI, 503, ("lookup",)),
        (HAIKU, 200, ("lookup",)),
        (SONNET, 200, ("lookup",)),
    ]
    assert mine.outcome == "answered"
    assert theirs["LC retry"].statuses == [503, 503, 503]
    assert theirs["LC retry"].outcome == "error text returned as the answer"
    assert theirs["LC fallback"].models == [MINI, HAIKU, MINI, HAIKU]
    assert theirs["LC fallback"].outcome == "answered"
    stack = theirs["LC router+fallback+retry"]
    assert stack.models == [MINI, MINI, MINI, HAIKU] * 2
    assert stack.outcome == "answered"


def test_e_auth_error(gateway: LocalGateway) -> None:
    mine, theirs = compare(
        gateway,
        "e. 401 auth (every model)",
        lambda gw: gw.add_fault("auth_error", times=None),
    )
    assert mine.statuses == [401]
    assert mine.outcome == "raised OpenAIAuthenticationError"
    assert theirs["LC retry"].statuses == [401]  # ModelAuthenticationError is not retryable
    assert theirs["LC fallback"].models == [MINI, HAIKU]
    assert theirs["LC fallback"].outcome == "raised OpenAIAuthenticationError"
    assert theirs["LC router+fallback+retry"].models == [MINI, HAIKU]


async def test_async_rate_limit_then_fallback(gateway: LocalGateway) -> None:
    gateway.add_fault("rate_limit", model=MINI, retry_after=1)
    gateway.add_fault("server_error", model=MINI, status=503, nth=2)
    agent, _ = ours(gateway)
    result = await arun(gateway, agent)
    assert [(r.model, r.status) for r in result.log] == [
        (MINI, 429),
        (MINI, 503),
        (HAIKU, 200),
        (SONNET, 200),
    ]
    assert result.gap_s() >= 1.0
    assert result.outcome == "answered"
    attempts = result.messages[1].response_metadata["routing"]["attempts"]
    assert [a["error_kind"] for a in attempts] == ["rate_limit", "transient", None]
