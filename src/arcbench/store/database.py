"""One SQLite database file shared by threads and processes: opening, transactions, errors.

Safety comes from SQLite itself, used this way:
- **WAL mode**: readers never wait for the writer, nor the writer for readers; a reader sees
  the last committed state. `synchronous = NORMAL`: a commit survives the process being
  killed at any moment; only a power failure may lose the last commits, never corrupt.
- **One write transaction per change** (`BEGIN IMMEDIATE`): it takes the write lock before
  reading what it is about to change, so two writers cannot both read a state and lose one
  update; a process killed inside it leaves none of it. A busy writer is waited for up to the
  busy timeout, then `StoreLockedError` names the file.
- **Foreign keys on**, so a trace's votes go with it.
- **One connection per thread and process**: an object from this module may be shared by the
  threads of a web server; each thread lazily opens its own connection (SQLite connections
  must not be used by two threads at once, nor across `fork`).

A file is checked before SQLite may write to it: a directory, a device or a FIFO, a symbolic
link that loops, a file that is not SQLite, a SQLite database of another application, one from
a newer arcbench, or one of ours missing a table or index is refused with one line naming it,
and left exactly as it was. An older arcbench database is migrated forward (see `schema`). A
symlinked store is written through the link: the link stays a link. Nothing this module
writes (a backup) may replace the store or its side files.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import stat
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from arcbench.atomic import is_stream, replacing
from arcbench.errors import StoreCorruptError, StoreError, StoreLockedError
from arcbench.store.schema import APPLICATION_ID, MIGRATIONS, OBJECTS, SCHEMA_VERSION

DATABASE_FILE = "arcbench.db"
"""The store's file name inside a data directory (the web app's `--data-dir`)."""

DEFAULT_STORE = Path("data") / DATABASE_FILE
"""Where the CLI and the web app keep the store unless told otherwise."""

DEFAULT_TIMEOUT_S = 30.0
"""How long a change waits for another process's write transaction (SQLite's busy timeout)."""

MAX_TIMEOUT_S = (2**31 - 1) / 1000
"""The longest busy timeout SQLite keeps (a C int of milliseconds, about 24 days): a longer one,
`inf` included, overflowed and made a change give up at once."""

BULK_CACHE_KIB = 32 * 1024
"""Page cache of a bulk write (a merge), in KiB; other connections keep SQLite's 2 MB."""

SQLITE_HEADER = b"SQLite format 3\x00"
"""The first bytes of every SQLite database file."""
SIDE_FILES = ("-wal", "-shm", "-journal")
_TARGET_ERRORS = (
    "SQLITE_FULL",
    "SQLITE_IOERR",
    "SQLITE_READONLY",
    "SQLITE_CANTOPEN",
    "SQLITE_PERM",
)
"""Errors of a backup that concern the file written, not the store read."""

Scope = Literal["traces", "variations"]

_INHERITED: list[_Handle] = []
"""Connections a forked child inherited: SQLite must not use or close them in the child (its
locks belong to the parent), so they are kept here, untouched, for the child's lifetime."""


@dataclass
class Transaction:
    """An open write transaction: its connection, and the tasks whose revision it bumps."""

    connection: sqlite3.Connection
    touched: set[tuple[Scope, str]] = field(default_factory=set)

    def touch(self, scope: Scope, task_id: str) -> None:
        """Record that this change affects `task_id`'s traces or variations."""
        self.touched.add((scope, task_id))

    def bump_revisions(self) -> None:
        """Give every touched task one new revision, higher than any before (the writer holds
        the lock, so no other change can take the same number)."""
        if not self.touched:
            return
        (revision,) = self.connection.execute(
            "SELECT COALESCE(MAX(revision), 0) + 1 FROM revisions"
        ).fetchone()
        self.connection.executemany(
            "INSERT INTO revisions (scope, task_id, revision) VALUES (?, ?, ?) "
            "ON CONFLICT (scope, task_id) DO UPDATE SET revision = excluded.revision",
            [(scope, task_id, revision) for scope, task_id in sorted(self.touched)],
        )


class _Handle:
    """A thread's connection, tagged with the process that opened it (weakly referenced by
    the database, so that a finished thread's connection is closed with its thread)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self.pid = os.getpid()
        self.open = True

    def close(self) -> None:
        if self.open:
            self.open = False
            self.connection.close()


class Database:
    """The store's database file, opened lazily per thread (see the module docstring).

    `path` is the file as the user named it (messages use it); `timeout` is the busy timeout
    in seconds; with `create=False` a missing file is an error instead of a new database.
    """

    def __init__(
        self, path: Path, *, timeout: float = DEFAULT_TIMEOUT_S, create: bool = True
    ) -> None:
        self.path = path
        self.file = resolved(path)
        self.timeout = min(timeout, MAX_TIMEOUT_S)
        self.create = create
        self._memory = False
        self._local = threading.local()
        self._handles: weakref.WeakSet[_Handle] = weakref.WeakSet()
        self._handles_lock = threading.Lock()

    @classmethod
    def in_memory(cls) -> Database:
        """An empty database in memory, for one thread: what a dry run measures against when
        the store does not exist yet (so that looking creates no file)."""
        database = cls(Path(":memory:"))
        database._memory = True
        return database

    def exists(self) -> bool:
        """Whether the database file exists yet (nothing is created by asking)."""
        return self.file.is_file()

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query in the block sees the same committed state. Inside
        another `read` block of the same thread it joins that one (one snapshot for both)."""
        connection = self.connection()
        if connection.in_transaction:
            yield connection
            return
        with self.translated():
            connection.execute("BEGIN")
            try:
                yield connection
            finally:
                if connection.in_transaction:
                    connection.execute("COMMIT")

    @contextlib.contextmanager
    def write(self, *, dry_run: bool = False, bulk: bool = False) -> Iterator[Transaction]:
        """One write transaction: committed when the block ends, rolled back if it raises (or
        always, with `dry_run`, which shows what a change would do and keeps nothing).

        `bulk` gives the transaction a larger page cache (`BULK_CACHE_KIB`) while it runs:
        a merge of thousands of rows updates indexes all over the file, and SQLite's default
        2 MB cache would read the same pages again and again (twice as slow at 100,000 traces).
        """
        connection = self.connection()
        with self.translated():
            if bulk:
                (cache,) = connection.execute("PRAGMA cache_size").fetchone()
                connection.execute(f"PRAGMA cache_size = {-BULK_CACHE_KIB}")
            connection.execute("BEGIN IMMEDIATE")
            try:
                transaction = Transaction(connection)
                yield transaction
                transaction.bump_revisions()
                connection.execute("ROLLBACK" if dry_run else "COMMIT")
            except BaseException as exc:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                if isinstance(exc, UnicodeEncodeError | OverflowError):
                    raise _unstorable(exc) from None
                raise
            finally:
                if bulk:
                    connection.execute(f"PRAGMA cache_size = {int(cache)}")

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, opened (and the file checked) on first use."""
        handle: _Handle | None = getattr(self._local, "handle", None)
        if handle is not None and handle.open:
            if handle.pid == os.getpid():
                return handle.connection
            _INHERITED.append(handle)  # from before a fork: never use it, never close it
        handle = _Handle(self._open())
        self._local.handle = handle
        with self._handles_lock:
            self._handles.add(handle)
        return handle.connection

    def close(self) -> None:
        """Close every thread's connection (call it when no call is in flight); the next use
        opens new ones. The last connection to close checkpoints and removes the WAL file."""
        with self._handles_lock:
            handles = list(self._handles)
            self._handles.clear()
        for handle in handles:
            if handle.pid == os.getpid():
                handle.close()

    def side_files(self) -> list[Path]:
        """The WAL, shared-memory and journal files SQLite keeps beside the database now."""
        return [
            candidate
            for suffix in SIDE_FILES
            if (candidate := self.file.with_name(self.file.name + suffix)).exists()
        ]

    def backup(self, target: Path, *, overwrite: bool = False) -> None:
        """Copy the database to `target` with SQLite's online backup: a consistent snapshot,
        taken while other processes keep reading and writing. `target` appears whole or not
        at all; an existing file is replaced only with `overwrite`."""
        self.refuse_target(target, "the backup")
        if target.is_dir():
            raise StoreError(f"{target} is a directory: give a file name for the backup")
        if is_stream(target):
            raise StoreError(
                f"{target} is not a regular file (a device, pipe or socket): give a file name "
                "for the backup"
            )
        if target.exists() and not overwrite:
            raise StoreError(f"{target} exists: give another file name, or --force to replace it")
        source = self.connection()
        with replacing(target) as tmp:
            copy = sqlite3.connect(tmp, isolation_level=None)
            try:
                with self.translated():
                    try:
                        source.backup(copy)
                        copy.execute("PRAGMA journal_mode = DELETE")
                    except sqlite3.Error as exc:
                        name = getattr(exc, "sqlite_errorname", "") or ""
                        if name.startswith(_TARGET_ERRORS):
                            reason = "the disk is full" if name == "SQLITE_FULL" else str(exc)
                            raise StoreError(
                                f"cannot write the backup {target}: {reason}; nothing was "
                                "written, free space or give another file"
                            ) from exc
                        raise
                    try:
                        problems = [row for (row,) in copy.execute("PRAGMA quick_check(3)")]
                    except sqlite3.DatabaseError as exc:  # damage too deep to list
                        problems = [str(exc)]
                if problems != ["ok"]:
                    raise StoreCorruptError(
                        f"{self.path} is damaged ({'; '.join(problems)}); no backup was "
                        "written and the store was left as it is: restore an earlier backup"
                    )
            finally:
                copy.close()

    def refuse_target(self, target: Path, what: str) -> None:
        """Refuse to write `what` (a backup, an export) over the store or one of its side files:
        replacing the database or its write-ahead log under running writers loses their data."""
        file = resolved(target)
        own = {self.file.with_name(self.file.name + suffix) for suffix in SIDE_FILES}
        if file == self.file or file in own:
            which = "the store itself" if file == self.file else "a file of the store"
            raise StoreError(f"{target} is {which} ({self.path}): write {what} to another file")

    def revision(self, scope: Scope | None = None, task_id: str | None = None) -> int:
        """The change counter (0: no change yet): of the whole store, of one `scope` (traces or
        variations), or of one task's traces or variations. See `Transaction.bump_revisions`."""
        query, params = "SELECT MAX(revision) FROM revisions", list[str]()
        if scope is not None:
            query += " WHERE scope = ?"
            params.append(scope)
            if task_id is not None:
                query += " AND task_id = ?"
                params.append(task_id)
        with self.read() as db:
            (revision,) = db.execute(query, params).fetchone()
        return int(revision or 0)

    def changes_since(self, scope: Scope, revision: int) -> dict[str, int]:
        """`{task_id: revision}` of the tasks whose `scope` changed after `revision`."""
        with self.read() as db:
            rows = db.execute(
                "SELECT task_id, revision FROM revisions WHERE revision > ? AND scope = ? "
                "ORDER BY revision, task_id",
                (revision, scope),
            ).fetchall()
        return {task_id: int(number) for task_id, number in rows}

    # -- opening ------------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        if not self._memory:
            self._check_file()
        with self.translated():
            connection = sqlite3.connect(
                ":memory:" if self._memory else self.file,
                timeout=self.timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        try:
            with self.translated():
                self._check_schema(connection)
                connection.execute("PRAGMA foreign_keys = ON")
                connection.execute("PRAGMA synchronous = NORMAL")
                (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
                if mode not in ("wal", "memory"):
                    (mode,) = connection.execute("PRAGMA journal_mode = WAL").fetchone()
                    if mode != "wal":
                        raise StoreError(
                            f"{self.path}: SQLite cannot use WAL mode here ({mode}); put the "
                            "store on a local file system"
                        )
                self._migrate(connection)
        except BaseException:
            connection.close()
            raise
        return connection

    def _check_file(self) -> None:
        """Refuse what SQLite must not open for writing, before it does."""
        if self.file.is_dir():
            raise StoreError(
                f"{self.path} is a directory, not a database file: give a file path such as "
                f"{self.path / DATABASE_FILE}"
            )
        with contextlib.suppress(OSError):
            if not stat.S_ISREG(self.file.stat().st_mode):
                # a FIFO would block the read below forever; a device is never a database
                raise StoreError(
                    f"{self.path} is not a regular file (a device, pipe or socket): give the "
                    "path of a database file"
                )
        try:
            with self.file.open("rb") as handle:
                head = handle.read(len(SQLITE_HEADER))
        except FileNotFoundError:
            self._prepare_new()
            return
        except OSError as exc:
            raise StoreError(
                f"cannot read {self.path}: {exc.strerror or exc}; check the path and its "
                "permissions"
            ) from exc
        if head and head != SQLITE_HEADER:
            hint = (
                f"it looks like a JSON file: import it with `arcbench merge {self.path}`"
                if head.lstrip()[:1] in (b"{", b"[")
                else "give the path of an arcbench database"
            )
            raise StoreCorruptError(
                f"{self.path} is not an arcbench database (not a SQLite file); it was left "
                f"untouched: {hint}"
            )

    def _prepare_new(self) -> None:
        if not self.create:
            raise StoreError(f"no store at {self.path} yet: {missing_store_hint(self.path)}")
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create {self.path}: its directory cannot be made ({exc.strerror or exc})"
            ) from exc

    def _check_schema(self, connection: sqlite3.Connection) -> None:
        # One statement, one snapshot: read apart, another process creating the store between
        # the reads would make a new arcbench database look like another application's.
        application_id, version, objects = connection.execute(
            "SELECT (SELECT application_id FROM pragma_application_id), "
            "(SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM sqlite_master)"
        ).fetchone()
        if application_id != APPLICATION_ID and (application_id or version or objects):
            raise StoreCorruptError(
                f"{self.path} is a SQLite database of another application, not an "
                "arcbench store; it was left untouched: give another --store"
            )
        if version > SCHEMA_VERSION:
            from arcbench import __version__

            raise StoreCorruptError(
                f"{self.path} was written by a newer arcbench (schema {version}; arcbench "
                f"{__version__} knows schemas up to {SCHEMA_VERSION}); it was left untouched: "
                "upgrade arcbench to use it"
            )

    def _migrate(self, connection: sqlite3.Connection) -> None:
        """Apply the missing migrations in one transaction (another process may be doing the
        same: whoever takes the write lock second finds the work done)."""
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        if version == SCHEMA_VERSION:
            self._check_objects(connection)
            return
        connection.execute("BEGIN IMMEDIATE")
        try:
            self._check_schema(connection)
            (version,) = connection.execute("PRAGMA user_version").fetchone()
            for migration in MIGRATIONS[version:]:
                for statement in migration:
                    connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    def _check_objects(self, connection: sqlite3.Connection) -> None:
        """Refuse a database of our schema that lacks one of its tables or indexes."""
        present = set(connection.execute("SELECT type, name FROM sqlite_master"))
        missing = sorted(f"{kind} {name}" for kind, name in OBJECTS - present)
        if missing:
            raise StoreCorruptError(
                f"{self.path} is damaged (its {', '.join(missing)} is missing); it was left as "
                "it is: restore a copy made with `arcbench store backup`"
            )

    # -- errors -------------------------------------------------------------------------------

    def _unwritable(self) -> str:
        """Why SQLite could not open or write the file: the user's next step."""
        directory = self.file.parent
        side = f"SQLite keeps {self.file.name}-wal and {self.file.name}-shm beside the database"
        if not directory.is_dir():
            return f"its directory {directory} does not exist; create it or give another --store"
        if not os.access(directory, os.W_OK | os.X_OK):
            return (
                f"its directory {directory} is read-only ({side}, so the directory must be "
                "writable); make it writable or give another --store"
            )
        if self.file.exists() and not os.access(self.file, os.R_OK | os.W_OK):
            return "the file is read-only; make it writable or give another --store"
        return f"it cannot be opened for writing here ({side}); check both are writable"

    @contextlib.contextmanager
    def translated(self) -> Iterator[None]:
        """Turn SQLite's errors about the file into one-line `StoreError`s naming it."""
        try:
            yield
        except sqlite3.Error as exc:
            error = self._store_error(exc)
            if error is None:
                raise
            raise error from exc

    def _store_error(self, exc: sqlite3.Error) -> StoreError | None:
        name = getattr(exc, "sqlite_errorname", "") or ""
        path = self.path
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return StoreLockedError(
                f"{path} stayed locked by another process for {self.timeout:g} s (the busy "
                "timeout, ARCBENCH_STORE_TIMEOUT); retry when it has finished"
            )
        if name.startswith(("SQLITE_READONLY", "SQLITE_PERM", "SQLITE_AUTH", "SQLITE_CANTOPEN")):
            return StoreError(f"cannot write {path}: {self._unwritable()}")
        if name == "SQLITE_NOTADB":
            return StoreCorruptError(
                f"{path} is not an arcbench database (SQLite cannot read it); it was left "
                "untouched: give the path of an arcbench database"
            )
        if name.startswith("SQLITE_CORRUPT"):
            return StoreCorruptError(
                f"{path} is damaged ({exc}); it was left as it is: restore a copy made with "
                "`arcbench store backup`"
            )
        if name == "SQLITE_FULL":
            return StoreError(f"cannot write {path}: the disk is full; free space and retry")
        if name.startswith("SQLITE_IOERR"):
            return StoreError(
                f"cannot read or write {path} ({exc}); check the disk (full? failing?) and retry"
            )
        if str(exc).startswith(("no such table", "no such column")):
            return StoreCorruptError(
                f"{path} is damaged ({exc}); it was left as it is: restore a copy made with "
                "`arcbench store backup`"
            )
        return None


def json_text(value: Any) -> str | None:
    """`value` as the JSON text a column holds (None stays SQL NULL)."""
    if value is None:
        return None
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError as exc:
        raise StoreError(
            f"cannot store a field as JSON ({exc}): send valid UTF-8 text and integers within "
            "64 bits"
        ) from None


def resolved(path: Path) -> Path:
    """`path` with every symbolic link followed, or a `StoreError` for a link that loops."""
    try:
        return path.resolve()
    except RuntimeError:  # a loop, before Python 3.13
        reason = "its symbolic links lead in a loop"
    except OSError as exc:
        loop = exc.errno == errno.ELOOP
        reason = "its symbolic links lead in a loop" if loop else exc.strerror or str(exc)
    raise StoreError(f"cannot follow {path}: {reason}; point it at a file or give another path")


_NOT_UNICODE = "is not valid Unicode (it holds an unpaired surrogate such as \\ud800): send UTF-8"


def _unstorable(exc: UnicodeEncodeError | OverflowError) -> StoreError:
    """A value Python holds but SQLite cannot: a string with an unpaired surrogate (which JSON
    `"\\ud800"` escapes can produce) or an integer beyond 64 bits."""
    if isinstance(exc, UnicodeEncodeError):
        return StoreError(f"cannot store a text that {_NOT_UNICODE}")
    return StoreError(f"cannot store an integer beyond 64 bits ({exc}): send a smaller number")


def require_user(username: str) -> None:
    """Refuse a change without a username: every trace, vote and signature names a person."""
    if not isinstance(username, str) or not username.strip():
        raise StoreError("a username is required: set one before writing, voting or signing")
    require_text(username, "a username")


def require_text(value: str, what: str) -> None:
    """Refuse a string SQLite cannot store (an unpaired surrogate), naming what it was."""
    if not isinstance(value, str):
        raise StoreError(f"{what} is a string, not {type(value).__name__}")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise StoreError(f"{what} {_NOT_UNICODE}") from None


def missing_store_hint(path: Path) -> str:
    """What to do when there is no store at `path`: import the JSON files an earlier arcbench
    left beside it, if any, else create the store."""
    legacy = legacy_files(path)
    if legacy:
        names = " ".join(str(p) for p in legacy)
        return f"an earlier arcbench left {names}; import it with `arcbench merge {names}`"
    return "`arcbench merge` creates it (or the web app, on its first change)"


LEGACY_FILES = ("traces_store.json", "variations.json")
"""The JSON files an earlier arcbench kept where the database now lives."""


def legacy_files(path: Path) -> list[Path]:
    """The earlier JSON stores beside a database `path` that does not exist yet: what the user
    should import (`arcbench merge`) before working with the new store."""
    if path.exists():
        return []
    return [p for name in LEGACY_FILES if (p := path.with_name(name)).is_file()]
