"""LocalGateway through the real openai SDK: bodies, headers, costs, streaming, listing."""

from __future__ import annotations

import json
import math
import uuid

import httpx
import openai
import pytest

from langgraph_routing.testing import LocalGateway

KEY = "sk-local-master"
HELLO = [{"role": "user", "content": "Say hello to the team"}]


@pytest.fixture
def client(gateway: LocalGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url, api_key=KEY, max_retries=0)


def test_non_streaming_body_headers_and_cost(gateway: LocalGateway, client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=HELLO)
    completion = raw.parse()
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    expected = usage.prompt_tokens * (0.15 / 1e6) + usage.completion_tokens * (0.60 / 1e6)
    assert float(raw.headers["x-litellm-response-cost"]) == expected
    assert raw.headers["x-litellm-response-cost"] == repr(expected)
    call_id = raw.headers["x-litellm-call-id"]
    assert uuid.UUID(call_id).version == 4
    assert completion.id == f"chatcmpl-{call_id}"
    assert raw.headers["x-litellm-model-group"] == "gpt-4o-mini"
    assert raw.headers["x-litellm-model-name"] == "gpt-4o-mini"
    assert raw.headers["x-litellm-model-id"]
    assert raw.headers["x-litellm-attempted-retries"] == "0"
    assert raw.headers["x-litellm-attempted-fallbacks"] == "0"
    assert float(raw.headers["x-litellm-key-spend"]) == pytest.approx(expected)
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.content
    (record,) = gateway.log
    assert record.call_id == call_id and record.status == 200 and record.cost_usd == expected
    assert gateway.total_spend == expected


def test_call_ids_are_unique_and_answers_deterministic(client: openai.OpenAI) -> None:
    raws = [
        client.chat.completions.with_raw_response.create(model="gpt-4o", messages=HELLO)
        for _ in range(3)
    ]
    assert len({r.headers["x-litellm-call-id"] for r in raws}) == 3
    contents = {r.parse().choices[0].message.content for r in raws}
    assert len(contents) == 1


def test_key_spend_header_accumulates(gateway: LocalGateway, client: openai.OpenAI) -> None:
    first = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=HELLO)
    second = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=HELLO)
    c1 = float(first.headers["x-litellm-response-cost"])
    c2 = float(second.headers["x-litellm-response-cost"])
    assert float(second.headers["x-litellm-key-spend"]) == pytest.approx(c1 + c2)
    assert gateway.spend_by_key() == {KEY: pytest.approx(c1 + c2)}
    assert gateway.total_spend == math.fsum([c1, c2])


def test_streaming_usage_chunk_carries_cost(gateway: LocalGateway, client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="claude-3-5-sonnet-20241022",
        messages=HELLO,
        stream=True,
        stream_options={"include_usage": True},
    )
    assert "x-litellm-response-cost" not in raw.headers
    assert raw.headers["x-litellm-model-group"] == "claude-3-5-sonnet-20241022"
    assert raw.headers["content-type"].startswith("text/event-stream")
    chunks = list(raw.parse())
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) >= 2
    finish = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finish == ["stop"]
    last = chunks[-1]
    assert last.usage is not None
    assert [ch.model_dump(exclude_none=True) for ch in last.choices] == [{"index": 0, "delta": {}}]
    cost = last.usage.model_extra["cost"]
    expected = last.usage.prompt_tokens * (3.0 / 1e6) + last.usage.completion_tokens * (15.0 / 1e6)
    assert cost == expected
    (record,) = gateway.log
    assert record.stream and record.cost_usd == expected
    non_stream = client.chat.completions.create(model="claude-3-5-sonnet-20241022", messages=HELLO)
    assert non_stream.choices[0].message.content == text


def test_stream_without_include_usage_has_no_usage_chunk(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=HELLO, stream=True))
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_raw_sse_framing(gateway: LocalGateway) -> None:
    body = {
        "model": "gpt-4o-mini",
        "messages": HELLO,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with httpx.Client() as http:
        response = http.post(
            gateway.base_url + "/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {KEY}"},
        )
    events = [e for e in response.text.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    payloads = [json.loads(e[len("data: ") :]) for e in events[:-1]]
    assert {p["object"] for p in payloads} == {"chat.completion.chunk"}
    assert payloads[-1]["choices"] == [{"index": 0, "delta": {}}]
    assert set(payloads[-1]["usage"]) == {
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "cost",
    }


def test_models_listing_and_health(gateway: LocalGateway, client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert ids == [
        "o3-mini",
        "gpt-4o-mini",
        "gpt-4o",
        "claude-3-5-sonnet-20241022",
        "claude-3-5-haiku-20241022",
    ]
    with httpx.Client() as http:
        assert http.get(gateway.url + "/health/liveliness").status_code == 200
        unversioned = http.post(
            gateway.url + "/chat/completions",
            json={"model": "gpt-4o", "messages": HELLO},
            headers={"Authorization": f"Bearer {KEY}"},
        )
        assert unversioned.status_code == 200
        assert http.get(gateway.url + "/nope").status_code == 404


def test_unknown_model_is_a_litellm_400(gateway: LocalGateway, client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-9", messages=HELLO)
    error = info.value.body
    assert isinstance(error, dict)
    assert "Invalid model name passed in model=gpt-9" in error["message"]
    assert error["code"] == "400"
    assert gateway.calls(status=400)[0].model == "gpt-9"


def test_request_headers_and_user_are_logged(gateway: LocalGateway, client: openai.OpenAI) -> None:
    client.chat.completions.create(
        model="gpt-4o-mini",
        messages=HELLO,
        user="alice",
        extra_headers={"x-litellm-tags": "plan,demo", "x-unrelated": "no"},
    )
    (record,) = gateway.log
    assert record.user == "alice"
    assert record.headers["x-litellm-tags"] == "plan,demo"
    assert record.headers["x-stainless-retry-count"] == "0"
    assert "x-unrelated" not in record.headers
    assert record.message_count == 1
    assert gateway.spend_by_user() == {"alice": record.cost_usd}


def test_max_tokens_cuts_the_answer(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, max_tokens=2)
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.completion_tokens <= 2


def test_prompt_tokens_grow_with_tools(client: openai.OpenAI) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "look a word up in the dictionary",
            "parameters": {"type": "object", "properties": {"word": {"type": "string"}}},
        },
    }
    plain = client.chat.completions.create(model="gpt-4o", messages=HELLO)
    with_tools = client.chat.completions.create(model="gpt-4o", messages=HELLO, tools=[tool])
    assert plain.usage is not None and with_tools.usage is not None
    assert with_tools.usage.prompt_tokens > plain.usage.prompt_tokens + 10


def test_bad_bodies_are_400_not_crashes(gateway: LocalGateway) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client() as http:
        url = gateway.base_url + "/chat/completions"
        assert http.post(url, content=b"{bad", headers=headers).status_code == 400
        empty = http.post(url, json={"model": "gpt-4o", "messages": []}, headers=headers)
        assert empty.status_code == 400 and empty.json()["error"]["param"] == "messages"
        odd = {"model": "gpt-4o", "messages": [1, {"role": "user", "content": [{"type": "x"}]}]}
        assert http.post(url, json=odd, headers=headers).status_code == 200
