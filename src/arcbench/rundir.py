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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson
from filelock import FileLock, Timeout

from arcbench import __version__
from arcbench.atomic import write_atomic
from arcbench.errors import RunError, RunMismatchError, RunOutputError
from arcbench.runfiles import (
    MANIFEST_FILE,
    RESULTS_FILE,
    TornLine,
    iter_results,
    read_manifest,
    repair_tail,
)

FSYNC_INTERVAL_S = 1.0

IDENTITY_KEYS = ("command", "model", "dataset", "prompt_version")
"""What a resumed run must share with the run it continues."""


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


HEAVY_FIELDS = ("messages", "response", "reasoning")
"""Record fields a resume does not need in memory (the file keeps them)."""


def slim(record: dict[str, Any]) -> dict[str, Any]:
    """A record without its bulky text fields, for bookkeeping over long runs."""
    return {k: v for k, v in record.items() if k not in HEAVY_FIELDS}


@dataclass
class Billed:
    """Tokens and cost over every record of a run, superseded failures included: a retried
    attempt's failed calls were billed all the same."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, record: dict[str, Any]) -> None:
        usage = record.get("usage") or {}
        self.prompt_tokens += int(usage.get("prompt_tokens") or 0)
        self.completion_tokens += int(usage.get("completion_tokens") or 0)
        self.reasoning_tokens += int(usage.get("reasoning_tokens") or 0)
        self.cost_usd += float(record.get("cost_usd") or 0.0)

    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        }


def read_latest(results: Path) -> tuple[dict[str, dict[str, Any]], Billed]:
    """The latest (slim) record of each attempt, and what every record cost, in one pass."""
    billed = Billed()

    def each() -> Iterator[dict[str, Any]]:
        for record in iter_results(results):
            billed.add(record)
            yield slim(record)

    return latest_records(each()), billed


def latest_records(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The last record of each `record_id` (a retried attempt supersedes its failure)."""
    latest: dict[str, dict[str, Any]] = {}
    for record in records:
        rid = record.get("record_id")
        if isinstance(rid, str):
            latest[rid] = record
    return latest


@dataclass
class RunDirectory:
    """An open run: its manifest in memory, its results file open for appending."""

    path: Path
    manifest: dict[str, Any]
    done: set[str] = field(default_factory=set)
    previous: dict[str, dict[str, Any]] = field(default_factory=dict)
    billed: Billed = field(default_factory=Billed)
    torn: TornLine | None = None
    resumed: bool = False
    _handle: IO[bytes] | None = None
    _last_sync: float = 0.0
    _lock: FileLock | None = None

    @property
    def run_id(self) -> str:
        return str(self.manifest["run_id"])

    @property
    def results_path(self) -> Path:
        return self.path / RESULTS_FILE

    @classmethod
    def open(cls, path: Path, identity: dict[str, Any], config: dict[str, Any]) -> RunDirectory:
        """Create the run at `path`, or resume it if it exists with the same identity."""
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
        cls, path: Path, identity: dict[str, Any], config: dict[str, Any], lock: FileLock
    ) -> RunDirectory:
        existing = read_manifest(path)
        run = cls(path, {})
        run._lock = lock
        if existing is None:
            run.manifest = {
                "run_id": uuid.uuid4().hex,
                **identity,
                "config": config,
                "status": "running",
                "arcbench_version": __version__,
                "started_at": now_iso(),
                "finished_at": None,
            }
        else:
            _check_same_run(path, existing, identity)
            run.resumed = True
            run.manifest = {
                **existing,
                "config": config,
                "status": "running",
                "finished_at": None,
                "arcbench_version": __version__,
            }
            results = path / RESULTS_FILE
            if results.exists():
                run.torn = repair_tail(results)
                run.previous, run.billed = read_latest(results)
                run.done = {rid for rid, rec in run.previous.items() if rec.get("error") is None}
        run.write_manifest()
        try:
            run._handle = (path / RESULTS_FILE).open("ab")
        except OSError as exc:
            raise RunOutputError(f"cannot write {path / RESULTS_FILE}: {exc.strerror}") from None
        return run

    def append(self, record: dict[str, Any]) -> None:
        """Write one finished record and flush it; fsync at most once a second."""
        assert self._handle is not None, "run directory is closed"
        self._handle.write(orjson.dumps(record) + b"\n")
        self._handle.flush()
        now = time.monotonic()
        if now - self._last_sync >= FSYNC_INTERVAL_S:
            os.fsync(self._handle.fileno())
            self._last_sync = now

    def write_manifest(self) -> None:
        write_atomic(
            self.path / MANIFEST_FILE, orjson.dumps(self.manifest, option=orjson.OPT_INDENT_2)
        )

    def close(self, status: str, summary: dict[str, Any]) -> None:
        """Sync the results and record the final status and summary in the manifest."""
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = None
        self.manifest.update(summary)
        self.manifest["status"] = status
        self.manifest["finished_at"] = now_iso()
        try:
            self.write_manifest()
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None


_COMPARED = {"model": ("name", "model_id"), "dataset": ("content_hash",)}
"""Which parts of an identity entry must match: a moved server or a copied dataset file is
still the same model or data."""


def _projection(key: str, value: Any) -> Any:
    fields = _COMPARED.get(key)
    if fields is None or not isinstance(value, dict):
        return value
    return {name: value.get(name) for name in fields}


def _check_same_run(path: Path, existing: dict[str, Any], identity: dict[str, Any]) -> None:
    for key in IDENTITY_KEYS:
        if key not in identity:
            continue
        before, now = _projection(key, existing.get(key)), _projection(key, identity[key])
        if before != now:
            raise RunMismatchError(
                f"{path} holds a run with a different {key.replace('_', ' ')} "
                f"({_short(before)} there, {_short(now)} now); "
                "resume it with the same options, or pass a new --run-name"
            )


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{v}" for v in value.values())
    return str(value)
