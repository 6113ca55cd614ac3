"""Rich rendering for the ``langgraph-routing`` command: steps, threads, cost tables, the demo."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from langgraph_routing._policy import RoutingPolicy
from langgraph_routing._report import CostReport
from langgraph_routing.checkpointing._threads import ThreadInfo
from langgraph_routing.cli._demo_result import DemoOutage, DemoResult, DemoRun

__all__ = [
    "DemoPrinter",
    "cost_text",
    "costs_table",
    "plain",
    "print_costs",
    "print_demo_summary",
    "step_line",
    "steps_table",
    "threads_table",
]

_OK = "[green]✓[/green]"
_NO = "[red]✗[/red]"


def cost_text(value: Any) -> str:
    """``$0.000123`` (rounded, never float noise) or ``unknown`` (never 0 for an unknown cost).

    >>> cost_text(0.0012340000000000001), cost_text(None), cost_text(2)
    ('$0.001234', 'unknown', '$2.000000')
    """
    return "unknown" if value is None else f"${float(value):.6f}"


def plain(value: Any) -> Text:
    """A value as literal text: ``[bold]`` or ``[/]`` in a thread id or model name is printed
    as is, never read as rich markup."""
    return Text("-" if value is None else str(value))


def step_line(step: Mapping[str, Any]) -> str:
    """One routing decision as a line of rich markup."""
    attempts = int(step.get("attempts") or 1)
    extra = f" [yellow]({attempts} attempts)[/yellow]" if attempts > 1 else ""
    return (
        f"  [cyan]{escape(str(step.get('node'))):<12}[/cyan] "
        f"[bold]{escape(str(step.get('model'))):<27}[/bold] {cost_text(step.get('cost_usd')):>10}"
        f"  [dim]{escape(str(step.get('reason') or ''))}[/dim]{extra}"
    )


def steps_table(steps: Sequence[Mapping[str, Any]], title: str = "Routing steps") -> Table:
    """The ``routing`` channel as a table: node, task, model, why, attempts, cost."""
    table = Table(title=title)
    for name in ("#", "node", "task", "model", "reason", "attempts", "cost (USD)"):
        table.add_column(
            name, justify="right" if name in ("#", "attempts", "cost (USD)") else "left"
        )
    for i, step in enumerate(steps, 1):
        table.add_row(
            str(i),
            plain(step.get("node")),
            plain(step.get("task")),
            plain(step.get("model")),
            plain(step.get("reason") or ""),
            str(step.get("attempts") or 1),
            cost_text(step.get("cost_usd")),
        )
    return table


def threads_table(infos: Iterable[ThreadInfo], title: str) -> Table:
    """``list_threads`` as a table."""
    table = Table(title=plain(title))
    for name in ("thread", "status", "cost (USD)", "stop reason", "models", "steps", "updated"):
        table.add_column(name, justify="right" if name in ("cost (USD)", "steps") else "left")
    colors = {"done": "green", "failed": "red", "interrupted": "yellow", "running": "blue"}
    for info in infos:
        status = f"[{colors.get(info.status, 'white')}]{info.status}[/]"
        if info.last_error:
            status += f"\n[dim]{escape(info.last_error[:80])}[/dim]"
        table.add_row(
            plain(info.thread_id),
            status,
            cost_text(info.cost_usd)
            + (
                f"\n[dim]{info.interrupted_calls} interrupted[/dim]"
                if info.interrupted_calls
                else ""
            ),
            plain(info.stop_reason or "-"),
            plain(", ".join(info.models) or "-"),
            "-" if info.steps is None else str(info.steps),
            (info.updated_at or "-")[:19].replace("T", " "),
        )
    return table


def health_table(rows: Iterable[Mapping[str, Any]], title: str) -> Table:
    """``health_rows`` as a table: breaker state, why, cooldown left, failures, latency."""
    table = Table(title=plain(title))
    names = ("gateway", "model", "state", "why", "reopens in", "fails in a row", "window")
    for name in (*names, "ewma total ms", "ewma ttft ms"):
        table.add_column(name, justify="left" if name in names[:4] else "right")
    colors = {"closed": "green", "open": "red", "half_open": "yellow"}
    for row in rows:
        state = str(row["state"])
        reopens = row.get("reopens_in_s")
        table.add_row(
            plain(row["gateway"]),
            plain(row["model"]),
            Text(state, style=colors.get(state, "white")),
            plain(row.get("why")),
            "-" if reopens is None else f"{reopens:.1f} s",
            str(row["failures_in_row"]),
            f"{row['window_failures']}/{row['window_calls']} failed",
            plain(row.get("ewma_total_ms")),
            plain(row.get("ewma_ttft_ms")),
        )
    return table


def costs_table(report: CostReport, by: str = "node") -> Table:
    """``report.breakdown(by)`` as a table; keys (threads, models, nodes) printed literally."""
    table = Table(title=plain(f"Cost by {by}: {report.total_text} ({report.calls} calls)"))
    table.add_column(by)
    for name in ("calls", "prompt tok", "completion tok", "cost (USD)", "share"):
        table.add_column(name, justify="right")
    total = report.total_usd
    for row in report.breakdown(by):
        share = "-" if row.unknown == row.calls else f"{row.share:.1%}"
        table.add_row(
            plain(row.key),
            str(row.calls),
            str(row.prompt_tokens),
            str(row.completion_tokens),
            row.cost_text,
            share,
        )
    table.add_section()
    table.add_row(
        "total",
        str(report.calls),
        str(report.prompt_tokens),
        str(report.completion_tokens),
        report.total_text,
        "100.0%" if total > 0 else "-",
        style="bold",
    )
    return table


def print_costs(
    console: Console, report: CostReport, by: Sequence[str] = ("node", "model")
) -> None:
    """Cost tables, one per grouping key."""
    for key in by:
        console.print(costs_table(report, by=key))


def policy_table(policy: RoutingPolicy) -> Table:
    """Task -> model (and fallback chain) of a policy."""
    table = Table(title="Routing policy")
    for name in ("task", "model", "fallbacks", "$/1M in", "$/1M out"):
        table.add_column(name, justify="right" if name.startswith("$") else "left")
    for task, route in policy.tasks.items():
        spec = policy.models[route.model]
        table.add_row(
            task,
            route.model,
            " -> ".join(policy.fallback_chain(route.model)) or "-",
            f"{spec.input_per_million:.2f}",
            f"{spec.output_per_million:.2f}",
        )
    return table


class DemoPrinter:
    """Receives :func:`~langgraph_routing.cli._demo_run.run_demo` events and prints them as they
    happen, under a status spinner."""

    def __init__(self, console: Console, policy: RoutingPolicy) -> None:
        self.console = console
        self.policy = policy
        self.status = console.status("Starting the gateway…")

    def __call__(self, kind: str, data: Mapping[str, Any]) -> None:
        getattr(self, f"_on_{kind}")(data)

    def _on_start(self, data: Mapping[str, Any]) -> None:
        c = self.console
        c.print(
            Panel.fit(
                f"LocalGateway at [bold]{data['gateway_url']}[/bold]\n"
                f"checkpoints in [bold]{escape(str(data['db_url']))}[/bold]\n"
                f"{data['questions']} questions through plan -> tool_select <-> tools -> "
                "synthesize",
                title="langgraph-routing demo",
            )
        )
        c.print(policy_table(self.policy))

    def _on_question(self, data: Mapping[str, Any]) -> None:
        n, total = data["index"] + 1, data["total"]
        self.status.update(f"Question {n}/{total}…")
        self.console.print(
            f"\n[bold][{n}/{total}] {escape(data['question'])}[/bold]  [dim]thread "
            f"{escape(str(data['thread_id']))}[/dim]"
        )
        if data["fault"]:
            self.console.print(f"  [yellow]⚡ injected: {escape(data['fault'])}[/yellow]")

    def _on_step(self, data: Mapping[str, Any]) -> None:
        self.console.print(step_line(data))

    def _on_failed(self, data: Mapping[str, Any]) -> None:
        outage: DemoOutage = data["outage"]
        c = self.console
        c.print(f"  [red]✗ run failed:[/red] {escape(outage.error)}")
        for a in outage.attempts:
            c.print(
                f"    attempt: {a.get('model')} -> {a.get('error_kind')} {a.get('status') or ''}"
            )
        c.print(
            f"  thread status: [red]{outage.status_after_failure}[/red], next node: "
            f"{', '.join(outage.next_nodes) or '-'} (plan and tool steps are checkpointed)"
        )
        c.print("  [green]outage over[/green]: resuming the thread with resume_thread()")
        self.status.update("Resuming…")

    def _on_resumed(self, data: Mapping[str, Any]) -> None:
        for step in data["steps"]:
            self.console.print(step_line(step) + "  [green](resumed)[/green]")

    def _on_answer(self, data: Mapping[str, Any]) -> None:
        run: DemoRun = data["run"]
        mark = _OK if run.answered else _NO
        answer = " ".join(run.answer.split())
        if len(answer) > 160:
            answer = answer[:159] + "…"
        self.console.print(
            f"  {mark} [bold]answer[/bold] ({cost_text(run.cost_usd)}): {escape(answer)}"
        )


def _outage_table(outage: DemoOutage) -> Table:
    table = Table(title=f"Gateway requests of {outage.thread_id} (the failed run)")
    for name in ("node", "model", "ok before the failure", "failed (503)", "sent by the resume"):
        table.add_column(name, justify="left" if name in ("node", "model") else "right")
    keys = sorted(set(outage.before) | set(outage.failed) | set(outage.during_resume))
    for key in keys:
        table.add_row(
            key[0],
            key[1],
            str(outage.before.get(key, 0)),
            str(outage.failed.get(key, 0)),
            str(outage.during_resume.get(key, 0)),
        )
    return table


def _runs_table(result: DemoResult) -> Table:
    table = Table(title="Cost per run")
    for name in ("#", "thread", "question", "calls", "cost (USD)", "answered", "note"):
        table.add_column(name, justify="right" if name in ("#", "calls", "cost (USD)") else "left")
    for run in result.runs:
        table.add_row(
            str(run.index + 1),
            run.thread_id,
            escape(run.question.question),
            str(len(run.costs)),
            cost_text(run.cost_usd),
            _OK if run.answered else _NO,
            run.note,
        )
    return table


def print_demo_summary(console: Console, result: DemoResult) -> None:
    """The demo's closing tables and checks."""
    c = console
    c.print()
    if result.outage is not None:
        c.print(_outage_table(result.outage))
    c.print(_runs_table(result))
    print_costs(c, result.report)
    unknown = [e for e in result.report.entries if e.get("cost_usd") is None]
    if unknown:
        failed = sum(1 for e in unknown if e.get("status") == "error")
        c.print(
            f"[dim]unknown: {len(unknown)} call(s), {failed} of them failed attempts the gateway "
            "did not charge (an unknown cost is never counted as 0)[/dim]"
        )
    s = result.savings
    c.print(
        f"\n[bold]Saving[/bold] vs sending every step to {result.frontier_model}: "
        f"routed {cost_text(s.actual_usd)} vs {cost_text(s.baseline_usd)} "
        f"-> [bold green]{s.ratio:.2f}x cheaper[/bold green] "
        f"({s.saved_usd / s.baseline_usd:.0%} saved"
        + (f"; {s.skipped_calls} failed call(s) with no cost left out" if s.skipped_calls else "")
        + ")"
        if s.baseline_usd > 0
        else "\n[bold]Saving[/bold]: nothing to compare"
    )
    c.print(
        f"[bold]Ledger[/bold] total {cost_text(result.ledger_total_usd)}, "
        f"gateway spend {cost_text(result.gateway_spend_usd)} "
        f"({len(result.gateway_log)} gateway requests)"
    )
    outage = result.outage
    mismatches = result.policy_mismatches()
    checks = [
        (
            result.all_answered,
            f"every question answered ({sum(r.answered for r in result.runs)}/{len(result.runs)})",
        ),
        (
            not mismatches,
            "every step on the model the policy names"
            + (f" ({result.fallbacks} fallback after a 503)" if result.fallbacks else "")
            + (f": {', '.join(mismatches)}" if mismatches else ""),
        ),
        (
            outage is not None
            and outage.status_after_resume == "done"
            and not outage.repeated_steps
            and not outage.resent_nodes,
            "the failed run was resumed to done and no finished step was sent again"
            + (
                f" (resume sent: {', '.join(f'{n}/{m} x{k}' for (n, m), k in outage.during_resume.items())})"
                if outage is not None
                else ""
            ),
        ),
        (result.ledger_matches_gateway, "ledger total == gateway spend"),
    ]
    c.print()
    for ok, text in checks:
        c.print(f"{_OK if ok else _NO} {escape(text)}")
    c.print(
        f"\n[dim]Done in {result.elapsed_s:.1f}s. Look again with:[/dim]\n"
        f"  langgraph-routing runs --db {result.db_url}\n"
        f"  langgraph-routing report --db {result.db_url}"
        + (f" --thread {outage.thread_id}" if outage is not None else "")
    )
