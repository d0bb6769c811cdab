"""The README's set-up command, timed: `arcbench codegen --model baseline --dataset
arc-agi-1/training` (400 tasks, ~8,200 programs checked in the sandbox).

On a machine shared with other work its wall time says more about the others than about
arcbench, so each run is measured beside a fixed reference in the same run: a single-threaded
Python loop of 20 million additions, just before it. The table gives the set-up's wall time,
the CPU time it and its sandbox workers used, the load average when it started, and its wall
time as a multiple of the reference's (a figure that moves far less with the load).

    python bench/bench_setup.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

SETUP = ["codegen", "--model", "baseline", "--dataset", "arc-agi-1/training"]
REFERENCE = "total = 0\nfor i in range(20_000_000):\n    total += i\n"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (the process and everything it started) of one command."""
    cpu, start = _children_cpu(), time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    return time.perf_counter() - start, _children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{'run':>3} {'load':>5} {'setup wall s':>12} {'setup CPU s':>11} {'ref s':>6} {'ratio':>6}"
    )
    ratios, walls, cpus = [], [], []
    for run in range(1, args.repeat + 1):
        load = os.getloadavg()[0]
        reference, _ = _timed([sys.executable, "-c", REFERENCE])
        with tempfile.TemporaryDirectory() as out:
            wall, cpu = _timed([sys.executable, "-m", "arcbench", *SETUP, "--out", out])
        ratios.append(wall / reference)
        walls.append(wall)
        cpus.append(cpu)
        ratio = wall / reference
        print(f"{run:3d} {load:5.1f} {wall:12.1f} {cpu:11.1f} {reference:6.2f} {ratio:6.1f}")
    print(
        f"median: setup {statistics.median(walls):.1f} s wall, "
        f"{statistics.median(cpus):.1f} s CPU; {statistics.median(ratios):.1f}x the reference "
        f"loop ({os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
