"""``search_docs``: BM25 keyword search over the bundled markdown notes."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache

from langchain_core.tools import tool

from ._data import data_names, read_data

__all__ = ["Section", "search", "search_docs", "sections"]

_WORD = re.compile(r"[a-z0-9]+")
_STOPWORD_TEXT = (
    "a an and are as at be by can do does for from how i in is it its of on or so that the their"
    " them then there these this to was what when where which who why will with you your"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
K1, B = 1.5, 0.75


def tokenize(text: str) -> list[str]:
    """Lowercase word tokens without stopwords, with a light plural stemming.

    Example:
        >>> tokenize("How are the Cost Headers sent?")
        ['cost', 'header', 'sent']
    """
    words = (w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS)
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words]


@dataclass(frozen=True, slots=True)
class Section:
    """One ``##`` section of a bundled document."""

    doc: str  # file name
    title: str  # document title (the ``#`` heading)
    heading: str  # section heading
    text: str


@cache
def sections() -> tuple[Section, ...]:
    """All sections of the bundled ``*.md`` documents (read on first use)."""
    found: list[Section] = []
    for name in data_names(".md"):
        lines = read_data(name).splitlines()
        title = next((ln[2:].strip() for ln in lines if ln.startswith("# ")), name)
        heading, body = "", list[str]()
        for line in [*lines, "## "]:
            if line.startswith("## "):
                if body:
                    found.append(Section(name, title, heading, " ".join(body)))
                heading, body = line[3:].strip(), []
            elif line.strip() and not line.startswith("# "):
                body.append(line.strip())
    return tuple(found)


@cache
def _index() -> tuple[list[Counter[str]], dict[str, float], float]:
    docs = [Counter(tokenize(f"{s.title} {s.heading} {s.text}")) for s in sections()]
    df = Counter(term for doc in docs for term in doc)
    n = len(docs)
    idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
    avg_len = sum(sum(d.values()) for d in docs) / max(n, 1)
    return docs, idf, avg_len


def search(query: str, k: int = 2) -> list[tuple[float, Section]]:
    """The ``k`` best sections for ``query`` by BM25 score (only scores above 0).

    Example:
        >>> search("Retry-After header on 429")[0][1].title
        'Rate limits and Retry-After'
    """
    docs, idf, avg_len = _index()
    terms = set(tokenize(query))
    scored = []
    for doc, section in zip(docs, sections(), strict=True):
        length = sum(doc.values())
        score = 0.0
        for term in terms & doc.keys():
            tf = doc[term]
            score += idf[term] * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / avg_len))
        if score > 0:
            scored.append((score, section))
    scored.sort(key=lambda item: -item[0])
    return scored[:k]


@tool
def search_docs(query: str) -> str:
    """Search the bundled notes on LLM gateways and agents for a keyword query.

    Topics: LiteLLM proxy cost headers and streaming usage, LangGraph checkpointing and resume,
    model routing and fallbacks, rate limits and Retry-After, budgets, token usage.
    Returns the 2 best matching snippets with their titles.
    """
    hits = search(query, k=2)
    if not hits:
        return f"no documents match {query!r}"
    return "\n\n".join(f"[{s.title} > {s.heading}]\n{s.text}" for _, s in hits)
