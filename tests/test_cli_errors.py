"""One error style for every user error: `arcbench: error: …`, one line, exit status 2.

Every option and argument of every command is tried with an empty value, and every kind of bad
value (not a number, not finite, out of range, unknown option, missing, misplaced) through the
real CLI; none may print Typer's boxes, Click's `Usage:` block or a traceback.
"""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import typer

from arcbench.cli.main import app
from conftest import cli_env, run_cli

REQUIRED = {
    ("traces",): ["--model", "LOCAL_0"],
    ("codegen",): ["--model", "LOCAL_0"],
    ("report",): ["runs/nothing"],
    ("merge",): ["runs/nothing"],
    ("tasks", "show"): ["007bbfb7"],
    ("tasks", "augment"): ["--out", "out.json"],
}
"""Valid values for what each command requires, so that only the option under test is wrong."""


def _commands() -> list[tuple[tuple[str, ...], Any]]:
    found = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, (*path, name))
        else:
            found.append((path, command))

    walk(typer.main.get_command(app), ())
    return found


def _empty_value_cases() -> list[tuple[str, ...]]:
    """For every option and argument taking a value: the command with it empty, everything
    else it requires given."""
    cases = []
    for path, command in _commands():
        required = REQUIRED.get(path, [])
        for param in command.params:
            if getattr(param, "is_flag", False):
                continue
            if param.param_type_name == "argument":
                cases.append((*path, " "))
                continue
            others = list(required)
            if others and others[0] in param.opts:  # the required option is the one under test
                others = others[2:]
            cases.append((*path, *others, param.opts[0], ""))
    return cases


def _assert_one_line(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 2, (result.args, result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, (result.args, result.stderr)
    assert lines[0].startswith("arcbench: error: "), lines[0]
    for text in expected:
        assert text in lines[0], lines[0]
    for noise in ("Traceback", "╭", "Usage:", "Try '"):
        assert noise not in result.stderr


def test_every_option_refuses_an_empty_value() -> None:
    cases = _empty_value_cases()
    assert len(cases) > 40
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda args: run_cli(*args), cases))
    for result in results:
        _assert_one_line(result, "the value is empty")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("traces", "-m", "LOCAL_0", "--max-concurrent", "abc"), "'--max-concurrent'"),
        (("traces", "-m", "LOCAL_0", "-j", "0"), "--max-concurrent"),
        (("traces", "-m", "LOCAL_0", "-j", "100000000"), "less than or equal to 10000"),
        (("traces", "-m", "LOCAL_0", "--attempts", "1.5"), "'--attempts'"),
        (("traces", "-m", "LOCAL_0", "--temperature", "inf"), "not a finite number"),
        (("traces", "-m", "LOCAL_0", "--temperature", "nan"), "not a finite number"),
        (("traces", "-m", "LOCAL_0", "--temperature", "-inf"), "not a finite number"),
        (("traces", "-m", "LOCAL_0", "--temperature", "1e999"), "not a finite number"),
        (("traces", "-m", "LOCAL_0", "--temperature", "-1"), "--temperature"),
        (("traces", "-m", "LOCAL_0", "--timeout", "NaN"), "not a finite number"),
        (("traces", "-m", "LOCAL_0", "--rate-limit", "Infinity"), "not a finite number"),
        (("traces", "-m", "LOCAL_0", "--max-tokens", "0"), "--max-tokens"),
        (("traces", "-m", "LOCAL_0", "--max-tasks", "-3"), "--max-tasks -3"),
        (("traces", "-m", "LOCAL_0", "--shard", "3/2"), "--shard 3/2"),
        (("traces", "-m", "LOCAL_0", "--tasks", "a:b"), "--tasks a:b"),
        (("traces", "-m", "LOCAL_0", "--task-ids", ",,"), "names no task"),
        (("traces", "-m", "LOCAL_0", "--run-name", "../x"), "--run-name"),
        (("codegen", "-m", "LOCAL_0", "--exec-timeout", "inf"), "--exec-timeout"),
        (("codegen", "-m", "LOCAL_0", "--exec-timeout", "nan"), "--exec-timeout"),
        (("codegen", "-m", "LOCAL_0", "--rounds", "-1"), "--rounds"),
        (("tasks", "augment", "--out", "o.json", "--per-task", "0"), "--per-task 0"),
        (("tasks", "augment", "--out", "o.json", "--per-task", "99999999"), "give 1 to 1000"),
        (("tasks", "augment", "--out", "o.json", "--color-map", "1=2"), "not a bijection"),
        (("tasks", "augment", "--out", "o.json", "--color-map", "1=2,2"), "--color-map"),
        (("tasks", "augment", "--out", "o.json", "--transforms", "bogus"), "'bogus'"),
        (("tasks", "augment", "--out", "o.json", "--colors", "rainbow"), "--colors rainbow"),
        (("traces", "-m", "LOCAL_0", "--bogus"), "No such option: --bogus"),
        (("traces",), "Missing option '--model'"),
        (("report",), "Missing argument"),
        (("traces", "-m", "LOCAL_0", "extra"), "unexpected extra argument"),
        (("tasks", "lst"), "No such command 'lst'"),
        (("nope",), "No such command 'nope'"),
        (("traces", "-m", "LOCAL_0", "--debug"), "goes before the command: arcbench --debug"),
        (("tasks", "list", "--version"), "goes before the command: arcbench --version tasks"),
    ],
)
def test_bad_values_get_one_line(args: tuple[str, ...], expected: str) -> None:
    _assert_one_line(run_cli(*args), expected)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ARCBENCH_TEMPERATURE", "inf"),
        ("ARCBENCH_TIMEOUT", "nan"),
        ("ARCBENCH_MAX_CONCURRENT", "abc"),
        ("ARCBENCH_DATASET", ""),
    ],
)
def test_bad_values_from_the_environment_get_one_line(variable: str, value: str) -> None:
    result = run_cli("traces", "-m", "LOCAL_0", env=cli_env(**{variable: value}))
    _assert_one_line(result)


def test_prices_that_are_not_finite_are_refused(tmp_path: Any) -> None:
    (tmp_path / "models.toml").write_text(
        '[models.mine]\nbase_url = "http://127.0.0.1:9/v1"\ninput_price = inf\n'
    )
    result = run_cli("models", "list", "--models-file", str(tmp_path / "models.toml"))
    _assert_one_line(result, "input_price")


def test_help_and_version_still_work() -> None:
    assert run_cli("--version").returncode == 0
    helped = run_cli("traces", "--help")
    assert helped.returncode == 0
    assert "--max-concurrent" in helped.stdout
    alone = run_cli()
    assert alone.returncode == 2
    assert "traces" in alone.stdout + alone.stderr
