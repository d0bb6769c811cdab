"""`arcbench traces`: reasoning and predicted grids from a model, scored, in a run directory."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any

import typer

from arcbench.cli.options import (
    AttemptsOption,
    BaseUrlOption,
    MaxConcurrentOption,
    MaxTasksOption,
    MaxTokensOption,
    ModelOption,
    ModelsFileOption,
    OutOption,
    RateLimitOption,
    RetriesOption,
    RunDatasetOption,
    RunNameOption,
    ShardOption,
    SkipInvalidOption,
    TaskIdsOption,
    TasksRangeOption,
    TemperatureOption,
    TimeoutOption,
)

if TYPE_CHECKING:
    from arcbench.jobs import JobRequest, JobResult


def traces(
    model: ModelOption,
    dataset: RunDatasetOption = None,
    task_ids: TaskIdsOption = None,
    tasks_range: TasksRangeOption = None,
    max_tasks: MaxTasksOption = None,
    shard: ShardOption = None,
    max_concurrent: MaxConcurrentOption = None,
    attempts: AttemptsOption = None,
    temperature: TemperatureOption = None,
    max_tokens: MaxTokensOption = None,
    timeout: TimeoutOption = None,
    retries: RetriesOption = None,
    rate_limit: RateLimitOption = None,
    base_url: BaseUrlOption = None,
    out: OutOption = None,
    run_name: RunNameOption = None,
    models_file: ModelsFileOption = None,
    skip_invalid: SkipInvalidOption = False,
) -> None:
    """Ask a model for step-by-step reasoning and an output grid for each test input; score them.

    Every attempt is appended to RUNS/NAME/results.jsonl the moment it finishes; run.json holds
    the configuration, status and score. Ctrl+C stops scheduling and lets requests in flight
    finish (a second Ctrl+C cancels them); running again with the same --run-name resumes.

    Examples:

        arcbench traces --model LOCAL_0 --max-concurrent 16

        arcbench traces --model openrouter/openai/gpt-4o-mini --dataset arc-agi-1/evaluation \\
            --max-tasks 20 --run-name gpt4o-mini-eval20

        arcbench traces --model LOCAL_0 --base-url http://gpu-box:8000/v1 --shard 1/4
    """
    from arcbench.jobs import JobRequest
    from arcbench.selection import Selection
    from arcbench.settings import load_settings

    settings = load_settings(
        max_concurrent=max_concurrent,
        attempts=attempts,
        temperature=temperature,
        max_tokens=max_tokens,
        timeout=timeout,
        retries=retries,
        rate_limit=rate_limit,
        base_url=base_url,
        out=out,
        models_file=models_file,
    )
    request = JobRequest(
        model=model,
        settings=settings,
        dataset=dataset or settings.dataset,
        selection=Selection.parse(task_ids, tasks_range, max_tasks, shard),
        run_name=run_name,
        skip_invalid=skip_invalid,
    )
    execute(request)


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
