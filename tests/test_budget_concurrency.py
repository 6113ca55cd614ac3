"""Run budgets under concurrency: admission is atomic, in-flight calls hold their worst case,
and every reservation is given back when its call ends, fails or is cancelled.

The gateway holds every request (``hang`` fault) until the test releases it, so "in flight" is
a fact of the test, not a matter of timing.
"""

from __future__ import annotations

import asyncio
import operator
import threading
import uuid
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AnyMessage, HumanMessage
from langchain_core.runnables import RunnableLambda
from langgraph.graph import add_messages

from langgraph_routing import (
    BudgetExceededError,
    CostCallbackHandler,
    add_costs,
    init_routing_model,
)
from langgraph_routing._tokens import TokenCounter
from langgraph_routing.testing import LocalGateway

PROMPT = [HumanMessage("Which tool answers: what is 17.5 * 4 + 12?")]
MAX_TOKENS = 256  # = the policy's floor: a call is either sent whole or refused


def _budget_for(model: Any, calls: int, name: str = "gpt-4o-mini") -> float:
    spec = model.policy.models[name]
    one = spec.cost_usd(TokenCounter().count(PROMPT).tokens, MAX_TOKENS)
    return one * calls + one / 2  # room for `calls` calls and half of one more


async def test_fifty_concurrent_calls_send_only_what_the_budget_allows(
    gateway: LocalGateway,
) -> None:
    model = init_routing_model(
        base_url=gateway.base_url, api_key=gateway.master_key, max_tokens=MAX_TOKENS
    ).with_task("tool_select")
    budget = _budget_for(model, 10)
    handler = CostCallbackHandler(budget_usd=budget)
    gateway.add_fault("hang", times=None)
    refused = 0
    all_refused = asyncio.Event()

    async def one() -> Any:
        nonlocal refused
        try:
            return await model.ainvoke(PROMPT)
        except BudgetExceededError:
            refused += 1
            if refused == 40:
                all_refused.set()
            raise

    async def body(_: Any) -> list[Any]:
        return await asyncio.gather(*(one() for _ in range(50)), return_exceptions=True)

    run_id = uuid.uuid4()
    task = asyncio.create_task(
        RunnableLambda(body).ainvoke(None, {"run_id": run_id, "callbacks": [handler]})
    )
    assert await asyncio.to_thread(gateway.wait_for_held, 10)
    await asyncio.wait_for(all_refused.wait(), timeout=30)
    # 10 calls are in flight and hold their worst case; the other 40 were refused unsent
    assert handler.reserved_usd(str(run_id)) > 0
    assert len(gateway.log) == 0  # held requests are logged when answered
    gateway.release_holds()
    results = await task
    answered = [r for r in results if not isinstance(r, BaseException)]
    assert len(answered) == 10 and refused == 40
    assert len(gateway.log) == 10
    assert gateway.total_spend <= budget  # strict: zero overshoot
    assert handler.reserved_usd() == 0.0  # nothing leaked
    assert handler.spent_usd(str(run_id)) == pytest.approx(gateway.total_spend, rel=1e-12)


class _Starts(BaseCallbackHandler):
    """Counts chat model starts (put it before the budget handler, which may raise)."""

    run_inline = True

    def __init__(self, expected: int) -> None:
        self.count = 0
        self.all_started = threading.Event()
        self._lock = threading.Lock()
        self._expected = expected

    def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            self.count += 1
            if self.count == self._expected:
                self.all_started.set()


def test_sixteen_threads_send_only_what_the_budget_allows(gateway: LocalGateway) -> None:
    model = init_routing_model(
        base_url=gateway.base_url, api_key=gateway.master_key, max_tokens=MAX_TOKENS
    ).with_task("tool_select")
    budget = _budget_for(model, 10)
    handler = CostCallbackHandler(budget_usd=budget)
    starts = _Starts(50)
    gateway.add_fault("hang", times=None)
    results: list[Any] = []

    def body(_: Any) -> list[Any]:
        return model.batch([PROMPT] * 50, {"max_concurrency": 16}, return_exceptions=True)

    runner = threading.Thread(
        target=lambda: results.extend(
            RunnableLambda(body).invoke(None, {"callbacks": [starts, handler]})
        )
    )
    runner.start()
    assert gateway.wait_for_held(10)
    assert starts.all_started.wait(30)  # every call was admitted or refused while 10 are held
    gateway.release_holds()
    runner.join(30)
    refusals = [r for r in results if isinstance(r, BudgetExceededError)]
    assert (len(results), len(refusals), len(gateway.log)) == (50, 40, 10)
    assert gateway.total_spend <= budget
    assert handler.reserved_usd() == 0.0


async def test_a_cancelled_call_gives_its_reservation_back(gateway: LocalGateway) -> None:
    model = init_routing_model(
        base_url=gateway.base_url, api_key=gateway.master_key, max_tokens=MAX_TOKENS
    ).with_task("tool_select")
    handler = CostCallbackHandler(budget_usd=_budget_for(model, 1))
    gateway.add_fault("hang", times=1)
    task = asyncio.create_task(model.ainvoke(PROMPT, {"callbacks": [handler]}))
    assert await asyncio.to_thread(gateway.wait_for_held, 1)
    assert handler.reserved_usd() > 0
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert handler.reserved_usd() == 0.0
    gateway.release_holds()
    # the budget is whole again: a new run can spend it
    await model.ainvoke(PROMPT, {"callbacks": [handler]})
    assert handler.reserved_usd() == 0.0


def test_a_failed_call_gives_its_reservation_back(gateway: LocalGateway) -> None:
    model = init_routing_model(base_url=gateway.base_url, api_key=gateway.master_key)
    handler = CostCallbackHandler(budget_usd=1.0)
    gateway.add_fault("auth_error", times=1)
    with pytest.raises(Exception, match=r"401|auth|Authentication"):
        model.invoke(PROMPT, {"callbacks": [handler]})
    assert len(gateway.log) == 1 and gateway.log[0].status == 401
    assert handler.reserved_usd() == 0.0


@pytest.mark.parametrize("value", [float("nan"), -1.0, "0.5", True, float("inf")])
def test_bad_budget_values_are_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="budget_usd"):
        CostCallbackHandler(budget_usd=value)


async def test_middleware_thread_budget_holds_for_concurrent_runs(gateway: LocalGateway) -> None:
    from langchain.agents import create_agent

    from langgraph_routing import RoutingMiddleware

    model = init_routing_model(
        base_url=gateway.base_url, api_key=gateway.master_key, max_tokens=MAX_TOKENS
    )
    budget = _budget_for(model, 5, "claude-3-5-sonnet-20241022")  # no tools: synthesize
    mw = RoutingMiddleware(model=model, budget_usd=budget, budget_scope="thread")
    agent = create_agent(mw.model, [], middleware=[mw])
    gateway.add_fault("hang", times=None)
    config: Any = {"configurable": {"thread_id": "shared"}}
    runs = [
        asyncio.create_task(agent.ainvoke({"messages": [PROMPT[0]]}, config)) for _ in range(20)
    ]
    assert await asyncio.to_thread(gateway.wait_for_held, 5)
    stopped = [t for t in runs if t.done()]
    while len(stopped) < 15:  # the refused runs end at once, without a request
        done, _ = await asyncio.wait(
            [t for t in runs if not t.done()], timeout=30, return_when=asyncio.FIRST_COMPLETED
        )
        assert done, "refused runs did not end"
        stopped = [t for t in runs if t.done()]
    gateway.release_holds()
    results = await asyncio.gather(*runs)
    reasons = [r["messages"][-1].response_metadata.get("stop_reason") for r in results]
    assert reasons.count("budget_exhausted") == 15
    assert len(gateway.log) == 5 and gateway.total_spend <= budget
    assert mw._inflight.held() == 0.0


def _last(old: Any, new: Any) -> Any:
    return new if new is not None else old


class FanState(TypedDict, total=False):
    """The template's keys, with scalar keys that take one write per ``Send`` branch."""

    messages: Annotated[list[AnyMessage], add_messages]
    costs: Annotated[list[dict[str, Any]], add_costs]
    routing: Annotated[list[dict[str, Any]], operator.add]
    plan: Annotated[str, _last]
    final_answer: Annotated[str, _last]
    stop_reason: Annotated[str, _last]
    model_steps: Annotated[int, _last]
    critiques: Annotated[int, _last]


async def test_send_fan_out_branches_share_the_template_guard(gateway: LocalGateway) -> None:
    """Five ``synthesize`` branches of one ``Send`` fan-out run at once; the guard admits them
    atomically, so only what the budget allows is sent (the others stop as budget_exhausted)."""
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Send

    from langgraph_routing import budget_guard, synthesize_node

    model = init_routing_model(
        base_url=gateway.base_url, api_key=gateway.master_key, max_tokens=MAX_TOKENS
    )
    budget = _budget_for(model, 3, "claude-3-5-sonnet-20241022")  # room for 3 calls and a half
    guard = budget_guard(model.policy, budget)
    node = synthesize_node(model)
    builder = StateGraph(FanState)
    builder.add_node("synthesize", node)
    builder.add_conditional_edges(
        START, lambda state: [Send("synthesize", state) for _ in range(5)], ["synthesize"]
    )
    builder.add_edge("synthesize", END)
    guard.route(node)  # attaches the guard to the node, as create_routing_agent does
    out = await builder.compile().ainvoke({"messages": [PROMPT[0]]})
    # each branch is admitted before any answer comes back: what the budget holds for the
    # first three leaves nothing for the last two
    assert len(gateway.log) == 3
    assert gateway.total_spend <= budget
    assert out["stop_reason"] == "budget_exhausted"
    assert guard._inflight.held() == 0.0
