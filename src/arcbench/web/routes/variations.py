"""Task variations: list a task's versions, save a chain of transforms as a new one, delete
one's own (soft: the store keeps it), and export them all."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Path, Query, Response, status

from arcbench.augment import derive_variant
from arcbench.catalog import task_versions
from arcbench.store.schema import MAX_INTEGER
from arcbench.transforms import parse_transform
from arcbench.web.deps import Context, SignedInUser
from arcbench.web.routes.tasks import DatasetParam, TaskIdPath
from arcbench.web.schemas import VariationIn, VariationSavedOut, VariationsOut, VersionOut

router = APIRouter(prefix="/api", tags=["variations"])


@router.get("/variations")
def list_variations(
    context: Context,
    dataset: DatasetParam = None,
    task_id: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> VariationsOut:
    """A task's versions (the original, the dataset's, the stored ones) with their authors and
    transforms; without `task_id`, every stored variation of the dataset's tasks."""
    indexed = context.dataset(dataset)
    if task_id is not None:
        found = task_versions(indexed, task_id, context.variations.live(task_id))
        return VariationsOut(
            versions=[VersionOut.of(v.task, "store" if v.stored else "dataset") for v in found]
        )
    return VariationsOut(
        versions=[
            VersionOut.of(entry.to_task(), "store")
            for entry in context.variations.live()
            if entry.task_id in indexed.versions
        ]
    )


@router.post(
    "/variations",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": VariationSavedOut, "description": "An identical one was signed."}},
)
def save_variation(
    body: VariationIn, context: Context, user: SignedInUser, response: Response
) -> VariationSavedOut:
    """Apply `transforms` to the task's `version` (outputs included) and store the result as a
    new version, or sign the identical stored one."""
    parent = context.task(body.dataset, body.task_id, body.version)
    dataset_versions = context.dataset(body.dataset).versions[body.task_id]
    variant = derive_variant(
        parent,
        [parse_transform(t) for t in body.transforms],
        user.name,
        datetime.now(UTC).isoformat(timespec="seconds"),
        existing=dataset_versions,
    )
    saved = context.variations.add(variant, user.name)
    if not saved.added:
        response.status_code = status.HTTP_200_OK
    return VariationSavedOut(
        variation=VersionOut.of(saved.entry.to_task(), "store"), added=saved.added
    )


@router.delete("/variations/{task_id}/{version}", status_code=status.HTTP_204_NO_CONTENT)
def delete_variation(
    task_id: TaskIdPath,
    version: Annotated[int, Path(ge=1, le=MAX_INTEGER)],
    context: Context,
    user: SignedInUser,
) -> None:
    """Delete a stored variation (its creator, or an admin); the store keeps it, hidden."""
    context.variations.delete(task_id, version, user.name, admin=user.admin)


@router.get("/export/variations")
def export_variations(context: Context) -> Response:
    """Every stored variation in the variations format (`dataset.json`, what `--dataset`
    reads), as a download."""
    return Response(
        orjson.dumps(context.variations.export()),
        media_type="application/json",
        headers={"content-disposition": 'attachment; filename="variations.json"'},
    )
