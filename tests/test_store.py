"""The trace and variation stores on a real SQLite file: the operations keep their rules, every
change is one transaction, threads share a store safely, the change counter moves with every
change and only then, and an older database is migrated forward."""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest
from pydantic import ValidationError

from arcbench.errors import (
    StoreError,
    StorePermissionError,
    TraceNotFoundError,
    VariationNotFoundError,
)
from arcbench.store import ImportedEntry, Store, Trace, TraceStore, VariationStore
from arcbench.store.schema import APPLICATION_ID, SCHEMA_VERSION
from arcbench.tasks import Pair, Provenance, Task, TestPair
from conftest import run_cli


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "arcbench.db"


def clock(start: float = 1_800_000_000.0) -> object:
    ticks = iter(range(1_000_000))
    return lambda: start + next(ticks)


def table(path: Path, query: str) -> list[tuple[object, ...]]:
    """Rows read straight from the database file, as another tool would."""
    with sqlite3.connect(path) as db:
        return db.execute(query).fetchall()


# ---- traces -----------------------------------------------------------------------------------


def test_add_then_list_by_task_and_version(store_path: Path) -> None:
    store = TraceStore(store_path, clock=clock())  # type: ignore[arg-type]
    original = store.add_trace("t1", "alice", "Original rule.")
    variant = store.add_trace("t1", "bob", "Rule on the rotated version.", version=2)
    store.add_trace("t2", "alice", "Other task.")

    assert original.trace_id.startswith("t1_")
    assert [t.trace_id for t in store.list_traces("t1")] == [original.trace_id, variant.trace_id]
    assert [t.trace_id for t in store.list_traces("t1", version=None)] == [original.trace_id]
    assert [t.trace_id for t in store.list_traces("t1", version=2)] == [variant.trace_id]
    assert store.list_traces("unknown") == []
    assert store.get_trace(variant.trace_id) == variant
    assert TraceStore(store_path).count() == 3
    assert table(store_path, "SELECT task_id, version, username FROM traces ORDER BY id") == [
        ("t1", None, "alice"), ("t1", 2, "bob"), ("t2", None, "alice"),
    ]  # fmt: skip


def test_votes_change_withdraw_and_sort(store_path: Path) -> None:
    store = TraceStore(store_path, clock=clock())  # type: ignore[arg-type]
    first = store.add_trace("t1", "alice", "First.")
    second = store.add_trace("t1", "bob", "Second.")

    store.vote(second.trace_id, "carol", 1)
    store.vote(second.trace_id, "dave", 1)
    store.vote(first.trace_id, "carol", -1)
    store.vote(first.trace_id, "carol", 1)  # changed: -1 -> +1 is +2
    again = store.vote(first.trace_id, "carol", 1)  # same vote twice counts once

    assert (again.score, again.voters) == (1, {"carol": 1})
    assert [(t.trace_id, t.score) for t in store.list_traces("t1")] == [
        (second.trace_id, 2),
        (first.trace_id, 1),
    ]
    withdrawn = store.vote(second.trace_id, "dave", 0)
    assert (withdrawn.score, withdrawn.voters) == (1, {"carol": 1})
    # one row per user and trace; the score is their sum
    assert sorted(table(store_path, "SELECT username, vote FROM votes")) == [
        ("carol", 1), ("carol", 1),
    ]  # fmt: skip


def test_ties_are_listed_oldest_first(store_path: Path) -> None:
    store = TraceStore(store_path, clock=clock())  # type: ignore[arg-type]
    traces = [store.add_trace("t1", f"user{n}", f"Trace {n}.") for n in range(5)]
    store.vote(traces[3].trace_id, "judge", 1)
    store.vote(traces[1].trace_id, "judge", -1)

    order = [t.trace_id for t in store.list_traces("t1")]

    assert order == [traces[n].trace_id for n in (3, 0, 2, 4, 1)]


@pytest.mark.parametrize("vote", [2, -2, 5, True, 1.0])
def test_a_vote_is_plus_or_minus_one(store_path: Path, vote: object) -> None:
    store = TraceStore(store_path)
    trace = store.add_trace("t1", "alice", "Text.")
    with pytest.raises(StoreError, match=r"\+1, -1 or 0"):
        store.vote(trace.trace_id, "bob", vote)  # type: ignore[arg-type]
    assert store.get_trace(trace.trace_id).score == 0


def test_only_the_author_edits(store_path: Path) -> None:
    store = TraceStore(store_path, clock=clock())  # type: ignore[arg-type]
    trace = store.add_trace("t1", "alice", "Draft.")

    with pytest.raises(StorePermissionError, match=r"only 'alice'.* may edit"):
        store.edit_trace(trace.trace_id, "bob", "Vandalism.")
    edited = store.edit_trace(trace.trace_id, "alice", "Final.")

    assert edited.text == "Final."
    assert edited.edited_at is not None
    assert edited.edited_at > float(trace.timestamp)
    assert TraceStore(store_path).get_trace(trace.trace_id).text == "Final."


def test_the_author_or_an_admin_deletes_and_votes_go_with_the_trace(store_path: Path) -> None:
    store = TraceStore(store_path)
    mine = store.add_trace("t1", "alice", "Mine.")
    other = store.add_trace("t1", "alice", "Also mine.")
    store.vote(mine.trace_id, "bob", 1)
    store.vote(other.trace_id, "bob", -1)

    with pytest.raises(StorePermissionError, match="may delete"):
        store.delete_trace(mine.trace_id, "bob")
    store.delete_trace(mine.trace_id, "alice")
    store.delete_trace(other.trace_id, "root", admin=True)

    assert store.list_traces("t1") == []
    assert table(store_path, "SELECT count(*) FROM votes") == [(0,)]
    with pytest.raises(TraceNotFoundError, match="no trace"):
        store.vote(mine.trace_id, "bob", 1)
    with pytest.raises(TraceNotFoundError):
        store.edit_trace("t1_nonexistent", "alice", "x")


def test_a_refused_change_changes_nothing(store_path: Path) -> None:
    store = Store(store_path)
    trace = store.traces.add_trace("t1", "alice", "Text.")
    revision = store.revision()

    with pytest.raises(StorePermissionError):
        store.traces.edit_trace(trace.trace_id, "bob", "Other.")
    with pytest.raises(StoreError):
        store.traces.vote(trace.trace_id, "bob", 3)

    assert store.traces.get_trace(trace.trace_id).text == "Text."
    assert store.revision() == revision


def test_username_is_required(store_path: Path) -> None:
    store = Store(store_path)
    with pytest.raises(StoreError, match="username is required"):
        store.traces.add_trace("t1", "  ", "Text.")
    trace = store.traces.add_trace("t1", "alice", "Text.")
    with pytest.raises(StoreError, match="username is required"):
        store.traces.vote(trace.trace_id, "", 1)
    with pytest.raises(StoreError, match="username is required"):
        store.variations.add_variation(task(1), " ")


def test_two_store_objects_see_each_others_changes(store_path: Path) -> None:
    web, merge = TraceStore(store_path), TraceStore(store_path)
    first = web.add_trace("t1", "alice", "From the web app.")
    assert web.list_traces("t1")

    second = merge.add_trace("t1", "bob", "From another process.")
    merge.vote(first.trace_id, "bob", 1)
    third = web.add_trace("t1", "carol", "Web app again.")

    listed = web.list_traces("t1")
    assert [t.trace_id for t in listed] == [first.trace_id, second.trace_id, third.trace_id]
    assert listed[0].voters == {"bob": 1}


def test_threads_share_one_store_and_lose_nothing(store_path: Path) -> None:
    """What a web server's worker threads do: one store object, many threads writing at once."""
    store = TraceStore(store_path)
    target = store.add_trace("t0", "alice", "Everyone votes on this.")
    added: list[str] = []
    failures: list[BaseException] = []
    start = threading.Barrier(8)

    def work(n: int) -> None:
        try:
            start.wait()
            for k in range(25):
                added.append(store.add_trace(f"t{k % 3}", f"user{n}", f"{n}/{k}").trace_id)
                store.vote(target.trace_id, f"user{n}", -1 if k % 2 else 1)
                store.list_traces("t1")
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert len(set(added)) == 200
    assert store.count() == 201
    final = store.get_trace(target.trace_id)
    assert final.voters == {f"user{n}": 1 for n in range(8)}  # each thread's last vote, k=24
    assert final.score == 8
    store.close()


def test_a_forked_worker_opens_its_own_connection(store_path: Path) -> None:
    """A pre-forking server creates the store, then forks its workers."""
    store = TraceStore(store_path)
    trace = store.add_trace("t1", "alice", "Text.")

    pid = os.fork()
    if pid == 0:  # the child: vote through the inherited object, then leave at once
        code = 1
        try:
            store.vote(trace.trace_id, "child", 1)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert store.vote(trace.trace_id, "parent", 1).voters == {"child": 1, "parent": 1}


# ---- the change counter -----------------------------------------------------------------------


def test_every_change_moves_the_revision_of_what_it_touched(store_path: Path) -> None:
    store = Store(store_path)
    assert store.revision() == 0
    a = store.traces.add_trace("a", "alice", "A.")
    after_a = store.revision()
    store.traces.add_trace("b", "bob", "B.")
    assert store.traces.changes_since(after_a) == {"b": after_a + 1}

    steps = [
        lambda: store.traces.vote(a.trace_id, "bob", 1),
        lambda: store.traces.edit_trace(a.trace_id, "alice", "A, edited."),
        lambda: store.traces.vote(a.trace_id, "bob", 0),
        lambda: store.variations.add_variation(task(1, task_id="a"), "carol"),
        lambda: store.variations.add_variation(task(1, task_id="a"), "dave"),  # signs
        lambda: store.variations.delete_variation("a", 1, "carol"),
        lambda: store.traces.delete_trace(a.trace_id, "alice"),
    ]
    seen = store.revision()
    for step in steps:
        step()
        assert store.revision() == seen + 1
        seen += 1
    assert store.traces.revision("a") == seen
    assert store.traces.revision("b") == after_a + 1
    assert store.traces.revision("nothing") == 0
    assert store.variations.changes_since(after_a) == {"a": seen - 1}
    assert store.traces.changes_since(seen) == {}


def test_a_change_that_changes_nothing_keeps_the_revision(store_path: Path) -> None:
    store = Store(store_path)
    trace = store.traces.add_trace("t1", "alice", "Text.")
    store.traces.vote(trace.trace_id, "bob", 1)
    store.variations.add_variation(task(1), "carol")
    revision = store.revision()

    store.traces.vote(trace.trace_id, "bob", 1)
    store.traces.vote(trace.trace_id, "nobody", 0)
    store.variations.add_variation(task(1), "carol")

    assert store.revision() == revision


# ---- variations -------------------------------------------------------------------------------


def task(seed: int, task_id: str = "abc123", transforms: tuple[str, ...] = ()) -> Task:
    return Task(
        id=task_id,
        train=[Pair(input=[[seed, 0]], output=[[0, seed]])],
        test=[TestPair(input=[[seed, 1]], output=[[1, seed]])],
        provenance=Provenance(parent_version=None, transforms=list(transforms)),
    )


def test_variations_are_numbered_and_identical_ones_signed(store_path: Path) -> None:
    store = VariationStore(store_path)

    first = store.add_variation(task(1, transforms=("rot90",)), "alice")
    second = store.add_variation(task(2), "bob")
    signed = store.add_variation(task(1), "carol")
    again = store.add_variation(task(1), "carol")
    other_task = store.add_variation(task(1, task_id="def456"), "carol")

    assert (first.added, first.entry.version, first.entry.signed_by) == (True, 1, ["alice"])
    assert (second.entry.version, second.entry.created_by) == (2, "bob")
    assert (signed.added, signed.entry.version, signed.entry.signed_by) == (
        False, 1, ["alice", "carol"],
    )  # fmt: skip
    assert (again.added, again.entry.signed_by) == (False, ["alice", "carol"])
    assert (other_task.added, other_task.entry.version) == (True, 1)
    assert first.entry.transforms == ["rot90"]
    assert [v.version for v in store.list_variations("abc123")] == [1, 2]
    assert [(v.task_id, v.version) for v in store.list_variations()] == [
        ("abc123", 1), ("abc123", 2), ("def456", 1),
    ]  # fmt: skip
    assert store.get_variation("abc123", 2).train == task(2).train


def test_a_deleted_variation_is_hidden_kept_and_its_number_never_reused(store_path: Path) -> None:
    store = VariationStore(store_path)
    store.add_variation(task(1), "alice")
    store.add_variation(task(2), "bob")

    with pytest.raises(StorePermissionError, match=r"only 'bob', who created abc123@2"):
        store.delete_variation("abc123", 2, "alice")
    store.delete_variation("abc123", 2, "bob")
    store.delete_variation("abc123", 1, "root", admin=True)

    assert store.list_variations() == []
    assert list(store.export()) == []
    assert store.count() == (0, 2)
    with pytest.raises(VariationNotFoundError, match=r"no variation abc123@2"):
        store.get_variation("abc123", 2)
    with pytest.raises(VariationNotFoundError):
        store.delete_variation("abc123", 2, "bob")
    assert table(store_path, "SELECT version, deleted_by FROM variations ORDER BY id") == [
        (1, "root"), (2, "bob"),
    ]  # fmt: skip
    again = store.add_variation(task(2), "carol")  # the same grids, added anew
    assert (again.added, again.entry.version, again.entry.signed_by) == (True, 3, ["carol"])


def test_versions_continue_after_the_highest_ever_stored(store_path: Path) -> None:
    store = Store(store_path)
    with store.database.write() as tx:  # a version 5 brought in by an import
        store.variations.import_in(tx, [imported(task(1), version=5)])

    added = store.variations.add_variation(task(2), "bob")

    assert added.entry.version == 6
    assert [v.version for v in store.variations.list_variations()] == [5, 6]


def imported(source: Task, version: int | None, **fields: object) -> ImportedEntry:
    from arcbench.tasks import VariantEntry, variant_entry

    raw = {**variant_entry(source.model_copy(update={"version": version})), **fields}
    return ImportedEntry(VariantEntry.model_validate(raw), raw)


def test_imported_entries_sign_keep_or_renumber(store_path: Path) -> None:
    store = Store(store_path)
    store.variations.add_variation(task(1), "alice")  # abc123@1

    with store.database.write() as tx:
        outcome = store.variations.import_in(
            tx,
            [
                imported(task(1), 7, signed_by=["bob", "alice"]),  # same grids: bob signs @1
                imported(task(1), 1, signed_by=["alice"]),  # nothing new
                imported(task(2), 1, signed_by=["carol"]),  # 1 is taken: renumbered
                imported(task(3), 4, signed_by=["dave"]),  # 4 is free: kept
                imported(task(4), None, signed_by=["erin"]),  # no number: the next one
            ],
        )

    assert (outcome.signed, outcome.present) == (1, 1)
    assert outcome.added == [("abc123", 4)]
    assert outcome.renumbered == [("abc123", 1, 2), ("abc123", None, 5)]
    listed = {v.version: v.signed_by for v in store.variations.list_variations()}
    assert listed == {1: ["alice", "bob"], 2: ["carol"], 4: ["dave"], 5: ["erin"]}


# ---- the database file ------------------------------------------------------------------------


def test_a_new_store_is_an_arcbench_database_in_wal_mode(store_path: Path) -> None:
    Store(store_path).traces.add_trace("t1", "alice", "Text.")

    with sqlite3.connect(store_path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert db.execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    assert {"traces", "votes", "variations", "revisions"} <= tables


def test_foreign_keys_are_enforced(store_path: Path) -> None:
    store = Store(store_path)
    store.traces.add_trace("t1", "alice", "Text.")
    with pytest.raises(sqlite3.IntegrityError), store.database.write() as tx:
        tx.connection.execute("INSERT INTO votes (trace, username, vote) VALUES (999, 'x', 1)")
    assert table(store_path, "SELECT count(*) FROM votes") == [(0,)]


def test_a_transaction_that_fails_keeps_nothing(store_path: Path) -> None:
    store = Store(store_path)
    store.traces.add_trace("t1", "alice", "Kept.")

    class Boom(Exception):
        pass

    def merge_delete_then_fail() -> None:
        new = Trace(trace_id="t2_x", task_id="t2", username="bob", text="Lost.", timestamp=1.0)
        with store.database.write() as tx:
            assert store.traces.merge_in(tx, [new]).added == [new]
            tx.connection.execute("DELETE FROM traces WHERE task_id = 't1'")
            raise Boom

    with pytest.raises(Boom):
        merge_delete_then_fail()

    assert [t.text for t in store.traces.list_traces("t1")] == ["Kept."]
    assert store.traces.count() == 1


V1_SCHEMA = (
    # The first schema, as an arcbench of schema 1 wrote it (copied here, frozen: the test
    # must not follow later edits of the code's migrations).
    """CREATE TABLE traces (id INTEGER PRIMARY KEY, trace_id TEXT NOT NULL UNIQUE,
       task_id TEXT NOT NULL, version INTEGER, username TEXT NOT NULL, text TEXT NOT NULL,
       timestamp NOT NULL, edited_at REAL, score_offset INTEGER NOT NULL DEFAULT 0,
       record_id TEXT UNIQUE, source TEXT, extra TEXT)""",
    "CREATE INDEX traces_by_task ON traces (task_id, version)",
    """CREATE TABLE votes (id INTEGER PRIMARY KEY,
       trace INTEGER NOT NULL REFERENCES traces (id) ON DELETE CASCADE,
       username TEXT NOT NULL, vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
       UNIQUE (trace, username))""",
    """CREATE TABLE variations (id INTEGER PRIMARY KEY, task_id TEXT NOT NULL,
       version INTEGER NOT NULL CHECK (version >= 1), content_key TEXT NOT NULL,
       train TEXT NOT NULL, test TEXT NOT NULL, signed_by TEXT NOT NULL DEFAULT '[]',
       parent_version INTEGER, transforms TEXT NOT NULL DEFAULT '[]', color_map TEXT,
       created_by TEXT, created_at TEXT, extra TEXT, UNIQUE (task_id, version))""",
    "CREATE UNIQUE INDEX variations_by_content ON variations (task_id, content_key)",
)


def make_v1_database(path: Path) -> None:
    """A database as arcbench's first schema left it, with a trace, a vote and a variation."""
    from arcbench.tasks import content_key

    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode = WAL")
        for statement in V1_SCHEMA:
            db.execute(statement)
        db.execute(
            "INSERT INTO traces (trace_id, task_id, username, text, timestamp, score_offset, "
            "extra) VALUES ('t1_old', 't1', 'alice', 'Old rule.', 1714824000.5, 2, "
            "'{\"flagged\": true}')"
        )
        db.execute("INSERT INTO votes (trace, username, vote) VALUES (1, 'bob', 1)")
        old = task(1)
        db.execute(
            "INSERT INTO variations (task_id, version, content_key, train, test, signed_by, "
            "created_by) VALUES ('abc123', 3, ?, ?, ?, '[\"alice\"]', 'alice')",
            (
                content_key(old),
                orjson.dumps(old.content()["train"]).decode(),
                orjson.dumps(old.content()["test"]).decode(),
            ),
        )
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        db.execute("PRAGMA user_version = 1")
    db.close()


def schema_of(path: Path) -> dict[str, object]:
    """Every table's columns and every index, as SQLite reports them."""
    with sqlite3.connect(path) as db:
        tables = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        shape: dict[str, object] = {
            name: [row[1:] for row in db.execute(f"PRAGMA table_info({name})")]
            for name in sorted(tables)
        }
        shape["indexes"] = sorted(
            db.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'")
        )
    db.close()
    return shape


def test_a_schema_1_database_is_migrated_forward_with_its_data(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    make_v1_database(old)
    fresh = tmp_path / "fresh.db"
    Store(fresh).traces.count()

    store = Store(old)
    trace = store.traces.get_trace("t1_old")

    assert (trace.score, trace.voters, trace.model_extra) == (3, {"bob": 1}, {"flagged": True})
    assert table(old, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert schema_of(old) == schema_of(fresh)
    assert store.variations.get_variation("abc123", 3).signed_by == ["alice"]
    assert store.variations.revision("abc123") == 1  # the backfilled revisions
    store.variations.delete_variation("abc123", 3, "alice")  # what schema 2 added
    assert store.variations.add_variation(task(1), "bob").entry.version == 4
    assert store.traces.vote(trace.trace_id, "carol", 1).score == 4


def test_nature_of_data_documents_every_table_and_column(store_path: Path) -> None:
    Store(store_path).traces.count()
    doc = (Path(__file__).resolve().parents[1] / "data" / "nature_of_data.md").read_text()
    tables = [
        str(name)
        for (name,) in table(store_path, "SELECT name FROM sqlite_master WHERE type = 'table'")
    ]

    assert sorted(tables) == ["revisions", "traces", "variations", "votes"]
    for name in tables:
        heading = f"### Table `{name}`"
        assert heading in doc, heading
        section = doc.split(heading, 1)[1].split("\n### ", 1)[0]
        for (column,) in table(store_path, f"SELECT name FROM pragma_table_info('{name}')"):
            assert f"`{column}`" in section, f"{name}.{column} is not documented"


@pytest.mark.parametrize(
    ("task_id", "text", "version", "problem"),
    [("", "Text.", None, "task_id"), ("t1", None, None, "text"), ("t1", "x", True, "version")],
)
def test_a_trace_with_a_bad_field_is_refused_in_one_line(
    store_path: Path, task_id: str, text: object, version: object, problem: str
) -> None:
    store = TraceStore(store_path)
    with pytest.raises(StoreError, match=f"cannot add a trace: {problem}: "):
        store.add_trace(task_id, "alice", text, version)  # type: ignore[arg-type]
    assert store.count() == 0


def test_each_scope_has_its_own_counter_within_the_store(store_path: Path) -> None:
    store = Store(store_path)
    store.traces.add_trace("t1", "alice", "Text.")
    store.variations.add_variation(task(1), "bob")

    assert (store.traces.revision(), store.variations.revision(), store.revision()) == (1, 2, 2)


def test_edits_and_votes_with_bad_arguments_are_refused(store_path: Path) -> None:
    store = TraceStore(store_path)
    trace = store.add_trace("t1", "alice", "Text.")
    with pytest.raises(StoreError, match="text is a string, not NoneType"):
        store.edit_trace(trace.trace_id, "alice", None)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="username is required"):
        store.vote(trace.trace_id, None, 1)  # type: ignore[arg-type]
    assert store.get_trace(trace.trace_id) == trace


@pytest.mark.parametrize(
    "value",
    ["'; DROP TABLE traces; --", "nul\x00inside", "é ✓ 🧩 \u202e", "x" * 100_000, "?", "%s"],
)
def test_any_text_is_stored_and_returned_verbatim(store_path: Path, value: str) -> None:
    store = Store(store_path)
    trace = store.traces.add_trace(value, value, value)
    store.traces.vote(trace.trace_id, value, 1)

    (listed,) = store.traces.list_traces(value)
    (exported,) = dict(store.traces.export())[value]

    assert (listed.task_id, listed.username, listed.text, listed.voters) == (
        value, value, value, {value: 1},
    )  # fmt: skip
    assert exported["text"] == value
    assert store.traces.count() == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s, t: s.add_trace("t1", "alice", "x", 0), "version: Input should be greater"),
        (lambda s, t: s.add_trace("t1", "alice", "x", -3), "version: Input should be greater"),
        (lambda s, t: s.add_trace("t1", "alice", "x", 2**63), "version: Input should be less"),
        (lambda s, t: s.add_trace("t1", "alice", "lone \ud800"), "text is not valid Unicode"),
        (lambda s, t: s.add_trace("t\udfff", "alice", "x"), "task id is not valid Unicode"),
        (lambda s, t: s.add_trace("t1", "\ud800", "x"), "username is not valid Unicode"),
        (lambda s, t: s.edit_trace(t, "alice", "\ud800"), "text is not valid Unicode"),
        (lambda s, t: s.vote(t, "b\ud800", 1), "username is not valid Unicode"),
        (lambda s, t: s.edit_trace(t, "", "x"), "username is required"),
        (lambda s, t: s.delete_trace(t, None, admin=True), "username is required"),
        (lambda s, t: s.vote(["x"], "bob", 1), "no trace ['x'] in the store"),
        (lambda s, t: s.edit_trace(7, "alice", "x"), "no trace 7 in the store"),
    ],
)
def test_hostile_arguments_are_refused_with_a_store_error(
    store_path: Path, change: object, message: str
) -> None:
    """What a web request can send: versions SQLite cannot hold (an OverflowError) or that
    name no version, strings JSON's "\\ud800" escapes make (a UnicodeEncodeError), an empty
    editor, a list as a trace id (a ProgrammingError). Each was a traceback, or stored."""
    store = TraceStore(store_path)
    trace = store.add_trace("t1", "alice", "Text.")

    with pytest.raises(StoreError, match=re.escape(message)):
        change(store, trace.trace_id)  # type: ignore[operator]

    assert store.list_traces("t1") == [trace]


def test_a_trace_with_numbers_no_store_or_browser_holds_is_refused() -> None:
    base = {"trace_id": "t1_a", "task_id": "t1", "username": "a", "text": "x", "timestamp": 1.0}
    for bad in (
        {"score": 2**63},
        {"score": -(2**53)},
        {"version": 2**53},
        {"timestamp": float("nan")},
        {"edited_at": float("inf")},
    ):
        with pytest.raises(ValidationError):
            Trace.model_validate({**base, **bad})
    assert Trace.model_validate({**base, "score": 2**53 - 1, "version": 2**53 - 1}).score > 0


def test_a_variation_with_a_hostile_username_is_refused(store_path: Path) -> None:
    store = VariationStore(store_path)
    with pytest.raises(StoreError, match="username is not valid Unicode"):
        store.add_variation(task(1), "\ud800")
    assert store.list_variations() == []


class _RacingConnection(sqlite3.Connection):
    """A connection that lets another process create the store right after its first
    statement: the moment a check split over several statements would be torn."""

    racer: ClassVar[Callable[[], None] | None] = None
    statements: ClassVar[int] = 0

    def execute(self, *args: Any, **kwargs: Any) -> sqlite3.Cursor:
        _RacingConnection.statements += 1
        if _RacingConnection.statements == 2 and _RacingConnection.racer is not None:
            racer, _RacingConnection.racer = _RacingConnection.racer, None
            racer()
        return super().execute(*args, **kwargs)


def test_a_store_created_by_another_process_while_this_one_opens_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes creating a store at once: the check of the file saw no application id
    and then, read apart, the schema version another process had just committed, and refused
    a new arcbench database as "a SQLite database of another application"."""
    store_path = tmp_path / "data" / "arcbench.db"
    store_path.parent.mkdir()
    legacy = tmp_path / "traces_store.json"
    legacy.write_bytes(orjson.dumps({"t9": [
        {"trace_id": "t9_a", "task_id": "t9", "username": "bob", "text": "Other process.",
         "score": 0, "timestamp": 1.0, "voters": {}},
    ]}))  # fmt: skip

    def other_process_creates_the_store() -> None:
        result = run_cli("merge", str(legacy), "--store", str(store_path))
        assert result.returncode == 0, result.stderr

    connect = sqlite3.connect
    monkeypatch.setattr(
        sqlite3, "connect", lambda *a, **k: connect(*a, **k, factory=_RacingConnection)
    )
    _RacingConnection.racer = other_process_creates_the_store
    store = TraceStore(store_path)
    trace = store.add_trace("t1", "alice", "This process.")

    assert _RacingConnection.racer is None  # the other process did run in between
    assert [t.trace_id for t in store.list_traces("t9")] == ["t9_a"]
    assert store.get_trace(trace.trace_id).text == "This process."


@pytest.mark.parametrize("timeout", [float("inf"), 1e308])
def test_an_endless_busy_timeout_waits_instead_of_giving_up_at_once(
    store_path: Path, timeout: float
) -> None:
    """`ARCBENCH_STORE_TIMEOUT=inf` overflowed SQLite's milliseconds: a change met by another
    writer failed at once, saying it had waited "inf s"."""
    TraceStore(store_path).add_trace("t1", "alice", "First.")
    holder = sqlite3.connect(store_path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    release = threading.Timer(0.5, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        trace = TraceStore(store_path, timeout=timeout).add_trace("t1", "bob", "Waited.")
    finally:
        release.join()
        holder.close()
    assert trace in TraceStore(store_path).list_traces("t1")
