"""`arcbench codegen`: programs from a model, checked in the sandbox on every pair, scored."""

from __future__ import annotations

from typing import Annotated

import typer

from arcbench import defaults
from arcbench.cli.jobcommand import run_job_command
from arcbench.cli.options import (
    AugmentOption,
    BaseUrlOption,
    MaxConcurrentOption,
    MaxCostOption,
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
    ViewsOption,
)


def codegen(
    model: ModelOption,
    dataset: RunDatasetOption = None,
    task_ids: TaskIdsOption = None,
    tasks_range: TasksRangeOption = None,
    max_tasks: MaxTasksOption = None,
    shard: ShardOption = None,
    max_concurrent: MaxConcurrentOption = None,
    attempts: Annotated[
        int | None,
        typer.Option(
            "--attempts",
            metavar="N",
            help=f"Programs sampled per task (default {defaults.ATTEMPTS}; not for baseline).",
        ),
    ] = None,
    rounds: Annotated[
        int | None,
        typer.Option(
            "--rounds",
            metavar="R",
            help=f"Repair rounds after a program fails a train pair (default {defaults.ROUNDS}).",
        ),
    ] = None,
    exec_timeout: Annotated[
        float | None,
        typer.Option(
            "--exec-timeout",
            metavar="SECONDS",
            help="Wall seconds for one program on one input "
            f"(default {defaults.EXEC_TIMEOUT_S:g}).",
        ),
    ] = None,
    sandbox: Annotated[
        str | None,
        typer.Option(
            "--sandbox",
            metavar="MODE",
            help="full (namespaces) or weak (no namespaces; only where full isolation is "
            f"unavailable, and recorded in run.json); default {defaults.SANDBOX}.",
        ),
    ] = None,
    temperature: TemperatureOption = None,
    max_tokens: MaxTokensOption = None,
    timeout: TimeoutOption = None,
    retries: RetriesOption = None,
    rate_limit: RateLimitOption = None,
    max_cost: MaxCostOption = None,
    base_url: BaseUrlOption = None,
    out: OutOption = None,
    run_name: RunNameOption = None,
    models_file: ModelsFileOption = None,
    skip_invalid: SkipInvalidOption = False,
    augment: AugmentOption = None,
    views: ViewsOption = None,
) -> None:
    """Ask a model for reasoning and a Python transform(grid) program; check it in the sandbox.

    Each program runs on every train input and every test input, isolated from the machine.
    With --rounds R, a program that gets a train pair wrong is shown its failures and repaired
    up to R times. Two programs per task are submitted, chosen by train accuracy. --model
    baseline checks a catalog of whole-grid rules offline, with no model server.

    Examples:

        arcbench codegen --model baseline --dataset arc-agi-1/training

        arcbench codegen --model LOCAL_0 --max-concurrent 8 --rounds 2

        arcbench codegen --model openrouter/openai/gpt-4o-mini --max-tasks 20 \\
            --attempts 4 --run-name mini-codegen

        arcbench codegen --model baseline --dataset arc-agi-1/evaluation \\
            --augment d8
    """
    run_job_command(
        "codegen",
        model=model,
        dataset=dataset,
        selection=(task_ids, tasks_range, max_tasks, shard),
        run_name=run_name,
        skip_invalid=skip_invalid,
        settings_flags={
            "max_concurrent": max_concurrent,
            "attempts": attempts,
            "temperature": temperature,
            "max_tokens": max_tokens,
            "timeout": timeout,
            "retries": retries,
            "rate_limit": rate_limit,
            "max_cost": max_cost,
            "base_url": base_url,
            "out": out,
            "models_file": models_file,
            "augment": augment,
            "views": views,
            "rounds": rounds,
            "exec_timeout": exec_timeout,
            "sandbox": sandbox,
        },
    )
