"""Every fault kind of LocalGateway, its selection rules (model, key, nth, times) and its log."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import openai
import pytest
from langchain_core.exceptions import ContextOverflowError
from langchain_openai import ChatOpenAI

from langgraph_routing.testing import LocalGateway, VirtualKey

KEY = "sk-local-master"
MSG = [{"role": "user", "content": "Give me a long enough answer please"}]


@pytest.fixture
def client(gateway: LocalGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url, api_key=KEY, max_retries=0)


def ask(client: openai.OpenAI, model: str = "gpt-4o-mini", **kw: Any) -> Any:
    return client.chat.completions.with_raw_response.create(model=model, messages=MSG, **kw)


@pytest.mark.parametrize(
    ("params", "header", "value"),
    [
        ({"retry_after": 2}, "retry-after", "2"),
        ({"retry_after": 0.5}, "retry-after", "0.5"),
        ({"retry_after_ms": 250}, "retry-after-ms", "250"),
        ({"provider_retry_after": 7}, "llm_provider-retry-after", "7"),
        ({"provider_retry_after_ms": 1500}, "llm_provider-retry-after-ms", "1500"),
    ],
)
def test_rate_limit(
    gateway: LocalGateway, client: openai.OpenAI, params: dict[str, float], header: str, value: str
) -> None:
    gateway.add_fault("rate_limit", model="gpt-4o-mini", **params)
    with pytest.raises(openai.RateLimitError) as info:
        ask(client)
    response = info.value.response
    assert response.headers[header] == value
    others = {
        "retry-after",
        "retry-after-ms",
        "llm_provider-retry-after",
        "llm_provider-retry-after-ms",
    } - {header}
    assert not others & set(response.headers)
    assert isinstance(info.value.body, dict) and info.value.body["type"] == "throttling_error"
    assert info.value.body["code"] == "429"
    assert response.headers["x-litellm-call-id"]
    assert response.headers["x-litellm-response-cost"] == "0"  # as the proxy on errors
    assert ask(client).status_code == 200  # times=1 by default
    assert [(r.status, r.fault) for r in gateway.log] == [(429, "rate_limit"), (200, None)]
    assert gateway.log[0].cost_usd is None  # nothing charged
    assert gateway.total_spend == gateway.log[1].cost_usd


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_error(gateway: LocalGateway, client: openai.OpenAI, status: int) -> None:
    gateway.add_fault("server_error", status=status)
    with pytest.raises(openai.InternalServerError) as info:
        ask(client)
    assert info.value.status_code == status
    body = info.value.body
    assert isinstance(body, dict) and body["code"] == str(status) and "message" in body
    assert "param" in body and "type" in body
    assert gateway.calls(status=status)[0].fault == "server_error"


def test_hang_holds_one_request_without_blocking_others(
    gateway: LocalGateway, client: openai.OpenAI
) -> None:
    gateway.add_fault("hang", model="gpt-4o")
    results: list[int] = []
    worker = threading.Thread(target=lambda: results.append(ask(client, "gpt-4o").status_code))
    worker.start()
    assert gateway.wait_for_held(1, timeout=10)
    assert ask(client, "gpt-4o-mini").status_code == 200  # not blocked
    assert results == []
    gateway.release_holds()
    worker.join(timeout=10)
    assert results == [200]
    assert gateway.log[-1].fault == "hang" and gateway.log[-1].model == "gpt-4o"


def test_hang_times_out_the_client(gateway: LocalGateway) -> None:
    gateway.add_fault("hang", seconds=30)
    slow = openai.OpenAI(base_url=gateway.base_url, api_key=KEY, max_retries=0, timeout=0.2)
    with pytest.raises(openai.APITimeoutError):
        ask(slow)
    assert gateway.wait_for_held(1, timeout=1)
    gateway.release_holds()


def test_wait_for_held_times_out_when_nothing_is_held(gateway: LocalGateway) -> None:
    assert gateway.wait_for_held(1, timeout=0.01) is False


def test_drop_closes_the_connection(gateway: LocalGateway, client: openai.OpenAI) -> None:
    gateway.add_fault("drop")
    with pytest.raises(openai.APIConnectionError):
        ask(client)
    assert ask(client).status_code == 200
    assert [(r.status, r.fault) for r in gateway.log] == [(0, "drop"), (200, None)]


def test_truncate_stream(gateway: LocalGateway, client: openai.OpenAI) -> None:
    gateway.add_fault("truncate_stream")
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=MSG, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks and all(c.usage is None for c in chunks)
    assert all(c.choices[0].finish_reason is None for c in chunks)
    assert gateway.log[0].fault == "truncate_stream"
    with httpx.Client() as http:
        gateway.add_fault("truncate_stream")
        body = {"model": "gpt-4o", "messages": MSG, "stream": True}
        text = http.post(
            gateway.base_url + "/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {KEY}"},
        ).text
    assert "[DONE]" not in text and text.startswith("data: ")


def test_truncated_stream_through_chat_openai(gateway: LocalGateway) -> None:
    gateway.add_fault("truncate_stream")
    model = ChatOpenAI(model="gpt-4o", base_url=gateway.base_url, api_key=KEY, max_retries=0)  # type: ignore[arg-type]
    full = "".join(str(c.content) for c in model.stream("tell me something"))
    complete = model.invoke("tell me something").content
    assert full and len(full) < len(str(complete))


def test_malformed_json(gateway: LocalGateway, client: openai.OpenAI) -> None:
    gateway.add_fault("malformed_json")
    with httpx.Client() as http:
        response = http.post(
            gateway.base_url + "/chat/completions",
            json={"model": "gpt-4o-mini", "messages": MSG},
            headers={"authorization": f"Bearer {KEY}"},
        )
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    assert gateway.log[0].fault == "malformed_json" and gateway.log[0].status == 200


def test_missing_usage(gateway: LocalGateway, client: openai.OpenAI) -> None:
    gateway.add_fault("missing_usage", times=2)
    assert ask(client).parse().usage is None
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini", messages=MSG, stream=True, stream_options={"include_usage": True}
        )
    )
    assert all(c.usage is None for c in chunks) and chunks[-1].choices[0].finish_reason == "stop"
    assert [r.fault for r in gateway.log] == ["missing_usage", "missing_usage"]
    assert all(r.cost_usd is not None for r in gateway.log)  # still charged


@pytest.mark.parametrize("value", ["abc", "-1", "nan", None])
def test_cost_header(gateway: LocalGateway, client: openai.OpenAI, value: str | None) -> None:
    gateway.add_fault("cost_header", value=value)
    raw = ask(client)
    assert raw.headers.get("x-litellm-response-cost") == value
    assert gateway.log[0].fault == "cost_header"
    assert float(ask(client).headers["x-litellm-response-cost"]) > 0


def test_cost_header_fault_on_stream_changes_usage_cost(
    gateway: LocalGateway, client: openai.OpenAI
) -> None:
    gateway.add_fault("cost_header", value="abc")
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini", messages=MSG, stream=True, stream_options={"include_usage": True}
        )
    )
    usage = chunks[-1].usage
    assert usage is not None and usage.model_extra == {"cost": "abc"}


def test_context_overflow_fault_raises_context_overflow_error(gateway: LocalGateway) -> None:
    gateway.add_fault("context_overflow", model="gpt-4o-mini")
    model = ChatOpenAI(
        model="gpt-4o-mini",
        base_url=gateway.base_url,
        api_key=KEY,
        max_retries=0,  # type: ignore[arg-type]
    )
    with pytest.raises(ContextOverflowError) as info:
        model.invoke("short")
    assert "ContextWindowExceededError" in str(info.value)
    assert gateway.log[0].status == 400 and gateway.log[0].fault == "context_overflow"


def test_budget_exceeded_fault(gateway: LocalGateway, client: openai.OpenAI) -> None:
    gateway.add_fault("budget_exceeded")
    with pytest.raises(openai.UnprocessableEntityError) as info:
        ask(client)
    body = info.value.body
    assert isinstance(body, dict) and body["type"] == "budget_exceeded" and body["code"] == "422"
    assert body["message"].startswith("Budget has been exceeded! Key=")


def test_auth_error_fault(gateway: LocalGateway, client: openai.OpenAI) -> None:
    gateway.add_fault("auth_error", model="o3-mini")
    assert ask(client, "gpt-4o").status_code == 200
    with pytest.raises(openai.AuthenticationError) as info:
        ask(client, "o3-mini")
    assert isinstance(info.value.body, dict) and info.value.body["type"] == "auth_error"
    assert KEY not in str(info.value.body)


def test_nth_counts_matching_calls_only(gateway: LocalGateway, client: openai.OpenAI) -> None:
    fault = gateway.add_fault("server_error", model="gpt-4o", nth=2, times=2)
    statuses = []
    for model in ["gpt-4o", "gpt-4o-mini", "gpt-4o", "gpt-4o", "gpt-4o-mini", "gpt-4o"]:
        try:
            statuses.append(ask(client, model).status_code)
        except openai.InternalServerError as exc:
            statuses.append(exc.status_code)
    assert statuses == [200, 200, 500, 500, 200, 200]
    assert fault.fired == 2 and fault.exhausted


def test_times_none_is_forever_and_clear_faults(
    gateway: LocalGateway, client: openai.OpenAI
) -> None:
    gateway.add_fault("server_error", times=None, status=503)
    for _ in range(3):
        with pytest.raises(openai.InternalServerError):
            ask(client)
    gateway.clear_faults()
    assert ask(client).status_code == 200


def test_fault_per_key(make_gateway: Any) -> None:
    gw = make_gateway(keys=[VirtualKey("sk-planner", alias="planner"), VirtualKey("sk-critic")])
    gw.add_fault("server_error", key="sk-critic", times=None)
    planner = openai.OpenAI(base_url=gw.base_url, api_key="sk-planner", max_retries=0)
    critic = openai.OpenAI(base_url=gw.base_url, api_key="sk-critic", max_retries=0)
    assert ask(planner).status_code == 200
    with pytest.raises(openai.InternalServerError):
        ask(critic)
    assert [r.key_alias for r in gw.log] == ["planner", gw.log[1].key_alias]
    assert gw.log[1].key_alias.startswith("sha256:")
    assert "sk-critic" not in repr(gw.faults)


def test_first_due_rule_wins_and_reset_clears(gateway: LocalGateway, client: openai.OpenAI) -> None:
    gateway.add_fault("server_error", status=502)
    gateway.add_fault("rate_limit")
    with pytest.raises(openai.InternalServerError):
        ask(client)
    gateway.reset()
    assert gateway.log == [] and gateway.faults == [] and gateway.total_spend == 0
    assert ask(client).status_code == 200
