"""Overhead of RoutingCheckpointer over the raw saver: put / get_tuple / list.

Usage::

    python benchmarks/bench_checkpoint.py [--ops 500] [--postgres URL | --no-postgres]

Raw and adapter calls alternate within each iteration, on the same saver and database (each
with its own thread), so drift hits both alike. Three workloads:

- ``fresh-ledger`` (the worst case, and the original benchmark): every put carries a brand-new
  20-entry cost ledger under a new version, and some messages, so the adapter re-reads all of
  it every time;
- ``template``: a thread as our template writes it: a model step appends one AIMessage and one
  ledger entry, a tool step one ToolMessage; only written channels get a new version;
- ``messages``: the same for a plain ``MessagesState`` graph (no ledger): cost comes from the
  routing records on the AIMessages.

Graph workloads call the saver as LangGraph does at the end of each step: ``put_writes`` (the
task's writes, on the parent checkpoint), then ``put``. Both are timed, and ``step`` is their
sum per step: the adapter reads a task's routed messages in ``put_writes`` (a ``DeltaChannel``
keeps them out of the checkpoint), so its ``put`` alone would flatter it. They start a new
thread every 40 steps. Without ``--postgres`` a private PostgreSQL
cluster is started on 127.0.0.1 when the server binaries are installed. Prints medians
(microseconds) and the adapter/raw ratio; the goal is a ratio <= 1.10 on ``put`` and ``step``.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langgraph.checkpoint.base import BaseCheckpointSaver, Checkpoint, empty_checkpoint
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver

from langgraph_routing.checkpointing._adapter import RoutingCheckpointer

OPS = ("put_writes", "put", "step", "get_tuple", "list")
WORKLOADS = ("fresh-ledger", "template", "messages")
THREAD_STEPS = 40


def _checkpoint(saver: BaseCheckpointSaver[Any], step: int) -> tuple[Checkpoint, dict[str, Any]]:
    cp = empty_checkpoint()
    costs = [
        {"call_id": f"c{step}-{i}", "model": f"m{i % 3}", "cost_usd": None if i % 7 else 0.001}
        for i in range(20)
    ]
    cp["channel_values"] = {
        "costs": costs,
        "messages": [f"message {i} " * 10 for i in range(10)],
        "stop_reason": "done",
    }
    version = saver.get_next_version(None, None)
    versions = {"costs": version, "messages": version, "stop_reason": version}
    cp["channel_versions"] = dict(versions)
    return cp, versions


class _Thread:
    """Checkpoints of one graph thread: written channels get a new version, others keep theirs."""

    def __init__(self, saver: BaseCheckpointSaver[Any], ledger: bool) -> None:
        self.saver = saver
        self.ledger = ledger
        self.messages: list[BaseMessage] = []
        self.costs: list[dict[str, Any]] = []
        self.versions: dict[str, Any] = {}
        self.writes: list[tuple[str, Any]] = []  # the last step's task writes
        self.parent: Any = None  # config of the last checkpoint put

    def next(self, step: int) -> tuple[Checkpoint, dict[str, Any]]:
        written = ["messages", "branch:to:tools" if step % 2 == 0 else "branch:to:agent"]
        if step % 2 == 0:  # a model step: one routed answer (and its ledger entry)
            call_id = f"call-{id(self)}-{step}"
            routing = {
                "call_id": call_id,
                "cost_usd": 0.0012,
                "cost_source": "header",
                "model": "gpt-4o-mini",
                "task": "tool_select",
                "node": "agent",
                "attempts": [{"model": "gpt-4o-mini", "error_kind": None, "call_id": call_id}],
            }
            message: BaseMessage = AIMessage(
                content=f"answer {step} " * 20,
                id=f"ai-{call_id}",
                response_metadata={"routing": routing},
                usage_metadata={"input_tokens": 900, "output_tokens": 60, "total_tokens": 960},
            )
            self.writes = [("messages", [message])]
            if self.ledger:
                entry = {"call_id": call_id, "model": "gpt-4o-mini", "cost_usd": 0.0012}
                self.costs = [*self.costs, entry]  # add_costs returns a new list
                written.append("costs")
                self.writes.append(("costs", [entry]))
        else:  # a tool step
            message = ToolMessage(content=f"tool {step} " * 20, tool_call_id=f"t{step}")
            self.writes = [("messages", [message])]
        self.writes.append((written[1], None))
        self.messages = [*self.messages, message]  # add_messages returns a new list
        for channel in written:
            self.versions[channel] = self.saver.get_next_version(self.versions.get(channel), None)
        cp = empty_checkpoint()
        values: dict[str, Any] = {"messages": self.messages, written[1]: None}
        if self.ledger:
            values["costs"] = self.costs
        cp["channel_values"] = values
        cp["channel_versions"] = dict(self.versions)
        return cp, {channel: self.versions[channel] for channel in written}


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - start) / 1000.0


def bench(
    saver: BaseCheckpointSaver[Any], ops: int, workload: str = "fresh-ledger", warmup: int = 50
) -> dict[str, list[float]]:
    """Alternate raw and adapter calls; return per-op timings in microseconds."""
    adapter = RoutingCheckpointer(saver)
    targets: dict[str, BaseCheckpointSaver[Any]] = {"raw": saver, "adapter": adapter}
    threads: dict[str, _Thread] = {}
    times: dict[str, list[float]] = {f"{op}/{name}": [] for op in OPS for name in targets}
    for i in range(warmup + ops):
        order = ("raw", "adapter") if i % 2 == 0 else ("adapter", "raw")
        for name in order:
            target = targets[name]
            meta: Any = {"source": "loop", "step": i}
            if workload == "fresh-ledger":
                thread_id = f"bench-{workload}-{name}"
            else:
                thread_id = f"bench-{workload}-{name}-{i // THREAD_STEPS}"
            latest: Any = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
            if workload == "fresh-ledger":
                cp, versions = _checkpoint(saver, i)
                config: Any = latest
                writes = 0.0
            else:
                if i % THREAD_STEPS == 0:  # a new thread, with its input checkpoint
                    thread = threads[name] = _Thread(saver, ledger=workload == "template")
                    thread.parent = target.put(latest, empty_checkpoint(), {"step": -1}, {})
                thread = threads[name]
                cp, versions = thread.next(i)
                config = thread.parent
                task = f"task-{i}"
                writes = _timed(lambda: target.put_writes(config, thread.writes, task))  # noqa: B023
            result: list[Any] = []
            put = _timed(lambda: result.append(target.put(config, cp, meta, versions)))  # noqa: B023
            if workload != "fresh-ledger":
                threads[name].parent = result[0]
            samples = (
                writes,
                put,
                writes + put,
                _timed(lambda: target.get_tuple(latest)),  # noqa: B023
                _timed(lambda: list(target.list(latest, limit=10))),  # noqa: B023
            )
            if i >= warmup:
                for op, sample in zip(OPS, samples, strict=True):
                    times[f"{op}/{name}"].append(sample)
    return times


@contextmanager
def _sqlite() -> Iterator[BaseCheckpointSaver[Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "bench.db", check_same_thread=False)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=5000"):
            conn.execute(f"PRAGMA {pragma}")
        saver = SqliteSaver(conn)
        saver.setup()
        try:
            yield saver
        finally:
            conn.close()


@contextmanager
def _postgres(url: str) -> Iterator[BaseCheckpointSaver[Any]]:
    from langgraph.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(url) as saver:
        saver.setup()
        yield saver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=500, help="measured iterations (>= 500)")
    parser.add_argument("--postgres", metavar="URL", help="an existing PostgreSQL database URL")
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")
    parser.add_argument(
        "--workload", choices=WORKLOADS, action="append", help="default: all of them"
    )
    args = parser.parse_args()
    workloads = args.workload or list(WORKLOADS)

    rows: list[tuple[str, str, str, float, float]] = []
    with ExitStack() as stack:
        backends: list[tuple[str, Callable[[], Any]]] = [
            ("memory", lambda: _nullctx(InMemorySaver())),
            ("sqlite", _sqlite),
        ]
        url = args.postgres
        if url is None and not args.no_postgres:
            from tests.fixtures_postgres import find_pg_bin, postgres_cluster

            if find_pg_bin() is not None:
                url = stack.enter_context(postgres_cluster(dbname="bench"))
        if url:
            backends.append(("postgres", lambda: _postgres(url)))
        for backend, make in backends:
            for workload in workloads:
                with make() as saver:
                    times = bench(saver, args.ops, workload)
                for op in OPS:
                    if workload == "fresh-ledger" and op in ("put_writes", "step"):
                        continue  # no graph step: a bare put
                    raw = statistics.median(times[f"{op}/raw"])
                    wrapped = statistics.median(times[f"{op}/adapter"])
                    rows.append((backend, workload, op, raw, wrapped))

    print(f"RoutingCheckpointer vs raw saver, median of {args.ops} interleaved ops (µs)")
    print("| backend | workload | op | raw µs | adapter µs | ratio |")
    print("|---|---|---|---:|---:|---:|")
    for backend, workload, op, raw, wrapped in rows:
        print(
            f"| {backend} | {workload} | {op} | {raw:.1f} | {wrapped:.1f} | {wrapped / raw:.3f} |"
        )


@contextmanager
def _nullctx(saver: BaseCheckpointSaver[Any]) -> Iterator[BaseCheckpointSaver[Any]]:
    yield saver


if __name__ == "__main__":
    main()
