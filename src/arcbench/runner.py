"""The shared runner: bounded concurrency, per-item failure as data, graceful stop.

It knows nothing about ARC. It takes work items and a coroutine that turns one item into a
result, runs at most `max_concurrent` of them at a time, and hands every result to a callback the
moment it exists (the caller writes it to disk: the output is the checkpoint). Retries belong
inside the coroutine, so they happen inside the concurrency slot and backoff slows the run down
rather than piling more requests on.

Concurrency is a pool of `max_concurrent` workers pulling from one iterator, which is a semaphore
that never holds more than `max_concurrent` items in memory: a run of 100,000 attempts costs the
same memory as a run of 1,000.

An exception from the coroutine becomes a result through `on_error` (a record with `error` set)
unless `is_fatal` says it must stop the run (bad credentials, an unwritable output): then the
other workers are cancelled and the exception propagates. An exception from the items' iterator
itself propagates too: a run that lost its items must not look completed. `Stopper` implements
Ctrl+C: the first request stops scheduling and lets in-flight items finish; the second cancels
them. An item's work may also raise `StopScheduling` (a budget refusing its next request, say):
nothing new starts, what is in flight finishes, that item is left undone, and the run's outcome
is `stopped` with the exception's `reason`.

`sigint_stops` routes SIGINT and SIGTERM to a `Stopper` while a run goes (through
`arcbench.interrupts` when the CLI installed it).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import Generic, Literal, TypeVar

from arcbench.interrupts import INTERRUPTS, STOP_SIGNALS

T = TypeVar("T")
R = TypeVar("R")

Outcome = Literal["completed", "interrupted", "stopped"]


class StopScheduling(Exception):
    """Raised by an item's work: start no more items. The item is left undone (not passed to
    `on_error`), items in flight finish, and `Runner.run` returns `stopped`, with `reason`
    in `Runner.stop_reason`."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class Stopper:
    """Stop requests: the first is graceful, the second cancels what is in flight."""

    def __init__(self, on_request: Callable[[bool], None] | None = None) -> None:
        self.requested = False
        self.cancelled = False
        self._on_request = on_request
        self._tasks: list[asyncio.Task[None]] = []

    def request(self) -> None:
        """Ask the run to stop: gracefully the first time, by cancellation the second."""
        if self.requested:
            self.cancelled = True
            for task in self._tasks:
                task.cancel()
        self.requested = True
        if self._on_request is not None:
            self._on_request(self.cancelled)

    def watch(self, tasks: list[asyncio.Task[None]]) -> None:
        self._tasks = tasks


@contextmanager
def sigint_stops(stopper: Stopper) -> Iterator[None]:
    """While inside, SIGINT (Ctrl+C) and SIGTERM call `stopper.request()` instead of raising.

    Through `INTERRUPTS` when the CLI installed it; otherwise (the library used on its own) with
    the loop's signal handlers, and the process's previous handlers put back afterwards.
    """
    if INTERRUPTS.installed:
        with INTERRUPTS.routed(stopper):
            yield
        return
    loop = asyncio.get_running_loop()
    installed = []
    for sig in STOP_SIGNALS:
        with suppress(NotImplementedError, RuntimeError, ValueError):
            previous = signal.getsignal(sig)
            loop.add_signal_handler(sig, stopper.request)
            installed.append((sig, signal.SIG_DFL if previous is None else previous))
    try:
        yield
    finally:
        for sig, previous in installed:
            loop.remove_signal_handler(sig)
            signal.signal(sig, previous)


class Runner(Generic[T, R]):
    """Run `work` over items with at most `max_concurrent` in flight."""

    def __init__(
        self,
        work: Callable[[T], Awaitable[R]],
        *,
        max_concurrent: int,
        on_result: Callable[[R], None],
        on_error: Callable[[T, Exception], R],
        is_fatal: Callable[[BaseException], bool] = lambda exc: False,
        stopper: Stopper | None = None,
    ) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self._work = work
        self._max_concurrent = max_concurrent
        self._on_result = on_result
        self._on_error = on_error
        self._is_fatal = is_fatal
        self.stopper = stopper or Stopper()
        self.stop_reason: str | None = None
        """Why an item's work stopped scheduling (`StopScheduling.reason`), if one did."""
        self._fatal: BaseException | None = None

    async def run(self, items: Iterable[T]) -> Outcome:
        """Process every item unless stopped: 'interrupted' if Ctrl+C left items unprocessed,
        'stopped' if an item's work stopped scheduling (`stop_reason` says why)."""
        iterator = iter(items)
        exhausted = False

        async def worker() -> None:
            nonlocal exhausted
            while not self.stopper.requested and self._fatal is None and not self.stop_reason:
                try:
                    item = next(iterator)
                except StopIteration:
                    exhausted = True
                    return
                except Exception as exc:  # the items themselves broke: no item can be trusted
                    self._stop_for(exc)
                    return
                try:
                    result = await self._work(item)
                except asyncio.CancelledError:
                    raise
                except StopScheduling as exc:
                    self.stop_reason = self.stop_reason or exc.reason
                    return
                except Exception as exc:
                    if self._is_fatal(exc):
                        self._stop_for(exc)
                        return
                    result = self._on_error(item, exc)
                try:
                    self._on_result(result)
                except Exception as exc:
                    self._stop_for(exc)
                    return

        tasks = [asyncio.create_task(worker()) for _ in range(self._max_concurrent)]
        self.stopper.watch(tasks)
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._fatal is not None:
            raise self._fatal
        if self.stopper.cancelled:
            return "interrupted"
        if self.stop_reason is not None:  # the item that stopped scheduling is not done
            return "interrupted" if self.stopper.requested else "stopped"  # Ctrl+C comes first
        return "completed" if exhausted or _nothing_left(iterator) else "interrupted"

    def _stop_for(self, exc: BaseException) -> None:
        """A fatal error: remember the first, cancel every other worker."""
        if self._fatal is None:
            self._fatal = exc
            for task in self.stopper._tasks:
                if task is not asyncio.current_task():
                    task.cancel()


def _nothing_left(iterator: Iterator[object]) -> bool:
    """Whether a stopped run's items had run out: a stop that lands after the last item started
    (or on a resumed run with nothing to do) left nothing undone, so the run is complete."""
    try:
        next(iterator)
    except StopIteration:
        return True
    except Exception:  # the items break: whatever they held was not done
        return False
    return False
