"""The trace and variation stores on real files: the original format round-trips, the operations
keep their rules, a broken file is never overwritten, backups rotate, other writers are seen."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import orjson
import pytest

from arcbench.errors import (
    StoreCorruptError,
    StoreError,
    StorePermissionError,
    TraceNotFoundError,
)
from arcbench.store import TraceStore, VariationStore
from arcbench.tasks import Pair, Provenance, Task, TestPair
from conftest import run_cli
from rundata import legacy_store, traces_run


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "traces_store.json"


def write_legacy(path: Path, tasks: int = 3, per_task: int = 3) -> bytes:
    """A store as the original app wrote it (`json.dump(indent=2)`), with a field we don't know."""
    data = legacy_store(tasks, per_task)
    data["task0000"][0]["flagged"] = {"by": "carol", "why": "typo"}
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = orjson.dumps(data, option=orjson.OPT_INDENT_2)
    path.write_bytes(raw)
    return raw


def clock(start: float = 1_800_000_000.0) -> object:
    ticks = iter(range(1_000_000))
    return lambda: start + next(ticks)


# ---- the original format ----------------------------------------------------------------------


def test_original_store_round_trips_unchanged(store_path: Path) -> None:
    before = orjson.loads(write_legacy(store_path))
    store = TraceStore(store_path)

    added = store.add_trace("task0009", "dave", "New task, new trace.")
    store.delete_trace(added.trace_id, "dave")

    assert orjson.loads(store_path.read_bytes()) == before


def test_original_traces_keep_every_field_and_their_order(store_path: Path) -> None:
    before = orjson.loads(write_legacy(store_path))

    TraceStore(store_path).add_trace("task0000", "dave", "Another reading of the rule.")

    after = orjson.loads(store_path.read_bytes())
    assert after["task0000"][:3] == before["task0000"]
    assert list(after["task0000"][0]) == list(before["task0000"][0])
    assert after["task0001"] == before["task0001"]
    assert after["task0000"][3]["username"] == "dave"


def test_original_traces_read_as_models(store_path: Path) -> None:
    write_legacy(store_path)
    traces = TraceStore(store_path).list_traces("task0000")
    assert [t.score for t in traces] == [2, 1, 0]
    assert traces[-1].model_extra == {"flagged": {"by": "carol", "why": "typo"}}


# ---- operations -------------------------------------------------------------------------------


def test_add_then_list_by_task_and_version(store_path: Path) -> None:
    store = TraceStore(store_path, clock=clock())  # type: ignore[arg-type]
    original = store.add_trace("t1", "alice", "Original rule.")
    variant = store.add_trace("t1", "bob", "Rule on the rotated version.", version=2)
    store.add_trace("t2", "alice", "Other task.")

    assert [t.trace_id for t in store.list_traces("t1")] == [original.trace_id, variant.trace_id]
    assert [t.trace_id for t in store.list_traces("t1", version=None)] == [original.trace_id]
    assert [t.trace_id for t in store.list_traces("t1", version=2)] == [variant.trace_id]
    assert store.list_traces("unknown") == []
    on_disk = orjson.loads(store_path.read_bytes())
    assert "version" not in on_disk["t1"][0]
    assert on_disk["t1"][1]["version"] == 2
    assert set(on_disk["t1"][0]) == {
        "trace_id", "task_id", "username", "text", "score", "timestamp", "voters",
    }  # fmt: skip


def test_votes_change_withdraw_and_sort(store_path: Path) -> None:
    store = TraceStore(store_path, clock=clock())  # type: ignore[arg-type]
    first = store.add_trace("t1", "alice", "First.")
    second = store.add_trace("t1", "bob", "Second.")

    store.vote(second.trace_id, "carol", 1)
    store.vote(second.trace_id, "dave", 1)
    store.vote(first.trace_id, "carol", -1)
    store.vote(first.trace_id, "carol", 1)  # changed: -1 -> +1 is +2
    again = store.vote(first.trace_id, "carol", 1)  # same vote twice counts once

    assert again.score == 1
    assert [(t.trace_id, t.score) for t in store.list_traces("t1")] == [
        (second.trace_id, 2),
        (first.trace_id, 1),
    ]
    withdrawn = store.vote(second.trace_id, "dave", 0)
    assert (withdrawn.score, withdrawn.voters) == (1, {"carol": 1})
    on_disk = orjson.loads(store_path.read_bytes())["t1"]
    assert on_disk[0]["voters"] == {"carol": 1}
    assert on_disk[1]["score"] == 1


@pytest.mark.parametrize("vote", [2, -2, 5])
def test_a_vote_is_plus_or_minus_one(store_path: Path, vote: int) -> None:
    store = TraceStore(store_path)
    trace = store.add_trace("t1", "alice", "Text.")
    with pytest.raises(StoreError, match=r"\+1, -1 or 0"):
        store.vote(trace.trace_id, "bob", vote)


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


def test_the_author_or_an_admin_deletes(store_path: Path) -> None:
    store = TraceStore(store_path)
    mine = store.add_trace("t1", "alice", "Mine.")
    other = store.add_trace("t1", "alice", "Also mine.")

    with pytest.raises(StorePermissionError):
        store.delete_trace(mine.trace_id, "bob")
    store.delete_trace(mine.trace_id, "alice")
    store.delete_trace(other.trace_id, "root", admin=True)

    assert store.list_traces("t1") == []
    assert orjson.loads(store_path.read_bytes()) == {}
    with pytest.raises(TraceNotFoundError, match="no trace"):
        store.vote(mine.trace_id, "bob", 1)


def test_a_refused_change_leaves_memory_and_disk_as_they_were(store_path: Path) -> None:
    store = TraceStore(store_path)
    trace = store.add_trace("t1", "alice", "Text.")
    before = store_path.read_bytes()

    with pytest.raises(StorePermissionError):
        store.edit_trace(trace.trace_id, "bob", "Other.")

    assert store_path.read_bytes() == before
    assert store.get_trace(trace.trace_id).text == "Text."


def test_username_is_required(store_path: Path) -> None:
    with pytest.raises(StoreError, match="username is required"):
        TraceStore(store_path).add_trace("t1", "  ", "Text.")


# ---- files, processes, backups ----------------------------------------------------------------


def test_a_change_by_another_writer_is_seen_and_kept(store_path: Path) -> None:
    web, merge = TraceStore(store_path), TraceStore(store_path)
    first = web.add_trace("t1", "alice", "From the web app.")
    assert web.list_traces("t1")  # cached now

    second = merge.add_trace("t1", "bob", "From another process.")
    third = web.add_trace("t1", "carol", "Web app again.")

    ids = {t.trace_id for t in TraceStore(store_path).list_traces("t1")}
    assert ids == {first.trace_id, second.trace_id, third.trace_id}
    assert {t.trace_id for t in web.list_traces("t1")} == ids


def test_backups_rotate_keeping_the_last_ten(store_path: Path) -> None:
    store = TraceStore(store_path, backup_interval=0)
    contents = []
    for n in range(14):
        store.add_trace("t1", "alice", f"Trace {n}.")
        contents.append(store_path.read_bytes())

    backups = store.file.backups()
    assert len(backups) == 10
    assert all(b.parent == store_path.parent / "backups" for b in backups)
    assert [b.read_bytes() for b in backups] == contents[-11:-1]


def test_backups_are_spaced_by_the_interval_but_merges_always_back_up(tmp_path: Path) -> None:
    store_path = tmp_path / "traces_store.json"
    store = TraceStore(store_path, backup_interval=3600)
    for n in range(5):
        store.add_trace("t1", "alice", f"Trace {n}.")
    assert len(store.file.backups()) == 1  # the first write has nothing to back up yet

    result = run_cli(
        "merge", str(traces_run(tmp_path / "run", "r1", 2)), "--store", str(store_path)
    )

    assert result.returncode == 0, result.stderr
    backups = store.file.backups()
    assert len(backups) == 2
    assert len(orjson.loads(backups[-1].read_bytes())["t1"]) == 5


def test_permissions_of_the_store_are_kept(store_path: Path) -> None:
    store = TraceStore(store_path)
    store.add_trace("t1", "alice", "Text.")
    assert stat.S_IMODE(store_path.stat().st_mode) == 0o644
    os.chmod(store_path, 0o640)
    store.add_trace("t1", "alice", "More.")
    assert stat.S_IMODE(store_path.stat().st_mode) == 0o640


def test_temporaries_left_by_a_killed_writer_are_cleaned(store_path: Path) -> None:
    store = TraceStore(store_path)
    store.add_trace("t1", "alice", "Text.")
    stale = store_path.parent / ".traces_store.json.abc123.tmp"
    stale.write_bytes(b'{"torn": ')

    store.add_trace("t1", "alice", "More.")

    assert not stale.exists()


# ---- a store that does not parse --------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'{"t1": [{"trace_id": "x", "text": "cut off', "does not parse as JSON"),
        (b"", "does not parse as JSON"),
        (b'[{"trace_id": "x"}]', "is a JSON list"),
        (b'{"t1": {"trace_id": "x"}}', "has a non-list value for task 't1'"),
        (b'{"t1": [{"text": "no id"}]}', "has a trace without a trace_id"),
    ],
)
def test_merge_refuses_a_broken_store_and_leaves_it_byte_identical(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    store_path = tmp_path / "data" / "traces_store.json"
    store_path.parent.mkdir()
    store_path.write_bytes(content)
    run = traces_run(tmp_path / "run", "r1", 2)

    result = run_cli("merge", str(run), "--store", str(store_path))

    assert result.returncode == 2
    assert f"arcbench: error: {store_path} {problem}" in result.stderr
    assert "left untouched" in result.stderr
    assert "Traceback" not in result.stderr
    assert store_path.read_bytes() == content
    assert not (store_path.parent / "backups").exists()


def test_library_writes_refuse_a_broken_store(store_path: Path) -> None:
    store_path.parent.mkdir(parents=True)
    store_path.write_bytes(b"{not json")
    store = TraceStore(store_path)
    with pytest.raises(StoreCorruptError, match=r"traces_store\.json does not parse"):
        store.add_trace("t1", "alice", "Text.")
    assert store_path.read_bytes() == b"{not json"


# ---- variations -------------------------------------------------------------------------------


def task(seed: int, task_id: str = "abc123", transforms: tuple[str, ...] = ()) -> Task:
    return Task(
        id=task_id,
        train=[Pair(input=[[seed, 0]], output=[[0, seed]])],
        test=[TestPair(input=[[seed, 1]], output=[[1, seed]])],
        provenance=Provenance(parent_version=None, transforms=list(transforms)),
    )


def test_variations_are_numbered_and_identical_ones_signed(tmp_path: Path) -> None:
    store = VariationStore(tmp_path / "variations.json")

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
    assert again.entry.signed_by == ["alice", "carol"]
    assert (other_task.added, other_task.entry.version) == (True, 1)
    on_disk = orjson.loads((tmp_path / "variations.json").read_bytes())
    assert [(e["task_id"], e["version"]) for e in on_disk] == [
        ("abc123", 1), ("abc123", 2), ("def456", 1),
    ]  # fmt: skip
    assert on_disk[0]["transforms"] == ["rot90"]
    assert set(on_disk[0]) >= {
        "task_id", "version", "train", "test", "signed_by", "parent_version", "transforms",
        "created_by", "created_at",
    }  # fmt: skip
    assert [v.version for v in store.list_variations("abc123")] == [1, 2]


def test_versions_are_never_renumbered(tmp_path: Path) -> None:
    path = tmp_path / "variations.json"
    store = VariationStore(path)
    store.add_variation(task(1), "alice")
    entries = orjson.loads(path.read_bytes())
    entries[0]["version"] = 5  # a gap, as left by an entry removed by hand
    path.write_bytes(orjson.dumps(entries))

    added = store.add_variation(task(2), "bob")

    assert added.entry.version == 6
    assert [e["version"] for e in orjson.loads(path.read_bytes())] == [5, 6]


def test_variations_file_from_tasks_augment_is_kept_and_extended(tmp_path: Path) -> None:
    path = tmp_path / "variations.json"
    source = tmp_path / "task.json"
    source.write_bytes(orjson.dumps(task(3).content()))
    made = run_cli(
        "tasks", "augment", "--dataset", str(source), "--transforms", "rot90", "--out", str(path)
    )
    assert made.returncode == 0, made.stderr
    before = orjson.loads(path.read_bytes())

    added = VariationStore(path).add_variation(task(4, task_id="task"), "alice")

    after = orjson.loads(path.read_bytes())
    assert after[:-1] == before
    assert added.entry.version == before[-1]["version"] + 1


def test_a_broken_variations_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "variations.json"
    content = orjson.dumps([{"task_id": "abc", "train": [], "test": []}])
    path.write_bytes(content)

    with pytest.raises(StoreCorruptError, match=r"variations\.json is not a list of task versions"):
        VariationStore(path).add_variation(task(1), "alice")

    assert path.read_bytes() == content
