"""Drop-in fidelity (issue 10): the routing model in graphs we did not build.

Open task set, agent attribution, ChatOpenAI-like behaviour (overflow error, profile, parallel
tool calls, structured output, traced model), keyword arguments, budgets that let honest runs
finish, policy edits, shared clients. Every test goes through LocalGateway on 127.0.0.1.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, TypedDict

import pytest
from langchain.agents import create_agent
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.exceptions import ContextOverflowError
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.runnables import ConfigurableField
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph
from pydantic import BaseModel

from langgraph_routing import (
    ContextTooLargeError,
    CostCallbackHandler,
    PolicyError,
    RoutingError,
    RoutingMiddleware,
    RoutingPolicy,
    cost_tracking,
    create_routing_agent,
    init_routing_model,
)
from langgraph_routing._router import DifficultyRouter
from langgraph_routing.demo import DEMO_TOOLS
from langgraph_routing.testing import LocalGateway

DIGEST = RoutingPolicy.default().updated(
    {"tasks": {"digest": {"model": "gpt-4o"}}, "node_tasks": {"summarizer": "digest"}}
)


@tool
def population(city: str) -> str:
    """Population of a city."""
    return f"{city}: 1.46 million"


# ---- 1. open task set -----------------------------------------------------------------------


def test_policy_defined_task_by_binding_node_and_metadata(gateway: LocalGateway) -> None:
    model = init_routing_model(DIGEST, base_url=gateway.base_url, api_key=gateway.master_key)
    with cost_tracking(DIGEST) as costs:
        bound = model.with_task("digest").invoke("Summarise this")

        def summarizer(state: MessagesState) -> dict[str, Any]:
            return {"messages": [model.invoke(state["messages"])]}

        graph = StateGraph(MessagesState)
        graph.add_node("summarizer", summarizer)
        graph.add_edge(START, "summarizer")
        graph.add_edge("summarizer", END)
        out = graph.compile().invoke({"messages": [HumanMessage("long text")]})
        meta = model.invoke("x", config={"metadata": {"routing_task": "digest"}})
    for reply in (bound, out["messages"][-1], meta):
        assert reply.response_metadata["routing"]["task"] == "digest"
        assert reply.response_metadata["routing"]["model"] == "gpt-4o"
    assert [r.model for r in gateway.log] == ["gpt-4o"] * 3
    assert list(costs.report().by_task()) == ["digest"]
    assert costs.total_usd == math.fsum(r.cost_usd or 0 for r in gateway.log)


def test_unknown_task_lists_the_known_ones_before_any_request(gateway: LocalGateway) -> None:
    model = init_routing_model(DIGEST, base_url=gateway.base_url, api_key=gateway.master_key)
    with pytest.raises(PolicyError, match=r"unknown task 'digst' \(known: plan, .*digest\)"):
        model.with_task("digst")
    with pytest.raises(PolicyError, match="unknown task 'digst'"):
        model.invoke("x", config={"metadata": {"routing_task": "digst"}})
    with pytest.raises(PolicyError, match=r"node_tasks\.summarizer': task 'nope'"):
        DIGEST.updated({"node_tasks": {"summarizer": "nope"}})
    assert gateway.log == []


# ---- 3. attribution per agent -----------------------------------------------------------------


def _team(model: Any) -> Any:
    """A parent graph with two create_agent workers, both with a node named ``model``."""
    research = create_agent(model, [population], name="research_expert")
    math_agent = create_agent(model, [], name="math_expert")
    graph = StateGraph(MessagesState)
    graph.add_node("research_expert", research)
    graph.add_node("math_expert", math_agent)
    graph.add_edge(START, "research_expert")
    graph.add_edge("research_expert", "math_expert")
    graph.add_edge("math_expert", END)
    return graph.compile()


def test_cost_and_routing_per_agent_in_a_team(gateway: LocalGateway) -> None:
    policy = RoutingPolicy.default().updated(
        {"node_tasks": {"research_expert": "tool_select", "math_expert/model": "plan"}}
    )
    model = init_routing_model(policy, base_url=gateway.base_url, api_key=gateway.master_key)
    with cost_tracking(policy) as costs:
        _team(model).invoke({"messages": [HumanMessage("How many people live in Kyoto?")]})
    entries = costs.entries
    assert {e.node for e in entries} == {"model"}  # by node, everything collapses...
    by_agent = costs.report().by_agent()  # ...by agent it does not
    assert set(by_agent) == {"research_expert", "math_expert"}
    assert all(v > 0 for v in by_agent.values())
    models = {e.agent: {x.model for x in entries if x.agent == e.agent} for e in entries}
    assert models == {"research_expert": {"gpt-4o-mini"}, "math_expert": {"o3-mini"}}
    assert math.isclose(sum(by_agent.values()), gateway.total_spend, rel_tol=1e-12)
    # the gateway saw the agent too (tags), so its spend logs can be split the same way
    assert {r.agent for r in gateway.log} == {"research_expert", "math_expert"}


def test_middleware_budget_counts_subagent_spend(gateway: LocalGateway) -> None:
    routing = RoutingMiddleware(base_url=gateway.base_url, api_key=gateway.master_key)
    sub = create_agent(routing.model.with_task("plan"), [], name="writer")  # o3-mini

    @tool
    def delegate(question: str) -> str:
        """Ask the writer subagent to research and write about a question."""
        out = sub.invoke({"messages": [HumanMessage(question)]})
        return str(out["messages"][-1].content)

    question = {"messages": [HumanMessage("Ask the writer about Kyoto")]}
    first = create_agent(routing.model, [delegate], middleware=[routing]).invoke(question)
    parent_first = math.fsum(r.cost_usd or 0 for r in gateway.log if r.model == "gpt-4o-mini")
    sub_spend = math.fsum(r.cost_usd or 0 for r in gateway.log if r.model == "o3-mini")
    assert parent_first > 0 and sub_spend > 0
    synth = first["messages"][-1].response_metadata["routing"]
    sonnet = routing.policy.models[synth["model"]]
    need = sonnet.cost_usd(synth["prompt_tokens"], routing.policy.budget.min_output_tokens)
    # synthesize fits if only the parent's own calls count, not once the subagent's do
    budget = parent_first + need + sub_spend / 2
    gateway.reset()
    guarded = RoutingMiddleware(model=routing.model, budget_usd=budget)
    out = create_agent(guarded.model, [delegate], middleware=[guarded]).invoke(question)
    last = out["messages"][-1]
    assert last.response_metadata.get("stop_reason") == "budget_exhausted"
    assert math.isclose(last.response_metadata["spent_usd"], parent_first + sub_spend)
    assert [r.model for r in gateway.log] == ["gpt-4o-mini", "o3-mini"]
    assert gateway.total_spend <= budget


# ---- 4. behave like ChatOpenAI -----------------------------------------------------------------


def test_context_too_large_is_a_context_overflow_error() -> None:
    assert issubclass(ContextTooLargeError, ContextOverflowError)
    assert issubclass(ContextTooLargeError, RoutingError)


def _small_windows() -> RoutingPolicy:
    return RoutingPolicy.default().updated(
        {
            "models": {
                "gpt-4o-mini": {"context_window": 3000, "max_output_tokens": 200},
                "gpt-4o": {"context_window": 4000, "max_output_tokens": 200},
            },
        }
    )


def test_profile_comes_from_the_policy() -> None:
    model = init_routing_model(base_url="http://127.0.0.1:9/v1", api_key="sk-x")
    assert model.profile is not None and model.with_task("plan").profile is not None
    assert model.profile["max_input_tokens"] == 128000  # tool_select: gpt-4o-mini -> gpt-4o
    assert model.with_task("plan").profile["max_input_tokens"] == 200000  # o3-mini
    assert model.with_task("plan").profile["max_output_tokens"] == 100000
    assert model.profile["tool_calling"] is True and model.profile["structured_output"] is True
    small = init_routing_model(_small_windows(), base_url="http://127.0.0.1:9/v1", api_key="k")
    assert small.profile is not None and small.profile["max_input_tokens"] == 4000  # upgrade
    given = init_routing_model(base_url="http://127.0.0.1:9/v1", profile={"max_input_tokens": 7})
    assert given.profile == {"max_input_tokens": 7}


def test_fraction_summarization_triggers_on_the_policy_window(gateway: LocalGateway) -> None:
    from langchain.agents.middleware import SummarizationMiddleware

    policy = _small_windows()
    model = init_routing_model(policy, base_url=gateway.base_url, api_key=gateway.master_key)
    summarize = SummarizationMiddleware(model, trigger=("fraction", 0.5), keep=("messages", 2))
    agent = create_agent(model, [], middleware=[summarize])
    history: list[AnyMessage] = []
    for i in range(4):
        history += [HumanMessage(f"turn {i}: " + "lorem ipsum " * 250), AIMessage("ok")]
    out = agent.invoke({"messages": [*history, HumanMessage("and now?")]})
    # 0.5 of the 4,000-token window is passed: the history was summarised before the call
    assert len(out["messages"]) < len(history)
    assert any("summary" in str(m.content).lower() for m in out["messages"][:2])
    assert all(r.status == 200 for r in gateway.log)


def test_parallel_tool_calls_is_explicit_and_sent(gateway: LocalGateway) -> None:
    model = init_routing_model(base_url=gateway.base_url, api_key=gateway.master_key)
    assert "parallel_tool_calls" in inspect.signature(model.bind_tools).parameters
    model.bind_tools([population], parallel_tool_calls=False).invoke("Population of Kyoto?")
    model.with_task("plan").bind_tools([population], parallel_tool_calls=False).invoke("Plan")
    mini, o3 = gateway.log
    assert (mini.model, mini.parallel_tool_calls) == ("gpt-4o-mini", False)
    assert (o3.model, o3.parallel_tool_calls) == ("o3-mini", None)  # o3-mini does not take it


def test_structured_output_defaults_to_json_schema_like_chatopenai(gateway: LocalGateway) -> None:
    from langchain_openai import ChatOpenAI

    class Verdict(BaseModel):
        approved: bool
        reason: str

    ours = inspect.signature(init_routing_model(base_url="http://x/v1").with_structured_output)
    theirs = inspect.signature(ChatOpenAI.with_structured_output)
    assert ours.parameters["method"].default == theirs.parameters["method"].default
    model = init_routing_model(base_url=gateway.base_url, api_key=gateway.master_key)
    verdict = model.with_task("critique").with_structured_output(Verdict).invoke("Approve it?")
    assert isinstance(verdict, Verdict)
    assert gateway.log[-1].response_format == "json_schema"


class _StartMeta(BaseCallbackHandler):
    def __init__(self) -> None:
        self.models: list[str] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.models.append(str((kwargs.get("metadata") or {}).get("ls_model_name")))


def test_traced_model_name_follows_the_node_task(gateway: LocalGateway) -> None:
    model = init_routing_model(base_url=gateway.base_url, api_key=gateway.master_key)

    class S(TypedDict):
        messages: list[Any]

    graph = StateGraph(S)
    graph.add_node("plan", lambda s: {"messages": [model.invoke(s["messages"])]})
    graph.add_edge(START, "plan")
    graph.add_edge("plan", END)
    seen = _StartMeta()
    graph.compile().invoke({"messages": [HumanMessage("plan it")]}, {"callbacks": [seen]})
    assert seen.models == ["o3-mini"] == [r.model for r in gateway.log]


# ---- 5. keyword arguments go where they belong ----------------------------------------------


def test_init_kwargs_reach_the_routing_model_and_the_request(gateway: LocalGateway) -> None:
    handler = CostCallbackHandler()
    model = init_routing_model(
        base_url=gateway.base_url,
        api_key=gateway.master_key,
        callbacks=[handler],
        tags=["mine"],
        metadata={"team": "a"},
        max_tokens=300,
        temperature=0.25,
    )
    assert model.callbacks == [handler] and model.tags == ["mine"] and model.max_tokens == 300
    model.invoke("hello")
    assert handler.report().calls == 1 and handler.total_usd == gateway.total_spend > 0
    record = gateway.log[-1]
    assert record.max_tokens == 300 and record.temperature == 0.25
    with pytest.raises(TypeError, match="'temprature'; did you mean 'temperature'"):
        init_routing_model(base_url=gateway.base_url, temprature=0)
    with pytest.raises(ValueError, match="max_retries cannot be set"):
        init_routing_model(base_url=gateway.base_url, max_retries=3)


# ---- 6. budgets that let honest runs finish ------------------------------------------------


def test_readme_agent_finishes_under_its_budget(gateway: LocalGateway) -> None:
    agent = create_routing_agent(
        DEMO_TOOLS, base_url=gateway.base_url, api_key=gateway.master_key, budget_usd=0.05
    )
    out = agent.invoke({"messages": [("user", "What is 17.5 * 4 + 12?")]})
    assert out["stop_reason"] == "done"
    assert [d["node"] for d in out["routing"]][-1] == "synthesize"
    assert gateway.total_spend < 0.05
    # every request carried the max_tokens its budget reserved
    assert all(r.max_tokens is not None and r.max_tokens <= 4096 for r in gateway.log)


@pytest.mark.parametrize("times", [5])
def test_a_run_under_a_few_times_its_cost_is_never_stopped(
    gateway: LocalGateway, times: int
) -> None:
    question = {"messages": [("user", "What is 17.5 * 4 + 12?")]}
    free = create_routing_agent(DEMO_TOOLS, base_url=gateway.base_url, api_key=gateway.master_key)
    free.invoke(question)
    cost = gateway.total_spend
    gateway.reset()
    budget = times * cost
    for kind in ("template", "handler", "middleware"):
        gateway.reset()
        if kind == "template":
            out = create_routing_agent(
                DEMO_TOOLS,
                base_url=gateway.base_url,
                api_key=gateway.master_key,
                budget_usd=budget,
            ).invoke(question)
            assert out["stop_reason"] == "done", kind
        elif kind == "handler":
            handler = CostCallbackHandler(budget_usd=budget)
            out = free.invoke(question, {"callbacks": [handler]})
            assert out["stop_reason"] == "done", kind
        else:
            # routed like the template (synthesis by difficulty), so the same run costs the same
            policy = RoutingPolicy.default()
            mw = RoutingMiddleware(
                policy,
                base_url=gateway.base_url,
                api_key=gateway.master_key,
                budget_usd=budget,
                router=DifficultyRouter(policy),
            )
            out = create_agent(mw.model, DEMO_TOOLS, middleware=[mw]).invoke(question)
            assert "stop_reason" not in out["messages"][-1].response_metadata, kind
        assert gateway.total_spend <= budget, kind


# ---- 7. configuration ---------------------------------------------------------------------------


def test_policy_edits_are_validated() -> None:
    policy = RoutingPolicy.default()
    merged = policy.updated({"models": {"gpt-4o": {"input_per_million": 2.0}}})
    assert merged.models["gpt-4o"].input_per_million == 2.0
    assert merged.models["gpt-4o"].context_window == 128000  # deep merge kept the rest
    with pytest.raises(PolicyError, match="did you mean 'input_per_million'"):
        policy.updated({"models": {"gpt-4o": {"input_per_milion": 2.0}}})
    with pytest.raises(PolicyError, match=r"default_task\.digest"):
        policy.model_copy(update={"default_task": "digest"})
    assert policy.model_copy().tasks == policy.tasks


def test_no_gateway_is_a_clear_error_naming_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANGGRAPH_ROUTING_BASE_URL", raising=False)
    model = init_routing_model(api_key="sk-x")
    with pytest.raises(RoutingError, match="no gateway configured: pass base_url"):
        model.invoke("hi")


def test_configurable_task_field_works(gateway: LocalGateway) -> None:
    model = init_routing_model(base_url=gateway.base_url, api_key=gateway.master_key)
    configurable = model.configurable_fields(task=ConfigurableField(id="routing_task_field"))
    reply = configurable.with_config(configurable={"routing_task_field": "plan"}).invoke("go")
    assert reply.response_metadata["routing"]["model"] == "o3-mini" == gateway.log[-1].model


# ---- 8. one HTTP client per process and gateway -------------------------------------------


def test_models_built_per_call_share_one_client(gateway: LocalGateway) -> None:
    first = init_routing_model(base_url=gateway.base_url, api_key=gateway.master_key)
    first.invoke("a")
    second = init_routing_model(base_url=gateway.base_url, api_key=gateway.master_key)
    assert second._pool is first._pool
    assert second._pool.sync_client("gpt-4o-mini", gateway.master_key or "") is (
        first._pool.sync_client("gpt-4o-mini", gateway.master_key or "")
    )
    other = init_routing_model(base_url=gateway.base_url, api_key="k", temperature=0)
    assert other._pool is not first._pool
