"""CostReport: a pure-data view over cost ledger entries.

A ledger entry is a JSON-safe dict (see ``ENTRY_FIELDS``). ``cost_usd`` is ``None`` when the cost
is unknown; unknown costs are counted, shown as "unknown" and never added as 0.

Example:
    >>> report = CostReport([
    ...     {"call_id": "a", "node": "plan", "model": "o3-mini", "cost_usd": 0.002},
    ...     {"call_id": "b", "node": "synthesize", "model": "gpt-4o", "cost_usd": None},
    ... ])
    >>> report
    CostReport(total_usd=0.002000, calls=2, unknown=1)
    >>> report.by_node()
    {'plan': 0.002}
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from rich.console import Console, Group
    from rich.table import Table

from ._report_rows import CostRow, Savings, _cost_text

__all__ = ["ENTRY_FIELDS", "CostReport", "CostRow", "Savings", "SupportsToDict"]

ENTRY_FIELDS: tuple[str, ...] = (
    "call_id", "run_id", "thread_id", "node", "step", "task", "model", "role", "attempt",
    "prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens",
    "cost_usd", "source", "status", "latency_s",
)  # fmt: skip
_KEY_ALIASES = {"run": "run_id", "thread": "thread_id", "call": "call_id"}
_MISSING = "(none)"
_INSTALL_HINT = "pip install 'langgraph-routing[notebooks]'"


@runtime_checkable
class SupportsToDict(Protocol):
    """Anything with ``to_dict()`` returning a ledger entry mapping (e.g. ``CostEntry``)."""

    def to_dict(self) -> Mapping[str, Any]: ...


def _normalize(entry: Mapping[str, Any] | SupportsToDict) -> dict[str, Any]:
    if isinstance(entry, Mapping):
        return dict(entry)
    if isinstance(entry, SupportsToDict):
        return dict(entry.to_dict())
    raise TypeError(f"ledger entry must be a mapping or have to_dict(), got {type(entry)!r}")


def _cost(entry: Mapping[str, Any]) -> float | None:
    value = entry.get("cost_usd")
    return None if value is None else float(value)


def _int(entry: Mapping[str, Any], key: str) -> int:
    return int(entry.get(key) or 0)


def _group_value(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    if value is None and key == "agent":
        value = entry.get("node")  # entries written before agents were recorded
    if value is None:
        return "default" if key == "role" else _MISSING
    return str(value)


def _share_text(row: CostRow) -> str:
    return "-" if row.unknown == row.calls else f"{row.share:.1%}"


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{module.split('.')[0]} is required for this CostReport method: {_INSTALL_HINT}"
        ) from exc


class CostReport:
    """Totals and breakdowns over cost ledger entries (deduplicated by ``call_id``, first wins).

    Args:
        entries: ledger entry mappings, or objects with ``to_dict()``.
        run_id: when given, keep only the entries of that run.

    Example:
        >>> r = CostReport([{"call_id": "1", "model": "gpt-4o-mini", "cost_usd": 0.0001,
        ...                  "prompt_tokens": 120, "completion_tokens": 20}])
        >>> r.total_usd, r.calls, r.prompt_tokens
        (0.0001, 1, 120)
    """

    def __init__(
        self,
        entries: Iterable[Mapping[str, Any] | SupportsToDict] = (),
        *,
        run_id: str | None = None,
    ) -> None:
        seen: set[str] = set()
        kept: list[dict[str, Any]] = []
        for raw in entries:
            entry = _normalize(raw)
            if run_id is not None and entry.get("run_id") != run_id:
                continue
            call_id = entry.get("call_id")
            if call_id is not None:  # entries without a call id cannot be deduplicated
                if str(call_id) in seen:
                    continue
                seen.add(str(call_id))
            kept.append(entry)
        self.run_id = run_id
        self.entries: tuple[dict[str, Any], ...] = tuple(kept)
        known = [(c, e) for e in kept if (c := _cost(e)) is not None]
        self.total_usd: float = math.fsum(c for c, _ in known)
        self.estimated_usd: float = math.fsum(c for c, e in known if e.get("source") == "estimate")
        self.unknown_calls: int = len(kept) - len(known)
        self.calls: int = len(kept)
        self.prompt_tokens: int = sum(_int(e, "prompt_tokens") for e in kept)
        self.completion_tokens: int = sum(_int(e, "completion_tokens") for e in kept)

    # -- grouping -------------------------------------------------------------------------------

    def breakdown(self, key: str) -> list[CostRow]:
        """Rows grouped by an entry field (``"node"``, ``"model"``, ``"run"``...), costliest first.

        Example:
            >>> CostReport([{"call_id": "1", "node": "plan", "cost_usd": None}]).breakdown("node")[0]
            CostRow(key='plan', calls=1, prompt_tokens=0, completion_tokens=0, cost_usd=0.0, unknown=1, share=0.0)
        """
        field = _KEY_ALIASES.get(key, key)
        groups: dict[str, list[dict[str, Any]]] = {}
        for entry in self.entries:
            groups.setdefault(_group_value(entry, field), []).append(entry)
        rows = []
        for value, members in groups.items():
            costs = [c for e in members if (c := _cost(e)) is not None]
            cost = math.fsum(costs)
            prompt = sum(_int(e, "prompt_tokens") for e in members)
            completion = sum(_int(e, "completion_tokens") for e in members)
            share = cost / self.total_usd if self.total_usd > 0 else 0.0
            row = CostRow(
                value, len(members), prompt, completion, cost, len(members) - len(costs), share
            )
            rows.append(row)
        rows.sort(key=lambda r: (-r.cost_usd, -r.unknown, r.key))
        return rows

    def _by(self, key: str) -> dict[str, float]:
        # Groups whose every cost is unknown are left out: their cost is not 0, it is unknown.
        return {r.key: r.cost_usd for r in self.breakdown(key) if r.unknown < r.calls}

    def by_node(self) -> dict[str, float]:
        """Known cost per graph node, costliest first (all-unknown groups are left out)."""
        return self._by("node")

    def by_agent(self) -> dict[str, float]:
        """Known cost per agent: the innermost named agent or subgraph of each call
        (``lc_agent_name``, else the subgraph from the checkpoint namespace, else the node), so
        the workers of a supervisor or the subagents of a deep agent are told apart even when
        every model node is named ``agent`` or ``model``.

        Example:
            >>> CostReport([{"call_id": "1", "node": "agent", "agent": "math_expert",
            ...              "cost_usd": 0.25}]).by_agent()
            {'math_expert': 0.25}
        """
        return self._by("agent")

    def by_model(self) -> dict[str, float]:
        """Known cost per model, costliest first."""
        return self._by("model")

    def by_task(self) -> dict[str, float]:
        """Known cost per agent task (plan, tool_select, ...), costliest first."""
        return self._by("task")

    def by_role(self) -> dict[str, float]:
        """Known cost per role; calls without a role are grouped under ``"default"``."""
        return self._by("role")

    def by_run(self) -> dict[str, float]:
        """Known cost per run id, costliest first."""
        return self._by("run_id")

    def cache_hit_rate(self, by: str = "model") -> dict[str, float]:
        """Share of prompt tokens read from the provider's cache, per ``by`` group (model,
        thread, node...), for the groups that sent prompt tokens.

        Example:
            >>> CostReport([{"call_id": "1", "model": "m", "prompt_tokens": 1000,
            ...              "cached_tokens": 900, "cost_usd": 0.1}]).cache_hit_rate()
            {'m': 0.9}
        """
        field = _KEY_ALIASES.get(by, by)
        prompt: dict[str, int] = {}
        cached: dict[str, int] = {}
        for entry in self.entries:
            key = _group_value(entry, field)
            prompt[key] = prompt.get(key, 0) + _int(entry, "prompt_tokens")
            cached[key] = cached.get(key, 0) + _int(entry, "cached_tokens")
        return {k: cached[k] / p for k, p in prompt.items() if p > 0}

    def by_thread(self) -> dict[str, float]:
        """Known cost per thread id, costliest first."""
        return self._by("thread_id")

    # -- comparisons and combination ------------------------------------------------------------

    def savings_vs(self, price_of: Callable[[dict[str, Any]], float | None]) -> Savings:
        """Compare with what the same calls would cost under ``price_of(entry)`` (None = unknown).

        Example:
            >>> r = CostReport([{"call_id": "1", "cost_usd": 0.001, "prompt_tokens": 1000}])
            >>> r.savings_vs(lambda e: e["prompt_tokens"] * 5e-6).ratio
            5.0
        """
        actual: list[float] = []
        baseline: list[float] = []
        for entry in self.entries:
            cost = _cost(entry)
            base = price_of(dict(entry))
            if cost is None or base is None:
                continue
            actual.append(cost)
            baseline.append(float(base))
        act, base_total = math.fsum(actual), math.fsum(baseline)
        ratio = base_total / act if act > 0 else (math.inf if base_total > 0 else 1.0)
        return Savings(base_total, act, ratio, len(actual), self.calls - len(actual))

    @classmethod
    def merge(cls, *reports: CostReport) -> CostReport:
        """One report over the entries of several (deduplicated by call id, first wins)."""
        run_ids = {r.run_id for r in reports}
        run_id = run_ids.pop() if len(run_ids) == 1 else None
        return cls([e for r in reports for e in r.entries], run_id=run_id)

    # -- export -----------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: totals, ``by_*`` maps and a copy of the entries."""
        return {
            "run_id": self.run_id,
            "total_usd": self.total_usd,
            "estimated_usd": self.estimated_usd,
            "unknown_calls": self.unknown_calls,
            "calls": self.calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "by_node": self.by_node(),
            "by_model": self.by_model(),
            "by_task": self.by_task(),
            "by_role": self.by_role(),
            "by_run": self.by_run(),
            "by_thread": self.by_thread(),
            "entries": [dict(e) for e in self.entries],
        }

    def to_dataframe(self) -> Any:
        """A ``pandas.DataFrame`` with one row per entry (unknown cost is NaN, not 0)."""
        pd = _require("pandas")
        extra = sorted({k for e in self.entries for k in e} - set(ENTRY_FIELDS))
        columns = [*ENTRY_FIELDS, *extra]
        frame = pd.DataFrame([[e.get(c) for c in columns] for e in self.entries], columns=columns)
        frame["cost_usd"] = pd.to_numeric(frame["cost_usd"], errors="coerce").astype("float64")
        return frame

    @property
    def total_text(self) -> str:
        """The total for display, e.g. ``"$0.001234 + 2 unknown"``."""
        return _cost_text(self.total_usd, self.unknown_calls, self.calls)

    def to_table(self, by: str = "node") -> Table:
        """A ``rich`` table of :meth:`breakdown` rows with a total line."""
        from rich.table import Table

        table = Table(title=f"Cost by {by}: {self.total_text} ({self.calls} calls)")
        table.add_column(by)
        for name in ("calls", "prompt tok", "completion tok", "cost (USD)", "share"):
            table.add_column(name, justify="right")
        for row in self.breakdown(by):
            table.add_row(
                row.key,
                str(row.calls),
                str(row.prompt_tokens),
                str(row.completion_tokens),
                row.cost_text,
                _share_text(row),
            )
        table.add_section()
        table.add_row(
            "total",
            str(self.calls),
            str(self.prompt_tokens),
            str(self.completion_tokens),
            self.total_text,
            "100.0%" if self.total_usd > 0 else "-",
            style="bold",
        )
        return table

    def __rich__(self) -> Group:
        from rich.console import Group

        return Group(self.to_table("node"), self.to_table("model"))

    def print(self, console: Console | None = None) -> None:
        """Print the tables to ``console`` (a new ``rich.console.Console`` by default)."""
        from rich.console import Console

        (console or Console()).print(self)

    def _repr_html_(self) -> str:
        esc = html.escape
        parts = [
            "<div class='langgraph-routing-cost-report'>",
            f"<p><b>Total:</b> {esc(self.total_text)} over {self.calls} calls "
            f"({self.prompt_tokens} prompt / {self.completion_tokens} completion tokens)</p>",
        ]
        for by in ("node", "model"):
            parts.append(f"<table><caption>Cost by {esc(by)}</caption><thead><tr>")
            head = (by, "calls", "prompt tok", "completion tok", "cost (USD)", "share")
            parts.append("".join(f"<th>{esc(h)}</th>" for h in head) + "</tr></thead><tbody>")
            for r in self.breakdown(by):
                cells = (r.key, r.calls, r.prompt_tokens, r.completion_tokens, r.cost_text)
                parts.append("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in cells))
                parts.append(f"<td>{_share_text(r)}</td></tr>")
            parts.append("</tbody></table>")
        parts.append("</div>")
        return "".join(parts)

    def plot(self, by: str | tuple[str, str] = ("node", "model"), ax: Axes | None = None) -> Axes:
        """Bar chart of known cost per ``by`` group (a pair stacks the bars by its second key).

        Creates a standalone ``Figure`` when ``ax`` is None (no pyplot state, no ``show()``).
        """
        _require("matplotlib")
        if ax is None:
            from matplotlib.figure import Figure

            ax = Figure(figsize=(7, 4)).add_subplot()
        outer, inner = (by, "") if isinstance(by, str) else by
        groups = [r.key for r in self.breakdown(outer)]
        field = _KEY_ALIASES.get(inner, inner)
        bottom = [0.0] * len(groups)
        for stack in [r.key for r in self.breakdown(inner)] if inner else [""]:
            part = CostReport(
                e for e in self.entries if not inner or _group_value(e, field) == stack
            )
            known = {r.key: r.cost_usd for r in part.breakdown(outer)}
            heights = [known.get(g, 0.0) for g in groups]
            ax.bar(groups, heights, bottom=bottom, label=stack or None)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        ax.set_ylabel("cost (USD)")
        ax.set_xlabel(outer)
        stacked = f" and {inner}" if inner else ""
        ax.set_title(f"Cost by {outer}{stacked}: {self.total_text}")
        if inner and groups:
            ax.legend(title=inner)
        return ax

    def __len__(self) -> int:
        return self.calls

    def __repr__(self) -> str:
        return (
            f"CostReport(total_usd={self.total_usd:.6f}, calls={self.calls}, "
            f"unknown={self.unknown_calls})"
        )
