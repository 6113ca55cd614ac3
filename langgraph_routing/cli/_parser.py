"""The ``langgraph-routing`` command line's grammar: its subcommands and their options.

What each subcommand does is in :mod:`langgraph_routing.cli._main`, which dispatches on
``args.command``. Usage errors raise :class:`~langgraph_routing.cli._common.CliError` (exit 2).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, NoReturn

from langgraph_routing._budget import check_budget
from langgraph_routing.cli._common import DEFAULT_DB, CliError

__all__ = ["build_parser", "usd"]


def usd(text: str) -> float:
    """A ``--budget`` value: a finite number of USD >= 0 (else a usage error, exit 2)."""
    try:
        value = check_budget(float(text), "--budget")
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a finite number of USD >= 0, got {text!r}"
        ) from None
    assert value is not None
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message} (see {self.prog} --help)", 2)


def _add_debug(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument(
        "--debug", action="store_true", default=default, help="show tracebacks on errors"
    )


def _add_gateway_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy", metavar="FILE", help="routing policy (YAML/TOML); default: built-in")
    p.add_argument(
        "--base-url",
        metavar="URL",
        help="OpenAI-compatible gateway (default: $LANGGRAPH_ROUTING_BASE_URL, then the policy's "
        "gateway.base_url); its key is read from the variable the policy names",
    )


def _db_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db", metavar="URL", default=DEFAULT_DB, help=f"checkpointer URL (default {DEFAULT_DB})"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="langgraph-routing",
        description="Per-task model routing for LangGraph agents: run, resume and account for "
        "multi-step agent runs through one OpenAI-compatible gateway.",
    )
    _add_debug(parser, False)
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )

    p = sub.add_parser("demo", help="offline demo: LocalGateway + SQLite, failure and resume")
    p.add_argument(
        "--workdir", metavar="DIR", type=Path, help="where demo.db goes (default: a new temp dir)"
    )
    p.add_argument(
        "--questions", metavar="N", type=int, default=None, help="how many demo questions (1-6)"
    )

    p = sub.add_parser("run", help="run the agent (demo tools) on a question")
    p.add_argument("question", nargs="?", help="the question (omit with --thread to resume)")
    _add_gateway_args(p)
    p.add_argument("--thread", metavar="ID", help="thread id (default: a new one)")
    p.add_argument("--resume", action="store_true", help="resume --thread instead of asking")
    p.add_argument(
        "--budget", metavar="USD", type=usd, help="stop before a call that could pass it"
    )
    p.add_argument("--critique", action="store_true", help="add the critique step")
    _db_arg(p)

    p = sub.add_parser("gateway", help="serve a LocalGateway (key: sk-local-master) until Ctrl-C")
    p.add_argument("--port", type=int, required=True, metavar="N")
    p.add_argument("--policy", metavar="FILE", help="serve the models of this policy")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")

    p = sub.add_parser("runs", help="list the threads of a checkpointer")
    _db_arg(p)

    p = sub.add_parser("resume", help="resume a failed thread (or every failed one)")
    p.add_argument("thread", nargs="?", metavar="THREAD")
    p.add_argument("--all-failed", action="store_true", help="resume every failed thread")
    _add_gateway_args(p)
    p.add_argument("--critique", action="store_true", default=None, help="graph with critique")
    p.add_argument("--budget", metavar="USD", type=usd, help="budget of the rebuilt graph")
    _db_arg(p)

    p = sub.add_parser("health", help="circuit breakers and latency per (gateway, model)")
    p.add_argument(
        "--state",
        metavar="URL",
        help="shared routing state: redis://... or postgresql://... "
        "(default: $LANGGRAPH_ROUTING_STATE; memory:// only knows this process)",
    )
    p.add_argument("--policy", metavar="FILE", help="breaker rules of this policy's health:")
    p.add_argument("--json", action="store_true", help="one JSON object per line")

    p = sub.add_parser("report", help="cost breakdown of a thread (or of every thread)")
    p.add_argument("--thread", metavar="ID")
    _db_arg(p)

    for choice in sub.choices.values():
        _add_debug(choice, argparse.SUPPRESS)
    return parser
