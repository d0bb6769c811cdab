"""Running a model job end to end: resolve the model, open or resume the run directory, run the
attempts, and record the outcome in run.json — whatever happens, even a fatal error or Ctrl+C.

The CLI builds a `JobRequest` from its flags and settings and calls `run_traces_job` with a
reporter that draws progress; nothing here knows about the terminal.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from arcbench.datasets import load_dataset
from arcbench.models import Task
from arcbench.prompts import prompt_version
from arcbench.rundir import RunDirectory
from arcbench.runlog import LOGGER, run_log
from arcbench.runner import Stopper
from arcbench.scoring import score_solved
from arcbench.selection import Selection
from arcbench.settings import Settings
from arcbench.tally import Tally
from arcbench.traces import (
    PROMPT,
    TracesOptions,
    dataset_identity,
    default_run_name,
    plan_items,
    run_traces,
)


class JobReporter(Protocol):
    """Progress events of a job; the CLI draws them, tests may record them."""

    def started(self, run: RunDirectory, total: int, remaining: int, tally: Tally) -> None: ...

    def record(self, record: dict[str, Any], tally: Tally) -> None: ...

    def stopping(self, cancelling: bool) -> None: ...

    def retrying(self, event: Any) -> None: ...


@dataclass(frozen=True)
class JobRequest:
    """Everything a `traces` run needs, as typed values (flags already merged into settings)."""

    model: str
    settings: Settings
    dataset: str
    selection: Selection = field(default_factory=Selection)
    run_name: str | None = None
    skip_invalid: bool = False


@dataclass(frozen=True)
class JobResult:
    path: Path
    status: str
    manifest: dict[str, Any]
    skipped: list[str]


def summary(
    tally: Tally, test_inputs: dict[str, int], tasks: Sequence[Task], total: int
) -> dict[str, Any]:
    """The `counts`, `score`, `usage` and `cost_usd` entries of run.json."""
    keys = {task.label: task.key for task in tasks}
    unanswered = [
        (task.id, task.version, index)
        for task in tasks
        for index, test in enumerate(task.test)
        if test.output is None
    ]
    score = score_solved(
        {keys[label]: n for label, n in test_inputs.items()}, tally.solved, unanswered
    )
    return {
        "counts": {
            "tasks": len(tasks),
            "test_inputs": sum(test_inputs.values()),
            "attempts_planned": total,
            "attempts_done": tally.records - tally.errors,
            "errors": tally.errors,
            "parse_errors": tally.parse_errors,
            "correct": tally.correct,
        },
        "score": score.as_dict(),
        "usage": tally.usage(),
        "cost_usd": round(tally.cost_usd, 6),
    }


async def run_traces_job(request: JobRequest, reporter: JobReporter) -> JobResult:
    """Run (or resume) `arcbench traces` and return where it wrote and how it ended."""
    from arcbench.client import build_client
    from arcbench.registry import load_registry

    settings = request.settings
    dataset = load_dataset(request.dataset, skip_invalid=request.skip_invalid)
    tasks = request.selection.apply(dataset.tasks, source=request.dataset)
    entry = load_registry(settings.models_file).resolve(request.model)
    options = TracesOptions(
        attempts=settings.attempts,
        temperature=settings.temperature,
        max_tokens=settings.max_tokens,
        max_concurrent=settings.max_concurrent,
    )

    def on_retry(event: Any) -> None:
        LOGGER.warning("retrying (%s), request %s failed", event.reason, event.attempt)
        reporter.retrying(event)

    async with build_client(entry, settings, on_retry=on_retry) as client:
        data_identity = dataset_identity(dataset, tasks)
        identity: dict[str, Any] = {
            "command": "traces",
            "model": client.describe(),
            "dataset": data_identity,
            "prompt_version": prompt_version(PROMPT),
        }
        name = request.run_name or default_run_name(
            "traces", request.model, request.dataset, datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        )
        config = {
            **settings.model_dump(mode="json"),
            "dataset": request.dataset,
            "selection": asdict(request.selection),
            "run_name": name,
        }
        run = RunDirectory.open(settings.out / name, identity, config)
        total = sum(len(task.test) for task in tasks) * options.attempts
        remaining = len(plan_items(run.run_id, tasks, options.attempts, run.done))
        tally = Tally.from_records(run.previous.values())
        reporter.started(run, total, remaining, tally)
        with run_log(run.path / "run.log") as log:
            log.info(
                "%s run %s: model %s (%s), dataset %s, %d tasks, %d of %d attempts to go",
                "resuming" if run.resumed else "starting",
                run.run_id,
                entry.name,
                client.model_id,
                request.dataset,
                len(tasks),
                remaining,
                total,
            )
            if run.torn is not None:
                log.warning(run.torn.describe())
            status = await _run_logged(
                run, client, tasks, options, tally, reporter, log, data_identity
            )
    return JobResult(run.path, status, run.manifest, dataset.skipped)


async def _run_logged(
    run: RunDirectory,
    client: Any,
    tasks: Sequence[Task],
    options: TracesOptions,
    tally: Tally,
    reporter: JobReporter,
    log: logging.Logger,
    data_identity: dict[str, Any],
) -> str:
    """Run the attempts, log each outcome, and close the run directory however it ends."""
    total = sum(len(task.test) for task in tasks) * options.attempts
    final: dict[str, Any] = {"score": None}

    def on_record(record: dict[str, Any]) -> None:
        outcome = (
            record["error"]
            or record["parse_error"]
            or ("correct" if record["correct"] else "answered")
        )
        log.info(
            "%s test %s attempt %s: %s (%.2f s, %s tokens)",
            record["task_id"]
            if record["version"] is None
            else f"{record['task_id']}@{record['version']}",
            record["test_index"],
            record["attempt"],
            outcome,
            record.get("latency_s") or 0.0,
            sum(
                (record.get("usage") or {}).get(k) or 0
                for k in ("prompt_tokens", "completion_tokens")
            ),
        )
        reporter.record(record, tally)

    def on_stop(cancelling: bool) -> None:
        log.warning(
            "Ctrl+C: %s", "cancelling requests in flight" if cancelling else "stopping scheduling"
        )
        reporter.stopping(cancelling)

    status: str = "failed"
    began = time.monotonic()
    try:
        status = await run_traces(
            run,
            client,
            tasks,
            options,
            tally,
            on_record=on_record,
            stopper=Stopper(on_request=on_stop),
        )
    except (KeyboardInterrupt, asyncio.CancelledError):
        status = "interrupted"
        raise
    except BaseException as exc:
        run.manifest["error"] = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        final = summary(tally, data_identity["test_inputs"], tasks, total)
        final["session_seconds"] = round(time.monotonic() - began, 3)
        run.close(status, final)
    log.info("run %s: %s", status, final["score"])
    return status
