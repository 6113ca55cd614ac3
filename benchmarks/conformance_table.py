"""Print the checkpointer conformance table (backend x capability) as Markdown.

Usage::

    python benchmarks/conformance_table.py [--postgres URL] [--no-postgres]

Without ``--postgres`` a private PostgreSQL cluster is started on 127.0.0.1 (as the test
fixture does) when the server binaries are installed. Raw savers are listed next to the
adapter so the difference shows (the suite calls async methods only).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langgraph.checkpoint.conformance import validate

from tests.fixtures_postgres import find_pg_bin, postgres_cluster
from tests.test_checkpoint_conformance import LOCAL, POSTGRES, _raw, factory, table


async def _reports(postgres_url: str | None) -> list[object]:
    backends = LOCAL + (POSTGRES if postgres_url else [])
    reports = []
    for backend in backends:
        for wrap in (_raw, None):
            made = (
                factory(backend, postgres_url=postgres_url)
                if wrap is None
                else factory(backend, wrap=wrap, postgres_url=postgres_url)
            )
            reports.append(await validate(made))
    return reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", metavar="URL", help="an existing PostgreSQL database URL")
    parser.add_argument("--no-postgres", action="store_true", help="skip the Postgres savers")
    args = parser.parse_args()
    with ExitStack() as stack:
        url = args.postgres
        if url is None and not args.no_postgres and find_pg_bin() is not None:
            url = stack.enter_context(postgres_cluster())
        reports = asyncio.run(_reports(url))
    print(table(reports))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
