"""The trace and variation store: one SQLite database (`data/arcbench.db` by default).

Reasoning traces with their votes, and task variations, live in one database file that
`arcbench merge`, `arcbench store` and every worker and thread of the web app use at once
(WAL mode, one transaction per change: see `database`). The JSON files of earlier versions
(`traces_store.json`, `variations.json`/`dataset.json`) are import and export formats only
(`files`). Tables and fields: `data/nature_of_data.md`.

Using it from a server (every call is synchronous, thread-safe, and one transaction):

    store = Store(data_dir / DATABASE_FILE)            # once per process; threads share it
    store.traces.list_traces(task_id, version)         # best score first, then oldest
    trace = store.traces.add_trace(task_id, user, text, version)   # trace.trace_id is new
    store.traces.edit_trace(trace_id, user, text)      # the author only
    store.traces.delete_trace(trace_id, user, admin=is_admin)
    store.traces.vote(trace_id, user, +1 | -1 | 0).score   # 0 withdraws; one vote per user
    store.variations.list_variations(task_id)
    store.variations.add_variation(task, user)         # .added (or signed), .entry.version
    store.variations.delete_variation(task_id, version, user, admin=is_admin)  # soft
    store.revision()                                   # poll: changed when this moves
    store.traces.changes_since(seen)                   # {task_id: revision} changed after

Refusals are `StoreError`s with a message fit for a user: `TraceNotFoundError`,
`VariationNotFoundError`, `StorePermissionError`, `StoreLockedError` (another writer held the
database past the busy timeout), `StoreCorruptError` (not our database, or a newer schema).
"""

from arcbench.store.database import (
    DATABASE_FILE,
    DEFAULT_STORE,
    DEFAULT_TIMEOUT_S,
    Database,
    legacy_files,
    missing_store_hint,
)
from arcbench.store.store import Exported, Store, StoreInfo
from arcbench.store.traces import ANY_VERSION, MergeOutcome, Trace, TraceSource, TraceStore
from arcbench.store.variations import (
    ImportedEntry,
    VariationAdded,
    VariationImport,
    VariationStore,
)

__all__ = [
    "ANY_VERSION",
    "DATABASE_FILE",
    "DEFAULT_STORE",
    "DEFAULT_TIMEOUT_S",
    "Database",
    "Exported",
    "ImportedEntry",
    "MergeOutcome",
    "Store",
    "StoreInfo",
    "Trace",
    "TraceSource",
    "TraceStore",
    "VariationAdded",
    "VariationImport",
    "VariationStore",
    "legacy_files",
    "missing_store_hint",
]
