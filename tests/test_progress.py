"""The progress line: what it shows, chosen by width, on a real terminal and in a log."""

from __future__ import annotations

import re

import pytest

from arcbench.cli.progress import Snapshot
from conftest import cli_env, run_cli
from fakeserver import FakeServer
from terminal import run_in_terminal, screen_lines

COUNT = re.compile(r"(\d+)/(\d+|\?) (attempts|tasks)")


def _snapshot(**changes: object) -> Snapshot:
    values: dict[str, object] = {
        "done": 6215, "total": 8189, "unit": "attempts", "session_done": 6215,
        "elapsed_s": 61.0, "solved": 47, "errors": 3, "tokens": 12_345_678, "cost_usd": 12.3456,
    }  # fmt: skip
    values.update(changes)
    return Snapshot(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("width", range(20, 161, 7))
def test_the_line_keeps_whole_facts_that_fit_most_important_first(width: int) -> None:
    snapshot = _snapshot()
    text, room = snapshot.line(width)
    assert len(text) <= width
    assert room == width - len(text) - 1
    facts = text.split(" · ")
    every = snapshot.line()[0].split(" · ")
    assert set(facts) <= set(every)  # whole facts, never a piece of one
    assert facts[0] == "6215/8189 attempts"
    ranked = ["6215/8189 attempts", "ETA 0:19", "solved 47", "errors 3", "$12.3456", "101.9/s"]
    ranked += ["tokens 12.3M", "1:01"]
    shown = [fact for fact in ranked if fact in facts]
    assert shown == ranked[: len(shown)]  # nothing shown in place of something more important
    if width >= 80:
        assert len(shown) >= 6, text
    if width >= 100:
        assert shown == ranked, text


def test_the_eta_follows_this_sessions_rate() -> None:
    resumed = _snapshot(done=600, total=1000, session_done=100, elapsed_s=50.0)
    assert "ETA 3:20" in resumed.line()[0]  # 400 left at 2/s
    assert "ETA -" in _snapshot(session_done=0).line()[0]
    assert "ETA 1:01:01" in _snapshot(done=0, total=3661, session_done=1, elapsed_s=1).line()[0]


def _progress_lines(output: str) -> list[str]:
    return [line for line in screen_lines(output) if COUNT.search(line)]


@pytest.mark.parametrize("columns", [80, 120])
def test_a_traces_run_on_a_terminal_shows_count_rate_score_and_eta(
    fake_server: FakeServer, columns: int
) -> None:
    fake_server.latency = 0.05
    status, output = run_in_terminal(
        "traces", "--model", "LOCAL_0", "--base-url", fake_server.url,
        "-d", "arc-agi-1/training", "--max-tasks", "12", "-j", "2",
        columns=columns, env=cli_env(),
    )  # fmt: skip
    assert status == 0, output
    lines = _progress_lines(output)
    assert lines, output
    for line in lines:
        assert len(line) <= columns, line
        assert "…" not in line
    drawn = [line for line in lines if "ETA" in line]
    assert drawn, lines
    assert "24/24 attempts" in drawn[-1]
    for fact in ("solved ", "/s", "$", "tokens "):
        assert fact in drawn[-1], drawn[-1]
    assert ("━" in drawn[-1]) == (columns >= 120)  # the bar only where there is room


@pytest.mark.parametrize("columns", [80, 120])
def test_the_baseline_counts_tasks_to_a_known_total(columns: int) -> None:
    status, output = run_in_terminal(
        "codegen", "--model", "baseline", "-d", "arc-agi-1/training", "--max-tasks", "15",
        columns=columns, env=cli_env(),
    )  # fmt: skip
    assert status == 0, output
    lines = _progress_lines(output)
    assert lines, output
    assert all("/?" not in line and len(line) <= columns for line in lines)
    assert "15/15 tasks" in lines[-1]
    assert "ETA" in lines[-1]
    assert "starting run runs/codegen-baseline-agi1-train-" in output


def test_in_a_log_every_fact_is_on_the_line_and_the_last_one_is_the_total() -> None:
    result = run_cli(
        "codegen", "--model", "baseline", "-d", "arc-agi-1/training", "--max-tasks", "5"
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if COUNT.search(line)]
    assert lines[-1].startswith("5/5 tasks · solved ")
    for fact in ("errors 0", "tokens 0", "$0.0000", "/s", "ETA 0:00"):
        assert fact in lines[-1]
    resumed = run_cli(
        "codegen", "--model", "baseline", "-d", "arc-agi-1/training", "--max-tasks", "5",
        "--run-name", result.stdout.split("runs/")[-1].strip(),
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming run runs/codegen-baseline-agi1-train-" in resumed.stderr
    assert "(5 tasks)" in resumed.stderr  # what is left is known only task by task
