"""Print the LocalGateway vs real LiteLLM proxy parity table as Markdown.

Usage::

    LANGGRAPH_ROUTING_LITELLM=/path/to/venv/bin/litellm python benchmarks/parity_table.py [--width N]

``--width 0`` prints whole cells (full error messages); default 90 characters.

Runs the real-gateway tier (``tests/test_proxy_parity.py``) with pytest, collects the rows the
parity tests record, and prints them with the tier's wall time. Exit status is pytest's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fixtures_proxy import (  # noqa: E402
    LITELLM_ENV,
    PARITY_OUT_ENV,
    ParityRow,
    find_litellm,
    format_parity_table,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=90, help="cell width, 0 = no cut")
    args = parser.parse_args()
    if find_litellm() is None:
        print(f"set {LITELLM_ENV} to the litellm executable (litellm[proxy]==1.108.7)")
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "parity.json"
        env = {**os.environ, PARITY_OUT_ENV: str(out)}
        started = time.monotonic()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "tests/test_proxy_parity.py",
                "-q",
                "-p",
                "tests.fixtures_proxy",
                "--no-header",
                "-rN",
            ],
            cwd=ROOT,
            env=env,
            check=False,
            capture_output=True,
            text=True,
        )
        wall = time.monotonic() - started
        if not out.exists():
            print(done.stdout[-4000:], done.stderr[-2000:], sep="\n")
            return done.returncode or 1
        rows = [ParityRow(**row) for row in json.loads(out.read_text())]
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    print(format_parity_table(rows, limit=args.width))
    print(f"\npytest: {summary} (tier wall time {wall:.1f} s)")
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
