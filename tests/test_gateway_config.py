"""Configuration validation, secrets in reprs, lifecycle and the reply synthesizer's edge cases."""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace
from typing import Any

import jsonschema
import openai
import pytest

from langgraph_routing.testing import (
    DEFAULT_MODELS,
    GatewayConfigError,
    GatewayModel,
    LocalGateway,
    RequestRecord,
    VirtualKey,
)
from langgraph_routing.testing._replies import synthesize_reply
from langgraph_routing.testing._schema_fill import TextFacts, fill_schema

SECRET = "sk-very-secret-123"


def test_config_error_is_a_value_error() -> None:
    assert issubclass(GatewayConfigError, ValueError)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"context_window": 0}, "model 'm': context_window must be > 0, got 0"),
        ({"max_output_tokens": -5}, "model 'm': max_output_tokens must be > 0"),
        ({"input_per_million": -1.0}, "model 'm': input_per_million must be >= 0, got -1.0"),
        ({"output_per_million": float("nan")}, "model 'm': output_per_million must be finite"),
        ({"context_window": 1.5}, "model 'm': context_window must be an integer"),
    ],
)
def test_model_validation(kwargs: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {
        "name": "m",
        "context_window": 1000,
        "max_output_tokens": 100,
        "input_per_million": 1.0,
        "output_per_million": 2.0,
    }
    with pytest.raises(GatewayConfigError, match="^" + message.replace("(", r"\(")):
        GatewayModel(**{**base, **kwargs})


@pytest.mark.parametrize("port", [-1, 65536, "80", True])
def test_bad_port(port: Any) -> None:
    with pytest.raises(GatewayConfigError, match=r"port must be an integer in 0\.\.65535"):
        LocalGateway(port=port)


def test_fault_rule_validation() -> None:
    gw = LocalGateway()
    with pytest.raises(GatewayConfigError, match=r"^fault rule: unknown model 'gpt-9'$"):
        gw.add_fault("server_error", model="gpt-9")
    with pytest.raises(GatewayConfigError, match=r"^fault rule: unknown kind 'boom'"):
        gw.add_fault("boom")
    with pytest.raises(GatewayConfigError, match="server_error: status must be one of"):
        gw.add_fault("server_error", status=404)
    with pytest.raises(GatewayConfigError, match="unknown parameter 'seconds' for kind 'drop'"):
        gw.add_fault("drop", seconds=1)
    with pytest.raises(GatewayConfigError, match="nth must be a positive integer"):
        gw.add_fault("drop", nth=0)
    with pytest.raises(GatewayConfigError, match="retry_after must be a non-negative number"):
        gw.add_fault("rate_limit", retry_after=-1)
    with pytest.raises(GatewayConfigError, match="cost_header: value must be a string or None"):
        gw.add_fault("cost_header", value=1.5)
    assert gw.faults == []


def test_key_and_model_list_validation() -> None:
    with pytest.raises(GatewayConfigError, match="rpm must be a positive integer"):
        VirtualKey("sk-x", rpm=0)
    with pytest.raises(GatewayConfigError, match="max_budget must be >= 0"):
        VirtualKey("sk-x", max_budget=-1)
    with pytest.raises(GatewayConfigError, match="defined twice"):
        LocalGateway(keys=[VirtualKey("sk-x"), VirtualKey("sk-x")])
    with pytest.raises(GatewayConfigError, match="equals the master key"):
        LocalGateway(keys=[VirtualKey("sk-local-master")])
    with pytest.raises(GatewayConfigError, match="defined twice"):
        LocalGateway([DEFAULT_MODELS[0], DEFAULT_MODELS[0]])
    with pytest.raises(GatewayConfigError, match="at least one model"):
        LocalGateway([])
    with pytest.raises(GatewayConfigError, match="script: unknown model 'gpt-9'"):
        LocalGateway().script("gpt-9", ["x"])


def test_default_models_match_the_design() -> None:
    models = LocalGateway().models
    assert list(models) == [
        "o3-mini",
        "gpt-4o-mini",
        "gpt-4o",
        "claude-3-5-sonnet-20241022",
        "claude-3-5-haiku-20241022",
    ]
    assert models["gpt-4o-mini"].cost(1000, 500) == pytest.approx(0.00045)
    assert models["claude-3-5-sonnet-20241022"].context_window == 200_000
    assert models["o3-mini"].max_output_tokens == 100_000


def test_from_policy_duck_typed() -> None:
    spec = SimpleNamespace(
        context_window=4000,
        max_output_tokens=100,
        input_per_million=1.0,
        output_per_million=2.0,
        supports_tools=True,
    )
    gw = LocalGateway.from_policy(SimpleNamespace(models={"local-a": spec}), master_key=None)
    assert list(gw.models) == ["local-a"]
    with pytest.raises(GatewayConfigError, match="input_per_million must be >= 0"):
        LocalGateway.from_policy(
            SimpleNamespace(
                models={"bad": SimpleNamespace(**{**vars(spec), "input_per_million": -1})}
            )
        )
    with pytest.raises(GatewayConfigError, match=r"policy: expected a `\.models` mapping"):
        LocalGateway.from_policy(object())


def test_from_routing_policy_default_matches_default_models() -> None:
    from langgraph_routing._policy import RoutingPolicy

    assert (
        tuple(LocalGateway.from_policy(RoutingPolicy.default()).models.values()) == DEFAULT_MODELS
    )


def test_reprs_never_show_keys(make_gateway: Any) -> None:
    vk = VirtualKey(SECRET, max_budget=1.0)
    gw = make_gateway(keys=[vk], master_key="sk-master-secret")
    fault = gw.add_fault("missing_usage", key=SECRET)
    c = openai.OpenAI(base_url=gw.base_url, api_key=SECRET, max_retries=0)
    c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    record = gw.log[0]
    assert record.key == SECRET  # available as data...
    texts = [
        repr(vk),
        str(vk),
        repr(gw),
        str(gw),
        repr(fault),
        repr(gw.faults),
        repr(record),
        str(record),
        repr(gw.log),
        repr(gw.keys.values()),
    ]
    for text in texts:  # ...never in a repr
        assert SECRET not in text and "sk-master-secret" not in text
    assert record.key_alias is not None and record.key_alias.startswith("sha256:")
    assert record.key_hash is not None and record.key_hash.startswith(record.key_alias[7:])
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.status = 500  # type: ignore[misc]
    assert isinstance(record, RequestRecord)


def test_lifecycle_and_context_manager() -> None:
    gw = LocalGateway()
    with pytest.raises(RuntimeError, match="not started"):
        _ = gw.base_url
    with gw:
        assert gw.running and gw.base_url == f"http://127.0.0.1:{gw.port}/v1"
        assert gw.start() is gw  # idempotent
    assert not gw.running
    gw.stop()  # idempotent
    with gw:  # restartable
        c = openai.OpenAI(base_url=gw.base_url, api_key="sk-local-master", max_retries=0)
        assert c.models.list().data


def test_stop_closes_keep_alive_connections_and_releases_holds() -> None:
    gw = LocalGateway().start()
    c = openai.OpenAI(base_url=gw.base_url, api_key="sk-local-master", max_retries=0)
    c.models.list()  # opens a keep-alive connection
    gw.stop()
    with pytest.raises(openai.APIConnectionError):
        c.models.list()


def test_fill_schema_handles_refs_unions_and_constraints() -> None:
    schema = {
        "$defs": {
            "Item": {
                "type": "object",
                "properties": {"n": {"type": "integer", "maximum": 3}},
                "required": ["n"],
            }
        },
        "type": "object",
        "properties": {
            "item": {"$ref": "#/$defs/Item"},
            "maybe": {"anyOf": [{"type": "null"}, {"type": "string", "maxLength": 4}]},
            "flag": {"type": "boolean"},
            "const": {"const": "fixed"},
            "when": {"type": "string", "format": "date"},
            "words": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
            "either": {"oneOf": [{"type": "number", "exclusiveMinimum": 10}]},
            "both": {"allOf": [{"type": "object", "properties": {"x": {"type": "integer"}}}]},
        },
        "required": ["item", "maybe", "flag", "const", "when", "words", "either", "both"],
    }
    value = fill_schema(schema, TextFacts("take 7 of them"))
    jsonschema.validate(value, schema)
    assert value["item"] == {"n": 3} and value["const"] == "fixed"


def test_synthesized_reply_is_deterministic_and_quotes_tool_results() -> None:
    body = {
        "model": "gpt-4o",
        "messages": [
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "sunny, 21C"},
        ],
        "tools": [
            {"type": "function", "function": {"name": "w", "parameters": {"type": "object"}}}
        ],
    }
    first, second = synthesize_reply(body), synthesize_reply(json.loads(json.dumps(body)))
    assert first == second and not first.tool_calls
    assert first.content == "Based on the tool results: sunny, 21C. Answer: sunny, 21C"
