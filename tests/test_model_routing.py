"""RoutingChatModel against LocalGateway: routing per task, upgrades and the failure table.

Each test proves what happened from the gateway's request log.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel

from langgraph_routing import (
    AgentTask,
    BudgetExceededError,
    ContextTooLargeError,
    MissingKeyError,
    RoutesExhaustedError,
    RoutingPolicy,
    init_routing_model,
)
from langgraph_routing.testing import LocalGateway


@pytest.fixture
def model(gateway: LocalGateway) -> Any:
    return init_routing_model(base_url=gateway.base_url, api_key=gateway.master_key)


@tool
def add(a: float, b: float) -> float:
    """Add two numbers a and b."""
    return a + b


def test_four_node_graph_sends_each_node_to_its_policy_model(
    gateway: LocalGateway, model: Any
) -> None:
    class S(TypedDict):
        messages: list[Any]

    def node(state: S) -> S:
        reply = model.invoke(state["messages"])
        return {"messages": [*state["messages"], reply]}

    g = StateGraph(S)
    order = ["plan", "tool_select", "synthesize", "critique"]
    for name in order:
        g.add_node(name, node)
    g.add_edge(START, order[0])
    for a, b in itertools.pairwise(order):
        g.add_edge(a, b)
    g.add_edge(order[-1], END)
    out = g.compile().invoke({"messages": [HumanMessage("Plan a trip to Kyoto")]})

    policy = RoutingPolicy.default()
    expected = [policy.tasks[AgentTask(n)].model for n in order]
    assert [r.model for r in gateway.log] == expected
    routed = [m.response_metadata["routing"] for m in out["messages"] if isinstance(m, AIMessage)]
    assert [r["task"] for r in routed] == order
    assert [r["node"] for r in routed] == order
    run_ids = {r["run_id"] for r in routed}
    assert len(run_ids) == 1 and None not in run_ids
    # every request carried the run id, the tags and the spend-logs metadata
    for rec, name in zip(gateway.log, order, strict=True):
        assert rec.user == f"agent-run:{next(iter(run_ids))}"
        assert f"task:{name}" in rec.headers["x-litellm-tags"]
        assert json.loads(rec.headers["x-litellm-spend-logs-metadata"])["node"] == name
        assert rec.headers["x-litellm-include-cost-in-streaming-usage"] == "true"


def test_task_resolution_order(gateway: LocalGateway, model: Any) -> None:
    model.with_task("synthesize").invoke("a", config={"metadata": {"routing_task": "plan"}})
    model.invoke("b", config={"metadata": {"routing_task": "plan"}})
    model.invoke("c")  # default_task
    assert [r.model for r in gateway.log] == [
        "claude-3-5-sonnet-20241022",
        "o3-mini",
        "gpt-4o-mini",
    ]


def test_prompt_past_window_goes_to_upgrade_before_any_request(
    gateway: LocalGateway, model: Any
) -> None:
    big = "word " * 110_000  # ~110k tokens: over 80% of gpt-4o-mini's 128k window
    reply = model.with_task("tool_select").invoke(big)
    assert [r.model for r in gateway.log] == ["gpt-4o"]
    routing = reply.response_metadata["routing"]
    assert routing["requested_model"] == "gpt-4o"
    assert "gpt-4o-mini" in routing["reason"] and routing["prompt_tokens"] > 100_000


def test_nothing_fits_raises_context_too_large_without_request(
    gateway: LocalGateway, model: Any
) -> None:
    with pytest.raises(ContextTooLargeError) as info:
        model.with_task("tool_select").invoke("word " * 130_000)
    assert gateway.log == []
    assert "gpt-4o" in str(info.value)


def test_gateway_overflow_answer_retries_once_on_upgrade(gateway: LocalGateway, model: Any) -> None:
    gateway.add_fault("context_overflow", model="gpt-4o-mini")
    reply = model.with_task("tool_select").invoke("short question")
    assert [(r.model, r.status) for r in gateway.log] == [("gpt-4o-mini", 400), ("gpt-4o", 200)]
    attempts = reply.response_metadata["routing"]["attempts"]
    assert [a["error_kind"] for a in attempts] == ["context_overflow", None]


def test_rate_limit_waits_retry_after_then_succeeds_on_same_model(
    gateway: LocalGateway, model: Any
) -> None:
    gateway.add_fault("rate_limit", model="o3-mini", retry_after=1)
    started = time.monotonic()
    reply = model.with_task("plan").invoke("plan it")
    elapsed = time.monotonic() - started
    assert [(r.model, r.status) for r in gateway.log] == [("o3-mini", 429), ("o3-mini", 200)]
    assert elapsed >= 1.0
    first = reply.response_metadata["routing"]["attempts"][0]
    assert first["error_kind"] == "rate_limit" and first["waited_s"] == 1


def test_provider_retry_after_header_is_honoured(gateway: LocalGateway, model: Any) -> None:
    gateway.add_fault("rate_limit", model="o3-mini", provider_retry_after=0.2)
    reply = model.with_task("plan").invoke("plan it")
    assert len(gateway.log) == 2
    assert reply.response_metadata["routing"]["attempts"][0]["waited_s"] == pytest.approx(0.2)


def test_server_error_falls_back_with_tools(gateway: LocalGateway, model: Any) -> None:
    gateway.add_fault("server_error", model="gpt-4o-mini", status=503)
    reply = model.with_task("tool_select").bind_tools([add]).invoke("add 2 and 3")
    assert [(r.model, r.status) for r in gateway.log] == [
        ("gpt-4o-mini", 503),
        ("claude-3-5-haiku-20241022", 200),
    ]
    assert list(gateway.log[1].tools) == ["add"]
    assert reply.tool_calls and reply.tool_calls[0]["name"] == "add"
    assert reply.response_metadata["routing"]["model"] == "claude-3-5-haiku-20241022"


def test_budget_exceeded_raises_after_one_request(gateway: LocalGateway, model: Any) -> None:
    gateway.add_fault("budget_exceeded", model="o3-mini")
    with pytest.raises(BudgetExceededError) as info:
        model.with_task("plan").invoke("plan")
    assert len(gateway.log) == 1
    assert info.value.scope == "gateway"
    assert info.value.status_code == 422


def test_auth_error_raises_after_one_request(gateway: LocalGateway) -> None:
    bad = init_routing_model(base_url=gateway.base_url, api_key="sk-wrong-key")
    with pytest.raises(Exception) as info:
        bad.with_task("plan").invoke("plan")
    assert len(gateway.log) == 1 and gateway.log[0].status == 401
    assert "sk-wrong-key" not in str(info.value)


def test_all_candidates_failed_lists_every_attempt(gateway: LocalGateway, model: Any) -> None:
    gateway.add_fault("server_error", model="o3-mini", status=500, times=None)
    gateway.add_fault("server_error", model="claude-3-5-sonnet-20241022", status=502, times=None)
    with pytest.raises(RoutesExhaustedError) as info:
        model.with_task("plan").invoke("plan")
    assert [(a["model"], a["status"]) for a in info.value.attempts] == [
        ("o3-mini", 500),
        ("claude-3-5-sonnet-20241022", 502),
    ]
    assert len(gateway.log) == 2


def test_truncated_stream_falls_back(gateway: LocalGateway, model: Any) -> None:
    gateway.add_fault("truncate_stream", model="o3-mini")
    chunks = list(model.with_task("plan").stream("plan a trip"))
    final = chunks[0]
    for c in chunks[1:]:
        final = final + c
    assert [r.model for r in gateway.log] == ["o3-mini", "claude-3-5-sonnet-20241022"]
    assert final.response_metadata["routing"]["model"] == "claude-3-5-sonnet-20241022"


def test_role_keys_read_at_call_time(
    gateway: LocalGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = RoutingPolicy.default().model_dump()
    policy["roles"] = {"planner": {"api_key_env": "TEST_ROUTING_KEY_PLANNER"}}
    policy["tasks"]["plan"]["role"] = "planner"
    model = init_routing_model(policy, base_url=gateway.base_url, api_key=gateway.master_key)
    monkeypatch.delenv("TEST_ROUTING_KEY_PLANNER", raising=False)
    with pytest.raises(MissingKeyError, match="TEST_ROUTING_KEY_PLANNER"):
        model.with_task("plan").invoke("x")
    assert gateway.log == []
    monkeypatch.setenv("TEST_ROUTING_KEY_PLANNER", str(gateway.master_key))
    reply = model.with_task("plan").invoke("x")
    assert reply.response_metadata["routing"]["role"] == "planner"


class Answer(BaseModel):
    city: str
    days: int


@pytest.mark.parametrize("method", ["function_calling", "json_schema"])
def test_structured_output(gateway: LocalGateway, model: Any, method: str) -> None:
    result = (
        model.with_task("synthesize")
        .with_structured_output(Answer, method=method)
        .invoke("Kyoto for 3 days")
    )
    assert isinstance(result, Answer)
    assert len(gateway.log) == 1


def test_async_stream_batch_and_repeated_asyncio_run(gateway: LocalGateway, model: Any) -> None:
    async def go() -> list[Any]:
        a = await model.with_task("plan").ainvoke("one")
        chunks = [c async for c in model.with_task("critique").astream("two")]
        return [a, chunks]

    for _ in range(3):
        a, chunks = asyncio.run(go())
        assert a.response_metadata["routing"]["model"] == "o3-mini"
        assert len(chunks) > 1
    replies = model.with_task("plan").batch(["x", "y", "z"])
    assert all(r.response_metadata["routing"]["task"] == "plan" for r in replies)
    assert len(gateway.log) == 3 * 2 + 3


def test_secrets_never_in_repr_metadata_or_errors(
    gateway: LocalGateway, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = str(gateway.master_key)
    model = init_routing_model(base_url=gateway.base_url, api_key=secret)
    reply = model.with_task("plan").invoke("hello")
    assert secret not in repr(model) and secret not in str(model)
    assert secret not in json.dumps(model.model_dump(), default=str)
    assert secret not in json.dumps(reply.response_metadata, default=str)
    gateway.add_fault("server_error", model="o3-mini", status=500, times=None)
    gateway.add_fault("server_error", model="claude-3-5-sonnet-20241022", status=500, times=None)
    with pytest.raises(RoutesExhaustedError) as info:
        model.with_task("plan").invoke("hello")
    assert secret not in str(info.value) and secret not in repr(info.value.attempts)
    assert secret not in caplog.text


def test_virtual_key_budget_names_the_key(make_gateway: Any) -> None:
    from langgraph_routing.testing import VirtualKey, hash_key

    gw = make_gateway(keys=[VirtualKey("sk-team-a", max_budget=0.0001)])
    model = init_routing_model(base_url=gw.base_url, api_key="sk-team-a")
    with pytest.raises(BudgetExceededError) as info:
        model.with_task("plan").invoke("plan")  # o3-mini's worst case is over the budget
    assert len(gw.log) == 1 and gw.log[0].status == 422
    assert info.value.scope == "gateway"
    assert info.value.entity == f"key={hash_key('sk-team-a')}"
    assert info.value.budget_usd == 0.0001
    assert "sk-team-a" not in str(info.value)


def test_model_of_create_agent(gateway: LocalGateway, model: Any) -> None:
    from langchain.agents import create_agent

    agent = create_agent(model, tools=[add])
    out = agent.invoke({"messages": [HumanMessage("add 2 and 3")]})
    assert [r.model for r in gateway.log] == ["gpt-4o-mini", "gpt-4o-mini"]  # default_task
    assert any(isinstance(m, AIMessage) and m.tool_calls for m in out["messages"])
    assert "5" in out["messages"][-1].content
    routed = [m.response_metadata["routing"] for m in out["messages"] if isinstance(m, AIMessage)]
    assert [r["node"] for r in routed] == ["model", "model"]


def test_hang_past_timeout_and_dropped_connection_fall_back(gateway: LocalGateway) -> None:
    model = init_routing_model(base_url=gateway.base_url, api_key=gateway.master_key, timeout=0.5)
    gateway.add_fault("hang", model="o3-mini", seconds=30)
    try:
        reply = model.with_task("plan").invoke("plan")
    finally:
        gateway.release_holds()
    attempts = reply.response_metadata["routing"]["attempts"]
    assert [(a["model"], a["error_kind"]) for a in attempts] == [
        ("o3-mini", "transient"),
        ("claude-3-5-sonnet-20241022", None),
    ]
    gateway.reset()
    gateway.add_fault("drop", model="gpt-4o-mini")
    reply = model.with_task("tool_select").invoke("pick a tool")
    assert [r.model for r in gateway.log][-1] == "claude-3-5-haiku-20241022"
    assert reply.response_metadata["routing"]["attempts"][0]["error_kind"] == "transient"


def test_truncated_stream_delivers_only_the_fallbacks_answer(gateway: LocalGateway) -> None:
    model = init_routing_model(base_url=gateway.base_url, api_key=gateway.master_key)
    gateway.add_fault("truncate_stream", model="o3-mini")
    chunks = list(model.with_task("plan").stream("plan a trip to Kyoto"))
    merged = chunks[0]
    for c in chunks[1:]:
        merged = merged + c
    direct = model.with_task("plan").invoke(
        "plan a trip to Kyoto", model="claude-3-5-sonnet-20241022"
    )
    assert merged.content == direct.content  # no partial output of the failed attempt
    routing = merged.response_metadata["routing"]
    assert [a["error_kind"] for a in routing["attempts"]] == ["transient", None]
    assert routing["call_id"] == gateway.log[1].call_id


def test_live_stream_interrupted_is_not_duplicated(gateway: LocalGateway) -> None:
    from langgraph_routing import StreamInterruptedError

    live = init_routing_model(base_url=gateway.base_url, api_key=gateway.master_key).model_copy(
        update={"stream_buffering": "none"}
    )
    gateway.add_fault("truncate_stream", model="o3-mini")
    received = []
    with pytest.raises(StreamInterruptedError) as info:
        for chunk in live.with_task("plan").stream("plan a trip"):
            received.append(chunk)
    assert received and info.value.model == "o3-mini"
    assert [r.model for r in gateway.log] == ["o3-mini"]  # no fallback after delivered output


def test_client_settings_owned_by_routing_are_refused() -> None:
    for key in ("max_retries", "model", "include_response_headers"):
        with pytest.raises(ValueError, match=key):
            init_routing_model(base_url="http://127.0.0.1:9/v1", api_key="x", **{key: 1})


def test_failed_attempts_reach_the_ledger_when_the_call_raises(
    gateway: LocalGateway, model: Any
) -> None:
    from langgraph_routing import cost_tracking

    gateway.add_fault("server_error", model="o3-mini", status=503)
    gateway.add_fault("budget_exceeded", model="claude-3-5-sonnet-20241022")
    with cost_tracking() as costs, pytest.raises(BudgetExceededError) as info:
        model.with_task("plan").invoke("plan")
    assert [(a["model"], a["status"]) for a in info.value.routing["attempts"]] == [  # type: ignore[attr-defined]
        ("o3-mini", 503),
        ("claude-3-5-sonnet-20241022", 422),
    ]
    assert [(e.model, e.status) for e in costs.entries] == [
        ("o3-mini", "error"),
        ("claude-3-5-sonnet-20241022", "error"),
    ]
    assert [e.call_id for e in costs.entries] == [r.call_id for r in gateway.log]


def test_key_echoed_by_a_gateway_is_scrubbed() -> None:
    from langgraph_routing._secrets import scrub_chain

    class Echo(Exception):
        def __init__(self, message: str) -> None:
            super().__init__(message)
            self.message = message
            self.body = {"error": {"message": message}}

    exc = Echo("LiteLLM Virtual Key expected. Received=sk-very-secret-key")
    scrub_chain(exc, "sk-very-secret-key")
    assert "sk-very-secret-key" not in str(exc) + exc.message + repr(exc.body)
    assert "Received=***" in str(exc)


class _EchoKey(BaseHTTPRequestHandler):
    """A hostile gateway: answers with the caller's key in the error message."""

    status = 401
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        key = str(self.headers.get("authorization", "")).removeprefix("Bearer ")
        body = json.dumps(
            {"error": {"message": f"invalid key {key}", "type": "auth_error", "code": "401"}}
        ).encode()
        self.send_response(self.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize("status", [401, 500])
def test_an_echoed_key_is_nowhere_in_the_error_chain(status: int) -> None:
    import threading
    import traceback

    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.tracers.base import BaseTracer

    handler_cls = type("Echo", (_EchoKey,), {"status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    secret = "sk-echoed-" + "x" * 24
    seen: list[str] = []
    runs: list[Any] = []

    class Errors(BaseCallbackHandler):
        def on_llm_error(self, error: BaseException, **kwargs: Any) -> None:
            seen.append("".join(traceback.format_exception(error)) + repr(error))

    class Keep(BaseTracer):
        def _persist_run(self, run: Any) -> None:
            runs.append(run)

    try:
        model = init_routing_model(
            base_url=f"http://127.0.0.1:{server.server_address[1]}/v1", api_key=secret
        )
        with pytest.raises(Exception) as info:
            model.with_task("plan").invoke("hi", {"callbacks": [Errors(), Keep()]})
    finally:
        server.shutdown()
    text = "".join(traceback.format_exception(info.value))
    chain: list[BaseException] = []
    node: BaseException | None = info.value
    while node is not None:
        chain.append(node)
        node = node.__cause__ or node.__context__
    assert len(chain) >= 2  # the openai error is chained, and scrubbed too
    assert "***" in text and secret not in text
    for exc in chain:
        for holder in (getattr(exc, "request", None), getattr(exc, "response", None)):
            if holder is not None:
                assert secret not in str(dict(getattr(holder, "headers", {}) or {}))
    assert seen and all(secret not in s for s in seen)
    assert runs and all(secret not in json.dumps(r.dict(), default=str) for r in runs)


def test_token_counting_methods_are_offline() -> None:
    from langchain_core.messages.utils import trim_messages

    model = init_routing_model(base_url="http://127.0.0.1:9/v1", api_key="x")
    assert model.get_num_tokens("hello world") == 2
    assert model.get_token_ids("hello world") == [15339, 1917]
    history = [HumanMessage(f"message number {i}") for i in range(20)]
    assert model.get_num_tokens_from_messages(history) > model.get_num_tokens_from_messages(
        history[:5]
    )
    trimmed = trim_messages(history, max_tokens=40, token_counter=model, strategy="last")
    assert 0 < len(trimmed) < 20


def test_token_counts_reuse_work_but_never_go_stale() -> None:
    """The per-call counts are cached (the same history, the same bound tool list), and a
    changed history or a tool list grown in place is counted again."""
    from langgraph_routing._tokens import TokenCounter

    counter = TokenCounter()
    tools = [{"type": "function", "function": {"name": "add", "parameters": {}}}]
    history = [HumanMessage("what is 2 + 2?")]
    first = counter.count(history, "gpt-4o-mini", tools).tokens
    assert counter.count(list(history), "gpt-4o-mini", tools).tokens == first
    tools.append({"type": "function", "function": {"name": "multiply", "parameters": {}}})
    with_two = counter.count(history, "gpt-4o-mini", tools).tokens
    assert with_two > first
    history.append(AIMessage("4"))
    assert counter.count(history, "gpt-4o-mini", tools).tokens > with_two
    assert counter.count(history[:1], "gpt-4o-mini", tools).tokens == with_two


def test_request_extras_are_shared_by_a_runs_steps_but_not_across_runs() -> None:
    from langgraph_routing._context import CallContext

    one = CallContext(run_id="r1", node="agent", step=1).request_extras("plan")
    two = CallContext(run_id="r1", node="agent", step=7).request_extras("plan")
    other = CallContext(run_id="r2", node="agent", step=1).request_extras("plan")
    assert one == two and one[1] is not two[1]  # equal, and each call gets its own headers
    assert (
        other[0] == "agent-run:r2" and '"run_id":"r2"' in other[1]["x-litellm-spend-logs-metadata"]
    )


def test_malformed_json_body_falls_back(gateway: LocalGateway, model: Any) -> None:
    gateway.add_fault("malformed_json", model="o3-mini")
    reply = model.with_task("plan").invoke("plan")
    attempts = reply.response_metadata["routing"]["attempts"]
    assert [(a["model"], a["error_kind"]) for a in attempts] == [
        ("o3-mini", "transient"),
        ("claude-3-5-sonnet-20241022", None),
    ]
    assert [r.model for r in gateway.log] == ["o3-mini", "claude-3-5-sonnet-20241022"]


def test_answers_are_read_as_json_and_equal_chatopenais(
    gateway: LocalGateway, model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A non-streamed answer is read as its JSON object (ChatOpenAI takes dicts), not built
    into the SDK's ChatCompletion and dumped back (half a millisecond a call): the SDK's
    parse() is never called for it, sync or async, and the message is ChatOpenAI's own."""
    from langchain_openai import ChatOpenAI
    from openai._legacy_response import LegacyAPIResponse

    parsed: list[object] = []
    original = LegacyAPIResponse.parse

    def counting(self: Any, **kwargs: Any) -> Any:
        parsed.append(self)
        return original(self, **kwargs)

    monkeypatch.setattr(LegacyAPIResponse, "parse", counting)

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    plain = ChatOpenAI(
        model="gpt-4o-mini", base_url=gateway.base_url, api_key=gateway.master_key, max_retries=0
    )

    def answers(chat: Any) -> list[Any]:
        bound = chat.bind_tools([add], tool_choice="required")
        parsed.clear()
        return [bound.invoke("add 2 and 3"), asyncio.run(bound.ainvoke("add 2 and 3"))]

    plain_answer = answers(plain)[0]
    assert len(parsed) == 2  # ChatOpenAI: the SDK's model, built once per answer
    routed_answer = answers(model.with_task("tool_select"))[0]
    assert parsed == []
    assert routed_answer.tool_calls == plain_answer.tool_calls != []
    assert routed_answer.additional_kwargs == plain_answer.additional_kwargs
    assert routed_answer.usage_metadata == plain_answer.usage_metadata
    assert routed_answer.content == plain_answer.content
    assert routed_answer.response_metadata.keys() - {"routing", "headers"} == (
        plain_answer.response_metadata.keys()
    )
    parsed.clear()
    assert list(model.with_task("tool_select").stream("hi"))
    assert len(parsed) == 1  # streams go through the SDK's own path


def test_clients_speak_the_openai_sdks_own_http_library(gateway: LocalGateway, model: Any) -> None:
    """openai 3.x runs on httpx2 and converts every request and response of a plain httpx
    client; ours are built on the library its default client uses, sync and async."""
    import openai

    sdk_client = next(
        c for c in openai.DefaultHttpxClient.__mro__ if c.__name__ == "Client" and c is not object
    )
    sdk_async = next(
        c for c in openai.DefaultAsyncHttpxClient.__mro__ if c.__name__ == "AsyncClient"
    )
    assert model.invoke("hi").content
    assert asyncio.run(model.ainvoke("hi")).content
    sync_http = model._pool.sync_client("gpt-4o-mini", gateway.master_key).root_client._client
    assert isinstance(sync_http, sdk_client), type(sync_http).__mro__
    (async_client,) = [
        c for per_loop in model._pool._async.values() for c in per_loop.values()
    ] or [None]
    if async_client is not None:  # the loop of asyncio.run is gone; its clients may be too
        assert isinstance(async_client.root_async_client._client, sdk_async)
    assert [r.status for r in gateway.log] == [200, 200]


def test_a_streamed_structured_answer_is_planned_once_under_a_budget(
    gateway: LocalGateway, model: Any
) -> None:
    """A streamed json_schema answer is sent whole (its headers carry the cost). It used to be
    planned twice: the first plan took the budget's grant, so the request went out uncapped."""
    from langgraph_routing import CostCallbackHandler

    class Answer(BaseModel):
        city: str

    handler = CostCallbackHandler(budget_usd=0.001)
    structured = model.with_task("tool_select").with_structured_output(Answer)
    chunks = list(structured.stream("Capital of France?", {"callbacks": [handler]}))
    assert chunks and isinstance(chunks[-1], Answer)
    (request,) = gateway.log
    assert request.response_format == "json_schema"
    assert request.max_tokens is not None and request.max_tokens < 4096  # the grant's cap
    assert handler.reserved_usd() == 0.0 and len(handler.entries) == 1
