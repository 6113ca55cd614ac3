"""Docs that run: the README's code blocks, every docstring example, a docstring per public name."""

from __future__ import annotations

import contextlib
import doctest
import importlib
import inspect
import io
import pkgutil
import re
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from langchain_core.tools import BaseTool

import langgraph_routing
from langgraph_routing import RoutingPolicy

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^```(\w*)[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
MIN_DOCTEST_EXAMPLES = 120  # 129 when written: a drop means examples were deleted
PUBLIC_MODULES = ("langgraph_routing", "langgraph_routing.testing", "langgraph_routing.demo")


def _blocks(language: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    return [body for lang, body in FENCE.findall(text) if lang == language]


def _modules() -> list[str]:
    names = [langgraph_routing.__name__]
    for info in pkgutil.walk_packages(langgraph_routing.__path__, "langgraph_routing."):
        names.append(info.name)
    return sorted(names)


def _run_doctests(module: ModuleType) -> tuple[doctest.TestResults, str]:
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report = io.StringIO()
    for test in doctest.DocTestFinder().find(module, module.__name__):
        runner.run(test, out=report.write)
    return runner.summarize(verbose=False), report.getvalue()


# ---- README ---------------------------------------------------------------------------------


def test_readme_python_blocks_run() -> None:
    blocks = _blocks("python")
    assert blocks, "the README has no python block"
    outputs = []
    for i, source in enumerate(blocks):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(source, f"README.md python block {i + 1}", "exec"), {"__name__": "readme"})
        outputs.append(out.getvalue())
    # the quickstart: the plan went to o3-mini, and it cost something known
    assert outputs[0].splitlines() == ["o3-mini", "True"]
    # every block prints what its comments say it prints
    for i, (source, out) in enumerate(zip(blocks, outputs, strict=True)):
        said = [
            line.split("  # ", 1)[1].strip()
            for line in source.splitlines()
            if line.strip().startswith("print(") and "  # " in line
        ]
        if said:
            assert out.splitlines() == said, f"README python block {i + 1}"


def test_readme_policy_block_is_a_valid_policy() -> None:
    policies = [yaml.safe_load(b) for b in _blocks("yaml")]
    policies = [p for p in policies if isinstance(p, dict) and "tasks" in p]
    assert policies, "the README shows no policy file"
    for data in policies:
        policy = RoutingPolicy.from_dict(data)
        assert policy.select("plan", prompt_tokens=1_000).model == data["tasks"]["plan"]["model"]


def test_readme_default_table_matches_the_code() -> None:
    text = README.read_text(encoding="utf-8")
    tasks = RoutingPolicy.default().tasks
    described = ", ".join(f"{t} -> {r.model}" for t, r in tasks.items())
    assert f"`RoutingPolicy.default()` is the production table ({described})" in " ".join(
        text.split()
    )


# ---- docstring examples -----------------------------------------------------------------------


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    results, report = _run_doctests(module)
    assert results.failed == 0, report


def test_docstring_examples_are_many() -> None:
    attempted = sum(_run_doctests(importlib.import_module(n))[0].attempted for n in _modules())
    assert attempted >= MIN_DOCTEST_EXAMPLES


# ---- docstrings of public names ---------------------------------------------------------------


def _own_doc(obj: object) -> str | None:
    if isinstance(obj, BaseTool):
        return obj.description
    if inspect.isclass(obj):
        return obj.__dict__.get("__doc__")
    return getattr(obj, "__doc__", None)


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_public_names_have_docstrings(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert module.__doc__ and module.__doc__.strip()
    missing = []
    for name in module.__all__:
        obj = getattr(module, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj) or isinstance(obj, BaseTool)):
            continue  # data (DEFAULT_MODELS, DEMO_QUESTIONS...) documented in the module
        doc = _own_doc(obj)
        if not (doc and doc.strip()):
            missing.append(name)
    assert missing == []
