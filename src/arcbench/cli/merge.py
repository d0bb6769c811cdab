"""`arcbench merge INPUT…`: put the reasoning of model runs, and earlier store files, into the
store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from arcbench.cli.store import StoreOption, store_location

if TYPE_CHECKING:
    from rich.console import Console

    from arcbench.merge import MergeReport

MAX_TASK_ROWS = 50
"""Tasks listed one per row in the summary; the rest are counted."""


def merge(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="results.jsonl files, run directories, result files of the older project "
            "(.jsonl with a metadata line, or .json with metadata and results), an earlier "
            "traces_store.json, or variations lists (variations.json, dataset.json).",
            show_default=False,
            metavar="INPUT...",
        ),
    ],
    store: StoreOption = None,
    only_correct: Annotated[
        bool,
        typer.Option("--only-correct", help="Keep only traces of run attempts that were right."),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be added; change nothing.")
    ] = False,
) -> None:
    """Merge the reasoning of runs, and earlier store files, into the store (created if missing).

    Every run attempt with reasoning and no error becomes a trace of its task, by the model.

    A traces_store.json comes in with its authors, scores and voters.

    A variations list adds its task versions; identical ones are signed instead.

    Merging the same input again adds nothing. A merge is one transaction: all of it, or none.

    Examples:

        arcbench merge runs/gpt4o-mini-20

        arcbench merge runs/shard-*/ --only-correct --store data/arcbench.db

        arcbench merge data/traces_store.json data/variations.json

        arcbench merge old/reasoning_results.jsonl --dry-run
    """
    from arcbench.merge import merge_inputs

    path, timeout = store_location(store)
    report = merge_inputs(
        inputs, path, only_correct=only_correct, dry_run=dry_run, now=time.time(), timeout=timeout
    )
    _print_report(report, "" if store is None else f" --store {path}")


def _print_report(report: MergeReport, store_flag: str) -> None:
    from rich.console import Console
    from rich.table import Table

    # Paths, task ids and file contents are printed as they are, never read as markup.
    console = Console(highlight=False, soft_wrap=True, markup=False)
    stderr = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)
    for torn in report.torn:
        stderr.print(torn.describe(), style="yellow")
    verb = "would add" if report.dry_run else "added"
    console.print(
        f"{verb} {len(report.added)} traces to {report.store} from {len(report.files)} file(s)"
    )
    summary = Table(show_header=False, box=None, padding=(0, 2))
    summary.add_row(verb, str(len(report.added)))
    summary.add_row("duplicates skipped (already in the store)", str(report.duplicates))
    summary.add_row("errors skipped", str(report.errors))
    summary.add_row("no reasoning, skipped", str(report.empty))
    if report.not_correct:
        summary.add_row("not correct, skipped (--only-correct)", str(report.not_correct))
    if report.other_views:
        summary.add_row("transformed views (--augment), skipped", str(report.other_views))
    imported = report.variations
    if imported.added or imported.renumbered or imported.signed or imported.present:
        summary.add_row(f"variations {verb}", str(len(imported.added) + len(imported.renumbered)))
        summary.add_row("… under a new number (theirs was taken)", str(len(imported.renumbered)))
        summary.add_row("variations signed (same grids already stored)", str(imported.signed))
        summary.add_row("variations already stored", str(imported.present))
    console.print(summary)
    for task_id, theirs, given in imported.renumbered[:MAX_TASK_ROWS]:
        was = "no version" if theirs is None else f"version {theirs}"
        console.print(f"{task_id}: {was} in the file became version {given}")
    _print_per_task(console, report, verb)
    for path in report.not_imported:
        stderr.print(
            f"note: {path} holds data of an earlier arcbench; import it with: "
            f"arcbench merge {path}{store_flag}",
            style="yellow",
        )


def _print_per_task(console: Console, report: MergeReport, verb: str) -> None:
    from rich.table import Table

    per_task = report.per_task().most_common()
    if not per_task:
        return
    table = Table(title=f"{verb}, per task", title_justify="left")
    shown = per_task[:MAX_TASK_ROWS]
    table.add_column("task", no_wrap=True, min_width=max(len(label) for label, _ in shown))
    table.add_column("traces", justify="right")
    for label, count in shown:
        table.add_row(label, str(count))
    console.print(table)
    if len(per_task) > MAX_TASK_ROWS:
        console.print(f"… and {len(per_task) - MAX_TASK_ROWS} more tasks")
