"""The runner under load: the real `arcbench traces` CLI against the fake server in its own process.

Four measurements, each printed as a row:
1. scheduling efficiency: 1,000 attempts, 0.5 s server latency, --max-concurrent 64, wall time
   against the ideal ceil(1000/64) x 0.5 s (goal: within 1.05x);
2. overhead: CPU time of the arcbench process per finished attempt (client, parsing, scoring,
   record writing) next to a bare httpx loop sending the same requests, both measured as the
   difference between a large and a small run so start-up cancels out (goal: at most bare + 1 ms);
3. rate limits: a server that allows R requests/s and answers 429 (Retry-After: 1) beyond;
   zero failed attempts and at least 0.8 R achieved;
4. memory: peak RSS at 100,000 attempts within 1.2x of that at 1,000 (the work is planned
   lazily and the running totals keep no records, so a run's length costs no memory), and what
   resuming that run costs (it reads every record back to know what is done).

    python bench/bench_runner.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakeserver import spawn  # noqa: E402

FAST = {
    "ARCBENCH_RETRY_WAIT_INITIAL": "0.05",
    "ARCBENCH_RETRY_WAIT_JITTER": "0.05",
    "ARCBENCH_RETRY_WAIT_MAX": "1",
}


def _child_usage() -> tuple[float, int]:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def _run_child(args: list[str], workdir: Path) -> tuple[float, float]:
    """Run a child to completion; its wall time and CPU seconds (measured via RUSAGE_CHILDREN)."""
    cpu_before, _ = _child_usage()
    start = time.perf_counter()
    result = subprocess.run(
        args, cwd=workdir, capture_output=True, text=True, env={**os.environ, **FAST}, check=False
    )
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stderr[-2000:]}")
    cpu_after, _ = _child_usage()
    return wall, cpu_after - cpu_before


def _peak_rss_mib(args: list[str], workdir: Path) -> float:
    """Peak RSS of one child, read from /usr/bin/time-free wait4 accounting."""
    process = subprocess.Popen(
        args,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **FAST},
    )
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"{' '.join(args)} failed")
    return usage.ru_maxrss / 1024


def _traces(url: str, run_name: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "arcbench",
        "traces",
        "--model",
        "LOCAL_0",
        "--base-url",
        url,
        "--run-name",
        run_name,
        *extra,
    ]


BARE = """
import asyncio, sys, orjson, httpx
url, path, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3])
bodies = [orjson.dumps({"model": "fake-model", "messages": r["messages"]})
          for r in map(orjson.loads, open(path, "rb"))]
async def main():
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=600) as client:
        queue = iter(bodies)
        async def worker():
            for body in queue:
                r = await client.post(url + "/chat/completions", content=body,
                                      headers={"content-type": "application/json"})
                r.raise_for_status()
                orjson.loads(r.content)
        await asyncio.gather(*(worker() for _ in range(concurrency)))
asyncio.run(main())
"""


def scheduling(workdir: Path, attempts: int) -> tuple[str, str, str]:
    with spawn("--latency", "0.5") as server:
        dataset = _inputs_dataset(workdir, attempts)
        wall, _ = _run_child(
            _traces(server.url, "sched", "-d", str(dataset), "--attempts", "1", "-j", "64"),
            workdir,
        )
    manifest = orjson.loads((workdir / "runs" / "sched" / "run.json").read_bytes())
    running = manifest["session_seconds"]
    ideal = math.ceil(attempts / 64) * 0.5
    return (
        f"scheduling: {attempts} attempts, 0.5 s latency, -j 64",
        f"{running:.2f} s run, {wall:.2f} s process; ideal {ideal:.2f} s",
        f"{running / ideal:.3f}x run, {wall / ideal:.3f}x process (goal <= 1.05x)",
    )


def _inputs_dataset(workdir: Path, count: int) -> Path:
    """A dataset with exactly `count` single-test tasks (real ARC tasks, cycled with new ids)."""
    from arcbench.datasets import load_dataset

    source = load_dataset("arc-agi-1/training").tasks
    tasks = {}
    for index in range(count):
        task = source[index % len(source)]
        tasks[f"t{index:05d}"] = {
            "train": [{"input": p.input, "output": p.output} for p in task.train],
            "test": [{"input": task.test[0].input, "output": task.test[0].output}],
        }
    path = workdir / f"dataset-{count}.json"
    path.write_bytes(orjson.dumps(tasks))
    return path


def overhead(workdir: Path, small: int, large: int) -> tuple[str, str, str]:
    ours: dict[int, float] = {}
    bare: dict[int, float] = {}
    with spawn() as server:
        for count in (small, large):
            dataset = _inputs_dataset(workdir, count)
            _, ours[count] = _run_child(
                _traces(
                    server.url, f"cpu{count}", "-d", str(dataset), "--attempts", "1", "-j", "16"
                ),
                workdir,
            )
            script = workdir / "bare.py"
            script.write_text(BARE)
            results = workdir / "runs" / f"cpu{count}" / "results.jsonl"
            _, bare[count] = _run_child(
                [sys.executable, str(script), server.url, str(results), "16"], workdir
            )
    per_ours = (ours[large] - ours[small]) / (large - small) * 1000
    per_bare = (bare[large] - bare[small]) / (large - small) * 1000
    return (
        "overhead: CPU ms per attempt, arcbench vs bare httpx loop",
        f"{per_ours:.2f} ms vs {per_bare:.2f} ms",
        f"+{per_ours - per_bare:.2f} ms (goal <= +1 ms)",
    )


def rate_limited(workdir: Path, rps: float, attempts: int) -> tuple[str, str, str]:
    with spawn("--max-rps", str(rps), "--retry-after", "1") as server:
        dataset = _inputs_dataset(workdir, attempts)
        wall, _ = _run_child(
            _traces(
                server.url,
                "rl",
                "-d",
                str(dataset),
                "--attempts",
                "1",
                "-j",
                "16",
                "--retries",
                "20",
            ),
            workdir,
        )
    manifest = orjson.loads((workdir / "runs" / "rl" / "run.json").read_bytes())
    errors = manifest["counts"]["errors"]
    achieved = attempts / wall
    return (
        f"rate limit: server allows R={rps:g}/s, 429 beyond",
        f"{achieved:.1f}/s, {errors} failed attempts",
        f"{achieved / rps:.2f} R (goal >= 0.8 R, 0 failed)",
    )


def memory(workdir: Path, tasks: int, small: int, large: int) -> list[tuple[str, str, str]]:
    """Peak RSS of runs over the same dataset with `small` and `large` attempts per input, so
    only the run's length changes, not the size of the data it loads; then of resuming the
    large run, which reads back (and validates) every record to know what is done."""
    peaks = {}
    with spawn() as server:
        dataset = _inputs_dataset(workdir, tasks)
        for attempts in (small, large):
            args = ["-d", str(dataset), "--attempts", str(attempts), "-j", "64"]
            peaks[attempts] = _peak_rss_mib(_traces(server.url, f"mem{attempts}", *args), workdir)
        started = time.perf_counter()
        resumed = _peak_rss_mib(_traces(server.url, f"mem{large}", *args), workdir)
        resume_s = time.perf_counter() - started
    return [
        (
            f"memory: peak RSS at {tasks * small:,} vs {tasks * large:,} attempts",
            f"{peaks[small]:.0f} MiB vs {peaks[large]:.0f} MiB",
            f"{peaks[large] / peaks[small]:.2f}x (goal <= 1.2x)",
        ),
        (
            f"resume of the {tasks * large:,}-attempt run (nothing left to do)",
            f"{resumed:.0f} MiB, {resume_s:.1f} s",
            f"{resumed / peaks[small]:.2f}x the 1,000-attempt run (what it costs)",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="arcbench-bench-"))
    try:
        rows = [
            scheduling(workdir, 200 if args.quick else 1000),
            overhead(workdir, 100, 400 if args.quick else 1100),
            rate_limited(workdir, 20 if args.quick else 50, 100 if args.quick else 500),
            *memory(workdir, 100 if args.quick else 1000, 1, 10 if args.quick else 100),
        ]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    width = max(len(r[0]) for r in rows)
    print(f"{'measurement':{width}}  {'measured':32}  result")
    for name, measured, result in rows:
        print(f"{name:{width}}  {measured:32}  {result}")


if __name__ == "__main__":
    main()
