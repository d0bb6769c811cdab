"""`arcbench traces`: reasoning and predicted grids from a model, scored, in a run directory."""

from __future__ import annotations

from arcbench.cli.jobcommand import run_job_command
from arcbench.cli.options import (
    AttemptsOption,
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
    max_cost: MaxCostOption = None,
    base_url: BaseUrlOption = None,
    out: OutOption = None,
    run_name: RunNameOption = None,
    models_file: ModelsFileOption = None,
    skip_invalid: SkipInvalidOption = False,
    augment: AugmentOption = None,
    views: ViewsOption = None,
) -> None:
    """Ask a model for step-by-step reasoning and an output grid for each test input; score them.

    Every attempt is appended to RUNS/NAME/results.jsonl the moment it finishes; run.json holds
    the configuration, status and score. Ctrl+C stops scheduling and lets requests in flight
    finish (a second Ctrl+C cancels them); running again with the same --run-name resumes.

    Examples:

        arcbench traces --model LOCAL_0 --max-concurrent 16

        arcbench traces --model openrouter/openai/gpt-4o-mini --max-tasks 20 \\
            --run-name gpt4o-mini-20

        arcbench traces --model LOCAL_0 --base-url http://gpu-box:8000/v1 \\
            --shard 1/2 --run-name shard-1

        arcbench traces --model LOCAL_0 --augment d8 --views 4
    """
    run_job_command(
        "traces",
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
        },
    )
