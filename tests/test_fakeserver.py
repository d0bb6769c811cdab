"""The fake server as its own process: what benchmarks and CLI tests start with `spawn`."""

from __future__ import annotations

import asyncio

from pydantic import SecretStr

from arcbench.client import ModelClient, RetryPolicy
from arcbench.registry import ModelEntry
from fakeserver import reply, spawn, status


def test_a_standalone_server_is_scripted_over_http() -> None:
    with spawn("--latency", "1.0", "--model", "standalone-model") as server:
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

        texts = asyncio.run(go())
        requests = server.requests()
        stats = server.stats()
    assert texts == ["scripted", "nine", "nine", "nine"]
    assert stats == {"in_flight": 0, "peak_in_flight": 3}  # the three calls were served at once
    assert requests[0]["path"] == "/v1/models"
    chat = [r for r in requests if r["path"] == "/v1/chat/completions"]
    assert len(chat) == 5
    assert {r["body"]["model"] for r in chat} == {"standalone-model"}
    assert all(r["headers"]["authorization"] == "Bearer k" for r in chat)
    assert server.process.returncode == 0  # SIGTERM is a clean shutdown


def test_the_standalone_rate_limit_answers_429_beyond_its_rate() -> None:
    with spawn("--max-rps", "2", "--retry-after", "0") as server:
        import httpx

        async def burst() -> list[int]:
            async with httpx.AsyncClient() as client:
                replies = await asyncio.gather(
                    *(
                        client.post(f"{server.url}/chat/completions", json={"messages": []})
                        for _ in range(6)
                    )
                )
            return [reply.status_code for reply in replies]

        codes = asyncio.run(burst())
        arrivals = [r["at"] for r in server.requests() if r["path"].endswith("/completions")]
    # The rule, replayed on the arrival times the server recorded: a request is accepted when
    # fewer than 2 were accepted in the second before it.
    accepted: list[float] = []
    for at in arrivals:
        if len([a for a in accepted if at - a < 1.0]) < 2:
            accepted.append(at)
    assert sorted(codes) == [200] * len(accepted) + [429] * (6 - len(accepted))
    assert codes.count(429) >= 1 or arrivals[-1] - arrivals[0] >= 1.0
