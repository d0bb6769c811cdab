"""Benchmark of reviewing runs and traces in the web app: `python bench/bench_review.py`.

Builds, in a temporary directory,
- a store of 100,000 traces (1,000 tasks x 100, merged from a traces_store.json);
- a traces run of 10,000 records (5,000 tasks x 2 attempts, 2 KB of reasoning each), and 50 more
  runs of 400 tasks x 2 attempts (40,000 records, all at the same 400 tasks);
- a 400-task offline baseline run (`arcbench codegen --model baseline`, ARC-AGI-1 training),
  reported with `arcbench report --html`;
starts a real `arcbench serve-ui` over them and measures, one request at a time over a kept-alive
connection, the trace list of a task (goal: p95 under 20 ms), the run page and a task of the
10,000-record run (goal: p95 under 20 ms), and the attempts panel of a task every one of the 50
runs attempted (goal: p95 under 50 ms), after the first look has indexed the runs (timed too).
Then the size of the HTML report (goal: under 3 MB).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from rundata import legacy_store, traces_run
from timing import cpu_seconds, latencies, percentile
from webapp import ServeProcess

TRACE_GOAL_MS = 20.0
RUN_GOAL_MS = 20.0
ATTEMPTS_GOAL_MS = 50.0
REPORT_GOAL_BYTES = 3_000_000


def arcbench(*args: str, cwd: Path) -> None:
    command = [sys.executable, "-m", "arcbench", *args]
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)


def build(root: Path, console: Console, *, report: bool) -> Path | None:
    """The store, the runs and (with `report`) the baseline report; returns the report's path."""
    started = time.perf_counter()
    store = root / "traces_store.json"
    store.write_bytes(orjson.dumps(legacy_store(1000, 100, text_bytes=400)))
    arcbench("merge", str(store), "--store", str(root / "data" / "arcbench.db"), cwd=root)
    console.print(f"store of 100,000 traces: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    runs = root / "runs"
    traces_run(runs / "big-10000", "run-big", tasks=5000, attempts=2, text_bytes=2000)
    for n in range(50):
        traces_run(runs / f"run-{n:02d}", f"run-{n:02d}", tasks=400, attempts=2, text_bytes=2000)
    console.print(f"51 runs, 50,000 records: {time.perf_counter() - started:.1f} s")
    if not report:
        return None
    started = time.perf_counter()
    baseline = root / "baseline"
    arcbench(
        "codegen", "--model", "baseline", "--dataset", "arc-agi-1/training",
        "--out", str(baseline), "--run-name", "baseline-400", cwd=root,
    )  # fmt: skip
    html = root / "report.html"
    arcbench("report", str(baseline / "baseline-400"), "--html", str(html), cwd=root)
    console.print(f"baseline run and its HTML report: {time.perf_counter() - started:.1f} s")
    return html


Row = tuple[str, list[float], float, float | None]
"""What was timed, the latencies (ms), the server's CPU per request (ms), the p95 goal."""


def measure(url: str, pid: int, count: int) -> tuple[list[Row], float]:
    """Time each request; the server's CPU time per request is measured beside the latency,
    since on a busy machine latency is mostly waiting for a core."""

    def timed(request: Callable[[], httpx.Response], n: int) -> tuple[list[float], float]:
        before = cpu_seconds(pid)
        values = latencies(request, n, warmup=0)
        return values, (cpu_seconds(pid) - before) * 1000 / n

    with httpx.Client(base_url=url, headers={"origin": url}, timeout=600) as http:
        started = time.perf_counter()
        http.get("/api/runs").raise_for_status()  # waits for the index of every run
        indexing = time.perf_counter() - started
        http.post("/api/session", json={"name": "bench"}).raise_for_status()
        requests: list[tuple[str, Callable[[], httpx.Response], int, float | None]] = [
            (
                "trace list of a task (100 traces)",
                lambda: http.get("/api/traces/task0500"),
                count,
                TRACE_GOAL_MS,
            ),
            (
                "vote on a trace",
                lambda: http.post("/api/traces/task0500_alice_0000c364/vote", json={"vote": 1}),
                count // 3,
                None,
            ),
            (
                "run page, 10,000 records (5,000 tasks)",
                lambda: http.get("/api/runs/big-10000"),
                count,
                RUN_GOAL_MS,
            ),
            (
                "a task of that run, in full",
                lambda: http.get("/api/runs/big-10000/tasks/task2500"),
                count,
                RUN_GOAL_MS,
            ),
            (
                "attempts panel: 50 runs x 400 tasks",
                lambda: http.get("/api/attempts/task0123"),
                count,
                ATTEMPTS_GOAL_MS,
            ),
            ("runs list (51 runs)", lambda: http.get("/api/runs"), count // 3, None),
        ]
        rows: list[Row] = []
        for name, request, n, goal in requests:
            for _ in range(10):
                request().raise_for_status()
            values, cpu = timed(request, n)
            rows.append((name, values, cpu, goal))
    return rows, indexing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per row")
    parser.add_argument(
        "--no-report", action="store_true", help="skip the baseline run and its HTML report"
    )
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        report = build(root, console, report=not args.no_report)
        with ServeProcess(
            "--dataset", "arc-agi-1/training", "--data-dir", str(root / "data"),
            "--runs", str(root / "runs"), cwd=root,
        ) as app:  # fmt: skip
            rows, indexing = measure(app.url, app.process.pid, args.requests)
        size = report.stat().st_size if report else None

    table = Table(title="reviewing runs and traces (arcbench serve-ui)", title_justify="left")
    for column in ("what", "n", "median ms", "p95 ms", "server CPU ms", "goal", ""):
        table.add_column(column, justify="left" if column == "what" else "right")
    for name, values, cpu, goal in rows:
        p95 = percentile(values, 0.95)
        table.add_row(
            f"API: {name}",
            str(len(values)),
            f"{statistics.median(values):.1f}",
            f"{p95:.1f}",
            f"{cpu:.1f}",
            "" if goal is None else f"p95 < {goal:g}",
            "" if goal is None else ("ok" if p95 < goal else "SLOW"),
        )
    table.add_row("first look: index 51 runs (50,000 records)", "1", f"{indexing * 1000:.0f}")
    table.caption = "server CPU: the server process's CPU time per request (user + system)"
    if size is not None:
        table.add_row(
            "HTML report of the 400-task baseline run",
            "",
            f"{size / 1e6:.2f} MB",
            "",
            "",
            f"< {REPORT_GOAL_BYTES / 1e6:g} MB",
            "ok" if size < REPORT_GOAL_BYTES else "TOO BIG",
        )
    console.print(table)


if __name__ == "__main__":
    main()
