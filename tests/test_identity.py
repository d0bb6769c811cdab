"""A task is `(task_id, version)` everywhere: loading, records, selection, reports, submissions.

Through the real CLI: ids that would be confused with `ID@VERSION` or with another task are
refused with one line; an original and its versions run, score and submit as distinct tasks.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from conftest import read_records, run_cli, traces_args
from fakeserver import FakeServer, Recorded
from taskdata import TASK_A, TASK_B, write_json


@pytest.mark.parametrize(
    ("files", "spec", "why"),
    [
        ({"b.json": {"train": {"x": TASK_A}, "eval": {"x": TASK_B}}}, "b.json", "in both the"),
        ({"d/abc@1.json": TASK_A, "d/abc.json": TASK_B}, "d", "rename the file"),
        ({"abc@1.json": TASK_A}, "abc@1.json", "rename the file"),
        ({"k.json": {"t@2": TASK_A, "t": TASK_B}}, "k.json", "the key 't@2' cannot be a task id"),
        (
            {"v.json": [{"task_id": "a", "version": 1, **TASK_A}] * 2},
            "v.json",
            "task a@1 appears twice",
        ),
    ],
)
def test_ambiguous_identities_are_refused_by_every_command(
    tmp_path: Path, files: dict[str, object], spec: str, why: str
) -> None:
    for name, data in files.items():
        write_json(tmp_path / name, data)
    for args in (
        ("tasks", "list", "-d", str(tmp_path / spec)),
        ("traces", "--model", "LOCAL_0", "-d", str(tmp_path / spec)),
        ("tasks", "augment", "-d", str(tmp_path / spec), "--out", str(tmp_path / "out.json")),
    ):
        result = run_cli(*args)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1
        assert lines[0].startswith("arcbench: error: ")
        assert why in lines[0]
    assert not Path("runs").exists()
    assert not (tmp_path / "out.json").exists()


def test_an_original_and_its_versions_are_distinct_everywhere(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    """Three tasks share the id `a`; the model solves only version 1. Records, scores and the
    submission keep them apart."""
    entries = [
        {"task_id": "a", "version": None, **TASK_A},
        {"task_id": "a", "version": 1, **TASK_B},
        {"task_id": "a", "version": 2, **TASK_A},
    ]
    dataset = write_json(tmp_path / "dataset.json", entries)

    def solver(request: Recorded) -> str:
        if "[[6]]" in request.last_user_message.split("Test input:")[1]:
            return "```json\n[[6, 6]]\n```"  # task B's first test output
        return "```json\n[[0]]\n```"

    fake_server.responder = solver
    args = traces_args(fake_server.url, "-d", str(dataset), "--task-ids", "a@1,a")
    result = run_cli(*args, "--run-name", "versions")
    assert result.returncode == 0, result.stderr
    records = read_records(Path("runs/versions"))
    assert sorted({(r["task_id"], r["version"]) for r in records}, key=str) == [
        ("a", 1),
        ("a", 2),
        ("a", None),
    ]
    assert len({r["record_id"] for r in records}) == len(records) == 2 * (1 + 2 + 1)
    report = run_cli("report", "runs/versions", "--json", "--submission", "sub.json")
    assert report.returncode == 0, report.stderr
    scores = {
        (t["task_id"], t["version"]): t["score"] for t in orjson.loads(report.stdout)["task_scores"]
    }
    assert scores == {("a", None): 0.0, ("a", 1): 0.5, ("a", 2): 0.0}
    submission = orjson.loads(Path("sub.json").read_bytes())
    assert sorted(submission) == ["a", "a@1", "a@2"]
    assert [len(submission[k]) for k in ("a", "a@1", "a@2")] == [1, 2, 1]


def test_a_submission_never_merges_two_tasks(tmp_path: Path) -> None:
    """Records from before such ids were refused: a task `x@1` beside version 1 of `x`."""
    run = tmp_path / "old"
    run.mkdir()
    base = {
        "run_id": "r",
        "attempt": 1,
        "round": 0,
        "test_index": 0,
        "error": None,
        "finished_at": "2026-01-01T00:00:00+00:00",
    }
    records = [
        {**base, "record_id": "1", "task_id": "x@1", "version": None, "prediction": [[1]]},
        {**base, "record_id": "2", "task_id": "x", "version": 1, "prediction": [[2]]},
    ]
    (run / "results.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    result = run_cli("report", str(run), "--submission", "sub.json")
    assert result.returncode == 2
    assert "two tasks would both be 'x@1' in the submission" in result.stderr
    assert not Path("sub.json").exists()


@pytest.mark.parametrize("value", ["", " ", ",", ",,", " , "])
def test_a_task_id_list_that_names_nothing_is_refused(value: str) -> None:
    result = run_cli("tasks", "list", "--task-ids", value)
    assert result.returncode == 2
    assert result.stderr.startswith("arcbench: error: ")
    assert "Traceback" not in result.stderr


def test_a_partial_solutions_file_warns_on_stderr(tmp_path: Path) -> None:
    task = {"train": TASK_A["train"], "test": [{"input": [[1]]}]}
    write_json(tmp_path / "p_challenges.json", {"a": task, "b": task})
    write_json(tmp_path / "p_solutions.json", {"a": [[[1]]], "zz": [[[2]]]})
    result = run_cli("tasks", "list", "-d", str(tmp_path / "p_challenges.json"), "--json")
    assert result.returncode == 0, result.stderr
    assert [t["id"] for t in orjson.loads(result.stdout)] == ["a", "b"]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("arcbench: warning: ")
    assert "no solutions for 1 task (b)" in lines[0]
    assert "solutions for 1 task (zz)" in lines[1]
