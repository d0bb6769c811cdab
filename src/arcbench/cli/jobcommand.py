"""Running `traces` and `codegen` from their flags: settings, the request, progress, the result.

Both commands take the same run options; resolving them at the edge (settings, the registry
entry, the dataset and its selection), building the model client and the sandbox, drawing
progress and printing the outcome happen here, once. The job itself runs in the library.
"""

from __future__ import annotations

import asyncio
import shlex
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
    """The run's headline on stdout and, each on its own line and whole, the command to type
    next: `arcbench report` for a finished run, the full command that resumes it (on stderr)
    when it was interrupted or some attempts failed, or that goes on with a higher
    `--max-cost` when it stopped at its budget."""
    from rich.console import Console
    from rich.table import Table

    from arcbench.manifest import CodegenCounts
    from arcbench.voting import voting_rule

    manifest = result.manifest
    score, counts = manifest.score, manifest.counts
    table = Table(title=f"{manifest.command} run {result.status}", title_justify="left")
    table.show_header = False
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
    elif isinstance(counts, CodegenCounts):
        table.add_row("pass@k (any program right)", f"{(score.pass_at_k if score else 0) or 0:.2%}")
    if counts is not None:
        solved = f" ({score.tasks_solved} fully solved)" if score is not None else ""
        table.add_row("tasks", f"{counts.tasks:,}{solved}")
    if isinstance(counts, CodegenCounts):
        table.add_row("programs checked (every round)", f"{counts.programs:,}")
        table.add_row("overfitting (fit train, fail test)", str(counts.overfit_programs))
        table.add_row("replies without a program", str(counts.parse_errors))
        isolation = manifest.sandbox.isolation if manifest.sandbox else "?"
        table.add_row("sandbox isolation", isolation)
    elif counts is not None:
        planned = "?" if counts.attempts_planned is None else f"{counts.attempts_planned:,}"
        table.add_row("attempts done / planned", f"{counts.attempts_done:,} / {planned}")
        table.add_row("replies without a grid", str(counts.parse_errors))
    errors = counts.errors if counts is not None else 0
    table.add_row("errors", str(errors))
    if manifest.usage is not None:
        table.add_row(
            "tokens (prompt / completion)",
            f"{manifest.usage.prompt_tokens:,} / {manifest.usage.completion_tokens:,}",
        )
    table.add_row("cost", f"${manifest.cost_usd or 0.0:.4f}")
    out = Console(highlight=False)
    out.print(table)
    if result.status == "completed":
        out.print("report it with:")
        out.print(
            f"  arcbench report {shlex.quote(str(result.path))}", soft_wrap=True, markup=False
        )
    sys.stdout.flush()
    if result.status != "completed" or errors:
        name = manifest.run_name or result.path.name
        failed = f"{errors} failed attempt" + ("s" if errors != 1 else "")
        budget = manifest.budget if result.status == "stopped" else None
        if budget is not None:  # the same cap would stop it again at once
            retried = f" (the {failed} are retried too)" if errors else ""
            console.print(
                f"stopped: {manifest.stop_reason}, ${budget.spent_usd:.4f} spent of --max-cost "
                f"${budget.max_cost_usd:.4f}; to go on, run it again with a higher --max-cost"
                f"{retried}, such as:",
                soft_wrap=True,
                markup=False,
            )
            again = resume_command(sys.argv[1:], name, max_cost=2 * budget.max_cost_usd)
            console.print(f"  {again}", soft_wrap=True, markup=False)
            return
        why = "it was interrupted" if result.status == "interrupted" else f"it {result.status}"
        if errors:
            why = (
                f"retrying the {failed}"
                if result.status == "completed"
                else f"{why}; retrying the {failed}"
            )
        console.print(f"resume it ({why}) with:", soft_wrap=True)
        console.print(f"  {resume_command(sys.argv[1:], name)}", soft_wrap=True, markup=False)


def resume_command(args: list[str], run_name: str, max_cost: float | None = None) -> str:
    """The command line that resumes a run: the same arguments, `--run-name` added when the
    run was named by default (so that the same command would start a new run), and with
    `max_cost` the cap `--max-cost` given instead of the run's own."""
    if max_cost is not None:
        args = [*_without_option(args, "--max-cost"), "--max-cost", f"{max_cost:g}"]
    given = any(arg == "--run-name" or arg.startswith("--run-name=") for arg in args)
    return shlex.join(["arcbench", *args, *([] if given else ["--run-name", run_name])])


def _without_option(args: list[str], option: str) -> list[str]:
    """`args` without `option` and its value (`--option VALUE` or `--option=VALUE`)."""
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == option:
            skip = True
        elif not arg.startswith(f"{option}="):
            kept.append(arg)
    return kept
