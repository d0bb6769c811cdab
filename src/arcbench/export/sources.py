"""Where training examples come from: run directories and the trace store.

A run directory gives one example per finished attempt that has an answer: a `traces` attempt
is its prompt and the model's reasoning with its final grid, a `codegen` round its prompt and
the reasoning with its program. The prompt is the one the model was sent (the record's first
user message); the reply is rebuilt in the form the prompt asks for (`arcbench.prompts`), so a
reply's stray text after its answer block does not become training data.

A run with test-time augmentation (`--augment`) asked each task in views: a record of a view
holds that view's prompt and an answer in the view's frame, a coherent example of the task as
the view shows it. It is judged against the task in that view and its row names the view.

The store gives its traces, human and merged, that reach `--min-score` votes. A trace names its
task but not a prompt, so the task is looked up (`TaskFinder`) and the `traces` prompt rendered
for each of its test inputs whose output is known, with that output as the final grid.

Verified means: a `traces` attempt whose grid matched the known answer; a program that solved
every train pair and every test output with a known answer in the sandbox; a merged trace whose
attempt was right; a person's trace (its author vouches for it, its votes rank it). Anything
else is skipped unless `include_unverified` asks for it, and is then marked.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from arcbench.datasets import BUNDLED_SPECS, load_dataset
from arcbench.defaults import DATASET as DEFAULT_DATASET
from arcbench.errors import ArcbenchError, StoreError, VariationNotFoundError
from arcbench.export.rows import RowMetadata, TrainingRow, Verifier
from arcbench.manifest import RunManifest
from arcbench.prompts import codegen_prompt, codegen_reply, traces_prompt, traces_reply
from arcbench.records import CodegenRecord, TaskKey, TracesRecord
from arcbench.report import run_tasks
from arcbench.runfiles import (
    RESULTS_FILE,
    TornLine,
    load_manifest,
    numbered_results,
    record_at,
)
from arcbench.store import Store, Trace
from arcbench.tasks import Task
from arcbench.views import IDENTITY, view_of

MISSING_SHOWN = 10
"""Task labels named per source when their tasks cannot be found."""


@dataclass
class SourceCounts:
    """What one source gave: what was read, why what was left out was, and what was written."""

    name: str
    records: int = 0
    """Records of a run (every line, superseded failures included), or traces of the store."""
    failed: int = 0
    """Run records of attempts that failed (no reply; a resume retries them)."""
    no_answer: int = 0
    """No grid or program in the reply; a store trace whose task has no known test output."""
    not_verified: int = 0
    """Left out for want of verification (see the module docstring)."""
    contradicted: int = 0
    """Run records that say their grid or program was right while their task's answer (or,
    with augmented copies, the sandbox) says otherwise; also counted in `not_verified`."""
    rechecked: int = 0
    """Verified programs checked again in the sandbox on their own task (with augmented
    copies, whose check needs the sandbox anyway)."""
    below_score: int = 0
    """Store traces under `--min-score`."""
    task_not_found: int = 0
    """Examples whose task could not be found, so no prompt could be written."""
    not_augmented: int = 0
    """Verified programs written without augmented copies: their task could not be found."""
    verified: int = 0
    unverified: int = 0
    """Unverified examples written, marked (`include_unverified`)."""
    duplicates: int = 0
    written: int = 0
    augmented: int = 0
    """Augmented copies written (they passed their check)."""
    unchanged: int = 0
    """Augmented copies not made: the transform gives back the task's own grids."""
    failed_checks: int = 0
    """Augmented copies that failed their check in the sandbox, dropped."""
    missing: list[str] = field(default_factory=list)
    """Labels of tasks not found (the first `MISSING_SHOWN`)."""
    notes: list[str] = field(default_factory=list)

    def task_missing(self, label: str, *, skipped: bool = True) -> None:
        """The task `label` was not found: the example was `skipped`, or only not augmented."""
        if skipped:
            self.task_not_found += 1
        else:
            self.not_augmented += 1
        if label not in self.missing and len(self.missing) < MISSING_SHOWN:
            self.missing.append(label)


@dataclass(frozen=True)
class Example:
    """One example before it is written; `task` and `code` are set for a verified program whose
    task is known, which is what augmented copies are made of."""

    row: TrainingRow
    task: Task | None = None
    code: str | None = None


@dataclass(frozen=True)
class ExportOptions:
    """What to take and how to phrase it: the system message (None: none)."""

    system: str | None
    include_unverified: bool = False
    min_score: int = 0
    need_tasks: bool = False
    """Find the task of every verified program (augmented copies need it)."""


class TaskFinder:
    """Tasks by `(id, version)`: from the datasets given, else every bundled one (the default
    dataset first), then, for a version, the store's variations. Each dataset is loaded when
    first needed."""

    def __init__(self, specs: Sequence[str], store: Store | None = None) -> None:
        self.specs = list(specs) or [
            DEFAULT_DATASET,
            *(s for s in BUNDLED_SPECS if s != DEFAULT_DATASET),
        ]
        self._store = store
        self._index: dict[TaskKey, Task] | None = None

    def find(self, task_id: str, version: int | None) -> Task | None:
        if self._index is None:
            self._index = {}
            for spec in self.specs:
                for loaded in load_dataset(spec, skip_invalid=True).tasks:
                    self._index.setdefault(loaded.key, loaded)
        task = self._index.get((task_id, version))
        if task is None and version is not None and self._store is not None:
            try:
                task = self._store.variations.get_variation(task_id, version).to_task()
            except VariationNotFoundError:
                return None
            self._index[task.key] = task
        return task

    def where(self) -> str:
        return ", ".join(self.specs)


def run_examples(
    path: Path, options: ExportOptions, finder: TaskFinder, counts: SourceCounts
) -> Iterator[Example]:
    """The examples of a run directory (or a bare results.jsonl), in the file's order."""
    run_dir, results = (path, path / RESULTS_FILE) if path.is_dir() else (path.parent, path)
    if not results.is_file():
        raise ArcbenchError(f"{path}: no results.jsonl here; give a run directory or its file")
    manifest = load_manifest(run_dir)
    tasks = _RunTasks(run_dir, manifest, finder, counts)

    def torn(line: TornLine) -> None:
        counts.notes.append(line.describe())

    for number, value in numbered_results(results, torn):
        counts.records += 1
        if _ruled_out(value, options, counts):
            continue
        record = record_at(results, number, value)
        if record.error is not None:
            counts.failed += 1
            continue
        if isinstance(record, TracesRecord):
            example = _traces_example(record, manifest, options, tasks, counts)
        else:
            example = _codegen_example(record, manifest, options, tasks, counts)
        if example is not None:
            yield example


def _ruled_out(value: dict[str, Any], options: ExportOptions, counts: SourceCounts) -> bool:
    """Whether a record's own fields already rule it out: a failed attempt, no answer, or (for
    verified rows only) a known answer it got wrong. Most of a long run's records are such, and
    are counted without being validated (validating a record costs twice its decoding); every
    other record is validated and judged on the model, and so is a line that does not look
    like a record at all (no `record_id`), which is refused with the line's number."""
    if not isinstance(value.get("record_id"), str):
        return False
    if value.get("error") is not None:
        counts.failed += 1
        return True
    answer = value.get("code") if value.get("test_index") is None else value.get("prediction")
    if answer is None:
        counts.no_answer += 1
        return True
    correct = value.get("correct")
    wrong = correct is False or (isinstance(correct, list) and any(v is False for v in correct))
    if wrong and not options.include_unverified:
        counts.not_verified += 1
        return True
    return False


def _traces_example(
    record: TracesRecord,
    manifest: RunManifest | None,
    options: ExportOptions,
    tasks: _RunTasks,
    counts: SourceCounts,
) -> Example | None:
    if record.prediction is None:
        counts.no_answer += 1
        return None
    verified = record.correct is True and _answer_holds(record, tasks, counts)
    if not _admitted(verified, options, counts):
        return None
    prompt = _first_prompt(record)
    if prompt is None:
        task = tasks.shown(record)
        if task is None:
            counts.task_missing(record.label)
            return None
        prompt = traces_prompt(task, record.test_index)
    _count(verified, counts)
    metadata = _run_metadata(record, manifest, counts, "traces", verified, "answer")
    row = TrainingRow(
        system=options.system,
        user=prompt,
        assistant=traces_reply(record.reasoning, record.prediction),
        metadata=metadata,
    )
    return Example(row)


def _answer_holds(record: TracesRecord, tasks: _RunTasks, counts: SourceCounts) -> bool:
    """A record that says its grid was right, checked against its task's answer when the task
    can be found (a results file edited by hand, or by anything else, is not taken at its
    word); `contradicted` counts those whose task says otherwise."""
    task = tasks.shown(record)
    if task is None or not 0 <= record.test_index < len(task.test):
        return task is None
    answer = task.test[record.test_index].output
    if answer is None or record.prediction == answer:
        return answer is not None
    counts.contradicted += 1
    return False


def _codegen_example(
    record: CodegenRecord,
    manifest: RunManifest | None,
    options: ExportOptions,
    tasks: _RunTasks,
    counts: SourceCounts,
) -> Example | None:
    if record.code is None:
        counts.no_answer += 1
        return None
    verified = record.solves_task
    if not _admitted(verified, options, counts):
        return None
    prompt = _first_prompt(record)
    task = None
    if prompt is None or (verified and options.need_tasks):
        task = tasks.shown(record)
        if task is None:
            counts.task_missing(record.label, skipped=prompt is None)
    if prompt is None:
        if task is None:
            return None
        prompt = codegen_prompt(task)
    _count(verified, counts)
    row = TrainingRow(
        system=options.system,
        user=prompt,
        assistant=codegen_reply(record.reasoning, record.code),
        metadata=_run_metadata(record, manifest, counts, "codegen", verified, "sandbox"),
    )
    return Example(row, task, record.code if verified else None)


def _admitted(verified: bool, options: ExportOptions, counts: SourceCounts) -> bool:
    if verified or options.include_unverified:
        return True
    counts.not_verified += 1
    return False


def _count(verified: bool, counts: SourceCounts) -> None:
    if verified:
        counts.verified += 1
    else:
        counts.unverified += 1


def _first_prompt(record: TracesRecord | CodegenRecord) -> str | None:
    """The prompt the attempt began with (a repair round's record holds the conversation)."""
    for message in record.messages:
        if message.role == "user":
            return message.content
    return None


def _run_metadata(
    record: TracesRecord | CodegenRecord,
    manifest: RunManifest | None,
    counts: SourceCounts,
    kind: Literal["traces", "codegen"],
    verified: bool,
    verifier: Verifier,
) -> RowMetadata:
    return RowMetadata(
        source="run",
        origin=counts.name,
        kind=kind,
        task_id=record.task_id,
        version=record.version,
        test_index=record.test_index,
        run_id=record.run_id,
        record_id=record.record_id,
        view=None if record.view in (None, [IDENTITY]) else record.view,
        model=manifest.model.name if manifest is not None else record.model,
        verified=verified,
        verified_by=verifier if verified else None,
        prompt_version=manifest.prompt_version if manifest is not None else None,
    )


class _RunTasks:
    """A run's tasks, loaded when first needed: from the run's own dataset as it was when the
    run was made, else from the `TaskFinder`."""

    def __init__(
        self,
        run_dir: Path,
        manifest: RunManifest | None,
        finder: TaskFinder,
        counts: SourceCounts,
    ) -> None:
        self._run_dir = run_dir
        self._manifest = manifest
        self._finder = finder
        self._counts = counts
        self._own: dict[TaskKey, Task] | None = None

    def get(self, key: TaskKey) -> Task | None:
        if self._own is None:
            self._own = {}
            if self._manifest is not None:
                try:
                    self._own = run_tasks(self._manifest)
                except ArcbenchError as exc:
                    self._counts.notes.append(
                        f"the run's dataset cannot be used ({exc}); tasks are looked up in "
                        f"{self._finder.where()}"
                    )
        return self._own.get(key) or self._finder.find(*key)

    def shown(self, record: TracesRecord | CodegenRecord) -> Task | None:
        """The task as the record's attempt saw it: in its view when the run had views; None
        when the task cannot be found, or the record names a view that cannot show it."""
        task = self.get(record.task_key)
        if task is None or record.view is None:
            return task
        try:
            return view_of(record.view).apply(task)
        except ArcbenchError:
            return None


def store_examples(
    store: Store, options: ExportOptions, finder: TaskFinder, counts: SourceCounts
) -> Iterator[Example]:
    """The examples of the store's traces, task by task in the order they were first added."""
    for _, records in store.traces.export():
        for raw in records:
            try:
                trace = Trace.model_validate(raw)
            except ValidationError as exc:
                raise StoreError(f"{store.path}: a trace cannot be read ({exc})") from None
            counts.records += 1
            yield from _trace_examples(trace, options, finder, counts)


def _trace_examples(
    trace: Trace, options: ExportOptions, finder: TaskFinder, counts: SourceCounts
) -> Iterator[Example]:
    if trace.score < options.min_score:
        counts.below_score += 1
        return
    source = trace.source
    verified = source is None or _all_right(source.correct)
    if not _admitted(verified, options, counts):
        return
    label = trace.task_id if trace.version is None else f"{trace.task_id}@{trace.version}"
    task = finder.find(trace.task_id, trace.version)
    if task is None:
        counts.task_missing(label)
        return
    answered = [(index, test.output) for index, test in enumerate(task.test) if test.output]
    if not answered or not trace.text.strip():
        counts.no_answer += 1
        return
    _count(verified, counts)
    for index, output in answered:
        metadata = RowMetadata(
            source="store",
            origin=counts.name,
            kind="traces",
            task_id=trace.task_id,
            version=trace.version,
            test_index=index,
            run_id=source.run_id if source else None,
            record_id=source.record_id if source else None,
            trace_id=trace.trace_id,
            model=source.model if source else None,
            author=trace.username,
            score=trace.score,
            verified=verified,
            verified_by=("answer" if source else "author") if verified else None,
        )
        row = TrainingRow(
            system=options.system,
            user=traces_prompt(task, index),
            assistant=traces_reply(trace.text, output),
            metadata=metadata,
        )
        yield Example(row)


def _all_right(correct: bool | list[bool | None] | None) -> bool:
    """A merged trace's attempt was right: its grid, or every answered output of its program."""
    if isinstance(correct, list):
        return any(value is True for value in correct) and False not in correct
    return correct is True
