"""The ``langgraph-routing`` command: demo, run, gateway, runs, resume, report.

Errors are one line on stderr (``error: ...``): exit code 2 for usage and configuration errors
(bad policy, bad database URL, unknown thread, missing key or gateway URL), 1 for a run that
failed (its thread is saved and can be resumed). ``--debug`` adds the traceback. Keys are read
from the environment and never printed.
"""

from __future__ import annotations

import argparse
import math
import secrets
import sys
import traceback
from collections.abc import Callable, Sequence

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from langgraph_routing._errors import CheckpointerError, MissingKeyError, PolicyError, RoutingError
from langgraph_routing._policy import RoutingPolicy
from langgraph_routing._report import CostReport
from langgraph_routing._urls import scrub_connection_text
from langgraph_routing.checkpointing._adapter import RoutingCheckpointer
from langgraph_routing.checkpointing._open import open_checkpointer, redact_url
from langgraph_routing.checkpointing._resume import resume_failed
from langgraph_routing.checkpointing._threads import (
    ThreadInfo,
    list_threads,
    short_error,
    thread_info,
)
from langgraph_routing.cli._common import (
    META_BUDGET,
    META_CRITIQUE,
    CliError,
    base_url_of,
    build_graph,
    check_keys,
    execute,
    latest_checkpoint,
    load_policy,
    print_outcome,
    require_db,
    thread_config,
    thread_entries,
)
from langgraph_routing.cli._parser import build_parser

__all__ = ["CliError", "build_parser", "main"]

_Handler = Callable[[argparse.Namespace, Console], int]


# -- commands -----------------------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace, out: Console) -> int:
    from langgraph_routing.cli._demo_run import run_demo
    from langgraph_routing.cli._render import DemoPrinter, print_demo_summary
    from langgraph_routing.demo import DEMO_QUESTIONS

    n = args.questions
    if n is not None and not 1 <= n <= len(DEMO_QUESTIONS):
        raise CliError(f"--questions must be between 1 and {len(DEMO_QUESTIONS)}, got {n}")
    policy = RoutingPolicy.default()
    printer = DemoPrinter(out, policy)
    with printer.status:
        result = run_demo(args.workdir, questions=n, on_event=printer, policy=policy)
    print_demo_summary(out, result)
    return 0 if result.ok else 1


def _cmd_run(args: argparse.Namespace, out: Console) -> int:
    resume = args.resume or args.question is None
    if resume and not args.thread:
        raise CliError("give a question, or --thread ID (with --resume) to resume a run")
    if args.resume and args.question is not None:
        raise CliError("give either a question or --resume, not both")
    policy = load_policy(args.policy)
    base_url = base_url_of(args.base_url, policy)
    check_keys(policy)
    thread_id = args.thread or f"run-{secrets.token_hex(4)}"
    meta = {META_CRITIQUE: bool(args.critique), META_BUDGET: args.budget}
    with open_checkpointer(args.db) as cp:
        latest = latest_checkpoint(cp, thread_id)
        if resume and latest is None:
            raise CliError(f"unknown thread {thread_id!r} in {redact_url(args.db)}")
        graph = build_graph(cp, policy, base_url, budget=args.budget, critique=args.critique)
        before = len((graph.get_state(thread_config(thread_id)).values or {}).get("routing") or [])
        inputs = None if resume else {"messages": [("user", args.question)]}
        values = execute(out, graph, inputs, thread_id, args.db, base_url, meta)
        print_outcome(out, values, thread_id, before)
    return 0


def _cmd_gateway(args: argparse.Namespace, out: Console) -> int:
    from langgraph_routing.testing import serve

    if args.policy:
        RoutingPolicy.from_file(args.policy)  # a bad file is a one-line error, before binding
    try:
        serve(args.port, args.policy, host=args.host)
    except OSError as exc:
        raise CliError(
            f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}", 1
        ) from exc
    return 0


def _cmd_health(args: argparse.Namespace, out: Console) -> int:
    import json
    import os

    from langgraph_routing.cli._render import health_table
    from langgraph_routing.shared_state import STATE_ENV, health_rows

    policy = RoutingPolicy.from_file(args.policy) if args.policy else RoutingPolicy.default()
    if policy.health is None:
        raise CliError("the policy turns breakers off (health: false): no state to show")
    url = args.state or os.environ.get(STATE_ENV) or "memory://"
    try:
        rows = health_rows(url, policy.health)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    except Exception as exc:  # redis / psycopg connection errors: the driver's own classes
        raise CliError(
            f"cannot read the routing state at {redact_url(url)}: "
            + scrub_connection_text(_one_line(exc), url)
        ) from None
    if args.json:
        for row in rows:
            print(json.dumps(row, sort_keys=True))
        return 0
    if not rows:
        note = " (memory:// holds only this process's state)" if url.startswith("memory") else ""
        out.print(Text(f"no model calls recorded in {redact_url(url)}{note}"))
        return 0
    out.print(health_table(rows, title=f"Routing health in {redact_url(url)}"))
    return 0


def _cmd_runs(args: argparse.Namespace, out: Console) -> int:
    from langgraph_routing.cli._render import threads_table

    require_db(args.db)
    with open_checkpointer(args.db) as cp:
        infos = list_threads(cp)
    if not infos:
        out.print(Text(f"no threads in {redact_url(args.db)}"))
        return 0
    out.print(threads_table(infos, title=f"Threads in {redact_url(args.db)}"))
    return 0


def _cmd_resume(args: argparse.Namespace, out: Console) -> int:
    if bool(args.thread) == bool(args.all_failed):
        raise CliError("give a THREAD or --all-failed (one of them)")
    require_db(args.db)
    policy = load_policy(args.policy)
    base_url = base_url_of(args.base_url, policy)
    check_keys(policy)
    with open_checkpointer(args.db) as cp:
        if args.all_failed:
            return _resume_all(args, out, cp, policy, base_url)
        latest = latest_checkpoint(cp, args.thread)
        if latest is None:
            raise CliError(f"unknown thread {args.thread!r} in {redact_url(args.db)}")
        info = next(i for i in list_threads(cp) if i.thread_id == args.thread)
        if info.status == "done":
            out.print(Text(f"thread {args.thread} is done: nothing to resume"))
            return 0
        meta = dict(latest.metadata or {})
        critique = bool(meta.get(META_CRITIQUE)) if args.critique is None else args.critique
        budget = args.budget if args.budget is not None else meta.get(META_BUDGET)
        graph = build_graph(cp, policy, base_url, budget=budget, critique=critique)
        before = len(graph.get_state(thread_config(args.thread)).values.get("routing") or [])
        out.print(
            Text(
                f"resuming {args.thread} ({info.status}; next: {', '.join(info.next_nodes) or '-'})"
            )
        )
        # the budget (and critique) live with the thread until changed explicitly
        kept = {META_CRITIQUE: critique, META_BUDGET: budget}
        values = execute(out, graph, None, args.thread, args.db, base_url, kept)
        print_outcome(out, values, args.thread, before)
    return 0


def _resume_all(
    args: argparse.Namespace, out: Console, cp: RoutingCheckpointer, policy: RoutingPolicy, url: str
) -> int:
    with out.status("Resuming failed threads…"):
        outcomes = []
        for info in [i for i in list_threads(cp) if i.status == "failed"]:
            # each thread keeps the budget and critique it was run with, unless given here
            latest = latest_checkpoint(cp, info.thread_id)
            meta = dict(latest.metadata or {}) if latest is not None else {}
            budget = args.budget if args.budget is not None else meta.get(META_BUDGET)
            critique = bool(meta.get(META_CRITIQUE)) if args.critique is None else args.critique
            graph = build_graph(cp, policy, url, budget=budget, critique=critique)
            kept = {"metadata": {META_CRITIQUE: critique, META_BUDGET: budget}}
            outcomes += resume_failed(graph, cp, thread_ids=[info.thread_id], **kept)
    if not outcomes:
        out.print("no failed threads")
        return 0
    for o in outcomes:
        mark = "[green]✓[/green]" if o.ok else "[red]✗[/red]"
        out.print(
            f"{mark} {escape(o.thread_id)}: {o.status}"
            + (f" ({escape(o.error)})" if o.error else "")
        )
    failed = [o.thread_id for o in outcomes if not o.ok]
    if failed:
        raise CliError(
            f"{len(failed)} of {len(outcomes)} threads failed again: {', '.join(failed)}", 1
        )
    return 0


def _cmd_report(args: argparse.Namespace, out: Console) -> int:
    from langgraph_routing.cli._render import print_costs, steps_table

    require_db(args.db)
    with open_checkpointer(args.db) as cp:
        if args.thread:
            tup = latest_checkpoint(cp, args.thread)
            if tup is None:
                raise CliError(f"unknown thread {args.thread!r} in {redact_url(args.db)}")
            values = tup.checkpoint.get("channel_values") or {}
            entries = thread_entries(cp, args.thread)
            stop = values.get("stop_reason") or "-"
            out.print(Text(f"thread {args.thread}: stop reason {stop}"))
            if values.get("routing"):
                out.print(steps_table(list(values["routing"])))
            print_costs(out, CostReport(entries))
            _print_gap(out, CostReport(entries), [thread_info(tup)])
            return 0
        infos = list_threads(cp)
        if not infos:
            out.print(Text(f"no threads in {redact_url(args.db)}"))
            return 0
        entries = [e for info in infos for e in thread_entries(cp, info.thread_id)]
    report = CostReport(entries)
    print_costs(out, report, by=("thread", "node", "model"))
    _print_gap(out, report, infos)
    return 0


def _print_gap(out: Console, report: CostReport, infos: Sequence[ThreadInfo]) -> None:
    """Say what the checkpoints' cost stamp (what ``runs`` shows) counts beyond the state:
    calls the attached cost handler saw that the state could not keep (failed attempts of a
    node that raised). Silent when both agree."""
    from langgraph_routing.cli._render import cost_text

    stamped = [i for i in infos if i.calls]
    if not stamped:
        return
    calls = sum(i.calls for i in infos)
    total = math.fsum(i.cost_usd or 0.0 for i in infos)
    if calls == report.calls and abs(total - report.total_usd) <= 1e-12:
        return
    out.print(
        f"thread total (as `runs` shows): {cost_text(total)} over {calls} calls; "
        f"{max(calls - report.calls, 0)} call(s), {cost_text(max(total - report.total_usd, 0.0))}, "
        "are not in the thread's states (failed attempts of a node that raised, seen by the "
        "cost handler, or messages removed since)"
    )


_COMMANDS: dict[str, _Handler] = {
    "demo": _cmd_demo,
    "run": _cmd_run,
    "gateway": _cmd_gateway,
    "runs": _cmd_runs,
    "resume": _cmd_resume,
    "health": _cmd_health,
    "report": _cmd_report,
}

# -- entry point --------------------------------------------------------------------------------

_CONFIG_ERRORS = (PolicyError, CheckpointerError, MissingKeyError)


def _exit_code(exc: BaseException) -> int:
    if isinstance(exc, CliError):
        return exc.code
    if isinstance(exc, _CONFIG_ERRORS):
        return 2
    from langgraph_routing.testing import GatewayConfigError

    return 2 if isinstance(exc, GatewayConfigError) else 1


def _console() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 120
    return console


def main(argv: Sequence[str] | None = None, *, console: Console | None = None) -> int:
    """Run the command; returns the exit code (the ``langgraph-routing`` console script)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    try:
        args = build_parser().parse_args(args_list)
        return _COMMANDS[args.command](args, console or _console())
    except SystemExit as exc:  # --help / --version
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return _exit_code(exc)


def _one_line(exc: BaseException) -> str:
    """The error as one secret-free line. Our own errors (usage, configuration, routing) are
    their message alone, without a Python class name; anything else keeps its class name."""
    from langgraph_routing.testing import GatewayConfigError

    if isinstance(exc, CliError):
        text = str(exc)  # ours, already secret-free (and kept whole: it carries the hints)
    elif isinstance(exc, RoutingError | GatewayConfigError):
        text = short_error(str(exc))
    else:
        text = short_error(exc)
    return " ".join(text.split()) or type(exc).__name__
