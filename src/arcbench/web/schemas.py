"""The JSON the web app's API reads and writes: every request and response as a pydantic model.

These models are the API's contract (FastAPI publishes them at `/openapi.json`) and its first
line of defence: a body that does not fit (a grid that is not an ARC grid, a float where a
count belongs, a name with control characters, too many transforms) is refused with 422 before
any handler runs. Test outputs have no field in any task response: only `AnswerOut` carries one.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from arcbench.runindex import RunInfo
from arcbench.runview import TaskOutcome
from arcbench.store import Trace
from arcbench.store.schema import MAX_INTEGER
from arcbench.tasks import Grid, Task

MAX_TRANSFORMS = 32
"""Transforms in one chain; far more than anyone composes by hand, few enough to apply at once."""

Name = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=40, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]
"""A display name: 1-40 printable characters (shown as text, never as HTML)."""

TaskId = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^/\\\x00-\x1f\x7f]+$")
]
TransformId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
DatasetSpec = Annotated[str, StringConstraints(min_length=1, max_length=4096)]
Version = Annotated[int, Field(strict=True, ge=1, le=MAX_INTEGER)]
"""A task version number: what the store can hold and a browser reads exactly."""


class _In(BaseModel):
    """Request bodies: unknown fields are refused, so a typo is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid")


class DatasetOut(BaseModel):
    spec: str
    bundled: bool


class DatasetsOut(BaseModel):
    default: str = Field(description="The dataset to show first.")
    datasets: list[DatasetOut]


class TaskSummaryOut(BaseModel):
    id: str
    versions: list[int | None] = Field(description="Version numbers; null is the original task.")
    train: int = Field(description="Train pairs of the first version.")
    test: int = Field(description="Test inputs of the first version.")


class TaskListOut(BaseModel):
    dataset: str
    tasks: list[TaskSummaryOut]


class PairOut(BaseModel):
    input: Grid
    output: Grid


class TestInputOut(BaseModel):
    """A test input without its output: checking and revealing are separate requests."""

    __test__ = False  # not a pytest test class, despite the name

    input: Grid
    answer_known: bool = Field(description="Whether the output is known (can be checked).")


class TaskOut(BaseModel):
    id: str
    version: int | None
    dataset: str
    transforms: list[str] = Field(description="The chain applied to the version, in order.")
    train: list[PairOut]
    test: list[TestInputOut]

    @classmethod
    def of(cls, task: Task, dataset: str, transforms: list[str]) -> TaskOut:
        """The task as the page sees it. Built without validating its grids again: a `Task`
        holds valid grids, and a 30x30 task would spend milliseconds proving it twice."""
        return cls.model_construct(
            id=task.id,
            version=task.version,
            dataset=dataset,
            transforms=transforms,
            train=[PairOut.model_construct(input=p.input, output=p.output) for p in task.train],
            test=[
                TestInputOut.model_construct(input=t.input, answer_known=t.output is not None)
                for t in task.test
            ],
        )


class CheckIn(_In):
    test_index: Annotated[int, Field(strict=True, ge=0, le=999)]
    grid: Grid


class CheckOut(BaseModel):
    correct: bool
    distance: float = Field(description="Share of differing cells; 1.0 when the shapes differ.")
    shape_match: bool


class AnswerOut(BaseModel):
    test_index: int
    output: Grid


class SessionIn(_In):
    name: Name
    admin_token: Annotated[str, StringConstraints(max_length=200)] | None = None


class SessionOut(BaseModel):
    name: str | None = Field(description="The display name, or null before one is set.")
    admin: bool = False


class VersionOut(BaseModel):
    """One version of a task: the original, a version of the dataset, or a stored variation."""

    task_id: str
    version: int | None
    source: Literal["dataset", "store"]
    parent_version: int | None = None
    transforms: list[str] = Field(default_factory=list)
    color_map: list[int] | None = None
    created_by: str | None = None
    created_at: str | None = None
    signed_by: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, task: Task, source: Literal["dataset", "store"]) -> VersionOut:
        made = task.provenance.model_dump() if task.provenance else {}
        return cls(task_id=task.id, version=task.version, source=source, **made)


class VariationsOut(BaseModel):
    versions: list[VersionOut]


class VariationIn(_In):
    task_id: TaskId
    dataset: DatasetSpec
    version: Version | None = Field(description="The parent's version; null for the original.")
    transforms: Annotated[list[TransformId], Field(min_length=1, max_length=MAX_TRANSFORMS)]


class VariationSavedOut(BaseModel):
    variation: VersionOut
    added: bool = Field(description="False: an identical variation existed and was signed.")


MAX_TRACE_CHARS = 16_000
"""A person's trace: pages of reasoning, well inside the request size limit however it is
encoded."""

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _trace_text(text: str) -> str:
    if not text.strip():
        raise ValueError("a trace needs some text")
    if _CONTROL.search(text):
        raise ValueError("a trace's text may not hold control characters (tabs and newlines may)")
    return text


TraceText = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_TRACE_CHARS), AfterValidator(_trace_text)
]
"""What a person writes: any text (shown as text, never as HTML), tabs and newlines included."""


class TraceIn(_In):
    text: TraceText
    version: Version | None = Field(None, description="The task version; null: the original.")


class TraceEditIn(_In):
    text: TraceText


class VoteIn(_In):
    vote: Annotated[int, Field(strict=True, ge=-1, le=1)] = Field(
        description="+1 or -1; 0 withdraws your vote."
    )


class TraceSourceOut(BaseModel):
    """Where a merged model trace came from."""

    run_id: str | None
    record_id: str
    model: str | None
    correct: bool | list[bool | None] | None
    command: str | None


class TraceOut(BaseModel):
    """A trace as the page shows it to the session's user."""

    trace_id: str
    task_id: str
    version: int | None
    username: str
    text: str = Field(description="Plain text: show it as text, never as HTML.")
    score: int
    votes: int = Field(description="How many people voted.")
    my_vote: int = Field(description="The session user's vote: 1, -1, or 0 for none.")
    timestamp: float | str = Field(description="When it was written (Unix seconds).")
    edited_at: float | None
    source: TraceSourceOut | None = Field(description="For a merged model trace: its run.")
    can_edit: bool = Field(description="Whether the session user wrote it.")
    can_delete: bool = Field(description="Whether the session user wrote it or is an admin.")

    @classmethod
    def of(cls, trace: Trace, user: str | None, admin: bool) -> TraceOut:
        """The trace for `user` (None: no session). Built without validating again: the
        store's `Trace` is validated, and a task's hundreds of traces would pay twice."""
        mine = user is not None and trace.username == user
        source = trace.source
        return cls.model_construct(
            trace_id=trace.trace_id,
            task_id=trace.task_id,
            version=trace.version,
            username=trace.username,
            text=trace.text,
            score=trace.score,
            votes=len(trace.voters),
            my_vote=trace.voters.get(user, 0) if user is not None else 0,
            timestamp=trace.timestamp,
            edited_at=trace.edited_at,
            source=None
            if source is None
            else TraceSourceOut.model_construct(
                run_id=source.run_id,
                record_id=source.record_id,
                model=source.model,
                correct=source.correct,
                command=source.command,
            ),
            can_edit=mine,
            can_delete=mine or (admin and user is not None),
        )


class TracesOut(BaseModel):
    task_id: str
    version: int | None
    traces: list[TraceOut] = Field(description="Best score first, then oldest first.")


class RunsOut(BaseModel):
    runs: list[RunInfo] = Field(description="Every run directory under --runs, by name.")


class RunOut(BaseModel):
    run: RunInfo
    tasks: list[TaskOutcome] = Field(description="Every task: the run's own, then any other.")


class MergeOut(BaseModel):
    """What merging a run's traces into the store did (`arcbench merge RUN`)."""

    added: int = Field(description="Traces added.")
    duplicates: int = Field(description="Already in the store (merged before).")
    errors: int = Field(description="Failed attempts, skipped.")
    empty: int = Field(description="Attempts without reasoning, skipped.")
    tasks: int = Field(description="Tasks that got a trace.")


class PanelAnswerOut(BaseModel):
    test_index: int
    prediction: Grid | None
    correct: bool | None


class PanelAttemptOut(BaseModel):
    """One attempt of a run at the open task, as the attempts panel lists it."""

    record_id: str
    attempt: int
    round: int
    test_index: int | None = Field(description="traces: the test input; codegen: null (all).")
    model: str | None
    outcome: Literal["error", "parse_error", "correct", "answered"]
    submitted: bool = Field(description="Counts as attempt 1 or 2 of a test output.")
    final: bool = Field(description="codegen: the last round of its attempt.")
    answers: list[PanelAnswerOut] = Field(
        description="Per test input, as the page shows the task (after its transforms)."
    )


class PanelRunOut(BaseModel):
    name: str
    run_id: str | None
    command: str | None
    model: str | None
    model_id: str | None
    status: str | None
    attempts: list[PanelAttemptOut]


class AttemptsOut(BaseModel):
    task_id: str
    version: int | None
    runs: list[PanelRunOut] = Field(description="Runs with an attempt at the task, by name.")


class ErrorOut(BaseModel):
    detail: str


def as_response(model: BaseModel) -> Response:
    """`model` as a JSON response, serialised by pydantic's core in one call. Handlers that
    answer with large grids return this (and name their model in `response_model`, for the
    schema): FastAPI would otherwise validate and encode the answer again, most of a read's
    cost for a task of 30x30 grids."""
    return Response(model.model_dump_json(), media_type="application/json")
