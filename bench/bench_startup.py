"""Start-up time of `arcbench --version` next to `python -c pass`, measured in the same run.

Both run the same interpreter in a fresh process; the console script is reached through
`python -m arcbench`, which is what the installed `arcbench` script executes. Goal: under 0.3 s.

    python bench/bench_startup.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def _wall(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "arcbench --version": [sys.executable, "-m", "arcbench", "--version"],
        "arcbench --help": [sys.executable, "-m", "arcbench", "--help"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.repeat):
        for name, command in commands.items():
            times[name].append(_wall(command))
    print(f"{'command':24} {'median s':>9} {'min s':>8}")
    for name, values in times.items():
        print(f"{name:24} {statistics.median(values):9.3f} {min(values):8.3f}")


if __name__ == "__main__":
    main()
