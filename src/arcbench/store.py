"""The trace store (`traces_store.json`) and the variation store (`variations.json`).

Both are one JSON document that several processes change at once: the web app's workers and
`arcbench merge`. Every change therefore goes through `SharedJsonFile.change`, which

1. takes a cross-process lock (`<file>.lock` beside it, via `filelock`; the kernel drops it when
   a holder dies, even by SIGKILL),
2. re-reads the file if another process replaced it since this one last looked (inode, size and
   mtime differ), so no one writes back a stale copy and loses the other's update,
3. applies the change in memory and writes the whole document with `write_atomic` (temporary
   file, fsync, rename): a reader, or a crash, sees the old file or the new one, never a torn one,
4. keeps the file it replaces in `backups/` beside the store (a hard link, so free even for a
   100 MB store), the last `keep_backups` of them.

A file that does not parse, or parses to the wrong shape, raises `StoreCorruptError` naming the
file and the problem, and is never written over: repairing it is a person's job.

Traces are kept as the plain dicts read from disk, so fields this version does not know about
survive a load and save untouched; the `Trace` model is what callers get back.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import orjson
from filelock import FileLock, Timeout
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from arcbench.atomic import write_atomic
from arcbench.augment import content_key, variant_entry
from arcbench.collector import collector_paused
from arcbench.errors import (
    StoreCorruptError,
    StoreError,
    StoreLockedError,
    StorePermissionError,
    TraceNotFoundError,
)
from arcbench.tasks import Provenance, Task, VariantEntry

TRACES_FILE = "traces_store.json"
VARIATIONS_FILE = "variations.json"
BACKUP_DIR = "backups"
KEEP_BACKUPS = 10
BACKUP_INTERVAL_S = 60.0
"""A change backs up the file it replaces only if the newest backup is older than this (bulk
changes such as a merge always do), so that ten backups span more than the last ten votes."""
LOCK_TIMEOUT_S = 30.0
_BACKUP_STAMP = "%Y%m%dT%H%M%S%fZ"

State = TypeVar("State")
Result = TypeVar("Result")

# --------------------------------------------------------------------------------------------
# One shared JSON document on disk
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stamp:
    """What identifies one version of the file. The version this process read is kept open, so
    its inode cannot be freed and reused: a different inode always means a different file."""

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> _Stamp:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    @classmethod
    def of_path(cls, path: Path) -> _Stamp | None:
        try:
            return cls.of(path.stat())
        except FileNotFoundError:
            return None


@dataclass
class Change(Generic[Result]):
    """What a change function returns: its result, and whether the document must be written."""

    result: Result
    changed: bool = True
    force_backup: bool = False


class SharedJsonFile(Generic[State]):
    """A JSON document shared between processes: locked, re-read when changed, replaced atomically.

    `parse(path, value)` turns the decoded JSON into the in-memory state (raising
    `StoreCorruptError` for a wrong shape); `dump(state)` gives the JSON value to write back;
    `empty()` is the state of a missing file; `indent` writes two-space indented JSON. The state
    is cached between calls and reused as long as the file on disk is the one it was read from.
    """

    def __init__(
        self,
        path: Path,
        *,
        parse: Callable[[Path, Any], State],
        dump: Callable[[State], Any],
        empty: Callable[[], State],
        indent: bool = False,
        keep_backups: int = KEEP_BACKUPS,
        backup_interval: float = BACKUP_INTERVAL_S,
        lock_timeout: float = LOCK_TIMEOUT_S,
    ) -> None:
        self.path = path
        self._dump_option = orjson.OPT_INDENT_2 if indent else 0
        self.backup_dir = path.parent / BACKUP_DIR
        self.keep_backups = keep_backups
        self.backup_interval = backup_interval
        self._parse = parse
        self._dump = dump
        self._empty = empty
        self._lock = FileLock(path.with_name(path.name + ".lock"), timeout=lock_timeout)
        self._lock_timeout = lock_timeout
        self._mutex = threading.RLock()
        self._state: State | None = None
        self._stamp: _Stamp | None = None
        self._fd: int | None = None
        self._held: weakref.finalize[Any, Any] | None = None

    def query(self, look: Callable[[State], Result]) -> Result:
        """`look` at the current state, re-read only if the file changed, and return what it
        finds (which must not share mutable parts with the state). Takes no file lock: a rename
        is atomic, so the file is always a whole document; other threads wait meanwhile."""
        with self._mutex:
            return look(self._refresh())

    def change(self, apply: Callable[[State], Change[Result]]) -> Result:
        """Apply one change under the cross-process lock and write it through.

        `apply` must check everything that can fail before it mutates the state; if it (or the
        write) raises anyway, the cached state is dropped and re-read next time.
        """
        with self._mutex, self._locked():
            state = self._refresh()
            try:
                outcome = apply(state)
                if outcome.changed:
                    self._write(state, outcome.force_backup)
            except BaseException:
                self._forget()
                raise
            return outcome.result

    def close(self) -> None:
        """Drop the cached state and the file it was read from (reopened on next use)."""
        with self._mutex:
            self._forget()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except Timeout as exc:
            raise StoreLockedError(
                f"{self.path} stayed locked for {self._lock_timeout:g} s by another process "
                f"(lock file {self._lock.lock_file}); retry when it has finished"
            ) from exc
        try:
            yield
        finally:
            self._lock.release()

    def _refresh(self) -> State:
        stamp = _Stamp.of_path(self.path)
        if self._state is None or stamp != self._stamp:
            self._forget()
            self._state = self._empty() if stamp is None else self._load()
        return self._state

    def _load(self) -> State:
        """Open, stamp and parse the current file, keeping it open (see `_Stamp`)."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return self._empty()
        except OSError as exc:
            raise StoreCorruptError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        self._hold(fd)
        with open(fd, "rb", closefd=False) as handle:
            raw = handle.read()
        try:
            with collector_paused():
                return self._parse(self.path, orjson.loads(raw))
        except orjson.JSONDecodeError as exc:
            self._forget()
            raise corrupt_error(self.path, f"does not parse as JSON ({exc})") from exc
        except BaseException:
            self._forget()
            raise

    def _hold(self, fd: int) -> None:
        self._stamp = _Stamp.of(os.fstat(fd))
        self._fd, self._held = fd, weakref.finalize(self, os.close, fd)

    def _release(self) -> None:
        if self._held is not None:
            self._held()
        self._stamp, self._fd, self._held = None, None, None

    def _forget(self) -> None:
        self._release()
        self._state = None

    def _write(self, state: State, force_backup: bool) -> None:
        data = orjson.dumps(self._dump(state), option=self._dump_option)
        self._remove_stale_temporaries()
        if self._stamp is not None and (force_backup or self._backup_due()):
            self._backup()
        write_atomic(self.path, data)
        self._release()
        self._hold(os.open(self.path, os.O_RDONLY))

    def _remove_stale_temporaries(self) -> None:
        """Delete temporary files a writer killed mid-write left behind (`write_atomic` names
        them `.<name>.*.tmp`). Safe only because every writer of this file holds the lock."""
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()

    def backups(self) -> list[Path]:
        """The backups of this file, oldest first (their names sort by time)."""
        if not self.backup_dir.is_dir():
            return []
        return sorted(self.backup_dir.glob(f"{self.path.stem}.*{self.path.suffix}"))

    def _backup_due(self) -> bool:
        existing = self.backups()
        if not existing:
            return True
        stamp = existing[-1].name[len(self.path.stem) + 1 : -len(self.path.suffix) or None]
        try:
            taken = datetime.strptime(stamp, _BACKUP_STAMP).replace(tzinfo=UTC)
        except ValueError:
            return True
        return (datetime.now(UTC) - taken).total_seconds() >= self.backup_interval

    def _backup(self) -> None:
        """Keep the file about to be replaced. A hard link costs nothing, since `write_atomic`
        puts the new content in a new file; copy where links are not supported. The name
        holds the time of the backup (a link keeps the content's own mtime)."""
        self.backup_dir.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime(_BACKUP_STAMP)
        target = self.backup_dir / f"{self.path.stem}.{stamp}{self.path.suffix}"
        try:
            os.link(self.path, target)
        except FileExistsError:
            return
        except OSError:
            write_atomic(target, self.path.read_bytes())
        for old in self.backups()[: -self.keep_backups or None]:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()


def corrupt_error(path: Path, problem: str) -> StoreCorruptError:
    """A `StoreCorruptError` naming the file, the problem, and the way out."""
    return StoreCorruptError(
        f"{path} {problem}. It was left untouched: repair it, or restore a copy from "
        f"{path.parent / BACKUP_DIR}, then retry"
    )


# --------------------------------------------------------------------------------------------
# Traces
# --------------------------------------------------------------------------------------------


class TraceSource(BaseModel):
    """Where a merged model trace came from; `record_id` makes merging idempotent."""

    model_config = ConfigDict(extra="allow")

    run_id: str | None = None
    record_id: str
    model: str | None = None
    correct: bool | list[bool | None] | None = None
    command: str | None = None


class Trace(BaseModel):
    """One reasoning trace: the original store's seven fields plus the optional new ones.

    `timestamp` and `edited_at` are Unix seconds, as the original store wrote them; `voters`
    maps a username to their vote, +1 or -1, and `score` is the sum of the votes.
    """

    model_config = ConfigDict(extra="allow")

    trace_id: str = Field(min_length=1)
    task_id: str = Field(min_length=1)
    username: str
    text: str
    score: int = 0
    timestamp: float | str
    voters: dict[str, int] = Field(default_factory=dict)
    version: int | None = None
    source: TraceSource | None = None
    edited_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The stored form: optional fields only when set, so the original shape is kept."""
        data = self.model_dump(mode="json")
        for key in ("version", "source", "edited_at"):
            if data[key] is None:
                del data[key]
        return data


ANY_VERSION: Literal["any"] = "any"


@dataclass
class TraceState:
    """The store in memory: `{task_id: [trace, …]}` as on disk, plus the indexes over it.

    `by_id` maps a trace id to the key of the list holding it and the trace itself, so that a
    vote or an edit finds its trace without a scan.
    """

    by_task: dict[str, list[dict[str, Any]]]
    by_id: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    record_ids: set[str] = field(default_factory=set)

    def index(self, key: str, trace: dict[str, Any]) -> None:
        self.by_id[trace["trace_id"]] = (key, trace)
        record_id = _record_id(trace)
        if record_id is not None:
            self.record_ids.add(record_id)

    def insert(self, trace: dict[str, Any]) -> None:
        self.by_task.setdefault(trace["task_id"], []).append(trace)
        self.index(trace["task_id"], trace)

    def remove(self, trace_id: str) -> None:
        key, trace = self.by_id.pop(trace_id)
        traces = self.by_task[key]
        traces[:] = [t for t in traces if t is not trace]
        if not traces:
            del self.by_task[key]
        record_id = _record_id(trace)
        if record_id is not None:
            self.record_ids.discard(record_id)

    def find(self, trace_id: str) -> dict[str, Any]:
        try:
            return self.by_id[trace_id][1]
        except KeyError:
            raise TraceNotFoundError(
                f"no trace {trace_id!r} in the store; it may have been deleted, reload the list"
            ) from None

    def model(self, trace_id: str) -> Trace:
        """The trace as a model (a copy), or `TraceNotFoundError`."""
        self.find(trace_id)
        key, trace = self.by_id[trace_id]
        return _to_model(key, trace)


def _to_model(key: str, trace: dict[str, Any]) -> Trace:
    return Trace.model_validate({"task_id": key, **trace})


def _record_id(trace: dict[str, Any]) -> str | None:
    source = trace.get("source")
    record_id = source.get("record_id") if isinstance(source, dict) else None
    return record_id if isinstance(record_id, str) else None


def parse_traces(path: Path, value: Any) -> TraceState:
    """Check the shape `{task_id: [{trace_id, …}, …]}` and index it, in one pass.

    This loop runs over every trace on every load, so it is written flat: `TraceState.index`
    inlined, no per-trace function calls (a third of the time of a 100,000-trace load otherwise).
    """
    if not isinstance(value, dict):
        raise corrupt_error(path, f"is a JSON {type(value).__name__}, not {{task_id: [trace, …]}}")
    state = TraceState(by_task=value)
    by_id, record_ids = state.by_id, state.record_ids
    for task_id, traces in value.items():
        if type(traces) is not list:
            raise corrupt_error(path, f"has a non-list value for task {task_id!r}")
        for trace in traces:
            trace_id = trace.get("trace_id") if type(trace) is dict else None
            if type(trace_id) is not str:
                number = traces.index(trace)
                raise corrupt_error(path, f"has a trace without a trace_id: {task_id!r} #{number}")
            by_id[trace_id] = (task_id, trace)
            source = trace.get("source")
            if type(source) is dict:
                record_id = source.get("record_id")
                if type(record_id) is str:
                    record_ids.add(record_id)
    return state


@dataclass(frozen=True)
class MergeOutcome:
    """What `TraceStore.merge` did: the traces added, and how many were already there."""

    added: list[Trace]
    duplicates: int


class TraceStore:
    """`traces_store.json`: add, edit, delete, vote, list and merge traces, safely shared.

    `clock` gives the Unix time stamped on new traces and edits (a parameter for tests).
    """

    def __init__(
        self,
        path: Path,
        *,
        keep_backups: int = KEEP_BACKUPS,
        backup_interval: float = BACKUP_INTERVAL_S,
        lock_timeout: float = LOCK_TIMEOUT_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.file: SharedJsonFile[TraceState] = SharedJsonFile(
            path,
            parse=parse_traces,
            dump=lambda state: state.by_task,
            empty=lambda: TraceState(by_task={}),
            indent=True,  # as the original app wrote it: one field a line, diffable
            keep_backups=keep_backups,
            backup_interval=backup_interval,
            lock_timeout=lock_timeout,
        )
        self._clock = clock

    @property
    def path(self) -> Path:
        return self.file.path

    def count(self) -> int:
        """How many traces the store holds."""
        return self.file.query(lambda state: len(state.by_id))

    def get_trace(self, trace_id: str) -> Trace:
        return self.file.query(lambda state: state.model(trace_id))

    def list_traces(
        self, task_id: str, version: int | Literal["any"] | None = ANY_VERSION
    ) -> list[Trace]:
        """A task's traces, best score first (then oldest first); `version=None` keeps only
        those written for the original task, an int only those for that version."""

        def look(state: TraceState) -> list[Trace]:
            traces = state.by_task.get(task_id, [])
            if version != ANY_VERSION:
                traces = [t for t in traces if t.get("version") == version]
            ordered = sorted(
                traces, key=lambda t: (-_number(t.get("score")), _number(t.get("timestamp")))
            )
            return [_to_model(task_id, t) for t in ordered]

        return self.file.query(look)

    def add_trace(
        self, task_id: str, username: str, text: str, version: int | None = None
    ) -> Trace:
        """Add a person's trace for a task (or one version of it)."""
        _require_user(username)
        trace = Trace(
            trace_id=f"{task_id}_{uuid.uuid4().hex[:16]}",
            task_id=task_id,
            username=username,
            text=text,
            timestamp=self._clock(),
            version=version,
        )

        def apply(state: TraceState) -> Change[Trace]:
            state.insert(trace.to_json())
            return Change(trace)

        return self.file.change(apply)

    def edit_trace(self, trace_id: str, username: str, text: str) -> Trace:
        """Replace a trace's text; only its author may."""

        def apply(state: TraceState) -> Change[Trace]:
            trace = state.find(trace_id)
            _require_author(trace, username, "edit")
            trace["text"] = text
            trace["edited_at"] = self._clock()
            return Change(state.model(trace_id))

        return self.file.change(apply)

    def delete_trace(self, trace_id: str, username: str, *, admin: bool = False) -> None:
        """Delete a trace; its author may, and so may an admin."""

        def apply(state: TraceState) -> Change[None]:
            trace = state.find(trace_id)
            if not admin:
                _require_author(trace, username, "delete")
            state.remove(trace_id)
            return Change(None)

        self.file.change(apply)

    def vote(self, trace_id: str, username: str, vote: int) -> Trace:
        """Record `username`'s vote: +1 or -1 (replacing an earlier vote), or 0 to withdraw it."""
        _require_user(username)
        if vote not in (1, -1, 0):
            raise StoreError(f"a vote is +1, -1 or 0 (withdraw), not {vote}")

        def apply(state: TraceState) -> Change[Trace]:
            trace = state.find(trace_id)
            voters = trace.setdefault("voters", {})
            previous = voters.get(username, 0)
            if previous == vote:
                return Change(state.model(trace_id), changed=False)
            if vote:
                voters[username] = vote
            else:
                voters.pop(username, None)
            trace["score"] = _number(trace.get("score")) + vote - previous
            return Change(state.model(trace_id))

        return self.file.change(apply)

    def merge(self, traces: Sequence[Trace], *, dry_run: bool = False) -> MergeOutcome:
        """Add the traces whose `source.record_id` is not in the store yet, in one write.

        `dry_run` reports the same outcome without taking the lock or writing anything.
        """

        def apply(state: TraceState) -> Change[MergeOutcome]:
            added = _new_by_record(traces, state.record_ids)
            if not dry_run:
                for trace in added:
                    state.insert(trace.to_json())
            outcome = MergeOutcome(added, len(traces) - len(added))
            return Change(outcome, changed=bool(added) and not dry_run, force_backup=True)

        if dry_run:
            return self.file.query(lambda state: apply(state).result)
        return self.file.change(apply)


def _new_by_record(traces: Iterable[Trace], known: set[str]) -> list[Trace]:
    """The traces whose record is neither known nor repeated earlier in `traces`."""
    seen = set(known)
    fresh: list[Trace] = []
    for trace in traces:
        if trace.source is None:
            raise StoreError(f"merged trace {trace.trace_id} has no source record_id")
        if trace.source.record_id not in seen:
            seen.add(trace.source.record_id)
            fresh.append(trace)
    return fresh


def _number(value: Any) -> float:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _require_user(username: str) -> None:
    if not username.strip():
        raise StoreError("a username is required: set one before writing or voting")


def _require_author(trace: dict[str, Any], username: str, action: str) -> None:
    if trace.get("username") != username:
        raise StorePermissionError(
            f"only {trace.get('username')!r}, who wrote trace {trace['trace_id']}, may "
            f"{action} it (you are {username!r})"
        )


# --------------------------------------------------------------------------------------------
# Variations
# --------------------------------------------------------------------------------------------

_VARIATIONS = TypeAdapter(list[VariantEntry])


@dataclass
class VariationState:
    """`variations.json` in memory: the entries as on disk, and who holds which content."""

    entries: list[dict[str, Any]]
    by_content: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    last_version: dict[str, int] = field(default_factory=dict)

    def index(self, raw: dict[str, Any], entry: VariantEntry) -> None:
        self.by_content.setdefault((entry.task_id, content_key(entry.to_task())), raw)
        if entry.version is not None:
            self.last_version[entry.task_id] = max(
                self.last_version.get(entry.task_id, 0), entry.version
            )


def parse_variations(path: Path, value: Any) -> VariationState:
    """Validate every entry as a `dataset.json`-style task version and index its content."""
    try:
        entries = _VARIATIONS.validate_python(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise corrupt_error(
            path, f"is not a list of task versions ({where}: {first['msg']})"
        ) from exc
    state = VariationState(entries=value)
    for raw, entry in zip(value, entries, strict=True):
        state.index(raw, entry)
    return state


@dataclass(frozen=True)
class VariationAdded:
    """The stored entry, and whether it was new (False: an identical one was signed instead)."""

    entry: VariantEntry
    added: bool


class VariationStore:
    """`variations.json`: task versions made in the web app or by `tasks augment`.

    Versions are numbered per task id after the highest ever stored and never renumbered; a
    version whose grids equal a stored one of the same task is not added again, its author
    signs the stored one instead.
    """

    def __init__(
        self,
        path: Path,
        *,
        keep_backups: int = KEEP_BACKUPS,
        backup_interval: float = BACKUP_INTERVAL_S,
        lock_timeout: float = LOCK_TIMEOUT_S,
    ) -> None:
        self.file: SharedJsonFile[VariationState] = SharedJsonFile(
            path,
            parse=parse_variations,
            dump=lambda state: state.entries,
            empty=lambda: VariationState(entries=[]),
            indent=False,  # as `tasks augment` writes it: indented grids are a cell a line
            keep_backups=keep_backups,
            backup_interval=backup_interval,
            lock_timeout=lock_timeout,
        )

    @property
    def path(self) -> Path:
        return self.file.path

    def list_variations(self, task_id: str | None = None) -> list[VariantEntry]:
        """Every stored version in the order added, or only those of one task."""
        return self.file.query(
            lambda state: [
                VariantEntry.model_validate(raw)
                for raw in state.entries
                if task_id is None or raw["task_id"] == task_id
            ]
        )

    def add_variation(
        self, task: Task, username: str, now: datetime | None = None
    ) -> VariationAdded:
        """Store `task` as the next version of `task.id`, or sign the identical stored one.

        The task's own `version` is ignored (the store numbers versions); its provenance
        (parent version, transforms, colour map) is kept, with `username` as signer and, if
        unset, creator.
        """
        _require_user(username)
        key = (task.id, content_key(task))

        def apply(state: VariationState) -> Change[VariationAdded]:
            existing = state.by_content.get(key)
            if existing is not None:
                signed = username in existing.setdefault("signed_by", [])
                if not signed:
                    existing["signed_by"].append(username)
                return Change(
                    VariationAdded(VariantEntry.model_validate(existing), False), not signed
                )
            version = state.last_version.get(task.id, 0) + 1
            raw = variant_entry(_as_version(task, version, username, now))
            entry = VariantEntry.model_validate(raw)
            state.entries.append(raw)
            state.index(raw, entry)
            return Change(VariationAdded(entry, True))

        return self.file.change(apply)


def _as_version(task: Task, version: int, username: str, now: datetime | None) -> Task:
    made = task.provenance or Provenance()
    signers = made.signed_by if username in made.signed_by else [*made.signed_by, username]
    provenance = made.model_copy(
        update={
            "signed_by": signers,
            "created_by": made.created_by or username,
            "created_at": made.created_at
            or (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        }
    )
    return task.model_copy(update={"version": version, "provenance": provenance})
