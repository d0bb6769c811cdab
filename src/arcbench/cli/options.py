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
        metavar="SPEC",
        help="arc-agi-1/training, arc-agi-1/evaluation, arc-agi-2/training, "
        "arc-agi-2/evaluation, a directory of <task_id>.json files, or a .json task file "
        f"(default: ARCBENCH_DATASET, else {defaults.DATASET}).",
    ),
]
TaskIdsOption = Annotated[
    str | None,
    typer.Option(
        "--task-ids",
        metavar="IDS",
        help="Comma-separated task ids (ID, or ID@VERSION for one version).",
    ),
]
TasksRangeOption = Annotated[
    str | None,
    typer.Option(
        "--tasks",
        metavar="START:END",
        help="START:END slice of the dataset's task order, e.g. 0:50.",
    ),
]
MaxTasksOption = Annotated[
    int | None,
    typer.Option("--max-tasks", metavar="N", help="Use at most N tasks (after --tasks)."),
]
ShardOption = Annotated[
    str | None,
    typer.Option(
        "--shard",
        metavar="I/N",
        help="I/N: the I-th of N disjoint shards of the selection, e.g. 1/4.",
    ),
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
        "--model",
        "-m",
        metavar="NAME",
        help="Registry name: LOCAL_0, openrouter/<vendor>/<model>, or models.toml.",
    ),
]
RunDatasetOption = Annotated[
    str | None,
    typer.Option(
        "--dataset",
        "-d",
        metavar="SPEC",
        help=f"Bundled set (default {defaults.DATASET}), a task directory, or a .json file.",
    ),
]
MaxConcurrentOption = Annotated[
    int | None,
    typer.Option(
        "--max-concurrent",
        "-j",
        metavar="N",
        help=f"Requests in flight at once (default {defaults.MAX_CONCURRENT}).",
    ),
]
AttemptsOption = Annotated[
    int | None,
    typer.Option(
        "--attempts", metavar="N", help=f"Attempts per test input (default {defaults.ATTEMPTS})."
    ),
]
TemperatureOption = Annotated[
    float | None, typer.Option("--temperature", metavar="T", help="Sampling temperature.")
]
MaxTokensOption = Annotated[
    int | None, typer.Option("--max-tokens", metavar="N", help="Completion token limit.")
]
TimeoutOption = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        help=f"Seconds one attempt may take, retries included (default {defaults.TIMEOUT_S:g}).",
    ),
]
RetriesOption = Annotated[
    int | None,
    typer.Option(
        "--retries", metavar="N", help=f"Retries of a failed request (default {defaults.RETRIES})."
    ),
]
RateLimitOption = Annotated[
    float | None,
    typer.Option("--rate-limit", metavar="RPM", help="Requests per minute, retries included."),
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
        "--base-url",
        metavar="URL",
        help="Replace the model's endpoint for this run (its key is sent there).",
    ),
]
OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out", "-o", metavar="DIR", help=f"Directory of run directories (default {defaults.OUT})."
    ),
]
RunNameOption = Annotated[
    str | None,
    typer.Option(
        "--run-name", metavar="NAME", help="Name of the run directory; an existing one is resumed."
    ),
]
ModelsFileOption = Annotated[
    Path | None,
    typer.Option(
        "--models-file", metavar="FILE", help="models.toml to use instead of ./models.toml."
    ),
]
AugmentOption = Annotated[
    str | None,
    typer.Option(
        "--augment",
        metavar="SPEC",
        help="Test-time augmentation: ask every task in views and vote on the answers mapped "
        "back. d8 (the 8 symmetries), colors:N (N colour permutations keeping 0), d8+colors:N, "
        "or transform ids such as rot90,flip_h; the identity view is always asked.",
    ),
]
ViewsOption = Annotated[
    int | None,
    typer.Option(
        "--views",
        metavar="K",
        help="With --augment: views per task, the identity and K-1 others drawn with a seed "
        "(default: every view the SPEC gives).",
    ),
]
