"""Scoring and summarising finished (or interrupted) runs: `arcbench report`.

A report reads run directories (or bare `results.jsonl` files) as they are on disk, so it works
on a run in progress, an interrupted one, or the shards of one run reported together. The
denominator is every task the runs selected (from `run.json`), so a task that never got an
answer still counts as 0. Only the latest record of each attempt counts (a retried failure is
superseded by its retry).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arcbench.errors import ArcbenchError, ReportError, ResultsFileError
from arcbench.programs import train_accuracy
from arcbench.rundir import Billed, read_latest
from arcbench.runfiles import RESULTS_FILE, read_manifest
from arcbench.scoring import SUBMITTED_ATTEMPTS, Score, score_solved
from arcbench.tasks import Task

TaskKey = tuple[str, int | None]
OutputKey = tuple[str, int | None, int]
EMPTY_GRID = [[0]]
"""What the Kaggle format expects where an attempt produced no grid."""


@dataclass
class RunData:
    """One run as read from disk: its manifest (may be empty) and latest record per attempt."""

    path: Path
    manifest: dict[str, Any]
    records: dict[str, dict[str, Any]]
    billed: Billed = field(default_factory=Billed)

    @property
    def label(self) -> str:
        return str(self.manifest.get("config", {}).get("run_name") or self.path.name)


@dataclass
class Report:
    """Several runs scored together."""

    runs: list[RunData]
    test_inputs: dict[TaskKey, int]
    attempts: dict[OutputKey, dict[int, dict[str, Any]]] = field(default_factory=dict)
    """Per test output, its attempts by number (the latest record of each)."""
    score: Score = field(default_factory=Score)
    oracle: Score = field(default_factory=Score)
    overfit_programs: int = 0
    """Codegen: programs that pass every train pair but get a test output wrong."""

    def totals(self) -> dict[str, Any]:
        records = [r for run in self.runs for r in run.records.values()]
        usage = {"prompt_tokens": 0, "completion_tokens": 0, "reasoning_tokens": 0}
        for run in self.runs:
            for key, value in run.billed.usage().items():
                usage[key] += value
        return {
            "records": len(records),
            "errors": sum(1 for r in records if r.get("error") is not None),
            "parse_errors": sum(
                1 for r in records if r.get("error") is None and r.get("parse_error") is not None
            ),
            "usage": usage,
            "cost_usd": round(sum(run.billed.cost_usd for run in self.runs), 6),
        }

    def as_dict(self) -> dict[str, Any]:
        totals = self.totals()
        return {
            **self.score.as_dict(),
            "pass_at_k": self.oracle.per_output,
            "overfit_programs": self.overfit_programs,
            "runs": [
                {
                    "path": str(run.path),
                    "run_id": run.manifest.get("run_id"),
                    "command": run.manifest.get("command"),
                    "status": run.manifest.get("status"),
                    "model": (run.manifest.get("model") or {}).get("name"),
                    "dataset": (run.manifest.get("dataset") or {}).get("spec"),
                }
                for run in self.runs
            ],
            "counts": {
                "tasks": len(self.score.tasks),
                "outputs": self.score.outputs,
                "outputs_solved": self.score.outputs_solved,
                "records": totals["records"],
                "errors": totals["errors"],
                "parse_errors": totals["parse_errors"],
            },
            "usage": totals["usage"],
            "cost_usd": totals["cost_usd"],
            "task_scores": [
                {
                    "task_id": key[0],
                    "version": key[1],
                    "score": task.score,
                    "solved": list(task.solved),
                }
                for key, task in zip(self.test_inputs, self.score.tasks, strict=True)
            ],
        }

    def submission(self) -> dict[str, list[dict[str, list[list[int]]]]]:
        """The Kaggle format: every selected task, one entry per test input, two attempts."""
        out: dict[str, list[dict[str, list[list[int]]]]] = {}
        for (task_id, version), count in self.test_inputs.items():
            label = task_id if version is None else f"{task_id}@{version}"
            entries = []
            for index in range(count):
                attempts = self.attempts.get((task_id, version, index), {})
                entry = {}
                for number in range(1, SUBMITTED_ATTEMPTS + 1):
                    grid = (attempts.get(number) or {}).get("prediction")
                    entry[f"attempt_{number}"] = grid if grid else EMPTY_GRID
                entries.append(entry)
            out[label] = entries
        return out


def read_run(path: Path, manifest: dict[str, Any] | None = None) -> RunData:
    """A run directory or a results.jsonl file, read from disk (`manifest` if already known)."""
    if path.is_dir():
        run_dir, results = path, path / RESULTS_FILE
    elif path.is_file():
        run_dir, results = path.parent, path
    else:
        raise ResultsFileError(f"{path}: no such run directory or results file")
    if manifest is None:
        manifest = read_manifest(run_dir) or {}
    if not results.exists():
        if not manifest:
            raise ResultsFileError(f"{path}: neither run.json nor results.jsonl found here")
        records: dict[str, dict[str, Any]] = {}
    else:
        records, billed = read_latest(results)
        return RunData(path, manifest, records, billed)
    return RunData(path, manifest, records)


def _label_key(label: str) -> TaskKey:
    task_id, sep, version = label.rpartition("@")
    if sep and version.isdigit():
        return task_id, int(version)
    return label, None


def _run_tasks(run: RunData) -> set[TaskKey]:
    declared = (run.manifest.get("dataset") or {}).get("test_inputs") or {}
    keys = {_label_key(label) for label in declared}
    keys |= {(str(r["task_id"]), r.get("version")) for r in run.records.values()}
    return keys


def distinct_runs(runs: Sequence[RunData]) -> list[RunData]:
    """The runs to score together, each once, none sharing a task with another.

    Shards of one run cover disjoint tasks and add up; two runs that answered the same task
    would silently mix their attempts, so that is refused (compare them instead).
    """
    unique: list[RunData] = []
    seen_ids: set[str] = set()
    owner: dict[TaskKey, RunData] = {}
    for run in runs:
        run_id = str(run.manifest.get("run_id") or run.path.resolve())
        if run_id in seen_ids:
            continue
        seen_ids.add(run_id)
        for key in sorted(_run_tasks(run), key=str):
            other = owner.setdefault(key, run)
            if other is not run:
                raise ReportError(
                    f"{other.path} and {run.path} both cover task {_label(key)}: report the "
                    "shards of one run together, or compare two runs with --compare"
                )
        unique.append(run)
    return unique


def build_report(runs: Sequence[RunData]) -> Report:
    """Score runs together (the shards of one run; see `distinct_runs`)."""
    runs = distinct_runs(runs)
    test_inputs: dict[TaskKey, int] = {}
    for run in runs:
        declared = (run.manifest.get("dataset") or {}).get("test_inputs") or {}
        for label, count in declared.items():
            test_inputs.setdefault(_label_key(label), int(count))
    attempts: dict[OutputKey, dict[int, dict[str, Any]]] = {}
    programs: dict[TaskKey, dict[int, dict[str, Any]]] = {}
    for run in runs:
        for record in run.records.values():
            if record.get("test_index") is None:
                _keep_final_program(programs, record)
                continue
            for key, number, outcome in _outcomes(record):
                attempts.setdefault(key, {})[number] = outcome
    oracle_extra: set[OutputKey] = set()
    overfit = 0
    for task_key, finals in programs.items():
        chosen, any_right, overfitting = _select_programs(finals)
        overfit += overfitting
        for index in range(max(len(p.get("predictions") or []) for p in finals.values())):
            key = (task_key[0], task_key[1], index)
            for number, program in enumerate(chosen, start=1):
                predictions = program.get("predictions") or []
                correct = program.get("correct") or []
                attempts.setdefault(key, {})[number] = {
                    "prediction": predictions[index] if index < len(predictions) else None,
                    "correct": correct[index] if index < len(correct) else None,
                }
            if index in any_right:
                oracle_extra.add(key)
    for key in attempts:
        test_inputs.setdefault(key[:2], 0)
        test_inputs[key[:2]] = max(test_inputs[key[:2]], key[2] + 1)
    solved = _solved(attempts, SUBMITTED_ATTEMPTS)
    oracle = _solved(attempts, None) | oracle_extra
    unanswered = [key for key, by in attempts.items() if _answer_unknown(by.values())]
    return Report(
        list(runs),
        test_inputs,
        attempts,
        score_solved(test_inputs, solved, unanswered),
        score_solved(test_inputs, oracle, unanswered),
        overfit,
    )


def _keep_final_program(
    programs: dict[TaskKey, dict[int, dict[str, Any]]], record: dict[str, Any]
) -> None:
    """An attempt's final program is its last round's (failed attempts are not programs)."""
    if record.get("error") is not None:
        return
    task_key = (str(record["task_id"]), record.get("version"))
    number = int(record.get("attempt") or 0)
    finals = programs.setdefault(task_key, {})
    current = finals.get(number)
    if current is None or int(record.get("round") or 0) >= int(current.get("round") or 0):
        finals[number] = record


def _select_programs(
    finals: dict[int, dict[str, Any]],
) -> tuple[list[dict[str, Any]], set[int], int]:
    """The two programs submitted (best train accuracy, ties by attempt order), the test inputs
    any program got right (oracle pass@k), and how many programs pass every train pair but fail
    a test output (overfitting)."""
    ordered = sorted(
        finals.items(), key=lambda item: (-train_accuracy(item[1].get("train_results")), item[0])
    )
    chosen = [program for _, program in ordered[:SUBMITTED_ATTEMPTS]]
    any_right: set[int] = set()
    overfit = 0
    for program in finals.values():
        correct = program.get("correct") or []
        any_right |= {index for index, value in enumerate(correct) if value is True}
        if train_accuracy(program.get("train_results")) == 1.0 and any(v is False for v in correct):
            overfit += 1
    return chosen, any_right, overfit


def _answer_unknown(outcomes: Iterable[dict[str, Any]]) -> bool:
    """Whether an output's answer is unknown: attempts that got an answer say `correct` null.
    Failed attempts (`error`) say nothing either way."""
    answered = [o for o in outcomes if o.get("error") is None]
    return bool(answered) and all(o.get("correct") is None for o in answered)


def _outcomes(record: dict[str, Any]) -> Iterable[tuple[OutputKey, int, dict[str, Any]]]:
    """A traces record answers one test output with one attempt."""
    if record.get("test_index") is None:
        return
    key = (str(record["task_id"]), record.get("version"), int(record["test_index"]))
    yield (
        key,
        int(record.get("attempt") or 1),
        {
            "prediction": record.get("prediction"),
            "correct": record.get("correct"),
            "error": record.get("error"),
        },
    )


def _solved(
    attempts: dict[OutputKey, dict[int, dict[str, Any]]], limit: int | None
) -> set[OutputKey]:
    return {
        key
        for key, by_number in attempts.items()
        if any(
            outcome.get("correct") is True
            for number, outcome in by_number.items()
            if limit is None or number <= limit
        )
    }


@dataclass(frozen=True)
class Comparison:
    """Two reports restricted to the tasks both cover."""

    common: list[TaskKey]
    a: Report
    b: Report
    only_a: list[TaskKey]
    only_b: list[TaskKey]

    def as_dict(self) -> dict[str, Any]:
        def side(report: Report) -> dict[str, Any]:
            totals = report.totals()
            return {
                "score": report.score.score,
                "per_output": report.score.per_output,
                "usage": totals["usage"],
                "cost_usd": totals["cost_usd"],
            }

        return {
            "common_tasks": len(self.common),
            "a": side(self.a),
            "b": side(self.b),
            "solved_only_by_a": [_label(k) for k in self.only_a],
            "solved_only_by_b": [_label(k) for k in self.only_b],
        }


def _label(key: TaskKey) -> str:
    return key[0] if key[1] is None else f"{key[0]}@{key[1]}"


def compare(a_runs: Sequence[RunData], b_runs: Sequence[RunData]) -> Comparison:
    """Score two sets of runs on the tasks they have in common, and what each alone solved."""
    full_a, full_b = build_report(a_runs), build_report(b_runs)
    common = [key for key in full_a.test_inputs if key in full_b.test_inputs]
    a = _restricted(full_a, common)
    b = _restricted(full_b, common)
    solved_a = {t.key for t in a.score.tasks if t.solved and all(t.solved)}
    solved_b = {t.key for t in b.score.tasks if t.solved and all(t.solved)}
    return Comparison(
        common,
        a,
        b,
        [k for k in common if k in solved_a and k not in solved_b],
        [k for k in common if k in solved_b and k not in solved_a],
    )


def _restricted(report: Report, keys: list[TaskKey]) -> Report:
    wanted = set(keys)
    runs = [
        RunData(
            run.path,
            {**run.manifest, "dataset": {"test_inputs": {}}},
            {
                rid: r
                for rid, r in run.records.items()
                if (r.get("task_id"), r.get("version")) in wanted
            },
        )
        for run in report.runs
    ]
    restricted = build_report(runs)
    inputs = {key: report.test_inputs[key] for key in keys}
    restricted.test_inputs = inputs
    solved = _solved(restricted.attempts, SUBMITTED_ATTEMPTS)
    restricted.score = score_solved(inputs, solved)
    return restricted


def load_run_tasks(runs: Sequence[RunData]) -> tuple[dict[TaskKey, Task], list[str]]:
    """The tasks the runs were scored on, from their datasets, for showing grids.

    A dataset that cannot be loaded any more, or whose tasks changed since the run (its content
    hash differs), is left out with a note rather than shown against the wrong grids.
    """
    from arcbench.datasets import Dataset, load_dataset

    found: dict[TaskKey, Task] = {}
    notes: list[str] = []
    for run in runs:
        declared = run.manifest.get("dataset") or {}
        spec, labels = declared.get("spec"), declared.get("task_ids") or []
        if not spec:
            continue
        try:
            dataset = load_dataset(str(spec), skip_invalid=True)
        except ArcbenchError as exc:
            notes.append(f"{run.path}: grids not shown ({exc})")
            continue
        wanted = set(labels)
        tasks = [task for task in dataset.tasks if task.label in wanted]
        if Dataset(str(spec), tasks).content_hash() != declared.get("content_hash"):
            notes.append(f"{run.path}: grids not shown ({spec} changed since the run)")
            continue
        found.update({task.key: task for task in tasks})
    return found, notes
