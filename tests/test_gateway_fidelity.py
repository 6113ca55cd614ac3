"""LocalGateway answers like a plausible model, so third-party agents run as they would:
booleans and enums from the request, the tool whose description fits, arguments per field,
scripts per model and per task or node, and the request body in the log."""

from __future__ import annotations

import json

from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from langgraph_routing import init_routing_model
from langgraph_routing.testing import LocalGateway


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
