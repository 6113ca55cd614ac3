"""Two runs (or thirty) on one thread at once: LangGraph keeps the last writer's state, and
every paid call still reaches the thread's ledger (``runs``, ``report``, ``list_threads``),
because the ledger is merged from every checkpoint of the thread by call id.

The runs are concurrent for real: each run's first request is held at the gateway (``hang``
fault) until all thirty have been sent, so every run starts from the same thread state.
"""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from langgraph_routing import create_routing_agent, list_threads, open_checkpointer
from langgraph_routing.cli._common import thread_entries
from langgraph_routing.demo import DEMO_TOOLS
from langgraph_routing.testing import LocalGateway

RUNS = 30


async def _thirty_runs(gw: LocalGateway, url: str) -> Any:
    gw.add_fault("hang", times=RUNS)  # the first request of each run waits for the others
    async with open_checkpointer(url) as cp:
        graph = create_routing_agent(
            DEMO_TOOLS, checkpointer=cp, base_url=gw.base_url, api_key=gw.master_key
        )
        config: Any = {"configurable": {"thread_id": "shared"}}
        task = asyncio.gather(
            *(
                graph.ainvoke({"messages": [("user", f"What is {i} * 4 + 12?")]}, config)
                for i in range(RUNS)
            ),
            return_exceptions=True,
        )
        assert await asyncio.to_thread(gw.wait_for_held, RUNS, 60)
        gw.release_holds()
        results = await task
        state = await graph.aget_state(config)
    assert [r for r in results if isinstance(r, BaseException)] == []
    return state


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'threads.db'}"
    url: str = request.getfixturevalue("postgres_db_url")
    return url


def test_thirty_concurrent_runs_on_one_thread_lose_no_ledger_entry(store_url: str) -> None:
    with LocalGateway() as gw:
        state = asyncio.run(_thirty_runs(gw, store_url))
        requests = len(gw.log)
        spend = gw.total_spend
    assert requests >= 2 * RUNS  # tool selection and synthesis (at least) in each run
    # the state is LangGraph's last writer: its own ledger holds one run's calls only
    assert len(state.values["costs"]) < requests
    with open_checkpointer(store_url) as cp:
        [info] = list_threads(cp)
        entries = thread_entries(cp, "shared")
    assert info.calls == len(entries) == requests
    assert info.cost_usd is not None and math.isclose(info.cost_usd, spend, rel_tol=1e-9)
    assert math.isclose(sum(e["cost_usd"] for e in entries), spend, rel_tol=1e-9)
    assert len({e["run_id"] for e in entries}) == RUNS


WORKER = """
import sys
from langgraph_routing import create_routing_agent, open_checkpointer
from langgraph_routing.demo import DEMO_TOOLS
url, base_url, key, n = sys.argv[1:5]
with open_checkpointer(url) as cp:
    graph = create_routing_agent(DEMO_TOOLS, checkpointer=cp, base_url=base_url, api_key=key)
    for i in range(int(n)):
        graph.invoke({"messages": [("user", f"What is {i} * 3 + 1?")]},
                     {"configurable": {"thread_id": "shared"}})
"""


def test_runs_from_two_processes_on_one_thread_merge_exactly(postgres_db_url: str) -> None:
    """Two workers (as two LangGraph Server replicas would be) interleave runs on a thread."""
    with LocalGateway() as gw:
        gw.add_fault("hang", times=2)  # both workers' first requests wait for each other
        key = str(gw.master_key)
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, postgres_db_url, gw.base_url, key, "3"],
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        released = threading.Event()

        def release() -> None:
            if gw.wait_for_held(2, 120):
                gw.release_holds()
                released.set()

        releaser = threading.Thread(target=release)
        releaser.start()
        errors = [w.communicate(timeout=240)[1] for w in workers]
        releaser.join()
        requests, spend = len(gw.log), gw.total_spend
    assert released.is_set() and all(w.returncode == 0 for w in workers), errors
    with open_checkpointer(postgres_db_url) as cp:
        [info] = list_threads(cp)
        entries = thread_entries(cp, "shared")
        latest = cp.get_tuple({"configurable": {"thread_id": "shared"}})
    assert latest is not None
    # both first runs started from the same state: the last writer's ledger lacks the other's
    assert len(latest.checkpoint["channel_values"]["costs"]) < requests
    assert info.calls == len(entries) == requests
    assert info.cost_usd is not None and math.isclose(info.cost_usd, spend, rel_tol=1e-9)
