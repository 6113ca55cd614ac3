"""LocalGateway answers like a plausible model, so third-party agents run as they would:
booleans and enums from the request, the tool whose description fits, arguments per field,
scripts per model and per task or node, and the request body in the log."""

from __future__ import annotations

import json
from typing import Any, Literal

import openai
import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from langgraph_routing import init_routing_model
from langgraph_routing.testing import GatewayConfigError, LocalGateway


def plain(gateway: LocalGateway) -> ChatOpenAI:
    return ChatOpenAI(
        model="gpt-4o-mini", base_url=gateway.base_url, api_key=gateway.master_key, max_retries=0
    )


def test_booleans_and_strings_come_from_the_request(gateway: LocalGateway) -> None:
    schema = {
        "title": "Clarify",
        "type": "object",
        "properties": {
            "need_clarification": {"type": "boolean"},
            "city": {"type": "string"},
            "size": {"type": "string", "enum": ["small", "large"]},
        },
        "required": ["need_clarification", "city", "size"],
    }
    model = plain(gateway).with_structured_output(schema, method="json_schema")
    sure = model.invoke("How large is Kyoto?")
    assert sure == {"need_clarification": False, "city": "Kyoto", "size": "large"}
    unsure = model.invoke("I am not sure what I need; please ask for clarification.")
    assert unsure["need_clarification"] is True


@tool
def population(city: str) -> str:
    """Population of a city: how many people live there."""
    return f"{city}: 1.46 million"


@tool
def weather(city: str) -> str:
    """Current weather and temperature forecast for a city."""
    return "sunny"


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression."""
    return "82"


def test_the_tool_whose_description_fits_is_called_with_its_fields(
    gateway: LocalGateway,
) -> None:
    bound = plain(gateway).bind_tools([weather, calculator, population])
    people = bound.invoke("How many people live in Osaka?")
    assert [(c["name"], c["args"]) for c in people.tool_calls] == [
        ("population", {"city": "Osaka"})
    ]
    forecast = bound.invoke("Will it rain in Kyoto tomorrow? Give me the forecast.")
    assert [(c["name"], c["args"]) for c in forecast.tool_calls] == [("weather", {"city": "Kyoto"})]
    math = bound.invoke("What is 17.5 * 4 + 12?")
    assert [(c["name"], c["args"]) for c in math.tool_calls] == [
        ("calculator", {"expression": "17.5 * 4 + 12"})
    ]


def test_scripts_per_task_and_node(gateway: LocalGateway) -> None:
    gateway.script("gpt-4o-mini", ["for any call"])
    gateway.script("gpt-4o-mini", ["for critique"], task="critique")
    gateway.script("gpt-4o-mini", ["for the reviewer node"], node="reviewer")
    model = init_routing_model(base_url=gateway.base_url, api_key=gateway.master_key)
    reviewer = {"metadata": {"langgraph_node": "reviewer"}}
    assert model.with_task("critique").invoke("x").content == "for critique"
    assert model.invoke("x", reviewer).content == "for the reviewer node"
    assert model.invoke("x").content == "for any call"
    assert [(r.task, r.node) for r in gateway.log] == [
        ("critique", None),
        ("tool_select", "reviewer"),
        ("tool_select", None),
    ]


def test_the_log_keeps_the_request_fields(gateway: LocalGateway) -> None:
    model = plain(gateway).bind_tools([population], parallel_tool_calls=False, tool_choice="auto")
    model.invoke("People in Kyoto?", max_tokens=77, user="u-1", temperature=0.5)
    record = gateway.log[-1]
    assert (record.max_tokens, record.parallel_tool_calls, record.tool_choice) == (
        77,
        False,
        "auto",
    )
    assert (record.user, record.temperature, record.tools) == ("u-1", 0.5, ("population",))
    assert gateway.master_key not in json.dumps(
        {k: str(v) for k, v in vars(record).items() if k != "key"}
    )


# --- 1. booleans and enums chosen from the text -------------------------------------------
class Brief(BaseModel):
    need_clarification: bool
    is_urgent: bool
    style: Literal["brief", "detailed", "bullet_points"]
    city: str


def test_a_boolean_is_true_only_when_the_request_affirms_it(gateway: LocalGateway) -> None:
    model = plain(gateway).with_structured_output(Brief, method="json_schema")
    clear = model.invoke("I need the weather in Paris, urgently.")
    assert isinstance(clear, Brief)
    assert (clear.need_clarification, clear.is_urgent, clear.city) == (False, True, "Paris")
    refused = model.invoke("No clarification needed: weather in Rome?")
    assert isinstance(refused, Brief) and refused.need_clarification is False
    vague = model.invoke("Can you help me with this?")
    assert isinstance(vague, Brief) and vague.need_clarification is True


def test_an_enum_takes_the_member_the_conversation_mentions_else_the_first(
    gateway: LocalGateway,
) -> None:
    model = plain(gateway).with_structured_output(Brief, method="json_schema")
    earlier = [
        HumanMessage("Answer me in bullet points from now on."),
        AIMessage("Sure."),
        HumanMessage("What is the weather in Kyoto?"),
    ]
    assert model.invoke(earlier).style == "bullet_points"  # type: ignore[union-attr]
    assert model.invoke("Weather in Kyoto, detailed please").style == "detailed"  # type: ignore[union-attr]
    assert model.invoke("Weather in Kyoto?").style == "brief"  # type: ignore[union-attr]


# --- 2. tool choice by the request's words; text once a tool answered ----------------------
@tool
def search(query: str) -> str:
    """Search the web for documents about a query."""
    return "found"


def test_tool_choice_matches_words_and_stems_with_a_stable_tie_break(
    gateway: LocalGateway,
) -> None:
    bound = plain(gateway).bind_tools([search, weather, population])
    forecasts = bound.invoke("Forecasts for Lyon this weekend")
    assert [c["name"] for c in forecasts.tool_calls] == ["weather"]
    nothing_fits = plain(gateway).bind_tools([population, weather]).invoke("Hello there")
    assert [c["name"] for c in nothing_fits.tool_calls] == ["population"]  # first listed


def test_an_agent_answers_in_text_once_a_tool_answered_and_terminates(
    gateway: LocalGateway,
) -> None:
    agent = create_agent(plain(gateway), tools=[weather, population, calculator])
    out = agent.invoke({"messages": [HumanMessage("How many people live in Osaka?")]})
    kinds = [type(m).__name__ for m in out["messages"]]
    assert kinds == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    assert out["messages"][1].tool_calls[0]["name"] == "population"
    assert "1.46 million" in out["messages"][-1].content
    assert [bool(r.tools) for r in gateway.log] == [True, True]
    assert len(gateway.log) == 2


# --- 3. arguments per field ----------------------------------------------------------------
class Stop(BaseModel):
    city: str
    nights: int


@tool
def plan_trip(stops: list[Stop], year: int) -> str:
    """Plan a trip: the stops with their nights, in a year."""
    return "planned"


@tool
def distance(from_city: str, to_city: str) -> str:
    """Distance between two cities."""
    return "1,100 km"


@tool
def compare(cities: list[str], metric: Literal["population", "area", "weather"]) -> str:
    """Compare cities on one metric."""
    return "compared"


def args_of(gateway: LocalGateway, tool_: Any, text: str) -> dict[str, Any]:
    bound = plain(gateway).bind_tools([tool_], tool_choice=tool_.name)
    calls = bound.invoke(text).tool_calls
    assert [c["name"] for c in calls] == [tool_.name]
    return dict(calls[0]["args"])


def test_arguments_are_extracted_per_field(gateway: LocalGateway) -> None:
    assert args_of(gateway, search, "What is the capital and population of Japan?") == {
        "query": "capital and population of Japan"
    }
    assert args_of(gateway, distance, "How far is it from Paris to Rome?") == {
        "from_city": "Paris",
        "to_city": "Rome",
    }
    assert args_of(gateway, compare, "Compare Paris, Rome and Berlin by area") == {
        "cities": ["Paris", "Rome", "Berlin"],
        "metric": "area",
    }
    assert args_of(gateway, plan_trip, "In 2026: Paris for 2 nights, then Rome for 3 nights") == {
        "stops": [{"city": "Paris", "nights": 2}, {"city": "Rome", "nights": 3}],
        "year": 2026,
    }
    assert args_of(gateway, calculator, "Please compute (3 + 4) * 2.5 for me") == {
        "expression": "(3 + 4) * 2.5"
    }


# --- 4. scripts per model and per task, node or agent --------------------------------------
def test_scripts_per_agent_and_the_most_specific_queue_wins(gateway: LocalGateway) -> None:
    gateway.script("gpt-4o-mini", ["for the math agent"], agent="math_expert")
    gateway.script("gpt-4o-mini", ["for the node"], node="agent")
    gateway.script("gpt-4o-mini", ["for critique"], task="critique")
    model = init_routing_model(base_url=gateway.base_url, api_key=gateway.master_key)
    in_team = {"metadata": {"langgraph_node": "agent", "lc_agent_name": "math_expert"}}
    assert model.with_task("critique").invoke("x", in_team).content == "for critique"
    assert model.invoke("x", in_team).content == "for the node"
    assert model.invoke("x", in_team).content == "for the math agent"
    assert [(r.task, r.node, r.agent) for r in gateway.log] == [
        ("critique", "agent", "math_expert"),
        ("tool_select", "agent", "math_expert"),
        ("tool_select", "agent", "math_expert"),
    ]


def test_a_plain_client_is_scripted_through_the_spend_logs_metadata(
    gateway: LocalGateway,
) -> None:
    gateway.script("gpt-4o", ["the planner's plan"], task="plan")
    gateway.script("gpt-4o", ["anything else"])
    sdk = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.master_key, max_retries=0)
    meta = {"x-litellm-spend-logs-metadata": json.dumps({"task": "plan", "node": "planner"})}
    hello = [{"role": "user", "content": "hi"}]
    other = sdk.chat.completions.create(model="gpt-4o", messages=hello)  # type: ignore[arg-type]
    planned = sdk.chat.completions.create(
        model="gpt-4o",
        messages=hello,  # type: ignore[arg-type]
        extra_headers=meta,
    )
    assert (other.choices[0].message.content, planned.choices[0].message.content) == (
        "anything else",
        "the planner's plan",
    )
    assert [(r.task, r.node) for r in gateway.log] == [(None, None), ("plan", "planner")]
    with pytest.raises(GatewayConfigError, match="script: node must be a non-empty string"):
        gateway.script("gpt-4o", ["x"], node="")


# --- 5. the request body in the log ---------------------------------------------------------
def test_the_log_keeps_the_body_fields_of_any_client_and_never_the_key(
    gateway: LocalGateway,
) -> None:
    sdk = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.master_key, max_retries=0)
    fn = {"name": "weather", "parameters": {"type": "object", "properties": {}}}
    sdk.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
        tools=[{"type": "function", "function": fn}],  # type: ignore[list-item]
        tool_choice={"type": "function", "function": {"name": "weather"}},
        parallel_tool_calls=True,
        max_completion_tokens=55,
        user="alice",
        extra_headers={"x-litellm-tags": "task:tool_select,node:agent,agent:researcher"},
    )
    record = gateway.log[-1]
    assert (record.max_tokens, record.parallel_tool_calls, record.user) == (55, True, "alice")
    assert record.tool_choice == {"type": "function", "function": {"name": "weather"}}
    assert (record.tools, record.task, record.node, record.agent) == (
        ("weather",),
        "tool_select",
        "agent",
        "researcher",
    )
    assert "authorization" not in record.headers
    assert gateway.master_key not in repr(record) + json.dumps(dict(record.headers))
