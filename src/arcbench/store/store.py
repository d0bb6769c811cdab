"""Both stores on one database file, and what is done to the file as a whole: counts, online
backup, export to the original formats, and a merge of traces and variations in one
transaction."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from arcbench.errors import StoreError
from arcbench.store.database import DEFAULT_TIMEOUT_S, Database, resolved
from arcbench.store.files import export_traces, export_variations
from arcbench.store.traces import MergeOutcome, Trace, TraceStore
from arcbench.store.variations import ImportedEntry, VariationImport, VariationStore


@dataclass(frozen=True)
class StoreInfo:
    """What `arcbench store info` shows."""

    path: Path
    file: Path
    """The database file itself (differs from `path` when that is a symlink)."""
    schema: int
    traces: int
    merged_traces: int
    votes: int
    variations: int
    deleted_variations: int
    revision: int
    size_bytes: int
    wal_bytes: int


@dataclass(frozen=True)
class Exported:
    """How many traces and variations an export wrote (None: that file was not asked for)."""

    traces: int | None
    variations: int | None


class Store:
    """The trace store and the variation store of one database file.

    `store` is the database file (or a `Database`); `create=False` makes a missing file an
    error (for commands that only read it); `timeout` and `clock` are those of `TraceStore`.
    Use it as a context manager, or `close()` it.
    """

    def __init__(
        self,
        store: Path | Database,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        create: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = (
            store
            if isinstance(store, Database)
            else Database(store, timeout=timeout, create=create)
        )
        self.traces = TraceStore(self.database, clock=clock)
        self.variations = VariationStore(self.database)

    @classmethod
    def in_memory(cls) -> Store:
        """An empty store in memory (see `Database.in_memory`)."""
        return cls(Database.in_memory())

    @property
    def path(self) -> Path:
        return self.database.path

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.database.close()

    def revision(self) -> int:
        """The change counter of the whole store (traces and variations)."""
        return self.database.revision()

    def info(self) -> StoreInfo:
        """Counts and sizes, read in one transaction."""
        with self.database.read() as db:
            (schema,) = db.execute("PRAGMA user_version").fetchone()
            traces, merged = db.execute("SELECT count(*), count(record_id) FROM traces").fetchone()
            (votes,) = db.execute("SELECT count(*) FROM votes").fetchone()
            shown, deleted = db.execute(
                "SELECT count(*) - count(deleted_at), count(deleted_at) FROM variations"
            ).fetchone()
            (revision,) = db.execute("SELECT COALESCE(MAX(revision), 0) FROM revisions").fetchone()
        file = self.database.file
        return StoreInfo(
            path=self.path,
            file=file,
            schema=int(schema),
            traces=int(traces),
            merged_traces=int(merged),
            votes=int(votes),
            variations=int(shown),
            deleted_variations=int(deleted),
            revision=int(revision),
            size_bytes=file.stat().st_size,
            wal_bytes=sum(p.stat().st_size for p in self.database.side_files()),
        )

    def backup(self, target: Path, *, overwrite: bool = False) -> None:
        """An online backup to `target` (see `Database.backup`)."""
        self.database.backup(target, overwrite=overwrite)

    def export(self, *, traces: Path | None = None, variations: Path | None = None) -> Exported:
        """Write the traces as `traces_store.json` and/or the variations as `dataset.json`,
        both from one snapshot of the store (changes made meanwhile are in neither). Neither
        may be the store or one of its files, nor both the same file."""
        for target, what in ((traces, "the traces"), (variations, "the variations")):
            if target is not None:
                self.database.refuse_target(target, what)
        if traces is not None and variations is not None and _same_file(traces, variations):
            raise StoreError(
                f"--traces and --variations both name {traces}: the second would overwrite the "
                "first; give two files"
            )
        with self.database.read():
            return Exported(
                traces=export_traces(self.traces, traces) if traces is not None else None,
                variations=(
                    export_variations(self.variations, variations)
                    if variations is not None
                    else None
                ),
            )

    def merge(
        self,
        traces: Sequence[Trace],
        entries: Sequence[ImportedEntry],
        *,
        dry_run: bool = False,
    ) -> tuple[MergeOutcome, VariationImport]:
        """Add new traces and import variations in one transaction: a merge killed at any
        moment leaves all of it or none. `dry_run` computes the same outcome, keeps nothing."""
        with self.database.write(dry_run=dry_run, bulk=True) as tx:
            merged = self.traces.merge_in(tx, traces)
            imported = self.variations.import_in(tx, entries)
        return merged, imported


def _same_file(one: Path, other: Path) -> bool:
    return resolved(one) == resolved(other)
