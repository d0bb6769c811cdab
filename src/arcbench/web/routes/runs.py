"""Runs: the run directories under `--runs`, one run with every task's outcome, one task of a
run in full, one attempt with its text, merging a run's traces into the store, and the
attempts every run made at a task (the panel beside the solve page's editor)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from arcbench.records import TaskKey
from arcbench.runindex import RunState
from arcbench.runview import AttemptView, TaskView
from arcbench.tasks import MAX_TEST_INPUTS
from arcbench.transforms import apply_to_grid, parse_transform, test_positions
from arcbench.web.deps import Context, SignedInUser
from arcbench.web.routes.tasks import TaskIdPath, TransformsParam, VersionParam, transform_ids
from arcbench.web.schemas import AttemptsOut, MergeOut, RunOut, RunsOut, as_response

router = APIRouter(prefix="/api", tags=["runs"])

RunName = Annotated[str, Path(min_length=1, max_length=200)]
RecordId = Annotated[str, Path(min_length=1, max_length=200)]


def _run(context: Context, name: str) -> RunState:
    state = context.runs.index.run(name)
    if state is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"no run directory {name!r} under the runs directory; GET /api/runs lists them",
        )
    return state


@router.get("/runs", response_model=RunsOut)
def list_runs(context: Context) -> Response:
    """Every run directory under `--runs` with its status, model, scores, tokens and cost."""
    infos = [state.info() for state in context.runs.index.runs()]
    body = RunsOut.model_construct(runs=infos).model_dump_json()
    return Response(body, media_type="application/json")


@router.get("/runs/{name}", response_model=RunOut)
def get_run(name: RunName, context: Context) -> Response:
    """One run: its summary and every task's outcome (a running run's as far as it got)."""
    state = _run(context, name)
    body = b'{"run":' + state.info().model_dump_json().encode() + b',"tasks":' + state.rows() + b"}"
    return Response(body, media_type="application/json")


@router.get("/runs/{name}/tasks/{task_id}", response_model=TaskView)
def get_run_task(
    name: RunName, task_id: TaskIdPath, context: Context, version: VersionParam = None
) -> Response:
    """One task of a run in full: train pairs, each test input with its expected output and
    the two attempts submitted, and every attempt with its reasoning, code, train results and
    predictions. The expected outputs are part of this review."""
    state = _run(context, name)
    view = state.task((task_id, version), context.runs.grids)
    if view is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"run {name} has no task {task_id} (version {version})"
        )
    return as_response(view)


@router.get("/runs/{name}/records/{record_id}", response_model=AttemptView)
def get_run_record(name: RunName, record_id: RecordId, context: Context) -> Response:
    """One attempt of a run with its text: reasoning, code (codegen) and train results."""
    attempt = _run(context, name).attempt(record_id)
    if attempt is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"run {name} has no record {record_id}")
    return as_response(attempt)


@router.post("/runs/{name}/merge")
def merge_run(name: RunName, context: Context, user: SignedInUser) -> MergeOut:
    """Merge the run's reasoning into the trace store, as `arcbench merge RUN` does: each
    attempt with reasoning becomes a trace of its task; merging again adds nothing."""
    report = context.runs.merge(_run(context, name))
    return MergeOut(
        added=len(report.added),
        duplicates=report.duplicates,
        errors=report.errors,
        empty=report.empty,
        tasks=len(report.per_task()),
    )


@router.get("/attempts/{task_id}", response_model=AttemptsOut)
def list_attempts(
    task_id: TaskIdPath,
    context: Context,
    version: VersionParam = None,
    transforms: TransformsParam = "",
    tests: Annotated[
        int, Query(ge=0, le=MAX_TEST_INPUTS, description="Test inputs of the task.")
    ] = 0,
) -> Response:
    """Every attempt any run under `--runs` made at a task version, with its predictions. With
    `transforms` (and the task's number of `tests`), predictions are shown as the chain makes
    the task: grids transformed, test inputs where swaps put them (one swapped into the train
    pairs is left out)."""
    key: TaskKey = (task_id, version)
    chain = [parse_transform(t) for t in transform_ids(transforms)]
    mapper: Any = orjson.Fragment
    if chain:
        places = test_positions(chain, tests)

        def mapper(raw: bytes) -> list[dict[str, Any]]:
            return [
                {
                    **answer,
                    "test_index": places[answer["test_index"]],
                    "prediction": apply_to_grid(answer["prediction"], chain)
                    if answer["prediction"] is not None
                    else None,
                }
                for answer in orjson.loads(raw)
                if answer["test_index"] in places
            ]

    runs = []
    for state, attempts in context.runs.index.attempts(key, mapper):
        manifest = state.manifest
        runs.append(
            {
                "name": state.name,
                "run_id": manifest.run_id if manifest else None,
                "command": manifest.command if manifest else None,
                "model": manifest.model.name if manifest else None,
                "model_id": manifest.model.model_id if manifest else None,
                "status": manifest.status if manifest else None,
                "attempts": attempts,
            }
        )
    body = {"task_id": task_id, "version": version, "runs": runs}
    return Response(orjson.dumps(body), media_type="application/json")
