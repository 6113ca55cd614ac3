"""Each step of an agent goes to the model that fits it.

The task of a call is, first hit wins: the task bound with ``.with_task(...)``; config metadata
``routing_task``; the policy's ``node_tasks[langgraph_node]``; the policy's ``default_task``.

    python examples/routing_by_task.py
"""

from __future__ import annotations

from _gateway import gateway

from langgraph_routing import AgentTask, init_routing_model

PROMPTS = {
    AgentTask.PLAN: "Plan the three steps of a weekend in Kyoto",
    AgentTask.TOOL_SELECT: "Which tool gives the population of Japan?",
    AgentTask.SYNTHESIZE: "Write the final answer: Japan has 124.5 million people",
    AgentTask.CRITIQUE: "Review this answer: Japan has 124.5 million people",
}


def main() -> None:
    with gateway() as (base_url, api_key, _):
        model = init_routing_model(base_url=base_url, api_key=api_key)
        print("task -> model -> reason")
        for task, prompt in PROMPTS.items():
            routing = model.with_task(task).invoke(prompt).response_metadata["routing"]
            print(f"{task.value} -> {routing['model']} -> {routing['reason']}")

        # No bound task: the config metadata names it (as LangGraph nodes do with their name).
        reply = model.invoke("Summarise the plan", config={"metadata": {"routing_task": "plan"}})
        print(f"metadata routing_task=plan -> {reply.response_metadata['routing']['model']}")
        reply = model.invoke("Hello")
        print(
            f"no task at all -> default_task {model.policy.default_task} -> "
            f"{reply.response_metadata['routing']['model']}"
        )


if __name__ == "__main__":
    main()
