"""The notebooks run top to bottom on a Jupyter kernel of this virtualenv, offline.

They are committed without outputs; here each one is executed in memory with nbclient (its
LocalGateway lives inside the kernel, on 127.0.0.1) and its outputs are checked: the cost table
renders as HTML, the plot as a PNG, and the numbers say what the text claims.
"""

from __future__ import annotations

import ast
import base64
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel  # noqa: E402

pytestmark = pytest.mark.timeout(900)

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ("quickstart", "failures_and_resume", "budgets_and_keys")
PROBE = "import sys; print('KERNEL_PREFIX=' + sys.prefix)"
KEY_LIKE = re.compile(r"sk-[0-9a-f]{16,}")


def _kernel_uses_this_python() -> bool:
    """Whether the ``python3`` kernelspec starts this interpreter (jupyter_client maps a bare
    ``python``/``python3`` argv[0] to ``sys.executable``)."""
    try:
        argv = KernelSpecManager().get_kernel_spec("python3").argv
    except NoSuchKernel:
        return False
    bare = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}
    return argv[0] in bare or Path(argv[0]) == Path(sys.executable)


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Each notebook, executed in memory (with a first cell that reports the kernel's prefix)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MPLBACKEND", "Agg")
        for var in ("LANGGRAPH_ROUTING_BASE_URL", "LANGGRAPH_ROUTING_API_KEY"):
            mp.delenv(var, raising=False)
        if not _kernel_uses_this_python():
            import ipykernel.kernelspec

            prefix = tmp_path_factory.mktemp("kernel")
            ipykernel.kernelspec.install(prefix=str(prefix))
            mp.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
            assert _kernel_uses_this_python()
        books: dict[str, Any] = {}
        for name in NAMES:
            book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
            book.cells.insert(0, nbformat.v4.new_code_cell(PROBE))
            workdir = tmp_path_factory.mktemp(name)
            client = nbclient.NotebookClient(
                book,
                kernel_name="python3",
                timeout=180,
                resources={"metadata": {"path": str(workdir)}},
            )
            client.execute()
            books[name] = book
        yield books


def _outputs(book: Any) -> list[dict[str, Any]]:
    return [o for cell in book.cells if cell.cell_type == "code" for o in cell.outputs]


def _text(book: Any) -> str:
    parts = []
    for o in _outputs(book):
        if o["output_type"] == "stream":
            parts.append(o["text"])
        elif "data" in o:
            parts.extend(str(v) for k, v in o["data"].items() if k.startswith("text/"))
    return "\n".join(parts)


def _html(book: Any) -> list[str]:
    return [o["data"]["text/html"] for o in _outputs(book) if "text/html" in o.get("data", {})]


def _literal_after(prefix: str, text: str) -> Any:
    match = re.search(re.escape(prefix) + r"\s*(\{.*\})", text)
    assert match, f"{prefix!r} not in outputs"
    return ast.literal_eval(match.group(1))


def _money(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in outputs"
    return float(match.group(1))


@pytest.mark.parametrize("name", NAMES)
def test_committed_without_outputs(name: str) -> None:
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(book)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert code, "a notebook without code"
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert book.metadata["kernelspec"]["name"] == "python3"


def test_every_notebook_is_executed() -> None:
    assert {p.stem for p in NOTEBOOKS.glob("*.ipynb")} == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_runs_on_this_virtualenv_without_errors(name: str, executed: dict[str, Any]) -> None:
    book = executed[name]
    assert f"KERNEL_PREFIX={sys.prefix}\n" in _text(book)
    errors = [o for o in _outputs(book) if o["output_type"] == "error"]
    assert errors == []
    assert not KEY_LIKE.search(_text(book)), "a key-like string in the outputs"
    assert all(c.execution_count for c in book.cells if c.cell_type == "code")


def test_quickstart(executed: dict[str, Any]) -> None:
    book = executed["quickstart"]
    text = _text(book)
    routes = next(line for line in text.splitlines() if line.startswith("{'plan':"))
    assert ast.literal_eval(routes) == {
        "plan": "o3-mini",
        "tool_select": "gpt-4o-mini",
        "synthesize": "claude-3-5-sonnet-20241022",
        "critique": "gpt-4o-mini",
    }
    assert text.count("-> done: Based on the tool results") == 3
    # tool_select + synthesize per question (no plan for single-step questions)
    ledger = _money(r"6 calls, \$([\d.]+);", text)
    assert ledger == _money(r"the gateway charged \$([\d.]+)", text) > 0

    tables = [h for h in _html(book) if "langgraph-routing-cost-report" in h]
    assert len(tables) == 1
    table = tables[0]
    assert (
        "<caption>Cost by node</caption>" in table and "<caption>Cost by model</caption>" in table
    )
    for cell in ("<td>tool_select</td>", "<td>synthesize</td>", "<td>gpt-4o-mini</td>"):
        assert cell in table
    assert f"${ledger:.6f} over 6 calls" in table

    pngs = [o["data"]["image/png"] for o in _outputs(book) if "image/png" in o.get("data", {})]
    assert len(pngs) == 1
    assert base64.b64decode(pngs[0]).startswith(b"\x89PNG\r\n\x1a\n")


def test_failures_and_resume(executed: dict[str, Any]) -> None:
    text = _text(executed["failures_and_resume"])
    assert _money(r"answered by o3-mini after ([\d.]+)s", text) >= 1.0
    assert "answered by claude-3-5-sonnet-20241022: task plan -> o3-mini; transient" in text
    assert "RoutesExhaustedError with 2 attempts" in text
    before = _literal_after("calls before the failure:", text)
    after = _literal_after("calls after the resume:", text)
    assert before == {"o3-mini": 1, "gpt-4o-mini": 1}  # one tool_select call, then synthesize
    assert after == {**before, "claude-3-5-sonnet-20241022": 1}
    assert "finished steps repeated: none" in text
    assert "stop_reason=done: Based on the tool results: 82" in text
    statuses = [
        s
        for h in _html(executed["failures_and_resume"])
        for s in re.findall(r"<td>(failed|done)</td>", h)
    ]
    assert statuses == ["failed", "done"]


def test_budgets_and_keys(executed: dict[str, Any]) -> None:
    text = _text(executed["budgets_and_keys"])
    assert "stop_reason = budget_exhausted" in text
    assert "Stopped before synthesize (spent $" in text and "the budget of $0.003000" in text
    assert "call 1: ok\ncall 2: ok\ncall 3: refused, scope=gateway, status=422" in text
    assert "entity is the key's hash: True" in text
    assert "agent on the same key: stop_reason = gateway_budget_exceeded" in text
    assert "stop_reason = done" in text
    by_role = _literal_after("ledger by role:", text)
    by_key = _literal_after("gateway by key:", text)
    assert by_role["planner"] == by_key["planner"] > 0
    assert by_role["critic"] == by_key["critic"] > 0
    assert by_role["default"] == by_key["master"] > 0
    assert "VirtualKey(alias='team-a', max_budget=6e-05, rpm=None)" in text
