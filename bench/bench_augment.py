"""Test-time augmentation: what mapping and voting cost per task, and what an augmented run's wall
time is next to the unaugmented run's times the number of views.

1. mapping and voting, in-process (CPU time, the least of several runs), on ARC-AGI-1 evaluation
   (400 tasks) with `--augment d8` and two attempts: every answer mapped back through its view
   (what a traces run does per record), a program wrapped for its view (the source the sandbox
   runs; running it is a program check like any other), and the run scored by voting, next to
   scoring an unaugmented run of the same tasks. Goal: under 1 ms added per task.
2. wall time: the real `arcbench traces` CLI against the fake server in its own process (latency
   0.5 s, `--max-concurrent 8`), the same tasks without and with `--augment d8 --views 4`,
   alternated in the same invocation. The run's own time (`session_seconds` in run.json) and the
   whole process's. Goal: augmented within 5% of unaugmented x views.

    python bench/bench_augment.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakeserver import spawn  # noqa: E402

PROGRAM = "def transform(grid):\n    return [row[::-1] for row in grid]\n"


def _records(tasks: list[Any], labels: list[str] | None) -> list[Any]:
    """Two traces attempts per test input and view (None: a run without views); attempt 1
    answers right in the rotated views, and in the identity view of every other task; every
    other answer is a wrong grid of its own."""
    from arcbench.records import TracesRecord
    from arcbench.views import parse_augment

    views = parse_augment("d8").views if labels is not None else [None]
    records = []
    for number, task in enumerate(tasks):
        for position, view in enumerate(views):
            for index, test in enumerate(task.test):
                for attempt in (1, 2):
                    solved = {"rot90", "rot180", "rot270", "identity" if number % 2 else None}
                    right = attempt == 1 and (view is None or view.label in solved)
                    grid = test.output if right else [[attempt, position + 1]]
                    records.append(
                        TracesRecord(
                            record_id=f"{task.id}/{view and view.label}/{index}/{attempt}",
                            run_id="bench",
                            task_id=task.id,
                            test_index=index,
                            attempt=attempt,
                            finished_at="2026-01-01T00:00:00+00:00",
                            view=None if view is None else view.ids,
                            prediction=grid if view is None else _forward(view, grid),
                            mapped_prediction=None if view is None else grid,
                            correct=right,
                        )
                    )
    return records


def _forward(view: Any, grid: list[list[int]]) -> list[list[int]]:
    for transform in view.transforms:
        grid = transform.apply_grid(grid)
    return grid


def mapping_and_voting(repeat: int) -> list[tuple[str, str, str]]:
    from arcbench.datasets import load_dataset
    from arcbench.scoring import matches_answer, score_records
    from arcbench.views import parse_augment, view_of

    tasks = load_dataset("arc-agi-1/evaluation").tasks
    declared = {task.key: len(task.test) for task in tasks}
    answers = {(t.id, i): test.output for t in tasks for i, test in enumerate(t.test)}
    labels = parse_augment("d8").labels
    augmented = _records(tasks, labels)
    plain = _records(tasks, None)
    views = {label: view_of(label.split("+")) for label in labels}

    def best_of(work: Any) -> float:
        """The least CPU time of `repeat` runs: other processes on a shared machine stretch
        the wall time of a computation, not the CPU time it takes."""
        times = []
        for _ in range(repeat):
            start = time.process_time()
            work()
            times.append(time.process_time() - start)
        return min(times)

    def map_all() -> None:
        for record in augmented:
            mapped = views[record.view_label].map_back(record.prediction)
            matches_answer(mapped, answers[(record.task_id, record.test_index)])

    def wrap_all() -> None:
        for _ in tasks:
            for label in labels:
                views[label].wrap_program(PROGRAM)

    mapping = best_of(map_all)
    wrapping = best_of(wrap_all)
    voted_scoring = best_of(lambda: score_records(declared, augmented, labels))
    plain_scoring = best_of(lambda: score_records(declared, plain))
    voted = score_records(declared, augmented, labels)
    assert voted.views is not None
    per_task = 1000 / len(tasks)
    added = (mapping + voted_scoring - plain_scoring) * per_task
    return [
        (
            "map back: 8 views x 2 attempts per test input",
            f"{len(augmented):,} answers in {mapping * 1000:.0f} ms",
            f"{mapping * per_task:.3f} ms per task",
        ),
        (
            "score by voting (and each view alone) vs plain",
            f"{voted_scoring * 1000:.0f} ms vs {plain_scoring * 1000:.0f} ms",
            f"+{(voted_scoring - plain_scoring) * per_task:.3f} ms per task",
        ),
        (
            "mapping + voting added per task",
            f"voted {voted.score.score:.2%}, identity {voted.views.identity.score:.2%}",
            f"{added:.3f} ms (goal < 1 ms)",
        ),
        (
            "codegen: wrap a program for its view (source only)",
            f"{len(tasks) * len(labels):,} programs in {wrapping * 1000:.0f} ms",
            f"{wrapping * per_task:.3f} ms per task (8 programs)",
        ),
    ]


def _dataset(workdir: Path, count: int) -> Path:
    """`count` single-test tasks of ARC-AGI-1 evaluation (every view asks its own prompt)."""
    from arcbench.datasets import load_dataset

    tasks = {}
    for task in load_dataset("arc-agi-1/evaluation").tasks[:count]:
        tasks[task.id] = {
            "train": [{"input": p.input, "output": p.output} for p in task.train],
            "test": [{"input": task.test[0].input, "output": task.test[0].output}],
        }
    path = workdir / "tasks.json"
    path.write_bytes(orjson.dumps(tasks))
    return path


def _run(url: str, workdir: Path, name: str, dataset: Path, *extra: str) -> tuple[float, float]:
    """One run to completion: its own time (session_seconds) and the process's wall time."""
    command = [sys.executable, "-m", "arcbench", "traces", "--model", "LOCAL_0"]
    command += ["--base-url", url, "-d", str(dataset), "-j", "8", "--run-name", name, *extra]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    manifest = orjson.loads((workdir / "runs" / name / "run.json").read_bytes())
    return float(manifest["session_seconds"]), wall


def wall_time(tasks: int, views: int, rounds: int) -> list[tuple[str, str, str]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp, spawn("--latency", "0.5") as server:
        workdir = Path(tmp)
        dataset = _dataset(workdir, tasks)
        for round_ in range(1, rounds + 1):
            plain, plain_wall = _run(server.url, workdir, f"plain{round_}", dataset)
            augmented, augmented_wall = _run(
                server.url,
                workdir,
                f"aug{round_}",
                dataset,
                "--augment",
                "d8",
                "--views",
                str(views),
            )
            rows.append(
                (
                    f"wall time, {tasks} tasks x 2 attempts, -j 8, 0.5 s latency (round {round_})",
                    f"run {plain:.2f} s -> {augmented:.2f} s with {views} views "
                    f"(process {plain_wall:.2f} -> {augmented_wall:.2f} s)",
                    f"{augmented / (plain * views):.3f}x of {views} x unaugmented "
                    f"(process {augmented_wall / (plain_wall * views):.3f}x; goal within 5%)",
                )
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer tasks and repeats")
    options = parser.parse_args()
    os.environ.setdefault("ARCBENCH_RETRY_WAIT_INITIAL", "0.05")
    rows = mapping_and_voting(repeat=2 if options.quick else 5)
    rows += wall_time(tasks=16 if options.quick else 40, views=4, rounds=1 if options.quick else 2)
    width = max(len(row[0]) for row in rows)
    print(f"{'what':{width}}  measured  ->  result")
    for what, measured, result in rows:
        print(f"{what:{width}}  {measured}  ->  {result}")


if __name__ == "__main__":
    main()
