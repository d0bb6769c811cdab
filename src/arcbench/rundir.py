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
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from arcbench import __version__
from arcbench.atomic import write_atomic
from arcbench.errors import RunMismatchError, RunOutputError
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
    torn: TornLine | None = None
    resumed: bool = False
    _handle: IO[bytes] | None = None
    _last_sync: float = 0.0

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
        existing = read_manifest(path)
        run = cls(path, {})
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
                run.previous = latest_records(slim(r) for r in iter_results(results))
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
        self.write_manifest()


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
