"""The routing agent under invoke/ainvoke and every stream mode, sync and async."""

from __future__ import annotations

import math
import uuid
from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver

from langgraph_routing._graph import create_routing_agent
from langgraph_routing.demo import DEMO_QUESTIONS, DEMO_TOOLS
from langgraph_routing.testing import LocalGateway

Q = DEMO_QUESTIONS[1]
MODELS = ["gpt-4o-mini", "gpt-4o-mini"]  # tool_select, then synthesize (easy), no plan
NODES = ["gate", "tool_select", "tools", "synthesize"]
MODES = ["values", "updates", "messages", "custom", "debug"]


def make(gw: LocalGateway) -> Any:
    return create_routing_agent(
        DEMO_TOOLS, base_url=gw.base_url, api_key=gw.master_key, checkpointer=InMemorySaver()
    )


def config() -> RunnableConfig:
    return {"configurable": {"thread_id": str(uuid.uuid4())}}


def ledger_total(state: dict[str, Any]) -> float:
    return math.fsum(e["cost_usd"] for e in state["costs"] if e["cost_usd"] is not None)


def check_mode(mode: str, parts: list[Any], state: dict[str, Any], gw: LocalGateway) -> None:
    assert parts, mode
    assert state["stop_reason"] == "done" and Q.is_answered_by(state["final_answer"])
    assert [r.model for r in gw.log] == MODELS
    assert ledger_total(state) == math.fsum(r.cost_usd for r in gw.log if r.cost_usd) > 0
    assert [e["call_id"] for e in state["costs"]] == [r.call_id for r in gw.log]
    if mode == "values":
        assert parts[-1]["final_answer"] == state["final_answer"]
        assert [len(p.get("costs", [])) for p in parts][-1] == 2
    elif mode == "updates":
        nodes = [next(iter(p)) for p in parts]
        assert nodes == NODES
        assert parts[0]["gate"]["plan_gate"]["plan"] is False
        assert len(parts[1]["tool_select"]["costs"]) == 1
    elif mode == "messages":
        assert all(r.stream for r in gw.log)  # the model streamed every call
        chunks = [(m, meta) for m, meta in parts if isinstance(m, AIMessageChunk)]
        synth = "".join(
            str(m.content) for m, meta in chunks if meta["langgraph_node"] == "synthesize"
        )
        assert synth == state["final_answer"]
        assert {meta["langgraph_node"] for _, meta in chunks} == {"tool_select", "synthesize"}
    elif mode == "custom":
        assert [p["model"] for p in parts if p["event"] == "routing"] == MODELS
        assert [p["call_id"] for p in parts] == [d["call_id"] for d in state["routing"]]
    elif mode == "debug":
        names = [p["payload"]["name"] for p in parts if p["type"] == "task"]
        assert names == NODES
    if mode != "messages":
        assert not any(r.stream for r in gw.log)


@pytest.mark.parametrize("mode", MODES)
def test_stream_mode_sync(gateway: LocalGateway, mode: str) -> None:
    agent, cfg = make(gateway), config()
    parts = list(agent.stream({"messages": [("user", Q.question)]}, cfg, stream_mode=mode))
    check_mode(mode, parts, agent.get_state(cfg).values, gateway)


@pytest.mark.parametrize("mode", MODES)
async def test_stream_mode_async(gateway: LocalGateway, mode: str) -> None:
    agent, cfg = make(gateway), config()
    parts = [
        p async for p in agent.astream({"messages": [("user", Q.question)]}, cfg, stream_mode=mode)
    ]
    check_mode(mode, parts, (await agent.aget_state(cfg)).values, gateway)


async def test_ainvoke(gateway: LocalGateway) -> None:
    agent, cfg = make(gateway), config()
    out = await agent.ainvoke({"messages": [("user", Q.question)]}, cfg)
    check_mode("ainvoke", [out], out, gateway)


def test_invoke(gateway: LocalGateway) -> None:
    agent, cfg = make(gateway), config()
    out = agent.invoke({"messages": [("user", Q.question)]}, cfg)
    check_mode("invoke", [out], out, gateway)
