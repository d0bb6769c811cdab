"""Sandbox throughput and latency on real ARC tasks, against a fresh interpreter per check.

    python bench/bench_sandbox.py [--checks 3000] [--baseline 24] [--latency 200]

Each check runs one program on every train and test input of an ARC-AGI-1 training task, with
full isolation. The baseline does what a sandbox without a warm parent would do: start
`python -c 'import numpy; ...'` per check, with as many running at once as there are cores.
Added latency is the round trip of one check on an idle pool minus the program's own run time.
CPU per check is the CPU time of arcbench and of every sandbox process (workers started and
stopped included) over the throughput run, divided by its checks: unlike the rates, it hardly
moves when other jobs share the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from arcbench.datasets import load_dataset
from arcbench.sandbox import Sandbox

PROGRAMS = [
    "def transform(grid):\n    return grid\n",
    "import numpy as np\n\ndef transform(grid):\n    return np.rot90(np.array(grid))\n",
    "def transform(grid):\n    return [row[::-1] for row in grid]\n",
    "import numpy as np\n\ndef transform(grid):\n    a = np.array(grid)\n"
    "    return np.where(a == 0, 0, 9 - a)\n",
]

BASELINE_SCRIPT = """
import json, sys
import numpy
request = json.load(sys.stdin)
namespace = {}
exec(request["code"], namespace)
print(json.dumps([numpy.asarray(namespace["transform"](g)).tolist() for g in request["inputs"]]))
"""


def task_inputs() -> list[list[list[list[int]]]]:
    tasks = load_dataset("arc-agi-1/training").tasks
    return [[p.input for p in task.train] + [t.input for t in task.test] for task in tasks]


def cpu_seconds() -> float:
    """CPU time of this process and of its children that have been waited for."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


async def throughput(checks: int, inputs: list[list[list[list[int]]]]) -> tuple[float, int, float]:
    cpu_before = cpu_seconds()
    async with Sandbox("full") as sandbox:
        warm = [sandbox.check(PROGRAMS[0], inputs[0]) for _ in range(20)]
        await asyncio.gather(*warm)
        began = time.perf_counter()
        results = await asyncio.gather(
            *(
                sandbox.check(PROGRAMS[i % len(PROGRAMS)], inputs[i % len(inputs)])
                for i in range(checks)
            )
        )
        elapsed = time.perf_counter() - began
    cpu = (cpu_seconds() - cpu_before) / (checks + 20)
    bad = sum(1 for outcomes in results for outcome in outcomes if not outcome.ok)
    return checks / elapsed, bad, cpu


async def latency(samples: int, inputs: list[list[list[list[int]]]]) -> float:
    added: list[float] = []
    async with Sandbox("full") as sandbox:
        for i in range(samples):
            grids = inputs[i % len(inputs)]
            began = time.perf_counter()
            outcomes = await sandbox.check(PROGRAMS[0], grids)
            total = time.perf_counter() - began
            added.append(total - sum(outcome.seconds for outcome in outcomes))
    return statistics.median(added)


def baseline(checks: int, inputs: list[list[list[list[int]]]]) -> float:
    def one(i: int) -> None:
        request = json.dumps({"code": PROGRAMS[i % len(PROGRAMS)], "inputs": inputs[i]})
        subprocess.run(
            [sys.executable, "-I", "-c", BASELINE_SCRIPT],
            input=request,
            capture_output=True,
            text=True,
            check=True,
        )

    began = time.perf_counter()
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(one, range(checks)))
    return checks / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=3000)
    parser.add_argument("--baseline", type=int, default=24)
    parser.add_argument("--latency", type=int, default=200)
    args = parser.parse_args()
    inputs = task_inputs()
    per_check = statistics.mean(len(grids) for grids in inputs)
    fresh = baseline(args.baseline, inputs)
    rate, bad, cpu = asyncio.run(throughput(args.checks, inputs))
    median = asyncio.run(latency(args.latency, inputs))
    print(f"ARC-AGI-1 training: {len(inputs)} tasks, {per_check:.1f} inputs per check, ", end="")
    print(f"{os.cpu_count()} cores")
    print(f"{'measure':<44}{'value':>14}")
    print(f"{'sandbox, full isolation (programs/s)':<44}{rate:>14.0f}")
    print(f"{'fresh python + numpy per check (programs/s)':<44}{fresh:>14.1f}")
    print(f"{'speed-up':<44}{rate / fresh:>13.0f}x")
    print(f"{'median added latency per check (ms)':<44}{median * 1000:>14.2f}")
    print(f"{'CPU per check, arcbench + sandbox (ms)':<44}{cpu * 1000:>14.2f}")
    if bad:
        print(f"warning: {bad} outcomes were not ok", file=sys.stderr)


if __name__ == "__main__":
    main()
