"""LocalGateway through langchain-openai's ChatOpenAI: headers, streams, tools, structured output."""

from __future__ import annotations

import json
from typing import Any, Literal

import httpx
import jsonschema
import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

from langgraph_routing.testing import LocalGateway

KEY = "sk-local-master"


def chat(gateway: LocalGateway, model: str = "gpt-4o-mini", **kw: Any) -> ChatOpenAI:
    return ChatOpenAI(
        model=model,
        base_url=gateway.base_url,
        api_key=KEY,  # type: ignore[arg-type]
        max_retries=0,
        include_response_headers=True,
        stream_usage=True,
        **kw,
    )


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression such as '2 * (3 + 4)'."""
    return "42"


@tool
def get_weather(
    city: str, unit: Literal["celsius", "fahrenheit"] = "celsius", days: int = 1
) -> str:
    """Get the weather forecast for a city."""
    return "sunny"


class Address(BaseModel):
    street: str
    zip_code: str = Field(max_length=5)


class Person(BaseModel):
    """A person mentioned in the text."""

    name: str
    age: int = Field(ge=0, le=150)
    height_m: float
    role: Literal["engineer", "manager", "designer"]
    tags: list[str]
    address: Address
    nickname: str | None = None


def test_invoke_headers_cost_and_usage(gateway: LocalGateway) -> None:
    message = chat(gateway).invoke("Summarise the plan in one line")
    assert isinstance(message, AIMessage) and message.content
    headers = message.response_metadata["headers"]
    usage = message.usage_metadata
    assert usage is not None
    expected = usage["input_tokens"] * (0.15 / 1e6) + usage["output_tokens"] * (0.60 / 1e6)
    assert float(headers["x-litellm-response-cost"]) == expected
    assert message.response_metadata["id"] == f"chatcmpl-{headers['x-litellm-call-id']}"
    assert gateway.log[0].cost_usd == expected


def test_stream_headers_on_first_chunk_and_usage(gateway: LocalGateway) -> None:
    chunks = list(chat(gateway, "gpt-4o").stream("Tell me about routing"))
    assert "headers" in chunks[0].response_metadata
    assert "x-litellm-response-cost" not in chunks[0].response_metadata["headers"]
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged = merged + chunk
    assert merged.usage_metadata is not None
    record = gateway.log[0]
    assert merged.usage_metadata["input_tokens"] == record.prompt_tokens
    assert merged.usage_metadata["output_tokens"] == record.completion_tokens
    assert record.stream and record.headers.get("x-stainless-retry-count") == "0"


async def test_async_invoke_and_stream(gateway: LocalGateway) -> None:
    async with httpx.AsyncClient() as http:
        model = chat(gateway, http_async_client=http)
        message = await model.ainvoke("async hello")
        assert message.response_metadata["headers"]["x-litellm-model-group"] == "gpt-4o-mini"
        text = "".join([str(c.content) async for c in model.astream("async hello")])
        assert text == message.content
    assert [r.stream for r in gateway.log] == [False, True]


@pytest.mark.parametrize("streaming", [False, True])
def test_tool_call_args_validate_against_schema(gateway: LocalGateway, streaming: bool) -> None:
    model = chat(gateway, streaming=streaming).bind_tools([calculator, get_weather])
    message = model.invoke("What will the weather be in 'Paris' for 3 days in fahrenheit?")
    assert isinstance(message, AIMessage)
    (call,) = message.tool_calls
    assert call["name"] == "get_weather"
    schema = convert_to_openai_tool(get_weather)["function"]["parameters"]
    jsonschema.validate(call["args"], schema)
    assert call["args"] == {"city": "Paris", "unit": "fahrenheit", "days": 3}
    assert message.response_metadata["finish_reason"] == "tool_calls"
    assert gateway.log[0].tools == ("calculator", "get_weather")


def test_expression_extracted_and_loop_terminates(gateway: LocalGateway) -> None:
    model = chat(gateway).bind_tools([calculator, get_weather])
    question = HumanMessage("Please calculate 12 * (3 + 4) for me")
    first = model.invoke([question])
    assert isinstance(first, AIMessage)
    (call,) = first.tool_calls
    assert call["name"] == "calculator" and call["args"] == {"expression": "12 * (3 + 4)"}
    result = ToolMessage("84", tool_call_id=call["id"])
    second = model.invoke([question, first, result])
    assert not second.tool_calls
    assert "84" in str(second.content) and "Based on the tool results" in str(second.content)


def test_tool_choice_none_and_forced(gateway: LocalGateway) -> None:
    none = chat(gateway).bind_tools([calculator], tool_choice="none").invoke("compute 1+1")
    assert isinstance(none, AIMessage) and not none.tool_calls
    forced = chat(gateway).bind_tools([calculator, get_weather], tool_choice="get_weather")
    message = forced.invoke("compute 1+1")
    assert isinstance(message, AIMessage) and message.tool_calls[0]["name"] == "get_weather"


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_structured_output(gateway: LocalGateway, method: str) -> None:
    structured = chat(gateway).with_structured_output(Person, method=method)  # type: ignore[arg-type]
    person = structured.invoke('Meet "Ada Lovelace", a 36 year old engineer, 1.65 m tall.')
    assert isinstance(person, Person)
    assert person.name == "Ada Lovelace" and person.age == 36 and person.role == "engineer"
    assert person.height_m == 1.65
    jsonschema.validate(person.model_dump(), Person.model_json_schema())
    record = gateway.log[0]
    assert record.status == 200
    assert (record.tools == ("Person",)) is (method == "function_calling")


def test_json_schema_dict_response_format(gateway: LocalGateway) -> None:
    schema = {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"type": "integer"}, "minItems": 1},
            "verdict": {"type": "string", "enum": ["yes", "no"]},
            "score": {"type": "number", "minimum": 0.5, "maximum": 1},
        },
        "required": ["items", "verdict", "score"],
        "additionalProperties": False,
    }
    model = chat(gateway).bind(
        response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": schema}}
    )
    message = model.invoke("Sum 3, 4 and 5, then answer no")
    value = json.loads(str(message.content))
    jsonschema.validate(value, schema)
    assert value["items"] == [3, 4, 5] and value["verdict"] == "no"
    json_mode = chat(gateway).bind(response_format={"type": "json_object"}).invoke("hi")
    assert isinstance(json.loads(str(json_mode.content)), dict)


def test_scripted_replies_take_precedence_in_order(gateway: LocalGateway) -> None:
    gateway.script(
        "gpt-4o-mini",
        [
            {
                "content": None,
                "tool_calls": [
                    {"function": {"name": "calculator", "arguments": {"expression": "1+1"}}}
                ],
            },
            "scripted final answer",
        ],
    )
    model = chat(gateway).bind_tools([calculator])
    first = model.invoke("anything at all")
    assert isinstance(first, AIMessage)
    assert first.tool_calls[0]["args"] == {"expression": "1+1"}
    second = model.invoke("anything at all")
    assert second.content == "scripted final answer"
    third = model.invoke("anything at all")
    assert isinstance(third, AIMessage) and third.tool_calls[0]["name"] == "calculator"
    assert third.tool_calls[0]["args"] == {"expression": "anything at all"}
    other = chat(gateway, "gpt-4o").invoke("x")
    assert other.content != "scripted final answer"


def test_scripted_stream(gateway: LocalGateway) -> None:
    gateway.script("o3-mini", ["one two three four five six"])
    text = "".join(str(c.content) for c in chat(gateway, "o3-mini").stream("go"))
    assert text == "one two three four five six"
