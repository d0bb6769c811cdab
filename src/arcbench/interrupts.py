"""SIGINT and SIGTERM for the whole life of a command, from its first line to its exit.

The CLI installs `INTERRUPTS` before it imports anything else. A signal raises
`KeyboardInterrupt` while nothing needs protecting; while a run directory is open it never
does, because an exception at an arbitrary line could leave `run.json` at `running`: it becomes
a stop request instead, handed to the runner's `Stopper` (or kept until the runner starts, which
then stops at once). SIGTERM, what systems that stop jobs send, is handled exactly like Ctrl+C.

This module imports nothing heavy, so that installing it is the first thing a command does.
"""

from __future__ import annotations

import builtins
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

    from arcbench.runner import Stopper

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""Ctrl+C, and what systems that stop jobs send (systemd, Kubernetes, Slurm): handled alike."""


class Interrupts:
    """SIGINT and SIGTERM for the whole life of a command; one per process (`INTERRUPTS`).

    Only the first signal of a command can raise `KeyboardInterrupt`, and only outside a run (the
    command unwinds and exits 130, or 143 for SIGTERM); later ones are recorded, so a second
    Ctrl+C cannot interrupt the unwinding, or the printing of a finished run's result. While a run
    is held open (`hold` … `release`, which `RunDirectory` calls) signals never raise: while a
    `Stopper` is routed (`routed`) each one is a stop request, delivered on the event loop (the
    second cancels what is in flight); before that they wait and are delivered when it is.
    """

    def __init__(self) -> None:
        self.installed = False
        self.signum: int | None = None
        """The last signal received, None if none was."""
        self.pending = 0
        """Signals received while a run was held and no stopper was routed."""
        self.raised = False
        """Whether a signal raised `KeyboardInterrupt` (see `cli.main.main` for why it matters)."""
        self._holds = 0
        self._starting = False
        self._importing = 0
        self._deferred = False
        self._stopper: Stopper | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def install(self) -> None:
        """Handle SIGINT and SIGTERM from now on (main thread only: the CLI's first step).

        Until `started`, signals are only kept: the code that would catch a `KeyboardInterrupt`
        is still being imported.
        """
        if self.installed:
            return
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._handle)
        self.installed = True
        self._starting = True
        self.hold()
        self._guard_imports()

    def _guard_imports(self) -> None:
        """Make a `KeyboardInterrupt` that would land inside an import wait for its end.

        An exception raised while an extension module initialises can crash the interpreter:
        orjson's initialisation imports Python modules and does not expect that to fail, and a
        Ctrl+C at that moment ended in a segmentation fault. Every import (statements, and the
        imports C code makes) goes through `builtins.__import__`, so the main thread's are
        counted there and the interrupt is raised when the outermost one is done.
        """
        original = builtins.__import__
        main = threading.main_thread().ident

        def guarded(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() != main:
                return original(*args, **kwargs)
            self._importing += 1
            try:
                return original(*args, **kwargs)
            finally:
                self._importing -= 1
                if not self._importing and self._deferred:
                    self._deferred = False
                    raise KeyboardInterrupt  # the interrupt wins over what the import returns

        builtins.__import__ = guarded

    def started(self) -> None:
        """The command's error boundary is in place: a signal kept during start-up raises
        `KeyboardInterrupt` now, and later ones as they come."""
        if not self._starting:
            return
        self._starting = False
        self.release()
        if self.pending:
            self.pending = 0
            self.raised = True
            raise KeyboardInterrupt

    def ignore(self) -> None:
        """Ignore both signals from now on: the command is exiting and has nothing to stop.

        (A handler left in place could fire during interpreter shutdown, and Python restores the
        default, fatal action before it ends; an ignored signal stays ignored.)"""
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)

    @property
    def received(self) -> bool:
        """Whether the command got SIGINT or SIGTERM at any point."""
        return self.signum is not None

    @property
    def exit_code(self) -> int:
        """The status a command stopped by a signal exits with: 128 + the signal's number."""
        return 128 + (self.signum or signal.SIGINT)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = self.signum is None
        self.signum = signum
        if self._stopper is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._stopper.request)
        elif self._holds:
            self.pending += 1
        elif first:
            self.raised = True
            if self._importing:
                self._deferred = True
            else:
                raise KeyboardInterrupt

    def forget(self) -> None:
        """The signals so far stopped the command the way it is meant to stop (a server), not
        an interruption: the command exits with its own status."""
        self.signum = None
        self.pending = 0

    def hold(self) -> None:
        """A run is open: from now on signals stop it instead of raising (see `release`)."""
        self._holds += 1

    def release(self) -> None:
        """The run is closed. Signals that arrived while it was held stay in `pending`, for the
        command to exit with `exit_code` once it has reported the run."""
        self._holds = max(0, self._holds - 1)

    @contextmanager
    def routed(self, stopper: Stopper) -> Iterator[None]:
        """While inside (on the event loop's thread), every signal is `stopper.request()`.

        Signals kept while the run was held are delivered first. The loop watches a socket that
        the signal module writes to on every signal, so a signal that lands just before the loop
        blocks in `select` still wakes it.
        """
        import asyncio

        if threading.current_thread() is not threading.main_thread():
            yield  # signals reach the main thread only; a loop elsewhere is stopped by its owner
            return
        loop = asyncio.get_running_loop()
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        loop.add_reader(reader.fileno(), _drain, reader)
        previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        self._stopper, self._loop = stopper, loop
        for _ in range(min(self.pending, 2)):
            loop.call_soon(stopper.request)
        self.pending = 0
        try:
            yield
        finally:
            self._stopper = self._loop = None
            signal.set_wakeup_fd(previous)
            loop.remove_reader(reader.fileno())
            reader.close()
            writer.close()


def _drain(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.recv(4096)


INTERRUPTS = Interrupts()
