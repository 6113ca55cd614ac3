"""The policy: loading, validation messages naming the key, and the pure decisions."""

from __future__ import annotations

from pathlib import Path

import pytest

from langgraph_routing import (
    AgentTask,
    ContextTooLargeError,
    ErrorKind,
    RoutingPolicy,
)
from langgraph_routing._errors import PolicyError
from langgraph_routing._failures import classify, parse_retry_after

DESIGN_YAML = """
gateway:
  base_url: http://127.0.0.1:4000/v1
  api_key_env: LANGGRAPH_ROUTING_API_KEY
roles:
  planner: {api_key_env: ROUTING_KEY_PLANNER}
  critic:  {api_key_env: ROUTING_KEY_CRITIC}
models:
  o3-mini:     {context_window: 200000, max_output_tokens: 100000, input_per_million: 1.10, output_per_million: 4.40}
  gpt-4o-mini: {context_window: 128000, max_output_tokens: 16384, input_per_million: 0.15, output_per_million: 0.60}
  gpt-4o:      {context_window: 128000, max_output_tokens: 16384, input_per_million: 2.50, output_per_million: 10.00}
  claude-3-5-sonnet-20241022: {context_window: 200000, max_output_tokens: 8192, input_per_million: 3.00, output_per_million: 15.00}
  claude-3-5-haiku-20241022:  {context_window: 200000, max_output_tokens: 8192, input_per_million: 0.80, output_per_million: 4.00}
tasks:
  plan:        {model: o3-mini, role: planner}
  tool_select: {model: gpt-4o-mini}
  synthesize:  {model: claude-3-5-sonnet-20241022}
  critique:    {model: gpt-4o-mini, role: critic}
default_task: tool_select
node_tasks: {agent: tool_select}
fallbacks:
  o3-mini: [claude-3-5-sonnet-20241022]
  gpt-4o: [claude-3-5-sonnet-20241022]
  gpt-4o-mini: [claude-3-5-haiku-20241022]
context_upgrades:
  gpt-4o-mini: gpt-4o
  claude-3-5-haiku-20241022: claude-3-5-sonnet-20241022
upgrade_at: 0.8
retry: {max_attempts: 3, initial_delay_s: 0.5, max_delay_s: 8, max_retry_after_s: 60}
"""


def test_design_yaml_loads(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(DESIGN_YAML)
    policy = RoutingPolicy.from_file(path)
    assert policy.tasks[AgentTask.PLAN].role == "planner"
    assert policy.models["gpt-4o"].name == "gpt-4o"
    default = RoutingPolicy.default()
    assert {t: r.model for t, r in policy.tasks.items()} == {
        t: r.model for t, r in default.tasks.items()
    }


def test_toml_same_keys(tmp_path: Path) -> None:
    path = tmp_path / "routing.toml"
    path.write_text(
        """
default_task = "plan"
[models.small]
context_window = 1000
max_output_tokens = 100
input_per_million = 1.0
output_per_million = 2.0
[tasks.plan]
model = "small"
"""
    )
    assert RoutingPolicy.from_file(path).select("plan", 10).model == "small"


def _base(**over: object) -> dict[str, object]:
    data: dict[str, object] = {
        "models": {
            "a": {
                "context_window": 1000,
                "max_output_tokens": 100,
                "input_per_million": 1,
                "output_per_million": 1,
            },
            "b": {
                "context_window": 2000,
                "max_output_tokens": 100,
                "input_per_million": 1,
                "output_per_million": 1,
            },
        },
        "tasks": {"plan": {"model": "a"}},
        "default_task": "plan",
    }
    data.update(over)
    return data


@pytest.mark.parametrize(
    ("over", "key", "problem"),
    [
        ({"tasks": {"plan": {"model": "zz"}}}, "tasks.plan.model", "unknown model 'zz'"),
        ({"fallbacks": {"a": ["zz"]}}, "fallbacks.a", "unknown model 'zz'"),
        ({"context_upgrades": {"a": "zz"}}, "context_upgrades.a", "unknown model 'zz'"),
        ({"context_upgrades": {"b": "a"}}, "context_upgrades.b", "smaller window"),
        ({"fallbacks": {"a": ["a"]}}, "fallbacks.a", "itself"),
        (
            {
                "models": {
                    "a": {
                        "context_window": 10,
                        "max_output_tokens": 1,
                        "input_per_million": -1,
                        "output_per_million": 1,
                    }
                }
            },
            "models.a.input_per_million",
            "greater than or equal to 0",
        ),
        ({"tasks": {"plan": {"model": "a", "role": "ghost"}}}, "tasks.plan.role", "unknown role"),
        ({"upgrade_at": 1.5}, "upgrade_at", "less than or equal to 1"),
        ({"colour": "blue"}, "colour", "unknown key 'colour' (allowed: "),
    ],
)
def test_bad_policy_names_key(over: dict[str, object], key: str, problem: str) -> None:
    with pytest.raises(PolicyError) as info:
        RoutingPolicy.from_dict(_base(**over))
    assert info.value.key == key
    assert problem in info.value.problem


def test_upgrade_cycle_is_named() -> None:
    models = {
        m: {
            "context_window": 1000,
            "max_output_tokens": 10,
            "input_per_million": 1,
            "output_per_million": 1,
        }
        for m in ("a", "b")
    }
    with pytest.raises(PolicyError, match="cycle a -> b -> a"):
        RoutingPolicy.from_dict(_base(models=models, context_upgrades={"a": "b", "b": "a"}))


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        RoutingPolicy.from_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: [unclosed")
    with pytest.raises(PolicyError, match="not valid yaml"):
        RoutingPolicy.from_file(bad)


def test_select_upgrades_and_reports_reason() -> None:
    policy = RoutingPolicy.default()
    assert policy.select("plan", 1000).model == "o3-mini"
    choice = policy.select("tool_select", 110_000)
    assert (choice.model, choice.upgraded_from) == ("gpt-4o", "gpt-4o-mini")
    assert "gpt-4o-mini -> gpt-4o" in choice.reason
    # as a provider would: a prompt that leaves less room than the reserve gets what is left
    cut = policy.select("tool_select", 126_000)
    assert (cut.model, cut.reserved_output) == ("gpt-4o", 2_000)
    assert "output cut to 2000 tokens" in cut.reason
    with pytest.raises(ContextTooLargeError, match="gpt-4o's window is 128000"):
        policy.select("tool_select", 128_000)


def test_on_error_table() -> None:
    policy = RoutingPolicy.default()
    assert policy.on_error(ErrorKind.RATE_LIMIT, 1, 100).delay_s == 60  # capped
    backoff = policy.on_error(ErrorKind.RATE_LIMIT, 2, None, rand=0.5)
    assert backoff.kind == "retry" and backoff.delay_s == pytest.approx(1.0)
    assert policy.on_error(ErrorKind.RATE_LIMIT, 3).kind == "fallback"
    assert policy.on_error(ErrorKind.TRANSIENT, 1).kind == "fallback"
    assert policy.on_error(ErrorKind.CONTEXT_OVERFLOW, 1).kind == "upgrade"
    for kind in (ErrorKind.BUDGET, ErrorKind.AUTH, ErrorKind.BAD_REQUEST):
        assert policy.on_error(kind, 1).kind == "raise"


@pytest.mark.parametrize(
    ("status", "etype", "code", "msg", "kind"),
    [
        (422, "budget_exceeded", "422", "Budget has been exceeded!", ErrorKind.BUDGET),
        (400, "budget_exceeded", "400", "x", ErrorKind.BUDGET),
        (429, "budget_exceeded", "429", "x", ErrorKind.BUDGET),
        (402, None, None, "payment required", ErrorKind.BUDGET),
        (429, "throttling_error", "429", "slow down", ErrorKind.RATE_LIMIT),
        (
            400,
            "invalid_request_error",
            "context_length_exceeded",
            "too long",
            ErrorKind.CONTEXT_OVERFLOW,
        ),
        (
            400,
            "invalid_request_error",
            "400",
            "litellm.ContextWindowExceededError: x",
            ErrorKind.CONTEXT_OVERFLOW,
        ),
        (503, None, None, "unavailable", ErrorKind.TRANSIENT),
        (401, "auth_error", "401", "bad key", ErrorKind.AUTH),
        (400, "invalid_request_error", "400", "bad field", ErrorKind.BAD_REQUEST),
    ],
)
def test_classify(
    status: int, etype: str | None, code: str | None, msg: str, kind: ErrorKind
) -> None:
    assert classify(status, etype, code, msg) is kind


def test_retry_after_headers() -> None:
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"llm_provider-retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None
    assert parse_retry_after({}) is None


def test_tasks_missing_from_the_policy_use_the_default_task() -> None:
    policy = RoutingPolicy.from_dict(_base())  # only "plan" is routed
    assert policy.select("critique", 10).model == "a"
    assert policy.reserved_output("synthesize") == 100  # the default task's model's limit
