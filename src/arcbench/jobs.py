"""Running a model job end to end: resolve the model, open or resume the run directory, run the
attempts, and record the outcome in run.json — whatever happens, even a fatal error or Ctrl+C.

Both `traces` and `codegen` go through `run_job`; they differ in their prompt, their work items
and how a run is scored. The CLI builds a `JobRequest` from its flags and settings and passes a
reporter that draws progress; nothing here knows about the terminal.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from arcbench.datasets import load_dataset
from arcbench.errors import ConfigError
from arcbench.prompts import prompt_version
from arcbench.registry import shown_url
from arcbench.rundir import RunDirectory, check_run_name
from arcbench.runlog import LOGGER, run_log
from arcbench.runner import Outcome, Stopper
from arcbench.scoring import score_solved
from arcbench.selection import Selection
from arcbench.settings import Settings
from arcbench.tally import Tally
from arcbench.tasks import Task
from arcbench.traces import dataset_identity, default_run_name

Command = Literal["traces", "codegen"]

BASELINE_MODEL = {
    "name": "baseline",
    "provider": "arcbench",
    "base_url": None,
    "model_id": "baseline",
    "source": "builtin",
}
"""What run.json records for the offline baseline, which has no endpoint."""


class JobReporter(Protocol):
    """Progress events of a job; the CLI draws them, tests may record them."""

    def started(
        self, run: RunDirectory, total: int | None, remaining: int | None, tally: Tally
    ) -> None: ...

    def record(self, record: dict[str, Any], tally: Tally, finished: bool) -> None:
        """A record was written; `finished` when it completes a planned unit of work (a codegen
        attempt may take several rounds, each its own record)."""

    def stopping(self, cancelling: bool) -> None: ...

    def retrying(self, event: Any) -> None: ...


@dataclass(frozen=True)
class JobRequest:
    """Everything a run needs, as typed values (flags already merged into settings)."""

    model: str
    settings: Settings
    dataset: str
    command: Command = "traces"
    selection: Selection = field(default_factory=Selection)
    run_name: str | None = None
    skip_invalid: bool = False
    rounds: int = 0
    exec_timeout: float = 2.0
    sandbox: str = "full"


@dataclass(frozen=True)
class JobResult:
    path: Path
    status: str
    manifest: dict[str, Any]
    skipped: list[str]


def traces_summary(
    tally: Tally, test_inputs: dict[str, int], tasks: Sequence[Task], total: int | None
) -> dict[str, Any]:
    """The `counts`, `score`, `usage` and `cost_usd` entries of a traces run's run.json."""
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


def codegen_summary(run: RunDirectory, tally: Tally, total: int | None) -> dict[str, Any]:
    """A codegen run's summary: the program selection needs every task's final programs, so it
    is scored from the results file as `arcbench report` would."""
    from arcbench.report import build_report, read_run

    report = build_report([read_run(run.path, manifest=run.manifest)])
    scored = report.as_dict()
    return {
        "counts": {
            "tasks": scored["counts"]["tasks"],
            "test_inputs": scored["counts"]["outputs"],
            "attempts_planned": total,
            "programs": tally.records - tally.errors,
            "errors": tally.errors,
            "parse_errors": tally.parse_errors,
            "overfit_programs": scored["overfit_programs"],
        },
        "score": {
            key: scored[key]
            for key in (
                "score",
                "per_task",
                "per_output",
                "all_or_nothing",
                "pass_at_k",
                "tasks_solved",
            )
        },
        "usage": tally.usage(),
        "cost_usd": round(tally.cost_usd, 6),
    }


def _log_record(log: logging.Logger, record: dict[str, Any]) -> None:
    label = record["task_id"]
    if record.get("version") is not None:
        label += f"@{record['version']}"
    if record.get("test_index") is not None:
        where = f"test {record['test_index']} attempt {record['attempt']}"
    else:
        where = f"attempt {record['attempt']} round {record['round']}"
    if record.get("error"):
        outcome = str(record["error"])
    elif record.get("parse_error"):
        outcome = str(record["parse_error"])
    elif record.get("train_results") is not None:
        results = record["train_results"]
        right = sum(1 for r in results if r.get("status") == "correct")
        outcome = f"{right}/{len(results)} train pairs, test {record.get('correct')}"
    else:
        outcome = "correct" if record.get("correct") else "answered"
    usage = record.get("usage") or {}
    tokens = (usage.get("prompt_tokens") or 0) + (usage.get("completion_tokens") or 0)
    log.info(
        "%s %s: %s (%.2f s, %s tokens)",
        label,
        where,
        outcome,
        record.get("latency_s") or 0.0,
        tokens,
    )


async def run_job(request: JobRequest, reporter: JobReporter) -> JobResult:
    """Run (or resume) `traces` or `codegen` and return where it wrote and how it ended."""
    from arcbench.registry import load_registry

    settings = request.settings
    dataset = load_dataset(request.dataset, skip_invalid=request.skip_invalid)
    tasks = request.selection.apply(dataset.tasks, source=request.dataset)
    entry = load_registry(settings.models_file).resolve(request.model)
    if entry.offline and request.command != "codegen":
        raise ConfigError(
            f"{entry.name} is an offline catalog of programs, not a language model: "
            f"run it with `arcbench codegen --model {entry.name}`"
        )
    if request.run_name is not None:
        check_run_name(request.run_name)

    def on_retry(event: Any) -> None:
        LOGGER.warning("retrying (%s), request %s failed", event.reason, event.attempt)
        reporter.retrying(event)

    async with AsyncExitStack() as stack:
        client: Any = None
        if not entry.offline:
            from arcbench.client import build_client

            client = await stack.enter_async_context(
                build_client(entry, settings, on_retry=on_retry)
            )
        sandbox: Any = None
        extra_manifest: dict[str, Any] = {}
        if request.command == "codegen":
            from arcbench.sandbox import Sandbox

            sandbox = await stack.enter_async_context(
                Sandbox(request.sandbox, timeout_s=request.exec_timeout)
            )
            extra_manifest["sandbox"] = {
                "isolation": str(sandbox.isolation),
                "exec_timeout_s": request.exec_timeout,
            }
        data_identity = dataset_identity(dataset, tasks)
        prompts = ("traces",) if request.command == "traces" else ("codegen", "codegen_repair")
        identity: dict[str, Any] = {
            "command": request.command,
            "model": client.describe() if client is not None else dict(BASELINE_MODEL),
            "dataset": data_identity,
            "prompt_version": "none" if client is None else prompt_version(*prompts),
        }
        name = request.run_name or default_run_name(
            request.command,
            request.model,
            request.dataset,
            datetime.now(UTC).strftime("%Y%m%d-%H%M%S"),
        )
        config = {
            **settings.model_dump(mode="json"),
            "base_url": shown_url(settings.base_url) if settings.base_url else None,
            "dataset": request.dataset,
            "selection": asdict(request.selection),
            "run_name": name,
        }
        if request.command == "codegen":
            config.update(
                rounds=request.rounds, exec_timeout=request.exec_timeout, sandbox=request.sandbox
            )
        run = RunDirectory.open(settings.out / name, identity, config)
        if "sandbox" in extra_manifest:
            extra_manifest["sandbox"] = _sandbox_history(
                run.manifest.get("sandbox"), extra_manifest["sandbox"]
            )
        run.manifest.update(extra_manifest)
        run.write_manifest()
        plan = _plan(request, run, tasks, client is None)
        tally = Tally.from_records(run.previous.values(), run.billed)
        reporter.started(run, plan.total, plan.remaining, tally)
        with run_log(run.path / "run.log") as log:
            log.info(
                "%s %s run %s: model %s (%s), dataset %s, %d tasks, %s of %s to go",
                "resuming" if run.resumed else "starting",
                request.command,
                run.run_id,
                entry.name,
                identity["model"]["model_id"],
                request.dataset,
                len(tasks),
                plan.remaining,
                plan.total,
            )
            if run.torn is not None:
                log.warning(run.torn.describe())
            status = await _run_logged(
                request, run, client, sandbox, tasks, plan, tally, reporter, log
            )
    return JobResult(run.path, status, run.manifest, dataset.skipped)


def _sandbox_history(before: Any, now: dict[str, Any]) -> dict[str, Any]:
    """The isolation a run had: the weakest of all its sessions, each session listed."""
    sessions = (
        list(before.get("sessions", [before.get("isolation")])) if isinstance(before, dict) else []
    )
    sessions.append(now["isolation"])
    weakest = "weak" if "weak" in sessions else now["isolation"]
    return {**now, "isolation": weakest, "sessions": sessions}


@dataclass(frozen=True)
class _Plan:
    """The options of a run and the work left: `items` is None for the baseline, whose work
    items are the tasks themselves and whose number of records is not known ahead."""

    options: Any
    items: list[Any] | None
    total: int | None

    @property
    def remaining(self) -> int | None:
        return None if self.items is None else len(self.items)


def _plan(request: JobRequest, run: RunDirectory, tasks: Sequence[Task], offline: bool) -> _Plan:
    """The command's options from the settings, and what is left to do (computed once)."""
    settings = request.settings
    common: dict[str, Any] = {
        "attempts": settings.attempts,
        "temperature": settings.temperature,
        "max_tokens": settings.max_tokens,
        "max_concurrent": settings.max_concurrent,
    }
    if request.command == "traces":
        from arcbench.traces import TracesOptions, plan_items

        total = sum(len(task.test) for task in tasks) * settings.attempts
        return _Plan(
            TracesOptions(**common),
            plan_items(run.run_id, tasks, settings.attempts, run.done),
            total,
        )
    from arcbench.codegen import CodegenOptions, plan_attempts

    options = CodegenOptions(**common, rounds=request.rounds, exec_timeout=request.exec_timeout)
    if offline:
        return _Plan(options, None, None)
    items = plan_attempts(run.run_id, tasks, options, run.previous)
    return _Plan(options, items, len(tasks) * settings.attempts)


async def _run_logged(
    request: JobRequest,
    run: RunDirectory,
    client: Any,
    sandbox: Any,
    tasks: Sequence[Task],
    plan: _Plan,
    tally: Tally,
    reporter: JobReporter,
    log: logging.Logger,
) -> str:
    """Run the work, log each outcome, and close the run directory however it ends."""

    def on_record(record: dict[str, Any]) -> None:
        tally.add(record)
        _log_record(log, record)
        finished = True
        if request.command == "codegen" and record.get("error") is None:
            from arcbench.codegen import attempt_finished

            finished = attempt_finished(record, request.rounds)
        reporter.record(record, tally, finished)

    def on_stop(cancelling: bool) -> None:
        log.warning(
            "Ctrl+C: %s", "cancelling requests in flight" if cancelling else "stopping scheduling"
        )
        reporter.stopping(cancelling)

    work = _work(request, run, client, sandbox, tasks, plan, on_record, Stopper(on_request=on_stop))
    status: str = "failed"
    began = time.monotonic()
    try:
        status = await work
    except (KeyboardInterrupt, asyncio.CancelledError):
        status = "interrupted"
        raise
    except BaseException as exc:
        run.manifest["error"] = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        if request.command == "traces":
            test_inputs = run.manifest["dataset"]["test_inputs"]
            final = traces_summary(tally, test_inputs, tasks, plan.total)
        else:
            final = codegen_summary(run, tally, plan.total)
        final["session_seconds"] = round(time.monotonic() - began, 3)
        run.close(status, final)
        log.info("run %s: %s", status, final["score"])
    return status


def _work(
    request: JobRequest,
    run: RunDirectory,
    client: Any,
    sandbox: Any,
    tasks: Sequence[Task],
    plan: _Plan,
    on_record: Callable[[dict[str, Any]], None],
    stopper: Stopper,
) -> Awaitable[Outcome]:
    if request.command == "traces":
        from arcbench.traces import run_traces

        return run_traces(
            run, client, plan.items or [], plan.options, on_record=on_record, stopper=stopper
        )
    from arcbench.codegen import run_baseline, run_codegen

    if client is None:
        return run_baseline(run, sandbox, tasks, plan.options, on_record=on_record, stopper=stopper)
    return run_codegen(
        run, client, sandbox, plan.items or [], plan.options, on_record=on_record, stopper=stopper
    )
