"""Every kind of job, registered in one place.

A kind is found by the command a user ran and whether the model is an offline one: `traces` and
`codegen` with a language model, `codegen` with the offline baseline. A new kind of job is one
module implementing `arcbench.jobs.protocol.Job` and one entry in `JOB_KINDS`.
"""

from __future__ import annotations

from arcbench.errors import ConfigError
from arcbench.jobs.baseline import BaselineJob
from arcbench.jobs.codegen import CodegenJob
from arcbench.jobs.protocol import JobKind
from arcbench.jobs.traces import TracesJob

JOB_KINDS: tuple[JobKind, ...] = (
    JobKind("traces", command="traces", offline=False, needs_sandbox=False, create=TracesJob),
    JobKind("codegen", command="codegen", offline=False, needs_sandbox=True, create=CodegenJob),
    JobKind("baseline", command="codegen", offline=True, needs_sandbox=True, create=BaselineJob),
)

COMMANDS = tuple(dict.fromkeys(kind.command for kind in JOB_KINDS))
"""The commands that run jobs, in registration order."""


def find_kind(command: str, *, model: str, offline: bool) -> JobKind:
    """The kind of job `command` runs with a model (`offline`: one that makes no requests).

    Raises `ConfigError` saying which command runs an offline model, when this one cannot.
    """
    for kind in JOB_KINDS:
        if kind.command == command and kind.offline == offline:
            return kind
    if offline:
        commands = [k.command for k in JOB_KINDS if k.offline]
        hint = f"run it with `arcbench {commands[0]} --model {model}`" if commands else ""
        raise ConfigError(
            f"{model} is an offline catalog of programs, not a language model: {hint}".rstrip(": ")
        )
    raise ConfigError(f"no job runs `{command}` with {model}: use one of {', '.join(COMMANDS)}")
