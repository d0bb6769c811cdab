"""Live updates: server-sent events whenever a change counter moves.

Each store area (today the variations; traces next) offers a cheap counter that changes with
every write, from whichever process made it (the app's workers or `arcbench merge`). `ChangeFeed`
reads the counters at most once per `interval` however many browsers listen, and each browser's
stream sends `event: <topic>` with the new counter when one moves (and all of them on connect),
plus a comment line now and then so proxies keep the connection open. The page then re-reads
what it shows; the event carries no data but the counter.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import orjson

POLL_INTERVAL_S = 0.3
KEEPALIVE_S = 15.0
RETRY_MS = 1000


@dataclass
class ChangeFeed:
    """The counters by topic, read at most once per `interval` and shared by every stream."""

    topics: Mapping[str, Callable[[], int]]
    interval: float = POLL_INTERVAL_S
    stopping: bool = False
    """Set when the server shuts down: every stream ends within one interval."""
    _read_at: float = field(default=float("-inf"))
    _values: dict[str, int] = field(default_factory=dict)

    def snapshot(self) -> dict[str, int]:
        now = time.monotonic()
        if now - self._read_at >= self.interval:
            self._values = {name: counter() for name, counter in self.topics.items()}
            self._read_at = now
        return self._values

    async def stream(self, disconnected: Callable[[], Awaitable[bool]]) -> AsyncIterator[str]:
        """The event stream of one browser, until it goes away or the server stops."""
        yield f"retry: {RETRY_MS}\n\n"
        sent: dict[str, int] = {}
        quiet_since = time.monotonic()
        while not self.stopping and not await disconnected():
            for name, value in self.snapshot().items():
                if sent.get(name) != value:
                    sent[name] = value
                    quiet_since = time.monotonic()
                    yield f"event: {name}\ndata: {orjson.dumps({'counter': value}).decode()}\n\n"
            if time.monotonic() - quiet_since >= KEEPALIVE_S:
                quiet_since = time.monotonic()
                yield ": keep-alive\n\n"
            await asyncio.sleep(self.interval)
