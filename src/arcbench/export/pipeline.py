"""`export_training_data`: read the sources, keep what is verified, drop duplicates, add checked
augmented copies, and write the rows in a stable order.

Examples are produced one at a time, in source order (the runs as given, then the store), so an
export of any size holds only the examples being checked. Each example, and each augmented copy
it gets, is numbered as it is produced; copies are checked in the sandbox many at a time, through
the same bounded runner that runs jobs, and rows are written in their numbers' order whatever
order the checks finish in: exporting the same sources twice writes the same file.

Duplicates are found before anything is checked: two rows are the same example when their task,
prompt and answer text are the same (`TrainingRow.duplicate_key`), and only the first is kept.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from arcbench import defaults
from arcbench.errors import ArcbenchError
from arcbench.export.augmenting import AugmentSpec, Chain, conjugate
from arcbench.export.output import TRAIN_FILE, VAL_FILE, WrittenFile, row_output
from arcbench.export.rows import RowFormat, TrainingRow, answer_key, prompt_key
from arcbench.export.sources import (
    Example,
    ExportOptions,
    SourceCounts,
    TaskFinder,
    run_examples,
    store_examples,
)
from arcbench.jobs.codegen import CodegenJob, run_program
from arcbench.jobs.protocol import ProgramChecker
from arcbench.prompts import codegen_prompt, codegen_reply, prompt_version, render
from arcbench.runfiles import LOG_FILE, MANIFEST_FILE, RESULTS_FILE
from arcbench.runner import Runner
from arcbench.store import DEFAULT_TIMEOUT_S, Store
from arcbench.store.database import SIDE_FILES
from arcbench.tasks import Task
from arcbench.transforms import apply_transforms

CHECKS_IN_FLIGHT = 64
"""Augmented copies being checked at once: enough to keep every sandbox worker busy."""

VARIANTS_KEPT = 128
"""Transformed tasks (with their prompts) kept for the next verified program of the same task:
the chains of the last dozen tasks or so."""


def default_system_message() -> str:
    """The system message of every row unless another is asked for (`prompts/export_system.md`)."""
    return render("export_system").strip()


RUN_FILES = (RESULTS_FILE, MANIFEST_FILE, LOG_FILE)
"""The files of a run directory, which an export never writes over."""


@dataclass(frozen=True)
class ExportRequest:
    """What to export and how: the sources (`runs`, the `store` file), the output (`out`: a file,
    or with `val_fraction` a directory for `train.jsonl` and `val.jsonl`) and its `layout`, where
    to find the tasks of store traces (`datasets`; default every bundled set), the system message
    (None: rows without one), and the selection (`include_unverified`, `min_score`) and
    augmentation (`augment`) of rows."""

    out: Path
    runs: Sequence[Path] = ()
    store: Path | None = None
    store_timeout: float = DEFAULT_TIMEOUT_S
    layout: RowFormat = "chat"
    datasets: Sequence[str] = ()
    system: str | None = field(default_factory=default_system_message)
    include_unverified: bool = False
    min_score: int = 0
    augment: AugmentSpec | None = None
    val_fraction: float | None = None
    seed: int = 0
    exec_timeout_s: float = defaults.EXEC_TIMEOUT_S

    def __post_init__(self) -> None:
        if not self.runs and self.store is None:
            raise ArcbenchError("nothing to export: give run directories, --store, or both")
        outputs = (
            [self.out]
            if self.val_fraction is None
            else [self.out / TRAIN_FILE, self.out / VAL_FILE]
        )
        for output in outputs:
            for source in self._read_files():
                if _same_file(source, output):
                    raise ArcbenchError(
                        f"--out {self.out} would write over {source}, which this export reads: "
                        "choose another file"
                    )
            if output.name in RUN_FILES and (output.parent / MANIFEST_FILE).is_file():
                raise ArcbenchError(
                    f"--out {self.out} would write over {output}, a file of the run in "
                    f"{output.parent}: choose another file"
                )
        if self.val_fraction is not None and not 0 < self.val_fraction < 1:
            raise ArcbenchError(
                f"--split-by-task {self.val_fraction:g}: give the fraction of tasks for "
                "validation, between 0 and 1 (e.g. 0.1)"
            )

    def _read_files(self) -> list[Path]:
        """The files of the sources, which the output may not replace: each run's results,
        manifest and log (a bare results file's too), and the store with its journals."""
        files = []
        for run in self.runs:
            run_dir = run if run.is_dir() else run.parent
            files.append(run / RESULTS_FILE if run.is_dir() else run)
            files += [run_dir / name for name in RUN_FILES]
        if self.store is not None:
            files += [self.store, *(self.store.with_name(self.store.name + s) for s in SIDE_FILES)]
        return files


@dataclass
class ExportSummary:
    """What an export did, per source and per task, and the files it wrote."""

    layout: RowFormat
    sources: list[SourceCounts] = field(default_factory=list)
    per_task: Counter[str] = field(default_factory=Counter)
    """Rows written per task label (augmented copies included)."""
    files: list[WrittenFile] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(counts.written + counts.augmented for counts in self.sources)

    def as_dict(self) -> dict[str, Any]:
        """Plain data, as `arcbench export --json` prints it."""
        return {
            "format": self.layout,
            "rows": self.rows,
            "sources": [asdict(counts) for counts in self.sources],
            "files": [{"path": str(f.path), "rows": f.rows, "tasks": f.tasks} for f in self.files],
            "per_task": dict(self.per_task.most_common()),
        }

    @property
    def checked(self) -> int:
        """Programs checked so far: augmented copies (written or failed) and the programs
        they were made from."""
        return sum(c.augmented + c.failed_checks + c.rechecked for c in self.sources)


@dataclass
class _Item:
    """A row to write, numbered; an augmented copy also carries what its check needs (let go
    once checked: a checked row may wait for an earlier one still being checked)."""

    number: int
    row: TrainingRow
    counts: SourceCounts
    variant: Task | None = None
    code: str | None = None
    augmented: bool = False
    passed: bool = True
    rechecked: bool = False
    """An exported program checked again on its own task."""


async def export_training_data(
    request: ExportRequest,
    *,
    sandbox: ProgramChecker | None = None,
    progress: Callable[[ExportSummary], None] | None = None,
) -> ExportSummary:
    """Export `request`'s sources; `sandbox` checks augmented copies (needed with `augment`);
    `progress` is called after every row decided (written, or dropped by its check)."""
    if request.augment is not None and sandbox is None:
        raise ValueError("augmented copies are checked in a sandbox: pass one")
    summary = ExportSummary(request.layout)
    store = None
    if request.store is not None:
        store = Store(request.store, timeout=request.store_timeout, create=False)
    try:
        finder = TaskFinder(request.datasets, store)
        options = ExportOptions(
            system=request.system,
            include_unverified=request.include_unverified,
            min_score=request.min_score,
            need_tasks=request.augment is not None,
        )
        items = _Numbered(request, options, finder, store, summary).items()
        with row_output(request.out, request.val_fraction, request.seed) as output:
            pending: dict[int, _Item] = {}
            next_number = 0

            def decided(item: _Item) -> None:
                nonlocal next_number
                pending[item.number] = item
                while next_number in pending:
                    ready = pending.pop(next_number)
                    next_number += 1
                    _account(ready, summary)
                    if ready.passed:
                        output.write(ready.row.to_json(request.layout), ready.row.metadata.task_id)
                if progress is not None:
                    progress(summary)

            async def check(item: _Item) -> _Item:
                if item.variant is not None and item.code is not None:
                    assert sandbox is not None
                    run = await run_program(
                        sandbox, item.variant, item.code, request.exec_timeout_s
                    )
                    item.passed = run.solves
                    item.rechecked = not item.augmented
                    item.variant = item.code = None
                return item

            runner: Runner[_Item, _Item] = Runner(
                check,
                max_concurrent=CHECKS_IN_FLIGHT,
                on_result=decided,
                on_error=_reraise,
                is_fatal=lambda exc: True,
            )
            await runner.run(items)
        summary.files = output.files
    finally:
        if store is not None:
            store.close()
    return summary


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: by path once links are followed, or (a hard link)
    by device and inode."""
    try:
        if a.resolve() == b.resolve():
            return True
        return a.exists() and b.exists() and a.samefile(b)
    except (OSError, RuntimeError):
        return False


def _reraise(item: Any, exc: Exception) -> _Item:
    raise exc


def _account(item: _Item, summary: ExportSummary) -> None:
    counts = item.counts
    if item.rechecked:
        counts.rechecked += 1
    if not item.augmented and not item.passed:  # its record said it solved its task
        counts.verified -= 1
        counts.not_verified += 1
        counts.contradicted += 1
        return
    if not item.augmented:
        counts.written += 1
    elif item.passed:
        counts.augmented += 1
    else:
        counts.failed_checks += 1
        return
    summary.per_task[item.row.metadata.label] += 1


class _Numbered:
    """The rows of every source in order, duplicates dropped, each numbered, each verified
    program followed by its augmented copies."""

    def __init__(
        self,
        request: ExportRequest,
        options: ExportOptions,
        finder: TaskFinder,
        store: Store | None,
        summary: ExportSummary,
    ) -> None:
        self.request = request
        self.options = options
        self.finder = finder
        self.store = store
        self.summary = summary
        self.seen: set[bytes] = set()
        self.numbers = itertools.count()
        self.prompt_version = prompt_version(*CodegenJob.PROMPTS)
        self.variants: OrderedDict[tuple[int, Chain], _Variant] = OrderedDict()

    def items(self) -> Iterator[_Item]:
        for path in self.request.runs:
            counts = self._source(str(path))
            for example in run_examples(path, self.options, self.finder, counts):
                yield from self._expand(example, counts)
        if self.store is not None:
            counts = self._source(str(self.store.path))
            for example in store_examples(self.store, self.options, self.finder, counts):
                yield from self._expand(example, counts)

    def _source(self, name: str) -> SourceCounts:
        counts = SourceCounts(name)
        self.summary.sources.append(counts)
        return counts

    def _new(self, key: bytes, counts: SourceCounts) -> bool:
        if key in self.seen:
            counts.duplicates += 1
            return False
        self.seen.add(key)
        return True

    def _expand(self, example: Example, counts: SourceCounts) -> Iterator[_Item]:
        if not self._new(example.row.duplicate_key(), counts):
            return
        spec, task, code = self.request.augment, example.task, example.code
        if spec is None or task is None or code is None:
            yield _Item(next(self.numbers), example.row, counts)
            return
        # The sandbox is open: the program is checked again on its own task, so a results file
        # that says a wrong program was right is not taken at its word.
        yield _Item(next(self.numbers), example.row, counts, task, code)
        for chain in spec.chains_for(task):
            variant = self._variant(task, chain, example.row.metadata.label)
            if variant.unchanged:
                counts.unchanged += 1
                continue
            program = conjugate(code, chain)
            answer = codegen_reply("", program)
            if not self._new(answer_key(variant.key, answer), counts):
                continue
            metadata = example.row.metadata.model_copy(
                update={
                    "augmented": [transform.id for transform in chain],
                    "verified": True,
                    "verified_by": "sandbox",
                    "prompt_version": self.prompt_version,
                }
            )
            row = TrainingRow(
                system=example.row.system, user=variant.prompt, assistant=answer, metadata=metadata
            )
            yield _Item(next(self.numbers), row, counts, variant.task, program, augmented=True)

    def _variant(self, task: Task, chain: Chain, label: str) -> _Variant:
        """The task through `chain`, with its prompt. A task's verified programs mostly come
        one after another (a run's attempts at a task), so the last few tasks' variants are
        kept rather than made again for each program."""
        key = (id(task), chain)
        kept = self.variants.get(key)
        if kept is not None and kept.original is task:
            self.variants.move_to_end(key)
            return kept
        variant = apply_transforms(task, chain)
        prompt = codegen_prompt(variant)
        made = _Variant(task, variant, prompt, variant == task, prompt_key(label, prompt))
        self.variants[key] = made
        if len(self.variants) > VARIANTS_KEPT:
            self.variants.popitem(last=False)
        return made


@dataclass(frozen=True)
class _Variant:
    """A task through a chain of transforms (`unchanged`: it gave back the same grids), its
    prompt and the start of its rows' duplicate keys."""

    original: Task
    task: Task
    prompt: str
    unchanged: bool
    key: hashlib.blake2b
