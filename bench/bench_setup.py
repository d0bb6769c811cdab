"""The README's set-up command, timed: `arcbench codegen --model baseline --dataset
arc-agi-1/training` (400 tasks, ~8,200 programs checked in the sandbox).

On a machine shared with other work its wall time says more about the others than about
arcbench, so each run is measured beside a fixed reference in the same run: a single-threaded
Python loop of 20 million additions, just before it. The table gives the load average when a
run started, the set-up's wall time and the CPU time it and its sandbox workers used, the
reference's wall and CPU time, and two ratios: wall to wall (what a user waits, in units of the
reference) and CPU to CPU (the work done, which moves least with the load: other jobs delay
a process more than they slow it).

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
        f"{'run':>3} {'load':>5} {'setup wall s':>12} {'setup CPU s':>11} {'ref wall s':>10} "
        f"{'ref CPU s':>9} {'wall ratio':>10} {'CPU ratio':>9}"
    )
    walls, cpus, wall_ratios, cpu_ratios = [], [], [], []
    for run in range(1, args.repeat + 1):
        load = os.getloadavg()[0]
        ref_wall, ref_cpu = _timed([sys.executable, "-c", REFERENCE])
        with tempfile.TemporaryDirectory() as out:
            wall, cpu = _timed([sys.executable, "-m", "arcbench", *SETUP, "--out", out])
        walls.append(wall)
        cpus.append(cpu)
        wall_ratios.append(wall / ref_wall)
        cpu_ratios.append(cpu / ref_cpu)
        print(
            f"{run:3d} {load:5.1f} {wall:12.1f} {cpu:11.1f} {ref_wall:10.2f} {ref_cpu:9.2f} "
            f"{wall_ratios[-1]:10.1f} {cpu_ratios[-1]:9.1f}"
        )
    print(
        f"median: setup {statistics.median(walls):.1f} s wall, {statistics.median(cpus):.1f} s "
        f"CPU; {statistics.median(wall_ratios):.1f}x the reference's wall time, "
        f"{statistics.median(cpu_ratios):.1f}x its CPU time ({os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
