"""Concurrent clients against one LocalGateway, and serve() in a subprocess."""

from __future__ import annotations

import asyncio
import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from langchain_openai import ChatOpenAI

from langgraph_routing.testing import LocalGateway, VirtualKey

KEY = "sk-local-master"


async def _fire(gw: LocalGateway, n: int, key: str = KEY, **kw: Any) -> list[Any]:
    # The SDK's own default client: an `httpx.AsyncClient` passed in would use httpcore's
    # pool, whose request assignment is quadratic (1,000 requests take ~40 s client-side).
    # A long timeout: with 1,000 coroutines the client's own loop is the bottleneck, and the
    # SDK's default 5 s connect timeout counts time spent waiting for that loop.
    async with openai.AsyncOpenAI(
        base_url=gw.base_url, api_key=key, max_retries=0, timeout=120
    ) as client:
        tasks = [
            client.chat.completions.with_raw_response.create(
                model="gpt-4o-mini" if i % 2 else "claude-3-5-haiku-20241022",
                messages=[{"role": "user", "content": f"request number {i}"}],
                user=f"user-{i % 3}",
                **kw,
            )
            for i in range(n)
        ]
        return await asyncio.gather(*tasks, return_exceptions=True)


async def test_200_concurrent_async_requests(gateway: LocalGateway) -> None:
    results = await _fire(gateway, 200)
    assert all(not isinstance(r, BaseException) and r.status_code == 200 for r in results)
    ids = {r.headers["x-litellm-call-id"] for r in results}
    assert len(ids) == 200 and len(gateway.log) == 200
    costs = [float(r.headers["x-litellm-response-cost"]) for r in results]
    assert gateway.total_spend == math.fsum(costs)
    assert sum(gateway.spend_by_user().values()) == pytest.approx(gateway.total_spend)


async def _raw_post(port: int, body: bytes) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        f"authorization: Bearer {KEY}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    writer.write(head.encode() + body)
    raw_head = await reader.readuntil(b"\r\n\r\n")
    lines = raw_head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if line)
    payload = await reader.readexactly(int(headers["content-length"]))
    writer.close()
    await writer.wait_closed()
    return int(lines[0].split()[1]), headers, payload


async def test_1000_concurrent_connections(gateway: LocalGateway) -> None:
    # Raw asyncio sockets: the openai SDK itself needs seconds of CPU for 1,000 requests
    # (see test_200_concurrent_async_requests for the SDK path).
    bodies = [
        json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"n {i}"}]})
        for i in range(1000)
    ]
    results = await asyncio.gather(*(_raw_post(gateway.port, b.encode()) for b in bodies))
    assert [status for status, _, _ in results] == [200] * 1000
    assert len({h["x-litellm-call-id"] for _, h, _ in results}) == 1000
    assert all(json.loads(p)["choices"][0]["message"]["content"] for _, _, p in results)
    assert len(gateway.calls(status=200)) == 1000


async def test_concurrent_budget_calls_are_answered_and_accounted(make_gateway: Any) -> None:
    # Like LiteLLM, the budget check reads the spend before the call (no reservation), so
    # concurrent calls may overshoot a little; every call is still answered and accounted.
    gw = make_gateway(keys=[VirtualKey("sk-team", max_budget=0.0005)])
    results = await _fire(gw, 100, key="sk-team", max_tokens=20)
    ok = [r for r in results if not isinstance(r, BaseException)]
    rejected = [r for r in results if isinstance(r, openai.UnprocessableEntityError)]
    assert len(ok) + len(rejected) == 100 and ok
    assert gw.total_spend == pytest.approx(
        sum(float(r.headers["x-litellm-response-cost"]) for r in ok)
    )


async def test_concurrent_streams_with_chat_openai(gateway: LocalGateway) -> None:
    async with httpx.AsyncClient() as http:
        model = ChatOpenAI(
            model="gpt-4o",
            base_url=gateway.base_url,
            api_key=KEY,  # type: ignore[arg-type]
            max_retries=0,
            stream_usage=True,
            http_async_client=http,
        )

        async def one(i: int) -> str:
            return "".join([str(c.content) async for c in model.astream(f"stream {i}")])

        texts = await asyncio.gather(*(one(i) for i in range(50)))
    assert all(f"stream {i}" in t for i, t in enumerate(texts))
    assert len(gateway.calls(status=200)) == 50


POLICY_YAML = """
models:
  local-small: {context_window: 8000, max_output_tokens: 1000, input_per_million: 0.1, output_per_million: 0.2}
tasks:
  plan: {model: local-small}
  tool_select: {model: local-small}
  synthesize: {model: local-small}
  critique: {model: local-small}
"""


@pytest.mark.parametrize("with_policy", [False, True])
def test_serve_in_a_subprocess(tmp_path: Path, with_policy: bool) -> None:
    args = "0"
    if with_policy:
        policy = tmp_path / "routing.yaml"
        policy.write_text(POLICY_YAML)
        args = f"0, {str(policy)!r}"
    code = f"from langgraph_routing.testing import serve; serve({args})"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/v1)", line)
        assert match, line + (proc.stderr.read() if proc.stderr and proc.poll() else "")
        client = openai.OpenAI(base_url=match.group(1), api_key=KEY, max_retries=0)
        ids = [m.id for m in client.models.list()]
        model = "local-small" if with_policy else "gpt-4o"
        assert (ids == ["local-small"]) is with_policy and model in ids
        raw = client.chat.completions.with_raw_response.create(
            model=model, messages=[{"role": "user", "content": "hi"}]
        )
        usage = raw.parse().usage
        assert usage is not None
        if with_policy:
            expected = usage.prompt_tokens * (0.1 / 1e6) + usage.completion_tokens * (0.2 / 1e6)
            assert float(raw.headers["x-litellm-response-cost"]) == expected
    finally:
        proc.terminate()
        proc.wait(timeout=10)
