"""list_threads / resume_thread / resume_failed against real LangGraph runs on each backend."""

from __future__ import annotations

import asyncio
import json
import operator
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph._internal._constants import CONFIG_KEY_DURABILITY
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from langgraph_routing.checkpointing._adapter import RoutingCheckpointer
from langgraph_routing.checkpointing._open import open_checkpointer
from langgraph_routing.checkpointing._resume import (
    aresume_failed,
    aresume_thread,
    resume_failed,
    resume_thread,
)
from langgraph_routing.checkpointing._threads import (
    ThreadInfo,
    alist_threads,
    list_threads,
    short_error,
)

SECRET = "sk-proj-SECRETSECRET42"


class State(TypedDict, total=False):
    costs: Annotated[list[dict[str, Any]], operator.add]
    stop_reason: str
    answer: str


class Harness:
    """A 3-node graph (plan -> act -> finish) whose ``act`` fails for 'broken' threads."""

    def __init__(self, checkpointer: Any) -> None:
        self.runs: Counter[tuple[str, str]] = Counter()
        self.durability: dict[str, Any] = {}  # the durability each thread's last finish ran with
        self.broken: set[str] = set()
        self.ask: set[str] = set()

        def _tid(config: RunnableConfig) -> str:
            return str(config["configurable"]["thread_id"])

        def plan(state: State, config: RunnableConfig) -> dict[str, Any]:
            self.runs[_tid(config), "plan"] += 1
            return {"costs": [{"call_id": "p", "model": "o3-mini", "cost_usd": 0.25}]}

        def act(state: State, config: RunnableConfig) -> dict[str, Any]:
            tid = _tid(config)
            self.runs[tid, "act"] += 1
            if tid in self.ask:
                reply = interrupt("approve?")
                return {"answer": str(reply)}
            if tid in self.broken:
                raise ValueError(f"gateway said no (key {SECRET})")
            return {"costs": [{"call_id": "a", "model": "gpt-4o-mini", "cost_usd": None}]}

        def finish(state: State, config: RunnableConfig) -> dict[str, Any]:
            self.runs[_tid(config), "finish"] += 1
            # LangGraph hands a run's durability to its nodes under this (internal) key
            self.durability[_tid(config)] = config["configurable"].get(CONFIG_KEY_DURABILITY)
            return {"stop_reason": "done"}

        g = StateGraph(State)
        g.add_node("plan", plan)
        g.add_node("act", act)
        g.add_node("finish", finish)
        g.add_edge(START, "plan")
        g.add_edge("plan", "act")
        g.add_edge("act", "finish")
        g.add_edge("finish", END)
        self.graph = g.compile(checkpointer=checkpointer)

    def start(self, thread_id: str) -> None:
        try:
            self.graph.invoke({}, {"configurable": {"thread_id": thread_id}})
        except ValueError:
            assert thread_id in self.broken

    async def astart(self, thread_id: str) -> None:
        try:
            await self.graph.ainvoke({}, {"configurable": {"thread_id": thread_id}})
        except ValueError:
            assert thread_id in self.broken


BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'threads.db'}"
    db_url: str = request.getfixturevalue("postgres_db_url")
    return db_url


@pytest.fixture
def checkpointer(url: str) -> Iterator[RoutingCheckpointer]:
    with open_checkpointer(url) as cp:
        yield cp


def _by_id(infos: list[ThreadInfo]) -> dict[str, ThreadInfo]:
    return {i.thread_id: i for i in infos}


def test_statuses_done_failed_interrupted(checkpointer: RoutingCheckpointer) -> None:
    h = Harness(checkpointer)
    h.broken.add("bad")
    h.ask.add("ask")
    for tid in ("ok", "bad", "ask"):
        h.start(tid)
    infos = _by_id(list_threads(checkpointer))
    assert set(infos) == {"ok", "bad", "ask"}
    assert {t: i.status for t, i in infos.items()} == {
        "ok": "done",
        "bad": "failed",
        "ask": "interrupted",
    }
    ok, bad = infos["ok"], infos["bad"]
    assert ok.cost_usd == 0.25 and ok.unknown_cost_calls == 1
    assert ok.models == ("gpt-4o-mini", "o3-mini")
    assert ok.stop_reason == "done" and ok.last_error is None and ok.next_nodes == ()
    assert ok.steps == 3 and ok.updated_at
    assert bad.stop_reason is None and bad.cost_usd == 0.25
    assert bad.last_error is not None and "ValueError" in bad.last_error
    assert "gateway said no" in bad.last_error and SECRET not in bad.last_error
    # The next nodes read from the checkpoint agree with LangGraph's own view.
    for tid in ("bad", "ask"):
        state = h.graph.get_state({"configurable": {"thread_id": tid}})
        assert infos[tid].next_nodes == tuple(sorted(state.next)) == ("act",)
    dumped = json.dumps([i.to_dict() for i in infos.values()])
    assert SECRET not in dumped
    assert json.loads(dumped)[0]["models"] is not None


def test_resume_thread_skips_finished_nodes(checkpointer: RoutingCheckpointer) -> None:
    h = Harness(checkpointer)
    h.broken.add("bad")
    h.start("bad")
    assert h.runs == Counter({("bad", "plan"): 1, ("bad", "act"): 1})
    h.broken.clear()
    result = resume_thread(h.graph, "bad", recursion_limit=10)
    assert result["stop_reason"] == "done"
    assert h.runs == Counter({("bad", "plan"): 1, ("bad", "act"): 2, ("bad", "finish"): 1})
    assert _by_id(list_threads(checkpointer))["bad"].status == "done"


def test_resumes_write_each_step_before_the_next_unless_told_otherwise(
    checkpointer: RoutingCheckpointer,
) -> None:
    """A resume runs with durability="sync" (a process killed mid-resume loses no finished,
    paid step: the SIGKILL loop of test_resume_crash is the fault-level proof); a caller may
    pass LangGraph's other modes, or None for the graph's own default."""
    h = Harness(checkpointer)
    threads = ("t1", "t2", "t3", "t4", "t5", "t6", "t7")
    h.broken |= set(threads)
    for tid in threads:
        h.start(tid)
    h.broken.clear()
    resume_thread(h.graph, "t1")
    resume_thread(h.graph, "t2", durability="exit")
    resume_thread(h.graph, "t3", durability=None)
    assert [o.ok for o in resume_failed(h.graph, checkpointer, thread_ids=["t4"])] == [True]
    # bindings of a graph are resumed the same way (async too), unless they set a durability
    asyncio.run(aresume_thread(h.graph.with_config(recursion_limit=9), "t5"))
    resume_thread(h.graph.with_retry(stop_after_attempt=1), "t6")
    resume_thread(h.graph.bind(durability="exit"), "t7")
    assert h.durability == {
        "t1": "sync",
        "t2": "exit",
        "t3": None,
        "t4": "sync",
        "t5": "sync",
        "t6": "sync",
        "t7": "exit",
    }


def test_resume_failed_reports_each_thread(checkpointer: RoutingCheckpointer) -> None:
    h = Harness(checkpointer)
    h.broken |= {"f1", "f2"}
    h.ask.add("ask")
    for tid in ("f1", "f2", "ok", "ask"):
        h.start(tid)
    h.broken.discard("f1")  # f1 is fixed, f2 still fails
    before = Counter(h.runs)
    outcomes = {o.thread_id: o for o in resume_failed(h.graph, checkpointer)}
    assert set(outcomes) == {"f1", "f2"}
    assert outcomes["f1"].ok and outcomes["f1"].status == "done"
    assert not outcomes["f2"].ok and outcomes["f2"].status == "failed"
    assert outcomes["f2"].error and SECRET not in outcomes["f2"].error
    json.dumps([o.to_dict() for o in outcomes.values()])
    delta = h.runs - before
    assert delta == Counter({("f1", "act"): 1, ("f1", "finish"): 1, ("f2", "act"): 1})
    statuses = {i.thread_id: i.status for i in list_threads(checkpointer)}
    assert statuses == {"f1": "done", "f2": "failed", "ok": "done", "ask": "interrupted"}


def test_interrupted_thread_resumes_with_command(checkpointer: RoutingCheckpointer) -> None:
    h = Harness(checkpointer)
    h.ask.add("ask")
    h.start("ask")
    out = h.graph.invoke(Command(resume="yes"), {"configurable": {"thread_id": "ask"}})
    assert out["answer"] == "yes"
    assert _by_id(list_threads(checkpointer))["ask"].status == "done"


@pytest.mark.parametrize(
    "backend", ["memory", "sqlite", pytest.param("pg", marks=pytest.mark.postgres)]
)
def test_async_helpers(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if backend == "memory":
        url = "memory://"
    elif backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'a.db'}"
    else:
        url = request.getfixturevalue("postgres_db_url")

    async def run() -> None:
        async with open_checkpointer(url) as cp:
            h = Harness(cp)
            h.broken |= {"f1", "f2"}
            for tid in ("f1", "f2", "ok"):
                await h.astart(tid)
            infos = _by_id(await alist_threads(cp))
            assert {t: i.status for t, i in infos.items()} == {
                "f1": "failed",
                "f2": "failed",
                "ok": "done",
            }
            h.broken.discard("f1")
            result = await aresume_thread(h.graph, "f1")
            assert result["stop_reason"] == "done"
            assert h.runs["f1", "plan"] == 1 and h.runs["f1", "act"] == 2
            outcomes = await aresume_failed(h.graph, cp)
            assert [(o.thread_id, o.ok) for o in outcomes] == [("f2", False)]

    asyncio.run(run())


def test_running_and_stale() -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    saver = RoutingCheckpointer(InMemorySaver())
    checkpoint = empty_checkpoint()
    checkpoint["ts"] = "2020-01-01T00:00:00+00:00"
    checkpoint["channel_values"] = {"branch:to:act": None}
    checkpoint["channel_versions"] = {"branch:to:act": 1}
    config: RunnableConfig = {"configurable": {"thread_id": "r", "checkpoint_ns": ""}}
    saver.put(config, checkpoint, {"step": 2}, {"branch:to:act": 1})
    [info] = list_threads(saver)
    assert (info.status, info.next_nodes, info.steps) == ("running", ("act",), 2)
    [stale] = list_threads(saver, stale_after=60)
    assert stale.status == "failed" and stale.last_error and "no new checkpoint" in stale.last_error


def test_short_error_redacts_and_truncates() -> None:
    text = short_error(
        "\"RuntimeError('Bearer abc.def token=xyz123 api_key: k-1 postgresql://u:pw1@h/db')\""
    )
    for secret in ("abc.def", "xyz123", "k-1", "pw1"):
        assert secret not in text
    assert text.startswith("RuntimeError(")
    assert len(short_error("x" * 5000)) <= 300
    assert short_error(ValueError("boom")) == "ValueError: boom"
