"""Jobs: the work a run does (`traces`, `codegen`, the offline baseline) and the engine that runs
any of them. See `protocol` for what a job is, `registry` for the kinds there are, `engine` for
`run_job`."""

from arcbench.jobs.engine import JobRequest, JobResult, run_job
from arcbench.jobs.protocol import (
    ChatModel,
    Job,
    JobContext,
    JobKind,
    JobReporter,
    Plan,
    ProgramChecker,
    QuietReporter,
    Workload,
)
from arcbench.jobs.registry import JOB_KINDS, find_kind
from arcbench.jobs.runplan import RunPlan, plan_run

__all__ = [
    "JOB_KINDS",
    "ChatModel",
    "Job",
    "JobContext",
    "JobKind",
    "JobReporter",
    "JobRequest",
    "JobResult",
    "Plan",
    "ProgramChecker",
    "QuietReporter",
    "RunPlan",
    "Workload",
    "find_kind",
    "plan_run",
    "run_job",
]
