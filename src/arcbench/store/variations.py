"""The variation store: task versions made in the web app, by `tasks augment` or imported.

Versions are numbered per task id after the highest ever stored (deleted ones included) and
never renumbered, so traces and run records that name `(task_id, version)` stay valid. A
version whose grids equal a stored one of the same task is not added again: its author signs
the stored one instead. Deleting is soft: the version keeps its row and number, and is hidden
from lists and exports.

Entries are the `dataset.json` entries of `VariantEntry` (`tasks.variant_entry`); fields an
imported entry carries beyond those are kept and written back on export.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from arcbench.errors import StorePermissionError, VariationNotFoundError
from arcbench.store.database import (
    DEFAULT_TIMEOUT_S,
    Database,
    Transaction,
    json_text,
    require_user,
)
from arcbench.tasks import Provenance, Task, VariantEntry, content_key, variant_entry

_COLUMNS = (
    "task_id, version, train, test, signed_by, parent_version, transforms, color_map, "
    "created_by, created_at, extra"
)


@dataclass(frozen=True)
class VariationAdded:
    """The stored entry, and whether it was new (False: an identical one was signed instead)."""

    entry: VariantEntry
    added: bool


@dataclass(frozen=True)
class ImportedEntry:
    """An entry of a variations file: validated, and as it was written (for unknown fields)."""

    entry: VariantEntry
    raw: dict[str, Any]


@dataclass
class VariationImport:
    """What importing a variations file did, entry by entry."""

    added: list[tuple[str, int]] = field(default_factory=list)
    renumbered: list[tuple[str, int | None, int]] = field(default_factory=list)
    """Entries added under a new number: `(task_id, number in the file, number given)`."""
    signed: int = 0
    present: int = 0
    """Entries whose content and signers were all already stored."""


class VariationStore:
    """List, add (or sign), soft-delete, import and export task versions in the database.

    `store` is the database file (or an open `Database` shared with a `TraceStore`).
    """

    def __init__(self, store: Path | Database, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.database = store if isinstance(store, Database) else Database(store, timeout=timeout)

    @property
    def path(self) -> Path:
        return self.database.path

    def close(self) -> None:
        self.database.close()

    # -- reading ------------------------------------------------------------------------------

    def list_variations(self, task_id: str | None = None) -> list[VariantEntry]:
        """Every stored version in the order added, or only those of one task; deleted
        versions are left out."""
        where, params = "deleted_at IS NULL", []
        if task_id is not None:
            where += " AND task_id = ?"
            params.append(task_id)
        with self.database.read() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM variations WHERE {where} ORDER BY id", params
            ).fetchall()
        return [VariantEntry.model_validate(_entry(row)) for row in rows]

    def get_variation(self, task_id: str, version: int) -> VariantEntry:
        """One stored version, or `VariationNotFoundError` (also for a deleted one)."""
        with self.database.read() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM variations WHERE task_id = ? AND version = ? "
                "AND deleted_at IS NULL",
                (task_id, version),
            ).fetchone()
        if row is None:
            raise _not_found(task_id, version)
        return VariantEntry.model_validate(_entry(row))

    def count(self) -> tuple[int, int]:
        """How many versions are stored: `(shown, deleted)`."""
        with self.database.read() as db:
            shown, deleted = db.execute(
                "SELECT count(*) - count(deleted_at), count(deleted_at) FROM variations"
            ).fetchone()
        return int(shown), int(deleted)

    def revision(self, task_id: str | None = None) -> int:
        """The change counter of the variations (see `TraceStore.revision`); with `task_id`,
        the revision of that task's last variation change (0: none yet)."""
        return self.database.revision("variations", task_id)

    def changes_since(self, revision: int) -> dict[str, int]:
        """The tasks whose variations changed after `revision`, each with its new revision."""
        return self.database.changes_since("variations", revision)

    def export(self) -> Iterator[dict[str, Any]]:
        """Every version not deleted, in the order added, as `dataset.json` entries with
        every field (and any unknown ones an import brought)."""
        with self.database.read() as db:
            for row in db.execute(
                f"SELECT {_COLUMNS} FROM variations WHERE deleted_at IS NULL ORDER BY id"
            ):
                yield _entry(row)

    # -- changing -----------------------------------------------------------------------------

    def add_variation(
        self, task: Task, username: str, now: datetime | None = None
    ) -> VariationAdded:
        """Store `task` as the next version of `task.id`, or sign the identical stored one;
        the result says which, and carries the version number.

        The task's own `version` is ignored (the store numbers versions); its provenance
        (parent version, transforms, colour map) is kept, with `username` as signer and, if
        unset, creator.
        """
        require_user(username)
        key = content_key(task)
        with self.database.write() as tx:
            db = tx.connection
            existing = _same_content(db, task.id, key)
            if existing is not None:
                row_id, signers = existing
                if username not in signers:
                    _sign(tx, row_id, task.id, [*signers, username])
                return VariationAdded(_read(db, row_id), False)
            version = _next_version(db, task.id)
            entry = variant_entry(_as_version(task, version, username, now))
            row_id = _insert(tx, entry, key, entry["train"], entry["test"], {})
            return VariationAdded(_read(db, row_id), True)

    def delete_variation(
        self, task_id: str, version: int, username: str, *, admin: bool = False
    ) -> None:
        """Hide a version from lists and exports; its creator may, and so may an admin. The
        row and its number stay, so nothing that names it is renumbered."""
        require_user(username)
        with self.database.write() as tx:
            row = tx.connection.execute(
                "SELECT id, created_by FROM variations WHERE task_id = ? AND version = ? "
                "AND deleted_at IS NULL",
                (task_id, version),
            ).fetchone()
            if row is None:
                raise _not_found(task_id, version)
            if not admin and row[1] != username:
                raise StorePermissionError(
                    f"only {row[1]!r}, who created {task_id}@{version}, may delete it "
                    f"(you are {username!r})"
                )
            tx.connection.execute(
                "UPDATE variations SET deleted_at = ?, deleted_by = ? WHERE id = ?",
                (_now(None), username, row[0]),
            )
            tx.touch("variations", task_id)

    def import_in(self, tx: Transaction, entries: Sequence[ImportedEntry]) -> VariationImport:
        """Import the entries of a variations file inside an open transaction.

        An entry whose grids equal a stored version of its task adds its signers to it. Any
        other entry is added with its own version number when that number is free for its
        task, else (or when it has none) with the next one, and counted as renumbered. Its
        fields are kept as written, unknown ones included.
        """
        outcome = VariationImport()
        db = tx.connection
        for item in entries:
            entry, raw = item.entry, item.raw
            key = content_key(entry.to_task())
            existing = _same_content(db, entry.task_id, key)
            if existing is not None:
                row_id, signers = existing
                new = [s for s in dict.fromkeys(entry.signed_by) if s not in signers]
                if new:
                    _sign(tx, row_id, entry.task_id, [*signers, *new])
                    outcome.signed += 1
                else:
                    outcome.present += 1
                continue
            version = entry.version
            if version is None or _taken(db, entry.task_id, version):
                version = _next_version(db, entry.task_id)
                outcome.renumbered.append((entry.task_id, entry.version, version))
            else:
                outcome.added.append((entry.task_id, version))
            fields = variant_entry(entry.to_task())
            fields["version"] = version
            extra = {k: v for k, v in raw.items() if k not in VariantEntry.model_fields}
            _insert(tx, fields, key, raw["train"], raw["test"], extra)
        return outcome


def _same_content(db: sqlite3.Connection, task_id: str, key: str) -> tuple[int, list[str]] | None:
    row = db.execute(
        "SELECT id, signed_by FROM variations WHERE task_id = ? AND content_key = ? "
        "AND deleted_at IS NULL",
        (task_id, key),
    ).fetchone()
    return None if row is None else (int(row[0]), list(orjson.loads(row[1])))


def _sign(tx: Transaction, row_id: int, task_id: str, signers: list[str]) -> None:
    tx.connection.execute(
        "UPDATE variations SET signed_by = ? WHERE id = ?", (json_text(signers), row_id)
    )
    tx.touch("variations", task_id)


def _next_version(db: sqlite3.Connection, task_id: str) -> int:
    (version,) = db.execute(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM variations WHERE task_id = ?", (task_id,)
    ).fetchone()
    return int(version)


def _taken(db: sqlite3.Connection, task_id: str, version: int) -> bool:
    return (
        db.execute(
            "SELECT 1 FROM variations WHERE task_id = ? AND version = ?", (task_id, version)
        ).fetchone()
        is not None
    )


def _insert(
    tx: Transaction,
    fields: dict[str, Any],
    key: str,
    train: Any,
    test: Any,
    extra: dict[str, Any],
) -> int:
    cursor = tx.connection.execute(
        "INSERT INTO variations (task_id, version, content_key, train, test, signed_by, "
        "parent_version, transforms, color_map, created_by, created_at, extra) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            fields["task_id"],
            fields["version"],
            key,
            json_text(train),
            json_text(test),
            json_text(fields["signed_by"]),
            fields["parent_version"],
            json_text(fields["transforms"]),
            json_text(fields["color_map"]),
            fields["created_by"],
            fields["created_at"],
            json_text(extra or None),
        ),
    )
    tx.touch("variations", fields["task_id"])
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _read(db: sqlite3.Connection, row_id: int) -> VariantEntry:
    row = db.execute(f"SELECT {_COLUMNS} FROM variations WHERE id = ?", (row_id,)).fetchone()
    return VariantEntry.model_validate(_entry(row))


def _entry(row: tuple[Any, ...]) -> dict[str, Any]:
    """A database row as a `dataset.json` entry, keys in the order `variant_entry` writes."""
    (
        task_id,
        version,
        train,
        test,
        signed_by,
        parent_version,
        transforms,
        color_map,
        created_by,
        created_at,
        extra,
    ) = row
    entry: dict[str, Any] = {
        "task_id": task_id,
        "version": version,
        "train": orjson.loads(train),
        "test": orjson.loads(test),
        "signed_by": orjson.loads(signed_by),
        "parent_version": parent_version,
        "transforms": orjson.loads(transforms),
        "color_map": None if color_map is None else orjson.loads(color_map),
        "created_by": created_by,
        "created_at": created_at,
    }
    if extra is not None:
        entry.update(orjson.loads(extra))
    return entry


def _as_version(task: Task, version: int, username: str, now: datetime | None) -> Task:
    made = task.provenance or Provenance()
    signers = made.signed_by if username in made.signed_by else [*made.signed_by, username]
    provenance = made.model_copy(
        update={
            "signed_by": signers,
            "created_by": made.created_by or username,
            "created_at": made.created_at or _now(now),
        }
    )
    return task.model_copy(update={"version": version, "provenance": provenance})


def _now(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).isoformat(timespec="seconds")


def _not_found(task_id: str, version: int) -> VariationNotFoundError:
    return VariationNotFoundError(
        f"no variation {task_id}@{version} in the store; it may have been deleted, reload the list"
    )
