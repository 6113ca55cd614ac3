"""Offline demo tools for the routing agent: a calculator, a country lookup and a doc search.

Example:
    >>> from langgraph_routing.demo import DEMO_TOOLS, calculator
    >>> [t.name for t in DEMO_TOOLS]
    ['calculator', 'lookup', 'search_docs']
    >>> calculator.invoke({"expression": "17.5 * 4 + 12"})
    '82'

The data files under ``demo/data/`` are read on first use, never at import.
"""

from __future__ import annotations

from langchain_core.tools import BaseTool

from ._calculator import CalculatorError, calculator, evaluate
from ._lookup import lookup
from ._questions import DEMO_QUESTIONS, DemoQuestion
from ._search import search_docs

__all__ = [
    "DEMO_QUESTIONS",
    "DEMO_TOOLS",
    "CalculatorError",
    "DemoQuestion",
    "calculator",
    "evaluate",
    "lookup",
    "search_docs",
]

DEMO_TOOLS: list[BaseTool] = [calculator, lookup, search_docs]
