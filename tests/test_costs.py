"""Cost per run: the handler's ledger equals what the gateway charged, exactly.

Totals are compared with ``math.fsum`` on both sides and ``==``.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from typing import Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel

from langgraph_routing import (
    BudgetExceededError,
    CostCallbackHandler,
    RoutingPolicy,
    cost_tracking,
    init_routing_model,
)
from langgraph_routing.testing import LocalGateway


def gateway_total(gateway: LocalGateway) -> float:
    return math.fsum(r.cost_usd for r in gateway.log if r.cost_usd is not None)


@pytest.fixture
def model(gateway: LocalGateway) -> Any:
    return init_routing_model(base_url=gateway.base_url, api_key=gateway.master_key)


@tool
def multiply(a: float, b: float) -> float:
    """Multiply two numbers a and b."""
    return a * b


class Plan(BaseModel):
    steps: list[str]


def plain_chat(gateway: LocalGateway, **kwargs: Any) -> ChatOpenAI:
    """A plain ChatOpenAI on the gateway, as users without our model would set it up."""
    return ChatOpenAI(
        model="gpt-4o-mini",
        base_url=gateway.base_url,
        api_key=gateway.master_key,
        max_retries=0,
        include_response_headers=True,
        **kwargs,
    )


def _assert_exact(handler: CostCallbackHandler, gateway: LocalGateway) -> None:
    assert gateway.log, "the gateway saw no request"
    assert handler.total_usd == gateway_total(gateway) > 0
    paid = [e for e in handler.entries if e.status == "ok"]
    assert sorted(e.call_id for e in paid) == sorted(
        r.call_id for r in gateway.log if r.status == 200
    )


def test_invoke_stream_structured(gateway: LocalGateway, model: Any) -> None:
    handler = CostCallbackHandler()
    cfg: Any = {"callbacks": [handler]}
    model.with_task("plan").invoke("plan a trip", config=cfg)
    list(model.with_task("synthesize").stream("write it up", config=cfg))
    model.with_task("critique").with_structured_output(Plan, method="json_schema").invoke(
        "steps please", config=cfg
    )
    model.with_task("critique").with_structured_output(Plan).invoke("steps again", config=cfg)
    _assert_exact(handler, gateway)
    sources = {e.source for e in handler.entries}
    assert sources == {"header", "usage"}  # non-streaming header, streamed usage.cost


def test_async_paths(gateway: LocalGateway, model: Any) -> None:
    handler = CostCallbackHandler()
    cfg: Any = {"callbacks": [handler]}

    async def go() -> None:
        await model.with_task("plan").ainvoke("a", config=cfg)
        async for _ in model.with_task("synthesize").astream("b", config=cfg):
            pass

    asyncio.run(go())
    _assert_exact(handler, gateway)
    assert len(handler.entries) == 2


def test_graph_stream_messages_tool_loop_retry_and_fallback(
    gateway: LocalGateway, model: Any
) -> None:
    gateway.add_fault("rate_limit", model="gpt-4o-mini", nth=1, retry_after_ms=50)
    gateway.add_fault("server_error", model="gpt-4o-mini", nth=3, status=503)

    class S(TypedDict):
        messages: list[Any]

    tools_model = model.bind_tools([multiply])

    def tool_select(state: S) -> S:
        return {"messages": [*state["messages"], tools_model.invoke(state["messages"])]}

    def tools(state: S) -> S:
        last = state["messages"][-1]
        out = [
            ToolMessage(str(multiply.invoke(c["args"])), tool_call_id=c["id"])
            for c in last.tool_calls
        ]
        return {"messages": [*state["messages"], *out]}

    def critique(state: S) -> S:
        return {"messages": [*state["messages"], model.invoke(state["messages"])]}

    g = StateGraph(S)
    g.add_node("tool_select", tool_select)
    g.add_node("tools", tools)
    g.add_node("critique", critique)
    g.add_edge(START, "tool_select")
    g.add_edge("tool_select", "tools")
    g.add_edge("tools", "critique")
    g.add_edge("critique", END)
    graph = g.compile()

    handler = CostCallbackHandler()
    events = list(
        graph.stream(
            {"messages": [HumanMessage("multiply 6 and 7")]},
            config={"callbacks": [handler]},
            stream_mode="messages",
        )
    )
    assert events
    statuses = [(r.model, r.status) for r in gateway.log]
    assert statuses == [
        ("gpt-4o-mini", 429),
        ("gpt-4o-mini", 200),
        ("gpt-4o-mini", 503),
        ("claude-3-5-haiku-20241022", 200),
    ]
    _assert_exact(handler, gateway)
    errors = [e for e in handler.entries if e.status == "error"]
    assert [e.model for e in errors] == ["gpt-4o-mini", "gpt-4o-mini"]
    assert all(e.cost_usd is None or e.cost_usd == 0 for e in errors)
    nodes = handler.report().by_node()
    assert set(nodes) == {"tool_select", "critique"}
    assert len({e.run_id for e in handler.entries}) == 1


def test_plain_chat_openai_is_costed_too(gateway: LocalGateway) -> None:
    plain = plain_chat(gateway, stream_usage=True)
    with cost_tracking() as costs:
        chain = RunnableLambda(lambda x: plain.invoke(x)) | RunnableLambda(lambda m: m.content)
        chain.invoke("hello")
        list(plain.stream("hello again"))
    # a plain ChatOpenAI drops usage.cost of streams: that call can only be estimated (at the
    # policy's prices, which LocalGateway also charges, hence still exact here)
    assert [e.source for e in costs.entries] == ["header", "estimate"]
    _assert_exact(costs, gateway)


def test_ledger_keeps_call_order_across_routed_plain_and_failed_calls(
    gateway: LocalGateway, model: Any
) -> None:
    """A routed answer's entries are built when the ledger is first read; entries added at once
    (a plain model, a failed call) still land after the routed calls that came first, every
    reader sees them all, and the gateway's spend is matched exactly."""
    handler = CostCallbackHandler()
    cfg: Any = {"callbacks": [handler]}
    plain = plain_chat(gateway)
    model.with_task("tool_select").invoke("first", config=cfg)
    assert repr(handler).startswith("CostCallbackHandler(entries=1, total_usd=0.0000")
    plain.invoke("second", config=cfg)
    model.with_task("synthesize").invoke("third", config=cfg)
    gateway.add_fault("auth_error")
    with pytest.raises(Exception):  # noqa: B017 - a 401 is never retried: the call fails
        model.with_task("tool_select").invoke("fourth", config=cfg)
    statuses = [(r.model, r.status) for r in gateway.log]
    assert statuses[-1][1] == 401 and len(statuses) == 4  # the fault happened
    entries = handler.entries
    assert [e.status for e in entries] == ["ok", "ok", "ok", "error"]
    assert [e.call_id for e in entries[:3]] == [r.call_id for r in gateway.log[:3]]
    assert [e.task for e in entries[:3]] == ["tool_select", None, "synthesize"]
    assert handler.total_usd == gateway_total(gateway) > 0
    run = str(entries[2].run_id)
    assert handler.spent_usd(run) == entries[2].cost_usd
    fresh, mark = handler.entries_since(None)
    assert [e.call_id for e in fresh] == [e.call_id for e in entries] and mark == entries[
        -1
    ].call_id


def test_a_malformed_routing_record_is_skipped_and_breaks_no_read(
    gateway: LocalGateway, model: Any
) -> None:
    """An answer whose routing record is garbage (any chat model may put a ``routing`` key in
    its metadata) is skipped with a warning when the ledger is read; the other entries, and
    every reader, are unaffected."""
    from langchain_core.outputs import ChatGeneration, LLMResult

    handler = CostCallbackHandler()
    cfg: Any = {"callbacks": [handler]}
    model.with_task("tool_select").invoke("before", config=cfg)
    bad_run = uuid.uuid4()
    handler.on_chat_model_start({}, [[HumanMessage("x")]], run_id=bad_run, metadata={})
    garbage = AIMessage("x", response_metadata={"routing": {"attempts": 5}})
    handler.on_llm_end(LLMResult(generations=[[ChatGeneration(message=garbage)]]), run_id=bad_run)
    model.with_task("tool_select").invoke("after", config=cfg)
    assert [e.call_id for e in handler.entries] == [r.call_id for r in gateway.log]
    assert handler.entries_since(None)[1] == gateway.log[-1].call_id
    _assert_exact(handler, gateway)


def test_many_unread_routed_answers_are_bounded_and_exact(
    gateway: LocalGateway, model: Any
) -> None:
    """Records waiting to become entries are bounded: past the bound, the oldest are built in
    one small batch (one call in ``_FLUSH_BATCH`` pays for it), the rest wait."""
    from langgraph_routing import _callbacks

    bound, batch = _callbacks._MAX_DEFERRED, _callbacks._FLUSH_BATCH
    handler = CostCallbackHandler()
    routed = model.with_task("tool_select")
    for i in range(bound + 1):
        routed.invoke(f"call {i}", config={"callbacks": [handler]})
    assert len(handler._deferred) == bound - batch
    assert len(handler._entries) == batch + 1
    for i in range(batch - 1):  # back up to the bound: nothing more is built
        routed.invoke(f"more {i}", config={"callbacks": [handler]})
    assert len(handler._deferred) == bound - 1
    assert len(handler._entries) == batch + 1
    assert len(handler.entries) == len(gateway.log) == bound + batch
    assert not handler._deferred
    _assert_exact(handler, gateway)


@pytest.mark.parametrize("garbage", ["abc", "-1", "nan", None])
def test_garbage_or_missing_cost_header_is_estimate_never_zero(
    gateway: LocalGateway, model: Any, garbage: str | None
) -> None:
    gateway.add_fault("cost_header", model="o3-mini", value=garbage)
    with cost_tracking() as costs:
        reply = model.with_task("plan").invoke("plan")
    assert gateway.log[0].status == 200
    [entry] = costs.entries
    assert entry.source == "estimate"
    assert entry.cost_usd is not None and entry.cost_usd > 0
    assert reply.response_metadata["routing"]["cost_source"] == "estimate"


def test_unknown_model_without_price_is_unknown_not_zero(gateway: LocalGateway) -> None:
    plain = plain_chat(gateway)
    gateway.add_fault("cost_header", model="gpt-4o-mini", value="abc")
    from langgraph_routing import RoutingPolicy

    policy = RoutingPolicy.default().model_dump()
    policy["models"].pop("gpt-4o-mini")
    policy["tasks"]["tool_select"]["model"] = "gpt-4o"
    policy["tasks"]["critique"]["model"] = "gpt-4o"
    policy["fallbacks"].pop("gpt-4o-mini")
    policy["context_upgrades"].pop("gpt-4o-mini")
    with cost_tracking(RoutingPolicy.from_dict(policy)) as costs:
        plain.invoke("hi")
    [entry] = costs.entries
    assert (entry.cost_usd, entry.source) == (None, "unknown")
    report = costs.report()
    assert report.unknown_calls == 1 and "unknown" in report.total_text


def test_stream_closed_early_is_cancelled_with_cost(gateway: LocalGateway, model: Any) -> None:
    with cost_tracking() as costs:
        stream = model.with_task("synthesize").stream("write a long answer please")
        next(stream)
        stream.close()
    [entry] = costs.entries
    assert entry.status == "cancelled"
    assert entry.cost_usd is not None and entry.cost_usd > 0
    assert entry.source == "estimate"
    assert entry.call_id == gateway.log[0].call_id


def test_replay_does_not_double_count(gateway: LocalGateway, model: Any) -> None:
    handler = CostCallbackHandler()
    reply = model.with_task("plan").invoke("x", config={"callbacks": [handler]})
    from langgraph_routing._ledger import entries_from_routing

    again = entries_from_routing(
        reply.response_metadata["routing"], reply.usage_metadata, fallback_id="x"
    )
    assert [handler.add(e) for e in again] == [False]
    assert handler.total_usd == gateway_total(gateway)


def test_thousand_concurrent_runs_are_exact_and_separate(gateway: LocalGateway, model: Any) -> None:
    tasks = ["plan", "tool_select", "synthesize", "critique", "tool_select"]

    async def one_run(i: int) -> str:
        async def body(_: Any) -> str:
            for t in tasks:
                await model.with_task(t).ainvoke(f"run {i} step {t}")
            return "ok"

        run_id = uuid.uuid4()  # the caller's run id becomes the root run id
        await RunnableLambda(body).ainvoke(None, config={"run_id": run_id})
        return str(run_id)

    async def main() -> list[str]:
        return await asyncio.gather(*(one_run(i) for i in range(1000)))

    with cost_tracking() as costs:
        run_ids = asyncio.run(main())
    assert len(gateway.log) == 5000
    by_user = gateway.spend_by_user()
    assert len(by_user) == 1000
    for run_id in run_ids:
        report = costs.report(run_id)
        assert report.calls == 5
        assert report.total_usd == math.fsum(
            r.cost_usd for r in gateway.log if r.user == f"agent-run:{run_id}" and r.cost_usd
        )
    assert costs.total_usd == gateway_total(gateway)


def test_run_budget_stops_before_the_third_call(gateway: LocalGateway, model: Any) -> None:
    probe = CostCallbackHandler()
    model.with_task("tool_select").invoke("step", max_tokens=40, config={"callbacks": [probe]})
    one_call = probe.total_usd
    gateway.reset()
    from langgraph_routing import RoutingPolicy
    from langgraph_routing._tokens import TokenCounter

    spec = RoutingPolicy.default().models["gpt-4o-mini"]
    # the reservation of one more call: its prompt at the input price + 40 output tokens
    reservation = spec.cost_usd(TokenCounter().count([HumanMessage("step")]).tokens, 40)
    budget = 2 * one_call + 0.99 * reservation  # room for two calls, not for a third

    def chain(_: Any) -> int:
        done = 0
        for _i in range(3):
            model.with_task("tool_select").invoke("step", max_tokens=40)
            done += 1
        return done

    handler = CostCallbackHandler(budget_usd=budget)
    with pytest.raises(BudgetExceededError) as info:
        RunnableLambda(chain).invoke(None, config={"callbacks": [handler]})
    assert info.value.scope == "run"
    assert len(gateway.log) == 2  # no third request reached the gateway
    assert handler.total_usd == gateway_total(gateway)


def test_report_breakdowns(gateway: LocalGateway, model: Any) -> None:
    with cost_tracking() as costs:
        for t in ("plan", "synthesize", "critique"):
            model.with_task(t).invoke("x")
    report = costs.report()
    assert set(report.by_task()) == {"plan", "synthesize", "critique"}
    assert set(report.by_model()) == {"o3-mini", "claude-3-5-sonnet-20241022", "gpt-4o-mini"}
    assert math.isclose(sum(report.by_model().values()), report.total_usd)
    assert isinstance(AIMessage("x"), AIMessage)


def test_handler_prices_the_model_an_unbound_node_will_use(gateway: LocalGateway) -> None:
    """A RoutingChatModel without a bound task, in a node named "plan", goes to o3-mini: the
    handler's reservation and entries must say so before the call is made."""
    model = init_routing_model(base_url=gateway.base_url, api_key=gateway.master_key)

    class S(TypedDict):
        messages: list[Any]

    def plan(state: S) -> S:
        return {"messages": [*state["messages"], model.invoke(state["messages"])]}

    g = StateGraph(S)
    g.add_node("plan", plan)
    g.add_edge(START, "plan")
    g.add_edge("plan", END)
    spec = RoutingPolicy.default().models["o3-mini"]
    prompt = [HumanMessage("plan it")]
    from langgraph_routing._tokens import TokenCounter

    floor = RoutingPolicy.default().budget.min_output_tokens
    o3_least = spec.cost_usd(TokenCounter().count(prompt).tokens, floor)
    handler = CostCallbackHandler(budget_usd=o3_least * 0.9)  # enough for gpt-4o-mini, not o3
    with pytest.raises(BudgetExceededError):
        g.compile().invoke({"messages": prompt}, config={"callbacks": [handler]})
    assert gateway.log == []


def test_nested_cost_tracking_blocks_both_see_inner_calls(
    gateway: LocalGateway, model: Any
) -> None:
    with cost_tracking() as outer:
        model.with_task("plan").invoke("first")
        with cost_tracking() as inner:
            model.with_task("critique").invoke("second")
    assert [e.model for e in inner.entries] == ["gpt-4o-mini"]
    assert [e.model for e in outer.entries] == ["o3-mini", "gpt-4o-mini"]
    assert outer.total_usd == gateway_total(gateway)


def test_openrouter_style_usage_cost_without_header() -> None:
    """A gateway that reports cost only as ``usage.cost`` in the JSON body (OpenRouter does)."""
    import json as _json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = _json.dumps(
        {
            "id": "gen-123",
            "object": "chat.completion",
            "created": 1,
            "model": "o3-mini",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "a plan"},
                }
            ],
            "usage": {
                "prompt_tokens": 10,
                "completion_tokens": 3,
                "total_tokens": 13,
                "cost": 0.000123,
            },
        }
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        model = init_routing_model(
            base_url=f"http://127.0.0.1:{server.server_address[1]}/v1", api_key="or-key"
        )
        with cost_tracking() as costs:
            reply = model.with_task("plan").invoke("plan")
    finally:
        server.shutdown()
        server.server_close()
    routing = reply.response_metadata["routing"]
    assert (routing["cost_usd"], routing["cost_source"], routing["call_id"]) == (
        0.000123,
        "usage",
        "gen-123",
    )
    [entry] = costs.entries
    assert (entry.cost_usd, entry.source, entry.call_id) == (0.000123, "usage", "gen-123")
