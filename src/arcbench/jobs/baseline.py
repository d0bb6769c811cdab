"""The offline baseline job: `codegen --model baseline` checks a catalog of programs, no model.

Every candidate of `arcbench.baseline.generate_candidates` is checked in the sandbox like a
model's program and recorded as a codegen record naming its `rule`. Candidates are numbered as
attempts (1, 2, …) in catalog order, so ties in train accuracy go to the simpler rule, and they
are deterministic, so a resume skips the ones already checked. The work items, and the units the
plan counts, are the tasks: how many candidates each gives is only known when it is generated.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from arcbench.baseline import Candidate, generate_candidates
from arcbench.errors import SandboxError
from arcbench.jobs.codegen import (
    check_program,
    failed_program,
    program_identity,
    sandbox_entries,
    summarise_programs,
)
from arcbench.jobs.protocol import JobContext, Plan, ProgramChecker, Workload
from arcbench.manifest import AugmentationInfo, ModelInfo, RunManifest, RunSummary
from arcbench.records import CodegenRecord
from arcbench.rundir import RunDirectory, now_iso
from arcbench.settings import Settings
from arcbench.tally import Tally
from arcbench.tasks import Task

BASELINE_MODEL = ModelInfo(
    name="baseline", provider="arcbench", base_url=None, model_id="baseline", source="builtin"
)
"""What run.json records for the offline baseline, which has no endpoint."""


class BaselineJob:
    """Checks every catalog candidate of every task; one record per candidate."""

    def __init__(self, context: JobContext) -> None:
        if context.sandbox is None:
            raise ValueError("the baseline job needs a sandbox")
        self.sandbox: ProgramChecker = context.sandbox
        self.tasks = context.tasks
        self.settings = context.settings
        self._run: RunDirectory | None = None

    @property
    def model_info(self) -> ModelInfo:
        return BASELINE_MODEL

    @property
    def prompt_version(self) -> str:
        return "none"

    @property
    def augmentation(self) -> AugmentationInfo | None:
        return None

    @staticmethod
    def workload(settings: Settings, tasks: Sequence[Task]) -> Workload:
        """No requests: the catalog is offline."""
        return Workload(0, 0)

    def manifest_entries(self, previous: RunManifest) -> dict[str, Any]:
        return sandbox_entries(previous, self.sandbox, self.settings.exec_timeout)

    def plan(self, run: RunDirectory) -> Plan[Task]:
        """Every task; a resume revisits each, checking only its candidates not done yet (which
        tasks have none left is known only once their candidates are generated)."""
        self._run = run
        remaining = None if run.resumed else len(self.tasks)
        return Plan(iter(self.tasks), len(self.tasks), remaining, unit="tasks")

    async def work(self, item: Task) -> AsyncIterator[CodegenRecord]:
        """Check the task's candidates that are not done yet, all at once; yield their records."""
        run = self._run
        assert run is not None, "plan() comes first"
        pending = []
        for number, candidate in enumerate(generate_candidates(item), start=1):
            identity = program_identity(run.run_id, item, number, 0)
            if identity["record_id"] not in run.done:
                pending.append(self._check(item, identity, candidate))
        for record in await asyncio.gather(*pending):
            yield record

    async def _check(
        self, task: Task, identity: dict[str, Any], candidate: Candidate
    ) -> CodegenRecord:
        started = time.perf_counter()
        fields: dict[str, Any] = {
            **identity,
            "reasoning": "",  # a catalog rule has no reasoning; `merge` makes no trace of it
            "code": candidate.code,
            "model": BASELINE_MODEL.model_id,
            "rule": candidate.name,
        }
        try:
            checked = await check_program(
                self.sandbox, task, candidate.code, self.settings.exec_timeout
            )
        except SandboxError as exc:  # retried on resume: this candidate is not done
            failed = failed_program(identity, f"sandbox failure: {exc}")
            return failed.model_copy(
                update={"model": BASELINE_MODEL.model_id, "rule": candidate.name}
            )
        return CodegenRecord(
            **fields,
            **checked,
            latency_s=round(time.perf_counter() - started, 3),
            finished_at=now_iso(),
        )

    def failed(self, item: Task, error: str) -> CodegenRecord:
        run = self._run
        assert run is not None, "plan() comes first"
        return failed_program(program_identity(run.run_id, item, 0, 0), error)

    def summarise(self, run: RunDirectory, tally: Tally, plan: Plan[Task]) -> RunSummary:
        return summarise_programs(run, tally, self.tasks, None)  # candidates are not planned
