"""Scoring and summarising finished (or interrupted) runs: `arcbench report`.

A report reads run directories (or bare `results.jsonl` files) as they are on disk, so it works
on a run in progress, an interrupted one, or the shards of one run reported together. The
denominator is every task the runs selected (from `run.json`), so a task that never got an
answer still counts as 0. Only the latest record of each attempt counts (a retried failure is
superseded by its retry).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arcbench.errors import ArcbenchError, DataError, ReportError, ResultsFileError
from arcbench.manifest import RunManifest
from arcbench.records import CodegenRecord, OutputKey, TaskKey, TracesRecord
from arcbench.rundir import Billed, read_latest
from arcbench.runfiles import RESULTS_FILE, load_manifest
from arcbench.scoring import (
    SUBMITTED_ATTEMPTS,
    ProgramStats,
    Score,
    Submitted,
    ViewScores,
    score_records,
    score_solved,
    solved_outputs,
)
from arcbench.tasks import Task
from arcbench.usage import Usage
from arcbench.voting import voting_rule

EMPTY_GRID = [[0]]
"""What the Kaggle format expects where an attempt produced no grid."""


@dataclass
class RunData:
    """One run as read from disk: its manifest (None for a bare results file) and the latest
    record of each attempt."""

    path: Path
    manifest: RunManifest | None
    records: dict[str, TracesRecord | CodegenRecord]
    billed: Billed = field(default_factory=Billed)

    @property
    def label(self) -> str:
        return (self.manifest.run_name if self.manifest else None) or self.path.name

    @property
    def declared(self) -> dict[TaskKey, int]:
        """The tasks the run selected, with their number of test inputs (from run.json)."""
        if self.manifest is None:
            return {}
        return {_label_key(label): n for label, n in self.manifest.dataset.test_inputs.items()}


@dataclass
class Report:
    """Several runs scored together."""

    runs: list[RunData]
    test_inputs: dict[TaskKey, int]
    attempts: dict[OutputKey, dict[int, Submitted]] = field(default_factory=dict)
    """Per test output, its attempts by number (the latest record of each)."""
    score: Score = field(default_factory=Score)
    oracle: Score = field(default_factory=Score)
    programs: ProgramStats = field(default_factory=ProgramStats)
    """Codegen: the final programs, those submitted, and those that overfit."""
    views: ViewScores | None = None
    """Test-time augmentation: each view scored alone (`score` is then the voted one)."""

    @property
    def overfit_programs(self) -> int:
        """Codegen: programs that pass every train pair but get a test output wrong."""
        return self.programs.overfit

    @property
    def commands(self) -> set[str]:
        """The commands (`traces`, `codegen`) of the runs, from their manifests or records."""
        found = {run.manifest.command for run in self.runs if run.manifest is not None}
        for run in self.runs:
            if run.manifest is None and run.records:
                record = next(iter(run.records.values()))
                found.add("codegen" if isinstance(record, CodegenRecord) else "traces")
        return found

    def totals(self) -> dict[str, Any]:
        records = [r for run in self.runs for r in run.records.values()]
        usage = sum((run.billed.usage for run in self.runs), Usage())
        return {
            "records": len(records),
            "errors": sum(1 for r in records if r.error is not None),
            "parse_errors": sum(
                1 for r in records if r.error is None and r.parse_error is not None
            ),
            "usage": {**usage.as_dict(), "unusable": list(usage.unusable)},
            "cost_usd": round(sum(run.billed.cost_usd for run in self.runs), 6),
        }

    def as_dict(self) -> dict[str, Any]:
        totals = self.totals()
        return {
            **self.score.as_dict(),
            "pass_at_k": self.oracle.per_output,
            "overfit_programs": self.overfit_programs,
            "programs": self.programs.as_dict() if "codegen" in self.commands else None,
            "runs": [describe_run(run) for run in self.runs],
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
            **self._augmentation(),
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

    def _augmentation(self) -> dict[str, Any]:
        """`augmentation`: the voted score beside the identity view alone, the best single view
        and the oracle (any view right), and each view's score; nothing without views."""
        if self.views is None:
            return {}
        best_name, best = self.views.best
        return {
            "augmentation": {
                "voted": self.score.score,
                "voting": voting_rule("codegen" in self.commands),
                "identity_view": self.views.identity.score,
                "best_view": {"view": best_name, "score": best.score},
                "oracle": self.oracle.score,
                "views": {label: score.score for label, score in self.views.views.items()},
            }
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
                    submitted = attempts.get(number)
                    grid = submitted.prediction if submitted else None
                    entry[f"attempt_{number}"] = grid if grid else EMPTY_GRID
                entries.append(entry)
            if label in out:  # only runs from before ids with '@' were refused can do this
                raise ReportError(
                    f"two tasks would both be {label!r} in the submission (an id containing '@' "
                    "beside a version of another task); rename the task and run it again"
                )
            out[label] = entries
        return out


def summary_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """A report's table, as (what, value) rows of `Report.as_dict`: the terminal's and the HTML
    page's. A codegen report speaks of programs (final, train accuracy, selected, overfitting),
    a traces report of attempts; with test-time augmentation the score is the voted one, beside
    what each view scored (`augmentation_rows`)."""
    counts, usage, programs = summary["counts"], summary["usage"], summary["programs"]
    augmentation = augmentation_rows(summary)
    voted = ", voted" if augmentation else ""
    pass_at_k = "any program right" if programs is not None else "any attempt right"
    rows = [
        (f"score (per task, pass@2{voted})", f"{summary['score']:.2%}"),
        ("per test output", f"{summary['per_output']:.2%}"),
        ("all or nothing", f"{summary['all_or_nothing']:.2%}"),
        *(augmentation or [(f"pass@k ({pass_at_k})", f"{summary['pass_at_k']:.2%}")]),
        ("tasks", f"{counts['tasks']:,} ({summary['tasks_solved']} fully solved)"),
        ("test outputs solved", f"{counts['outputs_solved']:,} / {counts['outputs']:,}"),
    ]
    if programs is not None:
        final = programs["final"]
        selected = "selected programs (2 per task)"
        if augmentation:
            selected = "programs behind the voted grids"
        rows += [
            ("programs checked (every round)", f"{counts['records'] - counts['errors']:,}"),
            ("final programs (one per attempt)", f"{final:,}"),
            ("mean train accuracy", f"{programs['train_accuracy']:.2%}"),
            ("fit every train pair", f"{programs['fit_train']:,} / {final:,}"),
            (selected, f"{programs['selected']:,} ({programs['selected_fit_train']:,} fit train)"),
            ("overfitting (fit train, fail test)", f"{programs['overfit']:,}"),
            ("replies without a program", f"{counts['parse_errors']:,}"),
        ]
    else:
        rows += [
            ("attempts recorded", f"{counts['records']:,}"),
            ("replies without a grid", f"{counts['parse_errors']:,}"),
        ]
    return [
        *rows,
        ("errors", f"{counts['errors']:,}"),
        (
            "tokens (prompt / completion)",
            f"{usage['prompt_tokens']:,} / {usage['completion_tokens']:,}",
        ),
        ("cost", f"${summary['cost_usd']:.4f}"),
    ]


def augmentation_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """What test-time augmentation bought, as rows beside the (voted) score of `Report.as_dict`:
    the identity view alone, the best single view and the oracle; none without augmentation."""
    augmentation = summary.get("augmentation")
    if not augmentation:
        return []
    best = augmentation["best_view"]
    return [
        ("identity view alone", f"{augmentation['identity_view']:.2%}"),
        (f"best single view ({best['view']})", f"{best['score']:.2%}"),
        ("oracle (any view right)", f"{augmentation['oracle']:.2%}"),
        ("voting", augmentation["voting"]),
    ]


def describe_run(run: RunData) -> dict[str, Any]:
    """A run as a report names it: its path and what its manifest says it is."""
    manifest = run.manifest
    return {
        "path": str(run.path),
        "run_id": manifest.run_id if manifest else None,
        "command": manifest.command if manifest else None,
        "status": manifest.status if manifest else None,
        "model": manifest.model.name if manifest else None,
        "dataset": manifest.dataset.spec if manifest else None,
    }


def read_run(path: Path, manifest: RunManifest | None = None) -> RunData:
    """A run directory or a results.jsonl file, read from disk and validated (`manifest` if
    already known)."""
    if path.is_dir():
        run_dir, results = path, path / RESULTS_FILE
    elif path.is_file():
        run_dir, results = path.parent, path
    else:
        raise ResultsFileError(f"{path}: no such run directory or results file")
    if manifest is None:
        manifest = load_manifest(run_dir)
    if not results.exists():
        if manifest is None:
            raise ResultsFileError(f"{path}: neither run.json nor results.jsonl found here")
        return RunData(path, manifest, {})
    records, billed = read_latest(results)
    return RunData(path, manifest, records, billed)


def _label_key(label: str) -> TaskKey:
    task_id, sep, version = label.rpartition("@")
    if sep and version.isdigit():
        return task_id, int(version)
    return label, None


def _run_tasks(run: RunData) -> set[TaskKey]:
    return set(run.declared) | {record.task_key for record in run.records.values()}


def distinct_runs(runs: Sequence[RunData]) -> list[RunData]:
    """The runs to score together, each once, none sharing a task with another.

    Shards of one run cover disjoint tasks and add up; two runs that answered the same task
    would silently mix their attempts, so that is refused (compare them instead).
    """
    unique: list[RunData] = []
    seen_ids: set[str] = set()
    owner: dict[TaskKey, RunData] = {}
    for run in runs:
        run_id = run.manifest.run_id if run.manifest else str(run.path.resolve())
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
    declared: dict[TaskKey, int] = {}
    view_order: list[str] = []
    for run in runs:
        for key, count in run.declared.items():
            declared.setdefault(key, count)
        augmentation = run.manifest.augmentation if run.manifest else None
        view_order += augmentation.views if augmentation else []
    scored = score_records(
        declared,
        (r for run in runs for r in run.records.values()),
        list(dict.fromkeys(view_order)),
    )
    return Report(
        list(runs),
        scored.test_inputs,
        scored.attempts,
        scored.score,
        scored.oracle,
        scored.programs,
        scored.views,
    )


@dataclass(frozen=True)
class Comparison:
    """Two reports restricted to the tasks both cover: scores, and the tokens and cost each run
    spent on those tasks (every record, failed attempts included, as in a report)."""

    common: list[TaskKey]
    a: Report
    b: Report
    only_a: list[TaskKey]
    only_b: list[TaskKey]
    a_runs: list[RunData] = field(default_factory=list)
    b_runs: list[RunData] = field(default_factory=list)
    """The runs of each side as read (`a` and `b` hold them cut down to the common tasks)."""

    def as_dict(self) -> dict[str, Any]:
        def side(report: Report, runs: list[RunData]) -> dict[str, Any]:
            totals = report.totals()
            return {
                "runs": [describe_run(run) for run in runs],
                "score": report.score.score,
                "per_output": report.score.per_output,
                "usage": totals["usage"],
                "cost_usd": totals["cost_usd"],
            }

        return {
            "common_tasks": len(self.common),
            "usage_over": "common_tasks",
            "a": side(self.a, self.a_runs),
            "b": side(self.b, self.b_runs),
            "solved_only_by_a": [_label(k) for k in self.only_a],
            "solved_only_by_b": [_label(k) for k in self.only_b],
        }


def _label(key: TaskKey) -> str:
    return key[0] if key[1] is None else f"{key[0]}@{key[1]}"


def compare(a_runs: Sequence[RunData], b_runs: Sequence[RunData]) -> Comparison:
    """Score two sets of runs on the tasks they have in common, and what each alone solved."""
    full_a, full_b = build_report(a_runs), build_report(b_runs)
    common = [key for key in full_a.test_inputs if key in full_b.test_inputs]
    if not common:  # both would score 0%: numbers that say nothing about either run
        raise ReportError(
            f"{_describe(full_a.runs)} and {_describe(full_b.runs)} have no task in common, so "
            "there is nothing to compare: compare runs over the same dataset (or overlapping ones)"
        )
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
        full_a.runs,
        full_b.runs,
    )


def _describe(runs: Sequence[RunData]) -> str:
    """`runs/a (arc-agi-1/training)`, several joined by commas: what a refusal names."""
    return ", ".join(
        f"{run.path} ({run.manifest.dataset.spec})" if run.manifest else str(run.path)
        for run in runs
    )


def _restricted(report: Report, keys: list[TaskKey]) -> Report:
    wanted = set(keys)
    runs = [
        RunData(
            run.path,
            None,
            {rid: r for rid, r in run.records.items() if r.task_key in wanted},
            run.billed.over(wanted),
        )
        for run in report.runs
    ]
    restricted = build_report(runs)
    inputs = {key: report.test_inputs[key] for key in keys}
    restricted.test_inputs = inputs
    solved = solved_outputs(restricted.attempts, SUBMITTED_ATTEMPTS)
    restricted.score = score_solved(inputs, solved)
    return restricted


def load_run_tasks(runs: Sequence[RunData]) -> tuple[dict[TaskKey, Task], list[str]]:
    """The tasks the runs were scored on, from their datasets, for showing grids.

    A dataset that cannot be loaded any more, or whose tasks changed since the run, is left out
    with a note rather than shown against the wrong grids.
    """
    found: dict[TaskKey, Task] = {}
    notes: list[str] = []
    for run in runs:
        if run.manifest is None:
            continue
        try:
            found.update(run_tasks(run.manifest))
        except ArcbenchError as exc:
            notes.append(f"{run.path}: grids not shown ({exc})")
    return found, notes


def run_tasks(manifest: RunManifest) -> dict[TaskKey, Task]:
    """The tasks a run selected, loaded from its dataset as they were when it ran.

    Raises an `ArcbenchError` saying why when the dataset cannot be loaded any more, or when
    its tasks changed since the run (`arcbench.runview.tasks_of_run` compares the content hash).
    """
    from arcbench.datasets import load_dataset
    from arcbench.runview import tasks_of_run

    spec = manifest.dataset.spec
    tasks, note = tasks_of_run(manifest, load_dataset(spec, skip_invalid=True).tasks)
    if note is not None:
        raise DataError(f"{spec} changed since the run")
    return tasks
