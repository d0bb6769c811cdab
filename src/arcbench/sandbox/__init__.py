"""Run untrusted, model-written programs on ARC grids, isolated from the machine.

    async with Sandbox() as sandbox:             # full isolation, or SandboxUnavailableError
        outcomes = await sandbox.check(code, [pair.input for pair in task.train], timeout_s=2)
        solved = all(o.grid == pair.output for o, pair in zip(outcomes, task.train))

`SyncSandbox` offers the same for synchronous callers. A program defines `transform(grid)` (or
`solve_task(grid)`); it receives a fresh `list[list[int]]` per input and may return a list, a
tuple or a numpy array. Each input yields a `ProgramOutcome`: `ok` with a valid grid,
`wrong_format` with a reason, `error` with a message and traceback, or `timeout`.

Guarantees with `Isolation.FULL` (Linux, bubblewrap; see `isolation` for the mechanics):
programs never run in the arcbench process; they see no network (loopback of their own only),
and no file but the interpreter, the standard library, numpy, the shared libraries these load and
their own empty, capped `/tmp` and `/dev/shm` (no other package, no dataset, no arcbench, nothing
in `/proc`); an environment of `PATH` alone; no capabilities, and a seccomp filter (`seccomp`)
that refuses keyrings, IPC objects, namespaces, mounts, ptrace, changes to other processes and
uncommon kernel interfaces; CPU time, wall time, address space, processes, open files, file size,
directory size and file count and printed output are limited; every process a program starts is
killed and reaped when its check ends, however it detached, its files are removed whatever it did
to them, and nothing outlives arcbench. Each check starts from the same state. Grids cross as
JSON and are validated in the arcbench process on plain data.

`Isolation.WEAK` keeps the separate process, the stripped environment, the limits, the seccomp
filter and the cleanup, but not the namespaces; use it only when the user asked for it, and
record it.
"""

from arcbench.errors import SandboxError, SandboxUnavailableError
from arcbench.sandbox.isolation import Isolation, IsolationReport, probe_isolation
from arcbench.sandbox.outcomes import OutcomeStatus, ProgramOutcome, grid_problem
from arcbench.sandbox.pool import (
    Sandbox,
    SandboxLimits,
    SandboxStats,
    SyncSandbox,
    unavailable_reason,
)

__all__ = [
    "Isolation",
    "IsolationReport",
    "OutcomeStatus",
    "ProgramOutcome",
    "Sandbox",
    "SandboxError",
    "SandboxLimits",
    "SandboxStats",
    "SandboxUnavailableError",
    "SyncSandbox",
    "grid_problem",
    "probe_isolation",
    "unavailable_reason",
]
