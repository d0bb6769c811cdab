"""Running a job end to end: open or resume the run directory, run the job's plan, and record
the outcome in run.json — whatever happens, even a fatal error or Ctrl+C.

The engine knows nothing about which kind of job it runs (`arcbench.jobs.protocol`). Its caller
resolves everything outside the library's reach at the edge (settings, the model registry, the
dataset) into a `JobRequest`, builds the collaborators (`arcbench.collaborators`) and passes
them in, so a test can drive a whole job in-process with a scripted model and a real sandbox.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from arcbench.budget import Budget
from arcbench.datasets import Dataset
from arcbench.errors import RunOutputError
from arcbench.jobs.protocol import (
    ChatModel,
    Job,
    JobContext,
    JobKind,
    JobReporter,
    Plan,
    ProgramChecker,
    QuietReporter,
    Record,
)
from arcbench.jobs.registry import find_kind
from arcbench.manifest import BudgetInfo, DatasetInfo, RunIdentity, RunManifest, Status
from arcbench.registry import ModelEntry, shown_url
from arcbench.rundir import RunDirectory, check_run_name, default_run_name, unused_run_name
from arcbench.runfiles import LOG_FILE
from arcbench.runlog import run_log
from arcbench.runner import Runner, Stopper, sigint_stops
from arcbench.selection import Selection
from arcbench.settings import Settings
from arcbench.tally import Tally
from arcbench.tasks import Task


@dataclass(frozen=True)
class JobRequest:
    """Everything a run needs, as typed values resolved at the edge: the command, the registry
    entry of `--model`, the settings (flags merged in), the loaded dataset and the tasks
    selected from it."""

    command: str
    model: ModelEntry
    settings: Settings
    dataset: Dataset
    tasks: Sequence[Task]
    selection: Selection = field(default_factory=Selection)
    run_name: str | None = None

    def __post_init__(self) -> None:
        if self.run_name is not None:
            check_run_name(self.run_name)
        _ = self.kind
        self.budget()  # a cap that cannot be kept is refused before anything starts

    @property
    def kind(self) -> JobKind:
        """The kind of job to run, wrapped as the settings ask (`arcbench.jobs.registry`)."""
        return find_kind(
            self.command,
            model=self.model.name,
            offline=self.model.offline,
            settings=self.settings,
        )

    def budget(self) -> Budget | None:
        """A fresh budget for `--max-cost` (None: no cap, or a job that asks no model);
        `ConfigError` when the model's requests cannot be priced."""
        cap = self.settings.max_cost
        if cap is None or self.kind.offline:
            return None
        return Budget.for_model(cap, self.model, self.settings.max_tokens)


@dataclass(frozen=True)
class JobResult:
    path: Path
    status: Status
    manifest: RunManifest


def is_fatal(exc: BaseException) -> bool:
    """Errors that stop a whole run: an unwritable run directory, a refused key, no credits."""
    return isinstance(exc, RunOutputError) or bool(getattr(exc, "fatal", False))


async def run_job(
    request: JobRequest,
    *,
    model: ChatModel | None = None,
    sandbox: ProgramChecker | None = None,
    reporter: JobReporter | None = None,
) -> JobResult:
    """Run (or resume) the job `request` names with the given collaborators; return where it
    wrote and how it ended. A model is needed unless the kind is offline, a sandbox when the
    kind checks programs."""
    kind = request.kind
    if model is None and not kind.offline:
        raise ValueError(f"the {kind.name} job needs a model client")
    if sandbox is None and kind.needs_sandbox:
        raise ValueError(f"the {kind.name} job needs a sandbox")
    reporter = reporter or QuietReporter()
    settings = request.settings
    budget = request.budget()
    job = kind.create(JobContext(settings, request.tasks, model, sandbox, budget))
    identity = RunIdentity(
        command=kind.command,
        model=job.model_info,
        dataset=DatasetInfo.of(request.dataset, request.tasks),
        prompt_version=job.prompt_version,
        augmentation=job.augmentation,
    )
    name = request.run_name or unused_run_name(
        settings.out,
        default_run_name(kind.command, request.model.name, request.dataset.spec, datetime.now(UTC)),
    )
    config = {
        **settings.model_dump(mode="json"),
        "base_url": shown_url(settings.base_url) if settings.base_url else None,
        "dataset": request.dataset.spec,
        "selection": asdict(request.selection),
        "run_name": name,
    }
    run = RunDirectory.open(settings.out / name, identity, config)
    if budget is not None:
        # What earlier sessions spent counts too, at least as the last capped one counted it.
        budget.spent_usd = max(run.billed.cost_usd, run.charged_usd)
    try:
        run.manifest = run.manifest.model_copy(update=job.manifest_entries(run.manifest))
        run.write_manifest()
        plan = job.plan(run)
        tally = Tally.from_records(run.previous.values(), run.billed)
        reporter.started(run, plan.total, plan.remaining, tally, plan.unit)
        with run_log(run.path / LOG_FILE) as log:
            log.info(
                "%s %s run %s: model %s (%s), dataset %s, %d tasks, %s of %s to go",
                "resuming" if run.resumed else "starting",
                kind.command,
                run.run_id,
                request.model.name,
                identity.model.model_id,
                request.dataset.spec,
                len(request.tasks),
                plan.remaining,
                plan.total,
            )
            if run.torn is not None:
                log.warning(run.torn.describe())
            status = await _run_logged(
                job, run, plan, tally, reporter, log, settings.max_concurrent, budget
            )
    finally:
        run.release()  # closed by now unless the job never started: then the lock goes too
    return JobResult(run.path, status, run.manifest)


async def _run_logged(
    job: Job[Any],
    run: RunDirectory,
    plan: Plan[Any],
    tally: Tally,
    reporter: JobReporter,
    log: logging.Logger,
    max_concurrent: int,
    budget: Budget | None,
) -> Status:
    """Run the plan, write and log each record, and close the run directory however it ends
    (`stopped`, with the reason, when the budget refused a request)."""

    def write(record: Record | None) -> None:
        if record is None:
            return
        run.append(record)
        tally.add(record)
        log.info(record.describe())
        reporter.record(record, tally)

    async def work(item: Any) -> None:
        async for record in job.work(item):
            write(record)

    def done(failure: Record | None) -> None:
        """An item ended: its records are written; a failure's record comes here."""
        write(failure)
        reporter.finished(tally)

    def on_stop(cancelling: bool) -> None:
        log.warning(
            "Ctrl+C: %s", "cancelling requests in flight" if cancelling else "stopping scheduling"
        )
        reporter.stopping(cancelling)

    runner: Runner[Any, Record | None] = Runner(
        work,
        max_concurrent=max_concurrent,
        on_result=done,
        on_error=lambda item, exc: job.failed(item, f"{type(exc).__name__}: {exc}"),
        is_fatal=is_fatal,
        stopper=Stopper(on_request=on_stop),
    )
    status: Status = "failed"
    error: str | None = None
    began = time.monotonic()
    try:
        with sigint_stops(runner.stopper):
            status = await runner.run(plan.items)
    except (KeyboardInterrupt, asyncio.CancelledError):
        status = "interrupted"
        raise
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        summary = job.summarise(run, tally, plan)
        entries: dict[str, Any] = {"session_seconds": round(time.monotonic() - began, 3)}
        if error is not None:
            entries["error"] = error
        if status == "stopped":
            entries["stop_reason"] = runner.stop_reason
        if budget is not None:
            entries["budget"] = BudgetInfo(
                max_cost_usd=budget.cap_usd, spent_usd=round(budget.spent_usd, 6)
            )
            if status == "stopped":
                log.warning(
                    "stopped by --max-cost $%.4f: $%.4f spent", budget.cap_usd, budget.spent_usd
                )
        run.close(status, summary, **entries)
        log.info("run %s: %s", status, summary.score.model_dump(exclude_none=True))
    return status
