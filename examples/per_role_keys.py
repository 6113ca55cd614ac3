"""Each agent role calls the gateway with its own virtual key, so the gateway bills it apart.

The policy names, per role, the environment variable holding the role's key (never the key);
the key is read at call time and never enters the state, the ledger or a log line. Here the
planner and the critic have their own keys; the other steps use the gateway key. The gateway's
log shows which key each call used, by alias.

    python examples/per_role_keys.py
"""

from __future__ import annotations

import os
import secrets

from _gateway import gateway

from langgraph_routing import CostReport, RoutingPolicy, create_routing_agent
from langgraph_routing.demo import DEMO_TOOLS
from langgraph_routing.testing import VirtualKey

ROLE_VARS = {"planner": "ROUTING_KEY_PLANNER", "critic": "ROUTING_KEY_CRITIC"}


def policy_with_roles() -> RoutingPolicy:
    data = RoutingPolicy.default().model_dump(mode="json")
    data["roles"] = {role: {"api_key_env": var} for role, var in ROLE_VARS.items()}
    data["tasks"]["plan"]["role"] = "planner"
    data["tasks"]["critique"]["role"] = "critic"
    data["planning"] = {"mode": "always"}  # plan every run, so the planner's key is used
    return RoutingPolicy.from_dict(data)


def main() -> None:
    real = bool(os.environ.get("LANGGRAPH_ROUTING_BASE_URL"))
    missing = [var for var in ROLE_VARS.values() if not os.environ.get(var)]
    if real and missing:
        print(f"set {', '.join(missing)} to the roles' virtual keys to run this on a real gateway")
        return
    for var in missing:  # LocalGateway: make up keys for the roles
        os.environ[var] = "sk-" + secrets.token_hex(12)
    keys = [VirtualKey(os.environ[var], alias=role) for role, var in ROLE_VARS.items()]

    with gateway(keys=keys) as (base_url, api_key, local):
        policy = policy_with_roles()
        agent = create_routing_agent(
            DEMO_TOOLS, policy=policy, base_url=base_url, api_key=api_key, critique=True
        )
        out = agent.invoke({"messages": [("user", "What is the capital and population of Japan?")]})
        print(f"stop_reason={out['stop_reason']}")

        by_role = CostReport(out["costs"]).by_role()
        print(f"ledger cost by role: { {r: round(v, 6) for r, v in by_role.items()} }")
        if local is None:
            print("(the gateway's spend logs list these calls under each key's alias)")
            return
        print("gateway log (task -> model -> key alias):")
        for r in local.log:
            task = r.headers["x-litellm-tags"].split(",")[0].removeprefix("task:")
            print(f"  {task} -> {r.model} -> {r.key_alias}")
        aliases = {k.key: k.label for k in keys}
        spend = {aliases.get(k, "master"): round(v, 6) for k, v in local.spend_by_key().items()}
        print(f"gateway spend by key alias: {spend}")


if __name__ == "__main__":
    main()
