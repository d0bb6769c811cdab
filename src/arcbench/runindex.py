"""The run directories under a runs directory, indexed for a viewer that looks at them again and
again while runs append to them: the web app's runs page and the model attempts beside its
editor.

Per run the index keeps what a look needs without reading the results file again: where each
record's line is (its text is read from there on demand), a small stub of it (outcome and
predictions, for the attempts panel) and each task's result, re-scored (`arcbench.runview`) only
for the tasks that new records touch. When nothing changed a look costs a `stat` or two per run;
when a run grew, only the appended lines are read (`arcbench.resultstail`).

Only what lies inside the runs directory is read. Run directories are real directories with
plain names (no dot files, no separators, valid UTF-8, no control characters): a symlink is left
out, and files are opened relative to the runs directory without following a symlink at any step,
so swapping a directory for a link cannot lead a read elsewhere. Everything in the files is
hostile input: a line that is not a record is skipped and counted, a manifest that does not
validate becomes the run's problem, and an oversized one is not read.
"""

from __future__ import annotations

import os
import re
import stat as stat_module
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from pydantic import BaseModel, Field, ValidationError

from arcbench.errors import ResultsFileError
from arcbench.manifest import RunManifest
from arcbench.records import TaskKey, TracesRecord, parse_record
from arcbench.report import RunData
from arcbench.resultstail import ResultsTail, Span
from arcbench.rundir import Billed
from arcbench.runfiles import MANIFEST_FILE, RESULTS_FILE
from arcbench.runview import (
    AttemptView,
    Record,
    RunTotals,
    TaskOutcome,
    TaskResult,
    TaskView,
    attempt_view,
    run_totals,
    score_task,
    task_label,
    task_view,
)
from arcbench.tasks import Task

MAX_MANIFEST_BYTES = 16 * 1024 * 1024
_NAME = re.compile(r"[^./\x00-\x1f\x7f][^/\x00-\x1f\x7f]{0,199}")
"""A run directory's name as the index accepts it (and as it appears in the API's paths)."""

Grids = Callable[[RunManifest], tuple[dict[TaskKey, Task], str | None]]
"""Where a viewer finds the grids a run was scored on: its tasks by key, or none and why."""


def _slim(value: dict[str, Any]) -> Record:
    """A record validated without what the index does not keep: its text, and the details of
    a program's results (the grids it produced on train pairs, its test outcomes). A task's
    score needs only each train result's status; the full record is read again for a view."""
    results = value.get("train_results")
    if isinstance(results, list):
        value = {
            **value,
            "train_results": [
                {"status": item.get("status")} if isinstance(item, dict) else item
                for item in results
            ],
        }
    value.pop("test_results", None)
    return parse_record(value, without_text=True)


def _full(value: dict[str, Any]) -> Record:
    return parse_record(value)


class _Rewritten(Exception):
    """A results file's earlier lines changed (it was edited, not appended to)."""


@dataclass(frozen=True, slots=True)
class Stub:
    """What the index keeps of one record in memory: enough for the attempts panel."""

    record_id: str
    key: TaskKey
    test_index: int | None
    attempt: int
    round: int
    model: str | None
    outcome: str
    answers: bytes
    """`[{test_index, prediction, correct}, …]` as JSON, written once."""
    span: Span

    @classmethod
    def of(cls, record: Record, span: Span) -> Stub:
        if isinstance(record, TracesRecord):
            answers = [
                {
                    "test_index": record.test_index,
                    "prediction": record.prediction,
                    "correct": record.correct,
                }
            ]
        else:
            correct = record.correct or []
            answers = [
                {
                    "test_index": index,
                    "prediction": grid,
                    "correct": correct[index] if index < len(correct) else None,
                }
                for index, grid in enumerate(record.predictions or [])
            ]
        return cls(
            record.record_id,
            record.task_key,
            record.test_index,
            record.attempt,
            record.round,
            record.model,
            record.outcome(),
            orjson.dumps(answers),
            span,
        )


class RunInfo(BaseModel):
    """A run directory as the runs list shows it."""

    name: str = Field(description="The directory's name under the runs directory.")
    run_id: str | None
    command: str | None
    status: str | None = Field(description="running, completed, interrupted or failed.")
    model: str | None = Field(description="The registry name of the model.")
    model_id: str | None = Field(description="The model id the server served.")
    dataset: str | None
    started_at: str | None
    finished_at: str | None
    updated_at: float | None = Field(description="When results.jsonl last changed (Unix s).")
    totals: RunTotals
    problems: list[str] = Field(description="What could not be read, and why.")


@dataclass
class RunState:
    """One run directory as last read (`root` the resolved runs directory, `name` the run's
    directory in it). Every method holds the run's lock while it works."""

    root: Path
    name: str
    tail: ResultsTail[Record] = field(init=False)
    manifest: RunManifest | None = None
    manifest_problem: str | None = None
    results_problem: str | None = None
    _manifest_seen: tuple[int, int, int] | None = None
    stubs: dict[str, Stub] = field(default_factory=dict)
    by_task: dict[TaskKey, dict[str, Stub]] = field(default_factory=dict)
    results: dict[TaskKey, TaskResult] = field(default_factory=dict)
    declared: dict[TaskKey, int] = field(default_factory=dict)
    billed: Billed = field(default_factory=Billed)
    updated_at: float | None = None
    revision: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _seen: tuple[Any, ...] | None = None
    """The files' stats when last read: a look that finds them unchanged reads nothing."""
    _info: RunInfo | None = None
    _rows: bytes | None = None

    def __post_init__(self) -> None:
        self.tail = self._new_tail()

    def _new_tail(self) -> ResultsTail[Record]:
        return ResultsTail(self.path / RESULTS_FILE, _slim, opener=lambda: self.open(RESULTS_FILE))

    @property
    def path(self) -> Path:
        return self.root / self.name

    def open(self, file: str) -> BinaryIO:
        """A file of the run opened for reading without following a symlink at any step."""
        return open_inside(self.root, self.name, file)

    # -- reading ----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Bring the run up to date with its files (a stat or two when nothing changed). A
        results file whose earlier lines changed under the index (it is meant to be
        append-only) is read again from its start."""
        with self.lock:
            seen = _signature(self.path)
            if seen == self._seen:
                return
            try:
                self._refresh()
            except _Rewritten:
                self.tail = self._new_tail()
                self._reset()
                self._refresh()
            self._seen = seen

    def _refresh(self) -> None:
        manifest_changed = self._read_manifest()
        try:
            appended = self.tail.refresh()
        except OSError as exc:
            self._reset()
            self.tail = self._new_tail()
            self.results_problem = f"{RESULTS_FILE} cannot be read ({exc.strerror or exc})"
            self._changed()
            return
        self.results_problem = None
        if appended.restarted:
            self._reset()
        if not appended.records and not appended.restarted and not manifest_changed:
            return
        fresh: dict[str, Record] = {}
        stale: set[TaskKey] = set()
        for record, span in appended.records:
            self.billed.add(record)
            stub = Stub.of(record, span)
            self.stubs[stub.record_id] = stub
            self.by_task.setdefault(stub.key, {})[stub.record_id] = stub
            fresh[stub.record_id] = record
            stale.add(stub.key)
        if manifest_changed or appended.restarted:
            stale |= set(self.declared) | set(self.by_task)
        for key in stale:
            records = self._records(key, fresh, _slim)
            self.results[key] = score_task(key, self.declared.get(key, 0), records)
        for key in set(self.results) - set(self.declared) - set(self.by_task):
            del self.results[key]
        self._stat_updated()
        self._changed()

    def _read_manifest(self) -> bool:
        """Re-read run.json if it changed; whether it did."""
        path = self.path / MANIFEST_FILE
        try:
            seen = os.stat(path, follow_symlinks=False)  # a cheap look; reading is `open`
        except FileNotFoundError:
            changed = self._manifest_seen is not None or self.manifest_problem is None
            self._manifest_seen = None
            self._set_manifest(None, "no run.json: a results file without its manifest")
            return changed
        except OSError as exc:
            self._set_manifest(None, f"run.json cannot be read ({exc.strerror or exc})")
            return True
        signature = (seen.st_ino, seen.st_size, seen.st_mtime_ns)
        if signature == self._manifest_seen:
            return False
        self._manifest_seen = signature
        if not stat_module.S_ISREG(seen.st_mode):
            self._set_manifest(None, "run.json is not a regular file (a symlink is not followed)")
        elif seen.st_size > MAX_MANIFEST_BYTES:
            self._set_manifest(None, f"run.json is over {MAX_MANIFEST_BYTES} bytes: not read")
        else:
            try:
                with self.open(MANIFEST_FILE) as handle:
                    data = handle.read(MAX_MANIFEST_BYTES + 1)[:MAX_MANIFEST_BYTES]
                self._set_manifest(RunManifest.model_validate_json(data), None)
            except OSError as exc:
                self._set_manifest(None, f"run.json cannot be read ({exc.strerror or exc})")
            except ValidationError as exc:
                error = exc.errors(include_input=False, include_url=False)[0]
                where = ".".join(str(part) for part in error["loc"]) or "the file"
                self._set_manifest(
                    None, f"run.json is not a run manifest ({where}: {error['msg']})"
                )
        return True

    def _set_manifest(self, manifest: RunManifest | None, problem: str | None) -> None:
        self.manifest = manifest
        self.manifest_problem = problem
        self.declared = RunData(self.path, manifest, {}).declared

    def _records(
        self, key: TaskKey, fresh: dict[str, Record], parse: Callable[[dict[str, Any]], Record]
    ) -> list[Record]:
        """The latest record of each attempt of a task: from `fresh` when just read, else read
        again from the file (only this task's lines)."""
        records = []
        for record_id, stub in self.by_task.get(key, {}).items():
            record = fresh.get(record_id)
            records.append(record if record is not None else self._read(stub, parse))
        return records

    def _read(self, stub: Stub, parse: Callable[[dict[str, Any]], Record]) -> Record:
        """A record read again from its line; `_Rewritten` when the line is no longer it."""
        try:
            record = parse(orjson.loads(self.tail.read_line(stub.span)))
        except (OSError, ValueError) as exc:  # JSONDecodeError and ValidationError are both
            raise _Rewritten(str(exc)) from None
        if record.record_id != stub.record_id:
            raise _Rewritten(f"line at byte {stub.span.offset} holds another record")
        return record

    def _reset(self) -> None:
        self.stubs = {}
        self.by_task = {}
        self.results = {}
        self.billed = Billed()

    def _stat_updated(self) -> None:
        try:
            self.updated_at = os.stat(self.tail.path, follow_symlinks=False).st_mtime
        except OSError:
            self.updated_at = None

    def _changed(self) -> None:
        self.revision += 1
        self._info = None
        self._rows = None

    # -- views ------------------------------------------------------------------------------

    def info(self) -> RunInfo:
        with self.lock:
            if self._info is None:
                self._info = self._make_info()
            return self._info

    def _make_info(self) -> RunInfo:
        manifest = self.manifest
        problems = [p for p in (self.manifest_problem, self.results_problem) if p]
        skipped = self.tail.skipped
        if skipped.count:
            problems.append(
                f"{RESULTS_FILE}: {skipped.count} line(s) skipped, not records ({skipped.first})"
            )
        return RunInfo(
            name=self.name,
            run_id=manifest.run_id if manifest else None,
            command=manifest.command if manifest else None,
            status=manifest.status if manifest else None,
            model=manifest.model.name if manifest else None,
            model_id=manifest.model.model_id if manifest else None,
            dataset=manifest.dataset.spec if manifest else None,
            started_at=manifest.started_at if manifest else None,
            finished_at=manifest.finished_at if manifest else None,
            updated_at=self.updated_at,
            totals=run_totals(self._ordered_results(), self.billed.usage, self.billed.cost_usd),
            problems=problems,
        )

    def _ordered_results(self) -> Iterator[TaskResult]:
        """Declared tasks in the run's order, then tasks only records name."""
        for key in self.declared:
            if key not in self.results:
                self.results[key] = score_task(key, self.declared[key], [])
            yield self.results[key]
        for key in self.by_task:
            if key not in self.declared:
                yield self.results[key]

    def rows(self) -> bytes:
        """Every task's outcome as a JSON list, kept until the run changes."""
        with self.lock:
            if self._rows is None:
                self._rows = orjson.dumps(
                    [result.outcome.model_dump() for result in self._ordered_results()]
                )
            return self._rows

    def outcomes(self) -> list[TaskOutcome]:
        with self.lock:
            return [result.outcome for result in self._ordered_results()]

    def task(self, key: TaskKey, grids: Grids) -> TaskView | None:
        """Task `key` in full (its records read again, with their text); None when the run
        neither declares it nor has a record of it."""
        with self.lock:
            if key not in self.declared and key not in self.by_task:
                return None
            try:
                records = self._records(key, {}, _full)
            except _Rewritten:
                raise self._changed_meanwhile() from None
            manifest = self.manifest
        tasks, note = grids(manifest) if manifest else ({}, "grids not shown (no run.json)")
        if key not in tasks and note is None:
            note = f"grids not shown (task {task_label(key)} is not in the run's dataset)"
        return task_view(
            key,
            self.declared.get(key, 0),
            records,
            tasks.get(key),
            command=manifest.command if manifest else None,
            note=note,
        )

    def attempt(self, record_id: str) -> AttemptView | None:
        """One record in full, with its text; None when the run has no such record."""
        with self.lock:
            stub = self.stubs.get(record_id)
            if stub is None:
                return None
            try:
                record = self._read(stub, _full)
            except _Rewritten:
                raise self._changed_meanwhile() from None
            result = self.results.get(stub.key)
            finals = self._finals(stub.key)
        submitted = result is not None and record_id in result.submitted.values()
        return attempt_view(record, submitted, record_id in finals)

    def _changed_meanwhile(self) -> ResultsFileError:
        """The results file was edited under the index: forget it, so the next look reads it
        afresh, and say so."""
        self.tail = self._new_tail()
        self._seen = None
        self._reset()
        self._changed()
        return ResultsFileError(
            f"run {self.name}: {RESULTS_FILE} changed while it was read (it is append-only); "
            "reload the page"
        )

    def _finals(self, key: TaskKey) -> set[str]:
        """The record ids of each attempt's last round (every traces record is one)."""
        last: dict[int, Stub] = {}
        for stub in self.by_task.get(key, {}).values():
            if stub.test_index is not None:
                continue
            if stub.attempt not in last or stub.round >= last[stub.attempt].round:
                last[stub.attempt] = stub
        ids = {stub.record_id for stub in last.values()}
        ids |= {s.record_id for s in self.by_task.get(key, {}).values() if s.test_index is not None}
        return ids

    def panel(
        self, key: TaskKey, answers: Callable[[bytes], Any] = orjson.Fragment
    ) -> list[dict[str, Any]]:
        """The task's attempts as the attempts panel lists them; `answers` receives each
        attempt's answers as JSON (by default they go out as they are)."""
        with self.lock:
            stubs = list(self.by_task.get(key, {}).values())
            if not stubs:
                return []
            result = self.results.get(key)
            submitted = set(result.submitted.values()) if result else set()
            finals = self._finals(key)
        return [
            {
                "record_id": stub.record_id,
                "attempt": stub.attempt,
                "round": stub.round,
                "test_index": stub.test_index,
                "model": stub.model,
                "outcome": stub.outcome,
                "submitted": stub.record_id in submitted,
                "final": stub.record_id in finals,
                "answers": answers(stub.answers),
            }
            for stub in sorted(stubs, key=lambda s: (s.test_index or 0, s.attempt, s.round))
        ]


def _signature(run_dir: Path) -> tuple[Any, ...]:
    """A cheap fingerprint of a run's files (stats only, nothing opened), for noticing change:
    identity, size and modification time of run.json and results.jsonl, and of the directory."""
    base = os.fspath(run_dir)
    return (
        _stat_key(base),
        _stat_key(f"{base}/{MANIFEST_FILE}"),
        _stat_key(f"{base}/{RESULTS_FILE}"),
    )


def _stat_key(path: str) -> tuple[int, int, int, int] | None:
    try:
        seen = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    return (seen.st_mode, seen.st_ino, seen.st_size, seen.st_mtime_ns)


_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def open_inside(root: Path, name: str, file: str) -> BinaryIO:
    """`root/name/file` opened for reading, each step relative to the last and none through a
    symlink, and only if it is a regular file."""
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        run_fd = os.open(name, _DIRECTORY, dir_fd=root_fd)
    finally:
        os.close(root_fd)
    try:
        fd = os.open(
            file, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=run_fd
        )
    finally:
        os.close(run_fd)
    handle = os.fdopen(fd, "rb")
    if not stat_module.S_ISREG(os.fstat(fd).st_mode):
        handle.close()
        raise OSError(f"{file} is not a regular file")
    return handle


class RunsIndex:
    """Every run directory under `root`, each read when first asked for and kept up to date."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._runs: dict[str, RunState] = {}
        self._lock = threading.Lock()
        self._signature: tuple[Any, ...] | None = None
        self._counter = 0

    def _resolved_root(self) -> Path | None:
        try:
            return self.root.resolve(strict=True)
        except OSError:
            return None

    def names(self) -> list[str]:
        """The run directories now under the root, sorted by name."""
        root = self._resolved_root()
        if root is None:
            return []
        try:
            entries = list(os.scandir(root))
        except OSError:
            return []
        names = []
        for entry in entries:
            try:
                if (
                    _NAME.fullmatch(entry.name)
                    and _utf8(entry.name)
                    and entry.is_dir(follow_symlinks=False)
                ):
                    names.append(entry.name)
            except OSError:
                continue
        return sorted(names)

    def _state(self, root: Path, name: str) -> RunState:
        with self._lock:
            state = self._runs.get(name)
            if state is None or state.root != root:
                state = self._runs[name] = RunState(root, name)
            return state

    def run(self, name: str) -> RunState | None:
        """The run named `name`, up to date; None when there is no such run directory."""
        root = self._resolved_root()
        if root is None or not _NAME.fullmatch(name) or name not in self.names():
            return None
        state = self._state(root, name)
        state.refresh()
        return state

    def runs(self) -> list[RunState]:
        """Every run, up to date, by name."""
        root = self._resolved_root()
        names = self.names()
        if root is None:
            return []
        found = [self._state(root, name) for name in names]
        with self._lock:
            for gone in set(self._runs) - set(names):
                del self._runs[gone]
        for state in found:
            state.refresh()
        return found

    def attempts(
        self, key: TaskKey, answers: Callable[[bytes], Any] = orjson.Fragment
    ) -> Iterable[tuple[RunState, list[dict[str, Any]]]]:
        """Every run's attempts at task `key`, runs by name (runs without one left out)."""
        for state in self.runs():
            listed = state.panel(key, answers)
            if listed:
                yield state, listed

    def by_run_id(self) -> dict[str, str]:
        """Run ids to directory names, for naming a merged trace's run."""
        return {
            state.manifest.run_id: state.name for state in self.runs() if state.manifest is not None
        }

    def counter(self) -> int:
        """A number that moves whenever a run directory appears, goes or changes (stats only,
        no reading): what live views watch."""
        root = self._resolved_root()
        signature = tuple(
            (name, *_signature(root / name)) for name in self.names() if root is not None
        )
        with self._lock:
            if signature != self._signature:
                self._signature = signature
                self._counter += 1
            return self._counter


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes, kept as surrogates by os.scandir
        return False
    return True
