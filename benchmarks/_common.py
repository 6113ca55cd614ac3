"""Helpers shared by the benchmark scripts (plain commands that print tables)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence


def interleaved(fns: Sequence[Callable[[], object]], n: int, warmup: int = 50) -> list[list[float]]:
    """Run each function ``n`` times, alternating between them; return seconds per call."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    samples: list[list[float]] = [[] for _ in fns]
    for i in range(n):
        order = range(len(fns)) if i % 2 == 0 else reversed(range(len(fns)))
        for k in order:
            started = time.perf_counter()
            fns[k]()
            samples[k].append(time.perf_counter() - started)
    return samples


def median_ms(xs: Sequence[float]) -> float:
    return statistics.median(xs) * 1000


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table (markdown-compatible)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
