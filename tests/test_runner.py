"""The generic runner: bounded concurrency, failures as data, fatal errors, graceful stop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from arcbench.runner import Runner, Stopper, StopScheduling


class Fatal(Exception):
    pass


def test_concurrency_is_bounded_and_every_item_is_processed() -> None:
    in_flight = 0
    peak = 0
    results: list[int] = []

    async def work(item: int) -> int:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        if item % 7 == 0:
            raise ValueError(f"bad {item}")
        return item

    runner: Runner[int, int] = Runner(
        work, max_concurrent=5, on_result=results.append, on_error=lambda item, exc: -item
    )
    outcome = asyncio.run(runner.run(range(1, 51)))
    assert outcome == "completed"
    assert peak == 5
    assert sorted(results, key=abs) == [-i if i % 7 == 0 else i for i in range(1, 51)]


def test_fatal_error_stops_the_run_and_propagates() -> None:
    started: list[int] = []

    async def work(item: int) -> int:
        started.append(item)
        if item == 3:
            raise Fatal("key refused")
        await asyncio.sleep(0.05)
        return item

    runner: Runner[int, int] = Runner(
        work,
        max_concurrent=2,
        on_result=lambda r: None,
        on_error=lambda item, exc: 0,
        is_fatal=lambda exc: isinstance(exc, Fatal),
    )
    with pytest.raises(Fatal):
        asyncio.run(runner.run(range(100)))
    assert len(started) < 10


def test_items_that_break_stop_the_run_rather_than_end_it_completed() -> None:
    """An iterator that raises has not run out: the run propagates the error, never reports
    `completed` with the rest of its items silently missing."""
    done: list[int] = []

    def items() -> Iterator[int]:
        yield from range(3)
        raise ValueError("item 3 cannot be made")

    async def work(item: int) -> int:
        await asyncio.sleep(0.01)
        return item

    runner: Runner[int, int] = Runner(
        work, max_concurrent=2, on_result=done.append, on_error=lambda item, exc: -1
    )
    with pytest.raises(ValueError, match="item 3 cannot be made"):
        asyncio.run(runner.run(items()))
    assert -1 not in done


def test_first_stop_finishes_in_flight_second_cancels() -> None:
    finished: list[int] = []

    async def scenario(second: bool) -> str:
        stopper = Stopper()

        async def work(item: int) -> int:
            if item == 2:
                stopper.request()
                if second:
                    stopper.request()
            await asyncio.sleep(0.05)
            return item

        runner: Runner[int, int] = Runner(
            work,
            max_concurrent=3,
            on_result=finished.append,
            on_error=lambda i, e: 0,
            stopper=stopper,
        )
        return await runner.run(range(100))

    assert asyncio.run(scenario(second=False)) == "interrupted"
    assert sorted(finished) == [0, 1, 2]  # the three in flight finished, nothing new started
    finished.clear()
    assert asyncio.run(scenario(second=True)) == "interrupted"
    assert finished == []


@pytest.mark.parametrize(
    ("count", "expected"), [(0, "completed"), (3, "completed"), (4, "interrupted")]
)
def test_a_stop_with_nothing_left_to_do_completes_the_run(count: int, expected: str) -> None:
    """A Ctrl+C that lands after the last item started (or on a resumed run with nothing left)
    left nothing undone: the run is `completed`, not `interrupted`."""
    stopper = Stopper()
    if count == 0:
        stopper.request()  # a resumed run with nothing left, stopped before it began
    finished: list[int] = []

    async def work(item: int) -> int:
        if item == 2:
            stopper.request()
        return item

    runner: Runner[int, int] = Runner(
        work, max_concurrent=1, on_result=finished.append, on_error=lambda i, e: 0, stopper=stopper
    )
    assert asyncio.run(runner.run(range(count))) == expected
    assert finished == list(range(min(count, 3)))


def test_stop_scheduling_finishes_what_is_in_flight_and_leaves_the_item_undone() -> None:
    finished: list[int] = []

    async def work(item: int) -> int:
        if item == 5:
            raise StopScheduling("no money left for item 5", "budget")
        await asyncio.sleep(0.02)
        return item

    runner: Runner[int, int] = Runner(
        work, max_concurrent=3, on_result=finished.append, on_error=lambda i, e: -1
    )
    assert asyncio.run(runner.run(range(100))) == "stopped"
    assert runner.stop_reason == "budget"
    assert 5 not in finished
    # 3 and 4 were in flight when 5 stopped scheduling: they finish, nothing new starts, and
    # 5 is not a failure (no on_error result): it is simply not done.
    assert sorted(finished) == [0, 1, 2, 3, 4]
