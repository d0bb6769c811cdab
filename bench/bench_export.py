"""`arcbench export` of 100,000 records with `--augment d8`: does it check augmented programs at the
sandbox's full rate?

    python bench/bench_export.py [--records 100000] [--verified 2000] [--reference 3000]

It writes a codegen run directory of `--records` records over the 400 ARC-AGI-1 training tasks,
with real prompts, task by task as a run writes them: `--verified` distinct programs that solve
their task, the rest wrong programs and exact duplicates of verified ones (what a run with many
attempts holds). The programs are
those of `bench/bench_sandbox.py` (identity, a numpy rotation, a row mirror, a colour inversion),
each paired with the ARC-AGI-1 inputs that benchmark uses and outputs made to match, so every
augmented copy is right and the checks do the same work as that benchmark's.

Measured in one session, on the same sandbox settings (the last lines, CPU per program, are what
a machine busy with other work changes least):
- the sandbox's own rate, `bench_sandbox.py`'s throughput run (`--reference` checks);
- the export (the library call the CLI makes): programs checked per second (the augmented copies
  and the verified programs they are made from, checked again on their own tasks) while checking
  (from the first check to the last), and over the whole export.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

from arcbench.datasets import Dataset, load_dataset
from arcbench.export import ExportRequest, ExportSummary, export_training_data, parse_augment
from arcbench.jobs.codegen import CodegenJob
from arcbench.manifest import DatasetInfo, ModelInfo, RunManifest
from arcbench.prompts import codegen_prompt, prompt_version
from arcbench.records import ChatMessage, CodegenRecord, ProgramResult, dump_record
from arcbench.sandbox import Sandbox
from arcbench.tasks import Pair, Task, TestPair

sys.path.insert(0, str(Path(__file__).parent))
from bench_sandbox import PROGRAMS, cpu_seconds, task_inputs, throughput

Grid = list[list[int]]

RULES = [
    lambda grid: [list(row) for row in grid],
    lambda grid: np.rot90(np.array(grid)).tolist(),
    lambda grid: [row[::-1] for row in grid],
    lambda grid: np.where(np.array(grid) == 0, 0, 9 - np.array(grid)).tolist(),
]
"""What each of `PROGRAMS` computes (trusted code, run here to make the tasks' outputs)."""


def matched_tasks() -> list[tuple[Task, int]]:
    """ARC-AGI-1 training's inputs, each task paired with a program as `bench_sandbox.py` pairs
    them, its outputs made by that program: the program solves its task."""
    tasks = []
    for index, task in enumerate(load_dataset("arc-agi-1/training").tasks):
        number = index % len(PROGRAMS)
        rule = RULES[number]
        tasks.append(
            (
                Task(
                    id=f"{task.id}-p{number}",
                    train=[Pair(input=p.input, output=rule(p.input)) for p in task.train],
                    test=[TestPair(input=t.input, output=rule(t.input)) for t in task.test],
                ),
                number,
            )
        )
    return tasks


def write_run(directory: Path, records: int, verified: int) -> tuple[Path, int]:
    """A dataset file and a codegen run directory over it; the number of verified records."""
    pairs = matched_tasks()
    tasks = [task for task, _ in pairs]
    dataset_path = directory / "tasks.json"
    dataset_path.write_bytes(
        orjson.dumps({task.id: task.content() for task in tasks}, option=orjson.OPT_INDENT_2)
    )
    dataset = Dataset(str(dataset_path), load_dataset(str(dataset_path)).tasks)
    run = directory / "run"
    run.mkdir()
    manifest = RunManifest(
        run_id="bench",
        command="codegen",
        model=ModelInfo(name="bench", provider="local", source="bench"),
        dataset=DatasetInfo.of(dataset, dataset.tasks),
        prompt_version=prompt_version(*CodegenJob.PROMPTS),
        status="completed",
        arcbench_version="bench",
        started_at="2026-01-01T00:00:00+00:00",
    )
    (run / "run.json").write_bytes(manifest.to_json())
    prompts = {task.id: codegen_prompt(task) for task in tasks}
    right = [ProgramResult(status="correct")]
    wrong = [ProgramResult(status="wrong", output=[[0]])]
    written_verified = 0
    per_task = -(-records // len(pairs))
    distinct = -(-verified // len(pairs))
    with (run / "results.jsonl").open("wb") as out:
        for number in range(records):
            # Records come task by task, as a run writes them. Of a task's, the first
            # `distinct` are distinct right programs; of the rest, every seventh repeats one of
            # them exactly, and the others are wrong programs.
            task, program = pairs[number // per_task]
            k = number % per_task
            is_verified = k < distinct or k % 7 == 0
            if is_verified:
                code = f"# program {k % distinct}\n{PROGRAMS[program]}"
            else:
                code = f"# program {k}, wrong\n{PROGRAMS[(program + 1) % len(PROGRAMS)]}"
            written_verified += is_verified
            results = right if is_verified else wrong
            record = CodegenRecord(
                record_id=f"r{number}",
                run_id="bench",
                task_id=task.id,
                attempt=k + 1,
                messages=[ChatMessage(role="user", content=prompts[task.id])],
                response=f"A whole-grid rule.\n```python\n{code}```",
                reasoning="The rule is a whole-grid rule.",
                code=code,
                train_results=results * len(task.train),
                predictions=[t.output for t in task.test],
                correct=[is_verified] * len(task.test),
                finished_at="2026-01-01T00:00:00+00:00",
            )
            out.write(dump_record(record) + b"\n")
    return run, written_verified


async def export(run: Path, out: Path) -> tuple[ExportSummary, float, float, float]:
    """The export, timed: whole, and from its first check to its last."""
    first: float | None = None
    last = 0.0

    def progress(summary: ExportSummary) -> None:
        nonlocal first, last
        if summary.checked:
            now = time.perf_counter()
            first = first or now
            last = now

    request = ExportRequest(out=out, runs=[run], augment=parse_augment("d8"))
    async with Sandbox("full") as sandbox:
        began = time.perf_counter()
        summary = await export_training_data(request, sandbox=sandbox, progress=progress)
        ended = time.perf_counter()
    return summary, ended - began, (first or began), last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--verified", type=int, default=2000)
    parser.add_argument("--reference", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-export-") as temporary:
        directory = Path(temporary)
        began = time.perf_counter()
        run, verified = write_run(directory, args.records, args.verified)
        size = (run / "results.jsonl").stat().st_size
        print(
            f"wrote {args.records:,} records ({size / 1e6:.0f} MB, {verified:,} verified, "
            f"{args.verified:,} distinct) in {time.perf_counter() - began:.1f} s; "
            f"{os.cpu_count()} cores"
        )
        reference, bad, cpu_alone = asyncio.run(throughput(args.reference, task_inputs()))
        cpu_before = cpu_seconds()
        summary, wall, first, last = asyncio.run(export(run, directory / "out.jsonl"))
        cpu_export = cpu_seconds() - cpu_before
        reference_after, _, cpu_after = asyncio.run(throughput(args.reference, task_inputs()))
    [counts] = summary.sources
    checked = summary.checked  # the copies and the programs they were made from
    window = max(last - first, 1e-9)
    during = checked / window
    rate = (reference + reference_after) / 2
    print(f"{'measure':<52}{'value':>14}")
    print(f"{'sandbox alone, bench_sandbox.py (programs/s)':<52}{rate:>14.0f}")
    print(f"{'  before / after the export':<52}{reference:>7.0f} /{reference_after:>5.0f}")
    print(f"{'export: records read':<52}{counts.records:>14,}")
    print(f"{'export: rows written (originals + copies)':<52}{summary.rows:>14,}")
    print(f"{'export: programs checked (copies and originals)':<52}{checked:>14,}")
    print(f"{'export: copies that failed their check':<52}{counts.failed_checks:>14,}")
    print(f"{'export: duplicates dropped':<52}{counts.duplicates:>14,}")
    print(f"{'export: wall time (s)':<52}{wall:>14.1f}")
    print(f"{'export: programs checked per second, while checking':<52}{during:>14.0f}")
    print(f"{'  ... as a fraction of the sandbox alone':<52}{during / rate:>14.2f}")
    low, high = sorted((reference, reference_after))
    label = "  ... of the slower / the faster reference"
    print(f"{label:<52}{during / low:>7.2f} /{during / high:>5.2f}")
    print(f"{'load average (1 min) at the end':<52}{os.getloadavg()[0]:>14.1f}")
    print(f"{'export: programs checked per second, whole export':<52}{checked / wall:>14.0f}")
    # CPU per program is what a busy machine changes least: the export (its reading of the
    # records included) against the sandbox alone; at the same CPU per program, both run at
    # the rate of the cores.
    per_program = cpu_export / max(checked, 1) * 1000
    alone = (cpu_alone + cpu_after) / 2 * 1000
    label = "CPU per program (ms): sandbox alone / export"
    print(f"{label:<52}{alone:>7.2f} /{per_program:>5.2f}")
    label = "  ... export rate / sandbox rate, cores fully used"
    print(f"{label:<52}{alone / per_program:>14.2f}")
    if bad:
        print(f"warning: {bad} reference outcomes were not ok", file=sys.stderr)


if __name__ == "__main__":
    main()
