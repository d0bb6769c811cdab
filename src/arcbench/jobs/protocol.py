"""The seams of the job layer, as protocols: what a kind of job is, and what it is given.

A *job* turns a run's tasks into records. The engine (`arcbench.jobs.engine`) opens the run
directory, asks the job for its plan, runs its items with bounded concurrency, writes every record
the moment it exists, and asks the job to summarise; it never asks which kind of job it runs.

    Job                      one kind of job, made for one run by its JobKind
      augmentation           -> the views it asks every task in (None: the task as given)
      plan(run)              -> Plan: the items left to do, produced lazily, and how many
      work(item)             -> the records of one item, yielded as each exists
      failed(item, error)    -> the record that says an item failed (a resume retries it)
      summarise(run, tally)  -> counts and score for run.json
      manifest_entries(run)  -> further run.json entries (the sandbox's isolation)

Collaborators are passed in, never built here: a `ChatModel` (the HTTP client, or a scripted one
in tests) and a `ProgramChecker` (the sandbox). Progress goes to a `JobReporter`; only the CLI
draws it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from arcbench.manifest import AugmentationInfo, ModelInfo, RunManifest, RunSummary
from arcbench.records import CodegenRecord, TracesRecord

if TYPE_CHECKING:
    from arcbench.budget import Budget
    from arcbench.client import Completion
    from arcbench.rundir import RunDirectory
    from arcbench.sandbox import ProgramOutcome
    from arcbench.settings import Settings
    from arcbench.tally import Tally
    from arcbench.tasks import Task

Item = TypeVar("Item")
Record = TracesRecord | CodegenRecord
Grid = list[list[int]]


class ChatModel(Protocol):
    """A language model as a job uses it: `arcbench.client.ModelClient`, or a scripted model."""

    def describe(self) -> dict[str, Any]:
        """What run.json records under `model` (see `arcbench.manifest.ModelInfo`)."""
        ...

    async def complete(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        """One chat completion; a failure raises `arcbench.errors.ModelError`."""
        ...


class ProgramChecker(Protocol):
    """What checks untrusted programs: `arcbench.sandbox.Sandbox`."""

    @property
    def isolation(self) -> str:
        """`full` or `weak` (recorded in run.json)."""
        ...

    async def check(
        self, code: str, inputs: Sequence[Grid], *, timeout_s: float | None = None
    ) -> list[ProgramOutcome]:
        """One outcome per input, in order; the sandbox itself failing raises `SandboxError`."""
        ...


class JobReporter(Protocol):
    """Progress events of a job; the CLI draws them, tests may record them."""

    def started(
        self,
        run: RunDirectory,
        total: int | None,
        remaining: int | None,
        tally: Tally,
        unit: str = "attempts",
    ) -> None:
        """The session begins: `total` units planned in all (`Plan.unit`), `remaining` of them
        left (None when not known ahead)."""

    def record(self, record: Record, tally: Tally) -> None:
        """A record was written (a codegen attempt may take several rounds, each its own)."""

    def finished(self, tally: Tally) -> None:
        """One planned unit (one work item) is done, whatever came of it."""

    def stopping(self, cancelling: bool) -> None:
        """Ctrl+C: the first stops scheduling, the second (`cancelling`) cancels."""


class QuietReporter:
    """A `JobReporter` that draws nothing (library use, tests)."""

    def started(
        self,
        run: RunDirectory,
        total: int | None,
        remaining: int | None,
        tally: Tally,
        unit: str = "attempts",
    ) -> None:
        pass

    def record(self, record: Record, tally: Tally) -> None:
        pass

    def finished(self, tally: Tally) -> None:
        pass

    def stopping(self, cancelling: bool) -> None:
        pass


@dataclass(frozen=True)
class Plan(Generic[Item]):
    """The work of a session: `items` is iterated once, lazily, so planning a run of any length
    costs no memory. One item is one planned unit, named by `unit` (`attempts`; the baseline's
    are `tasks`, since how many candidates a task gives is known only when it is generated):
    `total` counts the run's units and `remaining` those left (None when not known ahead)."""

    items: Iterable[Item]
    total: int | None
    remaining: int | None
    unit: str = "attempts"


@dataclass(frozen=True)
class JobContext:
    """What a job is made with: the settings of the run, its tasks and its collaborators, and
    the `budget` every model request must be admitted by (None: no cap)."""

    settings: Settings
    tasks: Sequence[Task]
    model: ChatModel | None
    sandbox: ProgramChecker | None
    budget: Budget | None = None


class Job(Protocol[Item]):
    """One kind of job, made for one run (see the module docstring)."""

    @property
    def model_info(self) -> ModelInfo:
        """The model the run records under `model` (part of its identity)."""
        ...

    @property
    def prompt_version(self) -> str:
        """A hash of the prompts the job sends ("none" for a job that sends none)."""
        ...

    @property
    def augmentation(self) -> AugmentationInfo | None:
        """The views every task is asked in (test-time augmentation), part of the run's
        identity; None when each task is asked as it is."""
        ...

    def manifest_entries(self, previous: RunManifest) -> dict[str, Any]:
        """Entries the job adds to run.json when a session starts (`previous`: the manifest
        as opened, which for a resumed run holds the earlier sessions' entries)."""
        ...

    def plan(self, run: RunDirectory) -> Plan[Item]:
        """What is left to do in `run` (see `Plan`)."""
        ...

    def work(self, item: Item) -> AsyncIterator[Record]:
        """Do one item, yielding each record the moment it exists (the engine writes it)."""
        ...

    def failed(self, item: Item, error: str) -> Record:
        """The record of an item that failed unexpectedly; a resume retries it."""
        ...

    def summarise(self, run: RunDirectory, tally: Tally, plan: Plan[Item]) -> RunSummary:
        """`counts`, `score`, `usage` and `cost_usd` for run.json."""
        ...


@dataclass(frozen=True)
class Workload:
    """What a run will ask of its model, known before it starts: `requests` at least and
    `most_requests` at most (they differ when failed programs may be repaired), over `views`
    views of every task (test-time augmentation; 1: the task as given), and the characters of
    their prompts, measured on the prompts themselves (`prompt_chars` over the requests sure to
    be sent, `most_prompt_chars` over all, a repair round counted with the conversation it
    resends)."""

    requests: int
    most_requests: int
    prompt_chars: int = 0
    most_prompt_chars: int = 0
    views: int = 1

    def times(self, views: int) -> Workload:
        """The same work asked in `views` views of every task. A view's prompts are as long as
        the task's, give or take a line break per grid row (a rotation turns rows into
        columns): the characters are multiplied too, within the plan's stated approximation."""
        return Workload(
            self.requests * views,
            self.most_requests * views,
            self.prompt_chars * views,
            self.most_prompt_chars * views,
            self.views * views,
        )


@dataclass(frozen=True)
class JobKind:
    """A registered kind of job (see `arcbench.jobs.registry`).

    `command` is what run.json records (`traces`, `codegen`); `offline` kinds need no language
    model (the baseline), the others need one; `needs_sandbox` kinds check programs. `create`
    makes the job for one run; `workload` says what it will ask for the selected tasks (the
    run's plan, printed before it starts).
    """

    name: str
    command: str
    offline: bool
    needs_sandbox: bool
    create: Callable[[JobContext], Job[Any]]
    workload: Callable[[Settings, Sequence[Task]], Workload]
