"""`Sandbox`: a pool of warm sandboxed workers that check programs on input grids.

One worker per core by default. Each worker is one sandbox (see `isolation`) holding a Python
with numpy already imported; it forks a child per check, so a check costs a fork and a few pipe
writes rather than an interpreter start. Checks queue for an idle worker, so any number of
coroutines may call `check` at once and all cores stay busy.

A worker that dies or stops answering is killed and replaced, and the check is retried once on
the fresh worker. When that fails too, a trivial program is checked on a fresh worker: if it
passes, the program itself broke two workers, and that is its outcome (an `error`, final, so a
resumed run does not try it again for ever); if it fails, the sandbox broke and `SandboxError`
is raised. A worker that could not empty the program's directory asks to be replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import threading
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

from arcbench.errors import SandboxError, SandboxUnavailableError
from arcbench.sandbox.isolation import (
    MINIMAL_PATH,
    Isolation,
    IsolationReport,
    numpy_problem,
    probe_isolation,
    static_problem,
    worker_command,
)
from arcbench.sandbox.outcomes import ProgramOutcome, grid_problem

_READ_LIMIT = 16 << 20
_START_TIMEOUT_S = 60.0
_MAX_CODE_CHARS = 1 << 20
_STOP_TIMEOUT_S = 5.0
_T = TypeVar("_T")
GridLike = Sequence[Sequence[int]]
"""An input grid: a list of rows (tuples accepted)."""


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits for each check. Wall time per input is the `timeout_s` of a check.

    CPU time is capped at the wall budget of the inputs left (plus one second). Memory is address
    space (RLIMIT_AS) on top of the warm interpreter's own. `processes` bounds the processes and
    threads a program may have at once (RLIMIT_NPROC); `output_bytes` what it may print before it
    is stopped; `file_bytes` any single file it writes; `tmp_bytes` and `tmp_files` its `/tmp`
    (and, separately, its `/dev/shm`) in bytes and in files and directories.
    """

    memory_mb: int = 1024
    processes: int = 32
    open_files: int = 64
    output_bytes: int = 1 << 20
    file_bytes: int = 16 << 20
    tmp_bytes: int = 64 << 20
    tmp_files: int = 10_000


@dataclass
class SandboxStats:
    """Counters a caller can log or test against."""

    checks: int = 0
    workers_started: int = 0
    workers_replaced: int = 0


@dataclass(eq=False)
class _Worker:
    process: asyncio.subprocess.Process
    workdir: str | None
    stderr_tail: bytearray = field(default_factory=bytearray)
    drain: asyncio.Task[None] | None = None


class Sandbox:
    """Checks untrusted programs on grids, inside warm sandboxed workers.

    `workers` defaults to one more than the cores, so that a worker is always busy while another
    one's reply is on its way back through arcbench.

    Use as `async with Sandbox() as sandbox: outcomes = await sandbox.check(code, inputs)`.
    `isolation="full"` (the default) refuses to start with `SandboxUnavailableError` where
    bubblewrap cannot build the sandbox; pass `isolation="weak"` only when the user asked for it.
    Programs define `transform(grid)` (or `solve_task(grid)`) returning a grid; numpy arrays and
    tuples are accepted. Inputs are never mutated across inputs: each call gets a fresh copy.
    """

    def __init__(
        self,
        isolation: Isolation | str = Isolation.FULL,
        *,
        workers: int | None = None,
        limits: SandboxLimits | None = None,
        timeout_s: float = 2.0,
        bwrap: str | None = None,
    ) -> None:
        self.isolation = Isolation(isolation)
        self.limits = limits or SandboxLimits()
        self.timeout_s = timeout_s
        self.stats = SandboxStats()
        self._size = workers or (os.cpu_count() or 1) + 1
        self._bwrap = bwrap
        self._idle: asyncio.Queue[_Worker | None] | None = None
        """Idle workers; None stands for a slot whose replacement failed to start, started
        again by the next check that takes it (so no check waits for a worker that is gone)."""
        self._all: set[_Worker] = set()
        self._command_prefix: list[str] | None = None
        self._closed = False

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Start every worker; raises `SandboxUnavailableError` where full isolation cannot be
        had (the reason is found by `probe_isolation` only then, so a start costs no probe)."""
        if self.isolation is Isolation.FULL:
            report = static_problem(self._bwrap)
            if not report.full_available:
                raise _unavailable(report)
            self._bwrap = report.bwrap
        self._idle = asyncio.Queue()
        workers = await asyncio.gather(
            *(self._spawn() for _ in range(self._size)), return_exceptions=True
        )
        for worker in workers:
            if isinstance(worker, _Worker):
                self._idle.put_nowait(worker)
        failures = [w for w in workers if isinstance(w, BaseException)]
        if failures:
            await self.aclose()
            if self.isolation is Isolation.FULL:
                report = await asyncio.to_thread(probe_isolation, self._bwrap)
                if not report.full_available:
                    raise _unavailable(report) from failures[0]
            raise SandboxError(f"A sandbox worker failed to start: {failures[0]}") from failures[0]

    async def aclose(self) -> None:
        """Stop every worker; the processes and their namespaces are gone when this returns."""
        self._closed = True
        await asyncio.gather(*(self._kill(worker) for worker in list(self._all)))

    async def check(
        self, code: str, inputs: Sequence[GridLike], *, timeout_s: float | None = None
    ) -> list[ProgramOutcome]:
        """Run `code` on every input grid and return one outcome per input, in order.

        `timeout_s` is the wall time allowed per input (default: the sandbox's). A timeout, crash
        or exit on one input does not stop the others. Raises `SandboxError` only when the sandbox
        itself fails twice in a row.
        """
        if self._idle is None or self._closed:
            raise SandboxError("The sandbox is not running: use `async with Sandbox() as sb`.")
        if not inputs:
            return []
        timeout = self.timeout_s if timeout_s is None else timeout_s
        if len(code) > _MAX_CODE_CHARS:
            message = f"the program is longer than {_MAX_CODE_CHARS} characters"
            return [ProgramOutcome(status="error", message=message) for _ in inputs]
        self.stats.checks += 1
        request = {
            "id": self.stats.checks,
            "code": code,
            "inputs": [json.dumps([list(row) for row in grid]) for grid in inputs],
            "timeout": timeout,
        }
        last_error: Exception | None = None
        for _ in range(2):
            try:
                return await self._run(request, len(inputs))
            except (SandboxError, TimeoutError, OSError) as exc:
                last_error = exc
        if await self._trivial_program_passes():
            message = f"the program broke the sandbox worker running it, twice: {last_error}"
            return [ProgramOutcome(status="error", message=message) for _ in inputs]
        raise SandboxError(f"The sandbox failed twice on one check: {last_error}")

    async def _run(self, request: dict[str, Any], count: int) -> list[ProgramOutcome]:
        """One check on one idle worker, which is replaced unless it answered and stays usable."""
        assert self._idle is not None
        timeout = float(request["timeout"])
        budget = count * (timeout + 2.0) + 10.0
        payload = json.dumps(request).encode() + b"\n"
        worker = await self._idle.get()
        if worker is None:
            try:
                worker = await self._spawn()
            except BaseException:
                self._idle.put_nowait(None)
                raise
        reusable = False
        try:
            reply = await asyncio.wait_for(self._exchange(worker, payload), budget)
            outcomes, reusable = _outcomes(reply, request["id"], count, timeout)
            return outcomes
        finally:
            if reusable:
                self._idle.put_nowait(worker)
            else:  # also on cancellation: the worker's state is unknown, replace it
                await self._replace(worker)

    async def _trivial_program_passes(self) -> bool:
        """Whether the sandbox itself works: an identity program, on a fresh worker."""
        self.stats.checks += 1
        request = {
            "id": self.stats.checks,
            "code": "def transform(grid):\n    return grid\n",
            "inputs": ["[[0]]"],
            "timeout": 10.0,
        }
        try:
            [outcome] = await self._run(request, 1)
        except (SandboxError, TimeoutError, OSError):
            return False
        return outcome.grid == [[0]]

    async def _exchange(self, worker: _Worker, payload: bytes) -> bytes:
        stdin, stdout = worker.process.stdin, worker.process.stdout
        assert stdin is not None
        assert stdout is not None
        stdin.write(payload)
        await stdin.drain()
        line = await stdout.readline()
        if not line.endswith(b"\n"):
            raise SandboxError(f"a sandbox worker died: {_tail(worker)}")
        return line

    async def _spawn(self) -> _Worker:
        limits = self.limits
        config: dict[str, Any] = {
            "limits": {
                "memory_bytes": limits.memory_mb << 20,
                "processes": limits.processes,
                "open_files": limits.open_files,
                "output_bytes": limits.output_bytes,
                "file_bytes": limits.file_bytes,
                "tmp_files": limits.tmp_files,
            },
        }
        command, workdir = worker_command(
            self.isolation, self._bwrap, config, tmp_bytes=limits.tmp_bytes
        )
        env = {"PATH": MINIMAL_PATH}
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=workdir or "/",
            start_new_session=True,
            limit=_READ_LIMIT,
        )
        worker = _Worker(process, workdir)
        self._all.add(worker)
        worker.drain = asyncio.create_task(_drain_stderr(worker))
        self.stats.workers_started += 1
        assert process.stdout is not None
        try:
            ready = await asyncio.wait_for(process.stdout.readline(), _START_TIMEOUT_S)
        except TimeoutError:
            ready = b""
        if not ready.startswith(b'{"ready": true'):
            await self._kill(worker)
            raise SandboxError(f"a sandbox worker did not start: {_tail(worker)}")
        problem = numpy_problem(ready) if self.isolation is Isolation.FULL else None
        if problem is not None:
            await self._kill(worker)
            raise SandboxError(f"a sandbox worker is not usable: {problem}")
        return worker

    async def _replace(self, worker: _Worker) -> None:
        await self._kill(worker)
        if self._closed or self._idle is None:
            return
        self.stats.workers_replaced += 1
        fresh: _Worker | None = None
        try:
            fresh = await self._spawn()
        finally:
            self._idle.put_nowait(fresh)

    async def _kill(self, worker: _Worker) -> None:
        self._all.discard(worker)
        process = worker.process
        if process.stdin is not None:
            process.stdin.close()  # the worker's cue to kill everything in its namespace and exit
        try:
            await asyncio.wait_for(process.wait(), _STOP_TIMEOUT_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        if worker.drain is not None:
            worker.drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker.drain
        if worker.workdir is not None:  # weak mode: the worker emptied it unless it was killed
            with contextlib.suppress(OSError, RecursionError):
                shutil.rmtree(worker.workdir, ignore_errors=True)


def _unavailable(report: IsolationReport) -> SandboxUnavailableError:
    """What is missing, what to do about it (said once), or weak isolation, explicitly."""
    remedy = f"{report.remedy}, or accept" if report.remedy else "Accept"
    return SandboxUnavailableError(
        f"Full sandbox isolation is unavailable: {report.detail}. {remedy[0].upper()}"
        f"{remedy[1:]} weak isolation explicitly (--sandbox weak)."
    )


async def _drain_stderr(worker: _Worker) -> None:
    """Keep the last few KiB of a worker's stderr, to explain a worker that fails to start."""
    stream = worker.process.stderr
    assert stream is not None
    while chunk := await stream.read(1 << 16):
        worker.stderr_tail += chunk
        del worker.stderr_tail[:-4096]


def _tail(worker: _Worker) -> str:
    text = worker.stderr_tail.decode(errors="replace").strip()
    return text.splitlines()[-1] if text else "no output"


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _outcomes(
    line: bytes, request_id: object, count: int, timeout: float
) -> tuple[list[ProgramOutcome], bool]:
    """Turn a worker's reply into outcomes, validating every grid here, in the trusted process;
    and whether the worker may take another check."""
    try:
        reply = json.loads(line, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise SandboxError(f"a sandbox worker sent an unreadable reply: {exc}") from exc
    if not isinstance(reply, dict) or reply.get("id") != request_id:
        raise SandboxError("a sandbox worker answered a different request")
    results = reply.get("results")
    if not isinstance(results, list) or len(results) != count:
        raise SandboxError("a sandbox worker sent the wrong number of results")
    return [_outcome(result, timeout) for result in results], reply.get("retire") is not True


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _outcome(result: object, timeout: float) -> ProgramOutcome:
    if not isinstance(result, dict):
        raise SandboxError("a sandbox worker sent a malformed result")
    status = result.get("status")
    measured = result.get("seconds")
    seconds = float(measured) if isinstance(measured, int | float) else 0.0
    if status == "ok":
        output = result.get("output")
        problem = grid_problem(output)
        if problem is not None:
            return ProgramOutcome(status="wrong_format", reason=problem, seconds=seconds)
        return ProgramOutcome.model_construct(
            status="ok",
            grid=output,
            reason=None,
            message=None,
            traceback=None,
            seconds=seconds,
        )
    if status == "wrong":
        reason = _text(result.get("reason")) or "not a grid"
        return ProgramOutcome(status="wrong_format", reason=reason, seconds=seconds)
    if status == "error":
        return ProgramOutcome(
            status="error",
            message=_text(result.get("message")) or "the program failed",
            traceback=_text(result.get("traceback")),
            seconds=seconds,
        )
    if status == "timeout":
        message = _text(result.get("message")) or f"no answer within {timeout:g} s"
        return ProgramOutcome(status="timeout", message=message, seconds=seconds)
    raise SandboxError(f"a sandbox worker sent an unknown status {status!r}")


class SyncSandbox:
    """A `Sandbox` for synchronous code: it runs the pool on its own event-loop thread.

    The workers are started from that thread, which lives until `close`, because the kernel's
    parent-death signal (bubblewrap's `--die-with-parent`) fires when the starting thread exits.
    """

    def __init__(self, isolation: Isolation | str = Isolation.FULL, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="arcbench-sandbox", daemon=True
        )
        self._thread.start()
        self.sandbox = self._run(_make(isolation, options))

    def _run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def __enter__(self) -> SyncSandbox:
        try:
            self._run(self.sandbox.start())
        except BaseException:
            self._stop_loop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def check(
        self, code: str, inputs: Sequence[GridLike], *, timeout_s: float | None = None
    ) -> list[ProgramOutcome]:
        """`Sandbox.check`, blocking."""
        return self._run(self.sandbox.check(code, inputs, timeout_s=timeout_s))

    def close(self) -> None:
        """Stop the workers and the loop thread."""
        if self._loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            self._run(self.sandbox.aclose())
        self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


async def _make(isolation: Isolation | str, options: dict[str, Any]) -> Sandbox:
    return Sandbox(isolation, **options)


def unavailable_reason(bwrap: str | None = None) -> str | None:
    """Why full isolation cannot be had here, or None when it can (cached, blocking)."""
    report = probe_isolation(bwrap)
    return None if report.full_available else report.detail
