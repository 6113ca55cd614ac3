"""CostReport: totals, grouping, unknown costs, exports and rendering."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from rich.console import Console

from langgraph_routing._report import CostReport, CostRow, Savings


def entry(call_id: str, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "call_id": call_id,
        "run_id": "run-1",
        "thread_id": "t-1",
        "node": "tool_select",
        "step": 1,
        "task": "tool_select",
        "model": "gpt-4o-mini",
        "role": None,
        "attempt": 1,
        "prompt_tokens": 100,
        "completion_tokens": 10,
        "cached_tokens": 0,
        "reasoning_tokens": 0,
        "cost_usd": 0.001,
        "source": "header",
        "status": "ok",
        "latency_s": 0.2,
    }
    base.update(overrides)
    return base


@pytest.fixture
def report() -> CostReport:
    return CostReport(
        [
            entry("a", node="plan", task="plan", model="o3-mini", role="planner", cost_usd=0.01),
            entry("b", cost_usd=0.002),
            entry("c", cost_usd=0.003, source="estimate"),
            entry(
                "d",
                node="synthesize",
                task="synthesize",
                model="claude",
                cost_usd=None,
                source="unknown",
            ),
            entry(
                "e",
                node="plan",
                task="plan",
                model="o3-mini",
                role="planner",
                cost_usd=0.005,
                run_id="run-2",
                thread_id="t-2",
            ),
        ]
    )


class ToDict:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def to_dict(self) -> dict[str, Any]:
        return self.data


def test_totals_and_unknown_is_not_zero(report: CostReport) -> None:
    assert report.calls == 5
    assert report.unknown_calls == 1
    assert report.total_usd == math.fsum([0.01, 0.002, 0.003, 0.005])
    assert report.estimated_usd == 0.003
    assert report.prompt_tokens == 500
    assert report.completion_tokens == 50
    assert repr(report) == "CostReport(total_usd=0.020000, calls=5, unknown=1)"


def test_dedupe_by_call_id_first_wins() -> None:
    r = CostReport([entry("x", cost_usd=0.5), entry("x", cost_usd=9.0), ToDict(entry("y"))])
    assert r.calls == 2
    assert r.total_usd == 0.5 + 0.001
    assert [e["call_id"] for e in r.entries] == ["x", "y"]


def test_fsum_is_exact_where_sum_drifts() -> None:
    costs = [0.1] * 10
    r = CostReport(entry(str(i), cost_usd=c) for i, c in enumerate(costs))
    assert sum(costs) != 1.0
    assert r.total_usd == 1.0


def test_run_id_filter_and_by_run(report: CostReport) -> None:
    assert report.by_run() == {"run-1": math.fsum([0.01, 0.002, 0.003]), "run-2": 0.005}
    only = CostReport(report.entries, run_id="run-2")
    assert only.calls == 1 and only.total_usd == 0.005 and only.run_id == "run-2"


def test_grouping_sorted_by_cost_desc(report: CostReport) -> None:
    assert list(report.by_node()) == ["plan", "tool_select"]
    assert report.by_node()["plan"] == 0.015
    assert report.by_model() == {"o3-mini": 0.015, "gpt-4o-mini": 0.005}
    assert report.by_task()["tool_select"] == 0.005
    assert report.by_role() == {"planner": 0.015, "default": 0.005}
    assert report.by_thread() == {"t-1": 0.015, "t-2": 0.005}
    # The all-unknown node is not reported as costing 0.
    assert "synthesize" not in report.by_node()


def test_breakdown_rows(report: CostReport) -> None:
    rows = report.breakdown("node")
    assert [r.key for r in rows] == ["plan", "tool_select", "synthesize"]
    plan, _, synth = rows
    assert plan == CostRow("plan", 2, 200, 20, 0.015, 0, pytest.approx(0.75))
    assert synth.unknown == 1 and synth.cost_text == "unknown"
    assert report.breakdown("run")[0].key == "run-1"
    missing = CostReport([entry("z", node=None)]).breakdown("node")
    assert missing[0].key == "(none)"


def test_to_dict_json_round_trip(report: CostReport) -> None:
    data = json.loads(json.dumps(report.to_dict()))
    assert data["total_usd"] == report.total_usd
    assert data["unknown_calls"] == 1
    assert data["by_node"] == {"plan": 0.015, "tool_select": 0.005}
    assert [e["call_id"] for e in data["entries"]] == ["a", "b", "c", "d", "e"]
    assert data["entries"][3]["cost_usd"] is None


def test_to_dataframe_columns_and_nan_for_unknown(report: CostReport) -> None:
    pytest.importorskip("pandas")
    df = report.to_dataframe()
    assert len(df) == 5
    assert {"call_id", "node", "model", "cost_usd", "source", "latency_s"} <= set(df.columns)
    assert df["cost_usd"].isna().sum() == 1
    assert df.loc[df["call_id"] == "a", "cost_usd"].item() == 0.01


def test_rich_table_renders_unknown_and_total(report: CostReport) -> None:
    console = Console(record=True, width=120)
    report.print(console)
    text = console.export_text()
    assert "Cost by node" in text and "Cost by model" in text
    assert "synthesize" in text and "unknown" in text
    assert "$0.020000 + 1 unknown" in text
    table = report.to_table("model")
    assert table.row_count == 4  # three models + total


def test_html_rows_and_escaping() -> None:
    r = CostReport([entry("1", node="<script>alert(1)</script>"), entry("2", cost_usd=None)])
    out = r._repr_html_()
    assert "<script>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert out.count("<tr>") >= 4
    assert "+ 1 unknown" in out


def test_plot_stacked_bars(report: CostReport) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib.axes import Axes
    from matplotlib.patches import Rectangle

    ax = report.plot()
    assert isinstance(ax, Axes)
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(bars) == 9  # 3 nodes x 3 model stacks
    heights = {(round(p.get_x() + p.get_width() / 2), round(p.get_height(), 6)) for p in bars}
    assert (0, 0.015) in heights  # plan bar, o3-mini stack
    assert ax.get_legend() is not None
    single = report.plot(by="model")
    assert [round(p.get_height(), 6) for p in single.patches if isinstance(p, Rectangle)] == [
        0.015,
        0.005,
        0.0,
    ]


def test_savings_vs_baseline(report: CostReport) -> None:
    s = report.savings_vs(lambda e: e["prompt_tokens"] * 1e-4)  # $0.01 per call
    assert isinstance(s, Savings)
    assert s.compared_calls == 4 and s.skipped_calls == 1  # the unknown call is not compared
    assert s.baseline_usd == pytest.approx(0.04)
    assert s.ratio == pytest.approx(0.04 / 0.02)
    assert s.saved_usd == pytest.approx(0.02)
    json.dumps(s.to_dict())
    free = CostReport([entry("f", cost_usd=0.0)]).savings_vs(lambda e: 1.0)
    assert free.ratio == math.inf and free.to_dict()["ratio"] is None


def test_merge_dedupes_across_reports(report: CostReport) -> None:
    other = CostReport([entry("a", cost_usd=99.0), entry("new", cost_usd=0.001)])
    merged = CostReport.merge(report, other)
    assert merged.calls == 6
    assert merged.total_usd == math.fsum([0.02, 0.001])


def test_rejects_non_entries() -> None:
    with pytest.raises(TypeError):
        CostReport([42])  # type: ignore[list-item]


@pytest.mark.parametrize("module", ["pandas", "matplotlib"])
def test_missing_optional_dependency_has_clear_message(
    report: CostReport, module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=r"pip install 'langgraph-routing\[notebooks\]'"):
        report.to_dataframe() if module == "pandas" else report.plot()
