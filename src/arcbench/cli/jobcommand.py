"""Running `traces` and `codegen` from their flags: settings, the request, progress, the result.

Both commands take the same run options; building the request from them, drawing progress and
printing the outcome happen here, once.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from arcbench.jobs import Command, JobRequest, JobResult


def run_job_command(
    command: Command,
    *,
    model: str,
    dataset: str | None,
    selection: tuple[str | None, str | None, int | None, str | None],
    run_name: str | None,
    skip_invalid: bool,
    settings_flags: dict[str, Any],
    **options: Any,
) -> None:
    """Build the job from the command's flags (settings: flags > ARCBENCH_* > .env) and run it.

    `selection` is (--task-ids, --tasks, --max-tasks, --shard); `options` are the command's
    own `JobRequest` fields (codegen's rounds, exec timeout, sandbox).
    """
    from arcbench.jobs import JobRequest
    from arcbench.selection import Selection
    from arcbench.settings import load_settings

    settings = load_settings(**settings_flags)
    execute(
        JobRequest(
            model=model,
            settings=settings,
            dataset=dataset or settings.dataset,
            command=command,
            selection=Selection.parse(*selection),
            run_name=run_name,
            skip_invalid=skip_invalid,
            **options,
        )
    )


def execute(request: JobRequest) -> None:
    """Run a job with a progress display, print its result; exit 130 if it was interrupted."""
    from arcbench.cli.progress import ProgressReporter
    from arcbench.jobs import run_job

    reporter = ProgressReporter()
    try:
        result = asyncio.run(run_job(request, reporter))
    finally:
        reporter.close()
    print_result(result, reporter.console)
    if result.status == "interrupted":
        raise typer.Exit(130)


def print_result(result: JobResult, console: Any) -> None:
    """The run's headline on stdout, and how to resume it on stderr when it is not finished."""
    from rich.console import Console
    from rich.table import Table

    manifest = result.manifest
    score = manifest.get("score", {})
    counts = manifest.get("counts", {})
    table = Table(title=f"{result.path} ({result.status})", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("score (per task, pass@2)", f"{score.get('score', 0.0):.2%}")
    table.add_row("per test output", f"{score.get('per_output', 0.0):.2%}")
    table.add_row("all or nothing", f"{score.get('all_or_nothing', 0.0):.2%}")
    table.add_row("tasks", str(counts.get("tasks", 0)))
    if manifest.get("command") == "codegen":
        table.add_row("pass@k (any program)", f"{score.get('pass_at_k', 0.0):.2%}")
        table.add_row("programs checked", str(counts.get("programs", 0)))
        table.add_row("fit train, fail test (overfit)", str(counts.get("overfit_programs", 0)))
        table.add_row("replies without a program", str(counts.get("parse_errors", 0)))
        isolation = (manifest.get("sandbox") or {}).get("isolation", "?")
        table.add_row("sandbox isolation", isolation)
    else:
        table.add_row(
            "attempts done / planned",
            f"{counts.get('attempts_done', 0)} / {counts.get('attempts_planned', 0)}",
        )
        table.add_row("replies without a grid", str(counts.get("parse_errors", 0)))
    table.add_row("errors", str(counts.get("errors", 0)))
    usage = manifest.get("usage", {})
    table.add_row(
        "tokens (prompt / completion)",
        f"{usage.get('prompt_tokens', 0):,} / {usage.get('completion_tokens', 0):,}",
    )
    table.add_row("cost", f"${manifest.get('cost_usd', 0.0):.4f}")
    Console(highlight=False).print(table)
    name = manifest.get("config", {}).get("run_name", result.path.name)
    if result.status == "interrupted" or counts.get("errors"):
        console.print(f"resume (retrying errors): rerun the same command with --run-name {name}")
    sys.stdout.flush()
