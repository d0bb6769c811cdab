"""Test-time augmentation end to end: `arcbench traces/codegen --augment` as a user runs them,
against the fake server (which answers per view), with real signals and the real sandbox."""

from __future__ import annotations

import os
import signal
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from arcbench.views import parse_augment, view_of
from conftest import cli_env, read_records, run_cli, start_cli, wait_for_lines
from fakeserver import FakeServer, Recorded, ViewResponder
from sandboxing import full_isolation  # noqa: F401  (a fixture)
from taskdata import write_json


def _task(test_input: list[list[int]]) -> dict[str, Any]:
    """A task whose rule is "mirror left-right", with an asymmetric test input, so that every
    view of it shows the model a test input of its own."""
    return {
        "train": [
            {"input": [[1, 0, 0], [0, 2, 0]], "output": [[0, 0, 1], [0, 2, 0]]},
            {"input": [[3, 3], [0, 4]], "output": [[3, 3], [4, 0]]},
        ],
        "test": [{"input": test_input, "output": [row[::-1] for row in test_input]}],
    }


LIFT = _task([[1, 2, 0], [0, 3, 0], [0, 0, 4]])
KEEP = _task([[5, 0, 6], [7, 0, 0], [0, 0, 8]])
ROTATIONS = {"rot90", "rot180", "rot270"}


def _env(**extra: str) -> dict[str, str]:
    return cli_env(
        ARCBENCH_RETRY_WAIT_INITIAL="0",
        ARCBENCH_RETRY_WAIT_MAX="0",
        ARCBENCH_RETRY_WAIT_JITTER="0",
        **extra,
    )


def _run(command: str, server: FakeServer, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(command, "--model", "LOCAL_0", "--base-url", server.url, *args, env=_env())


def _manifest(run: Path) -> dict[str, Any]:
    return dict(orjson.loads((run / "run.json").read_bytes()))


def _one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    """A refusal: one error line and nothing else, naming what is wrong."""
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("arcbench: error:")
    for needle in needles:
        assert needle in lines[-1]


def test_voting_lifts_the_score_over_the_identity_view(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    """The model solves KEEP in the identity and the rotated views, LIFT only in the rotated
    ones; every other view answers a wrong grid of its own. Alone the identity view solves
    half; the vote solves both."""
    tasks = {"keep": KEEP, "lift": LIFT}
    dataset = write_json(tmp_path / "tasks.json", tasks)

    def solves(task_id: str, view: str) -> bool:
        return view in ROTATIONS or (task_id == "keep" and view == "identity")

    fake_server.responder = ViewResponder(tasks, "d8", solves)
    result = _run("traces", fake_server, "-d", str(dataset), "--augment", "d8", "--run-name", "a")
    assert result.returncode == 0, result.stderr
    assert "plan: 2 tasks, 2 test inputs, 2 attempts each: 32 requests" in result.stderr
    assert "--augment d8: 8 views of every task, 8x" in result.stderr

    # Every view of every task was asked exactly twice (two attempts), nothing else.
    prompts = Counter(r.last_user_message for r in fake_server.chat_requests)
    assert len(prompts) == 2 * 8
    assert set(prompts.values()) == {2}

    run = Path("runs/a")
    records = read_records(run)
    assert len(records) == 32
    assert len({r["record_id"] for r in records}) == 32
    assert {r["run_id"] for r in records} == {_manifest(run)["run_id"]}
    views = Counter("+".join(r["view"]) for r in records)
    assert views == dict.fromkeys(parse_augment("d8").labels, 4)
    rot90 = next(r for r in records if r["view"] == ["rot90"] and r["task_id"] == "lift")
    assert rot90["prediction"] != rot90["mapped_prediction"]
    assert rot90["mapped_prediction"] == LIFT["test"][0]["output"]
    assert rot90["correct"] is True
    assert view_of(rot90["view"]).map_back(rot90["prediction"]) == rot90["mapped_prediction"]
    assert "[[0,0,1],\n [0,3,2],\n [4,0,0]]" in rot90["messages"][0]["content"]  # rot90'd

    manifest = _manifest(run)
    assert manifest["augmentation"] == {"spec": "d8", "views": parse_augment("d8").labels}
    score = manifest["score"]
    assert score["score"] == 1.0  # voted
    assert score["identity_view"] == 0.5
    assert score["best_view"] == 1.0
    assert score["best_view_name"] == "rot90"
    assert score["oracle"] == 1.0
    assert "identity view alone" in result.stdout
    assert "50.00%" in result.stdout

    report = orjson.loads(run_cli("report", str(run), "--json").stdout)
    assert report["score"] == 1.0
    assert report["augmentation"]["identity_view"] == 0.5
    assert report["augmentation"]["best_view"] == {"view": "rot90", "score": 1.0}
    assert report["augmentation"]["oracle"] == 1.0
    assert report["augmentation"]["views"]["flip_h"] == 0.0
    table = run_cli("report", str(run)).stdout
    assert run_cli("report", str(run), "--html", "report.html").returncode == 0
    page = Path("report.html").read_text()
    rule = "most votes; a tie to the model's own order"
    assert rule in report["augmentation"]["voting"]
    for row in ("voted", "identity view alone", "best single view (rot90)", "oracle", rule):
        assert row in table
        assert row in page.replace("&#x27;", "'")
    assert rule in result.stdout

    assert run_cli("report", str(run), "--submission", "sub.json").returncode == 0
    submission = orjson.loads(Path("sub.json").read_bytes())
    assert submission["lift"][0]["attempt_1"] == LIFT["test"][0]["output"]  # 6 votes
    assert submission["keep"][0]["attempt_1"] == KEEP["test"][0]["output"]  # 8 votes
    second = submission["lift"][0]["attempt_2"]
    assert second != LIFT["test"][0]["output"]
    assert second in [r["mapped_prediction"] for r in records if r["task_id"] == "lift"]


def test_voting_never_invents_a_right_answer(fake_server: FakeServer, tmp_path: Path) -> None:
    """Every view answers with a wrong grid of its own: nothing is solved, by any measure."""
    tasks = {"lift": LIFT, "keep": KEEP}
    dataset = write_json(tmp_path / "tasks.json", tasks)
    fake_server.responder = ViewResponder(tasks, "d8+colors:1", lambda task, view: False)
    args = ("-d", str(dataset), "--augment", "d8+colors:1", "--run-name", "w")
    result = _run("traces", fake_server, *args)
    assert result.returncode == 0, result.stderr
    records = read_records(Path("runs/w"))
    assert len(records) == 2 * 16 * 2
    wrong = {orjson.dumps(r["mapped_prediction"]) for r in records if r["task_id"] == "lift"}
    assert len(wrong) == 16  # every view its own wrong grid
    score = _manifest(Path("runs/w"))["score"]
    assert score["score"] == score["identity_view"] == score["best_view"] == 0.0
    assert score["oracle"] == 0.0


def _start(server: FakeServer, *args: str) -> subprocess.Popen[str]:
    return start_cli("traces", "--model", "LOCAL_0", "--base-url", server.url, *args, env=_env())


def test_kill_9_mid_run_then_resume_asks_no_view_twice(fake_server: FakeServer) -> None:
    """SIGKILL in the middle of an augmented run: the resume asks exactly what was not
    recorded (the requests in flight at the kill, and what was never asked), so no view of any
    test input is asked more often than its attempts, beyond what the kill lost."""
    fake_server.latency = 0.15
    args: tuple[str, ...] = ("-d", "arc-agi-1/training", "--max-tasks", "6", "-j", "2")
    args += ("--augment", "d8", "--views", "4", "--run-name", "k")
    planned = 6 * 4 * 2  # the first six tasks have one test input each
    proc = _start(fake_server, *args)
    results = Path("runs/k/results.jsonl")
    wait_for_lines(results, 10, timeout=120)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    before = read_records(Path("runs/k"))
    asked_before = len(fake_server.chat_requests)
    assert 10 <= len(before) < planned
    assert asked_before - len(before) <= 2  # at most the requests in flight were lost
    assert _manifest(Path("runs/k"))["status"] == "running"

    fake_server.latency = 0.0
    resumed = run_cli("traces", "--model", "LOCAL_0", "--base-url", fake_server.url, *args)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{planned - len(before)} of {planned} attempts to go" in resumed.stderr
    after = read_records(Path("runs/k"))
    assert len(after) == planned
    assert len({r["record_id"] for r in after}) == planned
    assert [r["record_id"] for r in after[: len(before)]] == [r["record_id"] for r in before]
    assert len(fake_server.chat_requests) - asked_before == planned - len(before)
    per_prompt = Counter(r.last_user_message for r in fake_server.chat_requests)
    lost = asked_before - len(before)
    assert sum(count - 2 for count in per_prompt.values() if count > 2) <= lost
    manifest = _manifest(Path("runs/k"))
    assert manifest["status"] == "completed"
    assert len(manifest["augmentation"]["views"]) == 4


def test_ctrl_c_mid_run_and_max_concurrent_work_as_without_augmentation(
    fake_server: FakeServer,
) -> None:
    """Ctrl+C in an augmented run: every request sent finishes and is written, run.json says
    interrupted, exit 130; the resume asks the rest once. `--max-concurrent 3` is what the server
    sees, across views, before and after."""
    fake_server.latency = 0.2
    args: tuple[str, ...] = ("-d", "arc-agi-1/training", "--max-tasks", "5", "-j", "3")
    args += ("--augment", "d8", "--views", "4", "--run-name", "int")
    planned = 5 * 4 * 2
    proc = _start(fake_server, *args)
    wait_for_lines(Path("runs/int/results.jsonl"), 6, timeout=120)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert _manifest(Path("runs/int"))["status"] == "interrupted"
    before = read_records(Path("runs/int"))
    assert len(before) == len(fake_server.chat_requests)  # nothing sent was lost
    assert 6 <= len(before) < planned
    assert fake_server.peak_in_flight == 3

    fake_server.peak_in_flight = 0
    resumed = run_cli("traces", "--model", "LOCAL_0", "--base-url", fake_server.url, *args)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{planned - len(before)} of {planned} attempts to go" in resumed.stderr
    assert len(fake_server.chat_requests) == planned  # nothing asked twice
    assert fake_server.peak_in_flight == 3
    after = read_records(Path("runs/int"))
    assert len({r["record_id"] for r in after}) == len(after) == planned
    assert Counter("+".join(r["view"]) for r in after) == dict.fromkeys(
        parse_augment("d8", 4).labels, 5 * 2
    )
    assert _manifest(Path("runs/int"))["status"] == "completed"


def test_a_run_resumes_only_with_the_same_augmentation(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    dataset = write_json(tmp_path / "tasks.json", {"lift": LIFT})
    first = _run("traces", fake_server, "-d", str(dataset), "--augment", "d8", "--views", "2")
    assert first.returncode == 0, first.stderr
    base = ("-d", str(dataset), "--run-name", "same")
    assert _run("traces", fake_server, *base, "--augment", "d8", "--views", "2").returncode == 0
    for different in (("--augment", "d8", "--views", "3"), ("--augment", "rot90"), ()):
        refused = _run("traces", fake_server, *base, *different)
        _one_line_error(
            refused,
            "runs/same",
            "different augmentation",
            "--augment d8, 2 views there",
        )
    asked = len(fake_server.chat_requests)
    assert _run("traces", fake_server, *base, "--augment", "d8", "--views", "2").returncode == 0
    assert len(fake_server.chat_requests) == asked  # all done already: nothing asked again


def test_shards_of_an_augmented_run_report_together_as_the_whole(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    tasks = {"keep": KEEP, "lift": LIFT}
    dataset = write_json(tmp_path / "tasks.json", tasks)
    fake_server.responder = ViewResponder(tasks, "d8", lambda task, view: view in ROTATIONS)
    base = ("-d", str(dataset), "--augment", "d8", "--views", "5")
    for name, shard in (("s1", ("--shard", "1/2")), ("s2", ("--shard", "2/2")), ("all", ())):
        result = _run("traces", fake_server, *base, *shard, "--run-name", name)
        assert result.returncode == 0, result.stderr
    together = orjson.loads(run_cli("report", "runs/s1", "runs/s2", "--json").stdout)
    whole = orjson.loads(run_cli("report", "runs/all", "--json").stdout)
    assert together["counts"]["tasks"] == whole["counts"]["tasks"] == 2
    assert together["augmentation"] == whole["augmentation"]
    assert together["score"] == whole["score"]


@pytest.mark.parametrize(
    ("flags", "needles"),
    [
        (("--augment", "rot91"), ("--augment rot91", "unknown transform 'rot91'")),
        (("--augment", "d8", "--views", "0"), ("--views", "greater than or equal to 1")),
        (("--augment", "d8", "--views", "9"), ("--views 9", "gives 8 views")),
        (("--views", "2"), ("--views 2 needs --augment",)),
        (("--augment", "swap:0,0"), ("swap:0,0", "cannot be mapped back")),
        (("--augment", "reorder:2,0,1"), ("reorders 3 train pairs, and task lift has 2",)),
        (("--augment", "colors:1000+colors:1000"), ("more than 10,000 views",)),
    ],
)
def test_bad_augmentation_input_is_one_clear_line_and_writes_nothing(
    fake_server: FakeServer, tmp_path: Path, flags: tuple[str, ...], needles: tuple[str, ...]
) -> None:
    dataset = write_json(tmp_path / "tasks.json", {"lift": LIFT})
    for command in ("traces", "codegen"):
        result = _run(command, fake_server, "-d", str(dataset), *flags)
        _one_line_error(result, *needles)
    assert not Path("runs").exists()
    assert fake_server.chat_requests == []


# -- codegen ---------------------------------------------------------------------------------

MIRROR = (
    "The rule mirrors each row.\n```python\ndef transform(grid):\n"
    "    try:\n        open('written-by-the-program', 'w').close()\n"
    "    except OSError:\n        pass\n"
    "    return [row[::-1] for row in grid]\n```"
)
IDENTITY = "Nothing changes.\n```python\ndef transform(grid):\n    return grid\n```"


def test_codegen_checks_each_view_on_its_own_task_and_wraps_programs_in_the_sandbox(
    fake_server: FakeServer,
    tmp_path: Path,
    full_isolation: None,  # noqa: F811
) -> None:
    """The model writes "mirror each row" in every view but the identity, where it writes the
    identity. Mirroring is right only in the views it commutes with (rot180, flip_h, flip_v), and
    train accuracy tells those apart from the rest; voting solves what the identity view alone
    does not. A program's answers to the task's own test inputs come from the sandbox."""
    dataset = write_json(tmp_path / "tasks.json", {"lift": LIFT})
    identity_input = "Test input 1:\n[[1,2,0],\n [0,3,0],\n [0,0,4]]\n"

    def answer(request: Recorded) -> str:
        return IDENTITY if identity_input in request.last_user_message else MIRROR

    fake_server.responder = answer
    args = ("-d", str(dataset), "--augment", "d8", "--attempts", "1", "--run-name", "c")
    result = _run("codegen", fake_server, *args)
    assert result.returncode == 0, result.stderr
    assert "8 views of every task" in result.stderr
    records = {"+".join(r["view"]): r for r in read_records(Path("runs/c"))}
    assert set(records) == set(parse_augment("d8").labels)
    right = LIFT["test"][0]["output"]
    for label, record in records.items():
        fits = label in {"rot180", "flip_h", "flip_v"}
        assert all((p["status"] == "correct") == fits for p in record["train_results"]), label
        view = view_of(record["view"])
        [raw], [mapped] = record["predictions"], record["mapped_predictions"]
        assert mapped == view.map_back(raw)
        assert record["correct"] == [mapped == right]
        assert (mapped == right) == fits
    rot90 = records["rot90"]
    assert rot90["predictions"] != rot90["mapped_predictions"]
    assert not Path("written-by-the-program").exists()  # it ran in the sandbox, not here

    score = _manifest(Path("runs/c"))["score"]
    assert score["identity_view"] == 0.0
    assert score["score"] == 1.0
    assert score["oracle"] == 1.0
    assert score["best_view_name"] == "rot180"
    assert "train accuracy, then votes, then the model's order" in result.stdout
    report = orjson.loads(run_cli("report", "runs/c", "--json").stdout)
    assert report["augmentation"]["voting"].startswith("train accuracy, then votes")

    # What became of the programs, counted over every view: the selected ones are those behind
    # the grids the vote submitted.
    def accuracy(record: dict[str, Any]) -> float:
        results = record["train_results"]
        return sum(p["status"] == "correct" for p in results) / len(results)

    assert run_cli("report", "runs/c", "--submission", "voted.json").returncode == 0
    [entry] = orjson.loads(Path("voted.json").read_bytes())["lift"]
    voted = [entry["attempt_1"], entry["attempt_2"]]
    behind = [r for r in records.values() if r["mapped_predictions"][0] in voted]
    programs = report["programs"]
    assert programs["final"] == len(records) == 8
    assert programs["fit_train"] == 3
    assert programs["train_accuracy"] == pytest.approx(
        sum(map(accuracy, records.values())) / len(records)
    )
    assert programs["overfit"] == 0
    assert programs["selected"] == len(behind) >= 3
    assert programs["selected_fit_train"] == sum(accuracy(r) == 1.0 for r in behind) == 3
    table = run_cli("report", "runs/c", env=cli_env(COLUMNS="100")).stdout
    for row in ("final programs (one per attempt)", "programs behind the voted grids"):
        assert row in table
    assert "identity view alone" in table
    assert "selected programs (2 per task)" not in table
    assert run_cli("report", "runs/c", "--html", "c.html").returncode == 0
    page = Path("c.html").read_text()
    for row in ("identity view alone", "final programs (one per attempt)", "mean train accuracy"):
        assert row in page


def test_the_offline_baseline_takes_augment_too(tmp_path: Path, full_isolation: None) -> None:  # noqa: F811
    dataset = write_json(tmp_path / "tasks.json", {"lift": LIFT})
    result = run_cli(
        "codegen", "--model", "baseline", "-d", str(dataset), "--augment", "d8", "--views", "3",
        "--run-name", "b", env=_env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "no requests (offline)" in result.stderr
    records = read_records(Path("runs/b"))
    assert {"+".join(r["view"]) for r in records} == set(parse_augment("d8", 3).labels)
    assert all(r["rule"] for r in records)
    manifest = _manifest(Path("runs/b"))
    assert manifest["score"]["score"] == 1.0  # flip_h is in the catalog
    assert manifest["augmentation"]["spec"] == "d8"
