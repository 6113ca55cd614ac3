"""Scale-out: the graph ``langgraph.json`` exposes, served by the real ``langgraph dev`` server.

The server runs in a subprocess with its working directory in a temporary folder (the in-memory
runtime keeps its state under ``./.langgraph_api/``), against a LocalGateway of this process.
Skipped when ``langgraph-cli[inmem]`` is not installed, unless ``CI=true``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from langgraph_routing import RoutingPolicy
from langgraph_routing.cli._demo_run import request_origin
from langgraph_routing.demo import DEMO_QUESTIONS
from langgraph_routing.testing import LocalGateway

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "langgraph.json"
LANGGRAPH_BIN = Path(sys.executable).with_name("langgraph")
SERVER_ENV_VARS = ("LANGGRAPH_ROUTING_POLICY", "LANGGRAPH_ROUTING_BUDGET_USD")


def _server_available() -> str | None:
    missing = [m for m in ("langgraph_api", "langgraph_cli") if importlib.util.find_spec(m) is None]
    if missing:
        return f"{', '.join(missing)} not installed (pip install 'langgraph-cli[inmem]')"
    if not LANGGRAPH_BIN.exists():
        return f"no langgraph executable next to {sys.executable}"
    return None


def _require_server() -> None:
    reason = _server_available()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"LangGraph Server is required in CI: {reason}")
    pytest.skip(reason)


def test_langgraph_json_points_at_the_server_graph() -> None:
    config = json.loads(CONFIG.read_text(encoding="utf-8"))
    assert config["dependencies"] == ["."]
    assert config["graphs"] == {"agent": "./langgraph_routing/server.py:graph"}
    assert isinstance(config.get("env", {}), dict)
    path, variable = config["graphs"]["agent"].rsplit(":", 1)
    assert (REPO / path).is_file() and variable == "graph"
    if importlib.util.find_spec("langgraph_cli") is not None:
        from langgraph_cli.config import validate_config_file

        validate_config_file(CONFIG)  # raises on a malformed file


def test_server_module_builds_from_env(tmp_path: Path) -> None:
    from langgraph_routing.server import build_graph

    policy = tmp_path / "p.yaml"
    policy.write_text(
        "models: {m1: {context_window: 1000, max_output_tokens: 100, input_per_million: 1,"
        " output_per_million: 2}}\ntasks: {plan: {model: m1}, tool_select: {model: m1},"
        " synthesize: {model: m1}, critique: {model: m1}}\n",
        encoding="utf-8",
    )
    env = {
        "LANGGRAPH_ROUTING_BASE_URL": "http://127.0.0.1:9/v1",
        "LANGGRAPH_ROUTING_POLICY": str(policy),
        "LANGGRAPH_ROUTING_CRITIQUE": "true",
    }
    agent = build_graph(env)
    assert "critique" in agent.get_graph().nodes
    assert "critique" not in build_graph({}).get_graph().nodes
    with pytest.raises(ValueError, match="LANGGRAPH_ROUTING_BUDGET_USD"):
        build_graph({"LANGGRAPH_ROUTING_BUDGET_USD": "lots"})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"langgraph dev exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # polling a process we started, bounded by the deadline
    pytest.fail(f"langgraph dev not ready after {timeout_s}s:\n{log.read_text()[-4000:]}")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, LocalGateway]]:
    """``langgraph dev`` serving langgraph.json's graph, against a LocalGateway."""
    _require_server()
    config = json.loads(CONFIG.read_text(encoding="utf-8"))
    # Same config, with the graph file and the dependency resolved against the repository, so
    # the server can run in tmp_path (its .langgraph_api/ state lands there, not in the repo).
    config["dependencies"] = [str(REPO)]
    config["graphs"] = {
        name: f"{(REPO / spec.rsplit(':', 1)[0]).resolve()}:{spec.rsplit(':', 1)[1]}"
        for name, spec in config["graphs"].items()
    }
    (tmp_path / "langgraph.json").write_text(json.dumps(config), encoding="utf-8")
    port = _free_port()
    log = tmp_path / "server.log"
    with LocalGateway() as gw:
        assert gw.master_key is not None
        env = {k: v for k, v in os.environ.items() if k not in SERVER_ENV_VARS}
        env.update(
            LANGGRAPH_CLI_NO_ANALYTICS="1",
            LANGGRAPH_NO_VERSION_CHECK="true",
            LANGSMITH_TRACING="false",
            LANGGRAPH_ROUTING_BASE_URL=gw.base_url,
            LANGGRAPH_ROUTING_API_KEY=gw.master_key,
        )
        argv = [str(LANGGRAPH_BIN), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1"]
        argv += ["--port", str(port), "--config", str(tmp_path / "langgraph.json")]
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                argv,
                cwd=tmp_path,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, proc, log, timeout_s=120)
            yield url, gw
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
    assert (tmp_path / ".langgraph_api").is_dir()  # the server's state stayed in tmp_path


def test_two_threads_on_langgraph_server(served: tuple[str, LocalGateway]) -> None:
    from langgraph_sdk import get_client

    url, gw = served
    questions = DEMO_QUESTIONS[:2]
    policy = RoutingPolicy.default()

    async def scenario() -> list[tuple[str, dict[str, Any]]]:
        client = get_client(url=url)
        threads = [await client.threads.create() for _ in questions]
        await asyncio.gather(
            *(
                client.runs.wait(
                    t["thread_id"],
                    "agent",
                    input={"messages": [{"role": "user", "content": q.question}]},
                    raise_error=True,
                )
                for t, q in zip(threads, questions, strict=True)
            )
        )
        states = [await client.threads.get_state(t["thread_id"]) for t in threads]
        return [(t["thread_id"], s["values"]) for t, s in zip(threads, states, strict=True)]

    results = asyncio.run(scenario())
    assert len({tid for tid, _ in results}) == 2
    # single-step questions: no plan; synthesize right after the tool result, on the easy
    # model (the policy's difficulty rule: the tool_select model)
    expected_models = [policy.tasks["tool_select"].model, policy.tasks["tool_select"].model]
    for (thread_id, values), question in zip(results, questions, strict=True):
        assert values["stop_reason"] == "done"
        assert question.is_answered_by(values["final_answer"]), values["final_answer"]
        routing = values["routing"]
        assert [d["model"] for d in routing] == expected_models
        assert [d["node"] for d in routing] == ["tool_select", "synthesize"]
        # the ledger in the server's thread state is what the gateway charged for that thread
        mine = [r for r in gw.log if request_origin(r)[0] == thread_id]
        assert mine and all(r.ok for r in mine)
        ledger = {e["call_id"]: e["cost_usd"] for e in values["costs"]}
        assert ledger == {r.call_id: r.cost_usd for r in mine}
        assert math.fsum(ledger.values()) == math.fsum(r.cost_usd or 0.0 for r in mine) > 0
        assert {e["thread_id"] for e in values["costs"]} == {thread_id}
    total = math.fsum(e["cost_usd"] for _, values in results for e in values["costs"])
    assert total == gw.total_spend
