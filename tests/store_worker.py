"""A separate writer process for the store's reliability tests: `python store_worker.py CMD …`.

Each command prints one JSON line per change it made (after its transaction committed), so the
test can check that every change reached the database exactly once. The app-style writers
(`add`, `vote`, `variations`) say `"ready"` first and keep going until a stop file appears, so
that they surely overlap whatever the test starts meanwhile.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from arcbench.store import TraceStore, VariationStore
from arcbench.tasks import Pair, Task, TestPair


def add(store_path: str, prefix: str, stop: str) -> None:
    """Add traces, a web app's way, until `stop` exists."""
    store = TraceStore(Path(store_path))
    _report("ready")
    n = 0
    while not Path(stop).exists() or n < 20:
        trace = store.add_trace(f"task{n % 7:04d}", prefix, f"{prefix} trace {n}")
        _report(trace.trace_id)
        n += 1


def vote(store_path: str, prefix: str, trace_ids: str, stop: str) -> None:
    """Vote +1 on each trace in turn, each vote by a new user, until `stop` exists."""
    store = TraceStore(Path(store_path))
    targets = trace_ids.split(",")
    _report("ready")
    n = 0
    while not Path(stop).exists() or n < 20:
        trace_id, user = targets[n % len(targets)], f"{prefix}{n}"
        store.vote(trace_id, user, 1)
        _report([trace_id, user])
        n += 1


def add_forever(store_path: str) -> None:
    """Add traces until killed; print each id once it is committed."""
    store = TraceStore(Path(store_path))
    for n in range(1_000_000):
        _report(store.add_trace("big", "killed", f"trace {n}").trace_id)


def hang_in_merge(store_path: str, *inputs: str) -> None:
    """Merge `inputs`, but stop for good after every row is written and before the commit,
    saying so: the moment a SIGKILL does most harm."""
    from arcbench.merge import merge_inputs
    from arcbench.store import database

    real = database.Transaction.bump_revisions

    def bump_then_hang(self: database.Transaction) -> None:
        real(self)
        _report("in-merge")
        time.sleep(60)

    database.Transaction.bump_revisions = bump_then_hang  # type: ignore[method-assign]
    merge_inputs([Path(p) for p in inputs], Path(store_path), now=time.time())


def variations(store_path: str, username: str, seeds: str) -> None:
    store = VariationStore(Path(store_path))
    for seed in (int(s) for s in seeds.split(",")):
        task = Task(
            id="shared",
            train=[Pair(input=[[seed % 10, seed // 10 % 10]], output=[[seed // 100 % 10]])],
            test=[TestPair(input=[[1]])],
        )
        added = store.add_variation(task, username)
        _report([seed, added.entry.version, added.added])


def _report(value: object) -> None:
    sys.stdout.buffer.write(orjson.dumps(value) + b"\n")
    sys.stdout.flush()


if __name__ == "__main__":
    commands: dict[str, Callable[..., None]] = {
        "add": add,
        "vote": vote,
        "add-forever": add_forever,
        "hang-in-merge": hang_in_merge,
        "variations": variations,
    }
    commands[sys.argv[1]](*sys.argv[2:])
