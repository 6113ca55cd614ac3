"""Shared pieces of the ``langgraph-routing`` commands: errors, configuration, running a thread."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from langgraph_routing._errors import (
    BudgetExceededError,
    ContextTooLargeError,
    MissingKeyError,
    PolicyError,
    RoutesExhaustedError,
    RoutingError,
)
from langgraph_routing._failures import inspect_error
from langgraph_routing._graph import create_routing_agent
from langgraph_routing._policy import ErrorKind, RoutingPolicy
from langgraph_routing._report import CostReport
from langgraph_routing.checkpointing._adapter import RoutingCheckpointer
from langgraph_routing.checkpointing._open import redact_url
from langgraph_routing.checkpointing._summary import state_entries
from langgraph_routing.checkpointing._threads import interrupted_entries, short_error

__all__ = [
    "DEFAULT_DB",
    "META_BUDGET",
    "META_CRITIQUE",
    "CliError",
    "base_url_of",
    "build_graph",
    "check_keys",
    "execute",
    "latest_checkpoint",
    "load_policy",
    "print_outcome",
    "require_db",
    "run_failure",
    "thread_config",
    "thread_entries",
]

DEFAULT_DB = "sqlite:///langgraph-routing.db"
META_CRITIQUE = "routing_cli_critique"
META_BUDGET = "routing_cli_budget_usd"


class CliError(Exception):
    """A failure the command reports as one line, with its exit code."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def load_policy(path: str | None) -> RoutingPolicy:
    return RoutingPolicy.from_file(path) if path else RoutingPolicy.default()


def base_url_of(given: str | None, policy: RoutingPolicy) -> str:
    url = given or os.environ.get("LANGGRAPH_ROUTING_BASE_URL") or policy.gateway.base_url
    if not url:
        raise CliError(
            "no gateway URL: pass --base-url, set LANGGRAPH_ROUTING_BASE_URL or gateway.base_url "
            "in the policy"
        )
    return url


def check_keys(policy: RoutingPolicy) -> None:
    """Fail before any request when a key variable the policy needs is unset."""
    if not os.environ.get(policy.gateway.api_key_env):
        raise MissingKeyError(policy.gateway.api_key_env, None)
    for route in policy.tasks.values():
        if route.role is not None:
            env = policy.roles[route.role].api_key_env
            if not os.environ.get(env):
                raise MissingKeyError(env, route.role)


def require_db(url: str) -> None:
    """Read-only commands must not create an empty SQLite file."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = Path(url[len("sqlite:///") :]).expanduser()
        if not path.is_file():
            raise CliError(f"no checkpoint database at {str(path)!r} (check --db)")


def thread_config(thread_id: str, **metadata: Any) -> RunnableConfig:
    config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
    if metadata:
        config["metadata"] = metadata
    return config


def latest_checkpoint(cp: RoutingCheckpointer, thread_id: str) -> Any:
    return cp.get_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}})


def _ns_order(ns: str) -> tuple[bool, str]:
    return ns != "", ns  # the root first


def thread_entries(cp: RoutingCheckpointer, thread_id: str) -> list[dict[str, Any]]:
    """Ledger entries of a thread as its states hold them: every checkpoint of every
    namespace (the root and its subgraphs), newest first, deduplicated by call id. Reading
    them all, not the latest alone, keeps the entries of a run whose state another run on the
    same thread overwrote (see ``lost_ledger_entries``)."""
    tuples = list(cp.list({"configurable": {"thread_id": thread_id}}))
    tuples.sort(key=lambda t: str(t.config["configurable"]["checkpoint_id"]), reverse=True)
    tuples.sort(key=lambda t: _ns_order(t.config["configurable"].get("checkpoint_ns", "")))
    out: dict[str, dict[str, Any]] = {}
    for tup in tuples:
        values = tup.checkpoint.get("channel_values") or {}
        for entry in state_entries(values, thread_id):
            out.setdefault(str(entry.get("call_id")), entry)
    for entry in interrupted_entries(cp, thread_id):  # in flight when their process died
        out.setdefault(str(entry["call_id"]), entry)
    return list(out.values())


def build_graph(
    cp: RoutingCheckpointer,
    policy: RoutingPolicy,
    base_url: str | None,
    *,
    budget: float | None = None,
    critique: bool = False,
) -> Any:
    from langgraph_routing.demo import DEMO_TOOLS

    return create_routing_agent(
        DEMO_TOOLS,
        policy=policy,
        checkpointer=cp,
        base_url=base_url,
        budget_usd=budget,
        critique=critique,
    )


def execute(
    out: Console,
    graph: Any,
    inputs: Any,
    thread_id: str,
    db: str,
    base_url: str,
    metadata: dict[str, Any],
) -> dict[str, Any]:
    """Stream one run (or resume) showing each routing step; returns the thread's values."""
    config = thread_config(thread_id, **metadata)
    try:
        with out.status(f"Running thread {escape(thread_id)}…"):
            # durability="sync": a step's checkpoint is written before the next step starts,
            # so a process killed mid-run never has a finished (paid) step run again
            for chunk in graph.stream(inputs, config, stream_mode="custom", durability="sync"):
                if isinstance(chunk, dict) and chunk.get("event") == "routing":
                    from langgraph_routing.cli._render import step_line

                    out.print(step_line(chunk))
    except (MissingKeyError, PolicyError):
        raise
    except Exception as exc:
        raise run_failure(exc, thread_id, db, base_url) from exc
    values: dict[str, Any] = dict(graph.get_state(thread_config(thread_id)).values)
    return values


_CORE_CHARS = 200
_NOT_RESUMABLE = frozenset({ErrorKind.AUTH, ErrorKind.BAD_REQUEST, ErrorKind.BUDGET})


def _failures(exc: BaseException) -> list[tuple[ErrorKind | None, int | None]]:
    """(error kind, HTTP status) of each failed gateway attempt behind ``exc``."""
    if isinstance(exc, RoutesExhaustedError):
        out: list[tuple[ErrorKind | None, int | None]] = []
        for attempt in exc.attempts:
            kind = attempt.get("error_kind")
            status = attempt.get("status")
            error_kind = (
                ErrorKind(kind) if isinstance(kind, str) and kind in set(ErrorKind) else None
            )
            out.append((error_kind, status if isinstance(status, int) else None))
        return out
    info = inspect_error(exc)
    return [(info.kind, info.status)] if info is not None else []


def run_failure(exc: BaseException, thread_id: str, db: str, base_url: str) -> CliError:
    """The one-line error of a failed run: what failed, what to check, how to resume.

    The resume hint is given only when a resume can help: not for ``memory://`` (nothing is
    kept after the command) nor for errors a resume repeats (auth, bad request, policy,
    budget, a prompt too large for every model).
    """
    info = None if isinstance(exc, RoutingError) else inspect_error(exc)
    if isinstance(exc, RoutingError):
        text = short_error(str(exc))
    elif info is not None and info.status is not None:
        text = f"the gateway answered HTTP {info.status}: {short_error(info.message)}"
    else:
        text = short_error(exc)
    if len(text) > _CORE_CHARS:
        text = text[: _CORE_CHARS - 1] + "…"
    failures = _failures(exc)
    statuses = {status for _, status in failures}
    if isinstance(exc, RoutesExhaustedError) and not any(statuses):
        text += f"; no HTTP answer (connection failed?) from {redact_url(base_url)}"
    if 404 in statuses:
        text += (
            f"; the gateway at {redact_url(base_url)} answered 404 Not Found: check --base-url "
            "(an OpenAI-compatible URL, usually ending in /v1)"
        )
    if 401 in statuses or 403 in statuses:
        text += "; check the gateway key (the variable the policy's api_key_env names)"
    kinds = {kind for kind, _ in failures}
    cannot_fix = (
        isinstance(exc, ContextTooLargeError | BudgetExceededError | PolicyError)
        or (bool(kinds) and kinds <= _NOT_RESUMABLE)
        or 404 in statuses
    )
    if db.startswith("memory:"):
        text += f" [thread {thread_id} not kept: memory:// lasts one command]"
    elif not cannot_fix:
        hint = f"langgraph-routing resume {thread_id} --db {redact_url(db)}"
        text += f" [thread {thread_id} saved; retry with: {hint}]"
    return CliError(text, 1)


def print_outcome(out: Console, values: dict[str, Any], thread_id: str, first_step: int) -> None:
    from langgraph_routing.cli._render import print_costs, steps_table

    answer = str(values.get("final_answer") or "")
    stop = values.get("stop_reason")
    color = "green" if stop == "done" else "yellow"
    out.print(Panel(escape(answer) or "[dim](no answer)[/dim]", title="answer"))
    out.print(f"stop reason: [{color}]{escape(str(stop))}[/{color}]   thread: {escape(thread_id)}")
    steps = list(values.get("routing") or [])[first_step:]
    out.print(steps_table(steps, title="Routing steps of this run"))
    print_costs(out, CostReport(state_entries(values, thread_id)))
