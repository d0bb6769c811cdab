"""A separate writer process for the store's reliability tests: `python store_worker.py CMD …`.

Each command prints one JSON line per change it made, so the test can check that every change
reached the file exactly once.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import orjson

from arcbench.store import TraceStore, VariationStore
from arcbench.tasks import Pair, Task, TestPair


def add(store_path: str, prefix: str, count: str) -> None:
    store = TraceStore(Path(store_path))
    for n in range(int(count)):
        trace = store.add_trace(f"task{n % 7:04d}", prefix, f"{prefix} trace {n}")
        _report(trace.trace_id)


def vote(store_path: str, prefix: str, trace_ids: str) -> None:
    store = TraceStore(Path(store_path))
    for n, trace_id in enumerate(trace_ids.split(",")):
        store.vote(trace_id, f"{prefix}{n}", 1)
        _report([trace_id, f"{prefix}{n}"])


def add_forever(store_path: str) -> None:
    """Add traces until killed; print each id once it is on disk."""
    store = TraceStore(Path(store_path))
    for n in range(1_000_000):
        _report(store.add_trace("big", "killed", f"trace {n}").trace_id)


def hang_in_write(store_path: str) -> None:
    """Add one trace, but stop for good after the new content is on disk and before the rename,
    saying so: the moment a SIGKILL does most harm."""
    real_fsync = os.fsync

    def fsync_then_hang(fd: int) -> None:
        real_fsync(fd)
        _report("in-write")
        time.sleep(60)

    os.fsync = fsync_then_hang
    TraceStore(Path(store_path)).add_trace("big", "killed", "never renamed into place")


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
    commands = {
        "add": add,
        "vote": vote,
        "add-forever": add_forever,
        "hang-in-write": hang_in_write,
        "variations": variations,
    }
    commands[sys.argv[1]](*sys.argv[2:])
