"""`arcbench merge RESULTS…`: put the reasoning of model runs into the trace store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from arcbench.merge import MergeReport

MAX_TASK_ROWS = 50
"""Tasks listed one per row in the summary; the rest are counted."""


def merge(
    results: Annotated[
        list[Path],
        typer.Argument(
            help="results.jsonl files, run directories, or result files of the older project "
            "(.jsonl with a metadata line, or .json with metadata and results).",
            show_default=False,
        ),
    ],
    store: Annotated[
        Path,
        typer.Option("--store", help="The trace store to merge into; created if missing."),
    ] = Path("data/traces_store.json"),
    only_correct: Annotated[
        bool, typer.Option("--only-correct", help="Keep only traces of attempts that were right.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be added; change nothing.")
    ] = False,
) -> None:
    """Merge the reasoning of runs into the trace store, once per attempt.

    Every attempt with reasoning and no error becomes a trace of its task, by the model.

    Merging the same run again adds nothing.

    Examples:

        arcbench merge runs/qwen-eval

        arcbench merge runs/shard-*/ --only-correct --store data/traces_store.json

        arcbench merge old_results/reasoning_data_results_20250504.jsonl --dry-run
    """
    from arcbench.merge import merge_results

    report = merge_results(
        results, store, only_correct=only_correct, dry_run=dry_run, now=time.time()
    )
    _print_report(report)


def _print_report(report: MergeReport) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    for torn in report.torn:
        Console(stderr=True, highlight=False).print(torn.describe(), style="yellow")
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
    console.print(summary)
    per_task = report.per_task().most_common()
    if not per_task:
        return
    table = Table(title=f"{verb}, per task", title_justify="left")
    table.add_column("task")
    table.add_column("traces", justify="right")
    for label, count in per_task[:MAX_TASK_ROWS]:
        table.add_row(label, str(count))
    console.print(table)
    if len(per_task) > MAX_TASK_ROWS:
        console.print(f"… and {len(per_task) - MAX_TASK_ROWS} more tasks")
