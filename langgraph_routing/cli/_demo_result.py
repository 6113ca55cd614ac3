"""What the demo found: each question's run, the outage and its resume, and the checks.

:func:`~langgraph_routing.cli._demo_run.run_demo` fills a :class:`DemoResult`; the CLI renders
it (``_render``). ``DemoResult.ok`` is every check at once: all answered, the outage resumed
without re-sending a finished step, the ledger equal to the gateway's spend, and every step on
the model the policy names.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langgraph_routing._policy import AgentTask, RoutingPolicy
from langgraph_routing._report import CostReport, Savings
from langgraph_routing.demo import DemoQuestion
from langgraph_routing.testing import RequestRecord

__all__ = ["DemoOutage", "DemoResult", "DemoRun", "NodeModel"]

NodeModel = tuple[str, str]


@dataclass
class DemoRun:
    """One question's thread: its answer, the routing decisions and the ledger entries."""

    index: int
    question: DemoQuestion
    thread_id: str
    answer: str
    stop_reason: str | None
    steps: list[dict[str, Any]]
    costs: list[dict[str, Any]]
    note: str = ""

    @property
    def answered(self) -> bool:
        """True when the answer holds every expected substring."""
        return self.question.is_answered_by(self.answer)

    @property
    def cost_usd(self) -> float:
        """The thread's ledger total."""
        return CostReport(self.costs).total_usd


@dataclass
class DemoOutage:
    """The run that failed mid-chain, and what its resume sent to the gateway."""

    thread_id: str
    models: list[str]
    error: str
    attempts: list[dict[str, Any]]
    status_after_failure: str
    next_nodes: tuple[str, ...]
    before: Counter[NodeModel]
    failed: Counter[NodeModel]
    during_resume: Counter[NodeModel] = field(default_factory=Counter)
    finished_steps: list[tuple[str, int]] = field(default_factory=list)
    resumed_steps: list[tuple[str, int]] = field(default_factory=list)
    status_after_resume: str = ""

    @property
    def repeated_steps(self) -> list[tuple[str, int]]:
        """Steps finished before the failure that the resume ran again (should be empty)."""
        done = set(self.finished_steps)
        return [s for s in self.resumed_steps if s in done]

    @property
    def resent_nodes(self) -> list[str]:
        """Nodes whose gateway requests during the resume went to a node finished before."""
        finished = {node for node, _ in self.finished_steps}
        failed = {node for node, _ in self.failed}
        return sorted(n for n, _ in self.during_resume if n in finished and n not in failed)


@dataclass
class DemoResult:
    """Everything the demo did, for the CLI to print and the tests to check."""

    workdir: Path
    db_url: str
    gateway_url: str
    policy: RoutingPolicy
    runs: list[DemoRun]
    outage: DemoOutage | None
    reroute_thread: str | None
    gateway_log: list[RequestRecord]
    gateway_spend_usd: float
    report: CostReport
    savings: Savings
    frontier_model: str
    elapsed_s: float

    @property
    def ledger_total_usd(self) -> float:
        """Sum of every thread's ledger (``math.fsum``)."""
        return self.report.total_usd

    @property
    def ledger_matches_gateway(self) -> bool:
        """True when the ledgers add up to exactly what the gateway charged."""
        return self.ledger_total_usd == self.gateway_spend_usd

    @property
    def all_answered(self) -> bool:
        return all(run.answered for run in self.runs)

    @property
    def fallbacks(self) -> int:
        """Steps that ended on another model than their first choice."""
        return sum(1 for run in self.runs for s in run.steps if s["model"] != s["requested_model"])

    def policy_mismatches(self) -> list[str]:
        """Steps whose model the policy does not allow for their task (should be empty): the
        task's model, or after a failed attempt a model of its fallback chain."""
        problems = []
        for run in self.runs:
            for step in run.steps:
                task = AgentTask(step["task"])
                wanted = self.policy.tasks[task].model
                allowed = {wanted}
                if step["attempts"] > 1:
                    allowed.update(self.policy.fallback_chain(wanted))
                if step["model"] not in allowed or step["requested_model"] != wanted:
                    problems.append(f"{run.thread_id} {step['node']}: {step['model']}")
        return problems

    @property
    def ok(self) -> bool:
        """Every check of the demo passed."""
        outage_ok = self.outage is not None and (
            self.outage.status_after_resume == "done"
            and not self.outage.repeated_steps
            and not self.outage.resent_nodes
        )
        return (
            self.all_answered
            and outage_ok
            and self.ledger_matches_gateway
            and not self.policy_mismatches()
        )
