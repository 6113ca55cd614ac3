"""Overhead of RoutingCheckpointer over the raw saver: put / get_tuple / list.

Usage::

    python benchmarks/bench_checkpoint.py [--ops 500] [--postgres URL | --no-postgres]

Raw and adapter calls alternate within each iteration, on the same saver and database (each
with its own thread), so drift hits both alike. Each checkpoint carries a 20-entry cost ledger
and some messages, so the adapter's metadata stamping does real work. Without ``--postgres``
a private PostgreSQL cluster is started on 127.0.0.1 when the server binaries are installed.
Prints medians (microseconds) and the adapter/raw ratio; the goal is a ratio <= 1.10.
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

from langgraph.checkpoint.base import BaseCheckpointSaver, Checkpoint, empty_checkpoint
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver

from langgraph_routing.checkpointing._adapter import RoutingCheckpointer

OPS = ("put", "get_tuple", "list")


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


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - start) / 1000.0


def bench(saver: BaseCheckpointSaver[Any], ops: int, warmup: int = 50) -> dict[str, list[float]]:
    """Alternate raw and adapter calls; return per-op timings in microseconds."""
    adapter = RoutingCheckpointer(saver)
    targets: dict[str, BaseCheckpointSaver[Any]] = {"raw": saver, "adapter": adapter}
    configs = {
        name: {"configurable": {"thread_id": f"bench-{name}", "checkpoint_ns": ""}}
        for name in targets
    }
    times: dict[str, list[float]] = {f"{op}/{name}": [] for op in OPS for name in targets}
    for i in range(warmup + ops):
        order = ("raw", "adapter") if i % 2 == 0 else ("adapter", "raw")
        for name in order:
            target, config = targets[name], configs[name]
            cp, versions = _checkpoint(saver, i)
            meta: Any = {"source": "loop", "step": i}
            samples = (
                _timed(lambda: target.put(config, cp, meta, versions)),  # noqa: B023
                _timed(lambda: target.get_tuple(config)),  # noqa: B023
                _timed(lambda: list(target.list(config, limit=10))),  # noqa: B023
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
    args = parser.parse_args()

    rows: list[tuple[str, str, float, float]] = []
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
            with make() as saver:
                times = bench(saver, args.ops)
            for op in OPS:
                raw = statistics.median(times[f"{op}/raw"])
                wrapped = statistics.median(times[f"{op}/adapter"])
                rows.append((backend, op, raw, wrapped))

    print(f"RoutingCheckpointer vs raw saver, median of {args.ops} interleaved ops (µs)")
    print("| backend | op | raw µs | adapter µs | ratio |\n|---|---|---:|---:|---:|")
    for backend, op, raw, wrapped in rows:
        print(f"| {backend} | {op} | {raw:.1f} | {wrapped:.1f} | {wrapped / raw:.3f} |")


@contextmanager
def _nullctx(saver: BaseCheckpointSaver[Any]) -> Iterator[BaseCheckpointSaver[Any]]:
    yield saver


if __name__ == "__main__":
    main()
