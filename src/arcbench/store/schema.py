"""The database schema, as the list of forward migrations that builds it.

`PRAGMA user_version` holds how many migrations a database has had; opening it applies the
missing ones in order, in one transaction, so a database is always at one whole version. A new
database is simply one that has had none. A database whose version is higher than
`SCHEMA_VERSION` was written by a newer arcbench and is refused, never touched.

`PRAGMA application_id` marks a database as arcbench's, so that another application's SQLite
file given by mistake is refused rather than filled with our tables.

A migration is a tuple of statements, run one by one inside the opening transaction (Python's
`executescript` would commit first). Never edit a released migration: add the next one.
`data/nature_of_data.md` documents every table and column; keep it in step.
"""

from __future__ import annotations

APPLICATION_ID = 0x41524342
"""`PRAGMA application_id` of an arcbench database: "ARCB" in ASCII."""

_V1 = (
    # A trace: the original store's fields, the merged trace's provenance, and what we don't
    # know. `timestamp` has no declared type (no affinity), so the number or the text an
    # older store held comes back as it went in. `score_offset` is the part of an imported
    # score that no recorded voter explains; it never changes afterwards.
    """
    CREATE TABLE traces (
        id           INTEGER PRIMARY KEY,
        trace_id     TEXT    NOT NULL UNIQUE,
        task_id      TEXT    NOT NULL,
        version      INTEGER,
        username     TEXT    NOT NULL,
        text         TEXT    NOT NULL,
        timestamp            NOT NULL,
        edited_at    REAL,
        score_offset INTEGER NOT NULL DEFAULT 0,
        record_id    TEXT    UNIQUE,
        source       TEXT,
        extra        TEXT
    )
    """,
    "CREATE INDEX traces_by_task ON traces (task_id, version)",
    # One row per user and trace: the score is the sum of these, never a stored counter.
    """
    CREATE TABLE votes (
        id       INTEGER PRIMARY KEY,
        trace    INTEGER NOT NULL REFERENCES traces (id) ON DELETE CASCADE,
        username TEXT    NOT NULL,
        vote     INTEGER NOT NULL CHECK (vote IN (-1, 1)),
        UNIQUE (trace, username)
    )
    """,
    # A task version. Grids and lists are JSON text, as in dataset.json.
    """
    CREATE TABLE variations (
        id             INTEGER PRIMARY KEY,
        task_id        TEXT    NOT NULL,
        version        INTEGER NOT NULL CHECK (version >= 1),
        content_key    TEXT    NOT NULL,
        train          TEXT    NOT NULL,
        test           TEXT    NOT NULL,
        signed_by      TEXT    NOT NULL DEFAULT '[]',
        parent_version INTEGER,
        transforms     TEXT    NOT NULL DEFAULT '[]',
        color_map      TEXT,
        created_by     TEXT,
        created_at     TEXT,
        extra          TEXT,
        UNIQUE (task_id, version)
    )
    """,
    "CREATE UNIQUE INDEX variations_by_content ON variations (task_id, content_key)",
    f"PRAGMA application_id = {APPLICATION_ID}",
)

_V2 = (
    # Soft deletion of variations: a deleted version keeps its number (and its row), so that
    # traces and runs pointing at it stay meaningful; identical content may be added again.
    "ALTER TABLE variations ADD COLUMN deleted_at TEXT",
    "ALTER TABLE variations ADD COLUMN deleted_by TEXT",
    "DROP INDEX variations_by_content",
    """
    CREATE UNIQUE INDEX variations_by_content ON variations (task_id, content_key)
    WHERE deleted_at IS NULL
    """,
    # The change counter live views poll: each change bumps the revision of the tasks it
    # touched to one more than the highest revision so far.
    """
    CREATE TABLE revisions (
        scope    TEXT    NOT NULL CHECK (scope IN ('traces', 'variations')),
        task_id  TEXT    NOT NULL,
        revision INTEGER NOT NULL,
        PRIMARY KEY (scope, task_id)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX revisions_by_revision ON revisions (revision)",
    "INSERT INTO revisions SELECT DISTINCT 'traces', task_id, 1 FROM traces",
    "INSERT INTO revisions SELECT DISTINCT 'variations', task_id, 1 FROM variations",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2)
"""Migration `n` (0-based) takes a database from version `n` to version `n + 1`."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The version this arcbench writes and reads."""

OBJECTS = frozenset(
    {
        ("table", "traces"),
        ("table", "votes"),
        ("table", "variations"),
        ("table", "revisions"),
        ("index", "traces_by_task"),
        ("index", "variations_by_content"),
        ("index", "revisions_by_revision"),
    }
)
"""The tables and indexes a database at `SCHEMA_VERSION` holds (SQLite's own `sqlite_*`
objects aside). One missing means the file was damaged by hand or by another tool: without
`votes` every read of a trace fails, without `variations_by_content` duplicates slip in."""

MAX_INTEGER = 2**53 - 1
"""The largest score or version number the store accepts from outside. SQLite holds 64 bits,
but a browser's JSON reads integers beyond 2**53 inexactly, and a version near 2**63 would
leave no next number for its task."""
