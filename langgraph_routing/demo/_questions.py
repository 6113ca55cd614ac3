"""Demo questions, each answerable with one of the demo tools."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEMO_QUESTIONS", "DemoQuestion"]


@dataclass(frozen=True, slots=True)
class DemoQuestion:
    """A question, the tool that answers it and substrings a correct answer contains.

    Example:
        >>> DEMO_QUESTIONS[0].is_answered_by("17.5 * 4 + 12 = 82")
        True
    """

    question: str
    tool: str
    expected: tuple[str, ...]

    def is_answered_by(self, answer: str) -> bool:
        """True when every expected substring occurs in ``answer`` (case-insensitive)."""
        text = answer.casefold()
        return all(part.casefold() in text for part in self.expected)


DEMO_QUESTIONS: tuple[DemoQuestion, ...] = (
    DemoQuestion("What is 17.5 * 4 + 12?", "calculator", ("82",)),
    DemoQuestion("What is the capital and population of Japan?", "lookup", ("Tokyo", "124.5")),
    DemoQuestion(
        "How does the LiteLLM proxy report the cost of a streamed response?",
        "search_docs",
        ("usage",),
    ),
    DemoQuestion("What is (1250 - 380) / 6?", "calculator", ("145",)),
    DemoQuestion("Which currency is used in Brazil?", "lookup", ("real",)),
    DemoQuestion(
        "Which header tells a client how long to wait after a 429 rate limit error?",
        "search_docs",
        ("Retry-After",),
    ),
)
