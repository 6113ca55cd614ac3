"""deepagents (pinned in the dev extras): a research lead with a subagent, human approval of a
tool call, and a conversation longer than the model's window.

Adopting routing changes one argument: ``create_deep_agent(model=init_routing_model(...))``.
"""

from __future__ import annotations

import math
from typing import Any

from deepagents import create_deep_agent
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.types import Command

from langgraph_routing import (
    ContextTooLargeError,
    RoutingPolicy,
    cost_tracking,
    init_routing_model,
    list_threads,
    open_checkpointer,
)
from langgraph_routing.testing import LocalGateway
from tests.apps.conftest import call

MINI, HAIKU, SONNET = "gpt-4o-mini", "claude-3-5-haiku-20241022", "claude-3-5-sonnet-20241022"
POLICY = RoutingPolicy.default().updated({"node_tasks": {"researcher": "synthesize"}})
QUESTION = {"messages": [("user", "Ask the researcher: how many people live in Kyoto?")]}


@tool
def population(city: str) -> str:
    """Population of a city."""
    return f"{city}: 1.46 million"


def _agent(gateway: LocalGateway, saver: Any, policy: RoutingPolicy = POLICY) -> Any:
    model = init_routing_model(policy, base_url=gateway.base_url, api_key=gateway.master_key)
    return create_deep_agent(
        model=model,
        tools=[population],
        system_prompt="You are a research lead.",
        subagents=[
            {
                "name": "researcher",
                "description": "Researches facts about cities",
                "system_prompt": "Research the question with your tools.",
                "tools": [population],
            }
        ],
        interrupt_on={"population": True},
        checkpointer=saver,
        name="lead",
    )


def _script(gateway: LocalGateway, lead: str = MINI) -> None:
    gateway.script(
        lead,
        [
            call("task", description="How many people live in Kyoto?", subagent_type="researcher"),
            "Kyoto has 1.46 million people.",
        ],
    )
    gateway.script(SONNET, [call("population", city="Kyoto"), "Kyoto: 1.46 million people."])


def test_subagent_with_approval_costs_per_agent_and_per_thread(gateway: LocalGateway) -> None:
    _script(gateway)
    config: Any = {"configurable": {"thread_id": "deep-1"}}
    with open_checkpointer("memory://") as saver, cost_tracking(POLICY) as costs:
        agent = _agent(gateway, saver)
        paused = agent.invoke(QUESTION, config)
        [interrupt] = paused["__interrupt__"]
        assert interrupt.value["action_requests"][0]["name"] == "population"
        before = len(gateway.log)
        out = agent.invoke(Command(resume={"decisions": [{"type": "approve"}]}), config)
        [thread] = list_threads(saver)
    assert before == 2 and len(gateway.log) == 4  # the resume re-paid nothing
    assert "1.46 million" in str(out["messages"][-1].content)
    # the subagent routes by its name; the lead by its node's task
    assert {(r.agent, r.model) for r in gateway.log} == {("lead", MINI), ("researcher", SONNET)}
    assert math.isclose(costs.total_usd, gateway.total_spend, rel_tol=1e-12)
    by_agent = costs.report().by_agent()
    assert set(by_agent) == {"lead", "researcher"} and all(v > 0 for v in by_agent.values())
    # deepagents keeps messages in a DeltaChannel: the cost is read from the task writes
    assert thread.status == "done" and thread.calls == 4
    assert math.isclose(thread.cost_usd or 0.0, gateway.total_spend, rel_tol=1e-12)


def test_a_failing_model_falls_back_inside_the_agent(gateway: LocalGateway) -> None:
    _script(gateway, lead=HAIKU)  # gpt-4o-mini fails: its fallback, haiku, answers the lead
    gateway.add_fault("server_error", model=MINI, status=503, times=None)
    config: Any = {"configurable": {"thread_id": "deep-2"}}
    with open_checkpointer("memory://") as saver, cost_tracking(POLICY) as costs:
        agent = _agent(gateway, saver)
        agent.invoke(QUESTION, config)
        out = agent.invoke(Command(resume={"decisions": [{"type": "approve"}]}), config)
    assert "1.46 million" in str(out["messages"][-1].content)
    failed = [r for r in gateway.log if r.model == MINI]
    assert len(failed) == 2 and all(r.status == 503 for r in failed)
    assert [r.model for r in gateway.log if r.agent == "lead" and r.ok] == [HAIKU, HAIKU]
    assert len(costs.entries) == len(gateway.log)  # failed attempts are in the ledger
    assert math.isclose(costs.total_usd, gateway.total_spend, rel_tol=1e-12)


SMALL = RoutingPolicy.default().updated(
    {"models": {MINI: {"context_window": 8000}, "gpt-4o": {"context_window": 8000}}}
)


def _long_history(notes: int, words: int) -> list[Any]:
    history: list[Any] = []
    for i in range(notes):
        history += [HumanMessage(f"note {i}: " + "lorem ipsum dolor " * words), AIMessage("ok")]
    return [*history, HumanMessage("Summarise my notes in one line.")]


def test_a_conversation_longer_than_the_window_is_summarised(make_gateway: Any) -> None:
    gateway = make_gateway(models=LocalGateway.from_policy(SMALL).models.values())
    with open_checkpointer("memory://") as saver, cost_tracking(SMALL) as costs:
        model = init_routing_model(SMALL, base_url=gateway.base_url, api_key=gateway.master_key)
        agent = create_deep_agent(model=model, system_prompt="You are a lead.", checkpointer=saver)
        history = _long_history(4, 1200)  # ~17k tokens against an 8k window
        out = agent.invoke({"messages": history}, {"configurable": {"thread_id": "long"}})
    assert isinstance(out["messages"][-1], AIMessage) and out["messages"][-1].content
    assert all(r.status == 200 for r in gateway.log)  # never sent over the window
    assert all(r.prompt_tokens + (r.max_tokens or 0) <= 8000 for r in gateway.log)
    assert min(r.message_count for r in gateway.log) == 1  # the summary call
    assert math.isclose(costs.total_usd, gateway.total_spend, rel_tol=1e-12)


class _Overflows(BaseCallbackHandler):
    def __init__(self) -> None:
        self.errors: list[BaseException] = []

    def on_llm_error(self, error: BaseException, **kwargs: Any) -> None:
        self.errors.append(error)


def test_summarization_middleware_recovers_from_our_overflow_error(gateway: LocalGateway) -> None:
    """``SummarizationMiddleware`` retries a summary prompt that overflows the window with the
    middle of the history cut out, when the model raises ``ContextOverflowError``: ours raises
    ``ContextTooLargeError``, which is one, before sending anything."""
    from langchain.agents import create_agent
    from langchain.agents.middleware import SummarizationMiddleware

    tiny = RoutingPolicy.default().updated(
        {"models": {MINI: {"context_window": 2000}, "gpt-4o": {"context_window": 2000}}}
    )
    model = init_routing_model(tiny, base_url=gateway.base_url, api_key=gateway.master_key)
    summarize = SummarizationMiddleware(model, trigger=("tokens", 2000), keep=("messages", 2))
    agent = create_agent(model, [], middleware=[summarize])
    seen = _Overflows()
    out = agent.invoke({"messages": _long_history(6, 300)}, {"callbacks": [seen]})
    assert any(isinstance(e, ContextTooLargeError) for e in seen.errors)  # the overflow happened
    assert out["messages"][-1].content and len(out["messages"]) < 13  # ...and was recovered
    assert gateway.log and all(r.status == 200 for r in gateway.log)  # nothing sent too big


def _overflowing_run(gateway: LocalGateway, model: Any, **checkpointer: Any) -> tuple[Any, Any]:
    """~24k tokens of history against a gateway whose windows are 16k, while the model believes
    128k (its profile): the gateway really answers 400 context_length_exceeded."""
    with open_checkpointer("memory://", **checkpointer) as saver:
        agent = create_deep_agent(model=model, system_prompt="You are a lead.", checkpointer=saver)
        out = agent.invoke(
            {"messages": _long_history(6, 1200)}, {"configurable": {"thread_id": "o"}}
        )
        return out, list_threads(saver)


GATEWAY_16K = RoutingPolicy.default().updated(
    {"models": {m: {"context_window": 16000} for m in RoutingPolicy.default().models}}
)


def test_an_overflow_at_the_gateway_is_recovered_like_chatopenai(make_gateway: Any) -> None:
    from langchain_openai import ChatOpenAI

    plain = make_gateway(models=LocalGateway.from_policy(GATEWAY_16K).models.values())
    chat = ChatOpenAI(model=MINI, base_url=plain.base_url, api_key=plain.master_key, max_retries=0)
    _overflowing_run(plain, chat)
    ours = make_gateway(models=LocalGateway.from_policy(GATEWAY_16K).models.values())
    seen = _Overflows()
    with cost_tracking() as costs:
        model = init_routing_model(
            base_url=ours.base_url, api_key=ours.master_key, callbacks=[seen]
        )
        out, [thread] = _overflowing_run(ours, model, costs=costs)
    assert isinstance(out["messages"][-1], AIMessage) and out["messages"][-1].content
    for gw in (plain, ours):  # both: the overflow really happened, then a smaller prompt passed
        first, last = gw.log[0], gw.log[-1]
        assert first.status == 400 and first.prompt_tokens > 16000
        assert last.status == 200 and last.prompt_tokens < first.prompt_tokens
    # ours applied the failure table first (upgrade to the larger model, which the gateway also
    # refused), then raised ContextTooLargeError, which deepagents' summarisation caught
    assert [(r.model, r.status) for r in ours.log[:2]] == [(MINI, 400), ("gpt-4o", 400)]
    assert isinstance(seen.errors[0], ContextTooLargeError)
    assert ours.log[-1].message_count < ours.log[0].message_count  # the history was summarised
    assert math.isclose(costs.total_usd, ours.total_spend, rel_tol=1e-9) and ours.total_spend > 0
    # the summary calls keep no AIMessage in state: the attached handler's ledger counts them
    assert thread.calls == len(ours.log)
    assert math.isclose(thread.cost_usd or 0.0, ours.total_spend, rel_tol=1e-9)
