"""The trace store: reasoning traces of ARC tasks, written by people or merged from model runs,
and the votes on them.

A trace is the original `traces_store.json` record — `{trace_id, task_id, username, text,
score, timestamp, voters}` — plus `version`, `source` (merged model traces) and `edited_at`;
fields an imported trace carries beyond those are kept and written back on export. The score
is the sum of the votes, one per user (plus, for an imported trace, the part of its original
score that no recorded voter explains, fixed at import).

Every method is one transaction on the shared database (see `database`), so a `TraceStore` may
be used from many threads and processes at once without losing an update.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from arcbench.errors import StoreError, StorePermissionError, TraceNotFoundError
from arcbench.store.database import (
    DEFAULT_TIMEOUT_S,
    Database,
    Transaction,
    json_text,
    require_text,
    require_user,
)
from arcbench.store.schema import MAX_INTEGER

ANY_VERSION: Literal["any"] = "any"

Seconds = Annotated[float, Field(allow_inf_nan=False)]
"""A Unix time: NaN (which SQLite stores as NULL) and infinities are refused."""

_CHUNK = 500
"""Values per `IN (…)` query when checking which of many ids the store already holds."""


class TraceSource(BaseModel):
    """Where a merged model trace came from; `record_id` makes merging idempotent."""

    model_config = ConfigDict(extra="allow", strict=True)

    run_id: str | None = None
    record_id: str
    model: str | None = None
    correct: bool | list[bool | None] | None = None
    command: str | None = None


class Trace(BaseModel):
    """One reasoning trace: the original store's seven fields plus the optional new ones.

    `timestamp` and `edited_at` are Unix seconds, as the original store wrote them; `voters`
    maps a username to their vote, +1 or -1, and `score` is the sum of the votes. Fields not
    named here (`model_extra`) are kept as they came. Validation is strict: an imported trace
    whose `score` is `"3"` or whose `version` is `true` is refused, not coerced; so are a
    version below 1 and a score or version beyond `MAX_INTEGER`.
    """

    model_config = ConfigDict(extra="allow", strict=True)

    trace_id: str = Field(min_length=1)
    task_id: str = Field(min_length=1)
    username: str
    text: str
    score: int = Field(0, ge=-MAX_INTEGER, le=MAX_INTEGER)
    timestamp: Seconds | str
    voters: dict[str, Literal[1, -1]] = Field(default_factory=dict)
    version: int | None = Field(None, ge=1, le=MAX_INTEGER)
    source: TraceSource | None = None
    edited_at: Seconds | None = None


_TRACES = TypeAdapter(list[Trace])
"""Validates a task's traces in one call (a third cheaper than one model at a time)."""


@dataclass(frozen=True)
class MergeOutcome:
    """What `TraceStore.merge` did: the traces added, and how many were already there."""

    added: list[Trace]
    duplicates: int


_COLUMNS = (
    "id, trace_id, task_id, version, username, text, timestamp, edited_at, score_offset, "
    "source, extra"
)


class TraceStore:
    """Add, edit, delete, vote on, list and merge traces in the store database.

    `store` is the database file (or an open `Database` shared with a `VariationStore`);
    `timeout` is how long a change waits for another writer; `clock` gives the Unix time
    stamped on new traces and edits (a parameter for tests).
    """

    def __init__(
        self,
        store: Path | Database,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = store if isinstance(store, Database) else Database(store, timeout=timeout)
        self._clock = clock

    @property
    def path(self) -> Path:
        return self.database.path

    def close(self) -> None:
        self.database.close()

    # -- reading ------------------------------------------------------------------------------

    def count(self) -> int:
        """How many traces the store holds."""
        with self.database.read() as db:
            (count,) = db.execute("SELECT count(*) FROM traces").fetchone()
        return int(count)

    def get_trace(self, trace_id: str) -> Trace:
        """One trace, or `TraceNotFoundError`."""
        with self.database.read() as db:
            return _model(_read_one(db, trace_id))

    def list_traces(
        self, task_id: str, version: int | Literal["any"] | None = ANY_VERSION
    ) -> list[Trace]:
        """A task's traces, best score first, then oldest first; `version=None` keeps only
        those written for the original task, an int only those for that version."""
        where = "t.task_id = ?"
        params: list[str | int | None] = [task_id]
        if version != ANY_VERSION:
            where += " AND t.version IS ?"
            params.append(version)
        with self.database.read() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM traces t WHERE {where} ORDER BY t.id", params
            ).fetchall()
            voters = _voters(
                db,
                "SELECT v.trace, v.username, v.vote FROM votes v JOIN traces t ON t.id = v.trace "
                f"WHERE {where} ORDER BY v.id",
                params,
            )
        traces = [_record(row, voters.get(row[0], {})) for row in rows]
        traces.sort(key=lambda t: (-t["score"], _seconds(t["timestamp"])))
        return _TRACES.validate_python(traces)

    def revision(self, task_id: str | None = None) -> int:
        """The change counter of the traces: it grows with every change to a trace or a vote
        (and with nothing else), so a live view polls it and reloads only when it moved. With
        `task_id`, the revision of that task's last trace change (0: none yet). One counter
        runs through the whole store: `Store.revision()` covers variations too."""
        return self.database.revision("traces", task_id)

    def changes_since(self, revision: int) -> dict[str, int]:
        """The tasks whose traces changed after `revision`, each with its new revision."""
        return self.database.changes_since("traces", revision)

    def export(self) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """Every task's traces in the original store's form, tasks in the order their first
        trace was added, traces in the order added: `traces_store.json`, a task at a time."""
        with self.database.read() as db:
            tasks = db.execute(
                "SELECT task_id FROM traces GROUP BY task_id ORDER BY min(id)"
            ).fetchall()
            for (task_id,) in tasks:
                rows = db.execute(
                    f"SELECT {_COLUMNS} FROM traces WHERE task_id = ? ORDER BY id", (task_id,)
                ).fetchall()
                voters = _voters(
                    db,
                    "SELECT v.trace, v.username, v.vote FROM votes v JOIN traces t "
                    "ON t.id = v.trace WHERE t.task_id = ? ORDER BY v.id",
                    (task_id,),
                )
                yield task_id, [_record(row, voters.get(row[0], {})) for row in rows]

    # -- changing -----------------------------------------------------------------------------

    def add_trace(
        self, task_id: str, username: str, text: str, version: int | None = None
    ) -> Trace:
        """Add a person's trace for a task (or one version of it); returns it with its new
        `trace_id`."""
        require_user(username)
        for value, what in ((task_id, "a task id"), (text, "a trace's text")):
            if isinstance(value, str):  # other types: refused with the field named, below
                require_text(value, what)
        try:
            trace = Trace(
                trace_id=f"{task_id}_{uuid.uuid4().hex[:16]}",
                task_id=task_id,
                username=username,
                text=text,
                timestamp=self._clock(),
                version=version,
            )
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            raise StoreError(f"cannot add a trace: {error['loc'][0]}: {error['msg']}") from None
        with self.database.write() as tx:
            _insert(tx, [trace])
        return trace

    def edit_trace(self, trace_id: str, username: str, text: str) -> Trace:
        """Replace a trace's text; only its author may."""
        require_user(username)
        require_text(text, "a trace's text")
        with self.database.write() as tx:
            row_id, task_id, author = _find(tx.connection, trace_id)
            _require_author(trace_id, author, username, "edit")
            tx.connection.execute(
                "UPDATE traces SET text = ?, edited_at = ? WHERE id = ?",
                (text, self._clock(), row_id),
            )
            tx.touch("traces", task_id)
            return _model(_read_one(tx.connection, trace_id))

    def delete_trace(self, trace_id: str, username: str, *, admin: bool = False) -> None:
        """Delete a trace and its votes; its author may, and so may an admin."""
        require_user(username)
        with self.database.write() as tx:
            row_id, task_id, author = _find(tx.connection, trace_id)
            if not admin:
                _require_author(trace_id, author, username, "delete")
            tx.connection.execute("DELETE FROM traces WHERE id = ?", (row_id,))
            tx.touch("traces", task_id)

    def vote(self, trace_id: str, username: str, vote: int) -> Trace:
        """Record `username`'s vote, +1 or -1 (replacing an earlier one), or 0 to withdraw it;
        returns the trace with its new score. One vote per user and trace."""
        require_user(username)
        if type(vote) is not int or vote not in (1, -1, 0):
            raise StoreError(f"a vote is +1, -1 or 0 (withdraw), not {vote!r}")
        with self.database.write() as tx:
            db = tx.connection
            row_id, task_id, _ = _find(db, trace_id)
            previous = db.execute(
                "SELECT vote FROM votes WHERE trace = ? AND username = ?", (row_id, username)
            ).fetchone()
            if (previous[0] if previous else 0) != vote:
                if vote:
                    db.execute(
                        "INSERT INTO votes (trace, username, vote) VALUES (?, ?, ?) "
                        "ON CONFLICT (trace, username) DO UPDATE SET vote = excluded.vote",
                        (row_id, username, vote),
                    )
                else:
                    db.execute(
                        "DELETE FROM votes WHERE trace = ? AND username = ?", (row_id, username)
                    )
                tx.touch("traces", task_id)
            return _model(_read_one(db, trace_id))

    def merge(self, traces: Sequence[Trace], *, dry_run: bool = False) -> MergeOutcome:
        """Add, in one transaction, the traces the store does not hold yet (see `merge_in`).
        `dry_run` reports the same outcome and keeps nothing."""
        with self.database.write(dry_run=dry_run, bulk=True) as tx:
            return self.merge_in(tx, traces)

    def merge_in(self, tx: Transaction, traces: Sequence[Trace]) -> MergeOutcome:
        """Add the traces that are new inside an open transaction (a merge of several kinds of
        input is one transaction). A trace is already there when the store, or an earlier
        trace of `traces`, has its `trace_id` or its `source.record_id`: merging a run twice
        adds nothing, importing a store twice neither. Imported votes come with the trace."""
        db = tx.connection
        known_ids = _existing(db, "trace_id", [t.trace_id for t in traces])
        known_records = _existing(db, "record_id", [r for t in traces if (r := _record_id(t))])
        added: list[Trace] = []
        for trace in traces:
            record_id = _record_id(trace)
            if trace.trace_id in known_ids or record_id in known_records:
                continue
            known_ids.add(trace.trace_id)
            if record_id is not None:
                known_records.add(record_id)
            added.append(trace)
        _insert(tx, added)
        return MergeOutcome(added, len(traces) - len(added))


# -- rows ------------------------------------------------------------------------------------


def _insert(tx: Transaction, traces: Sequence[Trace]) -> None:
    """Insert new traces and their votes (an imported trace may come with voters)."""
    db = tx.connection
    db.executemany(
        "INSERT INTO traces (trace_id, task_id, version, username, text, timestamp, edited_at, "
        "score_offset, record_id, source, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [_row(trace) for trace in traces],
    )
    voted = [t for t in traces if t.voters]
    for start in range(0, len(voted), _CHUNK):
        chunk = voted[start : start + _CHUNK]
        ids = dict(
            db.execute(
                f"SELECT trace_id, id FROM traces WHERE trace_id IN ({_marks(len(chunk))})",
                [t.trace_id for t in chunk],
            ).fetchall()
        )
        db.executemany(
            "INSERT INTO votes (trace, username, vote) VALUES (?, ?, ?)",
            [(ids[t.trace_id], user, vote) for t in chunk for user, vote in t.voters.items()],
        )
    for trace in traces:
        tx.touch("traces", trace.task_id)


def _row(trace: Trace) -> tuple[Any, ...]:
    """A trace as a row of `traces`; `source` keeps only the fields it was given."""
    source = trace.source
    return (
        trace.trace_id,
        trace.task_id,
        trace.version,
        trace.username,
        trace.text,
        trace.timestamp,
        trace.edited_at,
        trace.score - sum(trace.voters.values()) if trace.voters else trace.score,
        None if source is None else source.record_id,
        None if source is None else source.model_dump_json(exclude_unset=True),
        json_text(trace.model_extra or None),
    )


def _record(row: sqlite3.Row | tuple[Any, ...], voters: dict[str, int]) -> dict[str, Any]:
    """A database row as the original store's dict, keys in the original order."""
    _, trace_id, task_id, version, username, text, timestamp, edited_at, offset, source, extra = row
    record: dict[str, Any] = {
        "trace_id": trace_id,
        "task_id": task_id,
        "username": username,
        "text": text,
        "score": offset + sum(voters.values()),
        "timestamp": timestamp,
        "voters": voters,
    }
    if version is not None:
        record["version"] = version
    if source is not None:
        record["source"] = orjson.loads(source)
    if edited_at is not None:
        record["edited_at"] = edited_at
    if extra is not None:
        record.update(orjson.loads(extra))
    return record


def _model(record: dict[str, Any]) -> Trace:
    return Trace.model_validate(record)


def _read_one(db: sqlite3.Connection, trace_id: str) -> dict[str, Any]:
    if not isinstance(trace_id, str):
        raise _not_found(trace_id)
    row = db.execute(f"SELECT {_COLUMNS} FROM traces WHERE trace_id = ?", (trace_id,)).fetchone()
    if row is None:
        raise _not_found(trace_id)
    voters = _voters(db, "SELECT trace, username, vote FROM votes WHERE trace = ?", (row[0],))
    return _record(row, voters.get(row[0], {}))


def _voters(db: sqlite3.Connection, query: str, params: Sequence[Any]) -> dict[int, dict[str, int]]:
    """`{trace row id: {username: vote}}` from a query of `(trace, username, vote)` rows."""
    voters: dict[int, dict[str, int]] = {}
    for trace, username, vote in db.execute(query, params):
        voters.setdefault(trace, {})[username] = vote
    return voters


def _find(db: sqlite3.Connection, trace_id: str) -> tuple[int, str, str]:
    if not isinstance(trace_id, str):
        raise _not_found(trace_id)
    row = db.execute(
        "SELECT id, task_id, username FROM traces WHERE trace_id = ?", (trace_id,)
    ).fetchone()
    if row is None:
        raise _not_found(trace_id)
    return int(row[0]), str(row[1]), str(row[2])


def _existing(db: sqlite3.Connection, column: str, values: Sequence[str]) -> set[str]:
    """Which of `values` the traces table holds in `column` (an indexed, unique column)."""
    found: set[str] = set()
    for start in range(0, len(values), _CHUNK):
        chunk = values[start : start + _CHUNK]
        found.update(
            value
            for (value,) in db.execute(
                f"SELECT {column} FROM traces WHERE {column} IN ({_marks(len(chunk))})", chunk
            )
        )
    return found


def _record_id(trace: Trace) -> str | None:
    return trace.source.record_id if trace.source is not None else None


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def _seconds(value: Any) -> float:
    """A timestamp for sorting: a number as is, anything an older store held instead as 0."""
    return value if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _not_found(trace_id: str) -> TraceNotFoundError:
    return TraceNotFoundError(
        f"no trace {trace_id!r} in the store; it may have been deleted, reload the list"
    )


def _require_author(trace_id: str, author: str, username: str, action: str) -> None:
    if author != username:
        raise StorePermissionError(
            f"only {author!r}, who wrote trace {trace_id}, may {action} it (you are {username!r})"
        )
