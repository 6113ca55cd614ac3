"""Attacks on the client, before and after: requests sent, overshoot, time, memory, leaks.

    python benchmarks/bench_hostile.py [--cap 30] [--before PATH] [--only NAME ...]

Each attack runs in a fresh Python process against a hostile OpenAI-compatible server on
127.0.0.1 (``tests/support/hostile.py``, stdlib). ``--before PATH`` runs the same attacks
against another checkout of the package too (e.g. a worktree of an older commit) and prints
both side by side. An attack still running after ``--cap`` seconds is stopped and reported as
such, with the memory it had reached. The numbers are the process's own: wall time of the
attack (imports excluded), peak RSS, and the server's request count.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import table

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ROOT / "tests" / "support" / "hostile.py"

PRELUDE = """
import asyncio, importlib.util, json, math, os, resource, sys, threading, time, traceback
spec = importlib.util.spec_from_file_location("hostile", sys.argv[2])
hostile = importlib.util.module_from_spec(spec); spec.loader.exec_module(hostile)
H, COST = hostile.Hostile, float(hostile.COST)
import langgraph_routing
from langgraph_routing import CostCallbackHandler, RoutingPolicy, init_routing_model
CAP, SERVERS, T0 = float(sys.argv[1]), [], time.perf_counter()

def report(outcome, requests=None):
    if requests is None and SERVERS:
        requests = sum(len(s.hits) for s in SERVERS)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"outcome": outcome, "requests": requests,
                      "seconds": time.perf_counter() - T0, "rss_mb": rss}), flush=True)
    os._exit(0)

threading.Timer(CAP, lambda: report(f"still running at the {CAP:.0f} s cap")).start()

def serve(mode, **kw):
    server = H(mode, **kw).__enter__()
    SERVERS.append(server)
    return server

def name(exc):
    return type(exc).__name__

def outcome_of(mode, *args, stream=False, **kwargs):
    s = serve(mode)
    model = init_routing_model(*args, base_url=s.base_url, api_key="sk-x", **kwargs)
    try:
        if stream:
            for _ in model.stream("hi"):
                pass
        else:
            model.invoke("hi")
        report("answered")
    except Exception as exc:
        report(name(exc))
"""

ATTACKS: dict[str, tuple[str, str]] = {
    "budget_50": (
        "50 concurrent ainvoke, run budget for 10",
        """
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableLambda
from langgraph_routing._tokens import TokenCounter
s = serve("slow_ok", pause=0.3)
model = init_routing_model(base_url=s.base_url, api_key="sk-x", max_tokens=256)
model = model.with_task("tool_select")
prompt = [HumanMessage("Which tool answers: what is 17.5 * 4 + 12?")]
spec = model.policy.models[model.policy.tasks["tool_select"].model]
one = spec.cost_usd(TokenCounter().count(prompt).tokens, 256)
budget = 10 * one + one / 2
handler = CostCallbackHandler(budget_usd=budget)
async def body(_):
    return await asyncio.gather(*(model.ainvoke(prompt) for _ in range(50)),
                                return_exceptions=True)
results = asyncio.run(RunnableLambda(body).ainvoke(None, {"callbacks": [handler]}))
errors = sorted({name(r) for r in results if isinstance(r, BaseException)})
report(f"{len(s.hits)} sent for a budget of 10 ({len(s.hits) / 10:.1f}x); "
       f"refused: {', '.join(errors) or 'none'}")
""",
    ),
    "budget_nan": (
        "budget_usd=NaN",
        """
try:
    CostCallbackHandler(budget_usd=float("nan"))
    report("accepted: the budget is silently off")
except Exception as exc:
    report(f"refused ({name(exc)})")
""",
    ),
    "cost_1e308": (
        "cost header 1e308, twice",
        """
s = serve("huge_cost")
handler = CostCallbackHandler()
model = init_routing_model(base_url=s.base_url, api_key="sk-x")
try:
    for _ in range(2):
        model.invoke("hi", {"callbacks": [handler]})
    total = handler.report().total_usd
    sources = sorted({e.source for e in handler.entries})
    report(f"total {total:.3g} ({'finite' if math.isfinite(total) else 'NOT finite'}), "
           f"source {'/'.join(sources)}")
except Exception as exc:
    report(f"raised {name(exc)}")
""",
    ),
    "choices_empty": (
        "choices: [] in a 200",
        """
s = serve("choices_empty")
handler = CostCallbackHandler()
model = init_routing_model(base_url=s.base_url, api_key="sk-x")
try:
    model.invoke("hi", {"callbacks": [handler]})
    report("answered")
except Exception as exc:
    kept = sum(e.cost_usd or 0 for e in handler.entries)
    report(f"{name(exc)}; cost kept ${kept:.6f} of ${COST * len(s.hits):.6f}")
""",
    ),
    "sse_error": (
        "error event mid-stream",
        """
s = serve("sse_error")
model = init_routing_model(base_url=s.base_url, api_key="sk-x")
try:
    text = "".join(str(c.content) for c in model.stream("hi"))
    report(f"accepted a partial answer {text!r}")
except Exception as exc:
    report(f"{name(exc)} after trying {len(s.hits)} routes")
""",
    ),
    "done_first": (
        "stream that sends [DONE] first",
        """
s = serve("done_first")
model = init_routing_model(base_url=s.base_url, api_key="sk-x")
try:
    text = "".join(str(c.content) for c in model.stream("hi"))
    report(f"accepted an empty answer {text!r}")
except Exception as exc:
    report(f"{name(exc)} after trying {len(s.hits)} routes")
""",
    ),
    "slow_stream": (
        "stream: a chunk every 0.2 s forever, timeout=1",
        """
outcome_of("slow_stream", stream=True, timeout=1.0)
""",
    ),
    "trickle_body": (
        "body a byte every 0.1 s, timeout=1 (sync)",
        """
outcome_of("trickle_body", timeout=1.0)
""",
    ),
    "trickle_headers": (
        "headers a byte every 0.1 s, timeout=1 (sync)",
        """
outcome_of("trickle_headers", timeout=1.0)
""",
    ),
    "fast_stream": (
        "endless fast stream (buffered)",
        """
outcome_of("fast_stream", stream=True, max_tokens=256)
""",
    ),
    "redirect": (
        "307 to another host",
        """
other = serve("choices_empty")
s = H("redirect", target=other.base_url).__enter__()
model = init_routing_model(base_url=s.base_url, api_key="sk-x")
try:
    model.invoke("hi")
    outcome = "followed and answered"
except Exception as exc:
    outcome = name(exc)
report(f"{outcome}; the other host got {len(other.hits)} prompts", requests=len(s.hits))
""",
    ),
    "echo_key": (
        "401 that echoes the key",
        """
s = serve("echo_key")
secret = "sk-echoed-" + "x" * 24
model = init_routing_model(base_url=s.base_url, api_key=secret)
try:
    model.invoke("hi")
    report("answered")
except Exception as exc:
    text = "".join(traceback.format_exception(exc))
    report("key in the traceback" if secret in text else "key nowhere in the traceback")
""",
    ),
    "retry_after": (
        "429 with Retry-After: 999999, deadline_s 20",
        """
try:
    policy = RoutingPolicy.default().updated({"retry": {"deadline_s": 20}})
except Exception:  # a version without a call deadline
    policy = RoutingPolicy.default()
outcome_of("retry_after_forever", policy)
""",
    ),
    "chain_1000": (
        "fallback chain of 1,000 failing models",
        """
import itertools
s = serve("always_500")
spec = {"context_window": 1000, "max_output_tokens": 10, "input_per_million": 1,
        "output_per_million": 1}
names = [f"m{i}" for i in range(1000)]
policy = RoutingPolicy.from_dict({
    "models": {n: spec for n in names}, "tasks": {"plan": {"model": "m0"}},
    "default_task": "plan", "fallbacks": {a: [b] for a, b in itertools.pairwise(names)},
    "retry": {"max_attempts": 1}})
model = init_routing_model(policy, base_url=s.base_url, api_key="sk-x")
try:
    model.invoke("hi")
    report("answered")
except Exception as exc:
    report(name(exc))
""",
    ),
    "policy_8mb": (
        "policy file: an 8 MB list",
        """
import tempfile
path = os.path.join(tempfile.mkdtemp(), "routing.yaml")
with open(path, "w") as f:
    f.write("fallbacks:\\n  gpt-4o:\\n" + "    - [a, b, c, d, e, f, g, h, i, j, k, l]\\n" * 200_000)
try:
    RoutingPolicy.from_file(path)
    report("loaded")
except Exception as exc:
    report(f"refused ({name(exc)})")
""",
    ),
    "policy_dupes": (
        "policy file: duplicate keys",
        """
import tempfile
path = os.path.join(tempfile.mkdtemp(), "routing.yaml")
with open(path, "w") as f:
    f.write("default_task: plan\\ndefault_task: critique\\n")
try:
    policy = RoutingPolicy.from_file(path)
    report(f"accepted: the last one silently wins ({policy.default_task})")
except Exception as exc:
    report(f"refused ({name(exc)})")
""",
    ),
    "policy_utf8": (
        "policy file: not UTF-8",
        """
import tempfile
path = os.path.join(tempfile.mkdtemp(), "routing.yaml")
with open(path, "wb") as f:
    f.write(b"default_task: \\xff\\xfe plan\\n")
try:
    RoutingPolicy.from_file(path)
    report("loaded")
except Exception as exc:
    report(name(exc))
""",
    ),
    "pg_password": (
        "Postgres ?password= / libpq password",
        """
from langgraph_routing import open_checkpointer
pw = "hunter2secret"
leaks = 0
for url in (f"postgresql://me@127.0.0.1:9/app?password={pw}",
            f"host=127.0.0.1 port=9 dbname=app password={pw}"):
    try:
        opener = open_checkpointer(url)
        leaks += pw in repr(opener)
        with opener:
            pass
    except Exception as exc:
        leaks += pw in "".join(traceback.format_exception(exc))
report(f"password shown in {leaks} of 2 forms")
""",
    ),
    "sqlite_corrupt": (
        "corrupt SQLite file",
        """
import tempfile
from langgraph_routing import open_checkpointer
path = os.path.join(tempfile.mkdtemp(), "broken.db")
with open(path, "wb") as f:
    f.write(b"not a database " * 100)
try:
    with open_checkpointer(f"sqlite:///{path}"):
        report("opened")
except Exception as exc:
    report(name(exc))
""",
    ),
}


def run(code_root: Path, attack: str, cap: float) -> dict[str, object]:
    source = PRELUDE + textwrap.dedent(ATTACKS[attack][1])
    env = {**os.environ, "PYTHONPATH": str(code_root)}
    try:
        done = subprocess.run(
            [sys.executable, "-c", source, str(cap), str(HOSTILE)],
            capture_output=True,
            text=True,
            env=env,
            timeout=cap + 60,
            check=False,
            cwd=str(code_root),
        )
    except subprocess.TimeoutExpired:
        return {"outcome": "hung past the cap (killed)"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            result: dict[str, object] = json.loads(line)
            return result
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return {"outcome": f"crashed: {tail[:80]}"}


def cells(result: dict[str, object]) -> list[str]:
    seconds, rss, requests = result.get("seconds"), result.get("rss_mb"), result.get("requests")
    return [
        str(result["outcome"]),
        "" if requests is None else str(requests),
        "" if not isinstance(seconds, float) else f"{seconds:.1f}",
        "" if not isinstance(rss, float) else f"{rss:.0f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cap", type=float, default=30.0, help="seconds per attack")
    parser.add_argument("--before", type=Path, help="another checkout to attack too")
    parser.add_argument("--only", nargs="*", choices=sorted(ATTACKS), help="attacks to run")
    args = parser.parse_args()
    names = args.only or list(ATTACKS)
    roots = [("after", ROOT)] + ([("before", args.before.resolve())] if args.before else [])
    headers = ["attack"]
    for label, _ in reversed(roots):
        headers += [f"{label}: outcome", "requests", "s", "peak MB"]
    rows = []
    for attack in names:
        row = [ATTACKS[attack][0]]
        for _, root in reversed(roots):
            row += cells(run(root, attack, args.cap))
        rows.append(row)
        print(f"  {attack}: done", file=sys.stderr, flush=True)
    print(table(headers, rows))


if __name__ == "__main__":
    main()
