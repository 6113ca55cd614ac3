"""Prompts that grow go to a larger window: before the request, and after a gateway overflow.

1. The policy counts the prompt before any request: a ~110k-token prompt for ``tool_select``
   (gpt-4o-mini, 128k window, upgrade at 80%) goes straight to gpt-4o.
2. When the gateway still answers "context length exceeded" (the count is approximate, or the
   deployment has a smaller window), the call is retried once, on the upgrade.

    python examples/context_upgrade.py
"""

from __future__ import annotations

from _gateway import gateway, skipped

from langgraph_routing import init_routing_model


def show_attempts(routing: dict) -> None:
    for n, a in enumerate(routing["attempts"], 1):
        print(f"  attempt {n}: {a['model']} -> {a['status']} {a['error_kind'] or 'ok'}")


def main() -> None:
    with gateway() as (base_url, api_key, local):
        model = init_routing_model(base_url=base_url, api_key=api_key)
        select = model.with_task("tool_select")

        print("1. a long prompt, upgraded before any request")
        long_prompt = "Summarise these notes: " + "kyoto temple garden " * 27_000
        if local is None:
            choice = model.policy.select("tool_select", prompt_tokens=110_000)  # pure, no I/O
            print(f"  ~110000 prompt tokens -> {choice.model}; reason: {choice.reason}")
            print("  (not sent to the real gateway: ~110k tokens to gpt-4o cost about $0.28)")
        else:
            routing = select.invoke(long_prompt).response_metadata["routing"]
            print(f"  ~{routing['prompt_tokens']} prompt tokens -> {routing['model']}")
            print(f"  reason: {routing['reason']}")
            show_attempts(routing)
            print(f"  gateway calls: {[r.model for r in local.log]}")

        print("2. the gateway says the prompt does not fit: one retry on the upgrade")
        if local is None:
            skipped("a context overflow answer")
            return
        local.reset()
        local.add_fault("context_overflow", model="gpt-4o-mini")
        routing = select.invoke("Which tool gives the population of Japan?").response_metadata[
            "routing"
        ]
        show_attempts(routing)
        print(f"  answered by {routing['model']}; reason: {routing['reason']}")
        print(f"  gateway calls: {[(r.model, r.status) for r in local.log]}")


if __name__ == "__main__":
    main()
