"""Datasets and tasks: list them, read a task as a chain of transforms makes it, check an
answer, and reveal one on request. Test outputs leave the server through `answer` only."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from arcbench.catalog import known_output, version_numbers
from arcbench.datasets import BUNDLED_SPECS
from arcbench.errors import TransformError
from arcbench.scoring import compare_grids
from arcbench.store.schema import MAX_INTEGER
from arcbench.tasks import MAX_TEST_INPUTS, Task
from arcbench.transforms import apply_transforms, parse_transform
from arcbench.web.deps import Context
from arcbench.web.schemas import (
    MAX_TRANSFORMS,
    AnswerOut,
    CheckIn,
    CheckOut,
    DatasetOut,
    DatasetsOut,
    TaskListOut,
    TaskOut,
    TaskSummaryOut,
    as_response,
)

router = APIRouter(prefix="/api", tags=["tasks"])

DatasetParam = Annotated[
    str | None,
    Query(max_length=4096, description="A spec from GET /api/datasets; default: the first."),
]
TaskIdPath = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[^/\\\x00-\x1f\x7f]+$")]
VersionParam = Annotated[
    int | None, Query(ge=1, le=MAX_INTEGER, description="Version; omitted: the original.")
]
TransformsParam = Annotated[
    str,
    Query(
        max_length=4000,
        description="A chain of transform ids joined by '+', e.g. rot90+color:0312456789.",
    ),
]


@dataclass(frozen=True)
class ViewedTask:
    """A task version as the page shows it: after the chain of transforms."""

    task: Task
    dataset: str
    transforms: list[str]


def transform_ids(text: str) -> list[str]:
    """The ids of a `+`-joined chain (a `+` left unescaped in a URL arrives as a space)."""
    ids = [part for part in re.split(r"[+\s]+", text) if part]
    if len(ids) > MAX_TRANSFORMS:
        raise TransformError(f"a chain holds at most {MAX_TRANSFORMS} transforms, not {len(ids)}")
    return ids


def viewed_task(
    context: Context,
    task_id: TaskIdPath,
    dataset: DatasetParam = None,
    version: VersionParam = None,
    transforms: TransformsParam = "",
) -> ViewedTask:
    ids = transform_ids(transforms)
    chain = [parse_transform(i) for i in ids]
    spec = context.dataset(dataset).spec
    task = apply_transforms(context.task(spec, task_id, version), chain)
    return ViewedTask(task, spec, [t.id for t in chain])


Viewed = Annotated[ViewedTask, Depends(viewed_task)]


@router.get("/datasets")
def list_datasets(context: Context) -> DatasetsOut:
    """The datasets on offer; `default` is the one to show first."""
    return DatasetsOut(
        default=context.default_dataset,
        datasets=[
            DatasetOut(spec=spec, bundled=spec in BUNDLED_SPECS) for spec in context.catalog.specs
        ],
    )


@router.get("/tasks", response_model=TaskListOut)
def list_tasks(context: Context, dataset: DatasetParam = None) -> Response:
    """Every task id of a dataset with its versions (the dataset's and the stored ones)."""
    indexed = context.dataset(dataset)
    stored = context.variations.version_index()
    summaries = []
    for task_id in indexed.ids:
        first = indexed.first(task_id)
        summaries.append(
            TaskSummaryOut.model_construct(
                id=task_id,
                versions=version_numbers(indexed, task_id, stored.get(task_id, ())),
                train=len(first.train),
                test=len(first.test),
            )
        )
    return as_response(TaskListOut.model_construct(dataset=indexed.spec, tasks=summaries))


@router.get("/tasks/{task_id}", response_model=TaskOut)
def get_task(viewed: Viewed) -> Response:
    """A task version after `transforms`; test outputs are withheld."""
    return as_response(TaskOut.of(viewed.task, viewed.dataset, viewed.transforms))


@router.post("/tasks/{task_id}/check")
def check_answer(viewed: Viewed, body: CheckIn) -> CheckOut:
    """Compare a grid with the output of test input `test_index`, on the server."""
    result = compare_grids(body.grid, known_output(viewed.task, body.test_index))
    return CheckOut(
        correct=result.correct, distance=result.distance, shape_match=result.shape_match
    )


@router.get("/tasks/{task_id}/answer")
def reveal_answer(
    viewed: Viewed, test_index: Annotated[int, Query(ge=0, lt=MAX_TEST_INPUTS)] = 0
) -> AnswerOut:
    """The output of test input `test_index`: only when the person asks to see it."""
    return AnswerOut(test_index=test_index, output=known_output(viewed.task, test_index))
