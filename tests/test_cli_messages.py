"""What the commands tell a user to do next, as a user meets it: the real CLI at 80 columns.

The path or command a user types next is printed whole, on its own line, and works when pasted;
a refused resume names both datasets; a mistyped dataset or model gets the closest names first.
"""

from __future__ import annotations

import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import cli_env, run_cli
from fakeserver import FakeServer, error_body, status
from taskdata import TASK_A, TASK_B, write_json
from terminal import run_in_terminal

NARROW = {"COLUMNS": "80", "ARCBENCH_RETRY_WAIT_INITIAL": "0", "ARCBENCH_RETRY_WAIT_MAX": "0"}


def _traces(server: FakeServer, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "traces", "--model", "LOCAL_0", "--base-url", server.url, *args, env=cli_env(**NARROW)
    )


def _pasted(line: str) -> subprocess.CompletedProcess[str]:
    """Run a printed `arcbench …` line as a shell would, through this Python."""
    words = shlex.split(line)
    assert words[0] == "arcbench", line
    return run_cli(*words[1:], env=cli_env(**NARROW))


def _after(text: str, heading: str) -> str:
    """The line after `heading`: the command a message tells the user to type."""
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(heading))
    return lines[index + 1].strip()


@pytest.fixture
def two_tasks(tmp_path: Path) -> Path:
    return write_json(tmp_path / "two.json", {"aaa": TASK_A, "bbb": TASK_B})


def test_a_default_run_name_is_short_and_the_report_command_is_printed_whole(
    fake_server: FakeServer,
) -> None:
    result = _traces(fake_server, "-d", "arc-agi-1/training", "--max-tasks", "2")
    assert result.returncode == 0, result.stderr
    (run,) = Path("runs").iterdir()
    assert len(run.name) <= 40
    assert run.name.startswith("traces-LOCAL_0-agi1-train-")
    command = _after(result.stdout, "report it with:")
    assert command == f"arcbench report runs/{run.name}"
    assert "resume" not in result.stderr  # nothing to resume
    report = _pasted(command)
    assert report.returncode == 0, report.stderr
    assert f"runs/{run.name}\n" in report.stdout  # the report names it whole, on its own line
    assert "…" not in report.stdout


def test_two_default_runs_started_in_the_same_second_get_two_directories(
    fake_server: FakeServer,
) -> None:
    for _ in range(3):
        assert _traces(fake_server, "-d", "arc-agi-1/training", "--max-tasks", "1").returncode == 0
    names = sorted(p.name for p in Path("runs").iterdir())
    assert len(names) == 3  # never resumed one another, whatever the clock said


def test_an_interrupted_run_prints_the_full_command_that_resumes_it(
    fake_server: FakeServer,
) -> None:
    fake_server.latency = 0.3
    args = ["-d", "arc-agi-1/training", "--max-tasks", "6", "-j", "2", "--temperature", "0.5"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "arcbench", "traces", "-m", "LOCAL_0", "--base-url", fake_server.url,
         *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(**NARROW),
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while len(fake_server.chat_requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "resume it (it was interrupted) with:" in stderr
    assert "retrying" not in stderr  # nothing failed
    command = _after(stderr, "resume it")
    (run,) = Path("runs").iterdir()
    assert command.endswith(f"--temperature 0.5 --run-name {run.name}")
    fake_server.latency = 0
    resumed = _pasted(command)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming run runs/{run.name}" in resumed.stderr
    assert [p.name for p in Path("runs").iterdir()] == [run.name]


def test_failed_attempts_are_named_in_the_resume_hint(
    fake_server: FakeServer, two_tasks: Path
) -> None:
    fake_server.enqueue(*[status(500)] * 3)  # the first attempt exhausts its retries
    result = _traces(fake_server, "-d", str(two_tasks), "-j", "1", "--retries", "2")
    assert result.returncode == 0, result.stderr
    assert "resume it (retrying the 1 failed attempt) with:" in result.stderr
    command = _after(result.stderr, "resume it")
    assert command.startswith("arcbench traces --model LOCAL_0 --base-url http://127.0.0.1:")
    asked = len(fake_server.chat_requests)
    again = _pasted(command)
    assert again.returncode == 0, again.stderr
    assert len(fake_server.chat_requests) == asked + 1  # only the failure was asked again
    assert "resume" not in again.stderr


def test_a_resume_for_another_dataset_names_both_and_how_to_start_anew(
    fake_server: FakeServer, two_tasks: Path, tmp_path: Path
) -> None:
    assert _traces(fake_server, "-d", str(two_tasks), "--run-name", "x").returncode == 0
    refused = _traces(
        fake_server, "-d", "arc-agi-1/training", "--max-tasks", "3", "--run-name", "x"
    )
    assert refused.returncode == 2
    line = refused.stderr.strip()
    assert line == (
        f"arcbench: error: runs/x holds a run with a different dataset ({two_tasks}, 2 tasks "
        "there; arc-agi-1/training, 3 tasks now): to resume it, give the options it was started "
        "with; to start a new run instead, pass another --run-name (or leave --run-name out)"
    )
    # The same file and count, other grids: the content tells them apart.
    changed = write_json(tmp_path / "two.json", {"aaa": TASK_B, "bbb": TASK_A})
    refused = _traces(fake_server, "-d", str(changed), "--run-name", "x")
    assert f"({changed}, 2 tasks, content " in refused.stderr
    assert "0613a68c" not in refused.stderr


def test_a_comparison_without_a_common_task_is_refused_not_scored_zero(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    for name, task in (("a", TASK_A), ("b", TASK_B)):
        dataset = write_json(tmp_path / f"{name}.json", {name * 3: task})
        assert _traces(fake_server, "-d", str(dataset), "--run-name", name).returncode == 0
    for args in ((), ("--json",)):
        refused = run_cli("report", "runs/a", "--compare", "runs/b", *args, env=cli_env(**NARROW))
        assert refused.returncode == 2
        assert refused.stdout == ""
        assert refused.stderr == (
            f"arcbench: error: runs/a ({tmp_path / 'a.json'}) and runs/b ({tmp_path / 'b.json'}) "
            "have no task in common, so there is nothing to compare: compare runs over the same "
            "dataset (or overlapping ones)\n"
        )


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("arc-agi-1/train", "Did you mean arc-agi-1/training?"),
        ("arc-agi-2/eval", "Did you mean arc-agi-2/evaluation?"),
        ("ARC-AGI-1/Training", "Did you mean arc-agi-1/training?"),
    ],
)
def test_a_mistyped_dataset_gets_the_closest_bundled_one(typed: str, suggested: str) -> None:
    result = run_cli("tasks", "list", "--dataset", typed)
    assert result.returncode == 2
    assert suggested in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_path_that_does_not_exist_gets_no_bundled_suggestion() -> None:
    result = run_cli("tasks", "list", "--dataset", "./data/evaluation")
    assert result.returncode == 2
    assert "Did you mean" not in result.stderr


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("LOCAL_3", "Did you mean LOCAL_0, LOCAL_1 or LOCAL_2?"),
        ("local_1", "Did you mean LOCAL_1?"),
        ("LOCAL2", "Did you mean LOCAL_2?"),
        ("basline", "Did you mean baseline?"),
    ],
)
def test_model_suggestions_come_most_similar_first(typed: str, suggested: str) -> None:
    result = run_cli("traces", "--model", typed)
    assert result.returncode == 2
    assert suggested in result.stderr


def test_without_bubblewrap_the_install_hint_is_said_once(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python").symlink_to(sys.executable)
    assert shutil.which("bwrap", path=str(bindir)) is None
    result = run_cli(
        "codegen", "--model", "baseline", "-d", "arc-agi-1/training", "--max-tasks", "1",
        env=cli_env(PATH=str(bindir)),
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.count("apt-get install bubblewrap") == 1
    assert result.stderr.count("bubblewrap") == 2  # what is missing, and its package
    assert result.stderr.strip().endswith("or accept weak isolation explicitly (--sandbox weak).")


def test_paths_and_ids_are_printed_as_they_are_never_as_markup(tmp_path: Path) -> None:
    folder = tmp_path / "tasks[" / "]"  # the path `tasks[/]`: a closing tag, for Rich
    write_json(folder / "[bold]x.json", TASK_A)
    spec = str(tmp_path / "tasks[/]")
    listed = run_cli("tasks", "list", "-d", spec)
    assert listed.returncode == 0, listed.stderr
    assert "[bold]x" in listed.stdout
    assert f"{spec}: 1 tasks" in listed.stdout
    (tmp_path / "out[" / "]").mkdir(parents=True)
    out = str(tmp_path / "out[/]" / "v[red].json")
    augmented = run_cli("tasks", "augment", "-d", spec, "--out", out)
    assert augmented.returncode == 0, augmented.stderr
    assert augmented.stderr == f"wrote 7 variants of 1 tasks to {out}\n"
    shown = run_cli("tasks", "show", "[bold]x", "-d", spec)
    assert shown.stdout.startswith(f"[bold]x ({spec}):")


def test_a_servers_error_text_is_shown_while_retrying_never_read_as_markup(
    fake_server: FakeServer, two_tasks: Path
) -> None:
    fake_server.enqueue(error_body("upstream [/] failed [bold]badly"))
    status_code, output = run_in_terminal(
        "traces", "--model", "LOCAL_0", "--base-url", fake_server.url, "-d", str(two_tasks),
        "-j", "1", columns=80, env=cli_env(**NARROW),
    )  # fmt: skip
    assert status_code == 0, output
    assert "upstream [/] failed [bold]badly" in output
    assert "Traceback" not in output
