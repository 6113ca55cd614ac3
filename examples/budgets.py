"""Two budgets: the run's own (checked before each call) and the gateway's (per virtual key).

1. ``create_routing_agent(budget_usd=...)``: before each model step the guard prices the worst
   case of the call (prompt + ``max_tokens``, which is always sent). When the budget left pays
   for less output than wanted, the step is sent with a smaller ``max_tokens`` ($0.01 is enough
   for a $0.0012 question); when it does not pay even for ``budget.min_output_tokens`` (256),
   the run ends with ``stop_reason="budget_exhausted"``, without sending the request.
2. A gateway virtual key with ``max_budget``: the gateway refuses calls once the key's budget is
   spent (LocalGateway already refuses a call whose worst case would pass it); the model raises ``BudgetExceededError(scope="gateway", entity="key=<hash>")`` at once
   (never retried) and the agent ends with ``stop_reason="gateway_budget_exceeded"``.

    python examples/budgets.py
"""

from __future__ import annotations

import secrets

from _gateway import gateway, skipped

from langgraph_routing import (
    BudgetExceededError,
    RoutingPolicy,
    create_routing_agent,
    init_routing_model,
)
from langgraph_routing.demo import DEMO_TOOLS
from langgraph_routing.testing import VirtualKey, hash_key

# every step on its task's model: always plan, synthesis never on the easy model
EVERY_STEP = RoutingPolicy.default().updated({"planning": {"mode": "always"}, "difficulty": {}})

QUESTION = {"messages": [("user", "What is 17.5 * 4 + 12?")]}
TEAM_KEY = "sk-team-" + secrets.token_hex(8)


def main() -> None:
    with gateway(keys=[VirtualKey(TEAM_KEY, max_budget=0.00006, alias="team-a")]) as (
        base_url,
        api_key,
        local,
    ):
        for budget in (0.01, 0.003):
            print(f"1. run budget of ${budget}")
            agent = create_routing_agent(
                DEMO_TOOLS, policy=EVERY_STEP, base_url=base_url, api_key=api_key, budget_usd=budget
            )
            out = agent.invoke(QUESTION)
            spent = sum(e["cost_usd"] or 0 for e in out["costs"])
            sent = [(d["node"], d["max_tokens"]) for d in out["routing"]]
            print(f"  steps run (max_tokens sent): {sent}")
            print(f"  stop_reason={out['stop_reason']} after ${spent:.6f}")
            print(f"  {out['final_answer']}")

        print("2. gateway key budget of $0.00006 (virtual key 'team-a')")
        if local is None:
            skipped("a virtual key with a budget")
            return
        model = init_routing_model(base_url=base_url, api_key=TEAM_KEY, max_tokens=64)
        for n in range(1, 10):
            try:
                model.with_task("tool_select").invoke(f"Question {n}: which tool gives prices?")
            except BudgetExceededError as exc:
                key_part, _, digest = (exc.entity or "").partition("=")
                print(f"  call {n}: BudgetExceededError scope={exc.scope} entity={key_part}=...")
                print(f"  entity is the key's sha256, not the key: {digest == hash_key(TEAM_KEY)}")
                print(
                    f"  spent ${exc.spent_usd:.6f} of ${exc.budget_usd:.6f}; status {exc.status_code}"
                )
                break
            print(f"  call {n}: ok, key spend ${local.spend_by_key()[TEAM_KEY]:.6f}")
        refused = [r for r in local.log if r.key_alias == "team-a" and not r.ok]
        print(f"  refused calls in the gateway log: {len(refused)} (not retried)")

        agent = create_routing_agent(DEMO_TOOLS, base_url=base_url, api_key=TEAM_KEY)
        out = agent.invoke(QUESTION)
        print(f"  agent on the same key: stop_reason={out['stop_reason']}")


if __name__ == "__main__":
    main()
