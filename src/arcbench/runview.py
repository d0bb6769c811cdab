"""What a run shows a person, computed once for every renderer: each task's outcome (a row of the
run's task list), the run's totals, and one task in full: its grids, the attempts submitted for
each test input, and every attempt with its reasoning, code, train results and predictions.

The web app's runs page and `arcbench report --html` render these same views; neither scores
anything itself. A task is scored by `arcbench.scoring.score_records` on that task's records
alone, which gives what scoring the whole run gives for it (tasks are scored independently),
and the totals are `arcbench.scoring.Score` over the tasks' results, as `arcbench report` has
them. That lets a viewer re-score only the tasks a growing run added records to.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from arcbench.datasets import Dataset
from arcbench.manifest import RunManifest
from arcbench.records import CodegenRecord, ProgramResult, TaskKey, TracesRecord, parse_record
from arcbench.report import Report
from arcbench.runfiles import RESULTS_FILE, iter_results
from arcbench.scoring import (
    SUBMITTED_ATTEMPTS,
    RunScore,
    Score,
    TaskScore,
    choose_programs,
    final_programs,
    score_records,
)
from arcbench.tasks import Grid, Task
from arcbench.usage import Usage

Record = TracesRecord | CodegenRecord
TaskStatus = Literal["solved", "partly solved", "unsolved", "failed", "pending"]
"""A task at a glance: every test output solved, some, none; every attempt failed (`error`);
no attempt yet."""


def task_label(key: TaskKey) -> str:
    """`task_id`, or `task_id@version` for a task version (as run.json names tasks)."""
    return key[0] if key[1] is None else f"{key[0]}@{key[1]}"


class TaskOutcome(BaseModel):
    """One row of a run's task list."""

    task_id: str
    version: int | None
    label: str
    score: float = Field(description="Share of the task's test outputs solved (pass@2).")
    solved: list[bool] = Field(description="Per test output: solved by a submitted attempt.")
    status: TaskStatus
    attempts: int = Field(description="Attempts recorded (the latest record of each).")
    errors: int = Field(description="Attempts that failed (model unreachable, sandbox broke).")
    parse_errors: int = Field(description="Replies without a usable grid or program.")


@dataclass(frozen=True)
class TaskResult:
    """A task scored from its records: its row, what the run's totals add up, and which record
    is attempt `number` of test output `index` (`submitted[(index, number)]`)."""

    outcome: TaskOutcome
    score: TaskScore
    oracle: TaskScore
    overfit: int
    submitted: dict[tuple[int, int], str]


def score_task(key: TaskKey, test_inputs: int, records: Sequence[Record]) -> TaskResult:
    """Score one task from the latest record of each of its attempts; `test_inputs` is its
    number of test inputs as the run declared it (0 when the run did not declare the task)."""
    return _result(key, score_records({key: test_inputs}, records), records)


def _result(key: TaskKey, scored: RunScore, records: Sequence[Record]) -> TaskResult:
    (task_score,) = scored.score.tasks
    (oracle,) = scored.oracle.tasks
    kinds = [record.outcome() for record in records]
    errors = kinds.count("error")
    solved = list(task_score.solved)
    if solved and all(solved):
        status: TaskStatus = "solved"
    elif any(solved):
        status = "partly solved"
    elif not records:
        status = "pending"
    elif errors == len(records):
        status = "failed"
    else:
        status = "unsolved"
    outcome = TaskOutcome(
        task_id=key[0],
        version=key[1],
        label=task_label(key),
        score=task_score.score,
        solved=solved,
        status=status,
        attempts=len(records),
        errors=errors,
        parse_errors=kinds.count("parse_error"),
    )
    return TaskResult(
        outcome,
        task_score,
        oracle,
        scored.overfit_programs,
        _submitted(key, len(solved), records),
    )


def _submitted(key: TaskKey, outputs: int, records: Sequence[Record]) -> dict[tuple[int, int], str]:
    """Which record is attempt `number` of test output `index`: a traces attempt numbered 1 or
    2 at its test input, or each of the programs `choose_programs` submits at every input."""
    found: dict[tuple[int, int], str] = {}
    for record in records:
        if isinstance(record, TracesRecord) and record.attempt <= SUBMITTED_ATTEMPTS:
            found[(record.test_index, record.attempt)] = record.record_id
    programs = [record for record in records if isinstance(record, CodegenRecord)]
    finals = final_programs(programs).get(key, {})
    if finals:
        for number, program in enumerate(choose_programs(finals).submitted, start=1):
            for index in range(outputs):
                found[(index, number)] = program.record_id
    return found


class RunTotals(BaseModel):
    """A run's scores and counts, as `arcbench report` gives them."""

    score: float = Field(description="Per-task average of pass@2: the ARC Prize headline.")
    per_output: float
    all_or_nothing: float
    pass_at_k: float = Field(description="Test outputs any attempt got right.")
    tasks: int
    tasks_solved: int
    outputs: int
    outputs_solved: int
    outputs_without_answer: int
    overfit_programs: int
    records: int
    errors: int
    parse_errors: int
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    cost_usd: float


def run_totals(results: Iterable[TaskResult], usage: Usage, cost_usd: float) -> RunTotals:
    """The totals of a run from its tasks' results; `usage` and `cost_usd` are what every
    record cost (superseded failures included, as `rundir.Billed` counts them)."""
    results = list(results)
    score = Score([result.score for result in results])
    oracle = Score([result.oracle for result in results])
    rows = [result.outcome for result in results]
    return RunTotals(
        score=score.score,
        per_output=score.per_output,
        all_or_nothing=score.all_or_nothing,
        pass_at_k=oracle.per_output,
        tasks=len(results),
        tasks_solved=score.tasks_solved,
        outputs=score.outputs,
        outputs_solved=score.outputs_solved,
        outputs_without_answer=score.unanswerable_outputs,
        overfit_programs=sum(result.overfit for result in results),
        records=sum(row.attempts for row in rows),
        errors=sum(row.errors for row in rows),
        parse_errors=sum(row.parse_errors for row in rows),
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        cost_usd=round(cost_usd, 6),
    )


# -- one task in full ---------------------------------------------------------------------------


class PairView(BaseModel):
    input: Grid
    output: Grid


class SubmittedView(BaseModel):
    """Attempt `number` (1 or 2) as scored for one test output."""

    number: int
    record_id: str | None = Field(description="The record it came from (null: none yet).")
    prediction: Grid | None
    correct: bool | None
    failed: bool = Field(description="The attempt failed (error): it says nothing.")


class TestView(BaseModel):
    """One test input: its grids (when the dataset is at hand) and its submitted attempts."""

    __test__ = False  # not a pytest test class, despite the name

    index: int
    input: Grid | None
    expected: Grid | None = Field(description="The known output (null: unknown or not at hand).")
    solved: bool
    submitted: list[SubmittedView]


class AnswerView(BaseModel):
    """What an attempt answered for one test input."""

    test_index: int
    prediction: Grid | None
    correct: bool | None


class AttemptView(BaseModel):
    """One record: an attempt at one test input (traces) or one round of a program (codegen)."""

    record_id: str
    attempt: int
    round: int
    test_index: int | None = Field(description="traces: the test input; codegen: null (all).")
    model: str | None
    rule: str | None = Field(None, description="The baseline's catalog rule, if any.")
    outcome: Literal["error", "parse_error", "correct", "answered"]
    submitted: bool = Field(description="Counts as attempt 1 or 2 of a test output.")
    final: bool = Field(description="codegen: the last round of its attempt (its program).")
    answers: list[AnswerView]
    train_results: list[ProgramResult] | None = None
    parse_error: str | None = None
    error: str | None = None
    reasoning: str | None = None
    code: str | None = None
    response: str | None = Field(None, description="The raw reply, when no grid came of it.")
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    finished_at: str | None = None


class TaskView(BaseModel):
    """One task of a run in full."""

    outcome: TaskOutcome
    command: str | None
    train: list[PairView] = Field(description="Empty when the task's grids are not at hand.")
    tests: list[TestView]
    attempts: list[AttemptView]
    note: str | None = Field(None, description="Why grids are missing, when they are.")


def task_view(
    key: TaskKey,
    test_inputs: int,
    records: Sequence[Record],
    task: Task | None,
    *,
    command: str | None,
    note: str | None = None,
    shown: Mapping[str, Record] | None = None,
) -> TaskView:
    """Task `key` in full from the latest record of each of its attempts and its grids (`task`,
    or None with a `note` saying why). Every record is listed with its text when `records`
    carry it; with `shown`, only the records it holds are listed, as it holds them (with their
    text), while `records` still decide the score."""
    scored = score_records({key: test_inputs}, records)
    result = _result(key, scored, records)
    count = len(result.score.solved)
    submitted_ids = result.submitted
    tests = []
    for index in range(count):
        by_number = scored.attempts.get((key[0], key[1], index), {})
        pair = task.test[index] if task is not None and index < len(task.test) else None
        tests.append(
            TestView(
                index=index,
                input=pair.input if pair else None,
                expected=pair.output if pair else None,
                solved=result.score.solved[index],
                submitted=[
                    SubmittedView(
                        number=number,
                        record_id=submitted_ids.get((index, number)),
                        prediction=by_number[number].prediction if number in by_number else None,
                        correct=by_number[number].correct if number in by_number else None,
                        failed=by_number[number].failed if number in by_number else False,
                    )
                    for number in range(1, SUBMITTED_ATTEMPTS + 1)
                ],
            )
        )
    programs = [record for record in records if isinstance(record, CodegenRecord)]
    final_ids = {p.record_id for p in final_programs(programs).get(key, {}).values()}
    chosen_ids = set(submitted_ids.values())
    listed = (
        records if shown is None else [shown[r.record_id] for r in records if r.record_id in shown]
    )
    ordered = sorted(listed, key=lambda r: (r.test_index or 0, r.attempt, r.round))
    return TaskView(
        outcome=result.outcome,
        command=command,
        train=[PairView(input=p.input, output=p.output) for p in task.train] if task else [],
        tests=tests,
        attempts=[
            attempt_view(r, r.record_id in chosen_ids, r.record_id in final_ids) for r in ordered
        ],
        note=note,
    )


def attempt_view(record: Record, submitted: bool, final: bool) -> AttemptView:
    """One record as the views show it (with its text, if it was read with it)."""
    if isinstance(record, TracesRecord):
        answers = [
            AnswerView(
                test_index=record.test_index, prediction=record.prediction, correct=record.correct
            )
        ]
        code, train, rule = None, None, None
    else:
        predictions = record.predictions or []
        correct = record.correct or []
        answers = [
            AnswerView(
                test_index=index,
                prediction=grid,
                correct=correct[index] if index < len(correct) else None,
            )
            for index, grid in enumerate(predictions)
        ]
        code, train, rule = record.code, record.train_results, record.rule
    no_grid = record.parse_error is not None
    return AttemptView(
        record_id=record.record_id,
        attempt=record.attempt,
        round=record.round,
        test_index=record.test_index,
        model=record.model,
        rule=rule,
        outcome=record.outcome(),
        submitted=submitted,
        final=final or isinstance(record, TracesRecord),
        answers=answers,
        train_results=train,
        parse_error=record.parse_error,
        error=record.error,
        reasoning=record.reasoning or None,
        code=code,
        response=record.response if no_grid else None,
        prompt_tokens=record.usage.prompt_tokens,
        completion_tokens=record.usage.completion_tokens,
        cost_usd=record.cost_usd,
        latency_s=record.latency_s,
        finished_at=record.finished_at,
    )


# -- the grids a run was scored on ---------------------------------------------------------------


def tasks_of_run(
    manifest: RunManifest, dataset_tasks: Sequence[Task]
) -> tuple[dict[TaskKey, Task], str | None]:
    """The tasks a run selected, taken from its dataset as loaded now, or none and why: a run's
    grids are shown only when the dataset still holds exactly what the run was scored on (its
    content hash matches run.json's)."""
    wanted = set(manifest.dataset.task_ids)
    tasks = [task for task in dataset_tasks if task.label in wanted]
    if Dataset(manifest.dataset.spec, tasks).content_hash() != manifest.dataset.content_hash:
        return {}, f"grids not shown ({manifest.dataset.spec} changed since the run)"
    return {task.key: task for task in tasks}, None


# -- every task of a report, for `arcbench report --html` ----------------------------------------


def report_views(report: Report, tasks: Mapping[TaskKey, Task]) -> Iterator[TaskView]:
    """Every task of a report in full, in the report's order: for `traces` runs every attempt
    with its reasoning, for `codegen` runs the programs submitted (with their code, reasoning
    and train results). The texts are read again from each results file, in one pass."""
    by_task: dict[TaskKey, list[Record]] = {}
    command: dict[TaskKey, str | None] = {}
    shown: dict[str, Record] = {}
    for run in report.runs:
        for record in run.records.values():
            by_task.setdefault(record.task_key, []).append(record)
            command[record.task_key] = run.manifest.command if run.manifest else None
        wanted = _shown_ids(run.records.values(), report)
        results = run.path / RESULTS_FILE if run.path.is_dir() else run.path
        if wanted and results.exists():
            for value in iter_results(results):
                if value.get("record_id") in wanted:
                    record = parse_record(value)
                    shown[record.record_id] = record
    for key, count in report.test_inputs.items():
        records = by_task.get(key, [])
        task = tasks.get(key)
        yield task_view(
            key,
            count,
            records,
            task,
            command=command.get(key),
            note=None if task is not None else "grids not shown (the run's dataset is not at hand)",
            shown=shown,
        )


def _shown_ids(records: Iterable[Record], report: Report) -> set[str]:
    """The records a report shows in full: each traces attempt, each submitted program."""
    records = list(records)
    wanted = {r.record_id for r in records if isinstance(r, TracesRecord)}
    programs: dict[TaskKey, list[CodegenRecord]] = {}
    for record in records:
        if isinstance(record, CodegenRecord):
            programs.setdefault(record.task_key, []).append(record)
    for key, found in programs.items():
        finals = final_programs(found).get(key, {})
        if finals:
            wanted |= {program.record_id for program in choose_programs(finals).submitted}
    return wanted
