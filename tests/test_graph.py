"""The prebuilt routing agent against LocalGateway (real HTTP; the request log is the proof)."""

from __future__ import annotations

import math
import uuid
from typing import Any

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver

from langgraph_routing import RoutesExhaustedError, RoutingPolicy
from langgraph_routing._graph import BudgetGuard, create_routing_agent
from langgraph_routing._nodes import ModelNode
from langgraph_routing._state import spent_usd
from langgraph_routing.demo import DEMO_QUESTIONS, DEMO_TOOLS
from langgraph_routing.testing import LocalGateway

PLAN, SELECT, SYNTH = "o3-mini", "gpt-4o-mini", "claude-3-5-sonnet-20241022"
EASY = SELECT  # the default policy's easy synthesis model (its tool_select model)
ALL_TOOLS = ("calculator", "lookup", "search_docs")
MODEL_NODES = ("plan", "tool_select", "synthesize", "critique")


def agent_for(gw: LocalGateway, **kw: Any) -> Any:
    return create_routing_agent(
        kw.pop("tools", DEMO_TOOLS), base_url=gw.base_url, api_key=gw.master_key, **kw
    )


def thread() -> RunnableConfig:
    return {"configurable": {"thread_id": str(uuid.uuid4())}}


def ask(question: str) -> dict[str, Any]:
    return {"messages": [("user", question)]}


def ledger_total(state: dict[str, Any]) -> float:
    return math.fsum(e["cost_usd"] for e in state["costs"] if e["cost_usd"] is not None)


def gateway_total(gw: LocalGateway) -> float:
    return math.fsum(r.cost_usd for r in gw.log if r.cost_usd is not None)


def policy_with(**changes: Any) -> RoutingPolicy:
    default = RoutingPolicy.default().model_dump(mode="json")
    data = {**default, **changes}
    if "tasks" in changes:
        data["tasks"] = {**default["tasks"], **changes["tasks"]}
    return RoutingPolicy.from_dict(data)


@pytest.mark.parametrize(
    "q", DEMO_QUESTIONS, ids=[q.tool + str(i) for i, q in enumerate(DEMO_QUESTIONS)]
)
def test_demo_question_is_answered_from_tools_by_the_policy_models(
    gateway: LocalGateway, q: Any
) -> None:
    out = agent_for(gateway).invoke(ask(q.question))

    assert out["stop_reason"] == "done"
    assert q.is_answered_by(out["final_answer"]), out["final_answer"]
    # a single-step question: no plan; after the tool result synthesize answers at once (no
    # second tool_select call), on the easy model (short closed answer, small tool result)
    assert [r.model for r in gateway.log] == [SELECT, EASY]
    assert all(r.ok for r in gateway.log)
    assert gateway.log[0].tools == gateway.log[1].tools == ALL_TOOLS
    tool_msgs = [m for m in out["messages"] if isinstance(m, ToolMessage)]
    assert [m.name for m in tool_msgs] == [q.tool]
    assert [(d["node"], d["task"], d["model"]) for d in out["routing"]] == [
        ("tool_select", "tool_select", SELECT),
        ("synthesize", "synthesize", EASY),
    ]
    assert out["routing"][0]["plan_gate"].startswith("no plan: single-step request")
    assert out["routing"][1]["router"].startswith("easy: ")
    assert out["routing"][1]["reason"].startswith("easy: ")
    assert "plan_gate" not in out["routing"][1]
    assert ledger_total(out) == gateway_total(gateway) == gateway.total_spend > 0
    assert [e["call_id"] for e in out["costs"]] == [r.call_id for r in gateway.log]
    assert out["plan"] == "" and out["model_steps"] == 2
    assert out["plan_gate"]["plan"] is False


def test_multi_step_request_is_planned(
    gateway: LocalGateway,
) -> None:
    question = "Look up the population of Japan, then divide it by 47."
    out = agent_for(gateway).invoke(ask(question))

    assert out["stop_reason"] == "done"
    assert [r.model for r in gateway.log] == [PLAN, SELECT, EASY]
    assert out["plan_gate"] == {"plan": True, "reason": "plan: sequencing marker 'then'"}
    assert out["routing"][0]["node"] == "plan"
    assert out["routing"][0]["plan_gate"] == "plan: sequencing marker 'then'"
    assert out["plan"] and gateway.log[0].tools == () and gateway.log[1].tools == ALL_TOOLS
    assert out["model_steps"] == 3


def test_plan_gate_is_pluggable_and_policy_modes_hold(gateway: LocalGateway) -> None:
    seen: list[tuple[str, tuple[str, ...]]] = []

    def gate(request: str, tools: Any) -> bool:
        seen.append((request, tuple(t.name for t in tools)))
        return True

    out = agent_for(gateway, plan_gate=gate).invoke(ask(DEMO_QUESTIONS[0].question))
    assert seen == [(DEMO_QUESTIONS[0].question, ALL_TOOLS)]
    assert out["routing"][0]["plan_gate"] == "plan: gate said True"
    assert [r.model for r in gateway.log] == [PLAN, SELECT, EASY]

    n = len(gateway.log)
    never = policy_with(planning={"mode": "never"})
    out = agent_for(gateway, policy=never).invoke(ask("First look it up, then compute it."))
    assert [r.model for r in gateway.log[n:]] == [SELECT, EASY]
    assert out["routing"][0]["plan_gate"] == "no plan: planning.mode is never"


def test_long_or_open_ended_synthesis_goes_to_the_hard_model(gateway: LocalGateway) -> None:
    report = " ".join(
        f"Quarter {i}: revenue grew by {i} percent in region {i}." for i in range(400)
    )
    out = agent_for(gateway).invoke(ask(f"{report}\n\nWhat was the growth in region 7?"))
    assert [r.model for r in gateway.log] == [SELECT, SYNTH]
    assert out["routing"][1]["router"].startswith("hard: prompt ~")

    n = len(gateway.log)
    out = agent_for(gateway).invoke(ask("Compare the capitals of Japan and France."))
    assert [r.model for r in gateway.log[n:]] == [SELECT, SYNTH]
    assert out["routing"][1]["router"] == f"hard: open-ended request -> {SYNTH}"

    n = len(gateway.log)
    off = policy_with(difficulty={})  # difficulty routing off: the task's model, always
    out = agent_for(gateway, policy=off).invoke(ask(DEMO_QUESTIONS[0].question))
    assert [r.model for r in gateway.log[n:]] == [SELECT, SYNTH]
    assert "router" not in out["routing"][1]


def test_no_tool_question_is_answered_by_tool_select_alone(gateway: LocalGateway) -> None:
    gateway.script(SELECT, ["Hello team, have a great week!"])  # the model calls no tool
    out = agent_for(gateway).invoke(ask("Say hello to the team in one short sentence."))

    assert [r.model for r in gateway.log] == [SELECT]  # no synthesize call to repeat it
    assert out["stop_reason"] == "done"
    assert out["final_answer"] == "Hello team, have a great week!"
    (decision,) = out["routing"]
    assert decision["router"].startswith("easy: ") and "no tool needed" in decision["router"]

    # an open-ended request the easy model may not answer alone: synthesize writes it
    gateway.script(SELECT, ["Some thoughts."])
    n = len(gateway.log)
    out = agent_for(gateway).invoke(ask("Explain why the sky is blue, in detail."))
    # (LocalGateway's synthesize, having the tools, looks something up first)
    assert [r.model for r in gateway.log[n:]] == [SELECT, SYNTH, SYNTH]
    assert out["routing"][-1]["router"].startswith("hard: open-ended")
    assert out["stop_reason"] == "done" and out["routing"][-1]["node"] == "synthesize"


def test_critique_on_default_is_lenient_and_ledger_stays_exact(gateway: LocalGateway) -> None:
    out = agent_for(gateway, critique=True).invoke(ask(DEMO_QUESTIONS[0].question))

    assert out["stop_reason"] == "done"
    assert [r.model for r in gateway.log] == [SELECT, EASY, SELECT]
    assert out["routing"][-1]["node"] == "critique" and out["critiques"] == 1
    assert ledger_total(out) == gateway.total_spend


def critic_policy() -> RoutingPolicy:
    return policy_with(tasks={"critique": {"model": "claude-3-5-haiku-20241022"}})


def test_critique_revise_then_approve_replaces_the_draft(gateway: LocalGateway) -> None:
    gateway.script("claude-3-5-haiku-20241022", ["REVISE: state the result once", "APPROVE"])
    out = agent_for(gateway, critique=True, policy=critic_policy()).invoke(ask("What is 2 + 3?"))

    assert out["stop_reason"] == "done" and out["critiques"] == 2
    models = [r.model for r in gateway.log]
    assert models[-4:] == [EASY, "claude-3-5-haiku-20241022", EASY, "claude-3-5-haiku-20241022"]
    # the revision prompt carried the feedback; the revised draft replaced the first one
    drafts = [m for m in out["messages"] if m.response_metadata.get("routing_draft")]
    assert len(drafts) == 1 and drafts[0].content == out["final_answer"]
    assert ledger_total(out) == gateway.total_spend


def test_critique_still_rejecting_after_max_critiques_stops(gateway: LocalGateway) -> None:
    gateway.script("claude-3-5-haiku-20241022", ["REVISE: no", "REVISE: still no", "APPROVE"])
    agent = agent_for(gateway, critique=True, policy=critic_policy(), max_critiques=2)
    out = agent.invoke(ask("What is 2 + 3?"))

    assert out["stop_reason"] == "critique_rejected"
    assert out["critique"] == "still no"
    assert len(gateway.calls("claude-3-5-haiku-20241022")) == 2
    assert [d["node"] for d in out["routing"]].count("synthesize") == 2
    assert out["final_answer"] == out["messages"][-1].content


def _needs(agent: Any, guard: BudgetGuard, config: RunnableConfig) -> list[tuple[str, float]]:
    """(node, spent + reservation) before each model step of a finished reference run."""
    history = list(agent.get_state_history(config))[::-1]
    out = []
    for snap in history:
        if snap.next and snap.next[0] in MODEL_NODES:
            node = agent.builder.nodes[snap.next[0]].runnable
            assert isinstance(node, ModelNode)
            reserve, _ = guard.reservation(node, snap.values)
            out.append((node.name, spent_usd(snap.values) + reserve))
    return out


def test_tiny_budget_stops_before_the_third_call(make_gateway: Any) -> None:
    # reservations of the order of real calls; always plan, so the run has three model steps
    policy = policy_with(reserve_output_tokens=16, planning={"mode": "always"})
    reference = make_gateway()
    ref_agent = agent_for(reference, policy=policy, checkpointer=InMemorySaver())
    config = thread()
    ref_agent.invoke(ask(DEMO_QUESTIONS[1].question), config)
    needs = _needs(ref_agent, BudgetGuard(policy), config)
    assert [n for n, _ in needs] == ["plan", "tool_select", "synthesize"]
    budget = (max(needs[0][1], needs[1][1]) + needs[2][1]) / 2  # ~2.5 calls
    assert needs[0][1] <= budget and needs[1][1] <= budget < needs[2][1]

    gw = make_gateway()
    out = agent_for(gw, policy=policy, budget_usd=budget).invoke(ask(DEMO_QUESTIONS[1].question))

    assert out["stop_reason"] == "budget_exhausted"
    assert [r.model for r in gw.log] == [PLAN, SELECT]  # no third request
    last = out["messages"][-1]
    assert isinstance(last, AIMessage) and "budget" in last.content
    assert out["final_answer"] == last.content
    assert ledger_total(out) == gw.total_spend <= budget


def test_budget_holds_across_turns_of_a_thread(gateway: LocalGateway) -> None:
    agent = agent_for(gateway, checkpointer=InMemorySaver(), budget_usd=0.1)
    config = thread()
    first = agent.invoke(ask(DEMO_QUESTIONS[0].question), config)
    assert first["stop_reason"] == "done"
    spent = ledger_total(first)
    # a budget the first turn already used up: the second turn stops before its first call
    tight = create_routing_agent(
        DEMO_TOOLS,
        base_url=gateway.base_url,
        api_key=gateway.master_key,
        checkpointer=agent.checkpointer,
        budget_usd=spent + 1e-6,
    )
    n = len(gateway.log)
    second = tight.invoke(ask(DEMO_QUESTIONS[3].question), config)
    assert second["stop_reason"] == "budget_exhausted"
    assert len(gateway.log) == n
    assert "Stopped before tool_select" in second["final_answer"]


def test_gateway_budget_refusal_ends_gracefully(gateway: LocalGateway) -> None:
    gateway.add_fault("budget_exceeded", model=SELECT)
    out = agent_for(gateway).invoke(ask(DEMO_QUESTIONS[0].question))

    assert out["stop_reason"] == "gateway_budget_exceeded"
    assert [(r.model, r.status) for r in gateway.log] == [(SELECT, 422)]
    assert "gateway refused" in out["final_answer"]
    assert ledger_total(out) == gateway.total_spend


def test_tool_error_becomes_an_error_tool_message(gateway: LocalGateway) -> None:
    @tool
    def weather(city: str) -> str:
        """Current weather of a city."""
        raise RuntimeError("weather service is down")

    out = agent_for(gateway, tools=[weather]).invoke(ask("What is the weather in Paris?"))

    errors = [m for m in out["messages"] if isinstance(m, ToolMessage)]
    assert len(errors) == 1 and errors[0].status == "error"
    assert "weather service is down" in errors[0].content
    assert out["stop_reason"] == "done"
    assert "weather service is down" in out["final_answer"]


def test_max_steps_stops_the_run(gateway: LocalGateway) -> None:
    out = agent_for(gateway, max_steps=1).invoke(ask(DEMO_QUESTIONS[0].question))

    assert out["stop_reason"] == "max_steps"
    assert [r.model for r in gateway.log] == [SELECT]
    assert "max_steps=1" in out["final_answer"]


def test_outage_then_resume_does_not_repeat_finished_steps(gateway: LocalGateway) -> None:
    policy = policy_with(planning={"mode": "always"}, difficulty={})  # synthesis on SYNTH
    down = [SYNTH, *policy.fallback_chain(SYNTH)]
    for model in down:
        gateway.add_fault("server_error", model=model, times=None, status=503)
    agent = agent_for(gateway, checkpointer=InMemorySaver(), policy=policy)
    config = thread()

    with pytest.raises(RoutesExhaustedError):
        agent.invoke(ask(DEMO_QUESTIONS[1].question), config)
    assert [r.model for r in gateway.log] == [PLAN, SELECT, *down]
    assert agent.get_state(config).next == ("synthesize",)

    gateway.clear_faults()
    n = len(gateway.log)
    out = agent.invoke(None, config)

    assert [r.model for r in gateway.log[n:]] == [SYNTH]  # plan/tool_select not requested again
    assert out["stop_reason"] == "done"
    assert DEMO_QUESTIONS[1].is_answered_by(out["final_answer"])
    assert ledger_total(out) == gateway.total_spend
    ok = sorted(e["call_id"] for e in out["costs"] if e["status"] == "ok")
    assert ok == sorted(r.call_id for r in gateway.log if r.ok)


def test_no_secret_in_state_or_checkpoints(gateway: LocalGateway) -> None:
    saver = InMemorySaver()
    agent = agent_for(gateway, checkpointer=saver, critique=True)
    out = agent.invoke(ask(DEMO_QUESTIONS[0].question), thread())

    key = gateway.master_key
    assert key is not None
    assert key not in repr(out)
    blobs = [repr(v) for v in saver.storage.values()] + [repr(v) for v in saver.blobs.values()]
    assert blobs and not any(key in b for b in blobs)
