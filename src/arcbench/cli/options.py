"""Option declarations shared by several commands, so each reads and behaves the same."""

from __future__ import annotations

from typing import Annotated

import typer

DatasetOption = Annotated[
    str,
    typer.Option(
        "--dataset",
        "-d",
        help="arc-agi-1/training, arc-agi-1/evaluation, arc-agi-2/training, "
        "arc-agi-2/evaluation, a directory of <task_id>.json files, or a .json task file.",
        show_default=True,
    ),
]
TaskIdsOption = Annotated[
    str | None,
    typer.Option(
        "--task-ids", help="Comma-separated task ids (ID, or ID@VERSION for one version)."
    ),
]
TasksRangeOption = Annotated[
    str | None,
    typer.Option("--tasks", help="START:END slice of the dataset's task order, e.g. 0:50."),
]
MaxTasksOption = Annotated[
    int | None, typer.Option("--max-tasks", help="Use at most N tasks (after --tasks).")
]
ShardOption = Annotated[
    str | None,
    typer.Option("--shard", help="I/N: the I-th of N disjoint shards of the selection, e.g. 1/4."),
]
SkipInvalidOption = Annotated[
    bool,
    typer.Option(
        "--skip-invalid", help="Load the valid tasks of a dataset and report the invalid ones."
    ),
]
