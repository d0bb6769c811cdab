"""Option declarations shared by several commands, so each reads and behaves the same."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from arcbench import defaults

DatasetOption = Annotated[
    str | None,
    typer.Option(
        "--dataset",
        "-d",
        help="arc-agi-1/training, arc-agi-1/evaluation, arc-agi-2/training, "
        "arc-agi-2/evaluation, a directory of <task_id>.json files, or a .json task file "
        f"(default: ARCBENCH_DATASET, else {defaults.DATASET}).",
    ),
]
TaskIdsOption = Annotated[
    str | None,
    typer.Option(
        "--task-ids", help="Comma-separated task ids (ID, or ID@VERSION for one version)."
    ),
]
TasksRangeOption = Annotated[
    str | None,
    typer.Option("--tasks", help="START:END slice of the dataset's task order, e.g. 0:50."),
]
MaxTasksOption = Annotated[
    int | None, typer.Option("--max-tasks", help="Use at most N tasks (after --tasks).")
]
ShardOption = Annotated[
    str | None,
    typer.Option("--shard", help="I/N: the I-th of N disjoint shards of the selection, e.g. 1/4."),
]
SkipInvalidOption = Annotated[
    bool,
    typer.Option(
        "--skip-invalid", help="Load the valid tasks of a dataset and report the invalid ones."
    ),
]

# --- options of the model-calling commands (traces, codegen) ---

ModelOption = Annotated[
    str,
    typer.Option(
        "--model", "-m", help="Registry name: LOCAL_0, openrouter/<vendor>/<model>, or models.toml."
    ),
]
RunDatasetOption = Annotated[
    str | None,
    typer.Option(
        "--dataset",
        "-d",
        help=f"Bundled set (default {defaults.DATASET}), a task directory, or a .json file.",
    ),
]
MaxConcurrentOption = Annotated[
    int | None,
    typer.Option(
        "--max-concurrent",
        "-j",
        help=f"Requests in flight at once (default {defaults.MAX_CONCURRENT}).",
    ),
]
AttemptsOption = Annotated[
    int | None,
    typer.Option("--attempts", help=f"Attempts per test input (default {defaults.ATTEMPTS})."),
]
TemperatureOption = Annotated[
    float | None, typer.Option("--temperature", help="Sampling temperature.")
]
MaxTokensOption = Annotated[
    int | None, typer.Option("--max-tokens", help="Completion token limit.")
]
TimeoutOption = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        help=f"Seconds one attempt may take, retries included (default {defaults.TIMEOUT_S:g}).",
    ),
]
RetriesOption = Annotated[
    int | None,
    typer.Option("--retries", help=f"Retries of a failed request (default {defaults.RETRIES})."),
]
RateLimitOption = Annotated[
    float | None, typer.Option("--rate-limit", help="Requests per minute, retries included.")
]
MaxCostOption = Annotated[
    float | None,
    typer.Option(
        "--max-cost",
        help="US dollars the run may spend in all: no request starts that could pass it (needs "
        "the model's prices and --max-tokens). Resume with a higher cap to go on.",
        metavar="USD",
    ),
]
BaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--base-url", help="Replace the model's endpoint for this run (its key is sent there)."
    ),
]
OutOption = Annotated[
    Path | None,
    typer.Option("--out", "-o", help=f"Directory of run directories (default {defaults.OUT})."),
]
RunNameOption = Annotated[
    str | None,
    typer.Option("--run-name", help="Name of the run directory; an existing one is resumed."),
]
ModelsFileOption = Annotated[
    Path | None, typer.Option("--models-file", help="models.toml to use instead of ./models.toml.")
]
AugmentOption = Annotated[
    str | None,
    typer.Option(
        "--augment",
        help="Test-time augmentation: ask every task in views and vote on the answers mapped "
        "back. d8 (the 8 symmetries), colors:N (N colour permutations keeping 0), d8+colors:N, "
        "or transform ids (rot90,flip_h,…); the identity view is always asked.",
    ),
]
ViewsOption = Annotated[
    int | None,
    typer.Option(
        "--views",
        help="With --augment: views per task, the identity and K-1 others drawn with a seed "
        "(default: every view the SPEC gives).",
    ),
]
