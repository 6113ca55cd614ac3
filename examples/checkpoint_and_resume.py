"""A run that fails in the middle resumes from its last checkpoint: finished steps do not rerun.

The routing agent checkpoints to SQLite. An outage of the synthesize model (503 on every call,
no fallback configured for it) fails the run after plan, tool_select and tools have finished;
``list_threads`` reports the thread as failed; once the model is back, ``resume_thread`` runs
only what is left, and the cost ledger (checkpointed with the state) counts each call once.

    python examples/checkpoint_and_resume.py
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

from _gateway import gateway, skipped

from langgraph_routing import (
    RoutesExhaustedError,
    RoutingPolicy,
    create_routing_agent,
    list_threads,
    open_checkpointer,
    resume_thread,
)
from langgraph_routing.demo import DEMO_TOOLS

SYNTH = "claude-3-5-sonnet-20241022"
# every step on its task's model: always plan, synthesis never on the easy model
EVERY_STEP = RoutingPolicy.default().updated({"planning": {"mode": "always"}, "difficulty": {}})
QUESTION = {"messages": [("user", "What is 17.5 * 4 + 12?")]}
CONFIG = {"configurable": {"thread_id": "trip-1"}}


def main() -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        gateway() as (base_url, api_key, local),
        open_checkpointer(f"sqlite:///{Path(tmp) / 'runs.db'}") as checkpointer,
    ):
        agent = create_routing_agent(
            DEMO_TOOLS,
            policy=EVERY_STEP,
            base_url=base_url,
            api_key=api_key,
            checkpointer=checkpointer,
        )
        if local is None:
            skipped("an outage of the synthesize model")
            out = agent.invoke(QUESTION, CONFIG)
            print(f"stop_reason={out['stop_reason']}: {out['final_answer'][:80]}")
            return

        local.add_fault("server_error", model=SYNTH, status=503, times=None)
        try:
            agent.invoke(QUESTION, CONFIG)
        except RoutesExhaustedError as exc:
            print(f"run failed: {exc}")
        before = Counter(r.model for r in local.log if r.ok)
        print(f"calls before the failure: {dict(before)}")
        for info in list_threads(checkpointer):
            print(f"thread {info.thread_id}: {info.status}, next {list(info.next_nodes)}")

        local.clear_faults()  # the provider is back
        out = resume_thread(agent, "trip-1")
        after = Counter(r.model for r in local.log if r.ok)
        print(f"resumed: stop_reason={out['stop_reason']}, answer: {out['final_answer'][:60]}")
        print(f"calls after the resume: {dict(after)}")
        repeated = {m: n for m, n in before.items() if after[m] != n}
        print(f"finished steps repeated: {repeated or 'none'}")
        steps = [(d["node"], d["model"]) for d in out["routing"]]
        print(f"routing log: {steps}")
        print(f"ledger: {len(out['costs'])} entries for {sum(after.values())} paid calls")
        for info in list_threads(checkpointer):
            print(f"thread {info.thread_id}: {info.status}, cost ${info.cost_usd:.6f}")


if __name__ == "__main__":
    main()
