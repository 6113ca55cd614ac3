"""Latency profiles: LocalGateway answers after each model's time to first token and output
speed (off by default), streamed and not, scaled for tests, per model; through the real SDKs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import openai
import pytest
from langchain_openai import ChatOpenAI

from langgraph_routing.testing import (
    DEFAULT_LATENCY,
    GENERIC_LATENCY,
    GatewayConfigError,
    GatewayModel,
    LatencyProfile,
    LocalGateway,
)

KEY = "sk-local-master"
Factory = Callable[..., LocalGateway]


def client(gateway: LocalGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url, api_key=KEY, max_retries=0)


def ask(sdk: openai.OpenAI, model: str = "gpt-4o-mini") -> float:
    """Seconds for one non-streamed answer, as the client sees it."""
    t0 = time.perf_counter()
    sdk.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    return time.perf_counter() - t0


def test_off_by_default_adds_nothing(gateway: LocalGateway, make_gateway: Factory) -> None:
    assert set(gateway.latency.values()) == {None}
    sdk = client(gateway)
    ask(sdk)  # warm-up: connection, encoders
    off = ask(sdk)
    slow = make_gateway(latency={"gpt-4o-mini": LatencyProfile(3.0, 1e6)}, latency_scale=0.1)
    slow_sdk = client(slow)
    ask(slow_sdk)
    on = ask(slow_sdk)
    assert on >= 0.3 > off
    assert gateway.log[-1].latency_s == 0.0
    assert slow.log[-1].latency_s == pytest.approx(0.3, abs=1e-3)


def test_profiles_delay_a_non_streamed_answer_by_ttft_plus_tokens(make_gateway: Factory) -> None:
    gw = make_gateway(latency="profiles", latency_scale=0.5)
    assert gw.latency["gpt-4o"] == DEFAULT_LATENCY["gpt-4o"]
    elapsed = ask(client(gw), "gpt-4o")
    record = gw.log[-1]
    profile = DEFAULT_LATENCY["gpt-4o"]
    expected = 0.5 * (profile.ttft_s + record.completion_tokens / profile.tokens_per_s)
    assert record.completion_tokens > 0
    assert record.latency_s == pytest.approx(expected)
    assert elapsed >= expected >= 0.2


def test_a_stream_sends_its_first_chunk_after_ttft_then_paces_the_rest(
    make_gateway: Factory,
) -> None:
    gw = make_gateway(latency={"gpt-4o-mini": (2.0, 5.0)}, latency_scale=0.1)
    model = ChatOpenAI(model="gpt-4o-mini", base_url=gw.base_url, api_key=KEY, max_retries=0)
    t0 = time.perf_counter()
    arrivals: list[float] = []
    for chunk in model.stream("Explain the routing plan of this agent in a few words."):
        if chunk.content:
            arrivals.append(time.perf_counter() - t0)
    total = time.perf_counter() - t0
    record = gw.log[-1]
    generation = 0.1 * record.completion_tokens / 5.0
    assert record.stream and record.completion_tokens >= 5
    assert len(arrivals) > 1
    assert arrivals[0] >= 0.2  # time to first token
    assert total >= 0.2 + generation >= 0.3
    assert record.latency_s == pytest.approx(0.2 + generation)


def test_per_model_override_and_generic_profile(make_gateway: Factory) -> None:
    local = GatewayModel("local-llm", 8000, 1000, 0.0, 0.0)
    gw = make_gateway(
        [GatewayModel("gpt-4o", 128_000, 16_384, 2.5, 10.0), local],
        latency={"gpt-4o": (0.05, 1000.0)},
    )
    assert gw.latency == {"gpt-4o": LatencyProfile(0.05, 1000.0), "local-llm": GENERIC_LATENCY}
    gw.set_latency("local-llm", None)
    sdk = client(gw)
    ask(sdk, "local-llm")
    ask(sdk, "gpt-4o")
    assert [r.latency_s > 0 for r in gw.log] == [False, True]
    assert gw.log[-1].latency_s >= 0.05


def test_concurrent_answers_wait_side_by_side(make_gateway: Factory) -> None:
    gw = make_gateway(latency={"gpt-4o-mini": (0.5, 1e6)})
    sdk = client(gw)
    ask(sdk)  # warm-up
    threads = [threading.Thread(target=ask, args=(sdk,)) for _ in range(4)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    assert 0.5 <= elapsed < 1.9  # one after another would take >= 2.0 s
    assert [r.latency_s >= 0.5 for r in gw.log] == [True] * 5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"latency": "fast"}, "latency must be None, 'profiles' or a mapping"),
        ({"latency": 3}, "latency must be None, 'profiles' or a mapping"),
        ({"latency": {"gpt-5": (1, 1)}}, "latency: unknown model 'gpt-5'"),
        ({"latency": {"gpt-4o": (1, 0)}}, "latency['gpt-4o']: latency profile: tokens_per_s"),
        ({"latency": {"gpt-4o": 0.4}}, "latency['gpt-4o']: expected a LatencyProfile"),
        ({"latency": "profiles", "latency_scale": -1}, "latency_scale must be a finite number"),
        ({"latency_scale": "fast"}, "latency_scale must be a number, got 'fast'"),
        ({"latency_scale": float("inf")}, "latency_scale must be a finite number >= 0"),
    ],
)
def test_latency_config_errors_name_the_field(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(GatewayConfigError) as info:
        LocalGateway(**kwargs)  # type: ignore[arg-type]
    assert message in str(info.value)


def test_set_latency_validates() -> None:
    gw = LocalGateway()
    with pytest.raises(GatewayConfigError, match="latency: unknown model 'gpt-5'"):
        gw.set_latency("gpt-5", (1.0, 1.0))
    with pytest.raises(GatewayConfigError, match=r"latency\['gpt-4o'\]: latency profile: ttft_s"):
        gw.set_latency("gpt-4o", (float("nan"), 1.0))
    with pytest.raises(GatewayConfigError, match="tokens_per_s must be a number"):
        LatencyProfile(1.0, True)


def test_a_held_request_still_answers_at_model_speed(make_gateway: Factory) -> None:
    gw = make_gateway(latency={"gpt-4o-mini": (0.25, 1e6)})
    gw.add_fault("hang", model="gpt-4o-mini", seconds=0.05)
    elapsed = ask(client(gw))
    assert gw.log[-1].fault == "hang" and gw.log[-1].latency_s == pytest.approx(0.25, abs=1e-3)
    assert elapsed >= 0.3


def test_errors_answer_at_once_and_a_stream_closed_early_frees_the_connection(
    make_gateway: Factory,
) -> None:
    gw = make_gateway(latency={"gpt-4o-mini": (0.05, 2.0)})
    gw.add_fault("server_error", model="gpt-4o-mini", status=503)
    sdk = client(gw)
    with pytest.raises(openai.InternalServerError):
        ask(sdk)
    assert gw.log[-1].status == 503 and gw.log[-1].latency_s == 0.0
    stream = sdk.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Tell me a long story about routers."}],
        stream=True,
    )
    next(iter(stream))
    stream.close()  # about 10 s of paced chunks left: the gateway stops writing them
    gw.set_latency("gpt-4o-mini", None)
    assert ask(sdk) < 5.0
    assert [r.status for r in gw.log] == [503, 200, 200]
    assert gw.log[1].latency_s > 5.0
