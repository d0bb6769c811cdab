"""The index of run directories a viewer reads: the same scores as `arcbench report`, growing
runs read incrementally, and a hostile runs directory (torn and huge lines, bytes that are not
UTF-8, symlinks and FIFOs, odd names) from which nothing outside it is ever read."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

from arcbench.runindex import RunsIndex
from conftest import run_cli
from rundata import manifest, record, write_run

MAIN_RUNS = Path(__file__).parent / "data" / "main-runs"
SECRET = "TOP-SECRET-OUTSIDE-THE-RUNS-DIRECTORY"


def copy_run(name: str, runs: Path, as_name: str | None = None) -> Path:
    target = runs / (as_name or name)
    shutil.copytree(MAIN_RUNS / name, target)
    return target


def report_json(run: Path) -> dict[str, Any]:
    result = run_cli("report", str(run), "--json")
    assert result.returncode == 0, result.stderr
    return dict(orjson.loads(result.stdout))


@pytest.mark.parametrize("name", ["traces-main", "codegen-main", "baseline-main"])
def test_totals_are_what_arcbench_report_gives(tmp_path: Path, name: str) -> None:
    run = copy_run(name, tmp_path / "runs")
    totals = RunsIndex(tmp_path / "runs").run(name).info().totals  # type: ignore[union-attr]
    reported = report_json(run)
    assert totals.score == pytest.approx(reported["score"])
    assert totals.per_output == pytest.approx(reported["per_output"])
    assert totals.all_or_nothing == pytest.approx(reported["all_or_nothing"])
    assert totals.pass_at_k == pytest.approx(reported["pass_at_k"])
    assert totals.tasks_solved == reported["tasks_solved"]
    assert totals.tasks == reported["counts"]["tasks"]
    assert totals.outputs_solved == reported["counts"]["outputs_solved"]
    assert totals.records == reported["counts"]["records"]
    assert totals.errors == reported["counts"]["errors"]
    assert totals.parse_errors == reported["counts"]["parse_errors"]
    assert totals.overfit_programs == reported["overfit_programs"]
    assert totals.prompt_tokens == reported["usage"]["prompt_tokens"]
    assert totals.cost_usd == pytest.approx(reported["cost_usd"])


def test_the_submitted_attempts_are_those_of_the_submission(tmp_path: Path) -> None:
    run = copy_run("codegen-main", tmp_path / "runs")
    submission = tmp_path / "submission.json"
    assert run_cli("report", str(run), "--submission", str(submission)).returncode == 0
    expected = orjson.loads(submission.read_bytes())
    state = RunsIndex(tmp_path / "runs").run("codegen-main")
    assert state is not None
    for label, entries in expected.items():
        view = state.task((label, None), lambda manifest: ({}, "no grids in this test"))
        assert view is not None
        for index, entry in enumerate(entries):
            submitted = view.tests[index].submitted
            for number in (1, 2):
                grid = submitted[number - 1].prediction
                assert (grid or [[0]]) == entry[f"attempt_{number}"]


def test_a_growing_run_is_read_as_it_grows_and_only_its_new_lines(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    first = [record("r", "t1", attempt=1, correct=False), record("r", "t1", attempt=2)]
    run = write_run(runs / "live", first, status="running")
    manifest_data = orjson.loads((run / "run.json").read_bytes())
    manifest_data["dataset"]["task_ids"] = ["t1", "t2"]
    manifest_data["dataset"]["test_inputs"] = {"t1": 1, "t2": 1}
    (run / "run.json").write_bytes(orjson.dumps(manifest_data))
    index = RunsIndex(runs)
    state = index.run("live")
    assert state is not None
    info = state.info()
    assert (info.status, info.totals.records, info.totals.tasks_solved) == ("running", 2, 0)
    assert [t.status for t in state.outcomes()] == ["unsolved", "pending"]
    before = index.counter()

    # Overwrite the first line in place (same size): a re-read from the start would see it.
    results = run / "results.jsonl"
    content = results.read_bytes()
    first_line = content.index(b"\n")
    with results.open("r+b") as handle:
        handle.write(b" " * first_line)
        handle.seek(0, os.SEEK_END)
        handle.write(orjson.dumps(record("r", "t2", attempt=1, correct=True)) + b"\n")
    assert index.counter() != before
    state = index.run("live")
    assert state is not None
    assert state.info().totals.records == 3
    assert state.info().totals.tasks_solved == 1
    assert [t.status for t in state.outcomes()] == ["unsolved", "solved"]

    # Once something makes the index read an earlier line again (a changed manifest re-scores
    # every task), the edit is noticed and the file read afresh: the blanked line is gone.
    done = {**manifest_data, "status": "completed"}
    (run / "run.json").write_bytes(orjson.dumps(done))
    state = index.run("live")
    assert state is not None
    assert state.info().status == "completed"
    assert state.info().totals.records == 2
    assert [t.attempts for t in state.outcomes()] == [1, 1]


def test_a_retried_failure_is_superseded_and_both_are_billed(tmp_path: Path) -> None:
    failed = record("r", "t1", error="server down")
    failed["usage"] = {"prompt_tokens": 7, "completion_tokens": 0, "reasoning_tokens": 0}
    retried = record("r", "t1", correct=True)
    write_run(tmp_path / "runs" / "r", [failed, retried])
    info = RunsIndex(tmp_path / "runs").run("r").info()  # type: ignore[union-attr]
    assert (info.totals.records, info.totals.errors, info.totals.tasks_solved) == (1, 0, 1)
    assert info.totals.prompt_tokens == 107


def test_a_torn_last_line_waits_and_a_rewritten_file_is_read_again(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    whole = orjson.dumps(record("r", "t2", correct=True)) + b"\n"
    run = write_run(runs / "r", [record("r", "t1")], torn=whole[:50])
    index = RunsIndex(runs)
    assert index.run("r").info().totals.records == 1  # type: ignore[union-attr]
    with (run / "results.jsonl").open("ab") as handle:
        handle.write(whole[50:])
    assert index.run("r").info().totals.records == 2  # type: ignore[union-attr]
    write_run(runs / "r", [record("r", "t3")])  # rewritten: shorter
    state = index.run("r")
    assert state is not None
    assert state.info().totals.records == 1
    assert [t.label for t in state.outcomes()] == ["t3"]


def test_hostile_lines_are_skipped_and_named_as_the_runs_problem(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run = write_run(runs / "r", [record("r", "t1", correct=True)])
    with (run / "results.jsonl").open("ab") as handle:
        handle.write(b"\xff\xfe not json at all\n")
        handle.write(b'{"record_id": "x", "task_id": 12}\n')
        handle.write(b"[1, 2, 3]\n")
        handle.write(orjson.dumps(record("r", "t2", correct=True)) + b"\n")
    info = RunsIndex(runs).run("r").info()  # type: ignore[union-attr]
    assert info.totals.records == 2
    assert info.totals.tasks_solved == 2
    assert len(info.problems) == 1
    assert "3 line(s) skipped" in info.problems[0]
    assert "line 2" in info.problems[0]


def test_a_huge_record_is_skipped_without_stopping_the_run(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    huge = record("r", "t1", reasoning="x" * (33 * 1024 * 1024))
    write_run(runs / "r", [huge, record("r", "t2", correct=True)])
    info = RunsIndex(runs).run("r").info()  # type: ignore[union-attr]
    assert info.totals.records == 1
    assert "longer than" in info.problems[0]


def test_reasoning_in_any_script_and_escapes_is_kept(tmp_path: Path) -> None:
    text = "Étape 1 : <b>tourner</b> \\u0000 ✓ 右 😀 \u202e"
    write_run(tmp_path / "runs" / "r", [record("r", "t1", reasoning=text)])
    state = RunsIndex(tmp_path / "runs").run("r")
    assert state is not None
    view = state.task(("t1", None), lambda manifest: ({}, "none"))
    assert view is not None
    assert view.attempts[0].reasoning == text


def test_a_manifest_that_is_not_one_is_the_runs_problem(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run = write_run(runs / "r", [record("r", "t1")])
    (run / "run.json").write_bytes(b'{"run_id": 5, "status": "<script>"}')
    info = RunsIndex(runs).run("r").info()  # type: ignore[union-attr]
    assert info.status is None
    assert info.problems[0].startswith("run.json is not a run manifest")
    assert info.totals.records == 1  # its results still count
    (run / "run.json").write_bytes(b"\xff\xfe\x00")
    assert "not a run manifest" in RunsIndex(runs).run("r").info().problems[0]  # type: ignore[union-attr]


def test_numbers_of_test_inputs_no_task_has_are_skipped_not_allocated(tmp_path: Path) -> None:
    """A test_index of 10**9 once made every reader build a billion-entry score (the server
    was killed for its memory); such a record, or manifest, is the run's problem instead."""
    runs = tmp_path / "runs"
    run = write_run(runs / "r", [record("r", "t1", correct=True)])
    with (run / "results.jsonl").open("ab") as handle:
        for index in (10**9, 1000, -1):
            handle.write(orjson.dumps(record("r", "t2", test_index=index)) + b"\n")
    state = RunsIndex(runs).run("r")
    assert state is not None
    info = state.info()
    assert (info.totals.records, info.totals.tasks_solved) == (1, 1)
    assert "3 line(s) skipped" in info.problems[0]
    huge = manifest("r", {"t1": 10**9})
    (run / "run.json").write_bytes(orjson.dumps(huge))
    info = RunsIndex(runs).run("r").info()  # type: ignore[union-attr]
    assert info.problems[0].startswith("run.json is not a run manifest")
    assert info.totals.records == 1


# -- nothing outside the runs directory ------------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A valid run directory outside the runs directory, and a secret file beside it."""
    elsewhere = tmp_path / "elsewhere"
    secret = [record("s", "secret-task", reasoning=SECRET, correct=True)]
    write_run(elsewhere / "run", secret)
    (elsewhere / "secret.json").write_text(orjson.dumps(manifest("s", {"x": 1})).decode())
    return elsewhere


def test_a_symlinked_run_directory_is_not_listed(tmp_path: Path, outside: Path) -> None:
    runs = tmp_path / "runs"
    write_run(runs / "ok", [record("r", "t1")])
    (runs / "linked").symlink_to(outside / "run")
    index = RunsIndex(runs)
    assert index.names() == ["ok"]
    assert index.run("linked") is None
    assert list(index.attempts(("secret-task", None))) == []


def test_symlinked_files_in_a_run_are_not_followed(tmp_path: Path, outside: Path) -> None:
    runs = tmp_path / "runs"
    run = runs / "r"
    run.mkdir(parents=True)
    (run / "results.jsonl").symlink_to(outside / "run" / "results.jsonl")
    (run / "run.json").symlink_to(outside / "secret.json")
    state = RunsIndex(runs).run("r")
    assert state is not None
    info = state.info()
    assert info.totals.records == 0
    assert info.run_id is None
    assert any("symlink" in problem for problem in info.problems)
    assert SECRET not in info.model_dump_json()
    assert state.task(("secret-task", None), lambda m: ({}, None)) is None


def test_a_directory_swapped_for_a_symlink_after_listing_reads_nothing(
    tmp_path: Path, outside: Path
) -> None:
    runs = tmp_path / "runs"
    write_run(runs / "r", [record("r", "t1")])
    index = RunsIndex(runs)
    state = index._state(runs.resolve(), "r")  # listed while it was a directory
    shutil.rmtree(runs / "r")
    (runs / "r").symlink_to(outside / "run")
    state.refresh()
    assert state.info().totals.records == 0
    assert SECRET not in state.info().model_dump_json()


def test_a_fifo_in_place_of_a_file_does_not_hang(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run = runs / "r"
    run.mkdir(parents=True)
    os.mkfifo(run / "results.jsonl")
    os.mkfifo(run / "run.json")
    found: list[Any] = []
    reader = threading.Thread(target=lambda: found.append(RunsIndex(runs).run("r")))
    reader.start()
    reader.join(20)
    assert not reader.is_alive(), "reading a FIFO hung"
    info = found[0].info()
    assert info.totals.records == 0
    assert info.problems


def test_odd_names_are_not_runs(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    write_run(runs / "good-run_1.2", [record("r", "t1")])
    write_run(runs / ".hidden", [record("r", "t1")])
    write_run(runs / "with\tcontrol", [record("r", "t1")])
    os.mkdir(os.fsencode(runs) + b"/not-utf8-\xff\xfe")
    (runs / "a-file").write_text("not a directory")
    index = RunsIndex(runs)
    assert index.names() == ["good-run_1.2"]
    for name in ("..", ".", ".hidden", "a-file", "../runs", "with\tcontrol", "", "nope"):
        assert index.run(name) is None, name


def test_a_missing_runs_directory_is_an_empty_one(tmp_path: Path) -> None:
    index = RunsIndex(tmp_path / "no-such-dir")
    assert index.runs() == []
    assert index.run("anything") is None
    assert index.counter() == index.counter()


def test_a_run_removed_meanwhile_is_gone(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    write_run(runs / "r", [record("r", "t1")])
    index = RunsIndex(runs)
    assert [s.name for s in index.runs()] == ["r"]
    shutil.rmtree(runs / "r")
    assert index.runs() == []
    assert index.run("r") is None
