"""Hedged attempts through real HTTP on LocalGateway: a task with ``hedge_after_s`` races the
next candidate when its first attempt is slow; the loser is recorded, never dropped.

"Slow" is a fact of the gateway, not of timing: the primary is held by a ``hang`` fault (until
released, or for a fixed time the gateway keeps), so it cannot answer before the hedge starts.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from langchain_core.runnables import RunnableLambda

from langgraph_routing import (
    CostCallbackHandler,
    PolicyError,
    RoutingChatModel,
    RoutingPolicy,
)
from langgraph_routing.shared_state import MemoryRoutingState
from langgraph_routing.testing import LocalGateway

PRIMARY = "gpt-4o-mini"
HEDGE = "claude-3-5-haiku-20241022"  # the primary's first fallback


def _model(gw: LocalGateway, hedge_after_s: float = 0.2, **extra: Any) -> RoutingChatModel:
    policy = RoutingPolicy.default().updated(
        {"tasks": {"tool_select": {"model": PRIMARY, "hedge_after_s": hedge_after_s}}}
    )
    return RoutingChatModel(
        policy=policy,
        base_url=gw.base_url,
        api_key=gw.master_key,
        routing_state=MemoryRoutingState(),  # breakers of this test only
        task="tool_select",
        max_tokens=256,
        **extra,
    )


@pytest.mark.parametrize("run", ["sync", "async"])
def test_a_held_primary_is_raced_and_the_hedge_answers(gateway: LocalGateway, run: str) -> None:
    gateway.add_fault("hang", model=PRIMARY, times=None)
    model = _model(gateway)
    handler = CostCallbackHandler()
    config: Any = {"callbacks": [handler]}
    try:
        if run == "sync":
            reply = model.invoke("hello", config)
        else:
            reply = asyncio.run(model.ainvoke("hello", config))
        assert gateway.wait_for_held(1)  # the primary was sent, and is still held
    finally:
        gateway.release_holds()
    routing = reply.response_metadata["routing"]
    assert routing["model"] == HEDGE
    assert f"hedged {PRIMARY} with {HEDGE}" in routing["reason"]
    loser, winner = routing["attempts"]
    assert (loser["model"], loser["error_kind"]) == (PRIMARY, "hedged")
    assert loser["cost_usd"] > 0 and loser["latency_s"] >= 0.2  # raced only after 0.2 s
    assert (winner["model"], winner["status"]) == (HEDGE, 200)
    # the loser is priced at its prompt plus what the winner wrote, not at max_tokens=256
    spec = RoutingPolicy.default().models[PRIMARY]
    written = reply.usage_metadata["output_tokens"] if reply.usage_metadata else -1
    assert 0 < written < 256
    prompt_part = loser["cost_usd"] - written * spec.output_per_million / 1e6
    implied_prompt = prompt_part / (spec.input_per_million / 1e6)
    assert 1 <= round(implied_prompt) < 50 and abs(implied_prompt - round(implied_prompt)) < 1e-6
    # the ledger keeps both: the loser cancelled, at that estimate
    entries = {e.model: e for e in handler.entries}
    assert entries[PRIMARY].status == "cancelled" and entries[PRIMARY].source == "estimate"
    assert entries[PRIMARY].cost_usd == loser["cost_usd"]
    assert entries[HEDGE].status == "ok" and entries[HEDGE].source == "header"
    assert [r.model for r in gateway.log if r.model == HEDGE] == [HEDGE]


def test_a_fast_primary_is_never_hedged(gateway: LocalGateway) -> None:
    reply = _model(gateway, hedge_after_s=60).invoke("hello")
    assert [r.model for r in gateway.log] == [PRIMARY]
    assert len(reply.response_metadata["routing"]["attempts"]) == 1


def test_a_failed_hedge_waits_for_the_primary(gateway: LocalGateway) -> None:
    gateway.add_fault("hang", model=PRIMARY, seconds=1.0, times=1)  # answers, late
    gateway.add_fault("server_error", model=HEDGE, status=503, times=None)
    reply = asyncio.run(_model(gateway).ainvoke("hello"))
    routing = reply.response_metadata["routing"]
    assert routing["model"] == PRIMARY
    assert [(a["model"], a["error_kind"]) for a in routing["attempts"]] == [
        (HEDGE, "transient"),
        (PRIMARY, None),
    ]
    assert sorted((r.model, r.status) for r in gateway.log) == [(HEDGE, 503), (PRIMARY, 200)]


def test_no_hedge_when_the_budget_holds_one_attempt(gateway: LocalGateway) -> None:
    model = _model(gateway)
    spec = model.policy.models[PRIMARY]
    one = spec.cost_usd(20, 256)
    handler = CostCallbackHandler(budget_usd=one * 1.5)  # one worst case, not two
    gateway.add_fault("hang", model=PRIMARY, seconds=0.6, times=1)

    async def body(_: Any) -> Any:
        return await model.ainvoke("hello")

    reply = asyncio.run(
        RunnableLambda(body).ainvoke(None, {"callbacks": [handler], "run_id": uuid.uuid4()})
    )
    routing = reply.response_metadata["routing"]
    assert routing["model"] == PRIMARY
    assert "no hedge: the budget reserved" in routing["reason"]
    assert [r.model for r in gateway.log] == [PRIMARY]  # the hedge was never sent


def test_hedge_after_is_validated() -> None:
    with pytest.raises(PolicyError, match="hedge_after_s"):
        RoutingPolicy.default().updated({"tasks": {"tool_select": {"hedge_after_s": -1}}})
