"""Running `traces` and `codegen` from their flags: settings, the request, progress, the result.

Both commands take the same run options; resolving them at the edge (settings, the registry
entry, the dataset and its selection), building the model client and the sandbox, drawing
progress and printing the outcome happen here, once. The job itself runs in the library.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from arcbench.cli.progress import ProgressReporter
    from arcbench.jobs import JobRequest, JobResult


def run_job_command(
    command: str,
    *,
    model: str,
    dataset: str | None,
    selection: tuple[str | None, str | None, int | None, str | None],
    run_name: str | None,
    skip_invalid: bool,
    settings_flags: dict[str, Any],
) -> None:
    """Build the job from the command's flags (settings: flags > ARCBENCH_* > .env) and run it.

    `selection` is (--task-ids, --tasks, --max-tasks, --shard).
    """
    from arcbench.cli.tasks import load_selected
    from arcbench.jobs import JobRequest
    from arcbench.registry import load_registry
    from arcbench.selection import Selection
    from arcbench.settings import load_settings

    settings = load_settings(**settings_flags)
    entry = load_registry(settings.models_file).resolve(model)
    chosen = Selection.parse(*selection)
    loaded, tasks = load_selected(
        settings.dataset if dataset is None else dataset, chosen, skip_invalid
    )
    execute(
        JobRequest(
            command=command,
            model=entry,
            settings=settings,
            dataset=loaded,
            tasks=tasks,
            selection=chosen,
            run_name=run_name,
        )
    )


def execute(request: JobRequest) -> None:
    """Print the run's plan, run the job with a progress display, print its result; exit 130
    (143 for SIGTERM) if it was interrupted."""
    from arcbench.cli.progress import ProgressReporter
    from arcbench.interrupts import INTERRUPTS
    from arcbench.jobs import plan_run

    reporter = ProgressReporter(plan=plan_run(request))
    try:
        result = asyncio.run(_run(request, reporter))
    finally:
        reporter.close()
    print_result(result, reporter.console)
    if result.status == "interrupted" or INTERRUPTS.received:
        raise typer.Exit(INTERRUPTS.exit_code)


async def _run(request: JobRequest, reporter: ProgressReporter) -> JobResult:
    from arcbench.collaborators import open_collaborators
    from arcbench.jobs import run_job

    async with open_collaborators(
        request.kind, request.model, request.settings, on_retry=reporter.retrying
    ) as collaborators:
        return await run_job(
            request,
            model=collaborators.model,
            sandbox=collaborators.sandbox,
            reporter=reporter,
        )


def print_result(result: JobResult, console: Console) -> None:
    """The run's headline on stdout, and how to resume it on stderr when it is not finished."""
    from rich.console import Console
    from rich.table import Table

    from arcbench.manifest import CodegenCounts
    from arcbench.voting import voting_rule

    manifest = result.manifest
    score, counts = manifest.score, manifest.counts
    table = Table(title=f"{result.path} ({result.status})", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    if score is not None:
        voted = ", voted" if score.identity_view is not None else ""
        table.add_row(f"score (per task, pass@2{voted})", f"{score.score:.2%}")
        table.add_row("per test output", f"{score.per_output:.2%}")
        table.add_row("all or nothing", f"{score.all_or_nothing:.2%}")
    if score is not None and score.identity_view is not None:
        table.add_row("identity view alone", f"{score.identity_view:.2%}")
        table.add_row(f"best single view ({score.best_view_name})", f"{score.best_view or 0:.2%}")
        table.add_row("oracle (any view right)", f"{score.oracle or 0:.2%}")
        table.add_row("voting", voting_rule(isinstance(counts, CodegenCounts)))
    if counts is not None:
        table.add_row("tasks", str(counts.tasks))
    if isinstance(counts, CodegenCounts):
        if score is None or score.identity_view is None:
            table.add_row("pass@k (any program)", f"{(score.pass_at_k if score else 0) or 0:.2%}")
        table.add_row("programs checked", str(counts.programs))
        table.add_row("fit train, fail test (overfit)", str(counts.overfit_programs))
        table.add_row("replies without a program", str(counts.parse_errors))
        isolation = manifest.sandbox.isolation if manifest.sandbox else "?"
        table.add_row("sandbox isolation", isolation)
    elif counts is not None:
        table.add_row(
            "attempts done / planned", f"{counts.attempts_done} / {counts.attempts_planned}"
        )
        table.add_row("replies without a grid", str(counts.parse_errors))
    errors = counts.errors if counts is not None else 0
    table.add_row("errors", str(errors))
    if manifest.usage is not None:
        table.add_row(
            "tokens (prompt / completion)",
            f"{manifest.usage.prompt_tokens:,} / {manifest.usage.completion_tokens:,}",
        )
    table.add_row("cost", f"${manifest.cost_usd or 0.0:.4f}")
    Console(highlight=False).print(table)
    name = manifest.run_name or result.path.name
    if result.status == "stopped" and manifest.budget is not None:
        console.print(
            f"stopped: {manifest.stop_reason}, ${manifest.budget.spent_usd:.4f} spent of "
            f"--max-cost ${manifest.budget.max_cost_usd:.4f}; to go on, rerun the same command "
            f"with --run-name {name} and a higher --max-cost"
        )
    elif result.status == "interrupted" or errors:
        console.print(f"resume (retrying errors): rerun the same command with --run-name {name}")
    sys.stdout.flush()
