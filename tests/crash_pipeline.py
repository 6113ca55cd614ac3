"""A 5-step routed pipeline with a checkpointer, for the resume-after-a-crash tests.

Run as a script (the crash test runs it in a subprocess and kills it mid-run)::

    LANGGRAPH_ROUTING_API_KEY=sk-... python tests/crash_pipeline.py \\
        --base-url http://127.0.0.1:PORT/v1 --db sqlite:////tmp/x.db --thread t1 [--resume]

or import it (``build_graph``, ``STEPS``, ``main``). The gateway key is read from the
environment variable ``LANGGRAPH_ROUTING_API_KEY`` by the routing model itself: it is never a
command-line argument. The graph is ``plan -> tool_select -> synthesize -> critique ->
synthesize2``, each node one routed model call that writes its reply, its ledger entries
(``costs``) and its routing decision. The first run uses ``durability="sync"``: the checkpoint
of a finished step is on disk before the next step starts, so a SIGKILL in step 3 always
finds steps 1-2 saved. On exit the script prints one JSON line with the outcome.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from langgraph_routing import (
    RoutesExhaustedError,
    RoutingChatModel,
    RoutingState,
    costs_update,
    init_routing_model,
    open_checkpointer,
    resume_thread,
)

# (node name, task) in order: step k of the pipeline is STEPS[k - 1].
STEPS: tuple[tuple[str, str], ...] = (
    ("plan", "plan"),
    ("tool_select", "tool_select"),
    ("synthesize", "synthesize"),
    ("critique", "critique"),
    ("synthesize2", "synthesize"),
)
_INSTRUCTIONS = {
    "plan": "Write a three-step plan for the request.",
    "tool_select": "Name the data the plan needs.",
    "synthesize": "Draft the answer.",
    "critique": "Review the draft and say what to fix.",
    "synthesize2": "Write the final answer, applying the review.",
}
REQUEST = "Compare the population of Lyon and Marseille and explain the difference."


def _step(node: str, model: RoutingChatModel) -> Callable[..., dict[str, Any]]:
    index = [name for name, _ in STEPS].index(node) + 1
    system = SystemMessage(f"Step {index} of {len(STEPS)}: {_INSTRUCTIONS[node]}")

    def run(state: RoutingState, config: RunnableConfig) -> dict[str, Any]:
        prompt: list[BaseMessage] = [system, *state.get("messages", [])]
        reply = model.invoke(prompt, config)
        update: dict[str, Any] = {"messages": [reply], **costs_update(reply)}
        if node == STEPS[-1][0]:
            update["final_answer"] = str(reply.text)
            update["stop_reason"] = "done"
        return update

    run.__name__ = node
    return run


def build_graph(model: RoutingChatModel) -> StateGraph[Any]:
    """The uncompiled 5-step graph; each node calls ``model`` bound to its task."""
    builder: StateGraph[Any] = StateGraph(RoutingState)
    previous = START
    for node, task in STEPS:
        builder.add_node(node, _step(node, model.with_task(task)))
        builder.add_edge(previous, node)
        previous = node
    builder.add_edge(previous, END)
    return builder


def compile_graph(model: RoutingChatModel, checkpointer: Any) -> CompiledStateGraph[Any]:
    """``build_graph(model)`` compiled with ``checkpointer``."""
    return build_graph(model).compile(checkpointer=checkpointer)


def thread_config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


def start_input() -> dict[str, Any]:
    """The input of a fresh run."""
    return {"messages": [HumanMessage(REQUEST)]}


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="the gateway's OpenAI base URL")
    parser.add_argument("--db", required=True, help="checkpointer URL (sqlite:///, postgresql://)")
    parser.add_argument("--thread", required=True, help="thread id")
    parser.add_argument("--resume", action="store_true", help="resume the thread (invoke None)")
    parser.add_argument("--timeout", type=float, default=120.0, help="per-request timeout (s)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run (or resume) the pipeline; print a JSON summary; 0 on success, 3 on exhausted routes."""
    args = _parse(argv)
    model = init_routing_model(base_url=args.base_url, timeout=args.timeout)
    with open_checkpointer(args.db) as checkpointer:
        graph = compile_graph(model, checkpointer)
        config = thread_config(args.thread)
        try:
            if args.resume:
                result = resume_thread(graph, args.thread)
            else:
                result = graph.invoke(start_input(), config, durability="sync")
        except RoutesExhaustedError as exc:
            print(json.dumps({"error": "routes_exhausted", "attempts": exc.attempts}), flush=True)
            return 3
    summary = {
        "final_answer": result.get("final_answer"),
        "stop_reason": result.get("stop_reason"),
        "calls": [e["call_id"] for e in result.get("costs", [])],
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
