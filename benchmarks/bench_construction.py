"""A model built per call (data-enrichment style apps do this): construction and first call.

    python benchmarks/bench_construction.py [--n 200]

Baseline: a fresh ``ChatOpenAI`` on the same LocalGateway, interleaved, medians. Routing models
share one client pool per process and gateway, so building one costs no new HTTP client.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from langchain_openai import ChatOpenAI

sys.path.insert(0, str(Path(__file__).parent))
from _common import interleaved, median_ms, table

from langgraph_routing import init_routing_model
from langgraph_routing.testing import LocalGateway


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    n = parser.parse_args().n
    with LocalGateway() as gw:

        def ours_build() -> object:
            return init_routing_model(base_url=gw.base_url, api_key=gw.master_key)

        def plain_build() -> object:
            return ChatOpenAI(model="gpt-4o-mini", base_url=gw.base_url, api_key=gw.master_key)

        built = interleaved([plain_build, ours_build], n, warmup=5)
        called = interleaved(
            [lambda: plain_build().invoke("hi"), lambda: ours_build().invoke("hi")],  # type: ignore[attr-defined]
            n,
            warmup=5,
        )
    rows = []
    for label, (plain, ours) in (("construct", built), ("construct + invoke", called)):
        p, o = median_ms(plain), median_ms(ours)
        rows.append([label, f"{p:.3f}", f"{o:.3f}", f"{o / p:.3f}"])
    print(f"\nA model per call: {n} interleaved runs each, medians\n")
    print(table(["", "ChatOpenAI ms", "RoutingChatModel ms", "ratio"], rows))


if __name__ == "__main__":
    main()
