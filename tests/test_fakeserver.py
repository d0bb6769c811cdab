"""The fake server as its own process: what benchmarks and CLI tests start with `spawn`."""

from __future__ import annotations

import asyncio
import time

from pydantic import SecretStr

from arcbench.client import ModelClient, RetryPolicy
from arcbench.registry import ModelEntry
from fakeserver import reply, spawn, status


def test_a_standalone_server_is_scripted_over_http() -> None:
    with spawn("--latency", "0.2", "--model", "standalone-model") as server:
        server.enqueue(status(503, retry_after="0"), reply("scripted"))
        server.configure(answers=[["grid 9", "nine"]])
        entry = ModelEntry(name="s", provider="local", base_url=server.url, source="test")

        async def go() -> list[str]:
            client = ModelClient(entry, api_key=SecretStr("k"), policy=RetryPolicy())
            async with client:
                first = await client.complete([{"role": "user", "content": "one"}])
                rest = await asyncio.gather(
                    *(client.complete([{"role": "user", "content": "grid 9"}]) for _ in range(3))
                )
            return [first.text] + [r.text for r in rest]

        started = time.monotonic()
        texts = asyncio.run(go())
        elapsed = time.monotonic() - started
        requests = server.requests()
    assert texts == ["scripted", "nine", "nine", "nine"]
    assert elapsed < 1.2  # 0.2 s twice (sequential), then once for three concurrent calls
    assert requests[0]["path"] == "/v1/models"
    chat = [r for r in requests if r["path"] == "/v1/chat/completions"]
    assert len(chat) == 5
    assert {r["body"]["model"] for r in chat} == {"standalone-model"}
    assert all(r["headers"]["authorization"] == "Bearer k" for r in chat)
    assert server.process.returncode == 0  # SIGTERM is a clean shutdown


def test_the_standalone_rate_limit_answers_429_beyond_its_rate() -> None:
    with spawn("--max-rps", "2", "--retry-after", "0") as server:
        import httpx

        codes = [
            httpx.post(f"{server.url}/chat/completions", json={"messages": []}).status_code
            for _ in range(4)
        ]
    assert codes[:2] == [200, 200]
    assert 429 in codes[2:]
