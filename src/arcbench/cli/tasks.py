"""`arcbench tasks list | show | augment`: browse datasets and write transformed variants."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from arcbench.cli.helptext import ArcbenchTyper
from arcbench.cli.options import (
    DatasetOption,
    MaxTasksOption,
    ShardOption,
    SkipInvalidOption,
    TaskIdsOption,
    TasksRangeOption,
)

if TYPE_CHECKING:
    from rich.console import Console

    from arcbench.datasets import Dataset
    from arcbench.selection import Selection
    from arcbench.tasks import Task

app = ArcbenchTyper(
    help="List and show ARC tasks, and write transformed variants of them.",
    no_args_is_help=True,
)


def _stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def load_selected(
    dataset: str, selection: Selection, skip_invalid: bool
) -> tuple[Dataset, list[Task]]:
    """Load a dataset and apply the shared selection options, reporting skipped files."""
    from arcbench.datasets import load_dataset

    loaded = load_dataset(dataset, skip_invalid=skip_invalid)
    if loaded.skipped:
        err = _stderr()
        err.print(
            f"skipped {len(loaded.skipped)} invalid task(s) in {dataset}:",
            style="yellow",
            markup=False,
        )
        for problem in loaded.skipped:
            err.print(f"  {problem}", style="yellow", markup=False)
    return loaded, selection.apply(loaded.tasks, source=dataset)


def _select(
    dataset: str | None,
    task_ids: str | None,
    tasks_range: str | None,
    max_tasks: int | None,
    shard: str | None,
    skip_invalid: bool,
) -> tuple[str, list[Task]]:
    """The dataset spec used (default: the `dataset` setting, ARCBENCH_DATASET) and the
    selected tasks."""
    from arcbench.selection import Selection

    if dataset is None:
        from arcbench.settings import load_settings

        dataset = load_settings().dataset
    selection = Selection.parse(task_ids, tasks_range, max_tasks, shard)
    return dataset, load_selected(dataset, selection, skip_invalid)[1]


@app.command("list")
def list_tasks(
    dataset: DatasetOption = None,
    task_ids: TaskIdsOption = None,
    tasks_range: TasksRangeOption = None,
    max_tasks: MaxTasksOption = None,
    shard: ShardOption = None,
    skip_invalid: SkipInvalidOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead.")] = False,
) -> None:
    """List tasks: id, version, train/test pair counts and grid sizes.

    Examples:

        arcbench tasks list --dataset arc-agi-1/training --max-tasks 20

        arcbench tasks list --dataset arc-agi-1/training --task-ids 007bbfb7 --json
    """
    spec, selected = _select(dataset, task_ids, tasks_range, max_tasks, shard, skip_invalid)
    summaries = [task.summary() for task in selected]
    if as_json:
        import orjson

        sys.stdout.buffer.write(orjson.dumps(summaries, option=orjson.OPT_INDENT_2) + b"\n")
        return
    from rich.console import Console

    from arcbench.cli.listing import Column, print_listing

    rows = [
        {
            "task": summary["id"]
            if summary["version"] is None
            else f"{summary['id']}@{summary['version']}",
            "train": str(summary["train"]),
            "test": str(summary["test"]),
            "train sizes (input→output)": _sizes(f"{i}→{o}" for i, o in summary["train_shapes"]),
            "test inputs": _sizes(i for i, _ in summary["test_shapes"]),
        }
        for summary in summaries
    ]
    columns = [
        Column("task"),
        Column("train", right=True),
        Column("test", right=True),
        Column("train sizes (input→output)", wraps=True),
        Column("test inputs", wraps=True),
    ]
    print_listing(Console(markup=False), f"{spec}: {len(selected)} tasks", columns, rows)


def _sizes(shapes: object) -> str:
    distinct = list(dict.fromkeys(shapes))  # type: ignore[call-overload]
    return ", ".join(distinct[:3]) + (f" +{len(distinct) - 3}" if len(distinct) > 3 else "")


@app.command("show")
def show_task(
    task_id: Annotated[
        str,
        typer.Argument(
            help="Task id, or ID@VERSION for one version.", metavar="TASK_ID", show_default=False
        ),
    ],
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            "-d",
            metavar="SPEC",
            help="Where to look; by default the configured dataset (ARCBENCH_DATASET), then every "
            "bundled set.",
        ),
    ] = None,
    reveal: Annotated[
        bool, typer.Option("--reveal", help="Also show the test outputs (hidden by default).")
    ] = False,
) -> None:
    """Show a task's grids in the ARC colours (plain digits when not on a terminal).

    Examples:

        arcbench tasks show 007bbfb7

        arcbench tasks show 007bbfb7 --reveal | less
    """
    from rich.console import Console

    from arcbench.datasets import find_task
    from arcbench.settings import load_settings

    task, source = find_task(task_id, dataset, first=load_settings().dataset)
    render_console = Console(highlight=False)
    from arcbench.cli.render import print_task

    print_task(render_console, task, source, reveal)


@app.command("augment")
def augment(
    out: Annotated[
        Path,
        typer.Option("--out", "-o", metavar="FILE", help="JSON file to write the variants to."),
    ],
    dataset: DatasetOption = None,
    transforms: Annotated[
        str,
        typer.Option(
            "--transforms",
            metavar="IDS",
            help="d8 (the seven non-identity symmetries) or ids such as rot90,flip_h,"
            "transpose+flip_v (a+b composes: a, then b).",
        ),
    ] = "d8",
    colors: Annotated[
        str,
        typer.Option(
            "--colors",
            metavar="MODE",
            help="Colour permutation on top of each transform: none, keep0 (0 fixed) or all.",
        ),
    ] = "none",
    color_map: Annotated[
        str | None,
        typer.Option(
            "--color-map", metavar="MAP", help="Explicit colour bijection instead, e.g. 1=2,2=1."
        ),
    ] = None,
    per_task: Annotated[
        int, typer.Option("--per-task", metavar="N", help="Variants per transform and task.")
    ] = 1,
    seed: Annotated[
        int, typer.Option("--seed", metavar="N", help="Seed of the colour permutations.")
    ] = 0,
    author: Annotated[
        str, typer.Option("--author", metavar="NAME", help="Recorded as created_by and signed_by.")
    ] = "arcbench",
    task_ids: TaskIdsOption = None,
    tasks_range: TasksRangeOption = None,
    max_tasks: MaxTasksOption = None,
    shard: ShardOption = None,
    skip_invalid: SkipInvalidOption = False,
) -> None:
    """Write transformed variants of tasks (not the originals) as a dataset.json-style list.

    Each transform gives its own variants of every task; --colors adds a colour permutation on
    top. Variants identical to the original or to another variant are skipped. The file can be
    used as --dataset by every command.

    Examples:

        arcbench tasks augment --dataset arc-agi-1/training --out variants.json

        arcbench tasks augment --transforms rot90,flip_h+transpose \\
            --colors keep0 --per-task 3 --seed 7 --max-tasks 50 \\
            --out variants.json
    """
    import orjson

    from arcbench.atomic import write_output
    from arcbench.augment import AugmentPlan, augment_tasks, parse_chains
    from arcbench.tasks import variant_entry
    from arcbench.transforms import parse_color_map

    plan = AugmentPlan(
        chains=parse_chains(transforms),
        colors=colors,
        color_map=parse_color_map(color_map) if color_map else None,
        per_task=per_task,
        seed=seed,
        author=author,
    )
    _, selected = _select(dataset, task_ids, tasks_range, max_tasks, shard, skip_invalid)
    result = augment_tasks(selected, plan)
    entries = [variant_entry(task) for task in result.variants]
    write_output(out, orjson.dumps(entries))
    _stderr().print(
        f"wrote {len(entries)} variants of {len(selected)} tasks to {out}"
        + (f" ({result.duplicates} duplicates skipped)" if result.duplicates else ""),
        markup=False,
    )
