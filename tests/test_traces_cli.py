"""`arcbench traces` and `arcbench report` end to end: the real CLI against the fake server."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from conftest import cli_env, run_cli, start_cli, wait_for_lines
from fakeserver import FakeServer, Recorded, reply, status
from taskdata import TASK_A, TASK_B, write_json

FAST_RETRIES = {
    "ARCBENCH_RETRY_WAIT_INITIAL": "0",
    "ARCBENCH_RETRY_WAIT_MAX": "0",
    "ARCBENCH_RETRY_WAIT_JITTER": "0",
}


def _env(**extra: str) -> dict[str, str]:
    return cli_env(**FAST_RETRIES, **extra)


def _traces(server: FakeServer, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli("traces", "--model", "LOCAL_0", "--base-url", server.url, *args, env=_env(**env))


def _records(run: Path) -> list[dict[str, Any]]:
    return [
        orjson.loads(line)
        for line in (run / "results.jsonl").read_bytes().splitlines()
        if line.strip()
    ]


def _manifest(run: Path) -> dict[str, Any]:
    return dict(orjson.loads((run / "run.json").read_bytes()))


def _fence(grid: list[list[int]]) -> str:
    return f"Reasoning about the rule.\n```json\n{orjson.dumps(grid).decode()}\n```"


@pytest.fixture
def small_dataset(tmp_path: Path) -> Path:
    """Two tasks, three test inputs; the last test input has no known answer."""
    return write_json(tmp_path / "small.json", {"aaa": TASK_A, "bbb": TASK_B})


def _grid_text(grid: list[list[int]]) -> str:
    """How the prompt shows a grid (see arcbench.prompts.format_grid)."""
    return "[" + ",\n ".join("[" + ",".join(map(str, row)) + "]" for row in grid) + "]"


def _solver(request: Recorded) -> str:
    """Answers every test input of the small dataset correctly (task A's second pair wrongly)."""
    prompt = request.last_user_message
    test_part = prompt.split("Test input:")[1]
    if _grid_text([[3, 0], [0, 0]]) in test_part:
        return _fence([[0, 3], [0, 0]])
    if _grid_text([[6]]) in test_part:
        return "No idea, sorry."  # a reply without a grid
    return _fence([[7, 7]])


def test_traces_run_scores_records_and_reports(
    fake_server: FakeServer, small_dataset: Path
) -> None:
    fake_server.responder = _solver
    result = _traces(fake_server, "--dataset", str(small_dataset), "--run-name", "r1")
    assert result.returncode == 0, result.stderr
    run = Path("runs/r1")
    records = _records(run)
    assert len(records) == 3 * 2  # three test inputs x two attempts
    assert len(fake_server.chat_requests) == 6
    keys = {
        "record_id",
        "run_id",
        "task_id",
        "version",
        "test_index",
        "attempt",
        "round",
        "messages",
        "response",
        "reasoning",
        "prediction",
        "correct",
        "parse_error",
        "usage",
        "cost_usd",
        "latency_s",
        "finished_at",
        "error",
    }
    assert all(keys <= set(r) for r in records)
    assert len({r["record_id"] for r in records}) == 6
    by_input = {(r["task_id"], r["test_index"]): r for r in records}
    assert by_input[("aaa", 0)]["correct"] is True
    assert by_input[("aaa", 0)]["prediction"] == [[0, 3], [0, 0]]
    assert by_input[("aaa", 0)]["reasoning"] == "Reasoning about the rule."
    assert by_input[("bbb", 0)]["prediction"] is None
    assert by_input[("bbb", 0)]["parse_error"] == "no grid found in the reply"
    assert by_input[("bbb", 0)]["error"] is None
    assert by_input[("bbb", 0)]["correct"] is False
    assert by_input[("bbb", 1)]["correct"] is None  # unknown answer
    assert all(r["usage"]["prompt_tokens"] > 0 for r in records)
    # Grids are shown as digits, the test input once, no colour names.
    prompt = records[0]["messages"][0]["content"]
    assert "[[1,0],\n [0,0]]" in prompt
    assert "blue" not in prompt.lower()

    manifest = _manifest(run)
    assert manifest["status"] == "completed"
    assert manifest["command"] == "traces"
    assert manifest["model"]["model_id"] == "fake-model"
    assert manifest["dataset"]["task_ids"] == ["aaa", "bbb"]
    assert manifest["score"]["score"] == pytest.approx(0.5)  # aaa 1/1, bbb 0/2
    assert manifest["counts"]["parse_errors"] == 2
    assert manifest["usage"]["prompt_tokens"] == sum(r["usage"]["prompt_tokens"] for r in records)
    for key in (
        "run_id",
        "config",
        "prompt_version",
        "arcbench_version",
        "started_at",
        "finished_at",
        "cost_usd",
    ):
        assert key in manifest

    log = (run / "run.log").read_text()
    assert "starting traces run" in log
    assert "aaa test 0 attempt 1: correct" in log

    report = run_cli("report", str(run), "--json")
    assert report.returncode == 0, report.stderr
    summary = orjson.loads(report.stdout)
    assert summary["score"] == pytest.approx(0.5)
    assert summary["per_output"] == pytest.approx(1 / 3)
    assert summary["all_or_nothing"] == pytest.approx(0.5)
    table = run_cli("report", str(run))
    assert "50.00%" in table.stdout

    submission = Path("submission.json")
    assert run_cli("report", str(run), "--submission", str(submission)).returncode == 0
    written = orjson.loads(submission.read_bytes())
    assert written["aaa"] == [{"attempt_1": [[0, 3], [0, 0]], "attempt_2": [[0, 3], [0, 0]]}]
    assert written["bbb"][0] == {"attempt_1": [[0]], "attempt_2": [[0]]}
    assert len(written["bbb"]) == 2


def test_second_attempt_counts_and_third_does_not(fake_server: FakeServer, tmp_path: Path) -> None:
    dataset = write_json(tmp_path / "one.json", {"aaa": TASK_A})
    wrong, right = _fence([[1]]), _fence([[0, 3], [0, 0]])
    fake_server.enqueue(reply(wrong), reply(right))
    assert _traces(fake_server, "-d", str(dataset), "--run-name", "two", "-j", "1").returncode == 0
    assert _manifest(Path("runs/two"))["score"]["score"] == 1.0
    fake_server.enqueue(reply(wrong), reply(wrong), reply(right))
    result = _traces(
        fake_server, "-d", str(dataset), "--run-name", "three", "-j", "1", "--attempts", "3"
    )
    assert result.returncode == 0, result.stderr
    assert _manifest(Path("runs/three"))["score"]["score"] == 0.0
    summary = orjson.loads(run_cli("report", "runs/three", "--json").stdout)
    assert summary["pass_at_k"] == 1.0


def test_model_failures_become_error_records_and_resume_retries_only_them(
    fake_server: FakeServer, small_dataset: Path
) -> None:
    fake_server.responder = _solver
    fake_server.enqueue(*[status(500)] * 3)  # the first attempt exhausts its retries
    result = _traces(
        fake_server, "-d", str(small_dataset), "--run-name", "e", "-j", "1", "--retries", "2"
    )
    assert result.returncode == 0, result.stderr
    records = _records(Path("runs/e"))
    failed = [r for r in records if r["error"] is not None]
    assert len(failed) == 1
    assert "500" in failed[0]["error"]
    assert failed[0]["prediction"] is None
    assert _manifest(Path("runs/e"))["counts"]["errors"] == 1
    assert "--run-name e" in result.stderr

    fake_server.reset()
    fake_server.responder = _solver
    again = _traces(fake_server, "-d", str(small_dataset), "--run-name", "e")
    assert again.returncode == 0, again.stderr
    assert len(fake_server.chat_requests) == 1  # only the failed attempt was asked again
    records = _records(Path("runs/e"))
    assert len(records) == 7
    assert records[-1]["record_id"] == failed[0]["record_id"]
    assert records[-1]["error"] is None
    manifest = _manifest(Path("runs/e"))
    assert manifest["counts"]["errors"] == 0
    assert manifest["score"]["score"] == pytest.approx(0.5)


def test_refused_key_stops_the_run_with_a_clear_message(
    fake_server: FakeServer, small_dataset: Path
) -> None:
    fake_server.enqueue(status(401))
    result = _traces(fake_server, "-d", str(small_dataset), "--run-name", "auth", "-j", "1")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "arcbench: error:" in result.stderr
    assert len(fake_server.chat_requests) == 1
    assert _manifest(Path("runs/auth"))["status"] == "failed"


def test_resume_refuses_another_dataset_or_model(
    fake_server: FakeServer, small_dataset: Path, tmp_path: Path
) -> None:
    fake_server.responder = _solver
    assert _traces(fake_server, "-d", str(small_dataset), "--run-name", "x").returncode == 0
    other = write_json(tmp_path / "other.json", {"aaa": TASK_A})
    result = _traces(fake_server, "-d", str(other), "--run-name", "x")
    assert result.returncode == 2
    assert "holds a run with a different dataset" in result.stderr
    assert "--run-name" in result.stderr
    fake_server.models = ["another-model"]
    result = _traces(fake_server, "-d", str(small_dataset), "--run-name", "x")
    assert result.returncode == 2
    assert "different model" in result.stderr


def test_torn_last_line_is_ignored_on_resume(fake_server: FakeServer, small_dataset: Path) -> None:
    fake_server.responder = _solver
    assert (
        _traces(
            fake_server,
            "-d",
            str(small_dataset),
            "--run-name",
            "torn",
            "-j",
            "1",
            "--max-tasks",
            "1",
        ).returncode
        == 0
    )
    results = Path("runs/torn/results.jsonl")
    lines = results.read_bytes().splitlines(keepends=True)
    results.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])  # a kill mid-write
    fake_server.reset()
    fake_server.responder = _solver
    result = _traces(
        fake_server, "-d", str(small_dataset), "--run-name", "torn", "-j", "1", "--max-tasks", "1"
    )
    assert result.returncode == 0, result.stderr
    assert "torn last line" in result.stderr
    assert len(fake_server.chat_requests) == 1
    records = _records(Path("runs/torn"))
    assert len(records) == 2
    assert len({r["record_id"] for r in records}) == 2


def _start(server: FakeServer, *args: str) -> subprocess.Popen[str]:
    return start_cli("traces", "--model", "LOCAL_0", "--base-url", server.url, *args, env=_env())


def test_ctrl_c_finishes_in_flight_requests_and_resume_completes(fake_server: FakeServer) -> None:
    fake_server.latency = 0.3
    args = ("-d", "arc-agi-1/training", "--max-tasks", "10", "-j", "2", "--run-name", "sig")
    proc = _start(fake_server, *args)
    results = Path("runs/sig/results.jsonl")
    wait_for_lines(results, 2)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "stopping" in stderr
    assert "Traceback" not in stderr
    manifest = _manifest(Path("runs/sig"))
    assert manifest["status"] == "interrupted"
    records = _records(Path("runs/sig"))
    asked = len(fake_server.chat_requests)
    assert len(records) == asked  # every request that was sent finished and was written
    assert 2 <= len(records) < 20

    fake_server.latency = 0.0
    resumed = _traces(fake_server, *args)
    assert resumed.returncode == 0, resumed.stderr
    assert len(fake_server.chat_requests) == 20  # nothing asked twice
    records = _records(Path("runs/sig"))
    assert len({r["record_id"] for r in records}) == len(records) == 20
    assert _manifest(Path("runs/sig"))["status"] == "completed"


def test_second_ctrl_c_cancels_in_flight_requests(fake_server: FakeServer) -> None:
    fake_server.latency = 30.0
    proc = _start(
        fake_server, "-d", "arc-agi-1/training", "--max-tasks", "4", "-j", "2", "--run-name", "hard"
    )
    deadline = time.monotonic() + 30
    while len(fake_server.chat_requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert time.monotonic() - started < 20  # did not wait for the 30 s replies
    assert proc.returncode == 130
    assert _manifest(Path("runs/hard"))["status"] == "interrupted"


def test_kill_9_loses_only_what_was_in_flight(fake_server: FakeServer) -> None:
    fake_server.latency = 0.2
    args = ("-d", "arc-agi-1/training", "--max-tasks", "10", "-j", "3", "--run-name", "k9")
    proc = _start(fake_server, *args)
    results = Path("runs/k9/results.jsonl")
    wait_for_lines(results, 4)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    before = _records(Path("runs/k9"))
    asked_before = len(fake_server.chat_requests)
    assert asked_before - len(before) <= 3  # at most the requests in flight were lost
    assert _manifest(Path("runs/k9"))["status"] == "running"

    fake_server.latency = 0.0
    resumed = _traces(fake_server, *args)
    assert resumed.returncode == 0, resumed.stderr
    after = _records(Path("runs/k9"))
    assert len({r["record_id"] for r in after}) == 20
    assert len(fake_server.chat_requests) - asked_before == 20 - len(before)


def test_shards_reported_together_equal_the_whole_run(
    fake_server: FakeServer, small_dataset: Path
) -> None:
    fake_server.responder = _solver
    for index in (1, 2):
        result = _traces(
            fake_server,
            "-d",
            str(small_dataset),
            "--shard",
            f"{index}/2",
            "--run-name",
            f"s{index}",
        )
        assert result.returncode == 0, result.stderr
    assert _traces(fake_server, "-d", str(small_dataset), "--run-name", "whole").returncode == 0
    together = orjson.loads(run_cli("report", "runs/s1", "runs/s2", "--json").stdout)
    whole = orjson.loads(run_cli("report", "runs/whole", "--json").stdout)
    assert together["score"] == whole["score"] == pytest.approx(0.5)
    assert together["counts"]["tasks"] == 2
    compared = orjson.loads(
        run_cli("report", "runs/whole", "--compare", "runs/s1", "--json").stdout
    )
    assert compared["common_tasks"] == 1


def test_report_of_missing_run_is_a_clear_error() -> None:
    result = run_cli("report", "runs/nothing-here")
    assert result.returncode == 2
    assert "no such run directory" in result.stderr


def test_api_key_reaches_the_server_and_nothing_else(
    fake_server: FakeServer, small_dataset: Path
) -> None:
    secret = "sk-test-0123456789abcdef"
    Path("models.toml").write_text(
        f'[models.mine]\nbase_url = "{fake_server.url}"\napi_key_env = "MY_KEY"\n'
        "input_price = 1.0\noutput_price = 2.0\n"
    )
    fake_server.responder = _solver
    fake_server.enqueue(status(500))  # a retry, so the retry path is covered too
    result = run_cli(
        "traces",
        "--model",
        "mine",
        "-d",
        str(small_dataset),
        "--run-name",
        "k",
        "-j",
        "1",
        env=_env(MY_KEY=secret),
    )
    assert result.returncode == 0, result.stderr
    assert all(r.headers["authorization"] == f"Bearer {secret}" for r in fake_server.chat_requests)
    for path in Path("runs").rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(), path
    assert secret not in result.stdout + result.stderr
    manifest = _manifest(Path("runs/k"))
    assert manifest["cost_usd"] > 0  # priced from models.toml
    missing = run_cli("traces", "--model", "mine", "-d", str(small_dataset), env=_env())
    assert missing.returncode == 2
    assert "MY_KEY" in missing.stderr


def test_billed_tokens_of_retried_failures_survive_resumes(
    fake_server: FakeServer, small_dataset: Path
) -> None:
    billed = {"prompt_tokens": 1000, "completion_tokens": 5000}
    fake_server.responder = _solver
    fake_server.enqueue(status(500, usage=billed))
    args = ("-d", str(small_dataset), "--run-name", "bill", "-j", "1", "--retries", "0")
    assert _traces(fake_server, *args).returncode == 0
    first = _manifest(Path("runs/bill"))["usage"]["completion_tokens"]
    assert first >= 5000
    for _ in range(2):  # the failure is retried, then nothing is left to do
        assert _traces(fake_server, *args).returncode == 0
        manifest = _manifest(Path("runs/bill"))
        assert manifest["usage"]["completion_tokens"] >= 5000
        assert manifest["counts"]["errors"] == 0
    summary = orjson.loads(run_cli("report", "runs/bill", "--json").stdout)
    assert summary["usage"] == manifest["usage"]


def test_report_refuses_runs_that_share_tasks(fake_server: FakeServer, small_dataset: Path) -> None:
    fake_server.responder = _solver
    for name in ("one", "two"):
        assert _traces(fake_server, "-d", str(small_dataset), "--run-name", name).returncode == 0
    mixed = run_cli("report", "runs/one", "runs/two")
    assert mixed.returncode == 2
    assert "both cover task aaa" in mixed.stderr
    assert "--compare" in mixed.stderr
    twice = orjson.loads(run_cli("report", "runs/one", "runs/one", "--json").stdout)
    assert twice["score"] == pytest.approx(0.5)


def test_failed_attempts_do_not_count_as_unknown_answers(
    fake_server: FakeServer, small_dataset: Path
) -> None:
    fake_server.enqueue(status(500), status(500))
    fake_server.responder = _solver
    result = _traces(
        fake_server, "-d", str(small_dataset), "--run-name", "unk", "-j", "1", "--retries", "0"
    )
    assert result.returncode == 0, result.stderr
    summary = orjson.loads(run_cli("report", "runs/unk", "--json").stdout)
    assert summary["outputs_without_answer"] == 1  # only bbb's second test input


def test_a_run_directory_has_one_writer(fake_server: FakeServer, small_dataset: Path) -> None:
    fake_server.latency = 1.0
    first = _start(fake_server, "-d", str(small_dataset), "--run-name", "busy", "-j", "1")
    try:
        wait_for_lines(Path("runs/busy/run.json"), 1)
        second = _traces(fake_server, "-d", str(small_dataset), "--run-name", "busy")
        assert second.returncode == 2
        assert "being written by another arcbench process" in second.stderr
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)


def test_bad_requests_are_refused_before_anything_runs(
    fake_server: FakeServer, small_dataset: Path
) -> None:
    escape = _traces(fake_server, "-d", str(small_dataset), "--run-name", "../outside")
    assert escape.returncode == 2
    assert "--run-name" in escape.stderr
    assert not Path("outside").exists()
    offline = run_cli("traces", "--model", "baseline", "-d", str(small_dataset), env=_env())
    assert offline.returncode == 2
    assert "arcbench codegen --model baseline" in offline.stderr
    empty = _traces(fake_server, "-d", str(small_dataset), "--tasks", "5:2")
    assert empty.returncode == 2
    assert "the selection holds no tasks" in empty.stderr
    assert not Path("runs").exists()


def test_credentials_in_base_url_stay_out_of_the_run(
    fake_server: FakeServer, small_dataset: Path
) -> None:
    fake_server.responder = _solver
    url = fake_server.url.replace("http://", "http://user:sk-in-url-secret@")
    result = run_cli(
        "traces",
        "--model",
        "LOCAL_0",
        "--base-url",
        url,
        "-d",
        str(small_dataset),
        "--run-name",
        "cred",
        env=_env(),
    )
    assert result.returncode == 0, result.stderr
    for path in Path("runs/cred").iterdir():
        text = path.read_text()
        assert "sk-in-url-secret" not in text


def test_html_report_shows_grids_and_escapes_what_it_shows(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    hostile = "<script>alert(1)</script>"
    dataset = write_json(tmp_path / "h.json", {hostile: TASK_A, "bbb": TASK_B})
    fake_server.responder = _solver
    assert _traces(fake_server, "-d", str(dataset), "--run-name", "html").returncode == 0
    result = run_cli("report", "runs/html", "--html", "report.html")
    assert result.returncode == 0, result.stderr
    page = Path("report.html").read_text()
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<h3 class=mono>&lt;script&gt;alert(1)&lt;/script&gt;</h3>" in page
    # TASK_A, each grid one PNG: two train pairs (4), the test input, the expected output, the
    # two submitted attempts, and each attempt's prediction again in its details (2)
    section = page.split("&lt;/script&gt;</h3>")[1].split("</section>")[0]
    assert section.count('<b class="g c') == 4 + 2 + 2 + 2
    assert section.count("data:image/png;base64,") == 4 + 2 + 2 + 2
    assert section.count("✓ right") == 2 + 2  # both attempts right, submitted and in detail
    assert "✗ wrong" not in section


@pytest.mark.parametrize("concurrency", [1, 4, 32])
def test_max_concurrent_is_what_the_model_server_sees(
    fake_server: FakeServer, tmp_path: Path, concurrency: int
) -> None:
    """--max-concurrent N keeps exactly N requests in flight at the server: never more, and
    every slot used (two rounds of N slow replies)."""
    tasks = {f"t{index:03d}": TASK_A for index in range(concurrency)}
    dataset = write_json(tmp_path / "n.json", tasks)
    fake_server.latency = 2.0
    result = _traces(
        fake_server, "-d", str(dataset), "-j", str(concurrency), "--run-name", f"j{concurrency}"
    )
    assert result.returncode == 0, result.stderr
    assert len(fake_server.chat_requests) == 2 * concurrency
    assert fake_server.peak_in_flight == concurrency
