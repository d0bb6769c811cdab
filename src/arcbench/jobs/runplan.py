"""The plan of a run: what it will ask, known before it starts.

The command-line prints it before a run begins, so a user sees what a run will cost in requests
before paying for them: the tasks and test inputs selected, the requests the job will send (a
range where failed programs may be repaired), and with test-time augmentation how many views of
every task multiply them. A library caller gets the same object from `plan_run`.
"""

from __future__ import annotations

from dataclasses import dataclass

from arcbench.jobs.engine import JobRequest
from arcbench.jobs.protocol import Workload


@dataclass(frozen=True)
class RunPlan:
    """What a run will do (see the module docstring). `requests` and `most_requests` count
    every view; `views` is the multiplier (1 without `--augment`)."""

    command: str
    model: str
    offline: bool
    tasks: int
    test_inputs: int
    attempts: int
    augment: str | None
    workload: Workload

    @property
    def views(self) -> int:
        return self.workload.views

    @property
    def requests(self) -> int:
        return self.workload.requests

    @property
    def most_requests(self) -> int:
        return self.workload.most_requests


def plan_run(request: JobRequest) -> RunPlan:
    """The plan of `request`; raises what making its job would (a bad `--augment`, say)."""
    kind = request.kind
    settings = request.settings
    return RunPlan(
        command=kind.command,
        model=request.model.name,
        offline=kind.offline,
        tasks=len(request.tasks),
        test_inputs=sum(len(task.test) for task in request.tasks),
        attempts=settings.attempts,
        augment=settings.augment,
        workload=kind.workload(settings, request.tasks),
    )
