"""Reading a run's append-only `results.jsonl`, which a kill may have left with a torn last line.

The runner appends one JSON object per finished attempt and flushes it, so a `kill -9` can only
ever damage the line being written: the last one, left unterminated and unparseable. That line
is reported (`TornLine`) and skipped; the attempt it held is simply not done yet. Damage anywhere
else is not something a kill produces, so it stops the read with `ResultsFileError` rather than
silently dropping finished work.

`merge` uses `iter_results` (plain JSON objects: it also reads the older project's files); resume
and `report` use `iter_records`, which validates each record, and resume calls `repair_tail`
before appending again, so that the next record does not get glued onto the torn bytes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from arcbench.errors import ResultsFileError
from arcbench.manifest import RunManifest
from arcbench.records import CodegenRecord, TracesRecord, parse_record

RESULTS_FILE = "results.jsonl"
MANIFEST_FILE = "run.json"
LOG_FILE = "run.log"


@dataclass(frozen=True)
class TornLine:
    """The unterminated, unparseable last line of a results file: where it starts, and why."""

    path: Path
    line_number: int
    offset: int
    length: int
    error: str

    def describe(self) -> str:
        """One line for a user: which file and line, how many bytes were ignored."""
        return (
            f"{self.path}: ignored a torn last line {self.line_number} "
            f"({self.length} bytes, {self.error})"
        )


@dataclass
class ResultsRead:
    """Every record of a results file, plus the torn last line if there was one."""

    path: Path
    records: list[dict[str, Any]] = field(default_factory=list)
    torn: TornLine | None = None


def iter_results(
    path: Path, on_torn: Callable[[TornLine], None] | None = None
) -> Iterator[dict[str, Any]]:
    """Yield each JSON object of a JSONL file in order; blank lines are skipped.

    A last line that is unterminated and does not parse is passed to `on_torn` (if given) and
    skipped. Any other line that is not a JSON object raises `ResultsFileError` naming the file
    and line, since only a damaged file produces one.
    """
    for _, value in numbered_results(path, on_torn):
        yield value


def iter_records(
    path: Path,
    on_torn: Callable[[TornLine], None] | None = None,
    *,
    without_text: bool = False,
) -> Iterator[TracesRecord | CodegenRecord]:
    """Yield each record of a run's results file, validated (see `arcbench.records`;
    `without_text` as `parse_record` says).

    A torn last line is handled as `iter_results` says; a line that is not a valid record raises
    `ResultsFileError` naming the file, the line and the field.
    """
    for number, value in numbered_results(path, on_torn):
        yield record_at(path, number, value, without_text=without_text)


def record_at(
    path: Path, number: int, value: dict[str, Any], *, without_text: bool = False
) -> TracesRecord | CodegenRecord:
    """Line `number` of the results file `path`, decoded as `value`, validated as a record;
    `ResultsFileError` naming the file, the line and the field when it is not one."""
    try:
        return parse_record(value, without_text=without_text)
    except ValidationError as exc:
        raise _bad_line(path, number, _first_problem(exc), what="a valid record") from None


def numbered_results(
    path: Path, on_torn: Callable[[TornLine], None] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """`iter_results` with each object's line number, for a reader that validates only some
    records (`record_at`)."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ResultsFileError(
            f"cannot read {path}: {exc.strerror or exc}; give a results.jsonl or a run directory"
        ) from exc
    with handle:
        offset = 0
        for number, line in enumerate(handle, start=1):
            start, offset = offset, offset + len(line)
            if not line.strip():
                continue
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                if line.endswith(b"\n"):
                    raise _bad_line(path, number, str(exc)) from exc
                if on_torn is not None:
                    on_torn(TornLine(path, number, start, len(line), str(exc)))
                continue
            if not isinstance(value, dict):
                raise _bad_line(path, number, f"a JSON {type(value).__name__}, not an object")
            yield number, value


def read_results(path: Path) -> ResultsRead:
    """All records of a results file at once, with its torn last line (see `iter_results`)."""
    read = ResultsRead(path)

    def keep(torn: TornLine) -> None:
        read.torn = torn

    read.records = list(iter_results(path, on_torn=keep))
    return read


def repair_tail(path: Path) -> TornLine | None:
    """Make a results file safe to append to again, and say what was cut.

    A torn last line is truncated away; a complete last record missing only its newline gets
    one. Call it before reopening a results file for appending (resume).
    """
    torn: list[TornLine] = []
    for _ in iter_results(path, on_torn=torn.append):
        pass
    with path.open("r+b") as handle:
        if torn:
            handle.truncate(torn[0].offset)
        elif handle.seek(0, os.SEEK_END) > 0:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                handle.write(b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    return torn[0] if torn else None


def read_manifest(run_dir: Path) -> dict[str, Any] | None:
    """A run directory's `run.json`, or None when it has none (a results file on its own)."""
    path = run_dir / MANIFEST_FILE
    try:
        value = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ResultsFileError(f"cannot read {path}: {exc}; fix or remove it") from exc
    if not isinstance(value, dict):
        raise ResultsFileError(f"{path} is not a JSON object; fix or remove it")
    return value


def load_manifest(run_dir: Path) -> RunManifest | None:
    """A run directory's `run.json`, validated; None when it has none.

    Raises `ResultsFileError` naming the file and the field when it is not a manifest.
    """
    data = read_manifest(run_dir)
    if data is None:
        return None
    try:
        return RunManifest.model_validate(data)
    except ValidationError as exc:
        raise ResultsFileError(
            f"{run_dir / MANIFEST_FILE} is not a run manifest ({_first_problem(exc)}); "
            "fix or remove it"
        ) from None


def _first_problem(exc: ValidationError) -> str:
    """The first problem of a validation error as `field.path: message`, without the value."""
    error = exc.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(part) for part in error["loc"]) or "the object"
    return f"{where}: {error['msg']}"


def _bad_line(
    path: Path, number: int, why: str, *, what: str = "a JSON object"
) -> ResultsFileError:
    return ResultsFileError(
        f"{path}, line {number}: not {what} ({why}); only a torn last line is "
        "skipped, so repair or remove this line and retry"
    )
