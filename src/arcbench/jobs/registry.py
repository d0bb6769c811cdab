"""Every kind of job, registered in one place.

A kind is found by the command a user ran and whether the model is an offline one: `traces` and
`codegen` with a language model, `codegen` with the offline baseline. A new kind of job is one
module implementing `arcbench.jobs.protocol.Job` and one entry in `JOB_KINDS`.

A wrapper makes a kind of another when the run's settings ask for it: `--augment` asks any kind
in several views of every task (`arcbench.jobs.augmented`). A new wrapper is one entry in
`WRAPPERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from arcbench.errors import ConfigError
from arcbench.jobs.augmented import augmented, augmenting
from arcbench.jobs.baseline import BaselineJob
from arcbench.jobs.codegen import CodegenJob
from arcbench.jobs.protocol import JobKind
from arcbench.jobs.traces import TracesJob
from arcbench.settings import Settings

JOB_KINDS: tuple[JobKind, ...] = (
    JobKind(
        "traces",
        command="traces",
        offline=False,
        needs_sandbox=False,
        create=TracesJob,
        workload=TracesJob.workload,
    ),
    JobKind(
        "codegen",
        command="codegen",
        offline=False,
        needs_sandbox=True,
        create=CodegenJob,
        workload=CodegenJob.workload,
    ),
    JobKind(
        "baseline",
        command="codegen",
        offline=True,
        needs_sandbox=True,
        create=BaselineJob,
        workload=BaselineJob.workload,
    ),
)

COMMANDS = tuple(dict.fromkeys(kind.command for kind in JOB_KINDS))
"""The commands that run jobs, in registration order."""


@dataclass(frozen=True)
class Wrapper:
    """A kind made of another (`wrap`) for runs whose settings ask for it (`applies`)."""

    applies: Callable[[Settings], bool]
    wrap: Callable[[JobKind], JobKind]


WRAPPERS: tuple[Wrapper, ...] = (Wrapper(applies=augmenting, wrap=augmented),)


def find_kind(
    command: str, *, model: str, offline: bool, settings: Settings | None = None
) -> JobKind:
    """The kind of job `command` runs with a model (`offline`: one that makes no requests),
    wrapped as the run's `settings` ask.

    Raises `ConfigError` saying which command runs an offline model, when this one cannot.
    """
    kind = _base_kind(command, model=model, offline=offline)
    for wrapper in WRAPPERS:
        if settings is not None and wrapper.applies(settings):
            kind = wrapper.wrap(kind)
    return kind


def _base_kind(command: str, *, model: str, offline: bool) -> JobKind:
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
