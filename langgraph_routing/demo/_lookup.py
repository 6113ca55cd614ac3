"""``lookup``: country facts from a small SQLite database built from a bundled CSV."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import threading
from functools import cache

from langchain_core.tools import tool

from ._data import read_data

__all__ = ["country_db", "lookup", "lookup_rows"]

_LOCK = threading.Lock()
_COLUMNS = ("country", "aliases", "capital", "population", "currency", "currency_code", "continent")


@cache
def country_db() -> sqlite3.Connection:
    """The in-memory SQLite database (table ``countries``), built on first use from the CSV."""
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(
        "CREATE TABLE countries (country TEXT PRIMARY KEY, aliases TEXT, capital TEXT,"
        " population INTEGER, currency TEXT, currency_code TEXT, continent TEXT)"
    )
    rows = csv.DictReader(io.StringIO(read_data("countries.csv")))
    conn.executemany(
        f"INSERT INTO countries VALUES ({', '.join('?' * len(_COLUMNS))})",
        [tuple(row[c] for c in _COLUMNS) for row in rows],
    )
    conn.commit()
    return conn


def _mentions(text: str, name: str) -> int | None:
    """Position of ``name`` as whole words in ``text`` (case-insensitive), else None."""
    match = re.search(rf"(?<!\w){re.escape(name.casefold())}(?!\w)", text)
    return match.start() if match else None


def lookup_rows(query: str) -> list[dict[str, str | int]]:
    """Rows whose country, alias or capital is named in ``query``, in order of mention.

    Example:
        >>> [r["capital"] for r in lookup_rows("Compare Japan and France")]
        ['Tokyo', 'Paris']
    """
    text = query.casefold()
    with _LOCK:
        rows = [dict(r) for r in country_db().execute("SELECT * FROM countries")]
    found: list[tuple[int, int, dict[str, str | int]]] = []
    for row in rows:
        names = [str(row["country"]), str(row["capital"]), *str(row["aliases"]).split("|")]
        hits = [(pos, -len(n)) for n in names if n and (pos := _mentions(text, n)) is not None]
        if hits:
            pos, neg_len = min(hits)
            found.append((pos, neg_len, row))
    found.sort(key=lambda item: (item[0], item[1]))
    return [row for _, _, row in found]


def _population(value: int) -> str:
    if value >= 1_000_000_000:
        return f"{value / 1e9:.2f} billion"
    return f"{value / 1e6:.1f} million"


def _fact(row: dict[str, str | int]) -> str:
    return (
        f"{row['country']}: capital {row['capital']}; population {_population(int(row['population']))}"
        f" ({int(row['population']):,}); currency {row['currency']} ({row['currency_code']});"
        f" continent {row['continent']}"
    )


@tool
def lookup(query: str) -> str:
    """Look up facts about a country: capital, population, currency and continent.

    The query is free text naming one or more countries or capitals, e.g.
    "capital and population of Japan". Returns one fact line per match (at most 3).
    """
    rows = lookup_rows(query)
    if not rows:
        return f"no match for {query!r}"
    return "\n".join(_fact(row) for row in rows[:3])
