"""Writing exported rows: one file, or a train/validation split by task, never half-written.

Rows go, in order, to a temporary file beside the output; only when the whole export succeeded
is it renamed into place (`arcbench.atomic`), so a failure or Ctrl+C leaves any earlier file
untouched and no partial one. With `--split-by-task` the rows are first staged in an anonymous
temporary file in the output directory, then the tasks are split and the rows streamed into
`train.jsonl` and `val.jsonl`, each replaced atomically. A pipe or a device (`--out
/dev/stdout`) is written straight through: a rename would put a file where the device was.
"""

from __future__ import annotations

import random
import sys
import tempfile
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from arcbench.atomic import opened_output, replacing
from arcbench.errors import ArcbenchError

TRAIN_FILE = "train.jsonl"
VAL_FILE = "val.jsonl"


@dataclass(frozen=True)
class WrittenFile:
    """A file an export wrote: its path, rows and distinct tasks."""

    path: Path
    rows: int
    tasks: int


@dataclass
class RowOutput:
    """Where rows go while an export runs; `files` says what was written once it is done."""

    handle: IO[bytes]
    rows: int = 0
    task_ids: list[str] = field(default_factory=list)
    """The task id of every row, in order (what the split sorts rows by)."""
    files: list[WrittenFile] = field(default_factory=list)

    def write(self, line: bytes, task_id: str) -> None:
        self.handle.write(line)
        self.handle.write(b"\n")
        self.rows += 1
        self.task_ids.append(sys.intern(task_id))


@contextmanager
def row_output(out: Path, val_fraction: float | None, seed: int) -> Iterator[RowOutput]:
    """A `RowOutput` whose rows become `out` (a file), or with `val_fraction`, `out/train.jsonl`
    and `out/val.jsonl` (a directory) — when the block succeeds, and only then."""
    if val_fraction is None:  # /dev/stdout or a pipe is written straight through
        with opened_output(out) as handle:
            output = RowOutput(handle)
            yield output
            output.files = [WrittenFile(out, output.rows, len(set(output.task_ids)))]
        return
    if out.exists() and not out.is_dir():
        raise ArcbenchError(
            f"--out {out} is a file; --split-by-task writes {TRAIN_FILE} and {VAL_FILE} into "
            "a directory: give a directory"
        )
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=out, prefix=".export-") as staging:
        output = RowOutput(staging)
        yield output
        staging.seek(0)
        output.files = _write_split(staging, output.task_ids, out, val_fraction, seed)


def validation_tasks(task_ids: Collection[str], fraction: float, seed: int) -> set[str]:
    """The tasks that go to validation: `round(fraction * tasks)` of them, drawn by a generator
    seeded with `seed` from the sorted ids (so the draw does not depend on the rows' order), at
    least one and never all when there are two tasks or more."""
    ordered = sorted(set(task_ids))
    count = round(fraction * len(ordered))
    count = min(max(count, 1), len(ordered) - 1) if len(ordered) >= 2 else 0
    return set(random.Random(seed).sample(ordered, count))


def _write_split(
    staging: IO[bytes], task_ids: list[str], out: Path, fraction: float, seed: int
) -> list[WrittenFile]:
    val = validation_tasks(task_ids, fraction, seed)
    rows = {TRAIN_FILE: 0, VAL_FILE: 0}
    with (
        replacing(out / TRAIN_FILE) as train_path,
        replacing(out / VAL_FILE) as val_path,
        train_path.open("wb") as train,
        val_path.open("wb") as validation,
    ):
        for line, task_id in zip(staging, task_ids, strict=True):
            side = VAL_FILE if task_id in val else TRAIN_FILE
            (validation if side == VAL_FILE else train).write(line)
            rows[side] += 1
    tasks = set(task_ids)
    return [
        WrittenFile(out / TRAIN_FILE, rows[TRAIN_FILE], len(tasks - val)),
        WrittenFile(out / VAL_FILE, rows[VAL_FILE], len(val)),
    ]
