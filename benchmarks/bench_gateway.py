"""Benchmark LocalGateway with one synchronous client on loopback.

Run: ``python benchmarks/bench_gateway.py [--calls 2000] [--stream-calls 500]``
     ``python benchmarks/bench_gateway.py --latency [--latency-scale 0.1] [--latency-calls 10]``

Rows: raw ``http.client`` (the gateway's own cost), the ``openai`` SDK, ``ChatOpenAI.invoke``
(non-streaming, ``include_response_headers=True``), and ``ChatOpenAI.stream`` with usage.
By default the gateway runs in this process (a background thread), as in the test-suite, so
the client's CPU time and the gateway's share one GIL; ``--out-of-process`` runs it with
``serve()`` in a child process instead, which leaves only the client's cost in the numbers.

``--latency`` checks the latency profiles instead: per default model, with
``latency="profiles"`` scaled by ``--latency-scale``, the median time to first streamed chunk
against the profile's scaled TTFT, the median non-streamed wall time against the emulated
delay the gateway logged, and 32 concurrent calls against one call's delay (they overlap).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import openai
from langchain_openai import ChatOpenAI

from langgraph_routing.testing import DEFAULT_LATENCY, LocalGateway

KEY = "sk-local-master"
MODEL = "gpt-4o-mini"
PROMPT = "Summarise the routing plan in one sentence."


def measure(
    name: str, calls: int, fn: Callable[[], object]
) -> tuple[str, int, float, float, float]:
    for _ in range(min(50, calls)):  # warm-up: connections, encoders, caches
        fn()
    latencies: list[float] = []
    start = time.perf_counter()
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - start
    p95 = sorted(latencies)[int(0.95 * (len(latencies) - 1))]
    return name, calls, statistics.median(latencies) * 1e3, p95 * 1e3, calls / elapsed


@contextlib.contextmanager
def gateway_url(out_of_process: bool) -> Iterator[tuple[str, LocalGateway | None]]:
    """Yield (base_url, in-process gateway or None)."""
    if not out_of_process:
        with LocalGateway() as gw:
            yield gw.base_url, gw
        return
    code = "from langgraph_routing.testing import serve; serve(0)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        match = re.search(r"(http://127\.0\.0\.1:\d+/v1)", proc.stdout.readline())
        assert match, "serve() did not start"
        yield match.group(1), None
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def latency_report(calls: int, scale: float) -> None:
    """Measured vs emulated delays of the default latency profiles."""
    print(f"latency profiles x {scale}: medians of {calls} calls per model")
    print(f"{'model':<28} {'TTFT ms':>8} {'want':>6} {'answer ms':>10} {'want':>6} {'over ms':>8}")
    print("-" * 72)
    with LocalGateway(latency="profiles", latency_scale=scale) as gw:
        client = openai.OpenAI(base_url=gw.base_url, api_key=KEY, max_retries=0)
        messages: list[dict[str, str]] = [{"role": "user", "content": PROMPT}]
        for model, profile in DEFAULT_LATENCY.items():
            firsts: list[float] = []
            walls: list[float] = []
            wanted: list[float] = []
            for _ in range(calls):
                t0 = time.perf_counter()
                stream = client.chat.completions.create(
                    model=model,
                    messages=messages,  # type: ignore[arg-type]
                    stream=True,
                )
                first = None
                for chunk in stream:
                    if first is None and chunk.choices and chunk.choices[0].delta.content:
                        first = time.perf_counter() - t0
                firsts.append(first or 0.0)
                t0 = time.perf_counter()
                client.chat.completions.create(model=model, messages=messages)  # type: ignore[arg-type]
                walls.append(time.perf_counter() - t0)
                wanted.append(gw.log[-1].latency_s)
            ttft = statistics.median(firsts) * 1e3
            wall = statistics.median(walls) * 1e3
            want = statistics.median(wanted) * 1e3
            print(
                f"{model:<28} {ttft:>8.1f} {profile.ttft_s * scale * 1e3:>6.0f} "
                f"{wall:>10.1f} {want:>6.0f} {wall - want:>8.1f}"
            )
        one = gw.log[-1].latency_s
        with ThreadPoolExecutor(32) as pool:
            t0 = time.perf_counter()
            list(
                pool.map(
                    lambda _: client.chat.completions.create(
                        model=model,
                        messages=messages,  # type: ignore[arg-type]
                    ),
                    range(32),
                )
            )
            together = time.perf_counter() - t0
        print(
            f"32 concurrent {model} calls: {together * 1e3:.0f} ms "
            f"(one call's emulated delay {one * 1e3:.0f} ms; in series >= {32 * one * 1e3:.0f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="non-streaming calls per row")
    parser.add_argument("--stream-calls", type=int, default=500, help="streaming calls")
    parser.add_argument(
        "--out-of-process", action="store_true", help="run the gateway in a child process"
    )
    parser.add_argument("--latency", action="store_true", help="check the latency profiles instead")
    parser.add_argument("--latency-scale", type=float, default=0.1)
    parser.add_argument("--latency-calls", type=int, default=10)
    args = parser.parse_args()
    if args.latency:
        latency_report(args.latency_calls, args.latency_scale)
        return

    with gateway_url(args.out_of_process) as (base_url, gw):
        port = int(base_url.rsplit(":", 1)[1].split("/")[0])
        body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": PROMPT}]})
        conn = http.client.HTTPConnection("127.0.0.1", port)
        headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}

        def raw() -> object:
            conn.request("POST", "/v1/chat/completions", body, headers)
            response = conn.getresponse()
            data = response.read()
            assert response.status == 200, data
            return data

        client = openai.OpenAI(base_url=base_url, api_key=KEY, max_retries=0)
        messages: list[dict[str, str]] = [{"role": "user", "content": PROMPT}]

        def sdk() -> object:
            return client.chat.completions.create(model=MODEL, messages=messages)  # type: ignore[arg-type]

        chat = ChatOpenAI(
            model=MODEL,
            base_url=base_url,
            api_key=KEY,  # type: ignore[arg-type]
            max_retries=0,
            include_response_headers=True,
            stream_usage=True,
        )

        def invoke() -> object:
            message = chat.invoke(PROMPT)
            assert float(message.response_metadata["headers"]["x-litellm-response-cost"]) > 0
            return message

        def stream() -> object:
            return list(chat.stream(PROMPT))

        rows = [
            measure("http.client raw POST", args.calls, raw),
            measure("openai SDK create", args.calls, sdk),
            measure("ChatOpenAI.invoke", args.calls, invoke),
            measure("ChatOpenAI.stream (+usage)", args.stream_calls, stream),
        ]
        conn.close()
        logged = len(gw.log) if gw is not None else None

    print(f"{'client':<28} {'calls':>6} {'median ms':>10} {'p95 ms':>8} {'calls/s':>9}")
    print("-" * 65)
    for name, calls, median, p95, rate in rows:
        print(f"{name:<28} {calls:>6} {median:>10.2f} {p95:>8.2f} {rate:>9.0f}")
    where = "in-process thread" if logged is not None else "child process"
    print(f"(gateway: {where}; logged requests: {logged if logged is not None else 'n/a'})")


if __name__ == "__main__":
    main()
