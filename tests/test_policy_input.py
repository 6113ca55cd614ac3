"""Bad policy input gets a clear error before anything else happens, and costs stay bounded."""

from __future__ import annotations

import itertools
from pathlib import Path

import httpx
import openai
import pytest
import yaml

from langgraph_routing import PolicyError, RoutesExhaustedError, RoutingPolicy
from langgraph_routing._context import CallContext
from langgraph_routing._route import Route
from langgraph_routing._tokens import TokenCount


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_bytes(b"default_task: \xff\xfe plan\n")
    with pytest.raises(PolicyError, match="not UTF-8"):
        RoutingPolicy.from_file(path)


def test_duplicate_yaml_keys_are_an_error(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text("default_task: plan\ndefault_task: critique\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="duplicate key 'default_task'"):
        RoutingPolicy.from_file(path)


def test_a_huge_file_is_refused_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text("fallbacks:\n" + "  - x\n" * 400_000, encoding="utf-8")  # ~2.4 MB
    parsed: list[object] = []
    monkeypatch.setattr(yaml, "load", lambda *a, **k: parsed.append(a))
    with pytest.raises(PolicyError, match="a policy file is at most 1048576"):
        RoutingPolicy.from_file(path)
    assert parsed == []  # refused before parsing


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"retry": {"max_attempts": 10_000}}, "retry.max_attempts"),
        ({"retry": {"max_retry_after_s": 1e9}}, "retry.max_retry_after_s"),
        ({"gateway": {"timeout_s": 1e9}}, "gateway.timeout_s"),
        ({"models": {"gpt-4o": {"input_per_million": 1e12}}}, "models.gpt-4o.input_per_million"),
    ],
)
def test_values_have_upper_bounds(change: dict[str, object], key: str) -> None:
    with pytest.raises(PolicyError) as info:
        RoutingPolicy.default().updated(change)
    assert info.value.key == key


def _chain_policy(n: int) -> RoutingPolicy:
    spec = {
        "context_window": 1000,
        "max_output_tokens": 10,
        "input_per_million": 1,
        "output_per_million": 1,
    }
    names = [f"m{i}" for i in range(n)]
    return RoutingPolicy.from_dict(
        {
            "models": {name: spec for name in names},
            "tasks": {"plan": {"model": "m0"}},
            "default_task": "plan",
            "fallbacks": {a: [b] for a, b in itertools.pairwise(names)},
        }
    )


def _exhaust(policy: RoutingPolicy) -> int:
    route = Route(
        policy,
        policy.select("plan", 10),
        TokenCount(10, approximate=True),
        False,
        CallContext(),
    )
    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    failure = openai.InternalServerError(
        "down", response=httpx.Response(503, request=request), body={"error": {"message": "down"}}
    )
    tries = 0
    with pytest.raises(RoutesExhaustedError):
        while True:
            tries += 1
            route.failed(failure, 0.0)
    return tries


def test_a_long_fallback_chain_is_walked_in_linear_time(monkeypatch: pytest.MonkeyPatch) -> None:
    walked: list[int] = []
    original = RoutingPolicy.fallback_chain

    def counting(self: RoutingPolicy, model: str, needs_tools: bool = False) -> list[str]:
        chain = original(self, model, needs_tools)
        walked.append(len(chain))
        return chain

    monkeypatch.setattr(RoutingPolicy, "fallback_chain", counting)
    assert _exhaust(_chain_policy(1000)) == 1000
    # the chain is built once (999 models), not again after each of the 999 failures
    assert walked == [999]
