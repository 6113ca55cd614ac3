"""A graph shaped like open_deep_research (langchain-ai/open_deep_research, deep_researcher.py):
structured clarification, a human answer through ``interrupt``, a research brief, a ``Send``
fan-out to researcher subgraphs with tools, and a final report, streamed with
``stream_mode="messages", subgraphs=True``. Written for this test in the same shape, not copied.
"""

from __future__ import annotations

import math
import operator
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph, add_messages
from langgraph.types import Command, Send, interrupt
from pydantic import BaseModel

from langgraph_routing import (
    RoutingPolicy,
    cost_tracking,
    init_routing_model,
    list_threads,
    open_checkpointer,
)
from langgraph_routing.testing import LocalGateway

POLICY = RoutingPolicy.default().updated(
    {
        "node_tasks": {
            "clarify_with_user": "plan",
            "write_research_brief": "plan",
            "researcher/researcher_llm": "tool_select",
            "researcher/compress_research": "critique",
            "final_report_generation": "synthesize",
        }
    }
)

# the original passes init_chat_model's configurable fields per step; with a routing model the
# policy chooses the model (node_tasks above) and these keys have no effect
STEP_CONFIG: Any = {"model": "openai:gpt-4.1", "max_tokens": 10000, "tags": ["langsmith:nostream"]}


class ClarifyWithUser(BaseModel):
    need_clarification: bool
    question: str


class ResearchQuestion(BaseModel):
    research_brief: str


@tool
def population(city: str) -> str:
    """Population of a city."""
    return f"{city}: 1.46 million"


class AgentState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    question: str
    research_brief: str
    notes: Annotated[list[str], operator.add]
    final_report: str


class ResearcherState(TypedDict, total=False):
    topic: str
    researcher_messages: Annotated[list[AnyMessage], add_messages]
    notes: Annotated[list[str], operator.add]


def build(model: Any, saver: Any) -> Any:
    def clarify_with_user(state: AgentState) -> dict[str, Any]:
        # as the original: structured output, a retry, and per-step model settings in a config
        clarifier = (
            model.with_structured_output(ClarifyWithUser)
            .with_retry(stop_after_attempt=3)
            .with_config(STEP_CONFIG)
        )
        verdict = clarifier.invoke(state["messages"])
        return {"question": verdict.question if verdict.need_clarification else ""}

    def ask_user(state: AgentState) -> dict[str, Any]:
        if not state.get("question"):
            return {}
        answer = interrupt(state["question"])
        return {"messages": [HumanMessage(str(answer))]}

    def write_research_brief(state: AgentState) -> dict[str, Any]:
        writer = model.with_structured_output(ResearchQuestion).with_retry(stop_after_attempt=3)
        brief = writer.with_config(STEP_CONFIG).invoke(state["messages"])
        return {"research_brief": brief.research_brief}

    def fan_out(state: AgentState) -> list[Send]:
        return [Send("researcher", {"topic": t}) for t in ("Kyoto", "Osaka")]

    def researcher_llm(state: ResearcherState) -> dict[str, Any]:
        history = state.get("researcher_messages") or [
            HumanMessage(f"How many people live in {state['topic']}?")
        ]
        reply = model.bind_tools([population]).invoke(history)
        return {"researcher_messages": [*history, reply]}

    def researcher_tools(state: ResearcherState) -> dict[str, Any]:
        last = state["researcher_messages"][-1]
        results = [
            ToolMessage(str(population.invoke(c["args"])), tool_call_id=c["id"])
            for c in getattr(last, "tool_calls", [])
        ]
        return {"researcher_messages": results}

    def after_llm(state: ResearcherState) -> str:
        last = state["researcher_messages"][-1]
        return "researcher_tools" if getattr(last, "tool_calls", None) else "compress_research"

    def compress_research(state: ResearcherState) -> dict[str, Any]:
        summary = model.invoke(
            [SystemMessage("Compress the findings."), *state["researcher_messages"]]
        )
        return {"notes": [str(summary.content)]}

    sub = StateGraph(ResearcherState)
    sub.add_node("researcher_llm", researcher_llm)
    sub.add_node("researcher_tools", researcher_tools)
    sub.add_node("compress_research", compress_research)
    sub.add_edge(START, "researcher_llm")
    sub.add_conditional_edges("researcher_llm", after_llm)
    sub.add_edge("researcher_tools", "researcher_llm")
    sub.add_edge("compress_research", END)

    def final_report_generation(state: AgentState) -> dict[str, Any]:
        notes = "\n".join(state.get("notes") or [])
        report = model.invoke([HumanMessage(f"{state['research_brief']}\n\nFindings:\n{notes}")])
        return {"final_report": str(report.content), "messages": [report]}

    graph = StateGraph(AgentState)
    graph.add_node("clarify_with_user", clarify_with_user)
    graph.add_node("ask_user", ask_user)
    graph.add_node("write_research_brief", write_research_brief)
    graph.add_node("researcher", sub.compile())
    graph.add_node("final_report_generation", final_report_generation)
    graph.add_edge(START, "clarify_with_user")
    graph.add_edge("clarify_with_user", "ask_user")
    graph.add_edge("ask_user", "write_research_brief")
    graph.add_conditional_edges("write_research_brief", fan_out, ["researcher"])
    graph.add_edge("researcher", "final_report_generation")
    graph.add_edge("final_report_generation", END)
    return graph.compile(checkpointer=saver)


def test_deep_research_shape_streams_routes_and_costs(gateway: LocalGateway, tmp_path: Any) -> None:
    gateway.script(
        "o3-mini",
        [
            '{"need_clarification": true, "question": "Which cities?"}',
            '{"research_brief": "Compare the populations of Kyoto and Osaka."}',
        ],
    )
    # one researcher call fails with a 503: the failure table sends it to the fallback
    gateway.add_fault("server_error", model="gpt-4o-mini", status=503, nth=2)
    config: Any = {"configurable": {"thread_id": "odr-1"}}
    # structured outputs and compressed notes keep no AIMessage in state: the handler's ledger,
    # attached to the checkpointer, is where the thread's cost comes from
    with (
        cost_tracking(POLICY) as costs,
        open_checkpointer(f"sqlite:///{tmp_path / 'odr.db'}", costs=costs) as saver,
    ):
        model = init_routing_model(POLICY, base_url=gateway.base_url, api_key=gateway.master_key)
        graph = build(model, saver)
        first = list(graph.stream({"messages": [("user", "Research city sizes")]}, config))
        assert any("__interrupt__" in chunk for chunk in first)
        asked = len(gateway.log)
        namespaces: set[tuple[str, ...]] = set()
        for ns, (_chunk, meta) in graph.stream(
            Command(resume="Kyoto and Osaka"), config, stream_mode="messages", subgraphs=True
        ):
            namespaces.add(tuple(n.split(":")[0] for n in ns))
            assert "langgraph_node" in meta
        state = graph.get_state(config).values
        [thread] = list_threads(saver)
    assert asked == 1  # the resume did not re-ask the clarification
    assert ("researcher",) in namespaces  # the subgraphs' tokens were streamed
    assert "Kyoto" in state["research_brief"] and len(state["notes"]) == 2
    # every step went to its task's model, the researchers' by subgraph/node path
    [failed] = [r for r in gateway.log if r.status == 503]
    assert failed.model == "gpt-4o-mini"
    after = gateway.log[gateway.log.index(failed) + 1 :]
    assert any(r.model == "claude-3-5-haiku-20241022" and r.node == failed.node for r in after)
    by_node = {(r.node, r.model) for r in gateway.log if r.model != "claude-3-5-haiku-20241022"}
    assert by_node == {
        ("clarify_with_user", "o3-mini"),
        ("write_research_brief", "o3-mini"),
        ("researcher_llm", "gpt-4o-mini"),
        ("compress_research", "gpt-4o-mini"),
        ("final_report_generation", "claude-3-5-sonnet-20241022"),
    }
    assert len([e for e in costs.entries if e.status == "error"]) == 1  # the 503 is in the ledger
    assert {e.agent for e in costs.entries if e.node == "researcher_llm"} == {"researcher"}
    assert gateway.log[0].response_format == "json_schema"  # structured output, as ChatOpenAI
    assert math.isclose(costs.total_usd, gateway.total_spend, rel_tol=1e-12)
    assert math.isclose(thread.cost_usd or 0.0, gateway.total_spend, rel_tol=1e-12)
    assert thread.calls == len(gateway.log)


def test_deep_research_shape_falls_back_and_costs_per_agent(gateway: LocalGateway) -> None:
    gateway.add_fault("server_error", model="o3-mini", status=503, times=None)
    sonnet = "claude-3-5-sonnet-20241022"  # o3-mini's fallback answers the plan steps
    gateway.script(
        sonnet,
        [
            '{"need_clarification": false, "question": ""}',
            '{"research_brief": "Compare the populations of Kyoto and Osaka."}',
        ],
        task="plan",
    )
    config: Any = {"configurable": {"thread_id": "odr-2"}}
    with cost_tracking(POLICY) as costs, open_checkpointer("memory://", costs=costs) as saver:
        model = init_routing_model(POLICY, base_url=gateway.base_url, api_key=gateway.master_key)
        state = build(model, saver).invoke({"messages": [("user", "City sizes?")]}, config)
        [thread] = list_threads(saver)
    assert "Kyoto" in state["research_brief"] and len(state["notes"]) == 2
    plan = [(r.model, r.status) for r in gateway.log if r.task == "plan"]
    assert plan == [("o3-mini", 503), (sonnet, 200)] * 2  # each plan step failed, then fell back
    assert math.isclose(costs.total_usd, gateway.total_spend, rel_tol=1e-9)
    by_agent = costs.report().by_agent()  # the subgraph is one agent; top-level nodes their own
    assert set(by_agent) == {
        "clarify_with_user",
        "write_research_brief",
        "researcher",
        "final_report_generation",
    }
    assert all(v > 0 for v in by_agent.values())
    assert thread.calls == len(gateway.log)
    assert math.isclose(thread.cost_usd or 0.0, gateway.total_spend, rel_tol=1e-9)
