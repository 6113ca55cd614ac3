"""Demo tools: safe calculator, SQLite country lookup, BM25 doc search, demo questions."""

from __future__ import annotations

import time

import pytest

from langgraph_routing.demo import (
    DEMO_QUESTIONS,
    DEMO_TOOLS,
    CalculatorError,
    DemoQuestion,
    calculator,
    evaluate,
    lookup,
    search_docs,
)
from langgraph_routing.demo._lookup import lookup_rows
from langgraph_routing.demo._search import search, sections


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("17.5 * 4 + 12", "82"),
        ("(1250 - 380) / 6", "145"),
        ("2 ** 10", "1024"),
        ("2 ^ 10", "1024"),
        ("-3 + +5", "2"),
        ("7 // 2 + 7 % 2", "4"),
        ("sqrt(16) + abs(-2)", "6"),
        ("round(2.567, 2)", "2.57"),
        ("0.1 + 0.2", "0.3"),
        ("What is 17.5 * 4 + 12?", "82"),
    ],
)
def test_calculator_results(expression: str, expected: str) -> None:
    assert calculator.invoke({"expression": expression}) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os')", "not allowed"),
        ("__import__('os').system('echo hi')", "not allowed"),
        ("().__class__", "not allowed"),
        ("x + 1", "unknown name"),
        ("open('/etc/passwd')", "not allowed"),
        ("'a' * 3", "only numbers"),
        ("1 / 0", "division by zero"),
        ("2 << 3", "not allowed"),
        ("[1, 2]", "not allowed"),
        ("(-8) ** 0.5", "complex"),
    ],
)
def test_calculator_refuses(expression: str, message: str) -> None:
    with pytest.raises(CalculatorError, match=message):
        evaluate(expression)
    assert calculator.invoke({"expression": expression}).startswith("Error:")


@pytest.mark.parametrize("expression", ["9**9**9", "10**400", "2 ** 10 ** 10", "1e300 * 1e300"])
def test_calculator_refuses_huge_results_quickly(expression: str) -> None:
    start = time.monotonic()
    with pytest.raises(CalculatorError, match=r"too large|finite"):
        evaluate(expression)
    assert time.monotonic() - start < 1.0


def test_calculator_refuses_deep_nesting_and_long_input() -> None:
    with pytest.raises(CalculatorError):
        evaluate("-" * 400 + "1")
    with pytest.raises(CalculatorError, match="longer"):
        evaluate("1+" * 400 + "1")


def test_calculator_never_rescues_refused_code_from_prose() -> None:
    with pytest.raises(CalculatorError, match="no arithmetic"):
        evaluate("import os; os.system('ls')")


def test_lookup_hits_case_insensitively() -> None:
    out = lookup.invoke({"query": "what is the capital and population of JAPAN?"})
    assert "Tokyo" in out and "124.5 million" in out and "JPY" in out


def test_lookup_matches_aliases_capitals_and_word_boundaries() -> None:
    assert [r["country"] for r in lookup_rows("Tell me about the USA")] == ["United States"]
    assert [r["country"] for r in lookup_rows("Where is Nairobi?")] == ["Kenya"]
    assert [r["country"] for r in lookup_rows("Nigeria")] == ["Nigeria"]  # not Niger
    assert [r["country"] for r in lookup_rows("Compare France with Germany")] == [
        "France",
        "Germany",
    ]


def test_lookup_miss() -> None:
    assert lookup.invoke({"query": "Atlantis"}) == "no match for 'Atlantis'"


def test_search_ranking() -> None:
    hits = search("Retry-After header after a 429 rate limit")
    assert hits[0][1].doc == "rate_limits.md"
    assert hits[0][0] > hits[1][0]
    top = search("resume a failed run from the last checkpoint thread_id")[0][1]
    assert top.doc == "langgraph_checkpointing.md"
    assert search("budget_exceeded virtual key")[0][1].doc == "budgets.md"
    assert search("zebra quantum banana") == []


def test_search_docs_tool_output() -> None:
    out = search_docs.invoke({"query": "cost of a streamed response LiteLLM"})
    assert out.startswith("[LiteLLM proxy cost headers > Streamed responses]")
    assert out.count("\n\n") == 1  # two snippets
    assert "no documents match" in search_docs.invoke({"query": "zebra"})
    assert len({s.doc for s in sections()}) == 6


def test_tool_schemas_are_simple_strings() -> None:
    assert [t.name for t in DEMO_TOOLS] == ["calculator", "lookup", "search_docs"]
    for tool in DEMO_TOOLS:
        schema = tool.args
        assert len(schema) == 1
        assert next(iter(schema.values()))["type"] == "string"
        assert tool.description


@pytest.mark.parametrize("question", DEMO_QUESTIONS, ids=lambda q: q.question[:30])
def test_demo_questions_are_answered_by_their_tool(question: DemoQuestion) -> None:
    tool = {t.name: t for t in DEMO_TOOLS}[question.tool]
    arg = next(iter(tool.args))
    answer = tool.invoke({arg: question.question})
    assert question.is_answered_by(answer), answer
    assert not question.is_answered_by("I don't know")
