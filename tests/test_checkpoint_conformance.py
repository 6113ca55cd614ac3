"""langgraph-checkpoint-conformance against RoutingCheckpointer on every backend.

The suite calls only the async methods, so the sync-only savers (SqliteSaver, PostgresSaver)
pass only through the adapter's worker-thread bridge. ``benchmarks/conformance_table.py``
prints the same results as a table.
"""

from __future__ import annotations

import sqlite3
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import Capability
from langgraph.checkpoint.conformance.report import CapabilityReport
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from langgraph_routing.checkpointing._adapter import RoutingCheckpointer
from tests.fixtures_postgres import create_database

Wrap = Callable[[BaseCheckpointSaver[Any]], BaseCheckpointSaver[Any]]


def _adapter(saver: BaseCheckpointSaver[Any]) -> BaseCheckpointSaver[Any]:
    return RoutingCheckpointer(saver)


def _raw(saver: BaseCheckpointSaver[Any]) -> BaseCheckpointSaver[Any]:
    return saver


def _fresh_db(postgres_url: str) -> str:
    base = postgres_url.rsplit("/", 1)[0]
    name = f"conf_{uuid.uuid4().hex[:12]}"
    create_database(base + "/postgres", name)
    return f"{base}/{name}"


def factory(backend: str, wrap: Wrap = _adapter, postgres_url: str | None = None) -> Any:
    """A registered conformance factory: a fresh (wrapped) saver per capability suite."""
    name = f"{'RoutingCheckpointer' if wrap is _adapter else 'raw'}({backend})"

    @checkpointer_test(name=name)
    async def make() -> AsyncIterator[BaseCheckpointSaver[Any]]:
        if backend == "InMemorySaver":
            yield wrap(InMemorySaver())
        elif backend == "SqliteSaver":
            with tempfile.TemporaryDirectory() as tmp:
                conn = sqlite3.connect(Path(tmp) / "c.db", check_same_thread=False)
                saver = SqliteSaver(conn)
                saver.setup()
                yield wrap(saver)
                conn.close()
        elif backend == "AsyncSqliteSaver":
            with tempfile.TemporaryDirectory() as tmp:
                async with AsyncSqliteSaver.from_conn_string(str(Path(tmp) / "c.db")) as saver:
                    await saver.setup()
                    yield wrap(saver)
        elif backend == "PostgresSaver":
            from langgraph.checkpoint.postgres import PostgresSaver

            assert postgres_url is not None
            with PostgresSaver.from_conn_string(_fresh_db(postgres_url)) as pg:
                pg.setup()
                yield wrap(pg)
        elif backend == "AsyncPostgresSaver":
            from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

            assert postgres_url is not None
            async with AsyncPostgresSaver.from_conn_string(_fresh_db(postgres_url)) as apg:
                await apg.setup()
                yield wrap(apg)
        else:
            raise ValueError(backend)

    return make


def cell(report: CapabilityReport, capability: Capability) -> str:
    """One table cell: passed / failed (n) / not implemented."""
    result = report.results.get(capability.value)
    if result is None or not result.detected:
        return "n/i"
    if result.passed is True:
        return f"pass {result.tests_passed}"
    if result.passed is False:
        return f"FAIL {result.tests_failed}/{result.tests_passed + result.tests_failed}"
    return "skipped"


def table(reports: list[CapabilityReport]) -> str:
    """A Markdown table: backend x capability."""
    caps = list(Capability)
    lines = [
        "| checkpointer | level | " + " | ".join(c.value for c in caps) + " |",
        "|---|---|" + "---|" * len(caps),
    ]
    for report in reports:
        cells = " | ".join(cell(report, c) for c in caps)
        lines.append(f"| {report.checkpointer_name} | {report.conformance_level()} | {cells} |")
    return "\n".join(lines)


LOCAL = ["InMemorySaver", "SqliteSaver", "AsyncSqliteSaver"]
POSTGRES = ["PostgresSaver", "AsyncPostgresSaver"]


@pytest.mark.parametrize(
    "backend", [*LOCAL, *(pytest.param(b, marks=pytest.mark.postgres) for b in POSTGRES)]
)
async def test_adapter_conformance(backend: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("postgres_url") if backend in POSTGRES else None
    report = await validate(factory(backend, postgres_url=url))
    print("\n" + table([report]))
    failures = {k: r.failures[:2] for k, r in report.results.items() if r.failures}
    assert report.passed_all_base(), failures
    assert report.passed_all(), failures  # every capability the backend has also passes
    if backend.startswith("Postgres") or backend.startswith("AsyncPostgres"):
        assert report.results[Capability.PRUNE.value].passed is True


async def test_raw_sqlite_saver_is_not_async() -> None:
    """Why the bridge matters: the raw sync-only saver fails the (async) suite."""
    raw = await validate(factory("SqliteSaver", wrap=_raw))
    wrapped = await validate(factory("SqliteSaver"))
    assert not raw.passed_all_base()
    assert wrapped.passed_all_base()
