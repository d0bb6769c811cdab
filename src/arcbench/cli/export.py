"""`arcbench export RUN… [--store] --out FILE.jsonl`: verified traces and programs as
fine-tuning data."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from arcbench import defaults

if TYPE_CHECKING:
    from rich.console import Console

    from arcbench.export import ExportRequest, ExportSummary, RowFormat, SourceCounts

MAX_TASK_ROWS = 20
"""Tasks listed one per row in the summary; the rest are counted."""

PROGRESS_INTERVAL_S = 10.0


def export(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            metavar="FILE",
            help="The JSONL file to write (with --split-by-task: a directory).",
            show_default=False,
        ),
    ],
    runs: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Run directories (or their results.jsonl).", show_default=False, metavar="RUN..."
        ),
    ] = None,
    store: Annotated[
        bool,
        typer.Option(
            "--store",
            help="Also export the store's traces, human and merged (the store is "
            "data/arcbench.db, or ARCBENCH_STORE, or --store-file).",
        ),
    ] = False,
    store_file: Annotated[
        Path | None,
        typer.Option(
            "--store-file",
            metavar="FILE",
            help="The store to export (implies --store).",
            show_default=False,
        ),
    ] = None,
    layout: Annotated[
        str,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="chat (a messages list per row) or sharegpt (a conversations list).",
        ),
    ] = "chat",
    datasets: Annotated[
        list[str] | None,
        typer.Option(
            "--dataset",
            "-d",
            metavar="SPEC",
            help="Where to find the tasks of store traces (and of runs whose dataset moved); "
            "repeatable; default every bundled set.",
        ),
    ] = None,
    min_score: Annotated[
        int,
        typer.Option(
            "--min-score", metavar="N", help="Store traces with at least this many votes."
        ),
    ] = 0,
    include_unverified: Annotated[
        bool,
        typer.Option(
            "--include-unverified",
            help="Also write wrong or unchecked answers, marked verified: false.",
        ),
    ] = False,
    augment: Annotated[
        str | None,
        typer.Option(
            "--augment",
            metavar="SPEC",
            help="Add checked copies of every verified program for transformed tasks: d8, "
            "colors:N (random colour maps, 0 kept), ids such as rot90,flip_h or "
            "color:0213456789 (joined by + to compose). Programs only: a trace's text names "
            "colours and directions, which a transform would make false.",
        ),
    ] = None,
    split_by_task: Annotated[
        float | None,
        typer.Option(
            "--split-by-task",
            help="Write train.jsonl and val.jsonl into --out, this fraction of the tasks in "
            "val, no task in both.",
            metavar="VAL_FRACTION",
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", metavar="N", help="Seed of the split and of colors:N.")
    ] = 0,
    system: Annotated[
        str | None,
        typer.Option(
            "--system",
            metavar="TEXT",
            help="System message of every row instead of the built-in one.",
        ),
    ] = None,
    no_system: Annotated[
        bool, typer.Option("--no-system", help="Rows without a system message.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as one JSON object.")
    ] = False,
    sandbox: Annotated[
        str | None,
        typer.Option(
            "--sandbox",
            metavar="MODE",
            help="Isolation of the augmented copies' checks: full, or weak where full is "
            f"unavailable (default {defaults.SANDBOX}).",
        ),
    ] = None,
) -> None:
    """Write verified traces and programs as fine-tuning data (chat JSONL, or ShareGPT).

    A traces attempt is written when its grid was right: its prompt, then the model's reasoning
    and grid. A codegen program is written when it solved every train pair and every known test
    output: its prompt, then the reasoning and program. Store traces are written for each test
    input with a known answer. Exact duplicates are written once.

    With --augment, each verified program P also gives, for each transform T, the transformed
    task's prompt with the program T∘P∘T⁻¹, written only if the sandbox shows it solves every
    pair of that task. Traces are never augmented: their text names colours and directions.

    Examples:

        arcbench export runs/mini-codegen --out train.jsonl

        arcbench export runs/gpt4o-mini-20 runs/shard-1 --store --min-score 1 \\
            --out data.jsonl

        arcbench export --store-file backups/arcbench-monday.db \\
            --dataset arc-agi-2/evaluation --out human.jsonl

        arcbench export runs/mini-codegen --augment d8,colors:2 \\
            --split-by-task 0.1 --out split/
    """
    from arcbench.export import ExportRequest, default_system_message, parse_augment
    from arcbench.settings import load_settings
    from arcbench.store import DEFAULT_STORE, DEFAULT_TIMEOUT_S

    settings = load_settings(sandbox=sandbox, store=store_file)
    request = ExportRequest(
        out=out,
        runs=runs or [],
        store=settings.store or DEFAULT_STORE if store or store_file else None,
        store_timeout=settings.store_timeout or DEFAULT_TIMEOUT_S,
        layout=_layout(layout),
        datasets=datasets or [],
        system=None if no_system else system or default_system_message(),
        include_unverified=include_unverified,
        min_score=min_score,
        augment=parse_augment(augment, seed=seed) if augment else None,
        val_fraction=split_by_task,
        seed=seed,
        exec_timeout_s=settings.exec_timeout,
    )
    from arcbench.atomic import is_standard_output

    if as_json and is_standard_output(out):
        from arcbench.errors import ArcbenchError

        raise ArcbenchError(
            f"--json and --out {out} would both write to stdout: write the rows to a file, "
            "or leave out --json"
        )
    from rich.console import Console

    stderr = Console(stderr=True, highlight=False, soft_wrap=True)
    summary = asyncio.run(_export(request, settings.sandbox, stderr))
    if as_json:
        import sys

        import orjson

        sys.stdout.buffer.write(orjson.dumps(summary.as_dict(), option=orjson.OPT_INDENT_2))
        sys.stdout.buffer.write(b"\n")
        return
    _print_summary(summary, request, stderr)


def _layout(layout: str) -> RowFormat:
    from arcbench.errors import ArcbenchError
    from arcbench.export import FORMATS

    for known in FORMATS:
        if layout == known:
            return known
    raise ArcbenchError(f"--format {layout}: use one of {', '.join(FORMATS)}")


async def _export(request: ExportRequest, isolation: str, stderr: Console) -> ExportSummary:
    from arcbench.export import export_training_data

    last = time.monotonic()

    def progress(summary: ExportSummary) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_INTERVAL_S:
            last = now
            failed = sum(counts.failed_checks for counts in summary.sources)
            stderr.print(
                f"{summary.rows:,} rows written, {summary.checked:,} programs checked "
                f"({failed:,} copies failed)"
            )

    if request.augment is None:
        return await export_training_data(request, progress=progress)
    from arcbench.sandbox import Sandbox

    async with Sandbox(isolation, timeout_s=request.exec_timeout_s) as checker:
        return await export_training_data(request, sandbox=checker, progress=progress)


def _print_summary(summary: ExportSummary, request: ExportRequest, stderr: Console) -> None:
    from rich.console import Console
    from rich.table import Table

    from arcbench.atomic import is_stream

    # Rows written to /dev/stdout or a pipe leave stdout to them: the summary goes to stderr.
    console = stderr if is_stream(request.out) else Console(highlight=False)
    table = Table(title="exported", title_justify="left")
    for name, justify in (
        ("source", "left"),
        ("read", "right"),
        ("verified", "right"),
        ("dupl.", "right"),
        ("rows", "right"),
        ("augm.", "right"),
        ("failed chk", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for counts in summary.sources:
        table.add_row(
            counts.name,
            f"{counts.records:,}",
            f"{counts.verified:,}",
            f"{counts.duplicates:,}",
            f"{counts.written:,}",
            f"{counts.augmented:,}",
            f"{counts.failed_checks:,}",
        )
    console.print(table)
    for counts in summary.sources:
        for line in _skipped(counts, request):
            console.print(f"{counts.name}: {line}")
    _print_tasks(console, summary)
    for written in summary.files:
        console.print(f"wrote {written.rows:,} rows of {written.tasks:,} tasks to {written.path}")
    for counts in summary.sources:
        for note in counts.notes:
            stderr.print(f"note: {counts.name}: {note}", style="yellow")
        if counts.missing:
            shown = ", ".join(counts.missing)
            more = counts.task_not_found + counts.not_augmented - len(counts.missing)
            stderr.print(
                f"{counts.name}: tasks not found ({shown}{', …' if more > 0 else ''}); "
                "say where they are with --dataset",
                style="yellow",
            )


def _skipped(counts: SourceCounts, request: ExportRequest) -> list[str]:
    """What a source left out, and why, one phrase per reason."""
    reasons = [
        (counts.failed, "failed attempts"),
        (counts.no_answer, "without an answer"),
        (
            counts.not_verified,
            "not verified (--include-unverified writes them)",
        ),
        (counts.below_score, f"below --min-score {request.min_score}"),
        (counts.task_not_found, "whose task was not found"),
    ]
    lines = []
    left_out = [f"{count:,} {why}" for count, why in reasons if count]
    if left_out:
        lines.append("left out " + ", ".join(left_out))
    if counts.contradicted:
        lines.append(
            f"{counts.contradicted:,} records said right, their task's answer (or the sandbox) "
            "says wrong: left out as not verified"
        )
    if counts.unverified:
        lines.append(f"{counts.unverified:,} unverified written, marked verified: false")
    if counts.unchanged:
        lines.append(f"{counts.unchanged:,} copies not made: the transform gave back the task")
    if counts.not_augmented:
        lines.append(f"{counts.not_augmented:,} verified programs not augmented: task not found")
    return lines


def _print_tasks(console: Console, summary: ExportSummary) -> None:
    from rich.table import Table

    per_task = summary.per_task.most_common()
    if not per_task:
        return
    table = Table(title="rows per task", title_justify="left")
    table.add_column("task")
    table.add_column("rows", justify="right")
    for label, count in per_task[:MAX_TASK_ROWS]:
        table.add_row(label, f"{count:,}")
    console.print(table)
    if len(per_task) > MAX_TASK_ROWS:
        console.print(f"… and {len(per_task) - MAX_TASK_ROWS:,} more tasks")
