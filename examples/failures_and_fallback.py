"""Rate limits are waited out, provider failures fall back, and every attempt is recorded.

1. A 429 with ``Retry-After: 1``: the model waits one second and retries the same model.
2. A 503 from o3-mini: the plan falls back to its next model (claude-3-5-sonnet-20241022).
3. Every candidate down: ``RoutesExhaustedError`` lists each attempt.

    python examples/failures_and_fallback.py
"""

from __future__ import annotations

import time

from _gateway import gateway, skipped

from langgraph_routing import RoutesExhaustedError, init_routing_model


def show_attempts(attempts: list[dict]) -> None:
    for n, a in enumerate(attempts, 1):
        waited = f", waited {a['waited_s']:.1f}s" if a["waited_s"] else ""
        print(f"  attempt {n}: {a['model']} -> {a['status']} {a['error_kind'] or 'ok'}{waited}")


def main() -> None:
    with gateway() as (base_url, api_key, local):
        plan = init_routing_model(base_url=base_url, api_key=api_key).with_task("plan")
        if local is None:
            skipped("a 429, a 503 and an outage")
            routing = plan.invoke("Plan a weekend in Kyoto").response_metadata["routing"]
            show_attempts(routing["attempts"])
            return

        print("1. 429 with Retry-After: 1")
        local.add_fault("rate_limit", model="o3-mini", retry_after=1)
        started = time.monotonic()
        routing = plan.invoke("Plan a weekend in Kyoto").response_metadata["routing"]
        show_attempts(routing["attempts"])
        print(f"  answered by {routing['model']} after {time.monotonic() - started:.1f}s")

        print("2. 503 from o3-mini")
        local.add_fault("server_error", model="o3-mini", status=503)
        routing = plan.invoke("Plan a weekend in Osaka").response_metadata["routing"]
        show_attempts(routing["attempts"])
        print(f"  answered by {routing['model']}; reason: {routing['reason']}")

        print("3. o3-mini and its fallback both down")
        for name in ("o3-mini", "claude-3-5-sonnet-20241022"):
            local.add_fault("server_error", model=name, status=503, times=None)
        try:
            plan.invoke("Plan a weekend in Nara")
        except RoutesExhaustedError as exc:
            print(f"  RoutesExhaustedError: {len(exc.attempts)} attempts")
            show_attempts(exc.attempts)
        print(f"  gateway log: {[(r.model, r.status) for r in local.log]}")


if __name__ == "__main__":
    main()
