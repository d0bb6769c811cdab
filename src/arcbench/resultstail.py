"""Following a `results.jsonl` that may still be growing: read only what was appended since the
last look, and know where each record's line is, to read its text again later.

A viewer (the web app's runs page, the attempts beside the editor) looks at run directories
over and over while runs append to them. Re-reading a whole results file per look would cost
seconds on a large run; `ResultsTail.refresh` reads only the bytes added since the last call,
and only when the file's size or modification time moved. A line is taken once it ends in a
newline: a line being written (or torn by a kill) is left for a later look.

Nothing in a file is trusted. A line that is not JSON (bad bytes, not UTF-8, not an object) is
counted and skipped; a line longer than `max_line` is skipped without being held in memory; a
file that shrank or was replaced is read again from its start.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Generic, TypeVar

import orjson

MAX_LINE_BYTES = 32 * 1024 * 1024
"""The longest record read: a reply of a million tokens fits; a runaway line is skipped."""

CHUNK_BYTES = 1024 * 1024

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Span:
    """Where one record's line is in its file (without the newline)."""

    offset: int
    length: int


@dataclass
class Skipped:
    """Lines that held no usable record, and why the first of them did not."""

    count: int = 0
    first: str | None = None

    def add(self, line_number: int, why: str) -> None:
        self.count += 1
        if self.first is None:
            self.first = f"line {line_number}: {why}"


@dataclass(frozen=True)
class Appended(Generic[T]):
    """What one look found: the records of lines added since the last, each with its span, and
    whether the file was read afresh from its start (what was known of it is void)."""

    records: list[tuple[T, Span]]
    restarted: bool


@dataclass
class ResultsTail(Generic[T]):
    """Where reading a results file stopped, and what was skipped on the way.

    `parse` turns one decoded JSON object into a record (or raises `ValueError`, which
    pydantic's `ValidationError` is, to have the line skipped); `max_line` caps a line's size;
    `opener` opens the file (by default `path`, refusing a symlink; a caller that must not leave
    a directory passes its own). The caller keeps what it needs of the records.
    """

    path: Path
    parse: Callable[[dict[str, Any]], T]
    max_line: int = MAX_LINE_BYTES
    opener: Callable[[], BinaryIO] | None = None
    skipped: Skipped = field(default_factory=Skipped)
    _identity: tuple[int, int] | None = None
    _seen: tuple[int, int] | None = None
    _offset: int = 0
    _lines: int = 0

    def refresh(self) -> Appended[T]:
        """Read what was appended since the last call (the whole file on the first call, or
        when it was replaced or cut short). A missing file is an empty one."""
        try:
            handle = self._open()
        except FileNotFoundError:
            restarted = self._identity is not None
            self._restart()
            return Appended([], restarted)
        with handle:
            stat = os.fstat(handle.fileno())
            identity = (stat.st_dev, stat.st_ino)
            seen = (stat.st_size, stat.st_mtime_ns)
            restarted = identity != self._identity or stat.st_size < self._offset
            if restarted:
                self._restart()
                self._identity = identity
            elif seen == self._seen:
                return Appended([], False)
            self._seen = seen
            handle.seek(self._offset)
            return Appended(list(self._read(handle)), restarted)

    def changed(self) -> bool:
        """Whether the file looks different from when it was last read (size, time, identity):
        a cheap test, no reading."""
        try:
            stat = os.stat(self.path, follow_symlinks=False)
        except OSError:
            return self._identity is not None
        return (stat.st_dev, stat.st_ino) != self._identity or (
            stat.st_size,
            stat.st_mtime_ns,
        ) != self._seen

    def read_line(self, span: Span) -> bytes:
        """The bytes of one record's line, read again (for the text a record keeps on disk)."""
        with self._open() as handle:
            handle.seek(span.offset)
            return handle.read(span.length)

    def _open(self) -> BinaryIO:
        return self.opener() if self.opener is not None else open_plain(self.path)

    def _restart(self) -> None:
        self.skipped = Skipped()
        self._identity = None
        self._seen = None
        self._offset = 0
        self._lines = 0

    def _read(self, handle: BinaryIO) -> Iterator[tuple[T, Span]]:
        """The complete lines from the current offset, in chunks; the offset moves past each
        line read, so a line still being written is read again, whole, next time."""
        base = line_start = self._offset
        pending = bytearray()
        oversized = False
        while chunk := handle.read(CHUNK_BYTES):
            position = 0
            while (end := chunk.find(b"\n", position)) != -1:
                self._lines += 1
                if not oversized and len(pending) + end - position <= self.max_line:
                    pending += chunk[position:end]
                    record = self._parse(bytes(pending), line_start)
                    if record is not None:
                        yield record
                else:
                    self.skipped.add(self._lines, f"longer than {self.max_line} bytes")
                pending.clear()
                oversized = False
                line_start = self._offset = base + end + 1
                position = end + 1
            if not oversized:
                pending += chunk[position:]
                if len(pending) > self.max_line:
                    oversized = True
                    pending.clear()
            base += len(chunk)

    def _parse(self, line: bytes, offset: int) -> tuple[T, Span] | None:
        if not line.strip():
            return None
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            self.skipped.add(self._lines, f"not JSON ({exc})")
            return None
        if not isinstance(value, dict):
            self.skipped.add(self._lines, f"a JSON {type(value).__name__}, not an object")
            return None
        try:
            record = self.parse(value)
        except ValueError as exc:
            self.skipped.add(self._lines, f"not a record ({_first_line(exc)})")
            return None
        return record, Span(offset, len(line))


def open_plain(path: Path) -> BinaryIO:
    """`path` opened for reading, refusing a symlink in its last component."""
    return os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC), "rb")


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return " ".join(text[:3])[:300] if text else type(exc).__name__
