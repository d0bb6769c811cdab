"""How much of each bundled ARC set the `baseline` model's catalog can solve.

For every task, generates the baseline's candidates and runs each on every train and test input
in plain subprocesses (batched, one per core; these are arcbench's own programs, so no sandbox is
needed to measure them). Prints per set:

- `candidates`: mean and largest number of candidates per task, and the time to generate them;
- `covered`: tasks where one candidate solves every train pair and every test output;
- `overfit`: tasks where some candidate solves every train pair but none also solves the tests;
- `score`: what `codegen --model baseline` should score under ARC Prize rules, submitting the
  two candidates with the most train pairs right (ties by order), per-task average.

    python bench/baseline_coverage.py [--sets arc-agi-1/training,...] [--workers N] [--ids]

It takes a few minutes for all four sets on two cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from arcbench.baseline import generate_candidates
from arcbench.datasets import load_dataset
from arcbench.tasks import Task

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from programrun import Batch, run_batches

SETS = ("arc-agi-1/training", "arc-agi-1/evaluation", "arc-agi-2/training", "arc-agi-2/evaluation")


def _batch(task: Task, programs: list[str]) -> Batch:
    """Every program on every train and test input, checked against the known outputs."""
    return Batch(
        programs=programs,
        inputs=[pair.input for pair in task.train] + [pair.input for pair in task.test],
        expected=[pair.output for pair in task.train]
        + [pair.output for pair in task.test if pair.output is not None],
    )


def _score(n_train: int, correct: list[list[object]]) -> float:
    """The task's ARC Prize score when the two candidates best on train are submitted."""
    if not correct:
        return 0.0
    ranked = sorted(
        range(len(correct)), key=lambda p: -sum(c is True for c in correct[p][:n_train])
    )
    chosen = ranked[:2]
    tests = range(n_train, len(correct[0]))
    solved = sum(any(correct[p][t] is True for p in chosen) for t in tests)
    return solved / len(tests) if tests else 0.0


@dataclass
class Coverage:
    spec: str
    tasks: int
    counts: list[int]
    generate_s: float
    run_s: float
    covered: list[str]
    overfit: int
    score: float


def measure(spec: str, workers: int) -> Coverage:
    tasks = [task for task in load_dataset(spec).tasks if task.has_answers]
    started = time.perf_counter()
    candidates = [generate_candidates(task) for task in tasks]
    generate_s = time.perf_counter() - started
    batches = [
        _batch(task, [c.code for c in found]) for task, found in zip(tasks, candidates, strict=True)
    ]
    started = time.perf_counter()
    results = run_batches(batches, workers=workers, per_process=25)
    run_s = time.perf_counter() - started
    covered: list[str] = []
    overfit = 0
    score = 0.0
    for task, found, correct in zip(tasks, candidates, results, strict=True):
        n_train = len(task.train)
        fits = [all(c is True for c in row[:n_train]) for row in correct]
        solves = [all(c is True for c in row) for row in correct]
        if any(solves):
            covered.append(task.id + " " + found[solves.index(True)].name)
        elif any(fits):
            overfit += 1
        score += _score(n_train, correct)
    counts = [len(found) for found in candidates]
    return Coverage(
        spec, len(tasks), counts, generate_s, run_s, covered, overfit, score / len(tasks)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--ids", action="store_true", help="list covered tasks and a solver")
    args = parser.parse_args()
    rows = [measure(spec, args.workers) for spec in args.sets.split(",")]
    header = (
        f"{'set':22} {'tasks':>5} {'cand. mean':>10} {'max':>4} {'gen s':>6} {'run s':>6} "
        f"{'covered':>8} {'%':>5} {'overfit':>7} {'score':>6}"
    )
    print(header)
    for row in rows:
        print(
            f"{row.spec:22} {row.tasks:5d} {sum(row.counts) / row.tasks:10.1f} "
            f"{max(row.counts):4d} {row.generate_s:6.1f} {row.run_s:6.1f} {len(row.covered):8d} "
            f"{100 * len(row.covered) / row.tasks:5.1f} {row.overfit:7d} {row.score:6.3f}"
        )
    if args.ids:
        for row in rows:
            print(f"\n{row.spec}:")
            for line in row.covered:
                print(f"  {line}")


if __name__ == "__main__":
    main()
