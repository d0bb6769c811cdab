"""Atomic file replacement: a reader sees the old file or the new one, never a torn one.

The bytes go to a temporary file in the same directory, are flushed and fsynced, and the
temporary file is renamed over the target (atomic on POSIX); the directory is fsynced so the
rename itself survives a crash. A failure leaves the target untouched and no temporary behind.
A pipe or a device named as an output (`/dev/stdout`) is written straight through instead.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO


def _mode_for(path: Path) -> int:
    """The permissions the new file gets: the replaced file's, else what `open` would give
    (0666 less the umask) — not the private 0600 of a temporary file."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process's umask, read without changing it (`os.umask` sets it, racing other threads)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def is_stream(path: Path) -> bool:
    """Whether `path` is a pipe, a device or a terminal (`/dev/stdout`, `/proc/self/fd/1`, a
    FIFO) rather than a file: written straight through, never replaced by a rename (which
    would put a regular file where the device or the link to it was)."""
    where = str(path.absolute())
    if where.startswith(("/dev/", "/proc/")) and not where.startswith("/dev/shm/"):
        return True  # /dev/stdout leads to the terminal, a pipe or the file the shell opened
    try:
        mode = path.stat().st_mode
    except (OSError, RuntimeError):  # missing (a new file), or a loop named when written
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def is_standard_output(path: Path) -> bool:
    """Whether `path` is the file this process's standard output writes to (`/dev/stdout`, the
    pipe it is, or the file it was redirected to): a command writing a document there must
    print nothing else on stdout."""
    try:
        return os.path.samestat(os.stat(path), os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError):  # no such file, or no standard output
        return False


def write_output(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Write a file a command was asked to produce (see `opened_output`)."""
    chunks = [data] if isinstance(data, bytes) else data
    with opened_output(path) as out:
        for chunk in chunks:
            out.write(chunk)


@contextlib.contextmanager
def opened_output(path: Path) -> Iterator[BinaryIO]:
    """A handle for a file a command was asked to produce: straight through when `path` is a
    pipe or a device (`--out /dev/stdout`), which a rename would replace; else a temporary
    file that replaces `path` atomically when the block succeeds."""
    if is_stream(path):
        with path.open("wb") as out:
            yield out
        return
    with replacing(path) as tmp_path, tmp_path.open("wb") as tmp:
        yield tmp


def write_atomic(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Replace `path` with `data` (bytes, or chunks of them written in turn, so a large
    document need not be held in memory at once), creating parent directories as needed."""
    chunks = [data] if isinstance(data, bytes) else data
    with replacing(path) as tmp_path, tmp_path.open("wb") as tmp:
        for chunk in chunks:
            tmp.write(chunk)


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A new, empty temporary file beside `path` for the caller to fill (by any means: a
    database backup writes it too); when the block succeeds it is fsynced and renamed over
    `path`, with `path`'s permissions; when it fails it is removed and `path` is untouched."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(
            exc.errno, f"cannot create its directory ({exc.strerror})", str(path)
        ) from None
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a file", str(path))
    if is_stream(path):  # a rename would put a regular file where the device or its link was
        raise OSError(errno.EINVAL, "is a device or a pipe, not a file", str(path))
    mode = _mode_for(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        os.chmod(tmp_name, mode)
        yield Path(tmp_name)
        _fsync(tmp_name, os.O_RDONLY)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    _fsync(path.parent, os.O_RDONLY)


def _fsync(path: str | Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
