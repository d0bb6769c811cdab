"""The async model client: OpenAI-compatible chat completions over httpx, with bounded retries.

The only module that talks HTTP. One `ModelClient` serves a whole run: it owns one
`httpx.AsyncClient` whose connection pool is sized to the run's concurrency, so hundreds of
attempts share warm connections instead of opening one each.

How failures are treated (`complete`):

- 401/403 and a missing key raise `AuthError` (fatal: every request would fail alike), naming
  the variable to set; 402 raises `PaymentRequiredError` (fatal too).
- 429 (and 408/503/5xx carrying `Retry-After`) wait as the server asks — whole seconds, decimal
  seconds or an HTTP date; any other value falls back to exponential backoff. A wait longer than
  the attempt's remaining time gives up at once instead of sleeping into the deadline.
- 5xx, 408, timeouts, refused or dropped connections, HTTP 200 with an `error` body, a reply
  without `choices` and a body that is not JSON are retried with exponential backoff and jitter.
- Any other 4xx raises `RequestRejectedError` at once: the same request would fail again.

Every call is bounded twice: by `RetryPolicy.retries` (retries after the first request) and by
`RetryPolicy.timeout`, the total seconds one call may take, waits included. Exhausting either
raises `ModelUnavailableError`. The retry loop is stamina's (`stamina.set_testing` zeroes its
waits in tests); its instrumentation logs the repr of the retried block's arguments, so the
retried block takes none and the key lives only in a `SecretStr`, turned into a header per
request. Server-provided text in error messages is scrubbed of the key as well.

Every error carries the usage and cost of all requests the call made (`ModelError.usage`), and a
`Completion` the totals of all requests including failed ones, so billed tokens are never lost.

Everything a server sends is hostile input. A reply body is read up to `MAX_REPLY_BYTES` and no
further (`ReplyTooLargeError`, not retried); a body orjson refuses but the standard library
reads (`NaN`, `1e999`, broken surrogates) is read that way, cleaned, and kept; usage and cost are
validated (`arcbench.usage`); and taking the reasoning out of a long reply happens in a worker
thread, so that no reply can hold up the event loop that serves every other request.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx
import orjson
import stamina
from pydantic import SecretStr

from arcbench import defaults
from arcbench.errors import (
    AuthError,
    ConfigError,
    ModelError,
    ModelUnavailableError,
    PaymentRequiredError,
    ReplyTooLargeError,
    RequestRejectedError,
)
from arcbench.registry import ModelEntry, shown_url
from arcbench.replies import OFFLOAD_CHARS
from arcbench.usage import Usage, reported_cost

__all__ = [
    "Completion",
    "ModelClient",
    "RateLimiter",
    "RetryEvent",
    "RetryPolicy",
    "extract_reasoning",
    "parse_retry_after",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

Message = Mapping[str, Any]
"""A chat message as the OpenAI API takes it: `{"role": "user", "content": "..."}`."""

DISCOVERY_RETRIES = 2
"""Retries when asking a server which model it serves: a server that is down at the start of a
run is far more likely than one that is busy, so the user hears about it within seconds."""

_MAX_SERVER_TEXT = 300

MAX_REPLY_BYTES = 8 * 1024 * 1024
"""The most of one reply body arcbench reads (after decompression): 8 MB is some two million
tokens of text, far beyond any model's output limit, and small enough that every parser of the
reply finishes in well under a second."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard one call tries: `retries` after the first request, `timeout` seconds in total.

    `request_timeout` bounds a single request, so that a hung one is retried; None lets one
    request use the whole remaining budget (long non-streamed reasoning replies need that).

    The waits are stamina's exponential backoff, `min(wait_max, wait_initial * 2**(n-1) +
    uniform(0, wait_jitter))`; a server's `Retry-After` replaces them when present.
    """

    retries: int = defaults.RETRIES
    timeout: float = defaults.TIMEOUT_S
    request_timeout: float | None = None
    wait_initial: float = defaults.RETRY_WAIT_INITIAL_S
    wait_max: float = defaults.RETRY_WAIT_MAX_S
    wait_jitter: float = defaults.RETRY_WAIT_JITTER_S


@dataclass(frozen=True, slots=True)
class RetryEvent:
    """A request failed and will be retried; passed to `on_retry` for progress displays.

    `attempt` is the 1-based number of the request that failed; `wait` is the wait a server
    asked for via `Retry-After`, or None when exponential backoff decides.
    """

    model: str
    attempt: int
    reason: str
    wait: float | None


@dataclass(frozen=True, slots=True)
class Completion:
    """A model's reply to one call, with everything a record needs.

    `content` is the message content exactly as received; `text` is that content with any
    `<think>` block removed; `reasoning` joins the reasoning the server returned separately
    (`reasoning_content`, `reasoning`, `reasoning_details`) and any `<think>` block, "" when
    there was none. `usage`, `cost_usd` and `attempts` cover every HTTP request of the call,
    failed ones included; `priced` is False when neither the provider reported a cost nor the
    registry has prices (then `cost_usd` is 0 for lack of knowledge, not because it was free).
    `latency_s` is the wall time of the whole call, retries and waits included. `model` is the
    model id the server says answered (OpenRouter may route to a specific version).
    `unmetered` counts the call's requests that a provider may have billed without saying what
    for: no reply at all (a timeout, a dropped connection), or a successful reply without a
    usable usage (a budget charges each at its worst case).
    """

    text: str
    reasoning: str
    content: str
    usage: Usage
    cost_usd: float
    priced: bool
    latency_s: float
    attempts: int
    model: str
    finish_reason: str | None
    unmetered: int = 0


class RateLimiter:
    """Spaces requests evenly to at most `rpm` per minute, across all tasks of a run.

    A slot is reserved synchronously before sleeping, so concurrent callers queue in order
    without a lock. Every request takes a slot, retries included: a provider counts those too.
    """

    def __init__(self, rpm: float) -> None:
        if rpm <= 0:
            raise ValueError("rate limit must be positive")
        self.rpm = rpm
        self._interval = 60.0 / rpm
        self._next = 0.0

    async def acquire(self) -> None:
        now = asyncio.get_running_loop().time()
        slot = max(now, self._next)
        self._next = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)


_SECONDS = re.compile(r"\d+(?:\.\d+)?")


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value: whole or decimal seconds, or an HTTP date.

    None for anything else (negative, empty, garbage), which means "use exponential backoff".
    A date in the past means 0.
    """
    if value is None:
        return None
    value = value.strip()
    if _SECONDS.fullmatch(value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def extract_reasoning(message: Mapping[str, Any]) -> tuple[str, str]:
    """Split a reply message into `(reasoning, text)`.

    Reasoning comes from `reasoning_content` (vLLM, DeepSeek), `reasoning` (OpenRouter, Ollama),
    the text parts of `reasoning_details` (OpenRouter; encrypted parts are skipped) and
    `<think>…</think>` in the content. A closing `</think>` without an opening tag counts the
    text before it as reasoning (templates that put `<think>` in the prompt); an unclosed
    `<think>` (a reply cut off by the token limit) counts everything after it. OpenRouter often
    sends the same text as `reasoning` and `reasoning_details`; a part already contained in the
    collected reasoning is not repeated.

    Linear in the size of the message: the content is scanned once, left to right, and only
    the first few parts are compared for repeats (a reply of a hundred thousand `<think>`
    blocks is not compared pairwise).
    """
    return _split_reasoning(message, _content_text(message.get("content")))


def _read_message(message: Mapping[str, Any]) -> tuple[str, str, str]:
    """`(content, reasoning, text)` of a reply message (see `extract_reasoning`)."""
    content = _content_text(message.get("content"))
    return (content, *_split_reasoning(message, content))


def _split_reasoning(message: Mapping[str, Any], text: str) -> tuple[str, str]:
    parts = _Parts()
    parts.add(message.get("reasoning_content"))
    parts.add(message.get("reasoning"))
    details = message.get("reasoning_details")
    if isinstance(details, list):
        for detail in details:
            if isinstance(detail, Mapping):
                parts.add(detail.get("text") or detail.get("summary"))
    head, closed, tail = text.partition(_CLOSE)
    if closed and _OPEN not in head:
        parts.add(head)
        text = tail
    kept: list[str] = []
    position = 0
    while True:
        start = text.find(_OPEN, position)
        if start < 0:
            kept.append(text[position:])
            break
        kept.append(text[position:start])
        end = text.find(_CLOSE, start + len(_OPEN))
        if end < 0:  # unclosed: the rest is reasoning
            parts.add(text[start + len(_OPEN) :])
            break
        parts.add(text[start + len(_OPEN) : end])
        position = end + len(_CLOSE)
    return "\n\n".join(parts.items), "".join(kept).strip()


_OPEN, _CLOSE = "<think>", "</think>"

_COMPARED_PARTS = 16
"""Reasoning parts compared with the earlier ones for repeats; later ones only for equality."""


class _Parts:
    """Reasoning parts in order, without repeats: a part contained in one of the first
    `_COMPARED_PARTS` parts, or equal to any, is dropped."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self._seen: set[str] = set()

    def add(self, part: object) -> None:
        if not isinstance(part, str):
            return
        part = part.strip()
        if not part or part in self._seen:
            return
        if any(part in seen for seen in self.items[:_COMPARED_PARTS]):
            return
        self.items.append(part)
        self._seen.add(part)


def _content_text(content: object) -> str:
    """Message content as text; some servers send a list of `{type: text, text}` parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        )
    return ""


def _as_json(value: object) -> str:
    """A value a server sent, written back as JSON for a message; orjson refuses to write what
    is nested deeper than it allows (yet reads it), so that is described instead."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError included
        return "(an error object nested too deeply to show)"


class _TooLarge(Exception):
    """A reply body went past `MAX_REPLY_BYTES`; internal, becomes `ReplyTooLargeError`."""


async def _read_capped(response: httpx.Response, limit: int = MAX_REPLY_BYTES) -> bytes:
    """The response body, decompressed, or `_TooLarge` as soon as it passes `limit` bytes (a
    declared length is believed first, so nothing is read of a body announced as too big)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            raise _TooLarge
    return bytes(body)


def decode_body(body: bytes) -> Any:
    """A reply body as JSON, or None when it is not JSON.

    orjson first; when it refuses, the standard library, which also reads what some servers
    send although JSON forbids it (`NaN`, `Infinity`, numbers beyond a double) — the usage
    check then refuses those numbers while the reply is kept. Lone surrogates the standard
    library lets through are replaced, so the reply can be written back as JSON.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return _valid_unicode(json.loads(body))
    except (ValueError, RecursionError):
        return None


_SURROGATE = re.compile("[\ud800-\udfff]")
"""A UTF-16 surrogate on its own (JSON's `\\ud800`), which UTF-8 cannot encode."""


def _valid_unicode(value: Any) -> Any:
    """`value` with every string that cannot be encoded as UTF-8 repaired (no recursion)."""

    def fix(text: str) -> str:
        return text if text.isascii() else _SURROGATE.sub("\ufffd", text)

    root = [value]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        container, key = stack.pop()
        item = container[key]
        if isinstance(item, str):
            container[key] = fix(item)
        elif isinstance(item, list):
            stack.extend((item, index) for index in range(len(item)))
        elif isinstance(item, dict):
            fixed = {fix(k): v for k, v in item.items()}
            container[key] = fixed
            stack.extend((fixed, k) for k in fixed)
    return root[0]


class _Retryable(Exception):
    """A failure worth retrying. Internal: exhausted retries become `ModelUnavailableError`."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(slots=True)
class _Call:
    """The running account of one call: requests made, usage and cost, the last problem."""

    started: float
    requests: int = 0
    usage: Usage = field(default_factory=Usage)
    cost: float = 0.0
    saw_cost: bool = False
    unpriced: bool = False
    problem: str | None = None
    reply_bytes: int = 0
    """The size of the last reply body read."""
    metered: int = 0
    """Requests whose cost is known: refused ones (an HTTP error status is not billed) and
    replies with a usable usage."""

    @property
    def unmetered(self) -> int:
        return self.requests - self.metered


POOL_SHARD_SIZE = 16
"""Connections per connection pool. httpcore scans every connection of its pool each time a
request starts or ends, so one pool of 64 connections spends more CPU on bookkeeping than on
HTTP; pools of 16 keep that scan short (measured: 1,000 requests at 64 in flight finish in
1.03x the ideal time instead of 1.08x)."""


class ShardedTransport(httpx.AsyncBaseTransport):
    """Several connection pools behind one client, each request sent through the least busy.

    The total number of connections is `max_connections`, as with a single pool; only the
    bookkeeping per request shrinks. Responses are read inside the transport, so a pool's load
    counts a request until its body has arrived (the model client never streams).
    """

    def __init__(
        self,
        max_connections: int,
        shard_size: int = POOL_SHARD_SIZE,
        max_bytes: int = MAX_REPLY_BYTES,
    ) -> None:
        self._max_bytes = max_bytes
        count = -(-max_connections // shard_size)
        sizes = [
            max_connections // count + (1 if i < max_connections % count else 0)
            for i in range(count)
        ]
        self._pools = [
            httpx.AsyncHTTPTransport(
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size)
            )
            for size in sizes
        ]
        self._load = [0] * count

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = min(range(len(self._pools)), key=self._load.__getitem__)
        self._load[index] += 1
        try:
            response = await self._pools[index].handle_async_request(request)
            try:
                body = bytearray()
                async for chunk in response.aiter_raw():
                    body += chunk
                    if len(body) > self._max_bytes:
                        raise _TooLarge
            finally:
                await response.aclose()
            return httpx.Response(
                response.status_code,
                headers=response.headers,
                stream=httpx.ByteStream(bytes(body)),
                extensions=response.extensions,
            )
        finally:
            self._load[index] -= 1

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()


class ModelClient:
    """Calls one registry entry's endpoint for a whole run.

    Use it as an async context manager, which discovers the served model id when the entry
    does not configure one and closes the connection pool at the end::

        async with ModelClient(entry, api_key=key) as client:
            completion = await client.complete([{"role": "user", "content": "..."}])

    (`arcbench.collaborators.build_client` makes one from settings.)

    `api_key` is sent as `Authorization: Bearer …` when given. `max_concurrent` sizes the
    connection pool (it should match the run's concurrency). `rate_limit` (requests per minute)
    overrides the entry's. `transport` is for tests that need to replace the network.
    """

    def __init__(
        self,
        entry: ModelEntry,
        *,
        api_key: SecretStr | None = None,
        max_concurrent: int = defaults.MAX_CONCURRENT,
        policy: RetryPolicy | None = None,
        rate_limit: float | None = None,
        connect_timeout: float = defaults.CONNECT_TIMEOUT_S,
        on_retry: Callable[[RetryEvent], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if entry.base_url is None:
            raise ConfigError(
                f"{entry.name} is an offline model and is not called over HTTP; "
                "use an entry with a base_url"
            )
        self.entry = entry
        self.base_url = entry.base_url
        self.policy = policy or RetryPolicy()
        self._key = api_key
        self._on_retry = on_retry
        rpm = rate_limit if rate_limit is not None else entry.rate_limit
        self.rate_limiter = RateLimiter(rpm) if rpm else None
        self._model_id = entry.model_id
        self._discovery = asyncio.Lock()
        if transport is None and max_concurrent > POOL_SHARD_SIZE:
            transport = ShardedTransport(max_concurrent)
        self._http = httpx.AsyncClient(
            limits=httpx.Limits(
                max_connections=max_concurrent, max_keepalive_connections=max_concurrent
            ),
            # Waiting for a pooled connection is bounded by the call's own deadline instead.
            timeout=httpx.Timeout(
                self.policy.request_timeout or self.policy.timeout,
                connect=connect_timeout,
                pool=None,
            ),
            follow_redirects=False,
            transport=transport,
        )

    def __repr__(self) -> str:
        return (
            f"ModelClient(name={self.entry.name!r}, base_url={shown_url(self.base_url)!r}, "
            f"model_id={self._model_id!r})"
        )

    async def __aenter__(self) -> ModelClient:
        try:
            await self.start()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    @property
    def model_id(self) -> str | None:
        """The model id sent in requests: configured, or discovered by `start()`."""
        return self._model_id

    def describe(self) -> dict[str, Any]:
        """What run.json records under `model`: registry name, provider, endpoint, model id."""
        return {
            "name": self.entry.name,
            "provider": self.entry.provider,
            "base_url": shown_url(self.base_url),
            "model_id": self._model_id,
            "source": self.entry.source,
        }

    async def start(self) -> str:
        """Make sure the model id is known, asking `GET {base_url}/models` if not configured.

        Raises `ModelUnavailableError` when the server cannot be reached (after a few quick
        retries), `AuthError` when it refuses the key, and `ConfigError` when it serves no
        model or several (then `model_id` must be chosen in models.toml).
        """
        async with self._discovery:
            if self._model_id is None:
                self._model_id = await self._discover()
        return self._model_id

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Completion:
        """One chat completion, retried within the policy's bounds.

        The request body is the entry's `extra` fields, then `extra`, then the model id,
        messages, and `temperature`/`max_tokens` when given. Raises a `ModelError` subclass
        (see the module docstring), carrying the usage and cost of the failed call.
        """
        model = self._model_id or await self.start()
        body: dict[str, Any] = {**self.entry.extra, **(extra or {})}
        body["model"] = model
        body["messages"] = list(messages)
        if temperature is not None:
            body["temperature"] = temperature
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        payload = orjson.dumps(body)
        call = _Call(started=time.perf_counter())
        data = await self._with_retries(call, lambda: self._post_chat(payload, call), self.policy)
        choice = data["choices"][0]
        message = choice["message"]
        if call.reply_bytes >= OFFLOAD_CHARS:
            content, reasoning, text = await asyncio.to_thread(_read_message, message)
        else:
            content, reasoning, text = _read_message(message)
        served = data.get("model")
        finish = choice.get("finish_reason")
        return Completion(
            text=text,
            reasoning=reasoning,
            content=content,
            usage=call.usage,
            cost_usd=call.cost,
            priced=self._priced(call),
            latency_s=time.perf_counter() - call.started,
            attempts=call.requests,
            unmetered=call.unmetered,
            model=served if isinstance(served, str) and served else model,
            finish_reason=finish if isinstance(finish, str) else None,
        )

    # -- the retry loop ------------------------------------------------------------------------

    async def _with_retries(
        self, call: _Call, operation: Callable[[], Awaitable[T]], policy: RetryPolicy
    ) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + policy.timeout

        def backoff(exc: Exception) -> bool | float:
            if not isinstance(exc, _Retryable):
                return False
            call.problem = exc.reason
            if call.requests > policy.retries:
                return False
            wait = exc.retry_after
            remaining = deadline - loop.time()
            if wait is not None and wait > remaining:
                exc.reason += (
                    f"; the server asked to wait {wait:g} s, more than the "
                    f"{max(remaining, 0):.0f} s left of --timeout"
                )
                return False
            self._retrying(call.requests, exc.reason, wait, policy)
            if wait is None:
                return True
            return wait + random.uniform(0, min(1.0, wait / 10))

        try:
            async with asyncio.timeout(policy.timeout):
                async for attempt in stamina.retry_context(
                    on=backoff,
                    attempts=policy.retries + 1,
                    timeout=policy.timeout,
                    wait_initial=policy.wait_initial,
                    wait_max=policy.wait_max,
                    wait_jitter=policy.wait_jitter,
                ):
                    with attempt:
                        return await operation()
        except TimeoutError:
            last = f"; last problem: {call.problem}" if call.problem else ""
            raise self._unavailable(
                call, f"no usable reply within {policy.timeout:g} s (--timeout){last}"
            ) from None
        except _Retryable as exc:
            raise self._unavailable(
                call, f"gave up after {call.requests} request(s): {exc.reason}"
            ) from None
        except ModelError as exc:
            exc.usage, exc.cost_usd, exc.attempts = call.usage, call.cost, call.requests
            exc.unmetered = call.unmetered
            raise
        raise AssertionError("stamina ended the retry loop without a result or an error")

    def _retrying(self, attempt: int, reason: str, wait: float | None, policy: RetryPolicy) -> None:
        how = f"in {wait:g} s as the server asked" if wait is not None else "after a backoff"
        log.info("%s: %s; retry %d of %d %s", self.entry.name, reason, attempt, policy.retries, how)
        if self._on_retry is not None:
            self._on_retry(RetryEvent(self.entry.name, attempt, reason, wait))

    def _unavailable(self, call: _Call, detail: str) -> ModelUnavailableError:
        return ModelUnavailableError(
            f"{self.entry.name} at {shown_url(self.base_url)}: {detail}. Check that the server "
            "is up and reachable; --retries and --timeout bound how long arcbench keeps trying",
            usage=call.usage,
            cost_usd=call.cost,
            attempts=call.requests,
            unmetered=call.unmetered,
        )

    # -- one request ---------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self._key is not None:
            headers["Authorization"] = f"Bearer {self._key.get_secret_value()}"
        if self.entry.provider == "openrouter":
            headers["X-Title"] = "arcbench"
        return headers

    async def _send(self, method: str, path: str, call: _Call, payload: bytes | None) -> Any:
        """Send one request; return its JSON body or raise a classified error."""
        if self.rate_limiter is not None:
            await self.rate_limiter.acquire()
        call.requests += 1
        request = self._http.build_request(
            method, f"{self.base_url}{path}", content=payload, headers=self._headers()
        )
        try:
            response = await self._http.send(request, stream=True)
            try:
                body = await _read_capped(response)
            finally:
                await response.aclose()
        except httpx.TimeoutException as exc:
            raise _Retryable(f"request timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            detail = self._scrub(str(exc)) or "no detail"
            raise _Retryable(f"connection failed ({type(exc).__name__}: {detail})") from None
        except _TooLarge:
            raise ReplyTooLargeError(
                f"{self.entry.name} at {shown_url(self.base_url)} sent a reply larger than "
                f"{MAX_REPLY_BYTES // 2**20} MB, the most arcbench reads of one reply; not "
                "retried. Lower --max-tokens, or check what the server sends"
            ) from None
        call.reply_bytes = len(body)
        if len(body) >= OFFLOAD_CHARS:
            data = await asyncio.to_thread(decode_body, body)
        else:
            data = decode_body(body)
        usable = isinstance(data, dict) and self._account(call, data.get("usage"))
        if usable or not response.is_success:
            call.metered += 1
        self._check_status(response, data)
        if not isinstance(data, dict):
            raise _Retryable(f"HTTP {response.status_code} reply is not a JSON object")
        if data.get("error"):
            raise _Retryable(f"the reply reports an error: {self._server_text(data)}")
        return data

    async def _post_chat(self, payload: bytes, call: _Call) -> dict[str, Any]:
        data: dict[str, Any] = await self._send("POST", "/chat/completions", call, payload)
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices:
            raise _Retryable("the reply has no choices")
        first = choices[0]
        if not isinstance(first, dict) or not isinstance(first.get("message"), dict):
            raise _Retryable("the reply's first choice has no message")
        return data

    def _check_status(self, response: httpx.Response, data: Any) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        said = self._server_text(data) or response.reason_phrase or "no detail"
        where = f"{self.entry.name} at {shown_url(self.base_url)}"
        if status in (401, 403):
            raise AuthError(
                f"{where} refused the request (HTTP {status}: {said}); {self._key_hint()}",
                status=status,
            )
        if status == 402:
            raise PaymentRequiredError(
                f"{where} wants payment (HTTP 402: {said}); add credits to the account whose "
                f"key is in {self.entry.api_key_env or 'the configured variable'}",
                status=status,
            )
        if status in (408, 429) or status >= 500:
            raise _Retryable(
                f"HTTP {status}: {said}",
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        raise RequestRejectedError(
            f"{where} rejected the request (HTTP {status}: {said}); not retried. Check the model "
            f"id ({self._model_id}), --max-tokens, and the entry's extra fields in models.toml",
            status=status,
        )

    def _key_hint(self) -> str:
        variable = self.entry.api_key_env
        if variable is None:
            return (
                f"the server wants an API key: set api_key_env for [models.{self.entry.name}] "
                "in models.toml and put the key in that variable"
            )
        state = "is set but was refused" if self._key is not None else "is not set"
        return f"{variable} {state}: set {variable} to a valid key in the environment or in .env"

    def _account(self, call: _Call, reported: object) -> bool:
        """Add a reply's usage and cost to the call; whether its cost is known (a usable cost
        reported, else usable counts at registry prices)."""
        usage = Usage.from_reply(reported)
        if usage is None:
            return False
        call.usage += usage
        cost = reported_cost(reported)
        known = cost is not None
        if cost is not None:
            call.saw_cost = True
        else:
            cost = self.entry.cost_usd(usage)
            known = cost is not None and not usage.unusable
            if usage.unusable:  # priced from counts the server got wrong: not a real price
                call.unpriced = True
        if cost is None:
            call.unpriced = True
        else:
            call.cost += cost
        return known

    def _priced(self, call: _Call) -> bool:
        return (self.entry.priced or call.saw_cost) and not call.unpriced

    def _server_text(self, data: Any) -> str:
        """The error message a server put in its body, shortened and scrubbed of the key."""
        if not isinstance(data, dict):
            return ""
        error = data.get("error") or data.get("detail") or data.get("message")
        if isinstance(error, dict):
            error = error.get("message") or error.get("code") or error
        text = error if isinstance(error, str) else _as_json(error) if error else ""
        text = self._scrub(" ".join(text.split()))
        return text if len(text) <= _MAX_SERVER_TEXT else text[:_MAX_SERVER_TEXT] + "…"

    def _scrub(self, text: str) -> str:
        if self._key is not None:
            secret = self._key.get_secret_value()
            if secret:
                text = text.replace(secret, "[redacted]")
        return text

    # -- model discovery -----------------------------------------------------------------------

    async def _discover(self) -> str:
        call = _Call(started=time.perf_counter())
        policy = replace(self.policy, retries=min(self.policy.retries, DISCOVERY_RETRIES))
        data = await self._with_retries(
            call, lambda: self._send("GET", "/models", call, None), policy
        )
        listed = data.get("data")
        ids: list[str] = [
            item["id"]
            for item in (listed if isinstance(listed, list) else [])
            if isinstance(item, dict) and isinstance(item.get("id"), str)
        ]
        where = f"{self.entry.name} at {shown_url(self.base_url)}"
        if not ids:
            raise ConfigError(
                f'{where} lists no model at /models; set model_id = "..." under '
                f"[models.{self.entry.name}] in models.toml"
            )
        if len(ids) > 1:
            shown = ", ".join(ids[:5]) + (", …" if len(ids) > 5 else "")
            raise ConfigError(
                f"{where} serves several models ({shown}); choose one with "
                f'model_id = "..." under [models.{self.entry.name}] in models.toml'
            )
        log.info("%s: the server at %s serves %s", self.entry.name, self.base_url, ids[0])
        return ids[0]
