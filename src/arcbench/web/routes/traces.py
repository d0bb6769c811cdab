"""Reasoning traces: a task version's traces, best first; writing, editing and deleting one's
own (an admin may delete any); one vote per person and trace (0 withdraws it); and the export
of them all in the original `traces_store.json` format."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from arcbench.web.deps import Context, CurrentUser, SignedInUser
from arcbench.web.routes.tasks import TaskIdPath, VersionParam
from arcbench.web.schemas import (
    TraceEditIn,
    TraceIn,
    TraceOut,
    TracesOut,
    VoteIn,
    as_response,
)
from arcbench.web.session import User

router = APIRouter(prefix="/api", tags=["traces"])

TraceIdPath = Annotated[str, Path(min_length=1, max_length=300)]


def _shown(user: User | None) -> tuple[str | None, bool]:
    return (None, False) if user is None else (user.name, user.admin)


@router.get("/traces/{task_id}", response_model=TracesOut)
def list_traces(
    task_id: TaskIdPath, context: Context, user: CurrentUser, version: VersionParam = None
) -> Response:
    """The traces written for one version of a task (omitted: the original), best score
    first, then oldest first; `my_vote`, `can_edit` and `can_delete` are the session user's."""
    name, admin = _shown(user)
    traces = [TraceOut.of(t, name, admin) for t in context.traces.of_task(task_id, version)]
    return as_response(TracesOut.model_construct(task_id=task_id, version=version, traces=traces))


@router.post("/traces/{task_id}", status_code=status.HTTP_201_CREATED)
def add_trace(task_id: TaskIdPath, body: TraceIn, context: Context, user: SignedInUser) -> TraceOut:
    """Write a trace for a task version; it is yours to edit and delete."""
    trace = context.traces.add(task_id, body.version, user.name, body.text)
    return TraceOut.of(trace, user.name, user.admin)


@router.patch("/traces/{trace_id}")
def edit_trace(
    trace_id: TraceIdPath, body: TraceEditIn, context: Context, user: SignedInUser
) -> TraceOut:
    """Replace the text of a trace you wrote (403 for anyone else's)."""
    return TraceOut.of(context.traces.edit(trace_id, user.name, body.text), user.name, user.admin)


@router.delete("/traces/{trace_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_trace(trace_id: TraceIdPath, context: Context, user: SignedInUser) -> None:
    """Delete a trace you wrote, with its votes (an admin may delete any)."""
    context.traces.delete(trace_id, user.name, admin=user.admin)


@router.post("/traces/{trace_id}/vote")
def vote(trace_id: TraceIdPath, body: VoteIn, context: Context, user: SignedInUser) -> TraceOut:
    """Vote +1 or -1 (replacing your earlier vote), or 0 to withdraw it: one vote per person."""
    trace = context.traces.vote(trace_id, user.name, body.vote)
    return TraceOut.of(trace, user.name, user.admin)


@router.get("/export/traces")
def export_traces(context: Context) -> Response:
    """Every trace in the original `traces_store.json` format (what `arcbench store export`
    writes and `arcbench merge` reads back), as a download."""
    return Response(
        context.traces.export(),
        media_type="application/json",
        headers={"content-disposition": 'attachment; filename="traces_store.json"'},
    )
