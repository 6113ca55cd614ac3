"""Virtual keys (budget 422, rpm 429, 401), spend accounting and the context window 400."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import openai
import pytest
from langchain_core.exceptions import ContextOverflowError
from langchain_openai import ChatOpenAI

from langgraph_routing.testing import GatewayModel, LocalGateway, VirtualKey

MSG = [{"role": "user", "content": "What is the plan for today?"}]


def client(gw: LocalGateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url, api_key=key, max_retries=0)


def ask(c: openai.OpenAI, model: str = "gpt-4o-mini", **kw: Any) -> Any:
    return c.chat.completions.with_raw_response.create(model=model, messages=MSG, **kw)


def test_budget_is_checked_before_the_call_with_worst_case(make_gateway: Any) -> None:
    gw = make_gateway(keys=[VirtualKey("sk-team", max_budget=0.001, alias="team")])
    team = client(gw, "sk-team")
    # gpt-4o-mini: 5,000 output tokens at $0.60/M = $0.003 worst case > $0.001 budget.
    with pytest.raises(openai.UnprocessableEntityError) as info:
        ask(team, max_tokens=5000)
    body = info.value.body
    digest = hashlib.sha256(b"sk-team").hexdigest()
    worst = gw.models["gpt-4o-mini"].cost(gw.log[0].prompt_tokens, 5000)
    assert body == {
        "message": f"Budget has been exceeded! Key={digest} Current cost: {worst}, Max budget: 0.001",
        "type": "budget_exceeded",
        "param": None,
        "code": "422",
    }
    assert info.value.status_code == 422
    assert gw.total_spend == 0.0
    # Small max_tokens fits; calls are charged until the next worst case no longer fits.
    spent = 0.0
    for _ in range(200):
        try:
            raw = ask(team, model="gpt-4o", max_tokens=10)
        except openai.UnprocessableEntityError as exc:
            match = re.search(r"Current cost: ([0-9.e-]+), Max budget: 0.001", exc.body["message"])  # type: ignore[index]
            projected = spent + gw.models["gpt-4o"].cost(gw.log[-1].prompt_tokens, 10)
            assert match and float(match.group(1)) == pytest.approx(projected)
            assert projected > 0.001
            break
        spent += float(raw.headers["x-litellm-response-cost"])
    else:
        pytest.fail("budget never enforced")
    assert spent <= 0.001
    assert gw.spend_by_key() == {"sk-team": pytest.approx(spent)}
    assert gw.log[-1].status == 422 and gw.log[-1].key_alias == "team"


def test_budget_mode_spend_admits_until_spend_reaches_budget(make_gateway: Any) -> None:
    gw = make_gateway(keys=[VirtualKey("sk-tiny", max_budget=1e-9)], budget_mode="spend")
    tiny = client(gw, "sk-tiny")
    assert ask(tiny, model="o3-mini").status_code == 200  # worst case ignored, spend 0 < budget
    with pytest.raises(openai.UnprocessableEntityError) as info:
        ask(tiny)
    spend = gw.spend_by_key()["sk-tiny"]
    assert f"Current cost: {spend}, Max budget: 1e-09" in str(info.value.body)
    with pytest.raises(ValueError, match="budget_mode must be 'worst_case' or 'spend'"):
        LocalGateway(budget_mode="strict")


def test_default_worst_case_uses_model_max_output(make_gateway: Any) -> None:
    # o3-mini: 100,000 max output tokens x $4.40/M = $0.44 worst case.
    gw = make_gateway(keys=[VirtualKey("sk-small", max_budget=0.1)])
    with pytest.raises(openai.UnprocessableEntityError):
        ask(client(gw, "sk-small"), model="o3-mini")
    assert (
        ask(client(gw, "sk-small"), model="o3-mini", max_completion_tokens=100).status_code == 200
    )


def test_master_key_is_unlimited(make_gateway: Any) -> None:
    gw = make_gateway(keys=[VirtualKey("sk-zero", max_budget=0.0)], master_key="sk-master")
    assert ask(client(gw, "sk-master"), model="o3-mini").status_code == 200
    with pytest.raises(openai.UnprocessableEntityError):
        ask(client(gw, "sk-zero"))


def test_rpm_limit_429_with_retry_after(make_gateway: Any) -> None:
    gw = make_gateway(keys=[VirtualKey("sk-rpm", rpm=2)])
    c = client(gw, "sk-rpm")
    assert ask(c).status_code == 200
    assert ask(c).status_code == 200
    with pytest.raises(openai.RateLimitError) as info:
        ask(c)
    assert info.value.response.headers["retry-after"] == "60"
    assert isinstance(info.value.body, dict) and info.value.body["type"] == "throttling_error"
    digest = hashlib.sha256(b"sk-rpm").hexdigest()
    assert info.value.body["message"].startswith(
        f"Rate limit exceeded for api_key: {digest}. Limit type: requests. Current limit: 2"
    )
    assert info.value.response.headers["rate_limit_type"] == "requests"
    assert [r.status for r in gw.log] == [200, 200, 429]
    gw.reset()  # clears the rpm window
    assert ask(c).status_code == 200


def test_unknown_and_missing_keys_are_401(make_gateway: Any) -> None:
    gw = make_gateway(keys=[VirtualKey("sk-known")])
    with pytest.raises(openai.AuthenticationError) as info:
        ask(client(gw, "sk-unknown-secret"))
    body = info.value.body
    assert isinstance(body, dict) and body["type"] == "auth_error" and body["code"] == "401"
    assert "sk-unknown-secret" not in str(body)
    assert hashlib.sha256(b"sk-unknown-secret").hexdigest() in body["message"]
    with pytest.raises(openai.AuthenticationError):
        client(gw, "sk-unknown-secret").models.list()
    assert ask(client(gw, "sk-known")).status_code == 200
    record = gw.calls(status=401)[0]
    assert "sk-unknown-secret" not in repr(record) and "sk-unknown-secret" not in str(gw.log)


def test_no_master_key_accepts_any_token(make_gateway: Any) -> None:
    gw = make_gateway(master_key=None)
    assert ask(client(gw, "anything")).status_code == 200
    assert gw.spend_by_key() == {"anything": gw.total_spend}


def test_spend_by_key_and_user(make_gateway: Any) -> None:
    gw = make_gateway(keys=[VirtualKey("sk-a", alias="a"), VirtualKey("sk-b", alias="b")])
    costs = {}
    for key, user in [("sk-a", "u1"), ("sk-a", "u2"), ("sk-b", "u1")]:
        raw = ask(client(gw, key), user=user)
        costs[(key, user)] = float(raw.headers["x-litellm-response-cost"])
    by_key = gw.spend_by_key()
    assert by_key["sk-a"] == pytest.approx(costs[("sk-a", "u1")] + costs[("sk-a", "u2")])
    assert by_key["sk-b"] == costs[("sk-b", "u1")]
    by_user = gw.spend_by_user()
    assert by_user["u1"] == pytest.approx(costs[("sk-a", "u1")] + costs[("sk-b", "u1")])
    assert gw.total_spend == pytest.approx(sum(costs.values()))


def test_context_window_400_body(make_gateway: Any) -> None:
    tiny = GatewayModel(
        "tiny", context_window=50, max_output_tokens=20, input_per_million=1, output_per_million=2
    )
    gw = make_gateway([tiny])
    long_text = "word " * 100
    with pytest.raises(openai.BadRequestError) as info:
        client(gw, "sk-local-master").chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": long_text}]
        )
    body = info.value.body
    assert isinstance(body, dict)
    assert body["message"].startswith(
        "litellm.ContextWindowExceededError: litellm.BadRequestError: "
    )
    assert "This model's maximum context length is 50 tokens" in body["message"]
    assert body["type"] == "invalid_request_error" and body["code"] == "400"
    # prompt fits, but prompt + max_tokens does not
    with pytest.raises(openai.BadRequestError):
        client(gw, "sk-local-master").chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=45
        )
    model = ChatOpenAI(model="tiny", base_url=gw.base_url, api_key="sk-local-master", max_retries=0)  # type: ignore[arg-type]
    with pytest.raises(ContextOverflowError):
        model.invoke(long_text)
    assert [r.status for r in gw.log] == [400, 400, 400] and gw.total_spend == 0


def test_model_without_tool_support_rejects_tools(make_gateway: Any) -> None:
    plain = GatewayModel("plain", 1000, 100, 1.0, 1.0, supports_tools=False)
    gw = make_gateway([plain])
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    with pytest.raises(openai.BadRequestError) as info:
        ask(client(gw, "sk-local-master"), model="plain", tools=[tool])
    assert "does not support parameters" in str(info.value.body)
