"""What the sandbox tests share: whether they may skip, and helpers to look at processes.

The tests that need full isolation skip where bubblewrap cannot build it, unless
ARCBENCH_REQUIRE_SANDBOX=1 (as `.ci/run` sets): then they fail, so that a machine without it can
never pass them by skipping.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from arcbench.sandbox import SyncSandbox, unavailable_reason

REQUIRED = os.environ.get("ARCBENCH_REQUIRE_SANDBOX") == "1"
"""Read at import: the tests' own fixtures remove every ARCBENCH_* variable."""

GRID = [[1, 2], [3, 4]]


@pytest.fixture(scope="session")
def full_isolation() -> None:
    """Skip (or, with ARCBENCH_REQUIRE_SANDBOX=1, fail) where full isolation is unavailable."""
    reason = unavailable_reason()
    if reason is None:
        return
    if REQUIRED:
        pytest.fail(f"ARCBENCH_REQUIRE_SANDBOX=1 but full isolation is unavailable: {reason}")
    pytest.skip(f"full isolation unavailable: {reason}")


def program(source: str) -> str:
    return textwrap.dedent(source)


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, found through /proc/PID/task/*/children."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return found
    for tid in tasks:
        try:
            children = Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
        except FileNotFoundError:
            continue
        for child in map(int, children):
            found += [child, *descendants(child)]
    return found


def sandbox_processes(pool: SyncSandbox) -> list[int]:
    """Every process below the pool's bubblewrap processes (the warm parents included)."""
    return [pid for worker in pool.sandbox._all for pid in descendants(worker.process.pid)]


def assert_still_works(pool: SyncSandbox) -> None:
    [outcome] = pool.check("def transform(grid):\n    return [row[::-1] for row in grid]\n", [GRID])
    assert outcome.grid == [[2, 1], [4, 3]]
    assert len(sandbox_processes(pool)) == len(pool.sandbox._all)  # only the warm parents
