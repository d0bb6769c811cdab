"""Benchmark of the trace store: `python bench/bench_store.py [--traces N] [--text-bytes B]`.

Measures, on a store of 100,000 traces (written as the original app wrote them):
- merging a run of 10,000 records (goal: under 2 s), in-process and through the real CLI;
- one vote and one new trace end to end (goal: under 0.3 s each): "cold" builds a fresh
  `TraceStore` (parse, index, change, write, fsync), as a one-shot command does; "warm" reuses
  one whose cached copy another process has just invalidated (re-read, change, write), the web
  app's case under concurrent use; "cached" is the web app's usual case, nothing to re-read.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from arcbench.merge import merge_results
from arcbench.store import TraceStore
from rundata import legacy_store, record, write_run

MERGE_GOAL_S = 2.0
CHANGE_GOAL_S = 0.3


def make_store(path: Path, traces: int, text_bytes: int) -> None:
    """A store in the original format; one text in ten is non-ASCII, as in English prose."""
    per_task = 100
    path.parent.mkdir(parents=True, exist_ok=True)
    data = legacy_store(tasks=traces // per_task, per_task=per_task, text_bytes=text_bytes)
    for n, trace in enumerate(t for task_traces in data.values() for t in task_traces):
        if n % 10:
            trace["text"] = trace["text"].encode("ascii", "replace").decode()
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))


def make_run(run_dir: Path, records: int, text_bytes: int) -> None:
    """A run of `records` attempts with prompts and replies of realistic size."""
    prompt = "Train input 1:\n" + "0 1 2 3 4 5 6 7 8 9\n" * 200  # a 30x30-ish task, ~4 KB
    rows = []
    for n in range(records):
        reasoning = f"Attempt {n}: the blue shape moves right until it hits the wall. ".ljust(
            text_bytes, "."
        )
        row = record("bench-run", f"task{n % 400:04d}", attempt=n // 400 + 1, reasoning=reasoning)
        row["messages"] = [{"role": "user", "content": prompt}]
        row["response"] = reasoning + "\n```json\n[[1, 2], [3, 4]]\n```"
        rows.append(row)
    write_run(run_dir, rows)


def change_fresh(change: Callable[[TraceStore], None], path: Path) -> None:
    change(TraceStore(path))


def timed(
    action: Callable[[], object], repeat: int, setup: Callable[[], object] | None = None
) -> float:
    """Median wall time of `action` over `repeat` runs, `setup` run untimed before each."""
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--text-bytes", type=int, default=500, help="size of each trace's text")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        root = Path(tmp)
        store_path = root / "data" / "traces_store.json"
        pristine = root / "pristine.json"
        run_dir = root / "run"
        make_store(pristine, args.traces, args.text_bytes)
        make_run(run_dir, args.records, args.text_bytes)
        size_mb = pristine.stat().st_size / 1e6
        run_mb = (run_dir / "results.jsonl").stat().st_size / 1e6

        def fresh_store() -> None:
            store_path.parent.mkdir(parents=True, exist_ok=True)
            store_path.write_bytes(pristine.read_bytes())

        rows: list[tuple[str, float, float]] = []
        merge_s = timed(
            lambda: merge_results([run_dir], store_path, now=time.time()),
            args.repeat,
            fresh_store,
        )
        rows.append((f"merge {args.records:,} records (in-process)", merge_s, MERGE_GOAL_S))
        cli = [sys.executable, "-m", "arcbench", "merge", str(run_dir), "--store", str(store_path)]
        cli_s = timed(lambda: subprocess.run(cli, check=True, capture_output=True), 3, fresh_store)
        rows.append((f"merge {args.records:,} records (CLI, with startup)", cli_s, MERGE_GOAL_S))
        again_s = timed(lambda: merge_results([run_dir], store_path, now=time.time()), 3)
        rows.append(("merge the same run again (nothing to add)", again_s, MERGE_GOAL_S))

        fresh_store()
        trace_id = next(iter(orjson.loads(pristine.read_bytes()).values()))[0]["trace_id"]
        votes = iter(range(10**6))
        other = TraceStore(store_path)

        def vote(store: TraceStore) -> None:
            store.vote(trace_id, f"user{next(votes)}", 1)

        def add(store: TraceStore) -> None:
            store.add_trace("task0001", "bench", "A new trace typed in the web app.")

        warm = TraceStore(store_path)
        warm.count()
        for name, change in (("vote", vote), ("new trace", add)):
            cold_s = timed(partial(change_fresh, change, store_path), args.repeat)
            warm_s = timed(partial(change, warm), args.repeat, setup=partial(vote, other))
            cached_s = timed(partial(change, warm), args.repeat)
            rows += [
                (f"one {name}, cold (fresh store object)", cold_s, CHANGE_GOAL_S),
                (f"one {name}, warm (another process wrote since)", warm_s, CHANGE_GOAL_S),
                (f"one {name}, cached (web app, no other writer)", cached_s, CHANGE_GOAL_S),
            ]

    table = Table(
        title=f"trace store: {args.traces:,} traces, {size_mb:.0f} MB "
        f"(text {args.text_bytes} B); run file {run_mb:.0f} MB",
        title_justify="left",
    )
    table.add_column("operation")
    table.add_column("median s", justify="right")
    table.add_column("goal s", justify="right")
    table.add_column("")
    for name, seconds, goal in rows:
        table.add_row(name, f"{seconds:.3f}", f"< {goal:g}", "ok" if seconds < goal else "SLOW")
    Console().print(table)


if __name__ == "__main__":
    main()
