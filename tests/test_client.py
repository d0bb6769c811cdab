"""The model client against the fake server over real HTTP: answers, faults, bounds, secrets.

Retry waits are zeroed by stamina's test mode (conftest); the tests that check a wait is really
honoured switch test mode off for a fraction of a second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import stamina
from pydantic import SecretStr
from stamina.instrumentation import RetryDetails, get_on_retry_hooks, set_on_retry_hooks

from arcbench.client import (
    Completion,
    ModelClient,
    RetryEvent,
    RetryPolicy,
    extract_reasoning,
    parse_retry_after,
)
from arcbench.collaborators import build_client
from arcbench.errors import (
    AuthError,
    ConfigError,
    ModelError,
    ModelUnavailableError,
    PaymentRequiredError,
    RequestRejectedError,
)
from arcbench.registry import ModelEntry, load_registry
from arcbench.settings import load_settings
from arcbench.usage import Usage
from fakeserver import (
    FakeServer,
    drop,
    empty_choices,
    error_body,
    hang,
    malformed,
    raw,
    reply,
    status,
    truncate,
)

T = TypeVar("T")
KEY = "sk-test-7f3a9c1e5b2d4f6a8c0e-NEVER-LOG-ME"
MESSAGES = [{"role": "user", "content": "solve grid 1"}]
USAGE = {"prompt_tokens": 100, "completion_tokens": 40}


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def make_entry(server: FakeServer, **fields: Any) -> ModelEntry:
    values: dict[str, Any] = {
        "name": "fake",
        "provider": "local",
        "base_url": server.url,
        "api_key_env": "FAKE_API_KEY",
        "source": "test",
    }
    return ModelEntry(**(values | fields))


def make_client(
    server: FakeServer, *, entry: ModelEntry | None = None, **options: Any
) -> ModelClient:
    policy = options.pop("policy", RetryPolicy())
    return ModelClient(
        entry or make_entry(server), api_key=SecretStr(KEY), policy=policy, **options
    )


async def complete(server: FakeServer, **options: Any) -> Completion:
    async with make_client(server, **options) as client:
        return await client.complete(MESSAGES)


async def failure(server: FakeServer, **options: Any) -> ModelError:
    with pytest.raises(ModelError) as caught:
        await complete(server, **options)
    return caught.value


# -- a good reply --------------------------------------------------------------------------------


def test_a_reply_is_parsed_and_the_request_is_openai_shaped(fake_server: FakeServer) -> None:
    fake_server.enqueue(
        reply(
            "<think>rows repeat</think>The answer:\n[[1]]",
            reasoning_content="look at the rows",
            usage={
                "prompt_tokens": 120,
                "completion_tokens": 30,
                "completion_tokens_details": {"reasoning_tokens": 12},
            },
            model="fake-model-2025",
        )
    )
    entry = make_entry(fake_server, extra={"top_p": 0.5, "temperature": 1.0})

    async def go() -> Completion:
        async with make_client(fake_server, entry=entry) as client:
            return await client.complete(MESSAGES, temperature=0.2, max_tokens=64)

    completion = run(go())
    assert completion.text == "The answer:\n[[1]]"
    assert completion.reasoning == "look at the rows\n\nrows repeat"
    assert completion.content.startswith("<think>rows repeat</think>")
    assert completion.usage == Usage(120, 30, 12)
    assert completion.model == "fake-model-2025"
    assert completion.attempts == 1
    assert completion.finish_reason == "stop"
    assert completion.latency_s > 0

    (request,) = fake_server.chat_requests
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.body == {
        "top_p": 0.5,
        "temperature": 0.2,  # the call's value wins over the entry's extra field
        "model": "fake-model",  # discovered from /v1/models
        "messages": MESSAGES,
        "max_tokens": 64,
    }


def test_the_served_model_id_is_discovered_once_unless_configured(fake_server: FakeServer) -> None:
    fake_server.models = ["served/llama-3"]

    async def go(entry: ModelEntry) -> str | None:
        async with make_client(fake_server, entry=entry) as client:
            await asyncio.gather(*(client.complete(MESSAGES) for _ in range(3)))
            return client.model_id

    assert run(go(make_entry(fake_server))) == "served/llama-3"
    assert [r.path for r in fake_server.requests].count("/v1/models") == 1
    assert {r.body["model"] for r in fake_server.chat_requests} == {"served/llama-3"}

    fake_server.reset()
    assert run(go(make_entry(fake_server, model_id="configured"))) == "configured"
    assert "/v1/models" not in [r.path for r in fake_server.requests]


@pytest.mark.parametrize(
    ("models", "expected"),
    [([], r"lists no model at /models"), (["a", "b"], r"serves several models \(a, b\)")],
)
def test_discovery_needs_exactly_one_model(
    fake_server: FakeServer, models: list[str], expected: str
) -> None:
    fake_server.models = models
    with pytest.raises(ConfigError, match=expected + r".*model_id = .* in models\.toml"):
        run(complete(fake_server))


def test_discovery_against_a_server_that_is_down_fails_quickly() -> None:
    with FakeServer() as server:
        url = server.url
    entry = ModelEntry(name="LOCAL_0", provider="local", base_url=url, source="test")
    started = time.monotonic()
    with pytest.raises(
        ModelUnavailableError, match=r"LOCAL_0 at .*: gave up after 3 request"
    ) as caught:
        run(ModelClient(entry).__aenter__())
    assert "ConnectError" in str(caught.value)
    assert time.monotonic() - started < 5


# -- faults that are retried ---------------------------------------------------------------------

RETRIED = {
    "500": status(500),
    "502": status(502),
    "503": status(503),
    "408": status(408),
    "429 without Retry-After": status(429),
    "dropped connection": drop(),
    "body cut short": truncate(),
    "malformed JSON": malformed(),
    "200 with an error body": error_body(),
    "empty choices": empty_choices(),
}


@pytest.mark.parametrize("fault", RETRIED.values(), ids=RETRIED.keys())
def test_transient_faults_are_retried(fake_server: FakeServer, fault: dict[str, Any]) -> None:
    fake_server.enqueue(fault, fault, reply("fine"))
    completion = run(complete(fake_server))
    assert completion.text == "fine"
    assert completion.attempts == 3
    assert len(fake_server.chat_requests) == 3


def test_a_request_that_hangs_is_abandoned_and_retried(fake_server: FakeServer) -> None:
    fake_server.enqueue(hang(30.0), reply("second try"))
    completion = run(complete(fake_server, policy=RetryPolicy(request_timeout=0.2)))
    assert completion.text == "second try"  # not the hung request's late answer
    assert completion.attempts == 2
    first, second = fake_server.chat_requests
    # Abandoned once its own timeout passed, long before its reply would have come.
    assert 0.2 <= second.at - first.at < 30


def test_the_total_time_per_call_is_bounded(fake_server: FakeServer) -> None:
    fake_server.enqueue(*[hang(0.15)] * 20)
    policy = RetryPolicy(timeout=0.5, request_timeout=0.1, retries=100)
    started = time.monotonic()
    error = run(failure(fake_server, policy=policy))
    elapsed = time.monotonic() - started
    assert isinstance(error, ModelUnavailableError)
    assert "no usable reply within 0.5 s (--timeout)" in str(error)
    assert "last problem: request timed out (ReadTimeout)" in str(error)
    # Bounded by --timeout: a hundred retries of 0.1 s each would take ten seconds.
    assert 0.45 < elapsed < 5
    assert error.attempts >= 3


@pytest.mark.parametrize("retries", [0, 2])
def test_retries_are_bounded(fake_server: FakeServer, retries: int) -> None:
    fake_server.enqueue(*[status(500)] * 10)
    error = run(failure(fake_server, policy=RetryPolicy(retries=retries)))
    assert isinstance(error, ModelUnavailableError)
    assert not error.fatal
    assert error.attempts == retries + 1
    assert len(fake_server.chat_requests) == retries + 1
    assert f"gave up after {retries + 1} request(s): HTTP 500: scripted status 500" in str(error)


def test_the_default_policy_makes_seven_requests(fake_server: FakeServer) -> None:
    fake_server.enqueue(*[malformed()] * 10)
    error = run(failure(fake_server))
    assert error.attempts == 7
    assert "reply is not a JSON object" in str(error)


NESTED_ERROR_KINDS = [
    (200, ModelUnavailableError),
    (500, ModelUnavailableError),
    (400, RequestRejectedError),
    (401, AuthError),
]


@pytest.mark.parametrize(("code", "kind"), NESTED_ERROR_KINDS)
def test_an_error_nested_too_deep_to_show_is_still_a_model_error(
    fake_server: FakeServer, code: int, kind: type[ModelError]
) -> None:
    """The error a server puts in its body is shown in the message; one nested 300 levels deep
    (which orjson reads but will not write back) is described, not a TypeError out of the client."""
    nested = b"[" * 300 + b"1" + b"]" * 300
    body = b'{"error": %s, "detail": {"a": %s}}' % (nested, nested)
    fake_server.enqueue(*[raw(body, code=code)] * 3)
    error = run(failure(fake_server, policy=RetryPolicy(retries=1, wait_initial=0.01)))
    assert type(error) is kind
    assert "nested too deeply" in str(error)


# -- faults that are not retried -----------------------------------------------------------------


@pytest.mark.parametrize("code", [400, 404, 413, 422])
def test_other_client_errors_are_not_retried(fake_server: FakeServer, code: int) -> None:
    body = {"error": {"message": "maximum context length is 4096 tokens"}}
    fake_server.enqueue(status(code, body=body), reply("never asked"))
    error = run(failure(fake_server))
    assert type(error) is RequestRejectedError
    assert not error.fatal
    assert error.status == code
    assert len(fake_server.chat_requests) == 1
    assert f"HTTP {code}: maximum context length is 4096 tokens" in str(error)
    assert "not retried" in str(error)


@pytest.mark.parametrize("code", [401, 403])
def test_a_refused_key_is_fatal_and_names_the_variable(fake_server: FakeServer, code: int) -> None:
    fake_server.enqueue(status(code, body={"error": {"message": "invalid api key"}}))
    error = run(failure(fake_server))
    assert isinstance(error, AuthError)
    assert error.fatal
    assert len(fake_server.chat_requests) == 1
    assert "FAKE_API_KEY is set but was refused: set FAKE_API_KEY to a valid key" in str(error)


def test_a_server_that_wants_a_key_the_entry_does_not_name(fake_server: FakeServer) -> None:
    fake_server.enqueue(status(401))
    entry = make_entry(fake_server, name="LOCAL_0", api_key_env=None)
    error = run(failure(fake_server, entry=entry))
    assert isinstance(error, AuthError)
    assert "set api_key_env for [models.LOCAL_0] in models.toml" in str(error)


def test_a_refused_key_at_discovery_is_fatal_too(fake_server: FakeServer) -> None:
    fake_server.enqueue(status(401), path="models")
    with pytest.raises(AuthError, match="FAKE_API_KEY"):
        run(complete(fake_server))


def test_payment_required_is_fatal(fake_server: FakeServer) -> None:
    fake_server.enqueue(status(402, body={"error": {"message": "Insufficient credits"}}))
    error = run(failure(fake_server))
    assert isinstance(error, PaymentRequiredError)
    assert error.fatal
    assert "Insufficient credits" in str(error)


# -- Retry-After ---------------------------------------------------------------------------------


def test_retry_after_forms() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3", now=now) == 3.0
    assert parse_retry_after(" 0.25 ", now=now) == 0.25
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:07 GMT", now=now) == 7.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0  # past: no wait
    for garbage in [None, "", "soon", "-1", "1e3", "inf", "nan", "3 s", "Thu, 99 Foo 2026"]:
        assert parse_retry_after(garbage, now=now) is None, garbage


def _waits(server: FakeServer, retry_after: str) -> list[float | None]:
    events: list[RetryEvent] = []
    server.enqueue(status(429, retry_after=retry_after), reply("ok"))
    completion = run(complete(server, on_retry=events.append))
    assert completion.attempts == 2
    return [event.wait for event in events]


def test_retry_after_in_seconds_decimals_and_dates_sets_the_wait(fake_server: FakeServer) -> None:
    assert _waits(fake_server, "7") == [7.0]
    assert _waits(fake_server, "2.5") == [2.5]
    (from_date,) = _waits(
        fake_server, format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    )
    assert from_date is not None
    assert 28 <= from_date <= 30
    assert _waits(fake_server, "whenever") == [None]  # exponential backoff instead


@pytest.fixture
def scheduled_waits() -> Iterator[list[float]]:
    """The waits stamina schedules between retries, as its instrumentation reports them."""
    waits: list[float] = []
    previous = get_on_retry_hooks()

    def record(details: RetryDetails) -> None:
        waits.append(details.wait_for)

    set_on_retry_hooks([record])
    try:
        yield waits
    finally:
        set_on_retry_hooks(previous)


def test_retry_after_is_really_waited_for(
    fake_server: FakeServer, scheduled_waits: list[float]
) -> None:
    fake_server.enqueue(status(429, retry_after="0.3"), reply("ok"))
    no_backoff = RetryPolicy(wait_initial=0.0, wait_jitter=0.0)  # only Retry-After can wait
    with stamina.set_testing(False):
        run(complete(fake_server, policy=no_backoff))
    (wait,) = scheduled_waits
    assert 0.3 <= wait <= 0.3 * 1.1  # the server's wait, plus up to a tenth as jitter
    first, second = fake_server.chat_requests
    assert second.at - first.at >= 0.3  # and it was really waited for


def test_backoff_is_exponential_without_retry_after(
    fake_server: FakeServer, scheduled_waits: list[float]
) -> None:
    fake_server.enqueue(status(500), status(500), reply("ok"))
    policy = RetryPolicy(wait_initial=0.1, wait_jitter=0.0)
    with stamina.set_testing(False):
        run(complete(fake_server, policy=policy))
    assert scheduled_waits == pytest.approx([0.1, 0.2])
    first, second, third = fake_server.chat_requests
    assert second.at - first.at >= 0.1
    assert third.at - second.at >= 0.2


def test_a_retry_after_beyond_the_time_budget_gives_up_at_once(fake_server: FakeServer) -> None:
    fake_server.enqueue(status(429, retry_after="3600"), reply("too late"))
    started = time.monotonic()
    error = run(failure(fake_server, policy=RetryPolicy(timeout=60)))
    assert isinstance(error, ModelUnavailableError)
    assert "the server asked to wait 3600 s, more than the 60 s left of --timeout" in str(error)
    assert len(fake_server.chat_requests) == 1
    assert time.monotonic() - started < 30  # did not sleep into the 60 s budget


# -- rate limit ----------------------------------------------------------------------------------


class SendTimes(httpx.AsyncBaseTransport):
    """A transport that notes when each request leaves the client, then sends it."""

    def __init__(self) -> None:
        self.sent: list[float] = []
        self._http = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(time.monotonic())
        return await self._http.handle_async_request(request)

    async def aclose(self) -> None:
        await self._http.aclose()


def test_the_rate_limit_holds_the_average_rate_retries_included(fake_server: FakeServer) -> None:
    fake_server.enqueue(status(500), status(500))
    transport = SendTimes()

    async def go() -> None:
        client = make_client(fake_server, rate_limit=600, max_concurrent=8, transport=transport)
        async with client:
            await asyncio.gather(*(client.complete(MESSAGES) for _ in range(6)))

    started = time.monotonic()
    run(go())
    assert len(fake_server.chat_requests) == 8  # 6 calls + 2 retries, all counted
    assert len(transport.sent) == 9  # and the model discovery before them
    # 600 per minute, one every 0.1 s on average: by any moment, at most one request per 0.1 s
    # since the start has left (a busy machine only sends them later, never sooner).
    for count, sent in enumerate(transport.sent):
        assert sent - started >= count * 0.1 - 1e-6


def test_the_entry_rate_limit_applies_unless_overridden(fake_server: FakeServer) -> None:
    entry = make_entry(fake_server, rate_limit=120.0)
    assert make_client(fake_server, entry=entry).rate_limiter is not None
    client = make_client(fake_server, entry=entry, rate_limit=6000)
    assert client.rate_limiter is not None
    assert client.rate_limiter.rpm == 6000
    assert make_client(fake_server).rate_limiter is None


def test_the_connection_pool_is_sized_to_the_concurrency(fake_server: FakeServer) -> None:
    fake_server.latency = 0.5

    async def go() -> None:
        async with make_client(fake_server, max_concurrent=2) as client:
            await asyncio.gather(*(client.complete(MESSAGES) for _ in range(4)))

    started = time.monotonic()
    run(go())
    assert time.monotonic() - started >= 0.95  # 4 requests through 2 connections: two rounds
    assert fake_server.peak_in_flight == 2


def test_large_concurrency_is_split_over_pools_of_the_same_total_size(
    fake_server: FakeServer,
) -> None:
    from arcbench.client import ShardedTransport

    fake_server.latency = 0.5
    texts: list[str] = []

    async def go() -> None:
        async with make_client(fake_server, max_concurrent=40) as client:
            assert isinstance(client._http._transport, ShardedTransport)
            completions = await asyncio.gather(*(client.complete(MESSAGES) for _ in range(80)))
            texts.extend(c.text for c in completions)

    started = time.monotonic()
    run(go())
    elapsed = time.monotonic() - started
    assert len(texts) == 80
    assert all(texts)
    assert elapsed >= 0.95  # 80 requests through 40 connections: at least two rounds
    assert fake_server.peak_in_flight == 40  # ...every connection of every pool in use


# -- usage and cost ------------------------------------------------------------------------------


def test_usage_of_failed_requests_is_added_to_the_completion(fake_server: FakeServer) -> None:
    fake_server.enqueue(
        error_body(usage=USAGE), empty_choices(usage=USAGE), reply("ok", usage=USAGE)
    )
    completion = run(complete(fake_server))
    assert completion.usage == Usage(300, 120, 0)
    assert completion.attempts == 3


def test_a_failed_call_carries_the_usage_it_cost(fake_server: FakeServer) -> None:
    fake_server.enqueue(*[status(500, usage=USAGE)] * 3)
    entry = make_entry(fake_server, input_price=1.0, output_price=10.0)
    error = run(failure(fake_server, entry=entry, policy=RetryPolicy(retries=2)))
    assert error.usage == Usage(300, 120, 0)
    assert error.cost_usd == pytest.approx((300 * 1.0 + 120 * 10.0) / 1e6)
    assert error.attempts == 3


def test_reported_cost_wins_over_registry_prices(fake_server: FakeServer) -> None:
    fake_server.enqueue(reply("ok", usage=USAGE, cost=0.0123))
    entry = make_entry(fake_server, input_price=1.0, output_price=10.0)
    completion = run(complete(fake_server, entry=entry))
    assert completion.cost_usd == pytest.approx(0.0123)
    assert completion.priced


def test_registry_prices_price_the_tokens(fake_server: FakeServer) -> None:
    fake_server.enqueue(reply("ok", usage=USAGE))
    entry = make_entry(fake_server, input_price=0.5, output_price=2.0)
    completion = run(complete(fake_server, entry=entry))
    assert completion.cost_usd == pytest.approx((100 * 0.5 + 40 * 2.0) / 1e6)
    assert completion.priced


def test_without_prices_the_cost_is_zero_and_marked_unpriced(fake_server: FakeServer) -> None:
    fake_server.enqueue(reply("ok", usage=USAGE))
    completion = run(complete(fake_server))
    assert completion.cost_usd == 0
    assert not completion.priced


# -- reasoning -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "reasoning", "text"),
    [
        ({"content": "just text"}, "", "just text"),
        ({"content": "x", "reasoning_content": "r1"}, "r1", "x"),
        ({"content": "x", "reasoning": "r2"}, "r2", "x"),
        (
            {
                "content": "x",
                "reasoning": "same thought",
                "reasoning_details": [
                    {"type": "reasoning.text", "text": "same thought"},
                    {"type": "reasoning.summary", "summary": "a summary"},
                    {"type": "reasoning.encrypted", "data": "opaque"},
                ],
            },
            "same thought\n\na summary",
            "x",
        ),
        ({"content": "<think>\nfirst\n</think>\n\nanswer"}, "first", "answer"),
        ({"content": "from the template</think>answer"}, "from the template", "answer"),
        (
            {"content": "answer so far <think>cut off by max_tokens"},
            "cut off by max_tokens",
            "answer so far",
        ),
        ({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}, "", "ab"),
        ({"content": None, "reasoning_content": "all thought"}, "all thought", ""),
    ],
)
def test_reasoning_is_extracted_from_every_place_servers_put_it(
    message: dict[str, Any], reasoning: str, text: str
) -> None:
    assert extract_reasoning(message) == (reasoning, text)


def test_reasoning_over_http(fake_server: FakeServer) -> None:
    fake_server.enqueue(reply(None, reasoning="thinking", finish_reason="length"))
    completion = run(complete(fake_server))
    assert (completion.reasoning, completion.text) == ("thinking", "")
    assert completion.finish_reason == "length"


# -- settings, --base-url, keys --------------------------------------------------------------------


def test_build_client_sends_the_entrys_key_to_the_replaced_base_url(
    fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path(".env").write_text(f"OPENROUTER_API_KEY={KEY}\n")
    monkeypatch.setenv("ARCBENCH_RETRIES", "1")
    entry = load_registry().resolve("openrouter/vendor/model")
    settings = load_settings(base_url=fake_server.url, max_concurrent=3)
    fake_server.enqueue(status(500), status(500))

    async def go() -> None:
        async with build_client(entry, settings) as client:
            assert client.base_url == fake_server.url
            assert client.describe()["model_id"] == "vendor/model"
            await client.complete(MESSAGES)

    with pytest.raises(ModelUnavailableError, match="gave up after 2 request"):
        run(go())
    request = fake_server.chat_requests[0]
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["x-title"] == "arcbench"
    assert request.body["usage"] == {"include": True}
    assert request.body["model"] == "vendor/model"


def test_build_client_without_the_key_fails_before_any_request(fake_server: FakeServer) -> None:
    entry = load_registry().resolve("openrouter/vendor/model")
    with pytest.raises(AuthError, match="set OPENROUTER_API_KEY"):
        build_client(entry, load_settings(base_url=fake_server.url))
    assert fake_server.requests == []


def test_an_offline_entry_has_no_http_client() -> None:
    with pytest.raises(ConfigError, match="offline"):
        ModelClient(load_registry().resolve("baseline"))


def test_the_key_never_reaches_logs_reprs_or_errors(
    fake_server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx, httpcore, stamina and arcbench at their chattiest
    echoing = {"error": {"message": f"invalid request from key {KEY}"}}
    fake_server.enqueue(
        status(500),
        drop(),
        error_body(f"upstream rejected {KEY}"),
        reply("ok"),  # retried
        status(400, body=echoing),  # rejected; the server echoes the key
        status(401, body=echoing),  # auth
        *[status(503, body=echoing)] * 7,  # exhausted
    )
    events: list[RetryEvent] = []
    seen: list[object] = []

    async def go() -> None:
        async with make_client(fake_server, on_retry=events.append) as client:
            seen.extend([client, client.describe(), client.__dict__])
            seen.append(await client.complete(MESSAGES))
            for _ in range(3):
                try:
                    await client.complete(MESSAGES)
                except ModelError as exc:
                    seen.append(exc)

    run(go())
    assert [type(e) for e in seen[4:]] == [RequestRejectedError, AuthError, ModelUnavailableError]
    assert "[redacted]" in str(seen[4])
    texts = [str(x) for x in seen] + [repr(x) for x in seen] + [repr(e) for e in events]
    texts += [caplog.text] + [repr(record.__dict__) for record in caplog.records]
    assert any("retry" in record.getMessage() for record in caplog.records)  # logging did happen
    for text in texts:
        assert KEY not in text
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in fake_server.chat_requests)
