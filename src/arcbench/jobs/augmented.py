"""Test-time augmentation as a kind of job: any kind, asked in several views of every task.

`--augment SPEC` (`arcbench.views`) wraps the kind a command runs (`traces`, `codegen`, the
offline baseline). For each view, the wrapped kind makes its own job for the tasks as the view
shows them, and that job asks, checks, repairs, retries and resumes exactly as it would without
augmentation. The wrapper adds, record by record:

- the record's `view`, and a record id of its own: each view's job runs under the run's id with
  the view's label appended, so a record id differs per view and is the same on every resume
  (the record itself keeps the run's `run_id`);
- the answer in the task's own frame: a traces grid goes through the view's inverse here (a pure
  function of a validated grid); a program is wrapped in the view's transforms and their inverse
  and run in the sandbox on the original test inputs (`View.wrap_program`), never here;
- `correct`, judged on that mapped answer against the task's own outputs.

The views' items are interleaved one by one, so every task's views are asked side by side and an
interrupted run has voted on whole tasks so far. The summary votes (`arcbench.scoring`).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import Any, overload

from arcbench.errors import SandboxError, TransformError
from arcbench.jobs.protocol import (
    Job,
    JobContext,
    JobKind,
    Plan,
    ProgramChecker,
    Record,
)
from arcbench.manifest import AugmentationInfo, ModelInfo, RunManifest, RunSummary, ScoreSummary
from arcbench.records import CodegenRecord, TracesRecord
from arcbench.rundir import RunDirectory, read_latest
from arcbench.scoring import matches_answer, score_records
from arcbench.settings import Settings
from arcbench.tally import Tally
from arcbench.tasks import Task
from arcbench.views import Augmentation, View, check_tasks, parse_augment

Item = tuple[int, Any]
"""A view's position in the run's views, and the item of that view's job."""


def augmenting(settings: Settings) -> bool:
    """Whether a run asks for test-time augmentation (`--views` alone is refused with a hint)."""
    return settings.augment is not None or settings.views is not None


def augmented(kind: JobKind) -> JobKind:
    """`kind`, asked in every view `--augment` gives."""
    return JobKind(
        f"{kind.name}+augment",
        command=kind.command,
        offline=kind.offline,
        needs_sandbox=kind.needs_sandbox,
        create=lambda context: AugmentedJob(kind, context),
        workload=lambda settings, tasks: kind.workload(settings, tasks).times(
            len(run_views(settings, tasks).views)
        ),
    )


def run_views(settings: Settings, tasks: Sequence[Task]) -> Augmentation:
    """The views `--augment SPEC --views K` ask of `tasks`; `TransformError` for a bad SPEC or
    K, or a view that cannot show one of the tasks."""
    if settings.augment is None:
        raise TransformError(
            f"--views {settings.views} needs --augment SPEC (d8, colors:N, d8+colors:N or "
            "transform ids such as rot90,flip_h)"
        )
    augmentation = parse_augment(settings.augment, settings.views)
    check_tasks(augmentation, tasks)
    return augmentation


class AugmentedJob:
    """One job of the wrapped kind per view; records marked, mapped back and re-judged."""

    def __init__(self, kind: JobKind, context: JobContext) -> None:
        self.settings = context.settings
        self.sandbox: ProgramChecker | None = context.sandbox
        self.spec = run_views(context.settings, context.tasks)
        self.views = self.spec.views
        self.tasks = {task.key: task for task in context.tasks}
        self.jobs: list[Job[Any]] = [
            kind.create(dataclasses.replace(context, tasks=ViewedTasks(context.tasks, view)))
            for view in self.views
        ]
        self._run_id = ""

    @property
    def model_info(self) -> ModelInfo:
        return self.jobs[0].model_info

    @property
    def prompt_version(self) -> str:
        return self.jobs[0].prompt_version

    @property
    def augmentation(self) -> AugmentationInfo:
        return AugmentationInfo(spec=self.spec.spec, views=self.spec.labels)

    def manifest_entries(self, previous: RunManifest) -> dict[str, Any]:
        return self.jobs[0].manifest_entries(previous)

    def plan(self, run: RunDirectory) -> Plan[Item]:
        """Every view's plan, interleaved item by item; totals add up (unknown if one is), in
        the wrapped kind's unit."""
        self._run_id = run.run_id
        plans = [
            job.plan(_view_run(run, view)) for job, view in zip(self.jobs, self.views, strict=True)
        ]
        return Plan(
            _interleaved([_numbered(position, p.items) for position, p in enumerate(plans)]),
            _sum(p.total for p in plans),
            _sum(p.remaining for p in plans),
            unit=plans[0].unit,
        )

    async def work(self, item: Item) -> AsyncIterator[Record]:
        position, inner = item
        async for record in self.jobs[position].work(inner):
            yield await self._mapped(self.views[position], record)

    def failed(self, item: Item, error: str) -> Record:
        position, inner = item
        return self._marked(self.views[position], self.jobs[position].failed(inner, error))

    def summarise(self, run: RunDirectory, tally: Tally, plan: Plan[Item]) -> RunSummary:
        """The wrapped kind's counts, and the voted score with what each view scored alone."""
        summary = self.jobs[0].summarise(run, tally, plan)
        latest, _ = read_latest(run.results_path)
        declared = {key: len(task.test) for key, task in self.tasks.items()}
        scored = score_records(declared, latest.values(), self.spec.labels)
        views = scored.views
        best_name, best = views.best if views else ("", scored.score)
        score = ScoreSummary.model_validate(
            {
                **scored.score.as_dict(),
                "pass_at_k": scored.oracle.per_output,
                "identity_view": views.identity.score if views else None,
                "best_view": best.score if views else None,
                "best_view_name": best_name or None,
                "oracle": scored.oracle.score if views else None,
            }
        )
        return summary.model_copy(update={"score": score})

    # -- records --------------------------------------------------------------------------------

    def _marked(self, view: View, record: Record) -> Record:
        """The record under the run's own id, naming its view."""
        return record.model_copy(update={"run_id": self._run_id, "view": view.ids})

    async def _mapped(self, view: View, record: Record) -> Record:
        """`record` marked, its answer mapped back to the task's frame and judged there."""
        marked = self._marked(view, record)
        if marked.error is not None:
            return marked
        task = self.tasks[marked.task_key]
        if isinstance(marked, TracesRecord):
            grid = None if marked.prediction is None else view.map_back(marked.prediction)
            answer = task.test[marked.test_index].output
            return marked.model_copy(
                update={"mapped_prediction": grid, "correct": matches_answer(grid, answer)}
            )
        assert isinstance(marked, CodegenRecord)
        try:
            grids = await self._program_answers(view, task, marked)
        except SandboxError as exc:  # the sandbox broke, not the program: retried on resume
            return marked.model_copy(update={"error": f"sandbox failure: {exc}"})
        correct = [matches_answer(g, t.output) for g, t in zip(grids, task.test, strict=True)]
        return marked.model_copy(update={"mapped_predictions": grids, "correct": correct})

    async def _program_answers(
        self, view: View, task: Task, record: CodegenRecord
    ) -> list[list[list[int]] | None]:
        """The program's answers to the task's own test inputs: wrapped in the view and its
        inverse, run in the sandbox. A program that answered no test input of the view (or no
        program at all) answers none here either: the same inputs, the same failure."""
        raw = record.predictions or []
        if record.code is None or not any(grid is not None for grid in raw):
            return [None] * len(task.test)
        if view.is_identity:
            return list(raw)
        assert self.sandbox is not None, "a codegen job has a sandbox"
        outcomes = await self.sandbox.check(
            view.wrap_program(record.code),
            [test.input for test in task.test],
            timeout_s=self.settings.exec_timeout,
        )
        return [o.grid if o.status == "ok" else None for o in outcomes]


class ViewedTasks(Sequence[Task]):
    """The run's tasks as one view shows them, each made when it is read: a run of many views
    (`d8+colors:100` is 808) holds no copy of every task in every view."""

    def __init__(self, tasks: Sequence[Task], view: View) -> None:
        self._tasks = tasks
        self._view = view

    def __len__(self) -> int:
        return len(self._tasks)

    @overload
    def __getitem__(self, index: int) -> Task: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Task]: ...

    def __getitem__(self, index: int | slice) -> Task | Sequence[Task]:
        if isinstance(index, slice):
            return [self._view.apply(task) for task in self._tasks[index]]
        return self._view.apply(self._tasks[index])


def _view_run(run: RunDirectory, view: View) -> RunDirectory:
    """`run` as one view's job sees it: its own run id (so its record ids are its own), the
    same records done; it cannot write (the engine writes every record)."""
    manifest = run.manifest.model_copy(update={"run_id": f"{run.run_id}/{view.label}"})
    return dataclasses.replace(run, manifest=manifest, _handle=None, _lock=None)


def _numbered(position: int, items: Iterable[Any]) -> Iterator[Item]:
    return ((position, item) for item in items)


def _interleaved(streams: Sequence[Iterator[Item]]) -> Iterator[Item]:
    """One item of each stream in turn, until every stream is exhausted."""
    for batch in itertools.zip_longest(*streams):
        yield from (item for item in batch if item is not None)


def _sum(values: Iterable[int | None]) -> int | None:
    total = 0
    for value in values:
        if value is None:
            return None
        total += value
    return total
