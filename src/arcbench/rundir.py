"""A run directory being written: its manifest (`run.json`) and its append-only results.

`results.jsonl` is both the output and the checkpoint. Each finished attempt is appended as one
line and flushed at once, so a `kill -9` loses only what was in flight; an fsync follows at most
a second later (and at close) so a lost machine loses at most that second. `run.json` is always
replaced atomically.

Opening an existing directory resumes it: the manifest must describe the same command, model,
dataset content and prompt version (anything else is refused, never mixed in); a torn last line
is cut away; finished records are known by `record_id` so nothing is asked twice, while records
that carry an `error` are retried (the retry appends a new record with the same id; the last
record of an id wins).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson
from filelock import FileLock, Timeout

from arcbench import __version__
from arcbench.atomic import write_atomic
from arcbench.collector import collector_paused
from arcbench.datasets import BUNDLED_SPECS
from arcbench.errors import RunError, RunMismatchError, RunOutputError
from arcbench.interrupts import INTERRUPTS
from arcbench.manifest import RunIdentity, RunManifest, RunSummary, Status
from arcbench.records import CodegenRecord, RecordBase, TaskKey, TracesRecord, dump_record
from arcbench.runfiles import (
    MANIFEST_FILE,
    RESULTS_FILE,
    TornLine,
    iter_records,
    load_manifest,
    repair_tail,
)
from arcbench.usage import Usage

FSYNC_INTERVAL_S = 1.0


_RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=@-]*")


def check_run_name(name: str) -> str:
    """A run name is one directory below --out: no separators, no `..`, no leading dot."""
    if not _RUN_NAME.fullmatch(name) or ".." in name:
        raise RunError(
            f"--run-name {name!r}: use letters, digits and . _ - + = @ only (one directory "
            "name inside --out, not a path)"
        )
    return name


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def record_id(
    run_id: str,
    task_id: str,
    version: int | None,
    test_index: int | None,
    attempt: int,
    round_: int,
) -> str:
    """Stable across resumes of one run (same run id), different between runs."""
    key = orjson.dumps([run_id, task_id, version, test_index, attempt, round_])
    return hashlib.sha256(key).hexdigest()[:24]


@dataclass
class Billed:
    """Tokens and cost over every record of a run, superseded failures included: a retried
    attempt's failed calls were billed all the same. Kept per task too (bounded by the
    dataset), so that a comparison can count what each run spent on the tasks both ran."""

    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    by_task: dict[TaskKey, tuple[Usage, float]] = field(default_factory=dict)

    def add(self, record: RecordBase) -> None:
        self.usage += record.usage
        self.cost_usd += record.cost_usd
        usage, cost = self.by_task.get(record.task_key, (Usage(), 0.0))
        self.by_task[record.task_key] = (usage + record.usage, cost + record.cost_usd)

    def over(self, tasks: Collection[TaskKey]) -> Billed:
        """What was billed for `tasks` only."""
        billed = Billed()
        for key in tasks:
            usage, cost = self.by_task.get(key, (Usage(), 0.0))
            billed.usage += usage
            billed.cost_usd += cost
            billed.by_task[key] = (usage, cost)
        return billed


def read_latest(results: Path) -> tuple[dict[str, TracesRecord | CodegenRecord], Billed]:
    """The latest record of each attempt (without its text: the file keeps that), and what
    every record cost, in one pass. A torn last line is skipped (`repair_tail` reports it).

    The cyclic collector is paused meanwhile (see `arcbench.collector`): a large run (an
    augmented one is several times the size) otherwise spends more time collecting than reading.
    """
    billed = Billed()
    latest: dict[str, TracesRecord | CodegenRecord] = {}
    with collector_paused():
        for record in iter_records(results, without_text=True):
            billed.add(record)
            latest[record.record_id] = record
    return latest, billed


NAME_PART_CHARS = 20
"""The longest model or dataset part of a default run name: names stay short enough to be
read, typed and printed whole on an 80-column terminal (run.json records the full ones)."""


_SHORT_SPLITS = {"training": "train", "evaluation": "eval"}


def default_run_name(command: str, model: str, dataset: str, now: datetime) -> str:
    """`codegen-baseline-agi1-train-1129-140240`: readable, short, unique per start.

    The model is its last path part (`gpt-4o-mini` for `openrouter/openai/gpt-4o-mini`), a
    bundled set its short name (`agi2-eval`), a file or directory its stem; the start time is
    month, day, hours, minutes and seconds (run.json keeps the full start time).
    """

    def clean(text: str) -> str:
        kept = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in text).strip("-.")
        return kept[:NAME_PART_CHARS].rstrip("-.") or "x"

    if dataset in BUNDLED_SPECS:
        version, split = dataset.split("/")  # arc-agi-1/training: agi1-train
        source = f"agi{version.rsplit('-', 1)[-1]}-{_SHORT_SPLITS.get(split, split)}"
    else:
        source = Path(dataset).stem
    return f"{command}-{clean(model.rsplit('/', 1)[-1])}-{clean(source)}-{now:%m%d-%H%M%S}"


def unused_run_name(out: Path, name: str) -> str:
    """`name`, or `name-2`, `name-3`, … when a directory of that name exists already: a
    default name starts a new run, never resumes another one."""
    candidate, number = name, 1
    while (out / candidate).exists():
        number += 1
        candidate = f"{name}-{number}"
    return candidate


@dataclass
class RunDirectory:
    """An open run: its manifest in memory, its results file open for appending.

    `previous` holds the latest record of each attempt of earlier sessions (without its text),
    `done` the ids of those that need no retry, `billed` what every earlier record cost, and
    `charged_usd` what the last capped session's budget counted as spent (`--max-cost`), which
    can exceed `billed` by requests it charged at their worst case.
    """

    path: Path
    manifest: RunManifest
    done: set[str] = field(default_factory=set)
    previous: dict[str, TracesRecord | CodegenRecord] = field(default_factory=dict)
    billed: Billed = field(default_factory=Billed)
    torn: TornLine | None = None
    resumed: bool = False
    charged_usd: float = 0.0
    _handle: IO[bytes] | None = None
    _last_sync: float = 0.0
    _lock: FileLock | None = None

    @property
    def run_id(self) -> str:
        return self.manifest.run_id

    @property
    def results_path(self) -> Path:
        return self.path / RESULTS_FILE

    @classmethod
    def open(cls, path: Path, identity: RunIdentity, config: dict[str, Any]) -> RunDirectory:
        """Create the run at `path`, or resume it if it exists with the same identity.

        From here to `close`, SIGINT and SIGTERM stop the run rather than raise (see
        `arcbench.interrupts`), so that `run.json` is never left at `running` by a signal.
        """
        INTERRUPTS.hold()
        try:
            return cls._open(path, identity, config)
        except BaseException:
            INTERRUPTS.release()
            raise

    @classmethod
    def _open(cls, path: Path, identity: RunIdentity, config: dict[str, Any]) -> RunDirectory:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunOutputError(
                f"cannot create the run directory {path}: {exc.strerror}; choose another --out"
            ) from None
        lock = FileLock(path / ".lock", timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise RunError(
                f"{path} is being written by another arcbench process; wait for it to finish "
                "(or stop it), or pass a new --run-name"
            ) from None
        try:
            return cls._open_locked(path, identity, config, lock)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def _open_locked(
        cls, path: Path, identity: RunIdentity, config: dict[str, Any], lock: FileLock
    ) -> RunDirectory:
        existing = load_manifest(path)
        if existing is None:
            manifest = RunManifest(
                run_id=uuid.uuid4().hex,
                **dict(identity),
                config=config,
                status="running",
                arcbench_version=__version__,
                started_at=now_iso(),
            )
            run = cls(path, manifest)
        else:
            _check_same_run(path, existing, identity)
            manifest = existing.model_copy(
                update={
                    "config": config,
                    "status": "running",
                    "finished_at": None,
                    "arcbench_version": __version__,
                    "error": None,
                    "stop_reason": None,
                    "budget": None,
                }
            )
            run = cls(path, manifest, resumed=True)
            if existing.budget is not None:
                run.charged_usd = existing.budget.spent_usd
            results = path / RESULTS_FILE
            if results.exists():
                run.torn = repair_tail(results)
                run.previous, run.billed = read_latest(results)
                run.done = {rid for rid, rec in run.previous.items() if rec.error is None}
        run._lock = lock
        run.write_manifest()
        try:
            run._handle = (path / RESULTS_FILE).open("ab")
        except OSError as exc:
            raise RunOutputError(f"cannot write {path / RESULTS_FILE}: {exc.strerror}") from None
        return run

    def append(self, record: RecordBase) -> None:
        """Write one finished record and flush it; fsync at most once a second."""
        assert self._handle is not None, "run directory is closed"
        try:
            self._handle.write(dump_record(record) + b"\n")
            self._handle.flush()
            now = time.monotonic()
            if now - self._last_sync >= FSYNC_INTERVAL_S:
                os.fsync(self._handle.fileno())
                self._last_sync = now
        except OSError as exc:
            raise RunOutputError(f"cannot write {self.results_path}: {exc.strerror}") from None

    def write_manifest(self) -> None:
        write_atomic(self.path / MANIFEST_FILE, self.manifest.to_json())

    def close(self, status: Status, summary: RunSummary | None, **entries: Any) -> None:
        """Sync the results and record the final status and summary in the manifest
        (`entries` are further top-level entries: `session_seconds`, `error`)."""
        try:
            if self._handle is not None:
                self._handle.flush()
                os.fsync(self._handle.fileno())
                self._handle.close()
                self._handle = None
            update = dict(summary) if summary is not None else {}
            update |= entries
            self.manifest = self.manifest.model_copy(
                update={**update, "status": status, "finished_at": now_iso()}
            )
            self.write_manifest()
        finally:
            self.release()

    def release(self) -> None:
        """Give up the run directory's lock (`close` does; also for a run that never started)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None
            INTERRUPTS.release()


def _check_same_run(path: Path, existing: RunManifest, identity: RunIdentity) -> None:
    for what, before, now in existing.differences(identity):
        raise RunMismatchError(
            f"{path} holds a run with a different {what} ({before} there; {now} now): "
            f"to resume it, give the options it was started with; to start a new run instead, "
            f"pass another --run-name (or leave --run-name out)"
        )
