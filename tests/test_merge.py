"""`arcbench merge` through the real CLI and real files, plus the pure planning functions."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from arcbench.merge import Attempt, is_correct, plan_traces, reasoning_text
from arcbench.store import Store
from conftest import run_cli
from rundata import MODEL_ID, legacy_store, record, stored_traces, traces_run, write_run

STORE = Path("data/arcbench.db")


def merge(*args: str) -> tuple[str, dict[str, list[dict[str, Any]]]]:
    """Run `arcbench merge ARGS`, check it succeeded, return its output and the store's traces."""
    result = run_cli("merge", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout, stored_traces(STORE)


def revision() -> int:
    """The store's change counter: unchanged means nothing was written."""
    with Store(STORE, create=False) as store:
        return store.revision()


def all_traces(store: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [trace for traces in store.values() for trace in traces]


def test_a_run_becomes_one_trace_per_reasoned_attempt(tmp_path: Path) -> None:
    run = write_run(
        tmp_path / "run",
        [
            record("r1", "t1", attempt=1, correct=True),
            record("r1", "t1", attempt=2),
            record("r1", "t2", version=3, reasoning="Colour swap.\n\nThen flip."),
            record("r1", "t3", error="model unreachable after 3 retries"),
            record("r1", "t4", reasoning=""),
            record("r1", "t5", reasoning="   "),
        ],
    )

    out, store = merge(str(run))

    assert sorted(store) == ["t1", "t2"]
    first = store["t1"][0]
    assert first["username"] == MODEL_ID
    assert first["text"] == "Reasoning of t1 attempt 1: rotate the grid."
    assert (first["score"], first["voters"]) == (0, {})
    assert first["source"] == {
        "run_id": "r1",
        "record_id": record("r1", "t1", attempt=1)["record_id"],
        "model": MODEL_ID,
        "correct": True,
        "command": "traces",
    }
    assert first["timestamp"] == 1746377766.0  # the record's finished_at
    assert store["t2"][0]["version"] == 3
    assert store["t2"][0]["text"] == "Colour swap.\n\nThen flip."
    assert "added 3 traces" in out
    assert _count(out, "errors skipped") == 1
    assert _count(out, "no reasoning, skipped") == 2
    assert _count(out, "t2@3") == 1
    assert _count(out, "t1 ") == 2


def _count(out: str, label: str) -> int:
    line = next(line for line in out.splitlines() if label in line)
    return int(line.replace("│", " ").split()[-1])


def test_a_retried_attempt_counts_by_its_last_record(tmp_path: Path) -> None:
    failed = record("r1", "t1", error="HTTP 503 after 3 retries", reasoning="")
    run = write_run(tmp_path / "run", [failed, record("r1", "t2"), record("r1", "t1")])

    out, store = merge(str(run))

    assert sorted(store) == ["t1", "t2"]
    assert _count(out, "errors skipped") == 0


def test_merging_twice_or_a_copy_gives_the_same_store(tmp_path: Path) -> None:
    run = traces_run(tmp_path / "runs" / "a", "rA", tasks=4)
    copy = tmp_path / "elsewhere" / "a-copy"
    shutil.copytree(run, copy)

    _, once = merge(str(run))
    written = revision()
    out, again = merge(str(run / "results.jsonl"))
    assert again == once
    assert "added 0 traces" in out
    assert _count(out, "duplicates skipped") == 8
    assert merge(str(copy))[1] == once
    assert merge(str(run), str(copy))[1] == once
    assert revision() == written


def test_two_runs_with_the_same_texts_give_two_traces(tmp_path: Path) -> None:
    run_a = traces_run(tmp_path / "a", "rA", tasks=3, attempts=1)
    run_b = traces_run(tmp_path / "b", "rB", tasks=3, attempts=1)

    _, store = merge(str(run_a), str(run_b))

    traces = all_traces(store)
    assert len(traces) == 6
    assert len({t["text"] for t in traces}) == 3
    assert len({t["trace_id"] for t in traces}) == 6


def test_merge_keeps_what_people_wrote(tmp_path: Path) -> None:
    before = legacy_store(tasks=2, per_task=2)
    _write(tmp_path / "traces_store.json", orjson.dumps(before))
    merge(str(tmp_path / "traces_store.json"))

    _, store = merge(str(traces_run(tmp_path / "run", "r1", tasks=3)))

    assert store["task0000"][:2] == before["task0000"]
    assert store["task0001"][:2] == before["task0001"]
    assert len(all_traces(store)) == 4 + 6


def test_only_correct_keeps_right_attempts(tmp_path: Path) -> None:
    run = write_run(
        tmp_path / "run",
        [
            record("r1", "t1", attempt=1, correct=True),
            record("r1", "t1", attempt=2, correct=False),
            record("r1", "t2", correct=None),
            record("r1", "t3", correct=[True, None]),
            record("r1", "t4", correct=[True, False]),
        ],
    )

    out, store = merge(str(run), "--only-correct")

    assert [t["task_id"] for t in all_traces(store)] == ["t1", "t3"]
    assert _count(out, "not correct, skipped") == 3


def test_only_the_identity_view_of_an_augmented_run_becomes_traces(tmp_path: Path) -> None:
    """Reasoning about a rotated or recoloured view speaks of other grids than the task's."""
    views = (["identity"], ["rot90"], ["flip_h", "color:0213456789"])
    run = write_run(
        tmp_path / "run",
        [{**record("r1", "t1", attempt=a), "view": v} for a, v in enumerate(views, start=1)],
    )

    out, store = merge(str(run))

    assert [t["source"]["record_id"] for t in all_traces(store)] == [
        record("r1", "t1", attempt=1)["record_id"]
    ]
    assert _count(out, "transformed views (--augment), skipped") == 2


def test_dry_run_changes_nothing(tmp_path: Path) -> None:
    run = traces_run(tmp_path / "run", "r1", tasks=2)

    out, _ = merge(str(run), "--dry-run")
    assert "would add 4 traces" in out
    assert not STORE.exists()

    _, before = merge(str(run / "results.jsonl"), "--store", str(STORE))
    written = revision()
    more = traces_run(tmp_path / "more", "r2", tasks=1)
    out, after = merge(str(run), str(more), "--dry-run")
    assert "would add 2 traces" in out
    assert _count(out, "duplicates skipped") == 4
    assert (after, revision()) == (before, written)


def test_a_torn_last_line_is_skipped_with_a_warning(tmp_path: Path) -> None:
    run = write_run(
        tmp_path / "run", [record("r1", "t1")], torn=b'{"record_id": "x", "task_id": "t2", "reas'
    )

    result = run_cli("merge", str(run))

    assert result.returncode == 0, result.stderr
    assert "ignored a torn last line 2" in " ".join(result.stderr.split())
    assert list(stored_traces(STORE)) == ["t1"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d, "has no results.jsonl"),
        (lambda d: d / "missing.jsonl", "does not exist"),
        (lambda d: Path("/dev/null"), "/dev/null is not a regular file (a device or pipe)"),
        (
            lambda d: _write(d / "results.jsonl", b'{"record_id": "a"\n{"record_id": "b"}\n'),
            "line 1: not a JSON object",
        ),
        (lambda d: _write(d / "x.json", b'{"metadata": 1}'), "is not a file merge reads"),
        (lambda d: _write(d / "x.json", b"7"), "is not a file merge reads"),
        (lambda d: _write(d / "x.json", b'{"t1": [{"trace_id'), "x.json is not valid JSON ("),
        (
            lambda d: _write(d / "x.json", b"[" * 100_000 + b"]" * 100_000),
            "x.json is not valid JSON (depth limit exceeded",
        ),
    ],
)
def test_unreadable_inputs_are_one_clear_line(tmp_path: Path, make: Any, message: str) -> None:
    result = run_cli("merge", str(make(tmp_path)))

    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not STORE.exists()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (b'{"t1": [{"trace_id": "t1_a", "task_id": "t1", "username": "a", "text": "x", '
         b'"score": "3", "timestamp": 1.0, "voters": {}}]}',
         "traces_store.json: task 't1', trace #0 ('t1_a'): score: Input should be a valid integer"),
        (b'{"t1": [{"trace_id": "t1_a", "task_id": "t2", "username": "a", "text": "x", '
         b'"timestamp": 1.0}]}', "says task_id 't2'"),
        (b'{"t1": {"trace_id": "x"}}', "task 't1' holds a JSON dict, not a list of traces"),
        (b'[{"task_id": "a", "train": [], "test": []}]',
         "entry #0 (task 'a') is not a task version"),
    ],
)  # fmt: skip
def test_a_bad_store_file_among_the_inputs_merges_nothing(
    tmp_path: Path, bad: bytes, message: str
) -> None:
    run = traces_run(tmp_path / "run", "r1", tasks=2)
    path = _write(tmp_path / "traces_store.json", bad)

    result = run_cli("merge", str(run), str(path))

    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not STORE.exists()


def test_a_store_given_as_input_says_how_to_merge_it(tmp_path: Path) -> None:
    merge(str(traces_run(tmp_path / "run", "r1", tasks=1)))
    result = run_cli("merge", str(STORE), "--store", "other.db")
    assert result.returncode == 2
    assert "data/arcbench.db is a SQLite database (a store?)" in result.stderr
    assert "arcbench store export --store data/arcbench.db" in result.stderr


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _trace(trace_id: str, task_id: str = "t1", **fields: Any) -> dict[str, Any]:
    return {"trace_id": trace_id, "task_id": task_id, "username": "ann", "text": "Rule.",
            "score": 0, "timestamp": 1.0, "voters": {}, **fields}  # fmt: skip


def test_an_id_reused_by_another_trace_stops_the_import(tmp_path: Path) -> None:
    """Two different traces under one trace_id (a hand-merged file): the second was dropped
    and counted as "already in the store". A copy of the same trace is still merged once."""
    one = _write(tmp_path / "one.json", orjson.dumps({"t1": [_trace("t1_a"), _trace("t1_a")]}))
    out, store = merge(str(one), str(one))
    assert [t["trace_id"] for t in all_traces(store)] == ["t1_a"]
    assert _count(out, "duplicates skipped") == 3

    for name, document in (
        ("inside.json", {"t1": [_trace("t1_b"), _trace("t1_b", text="Other rule.")]}),
        ("across.json", {"t1": [_trace("t1_b")], "t2": [_trace("t1_b", "t2")]}),
        ("record.json", {"t1": [_trace("t1_c", source={"record_id": "r"}),
                                _trace("t1_d", source={"record_id": "r"})]}),
    ):  # fmt: skip
        path = _write(tmp_path / name, orjson.dumps(document))
        result = run_cli("merge", str(path))
        assert result.returncode == 2
        assert f"{path}: task " in result.stderr
        assert "reuses the " in result.stderr
        assert "of a different trace (at " in result.stderr
        assert "Traceback" not in result.stderr
    first = _write(tmp_path / "first.json", orjson.dumps({"t1": [_trace("t1_e")]}))
    second = _write(tmp_path / "second.json", orjson.dumps({"t1": [_trace("t1_e", score=2)]}))
    result = run_cli("merge", str(first), str(second))
    assert (
        f"{second}: task 't1', trace #0 reuses the trace_id 't1_e' of a different trace "
        f"(at {first}: task 't1', trace #0)"
    ) in result.stderr
    assert stored_traces(STORE) == store


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"t1": [_trace("t1_a", score=2**63)]}, "score: Input should be less than or equal"),
        ({"t1": [_trace("t1_a", version=0)]}, "version: Input should be greater than or equal"),
        ([{"task_id": "a", "version": 0, "train": [{"input": [[1]], "output": [[1]]}],
           "test": [{"input": [[1]]}]}], "entry #0 (task 'a') is not a task version: version:"),
        ([{"task_id": "a", "version": 2**63 - 1, "train": [{"input": [[1]], "output": [[1]]}],
           "test": [{"input": [[1]]}]}], "version: Input should be less than or equal to 2147"),
        ([{"task_id": "a", "parent_version": -1, "train": [{"input": [[1]], "output": [[1]]}],
           "test": [{"input": [[1]]}]}], "parent_version: Input should be greater than"),
    ],
)  # fmt: skip
def test_numbers_the_store_cannot_hold_stop_the_import(
    tmp_path: Path, document: Any, message: str
) -> None:
    """A score of 2**63 was an OverflowError; a version 0 variation broke a CHECK constraint;
    a version near 2**63 left its task no next number."""
    path = _write(tmp_path / "in.json", orjson.dumps(document))
    result = run_cli("merge", str(path))
    assert result.returncode == 2
    assert f"{path}" in result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not STORE.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 0}, "has version 0, which is not a task version"),
        ({"version": -2}, "has version -2, which is not a task version"),
        ({"version": 2**63}, "has version 9223372036854775808, which is not a task version"),
        ({"version": "3"}, "has version '3', which is not a task version"),
        ({"task_id": ""}, "has no task_id or record_id"),
    ],
)
def test_a_run_record_with_no_task_version_stops_the_merge(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    """An empty task id or a version of 2**63 was a traceback; a version 0 or -2 became a
    trace of a version that cannot exist, and "3" a trace of the original task."""
    bad = {**record("r1", "t1"), **change}
    run = write_run(tmp_path / "run", [record("r1", "t0"), bad])
    result = run_cli("merge", str(run))
    assert result.returncode == 2
    assert f"results.jsonl: record '{bad['record_id']}' {message}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not STORE.exists()


def test_a_file_with_a_byte_order_mark_merges(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.json", b"\xef\xbb\xbf" + orjson.dumps({"t1": [_trace("t1_a")]}))
    _, store = merge(str(path))
    assert store == {"t1": [_trace("t1_a")]}


# ---- the older project's result files ---------------------------------------------------------

LEGACY_LINES = [
    {"task_id": "aa", "task_data": {"train": []}, "prompt_messages": [], "reasoning": "Rule A."},
    {"task_id": "bb", "reasoning": ["Test one.", {"text": "Test two."}, ""]},
    {"task_id": "cc", "reasoning": "ERROR: Failed to get reasoning."},
    {"task_id": "dd", "reasoning": "error: timeout"},
    {"task_id": "ee", "reasoning": ""},
    {"task_id": "ff", "reasoning": None},
]
LEGACY_METADATA = {
    "entry_type": "metadata",
    "benchmark_type": "reasoning_generation",
    "timestamp": "2025-05-04 16:56:06",
    "model_identifier": "GEMINI_FLASH",
    "model_username": "google/gemini-2.0-flash-001",
}


def legacy_jsonl(path: Path, metadata: dict[str, Any] = LEGACY_METADATA) -> Path:
    lines = [*LEGACY_LINES, metadata]
    return _write(path, b"".join(orjson.dumps(line) + b"\n" for line in lines))


def legacy_json(path: Path) -> Path:
    metadata = {k: v for k, v in LEGACY_METADATA.items() if k != "entry_type"}
    return _write(path, orjson.dumps({"metadata": metadata, "results": LEGACY_LINES}))


@pytest.mark.parametrize("write", [legacy_jsonl, legacy_json])
def test_older_result_files_merge(tmp_path: Path, write: Any) -> None:
    path = write(tmp_path / ("old" + (".jsonl" if write is legacy_jsonl else ".json")))

    out, store = merge(str(path))

    assert sorted(store) == ["aa", "bb"]
    assert store["aa"][0]["text"] == "Rule A."
    assert [t["text"] for t in store["bb"]] == ["Test one.", "Test two."]  # one per test input
    assert store["aa"][0]["username"] == "google/gemini-2.0-flash-001"
    assert store["aa"][0]["source"]["command"] == "reasoning_generation"
    assert _count(out, "errors skipped") == 3  # two error lines, and bb's empty entry
    assert _count(out, "no reasoning, skipped") == 2


def test_older_files_merge_once_even_from_a_copy(tmp_path: Path) -> None:
    path = legacy_jsonl(tmp_path / "old.jsonl")
    copy = tmp_path / "copy" / "old.jsonl"
    copy.parent.mkdir()
    shutil.copy(path, copy)
    later = legacy_jsonl(tmp_path / "later.jsonl", {**LEGACY_METADATA, "timestamp": "2025-06-01"})

    _, once = merge(str(path))
    assert merge(str(path), str(copy))[1] == once

    _, store = merge(str(later))  # another run with the same texts: new traces
    assert len(all_traces(store)) == 6


@pytest.mark.parametrize(
    "reasoning",
    [
        ["Count cells.", "ERROR: Failed to get reasoning.", "Error: "],
        ["Count cells.", "", "  error: timeout", None],
        ["  ", "Count cells.", {"text": "eRRoR: no reply"}],
    ],
)
def test_failed_entries_of_a_list_reasoning_are_skipped_and_counted(
    tmp_path: Path, reasoning: list[Any]
) -> None:
    lines = [{"task_id": "aa", "reasoning": reasoning}, LEGACY_METADATA]
    path = _write(tmp_path / "old.jsonl", b"".join(orjson.dumps(line) + b"\n" for line in lines))

    out, store = merge(str(path))

    assert [t["text"] for t in store["aa"]] == ["Count cells."]
    assert _count(out, "errors skipped") == len(reasoning) - 1


# ---- pure planning ----------------------------------------------------------------------------


def attempt(**changes: Any) -> Attempt:
    base: dict[str, Any] = {
        "task_id": "t1",
        "version": None,
        "reasoning": "Because.",
        "record_id": "rec-1",
        "run_id": "run",
        "model": "m",
        "command": "traces",
        "correct": None,
        "failed": False,
        "finished_at": None,
    }
    return Attempt(**{**base, **changes})


def test_plan_counts_each_reason_once() -> None:
    plan = plan_traces(
        [
            attempt(),
            attempt(record_id="r2", failed=True, reasoning=""),
            attempt(record_id="r3", reasoning="\n "),
            attempt(record_id="r4", correct=False),
        ],
        only_correct=True,
        now=5.0,
    )
    assert (len(plan.traces), plan.errors, plan.empty, plan.not_correct) == (0, 1, 1, 2)


def test_trace_ids_follow_record_ids() -> None:
    one = plan_traces([attempt()], only_correct=False, now=1.0).traces[0]
    again = plan_traces([attempt()], only_correct=False, now=2.0).traces[0]
    other = plan_traces([attempt(record_id="rec-2")], only_correct=False, now=1.0).traces[0]
    assert one.trace_id == again.trace_id != other.trace_id
    assert one.trace_id.startswith("t1_")
    assert (one.timestamp, again.timestamp) == (1.0, 2.0)


@pytest.mark.parametrize(
    ("correct", "expected"),
    [(True, True), (False, False), (None, False), ([True, True], True), ([True, None], True),
     ([None], False), ([], False), ([True, False], False)],
)  # fmt: skip
def test_is_correct(correct: Any, expected: bool) -> None:
    assert is_correct(correct) is expected


def test_reasoning_text_joins_lists() -> None:
    assert reasoning_text(["a", ["b", {"content": "c"}], {"x": 1}]) == 'a\n\nb\n\nc\n\n{"x":1}'
    assert reasoning_text("  padded\n") == "padded"
    assert reasoning_text(None) == ""
