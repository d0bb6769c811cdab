"""`arcbench codegen` end to end: the real CLI, the fake server, the real sandbox."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from conftest import cli_env, run_cli
from fakeserver import FakeServer, reply, status
from sandboxing import descendants
from taskdata import write_json

FAST = {
    "ARCBENCH_RETRY_WAIT_INITIAL": "0",
    "ARCBENCH_RETRY_WAIT_MAX": "0",
    "ARCBENCH_RETRY_WAIT_JITTER": "0",
}

FLIP = {
    "train": [
        {"input": [[1, 0], [2, 0]], "output": [[0, 1], [0, 2]]},
        {"input": [[3, 3, 0]], "output": [[0, 3, 3]]},
    ],
    "test": [
        {"input": [[4, 0, 5]], "output": [[5, 0, 4]]},
        {"input": [[6], [7]], "output": [[6], [7]]},
    ],
}

GOOD = (
    "The rule mirrors each row.\n"
    "```python\ndef transform(grid):\n    return [row[::-1] for row in grid]\n```"
)
WRONG = "Maybe it is the identity.\n```python\ndef transform(grid):\n    return grid\n```"
LOOPING = "```python\ndef transform(grid):\n    while True:\n        pass\n```"


def _codegen(server: FakeServer | None, *args: str, **env: str) -> Any:
    model = ["--model", "LOCAL_0", "--base-url", server.url] if server else ["--model", "baseline"]
    return run_cli("codegen", *model, *args, env=cli_env(**FAST, **env), timeout=300)


def _records(name: str) -> list[dict[str, Any]]:
    lines = Path(f"runs/{name}/results.jsonl").read_bytes().splitlines()
    return [orjson.loads(line) for line in lines if line.strip()]


def _manifest(name: str) -> dict[str, Any]:
    return dict(orjson.loads(Path(f"runs/{name}/run.json").read_bytes()))


@pytest.fixture
def flip_dataset(tmp_path: Path) -> Path:
    return write_json(tmp_path / "flip.json", {"flip0001": FLIP})


def test_program_is_checked_on_every_pair_and_scored(
    fake_server: FakeServer, flip_dataset: Path
) -> None:
    fake_server.enqueue(reply(GOOD), reply(WRONG))
    result = _codegen(fake_server, "-d", str(flip_dataset), "--run-name", "c", "-j", "1")
    assert result.returncode == 0, result.stderr
    records = _records("c")
    assert len(records) == 2
    good, wrong = records
    assert good["test_index"] is None
    assert good["round"] == 0
    assert good["code"].startswith("def transform(grid):")
    assert [r["status"] for r in good["train_results"]] == ["correct", "correct"]
    assert good["predictions"] == [[[5, 0, 4]], [[6], [7]]]
    assert good["correct"] == [True, True]
    assert good["reasoning"] == "The rule mirrors each row."
    assert [r["status"] for r in wrong["train_results"]] == ["wrong", "wrong"]
    assert wrong["train_results"][0]["output"] == [[1, 0], [2, 0]]
    assert wrong["correct"] == [False, True]
    # The prompt shows train pairs and every test input as digits.
    prompt = good["messages"][0]["content"]
    assert "[[4,0,5]]" in prompt
    assert "def transform(grid: list[list[int]]) -> list[list[int]]:" in prompt

    manifest = _manifest("c")
    assert manifest["command"] == "codegen"
    assert manifest["sandbox"]["isolation"] == "full"
    assert manifest["status"] == "completed"
    assert manifest["score"]["score"] == 1.0
    summary = orjson.loads(run_cli("report", "runs/c", "--json").stdout)
    assert summary["score"] == 1.0
    assert summary["overfit_programs"] == 0
    run_cli("report", "runs/c", "--submission", "sub.json")
    submission = orjson.loads(Path("sub.json").read_bytes())
    assert submission["flip0001"][0] == {"attempt_1": [[5, 0, 4]], "attempt_2": [[4, 0, 5]]}


def test_two_best_programs_by_train_accuracy_are_submitted(
    fake_server: FakeServer, flip_dataset: Path
) -> None:
    fake_server.enqueue(reply(WRONG), reply(WRONG), reply(GOOD))
    result = _codegen(
        fake_server, "-d", str(flip_dataset), "--run-name", "k", "-j", "1", "--attempts", "3"
    )
    assert result.returncode == 0, result.stderr
    manifest = _manifest("k")
    assert manifest["score"]["score"] == 1.0  # the third attempt's program ranks first
    submission_run = run_cli("report", "runs/k", "--submission", "s.json")
    assert submission_run.returncode == 0
    entry = orjson.loads(Path("s.json").read_bytes())["flip0001"][0]
    assert entry["attempt_1"] == [[5, 0, 4]]


def test_repair_rounds_show_failures_and_keep_every_round(
    fake_server: FakeServer, flip_dataset: Path
) -> None:
    fake_server.enqueue(reply(WRONG), reply(GOOD), reply("no code at all"), reply(GOOD))
    result = _codegen(
        fake_server, "-d", str(flip_dataset), "--run-name", "r", "-j", "1", "--rounds", "2"
    )
    assert result.returncode == 0, result.stderr
    records = _records("r")
    assert [(r["attempt"], r["round"]) for r in records] == [(1, 0), (1, 1), (2, 0), (2, 1)]
    repair = fake_server.chat_requests[1].body["messages"]
    assert [m["role"] for m in repair] == ["user", "assistant", "user"]
    assert "Expected:\n[[0,1],\n [0,2]]" in repair[2]["content"]
    assert "Your program produced:\n[[1,0],\n [2,0]]" in repair[2]["content"]
    assert records[2]["parse_error"] == "no python code block in the reply"
    no_code = fake_server.chat_requests[3].body["messages"][2]["content"]
    assert "no usable program" in no_code
    assert _manifest("r")["score"]["score"] == 1.0


def test_hostile_program_is_an_outcome_and_the_run_goes_on(
    fake_server: FakeServer, flip_dataset: Path
) -> None:
    secret_reader = (
        "```python\nimport os\ndef transform(grid):\n"
        "    raise RuntimeError(os.environ.get('MY_SECRET', 'no secret here'))\n```"
    )
    fake_server.enqueue(reply(LOOPING), reply(secret_reader))
    result = _codegen(
        fake_server,
        "-d",
        str(flip_dataset),
        "--run-name",
        "h",
        "-j",
        "1",
        "--exec-timeout",
        "0.5",
        MY_SECRET="hunter2-value",
    )
    assert result.returncode == 0, result.stderr
    looping, reader = _records("h")
    assert {r["status"] for r in looping["train_results"]} == {"timeout"}
    assert looping["error"] is None
    assert {r["status"] for r in reader["train_results"]} == {"error"}
    assert "no secret here" in reader["train_results"][0]["detail"]
    assert "hunter2-value" not in Path("runs/h/results.jsonl").read_text()


def test_resume_continues_an_attempt_from_its_last_round(
    fake_server: FakeServer, flip_dataset: Path
) -> None:
    fake_server.enqueue(reply(WRONG), *[status(500)] * 2)
    args = ("-d", str(flip_dataset), "--run-name", "res", "-j", "1", "--rounds", "1")
    first = _codegen(fake_server, *args, "--attempts", "1", "--retries", "1")
    assert first.returncode == 0, first.stderr
    assert [(r["round"], r["error"] is None) for r in _records("res")] == [(0, True), (1, False)]
    fake_server.reset()
    fake_server.enqueue(reply(GOOD))
    again = _codegen(fake_server, *args, "--attempts", "1")
    assert again.returncode == 0, again.stderr
    assert len(fake_server.chat_requests) == 1
    messages = fake_server.chat_requests[0].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == WRONG
    assert _records("res")[-1]["round"] == 1
    assert _manifest("res")["score"]["score"] == 1.0


def test_baseline_solves_whole_grid_rules_offline() -> None:
    result = _codegen(
        None,
        "-d",
        "arc-agi-1/training",
        "--task-ids",
        "3c9b0459,6150a2bd,007bbfb7",
        "--run-name",
        "base",
    )
    assert result.returncode == 0, result.stderr
    manifest = _manifest("base")
    assert manifest["model"]["name"] == "baseline"
    assert manifest["score"]["tasks_solved"] == 2
    assert manifest["score"]["score"] == pytest.approx(2 / 3)
    records = _records("base")
    assert {r["rule"] for r in records if r["task_id"] == "3c9b0459" and r["correct"] == [True]}
    assert all(r["usage"]["prompt_tokens"] == 0 for r in records)


def test_without_bubblewrap_codegen_refuses_unless_weak(flip_dataset: Path, tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python").symlink_to(sys.executable)
    env = {"PATH": str(bindir)}
    assert shutil.which("bwrap", path=str(bindir)) is None
    refused = _codegen(None, "-d", str(flip_dataset), "--run-name", "nobw", **env)
    assert refused.returncode == 2
    assert "bubblewrap" in refused.stderr
    assert "--sandbox weak" in refused.stderr
    assert "Traceback" not in refused.stderr
    weak = _codegen(None, "-d", str(flip_dataset), "--run-name", "weak", "--sandbox", "weak", **env)
    assert weak.returncode == 0, weak.stderr
    assert _manifest("weak")["sandbox"]["isolation"] == "weak"
    assert os.path.exists("runs/weak/results.jsonl")


def _identity(pid: int) -> tuple[int, str] | None:
    """A live process as (pid, start time), so that a reused PID is not taken for the same
    process; None once it is gone (or a zombie)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else (pid, fields[19])


def _bubblewrap_below(pid: int) -> set[tuple[int, str]]:
    """The bubblewrap processes process `pid` started: its descendants only, because other runs
    on the machine have theirs."""
    found = set()
    for child in descendants(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        identity = _identity(child)
        if identity and (command.startswith(b"bwrap") or b"/bwrap\x00" in command):
            found.add(identity)
    return found


def test_ctrl_c_stops_codegen_cleanly_and_resume_finishes(tmp_path: Path) -> None:
    import signal
    import subprocess
    import time

    args = ["-m", "arcbench", "codegen", "--model", "baseline", "-d", "arc-agi-1/training"]
    args += ["--tasks", "0:60", "--run-name", "int"]
    proc = subprocess.Popen(
        [sys.executable, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )
    results = Path("runs/int/results.jsonl")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if results.exists() and results.read_bytes().count(b"\n") >= 100:
            break
        time.sleep(0.02)
    sandboxes = _bubblewrap_below(proc.pid)
    assert sandboxes, "the run started no sandbox"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert _manifest("int")["status"] == "interrupted"
    assert {_identity(pid) for pid, _ in sandboxes} & sandboxes == set()  # all went down with it
    done = len(_records("int"))
    assert done >= 100

    resumed = _codegen(None, "-d", "arc-agi-1/training", "--tasks", "0:60", "--run-name", "int")
    assert resumed.returncode == 0, resumed.stderr
    records = _records("int")
    assert len({r["record_id"] for r in records}) == len(records)  # nothing checked twice
    whole = _codegen(None, "-d", "arc-agi-1/training", "--tasks", "0:60", "--run-name", "whole")
    assert whole.returncode == 0
    assert len(records) == len(_records("whole"))
    assert _manifest("int")["score"] == _manifest("whole")["score"]
