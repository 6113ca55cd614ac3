"""The scripted demo behind ``langgraph-routing demo`` (no printing here: the CLI renders it).

:func:`run_demo` starts a :class:`~langgraph_routing.testing.LocalGateway`, runs the routing
agent over the demo questions with a SQLite checkpointer, and along the way:

- makes one ``tool_select`` call fail once (503), so the step falls back along the policy's chain;
- takes the synthesize model (and its fallback chain) down for one run, so that run fails after
  its plan and tool steps are checkpointed; ends the outage and resumes the thread;
- counts the gateway's requests per node and model before and during the resume, to show that
  no finished step was sent again;
- compares the cost ledger (the ``costs`` channel of every thread) with the gateway's spend, and
  prices the same calls as if every step had gone to the frontier model.

Example::

    result = run_demo(Path("/tmp/demo"), questions=3)
    assert result.all_answered and result.ledger_matches_gateway
"""

from __future__ import annotations

import json
import secrets
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig

from langgraph_routing._errors import RoutesExhaustedError, RoutingError
from langgraph_routing._graph import create_routing_agent
from langgraph_routing._policy import AgentTask, RoutingPolicy
from langgraph_routing._report import CostReport
from langgraph_routing.checkpointing._open import open_checkpointer
from langgraph_routing.checkpointing._resume import resume_thread
from langgraph_routing.checkpointing._threads import list_threads, short_error
from langgraph_routing.cli._demo_result import DemoOutage, DemoResult, DemoRun, NodeModel
from langgraph_routing.demo import DEMO_QUESTIONS, DEMO_TOOLS
from langgraph_routing.testing import LocalGateway, RequestRecord

__all__ = [
    "FRONTIER_MODEL",
    "DemoEvent",
    "DemoOutage",
    "DemoResult",
    "DemoRun",
    "request_origin",
    "run_demo",
]

FRONTIER_MODEL = "claude-3-5-sonnet-20241022"
_META_HEADER = "x-litellm-spend-logs-metadata"

DemoEvent = Callable[[str, Mapping[str, Any]], None]
"""``on_event(kind, data)``: ``"start"``, ``"question"``, ``"step"``, ``"failed"``,
``"resumed"`` and ``"answer"``, in the order they happen."""


def request_origin(record: RequestRecord) -> tuple[str | None, str | None]:
    """``(thread_id, node)`` of a gateway request, from the spend-logs metadata header the
    routing model sends with every call."""
    raw = record.headers.get(_META_HEADER)
    try:
        meta = json.loads(raw) if raw else {}
    except ValueError:
        meta = {}
    if not isinstance(meta, dict):
        return None, None
    thread, node = meta.get("thread_id"), meta.get("node")
    return (str(thread) if thread else None), (str(node) if node else None)


def _requests_by_node(records: list[RequestRecord], thread_id: str) -> Counter[NodeModel]:
    counts: Counter[NodeModel] = Counter()
    for record in records:
        thread, node = request_origin(record)
        if thread == thread_id:
            counts[(node or "?", record.model or "?")] += 1
    return counts


def _pick_indexes(n: int) -> tuple[int, int | None]:
    """(the question run through the outage, the question with a one-off failure)."""
    outage = min(2, n - 1)
    reroute = next((i for i in (3, 1, 0) if i < n and i != outage), None)
    return outage, reroute


def _frontier_price(policy: RoutingPolicy, model: str) -> Callable[[dict[str, Any]], float | None]:
    spec = policy.models[model]

    def price(entry: dict[str, Any]) -> float | None:
        if entry.get("cost_usd") is None:
            return None
        return spec.cost_usd(
            int(entry.get("prompt_tokens") or 0), int(entry.get("completion_tokens") or 0)
        )

    return price


def run_demo(
    workdir: Path | None = None,
    *,
    questions: int | None = None,
    on_event: DemoEvent | None = None,
    policy: RoutingPolicy | None = None,
    frontier_model: str = FRONTIER_MODEL,
) -> DemoResult:
    """Run the demo; ``workdir`` (default: a new temporary folder) holds ``demo.db``."""
    started = time.perf_counter()
    emit: DemoEvent = on_event or (lambda kind, data: None)
    # the demo shows every step on its task's model (plan always; synthesis never on the easy
    # model), so its outage of the synthesize model hits the synthesize step
    policy = (policy or RoutingPolicy.default()).updated(
        {"planning": {"mode": "always"}, "difficulty": {}}
    )
    if frontier_model not in policy.models:
        raise ValueError(f"frontier model {frontier_model!r} is not in the policy")
    chosen = list(DEMO_QUESTIONS[: questions if questions is not None else len(DEMO_QUESTIONS)])
    if not chosen:
        raise ValueError("the demo needs at least one question")
    workdir = Path(workdir or tempfile.mkdtemp(prefix="langgraph-routing-demo-")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{workdir / 'demo.db'}"
    prefix = f"demo-{secrets.token_hex(3)}"
    outage_at, reroute_at = _pick_indexes(len(chosen))
    runs: list[DemoRun] = []
    outage: DemoOutage | None = None
    reroute_thread: str | None = None

    with LocalGateway.from_policy(policy) as gw, open_checkpointer(db_url) as checkpointer:
        graph = create_routing_agent(
            DEMO_TOOLS,
            policy=policy,
            checkpointer=checkpointer,
            base_url=gw.base_url,
            api_key=gw.master_key,
        )
        emit("start", {"gateway_url": gw.base_url, "db_url": db_url, "questions": len(chosen)})
        for index, question in enumerate(chosen):
            thread_id = f"{prefix}-q{index + 1}"
            config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
            note = ""
            fault = ""
            if index == reroute_at:
                model = policy.tasks[AgentTask.TOOL_SELECT].model
                gw.add_fault("server_error", model=model, status=503, times=1)
                fault = f"{model} answers its next call with 503"
                note, reroute_thread = "rerouted", thread_id
            down: list[str] = []
            if index == outage_at:
                synth = policy.tasks[AgentTask.SYNTHESIZE].model
                down = [synth, *policy.fallback_chain(synth)]
                for model in down:
                    gw.add_fault("server_error", model=model, status=503, times=None)
                verb = "answers" if len(down) == 1 else "answer"
                fault = f"outage: {', '.join(down)} {verb} 503 to every call"
                note = "failed, resumed"
            emit(
                "question",
                {
                    "index": index,
                    "total": len(chosen),
                    "question": question.question,
                    "thread_id": thread_id,
                    "fault": fault,
                },
            )
            log_mark = len(gw.log)
            try:
                for chunk in graph.stream(
                    {"messages": [("user", question.question)]}, config, stream_mode="custom"
                ):
                    if isinstance(chunk, dict) and chunk.get("event") == "routing":
                        emit("step", chunk)
            except RoutingError as exc:
                if not down:
                    raise
                outage = _record_failure(exc, thread_id, down, checkpointer, graph, gw, log_mark)
                emit("failed", {"outage": outage})
                gw.clear_faults()  # the outage ends
                _resume(graph, gw, checkpointer, outage, emit)
            else:
                if down:
                    raise RuntimeError("the demo's outage did not make the run fail")
            gw.clear_faults()
            values = graph.get_state(config).values
            run = DemoRun(
                index,
                question,
                thread_id,
                str(values.get("final_answer") or ""),
                values.get("stop_reason"),
                list(values.get("routing") or []),
                list(values.get("costs") or []),
                note,
            )
            runs.append(run)
            emit("answer", {"run": run})
        log = gw.log
        spend = gw.total_spend
        gateway_url = gw.base_url

    report = CostReport(e for run in runs for e in run.costs)
    return DemoResult(
        workdir=workdir,
        db_url=db_url,
        gateway_url=gateway_url,
        policy=policy,
        runs=runs,
        outage=outage,
        reroute_thread=reroute_thread,
        gateway_log=log,
        gateway_spend_usd=spend,
        report=report,
        savings=report.savings_vs(_frontier_price(policy, frontier_model)),
        frontier_model=frontier_model,
        elapsed_s=time.perf_counter() - started,
    )


def _record_failure(
    exc: RoutingError,
    thread_id: str,
    down: list[str],
    checkpointer: Any,
    graph: Any,
    gw: LocalGateway,
    log_mark: int,
) -> DemoOutage:
    status, next_nodes = _thread_status(checkpointer, thread_id)
    records = gw.log
    ok = [r for r in records if r.ok]
    bad = [r for r in records[log_mark:] if not r.ok]
    values = graph.get_state({"configurable": {"thread_id": thread_id}}).values
    finished = [
        (str(e.get("node")), int(e.get("step") or 0))
        for e in values.get("costs") or []
        if e.get("status") == "ok"
    ]
    return DemoOutage(
        thread_id=thread_id,
        models=down,
        error=short_error(exc),
        attempts=list(exc.attempts) if isinstance(exc, RoutesExhaustedError) else [],
        status_after_failure=status,
        next_nodes=next_nodes,
        before=_requests_by_node(ok, thread_id),
        failed=_requests_by_node(bad, thread_id),
        finished_steps=finished,
    )


def _thread_status(checkpointer: Any, thread_id: str) -> tuple[str, tuple[str, ...]]:
    info = next(i for i in list_threads(checkpointer) if i.thread_id == thread_id)
    return info.status, info.next_nodes


def _resume(
    graph: Any, gw: LocalGateway, checkpointer: Any, outage: DemoOutage, emit: DemoEvent
) -> None:
    config: RunnableConfig = {"configurable": {"thread_id": outage.thread_id}}
    before_ids = {e["call_id"] for e in graph.get_state(config).values.get("costs") or []}
    before_steps = len(graph.get_state(config).values.get("routing") or [])
    mark = len(gw.log)
    resume_thread(graph, outage.thread_id)
    values = graph.get_state(config).values
    outage.during_resume = _requests_by_node(gw.log[mark:], outage.thread_id)
    outage.resumed_steps = [
        (str(e.get("node")), int(e.get("step") or 0))
        for e in values.get("costs") or []
        if e["call_id"] not in before_ids
    ]
    outage.status_after_resume = _thread_status(checkpointer, outage.thread_id)[0]
    emit("resumed", {"outage": outage, "steps": list(values.get("routing") or [])[before_steps:]})
