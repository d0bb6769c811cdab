"""`arcbench export` end to end: real runs against the fake server, the real CLI, the real store
and the real sandbox (every exported program is run again on its task)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest

from arcbench.datasets import load_dataset
from arcbench.export import ROW_MODELS, RowFormat
from arcbench.programs import extract_program
from arcbench.prompts import codegen_prompt, traces_reply
from arcbench.sandbox import SyncSandbox
from arcbench.store import Store
from arcbench.tasks import Task
from arcbench.transforms import apply_transforms, parse_chain
from conftest import cli_env, run_cli
from fakeserver import FakeServer, ViewResponder, reply
from sandboxing import full_isolation  # noqa: F401  (a fixture)
from taskdata import TASK_A, write_json

FAST = {
    "ARCBENCH_RETRY_WAIT_INITIAL": "0",
    "ARCBENCH_RETRY_WAIT_MAX": "0",
    "ARCBENCH_RETRY_WAIT_JITTER": "0",
}

FLIP: dict[str, Any] = {
    "train": [
        {"input": [[1, 0], [2, 0]], "output": [[0, 1], [0, 2]]},
        {"input": [[3, 3, 0]], "output": [[0, 3, 3]]},
    ],
    "test": [{"input": [[4, 0, 5]], "output": [[5, 0, 4]]}],
}
ROT180: dict[str, Any] = {
    "train": [
        {"input": [[1, 2, 3], [4, 5, 6]], "output": [[6, 5, 4], [3, 2, 1]]},
        {"input": [[1, 2], [3, 4], [5, 6]], "output": [[6, 5], [4, 3], [2, 1]]},
    ],
    "test": [{"input": [[7, 8], [9, 1], [2, 3]], "output": [[3, 2], [1, 9], [8, 7]]}],
}

MIRROR = (
    "Each row is mirrored.\n"
    "```python\ndef transform(grid):\n    return [row[::-1] for row in grid]\n```"
)
IDENTITY = "Nothing changes.\n```python\ndef transform(grid):\n    return grid\n```"
ROT180_BY_RECURSION = """The grid is turned half way round.
```python
def transform(grid):
    if len(grid) > len(grid[0]):  # work on tall grids in landscape orientation
        turned = transform([list(row) for row in zip(*grid)])
        return [list(row) for row in zip(*turned)]
    return [row[::-1] for row in grid[::-1]]
```"""
"""Right on every grid, but it turns tall grids by calling `transform` again: in a copy for a
task seen through a quarter turn or a diagonal, that call re-enters the copy's own frame change
and never ends. Half turns and mirrors keep grids tall or wide, so their copies hold."""


def _run(server: FakeServer, command: str, *args: str) -> None:
    base = ("--model", "LOCAL_0", "--base-url", server.url, "-j", "1")
    result = run_cli(command, *base, *args, env=cli_env(**FAST), timeout=300)
    assert result.returncode == 0, result.stderr


def _export(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("export", *args, env=cli_env(**FAST), timeout=600)


def _summary(*args: str) -> dict[str, Any]:
    result = _export(*args, "--json")
    assert result.returncode == 0, result.stderr
    return dict(orjson.loads(result.stdout))


def _rows(path: Path, layout: RowFormat = "chat") -> list[dict[str, Any]]:
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    for row in rows:
        ROW_MODELS[layout].model_validate(row)  # every line is a valid row of its layout
    return rows


def _records(run: str) -> list[dict[str, Any]]:
    return [
        orjson.loads(line) for line in Path(f"runs/{run}/results.jsonl").read_bytes().splitlines()
    ]


def _fence(grid: list[list[int]]) -> str:
    return f"The rule moves the cell right.\n```json\n{orjson.dumps(grid).decode()}\n```"


def _right_and_wrong(server: FakeServer, tmp_path: Path) -> Path:
    """A traces run `t` over TASK_A (the dataset returned): its first attempt right, its second
    wrong."""
    dataset = write_json(tmp_path / "a.json", {"aaa": TASK_A})
    server.enqueue(reply(_fence([[0, 3], [0, 0]])), reply(_fence([[3, 0], [0, 0]])))
    _run(server, "traces", "-d", str(dataset), "--run-name", "t")
    return dataset


def _always_right(server: FakeServer, tmp_path: Path, *names: str) -> None:
    """Traces runs of these names over TASK_A, every attempt right with the same reply."""
    dataset = write_json(tmp_path / "a.json", {"aaa": TASK_A})
    server.reply_text = _fence([[0, 3], [0, 0]])
    for name in names:
        _run(server, "traces", "-d", str(dataset), "--run-name", name)


@pytest.fixture
def programs(fake_server: FakeServer, tmp_path: Path) -> Path:
    """A codegen run over two tasks, two programs each: one right, one wrong."""
    dataset = write_json(tmp_path / "programs.json", {"a-flip": FLIP, "b-rot180": ROT180})
    fake_server.enqueue(reply(MIRROR), reply(IDENTITY), reply(ROT180_BY_RECURSION), reply(IDENTITY))
    _run(fake_server, "codegen", "-d", str(dataset), "--run-name", "c")
    return dataset


def test_a_traces_run_exports_only_its_right_attempts(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    _right_and_wrong(fake_server, tmp_path)
    right, wrong = _records("t")
    assert (right["correct"], wrong["correct"]) == (True, False)

    summary = _summary("runs/t", "--out", "t.jsonl")
    [row] = _rows(Path("t.jsonl"))
    system, user, assistant = row["messages"]
    assert [system["role"], user["role"], assistant["role"]] == ["system", "user", "assistant"]
    assert user["content"] == right["messages"][0]["content"]  # the prompt the model was sent
    assert assistant["content"] == (
        "The rule moves the cell right.\n\n```json\n[[0,3],\n [0,0]]\n```"
    )
    meta = row["metadata"]
    assert (meta["source"], meta["kind"], meta["task_id"], meta["test_index"]) == (
        "run",
        "traces",
        "aaa",
        0,
    )
    assert (meta["verified"], meta["verified_by"], meta["record_id"]) == (
        True,
        "answer",
        right["record_id"],
    )
    [counts] = summary["sources"]
    assert (counts["verified"], counts["not_verified"], counts["written"]) == (1, 1, 1)

    _summary("runs/t", "--out", "all.jsonl", "--include-unverified")
    rows = _rows(Path("all.jsonl"))
    assert [r["metadata"]["verified"] for r in rows] == [True, False]
    assert rows[1]["metadata"]["verified_by"] is None
    assert rows[1]["messages"][2]["content"].endswith("[[3,0],\n [0,0]]\n```")


@pytest.mark.usefixtures("full_isolation")
def test_exported_programs_and_their_checked_copies_solve_their_tasks(programs: Path) -> None:
    summary = _summary("runs/c", "--augment", "d8,colors:2", "--out", "p.jsonl")
    rows = _rows(Path("p.jsonl"))
    [counts] = summary["sources"]
    assert (counts["verified"], counts["not_verified"], counts["written"]) == (2, 2, 2)
    # The recursive program's copies for quarter turns and diagonals fail their check; those
    # for the half turn, the two mirrors and the colour maps hold; every copy of the plain
    # mirror holds.
    assert counts["failed_checks"] == 4
    assert counts["augmented"] + counts["unchanged"] == 2 * (7 + 2) - 4
    assert len(rows) == 2 + counts["augmented"]
    copies = [
        tuple(r["metadata"]["augmented"])
        for r in rows
        if r["metadata"]["task_id"] == "b-rot180" and r["metadata"]["augmented"]
    ]
    assert {chain for chain in copies if not chain[0].startswith("color:")} == {
        ("rot180",),
        ("flip_h",),
        ("flip_v",),
    }
    assert len(copies) == 3 + 2

    tasks = {task.id: task for task in load_dataset(str(programs)).tasks}
    with SyncSandbox("full") as sandbox:
        for row in rows:
            meta = row["metadata"]
            assert (meta["kind"], meta["verified"], meta["verified_by"]) == (
                "codegen",
                True,
                "sandbox",
            )
            task = tasks[meta["task_id"]]
            if meta["augmented"]:
                chain = [t for spec in meta["augmented"] for t in parse_chain(spec)]
                task = apply_transforms(task, chain)
                assert row["messages"][1]["content"].count("[[") == len(task.train) * 2 + 1
            code = extract_program(row["messages"][2]["content"]).code
            assert code is not None
            _assert_solves(sandbox, code, task)


def _assert_solves(sandbox: SyncSandbox, code: str, task: Task) -> None:
    inputs = [pair.input for pair in task.train] + [test.input for test in task.test]
    expected = [pair.output for pair in task.train] + [test.output for test in task.test]
    outcomes = sandbox.check(code, inputs)
    assert [o.grid for o in outcomes] == expected, code


def test_store_traces_need_their_task_and_enough_votes(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    dataset = _right_and_wrong(fake_server, tmp_path)
    assert run_cli("merge", "runs/t", "--store", "s.db").returncode == 0
    bundled = load_dataset("arc-agi-1/training").tasks[:2]
    with Store(Path("s.db")) as store:
        liked = store.traces.add_trace(bundled[0].id, "alice", "Fill the enclosed cells.")
        store.traces.vote(liked.trace_id, "bob", 1)
        disliked = store.traces.add_trace(bundled[1].id, "alice", "Something vague.")
        store.traces.vote(disliked.trace_id, "bob", -1)
        store.traces.add_trace("nosuchtask", "alice", "A task nobody has.")

    where = ("-d", str(dataset), "-d", "arc-agi-1/training")
    result = _export("--store-file", "s.db", *where, "-o", "s.jsonl")
    assert result.returncode == 0, result.stderr
    rows = _rows(Path("s.jsonl"))
    by_task = {(r["metadata"]["task_id"], r["metadata"]["author"]) for r in rows}
    # The right merged attempt and the liked trace, one row per answered test input; not the
    # wrong attempt, the disliked trace, or the trace whose task is nowhere.
    assert by_task == {("aaa", "fake-model"), (bundled[0].id, "alice")}
    assert len(rows) == 1 + len(bundled[0].test)
    human = next(r for r in rows if r["metadata"]["author"] == "alice")
    assert (human["metadata"]["verified_by"], human["metadata"]["score"]) == ("author", 1)
    answer = bundled[0].test[0].output
    assert answer is not None
    assert human["messages"][2]["content"].endswith(
        orjson.dumps(answer).decode().replace("],[", "],\n [") + "\n```"
    )
    assert "tasks not found (nosuchtask)" in result.stderr
    assert "--dataset" in result.stderr

    strict = _summary("--store-file", "s.db", *where, "--min-score", "1", "-o", "m.jsonl")
    assert {r["metadata"]["author"] for r in _rows(Path("m.jsonl"))} == {"alice"}
    assert strict["sources"][0]["below_score"] == 4  # the merged two, disliked, nowhere


def test_split_by_task_keeps_every_task_on_one_side(tmp_path: Path) -> None:
    tasks = load_dataset("arc-agi-1/training").tasks[:10]
    with Store(Path("s.db")) as store:
        for task in tasks:
            for author in ("alice", "bob"):
                store.traces.add_trace(task.id, author, f"{author} explains {task.id}.")

    summary = _summary("--store-file", "s.db", "--split-by-task", "0.3", "-o", "split")
    train = _rows(Path("split/train.jsonl"))
    val = _rows(Path("split/val.jsonl"))
    train_tasks = {r["metadata"]["task_id"] for r in train}
    val_tasks = {r["metadata"]["task_id"] for r in val}
    assert not train_tasks & val_tasks
    assert train_tasks | val_tasks == {task.id for task in tasks}
    assert len(val_tasks) == 3
    assert [f["rows"] for f in summary["files"]] == [len(train), len(val)]
    assert not [p for p in Path("split").iterdir() if p.name.startswith(".")]

    again = _summary("--store-file", "s.db", "--split-by-task", "0.3", "-o", "again")
    assert Path("again/val.jsonl").read_bytes() == Path("split/val.jsonl").read_bytes()
    assert again["rows"] == summary["rows"]
    other = _summary("--store-file", "s.db", "--split-by-task", "0.3", "--seed", "1", "-o", "other")
    assert other["rows"] == summary["rows"]


def test_duplicates_are_written_once_in_either_layout(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    _always_right(fake_server, tmp_path, "one", "two")

    summary = _summary("runs/one", "runs/two", "--format", "sharegpt", "-o", "d.jsonl")
    [row] = _rows(Path("d.jsonl"), "sharegpt")
    assert [turn["from"] for turn in row["conversations"]] == ["system", "human", "gpt"]
    assert [s["duplicates"] for s in summary["sources"]] == [1, 2]
    assert summary["rows"] == 1

    _summary("runs/one", "--no-system", "-o", "bare.jsonl")
    assert [m["role"] for m in _rows(Path("bare.jsonl"))[0]["messages"]] == ["user", "assistant"]


def test_a_failed_export_leaves_the_output_as_it_was(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    _always_right(fake_server, tmp_path, "one")
    Path("out.jsonl").write_text("earlier export\n")
    result = _export("runs/one", "runs/nothing-here", "-o", "out.jsonl")
    assert result.returncode == 2
    assert result.stderr.startswith("arcbench: error: runs/nothing-here")
    assert "Traceback" not in result.stderr
    assert Path("out.jsonl").read_text() == "earlier export\n"
    assert sorted(p.name for p in Path().iterdir() if p.name.startswith(".out")) == []

    results = Path("runs/one/results.jsonl")
    before = results.read_bytes()
    onto_itself = _export("runs/one", "-o", str(results))
    assert onto_itself.returncode == 2
    assert "which this export reads: choose another file" in onto_itself.stderr
    assert results.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-o", "x.jsonl"), "nothing to export"),
        (("--store-file", "missing.db", "-o", "x.jsonl"), "missing.db"),
        (("--store", "-o", "x.jsonl", "--split-by-task", "1.5"), "--split-by-task 1.5"),
        (("--store", "-o", "x.jsonl", "--augment", "reorder:1,0"), "moves pairs"),
        (("--store", "-o", "x.jsonl", "--augment", "colors:none"), "colors:3"),
        (("--store", "-o", "x.jsonl", "--format", "xml"), "--format xml"),
    ],
)
def test_bad_requests_get_one_clear_line(args: tuple[str, ...], message: str) -> None:
    result = _export(*args)
    assert result.returncode == 2, result.stdout
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not Path("x.jsonl").exists()


def test_the_output_never_replaces_a_file_the_export_reads_or_a_run_holds(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    _always_right(fake_server, tmp_path, "one", "two")
    Path("linked.jsonl").hardlink_to("runs/one/results.jsonl")
    Path("split").mkdir()
    Path("split/train.jsonl").write_bytes(Path("runs/one/results.jsonl").read_bytes())
    files = [*Path("runs").rglob("*"), Path("linked.jsonl"), Path("split/train.jsonl")]
    before = {path: path.read_bytes() for path in files if path.is_file()}
    for args, what in [
        (("runs/one", "-o", "runs/one/run.json"), "which this export reads"),
        (("runs/one", "-o", "linked.jsonl"), "which this export reads"),  # a hard link
        (("runs/one", "-o", "runs/two/results.jsonl"), "a file of the run in runs/two"),
        (("split/train.jsonl", "--split-by-task", "0.5", "-o", "split"), "this export reads"),
    ]:
        result = _export(*args)
        assert result.returncode == 2, args
        assert result.stderr.startswith("arcbench: error: --out ")
        assert what in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert {path: path.read_bytes() for path in before} == before


def test_rows_go_straight_through_a_pipe_and_the_summary_to_stderr(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    _right_and_wrong(fake_server, tmp_path)
    stdout = Path("/dev/stdout")
    was_link = stdout.is_symlink()
    result = _export("runs/t", "-o", "/dev/stdout")  # stdout is the pipe run_cli reads
    assert result.returncode == 0, result.stderr
    [row] = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert row["metadata"]["verified"] is True
    assert "wrote 1 rows of 1 tasks to /dev/stdout" in result.stderr
    assert stdout.is_symlink() == was_link  # never renamed over

    both = _export("runs/t", "-o", "/dev/stdout", "--json")
    assert both.returncode == 2
    assert "--json and --out /dev/stdout would both write to stdout" in both.stderr


def test_a_split_never_renames_over_a_pipe_in_its_directory(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    """`train.jsonl` and `val.jsonl` are replaced by a rename (`atomic.replacing`), which
    refuses a pipe or device where they would go: the FIFO stays a FIFO, and the user gets one
    line naming it."""
    _right_and_wrong(fake_server, tmp_path)
    Path("split").mkdir()
    os.mkfifo("split/val.jsonl")
    result = _export("runs/t", "--split-by-task", "0.5", "-o", "split")
    assert result.returncode != 0
    assert "split/val.jsonl" in result.stderr
    assert "a device or a pipe" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert stat.S_ISFIFO(Path("split/val.jsonl").lstat().st_mode)
    assert not Path("split/train.jsonl").exists()


def test_a_record_that_claims_a_wrong_grid_was_right_is_not_taken_at_its_word(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    _right_and_wrong(fake_server, tmp_path)
    results = Path("runs/t/results.jsonl")
    records = _records("t")
    for record in records:
        record["correct"] = True  # edited by hand: the wrong grid says it was right
    results.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))

    summary = _summary("runs/t", "-o", "t.jsonl")
    [counts] = summary["sources"]
    assert (counts["written"], counts["contradicted"], counts["not_verified"]) == (1, 1, 1)
    [row] = _rows(Path("t.jsonl"))
    assert row["messages"][2]["content"].endswith("[[0,3],\n [0,0]]\n```")

    Path("rows").mkdir()
    Path("rows/results.jsonl").write_bytes(Path("t.jsonl").read_bytes())  # not a results file
    wrong_file = _export("rows", "-o", "x.jsonl")
    assert wrong_file.returncode == 2
    assert wrong_file.stderr.startswith("arcbench: error: rows/results.jsonl, line 1: not a valid")


@pytest.mark.usefixtures("full_isolation")
def test_with_augmented_copies_a_program_said_right_is_checked_again(programs: Path) -> None:
    results = Path("runs/c/results.jsonl")
    records = _records("c")
    for record in records:  # edited by hand: the identity programs now say they solved all
        record["train_results"] = [{"status": "correct"} for _ in record["train_results"]]
        record["correct"] = [True for _ in record["correct"]]
    results.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))

    summary = _summary("runs/c", "--augment", "flip_h", "-o", "p.jsonl")
    [counts] = summary["sources"]
    assert (counts["rechecked"], counts["contradicted"], counts["written"]) == (4, 2, 2)
    assert (counts["verified"], counts["not_verified"]) == (2, 2)
    rows = _rows(Path("p.jsonl"))
    identity = extract_program(IDENTITY).code
    assert identity is not None
    for row in rows:  # neither the identity programs nor their copies
        assert not (extract_program(row["messages"][2]["content"]).code or "").startswith(identity)


def test_a_view_of_an_augmented_run_is_exported_in_that_view(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    """A traces run with `--augment rot90` asked TASK_A as it is and turned a quarter: each
    right attempt is a row of the task as its view showed it, the view's prompt with the view's
    grid, verified there (not contradicted by the task's own frame) and named by `view`."""
    dataset = write_json(tmp_path / "a.json", {"aaa": TASK_A})
    fake_server.responder = ViewResponder({"aaa": TASK_A}, "rot90", lambda task, view: True)
    _run(fake_server, "traces", "-d", str(dataset), "--augment", "rot90", "--run-name", "v")
    summary = _summary("runs/v", "-o", "v.jsonl")
    [counts] = summary["sources"]
    assert (counts["verified"], counts["contradicted"], counts["written"]) == (4, 0, 2)
    rows = {str(row["metadata"]["view"]): row for row in _rows(Path("v.jsonl"))}
    assert set(rows) == {"None", "['rot90']"}
    records = {"+".join(r["view"]): r for r in _records("v") if r["attempt"] == 1}
    turned = records["rot90"]
    assert rows["['rot90']"]["messages"][1]["content"] == turned["messages"][0]["content"]
    reply_text = traces_reply(turned["reasoning"], turned["prediction"])
    assert rows["['rot90']"]["messages"][2]["content"] == reply_text
    assert turned["prediction"] != TASK_A["test"][0]["output"]  # the grid of the turned task


UPSIDE_DOWN = (
    "The rows go in reverse order.\n"
    "```python\ndef transform(grid):\n    return [list(row) for row in grid[::-1]]\n```"
)


@pytest.mark.usefixtures("full_isolation")
def test_a_program_of_a_view_is_checked_and_augmented_on_the_task_as_its_view_shows_it(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    """A codegen run with `--augment rot90` over FLIP (mirror each row), where the model always
    turns grids upside down: wrong on the task as it is, right on it turned a quarter (there
    the rule is the upside-down one). The view's program is checked again on the turned task,
    where it holds, and its copies are made of the turned task; every row solves the task its
    prompt shows."""
    dataset = write_json(tmp_path / "flip.json", {"a-flip": FLIP})
    fake_server.reply_text = UPSIDE_DOWN
    args = ("-d", str(dataset), "--augment", "rot90", "--rounds", "0", "--run-name", "cv")
    _run(fake_server, "codegen", *args)
    summary = _summary("runs/cv", "--augment", "flip_h,rot180", "-o", "p.jsonl")
    [counts] = summary["sources"]
    assert (counts["verified"], counts["not_verified"], counts["duplicates"]) == (2, 2, 1)
    assert (counts["rechecked"], counts["contradicted"], counts["failed_checks"]) == (1, 0, 0)
    rows = _rows(Path("p.jsonl"))
    assert [row["metadata"]["view"] for row in rows] == [["rot90"]] * 3
    assert [row["metadata"]["augmented"] for row in rows] == [None, ["flip_h"], ["rot180"]]
    [task] = load_dataset(str(dataset)).tasks
    with SyncSandbox("full") as sandbox:
        for row in rows:
            meta = row["metadata"]
            chain = parse_chain("+".join(meta["view"] + (meta["augmented"] or [])))
            shown = apply_transforms(task, chain)
            assert codegen_prompt(shown) == row["messages"][1]["content"]
            code = extract_program(row["messages"][2]["content"]).code
            assert code is not None
            _assert_solves(sandbox, code, shown)
