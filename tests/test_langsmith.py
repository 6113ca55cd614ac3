"""LangSmith tracing with the real langsmith client pointed at a capture server on 127.0.0.1.

The traced program runs in a subprocess so that langsmith's cached environment settings and
background threads start clean.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from langgraph_routing.testing import LocalGateway
from tests.support.langsmith_capture import CaptureServer

PROGRAM = textwrap.dedent(
    """
    import json, os, sys
    from langchain_core.tracers.langchain import wait_for_all_tracers
    from langgraph_routing import create_routing_agent
    from langgraph_routing.demo import DEMO_TOOLS

    graph = create_routing_agent(DEMO_TOOLS, base_url=os.environ["GW_URL"],
                                 api_key=os.environ["GW_KEY"])
    state = graph.invoke({"messages": [("user", "What is 17.5 * 4 + 12?")]})
    wait_for_all_tracers()
    print(json.dumps({"costs": state["costs"]}))
    """
)


def test_cost_and_routing_reach_langsmith(gateway: LocalGateway, tmp_path: Path) -> None:
    script = tmp_path / "traced.py"
    script.write_text(PROGRAM)
    with CaptureServer() as capture:
        env = {
            **os.environ,
            "LANGSMITH_TRACING": "true",
            "LANGSMITH_ENDPOINT": capture.url,
            "LANGSMITH_API_KEY": "ls-test-not-a-secret",
            "LANGSMITH_DISABLE_RUN_COMPRESSION": "true",
            "LANGSMITH_PROJECT": "routing-test",
            "GW_URL": gateway.base_url,
            "GW_KEY": str(gateway.master_key),
        }
        done = subprocess.run(
            [sys.executable, str(script)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        runs = capture.runs()
    costs = json.loads(done.stdout.strip().splitlines()[-1])["costs"]
    llm_runs = [r for r in runs if r.get("run_type") == "llm"]
    assert len(llm_runs) == len(gateway.log) >= 2  # tool_select, synthesize (no plan)
    by_model = sorted(r["extra"]["metadata"]["ls_model_name"] for r in llm_runs)
    assert by_model == sorted(rec.model for rec in gateway.log)
    for run in llm_runs:
        meta = run["extra"]["metadata"]
        assert meta["cost_source"] == "header"
        assert meta["cost_usd"] > 0
        assert meta["routing_task"] in {"plan", "tool_select", "synthesize"}
        assert meta["routing_model"] == meta["ls_model_name"]
    [root] = [r for r in runs if not r.get("parent_run_id") and r.get("run_type") == "chain"]
    total = root["extra"]["metadata"]["routing_cost_usd"]
    assert total == math.fsum(e["cost_usd"] for e in costs) == gateway.total_spend
    assert root["extra"]["metadata"]["routing_calls"] == len(gateway.log)
    assert str(gateway.master_key) not in json.dumps(runs)
