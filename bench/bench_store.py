"""Benchmark of the store: `python bench/bench_store.py [--traces N] [--dir DIR]`.

Measures, on a store of 100,000 traces (1,000 tasks of 100, texts of 500 bytes, a vote on one
trace in three), while another process keeps writing to it (votes and new traces at
`--writer-rate` changes per second, as the web app's other workers would):
- a vote, an edit, a new trace and listing one task's traces (p50, p95, worst; goal p95 < 5 ms),
  through one `Store` kept open, as a web server keeps it; the same with a writer that never
  pauses (the worst case: every change waits for the other's transaction);
- opening the store in a new process-like object and listing a task (what a one-shot command
  pays);
- `arcbench merge` of a run of 10,000 records into the 100,000 traces, through the real CLI
  (start-up included) and in-process (goal < 1 s);
- peak memory of a process that opens the store, lists, votes and adds, at 1,000, 100,000 and
  1,000,000 traces (goal: flat).

The store lives in `--dir` (default: a temporary directory under the current one, so on the
disk a real store would use, not a RAM-backed /tmp).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from arcbench.merge import merge_inputs
from arcbench.store import Store, Trace
from rundata import record, write_run

LATENCY_GOAL_MS = 5.0
MERGE_GOAL_S = 1.0
MEMORY_GOAL = 1.1
PER_TASK = 100
SAMPLES = 400

Row = tuple[str, str, str, bool]


def build_store(path: Path, traces: int, text_bytes: int) -> None:
    """A store of `traces` traces, `PER_TASK` per task, one in three voted on, through the
    store's own merge (in batches, so building a million stays small in memory)."""
    text = "Every blue cell moves one step right until it meets a wall. ".ljust(text_bytes, ".")
    with Store(path) as store:
        for start in range(0, traces, 50_000):
            batch = [
                Trace(
                    trace_id=f"task{n // PER_TASK:06d}_{n:08x}",
                    task_id=f"task{n // PER_TASK:06d}",
                    username=f"user{n % 97}",
                    text=f"{n}: {text}",
                    score=1 if n % 3 == 0 else 0,
                    timestamp=1714824000.0 + n,
                    voters={"bob": 1} if n % 3 == 0 else {},
                )
                for n in range(start, min(start + 50_000, traces))
            ]
            store.traces.merge(batch)


def make_run(run_dir: Path, records: int, text_bytes: int) -> None:
    """A run of `records` attempts with prompts and replies of realistic size (~5 KB each)."""
    prompt = "Train input 1:\n" + "0 1 2 3 4 5 6 7 8 9\n" * 200
    rows = []
    for n in range(records):
        reasoning = f"Attempt {n}: the blue shape moves right until it hits the wall. ".ljust(
            text_bytes, "."
        )
        row = record("bench-run", f"task{n % 400:06d}", attempt=n // 400 + 1, reasoning=reasoning)
        row["messages"] = [{"role": "user", "content": prompt}]
        row["response"] = reasoning + "\n```json\n[[1, 2], [3, 4]]\n```"
        rows.append(row)
    write_run(run_dir, rows)


WRITER = """
import random, sys, time
from pathlib import Path
from arcbench.store import Store
store = Store(Path(sys.argv[1]))
rate, traces, per_task = float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(1)
print("ready", flush=True)
for n in range(10**9):
    t = rng.randrange(traces)
    if n % 2:
        store.traces.add_trace(f"task{t // per_task:06d}", "writer", f"Background trace {n}.")
    else:
        store.traces.vote(f"task{t // per_task:06d}_{t:08x}", f"writer{n}", 1)
    if rate > 0:
        time.sleep(1 / rate)
"""


def start_writer(path: Path, rate: float, traces: int) -> subprocess.Popen[str]:
    """Another process changing the store, `rate` changes per second (0: without pause)."""
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(rate), str(traces), str(PER_TASK)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "ready"
    return writer


def latencies(action: Callable[[int], object], samples: int) -> list[float]:
    """Milliseconds of each call of `action(n)`."""
    times = []
    for n in range(samples):
        start = time.perf_counter()
        action(n)
        times.append((time.perf_counter() - start) * 1000)
    return times


def latency_rows(path: Path, traces: int, label: str) -> list[Row]:
    tasks = traces // PER_TASK
    rng = random.Random(2)
    store = Store(path)
    mine = [store.traces.add_trace(f"task{n:06d}", "bench", "Draft.") for n in range(50)]

    def random_trace() -> str:
        n = rng.randrange(traces)
        return f"task{n // PER_TASK:06d}_{n:08x}"

    actions: dict[str, Callable[[int], object]] = {
        "vote": lambda n: store.traces.vote(random_trace(), f"bench{n}", 1),
        "edit": lambda n: store.traces.edit_trace(mine[n % 50].trace_id, "bench", f"Text {n}."),
        "new trace": lambda n: store.traces.add_trace(
            f"task{rng.randrange(tasks):06d}", "bench", f"New trace {n}."
        ),
        "list one task (~100 traces)": lambda n: store.traces.list_traces(
            f"task{rng.randrange(tasks):06d}"
        ),
    }
    rows = []
    for name, action in actions.items():
        times = sorted(latencies(action, SAMPLES))
        p95 = times[int(len(times) * 0.95)]
        rows.append(
            (
                f"{name}, {label}",
                f"p50 {statistics.median(times):.2f} · p95 {p95:.2f} · max {times[-1]:.1f} ms",
                f"p95 < {LATENCY_GOAL_MS:g} ms",
                p95 < LATENCY_GOAL_MS,
            )
        )
    store.close()
    return rows


def cold_open_row(path: Path, tasks: int) -> Row:
    def open_and_list(n: int) -> None:
        with Store(path) as store:
            store.traces.list_traces(f"task{n % tasks:06d}")

    times = sorted(latencies(open_and_list, 50))
    return (
        "open the store and list one task (a new Store each time)",
        f"p50 {statistics.median(times):.2f} · p95 {times[int(len(times) * 0.95)]:.2f} ms",
        "",
        True,
    )


def merge_rows(path: Path, run_dir: Path, records: int, work: Path) -> list[Row]:
    pristine = work / "pristine.db"
    shutil.copy(path, pristine)
    target = work / "merge.db"

    def fresh() -> None:
        shutil.copy(pristine, target)

    cli = [sys.executable, "-m", "arcbench", "merge", str(run_dir), "--store", str(target)]
    timings: dict[str, list[float]] = {"cli": [], "in-process": []}
    for _ in range(3):
        fresh()
        start = time.perf_counter()
        subprocess.run(cli, check=True, capture_output=True)
        timings["cli"].append(time.perf_counter() - start)
        fresh()
        start = time.perf_counter()
        merge_inputs([run_dir], target, now=time.time())
        timings["in-process"].append(time.perf_counter() - start)
    start = time.perf_counter()
    subprocess.run(cli, check=True, capture_output=True)
    again = time.perf_counter() - start
    startup = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "arcbench", "--version"], check=True, capture_output=True
        )
        startup.append(time.perf_counter() - start)
    return [
        (
            f"merge {records:,} records via the CLI (start-up included)",
            _seconds(timings["cli"]),
            f"< {MERGE_GOAL_S:g} s",
            statistics.median(timings["cli"]) < MERGE_GOAL_S,
        ),
        (
            f"merge {records:,} records in-process",
            _seconds(timings["in-process"]),
            f"< {MERGE_GOAL_S:g} s",
            statistics.median(timings["in-process"]) < MERGE_GOAL_S,
        ),
        ("merge the same run again via the CLI (adds nothing)", f"{again:.2f} s", "", True),
        ("… of which CLI start-up (`arcbench --version`, same run)", _seconds(startup), "", True),
    ]


def _seconds(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s ({min(values):.2f}-{max(values):.2f})"


PROBE = """
import sys
from pathlib import Path
from arcbench.store import Store
store = Store(Path(sys.argv[1]))
store.traces.list_traces("task000000")
store.traces.vote("task000000_00000001", "probe", 1)
store.traces.add_trace("task000000", "probe", "A trace.")
store.info()
# VmHWM: this process's peak since exec (ru_maxrss would include the parent's size at fork)
status = Path("/proc/self/status").read_text().splitlines()
print(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
"""


def memory_rows(work: Path, sizes: list[int]) -> list[Row]:
    peaks = {}
    for size in sizes:
        path = work / f"memory-{size}.db"
        build_store(path, size, 100)
        out = subprocess.run(
            [sys.executable, "-c", PROBE, str(path)], check=True, capture_output=True, text=True
        )
        peaks[size] = int(out.stdout) / 1024
        megabytes = path.stat().st_size / 1e6
        path.unlink()
        print(f"  {size:,} traces ({megabytes:.0f} MB): peak RSS {peaks[size]:.0f} MiB")
    smallest, largest = min(sizes), max(sizes)
    ratio = peaks[largest] / peaks[smallest]
    return [
        (
            f"peak RSS of a process using the store, {largest:,} vs {smallest:,} traces",
            f"{peaks[largest]:.0f} vs {peaks[smallest]:.0f} MiB: {ratio:.2f}x",
            f"≤ {MEMORY_GOAL:g}x",
            ratio <= MEMORY_GOAL,
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--text-bytes", type=int, default=500, help="size of each trace's text")
    parser.add_argument("--writer-rate", type=float, default=100, help="changes/s by the writer")
    parser.add_argument(
        "--memory-traces", default="1000,100000,1000000", help="store sizes for the memory row"
    )
    parser.add_argument("--dir", type=Path, default=Path.cwd(), help="where to build the stores")
    args = parser.parse_args()

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-store-", dir=args.dir) as tmp:
        work = Path(tmp)
        path = work / "arcbench.db"
        started = time.perf_counter()
        build_store(path, args.traces, args.text_bytes)
        print(f"built {args.traces:,} traces in {time.perf_counter() - started:.1f} s")
        run_dir = work / "run"
        make_run(run_dir, args.records, args.text_bytes)
        size_mb = path.stat().st_size / 1e6
        run_mb = (run_dir / "results.jsonl").stat().st_size / 1e6
        tasks = args.traces // PER_TASK

        rows += merge_rows(path, run_dir, args.records, work)
        writers = ((args.writer_rate, f"writer at {args.writer_rate:g}/s"), (0, "writer unpaced"))
        for rate, label in writers:
            writer = start_writer(path, rate, args.traces)
            try:
                rows += latency_rows(path, args.traces, label)
            finally:
                writer.kill()
                writer.wait()
        rows.append(cold_open_row(path, tasks))
        rows += memory_rows(work, [int(s) for s in args.memory_traces.split(",")])

    table = Table(
        title=f"store: {args.traces:,} traces ({size_mb:.0f} MB, text {args.text_bytes} B), "
        f"run file {run_mb:.0f} MB, {os.cpu_count()} cores",
        title_justify="left",
    )
    table.add_column("operation")
    table.add_column("measured", justify="right")
    table.add_column("goal", justify="right")
    table.add_column("")
    for name, value, goal, met in rows:
        table.add_row(name, value, goal, "" if not goal else "ok" if met else "MISSED")
    Console().print(table)


if __name__ == "__main__":
    main()
