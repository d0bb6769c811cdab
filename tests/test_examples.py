"""Every example a user can copy runs as written: each command's `--help` and the README's.

The examples are read from the text users read: the indented lines after "Examples:" in every
command's help (a line ending in a backslash goes on), and every line starting with `arcbench `
(or following `&&`) in a fenced block of README.md. Each corpus runs in its own empty directory,
in order, as a person following it would: the help pages in the order of `HELP_ORDER`, the
README from top to bottom. Each line runs through `sh -c` exactly as written, with `arcbench`
on PATH meaning this checkout, with these differences, all of them outside the text:

- A model server: `ARCBENCH_BASE_URL` points every model (`LOCAL_0`, `openrouter/…`) at the
  fake OpenAI-compatible server of tests/fakeserver.py, and `OPENROUTER_API_KEY` is a dummy. An
  example's own `--base-url http://gpu-box:8000/v1` is the one text replaced, by that server.
- Whole datasets: a `traces` or `codegen` example that selects no tasks gets `--max-tasks 3`.
- The web app: `serve-ui` examples are started, asked for their page, and stopped with Ctrl+C;
  `ARCBENCH_PORT=0` picks a free port and `BROWSER=true` opens no browser.
- What an example needs and no earlier one makes (what "another machine" or an older version of
  the project wrote) is written first, by `PREREQUISITES`; a `--max-cost` example gets the
  `models.toml` with its model's prices that the README says the cap needs (`PRICES`).
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import typer

from arcbench.cli.main import app
from conftest import cli_env, run_cli
from fakeserver import FakeServer
from rundata import legacy_store
from taskdata import TASK_A, write_json

README = Path(__file__).parent.parent / "README.md"

HELP_ORDER = [
    "traces", "codegen", "report", "merge", "store backup", "store export", "store info",
    "tasks list", "tasks show", "tasks augment", "models list", "export", "serve-ui",
]  # fmt: skip
"""The order the help pages' examples run in: later ones use what earlier ones made."""

FAKE_HOSTS = ("http://gpu-box:8000/v1",)
"""Model servers named in examples, replaced by the fake server."""


# -- reading the examples ---------------------------------------------------------------------


def help_commands() -> dict[str, Any]:
    """Every leaf command by its path (`tasks list`)."""
    found: dict[str, Any] = {}

    def walk(command: Any, path: str) -> None:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, f"{path} {name}".strip())
        else:
            found[path] = command

    walk(typer.main.get_command(app), "")
    return found


def help_examples(help_text: str) -> list[str]:
    """The example command lines of a help text, continuation lines joined."""
    _, found, after = help_text.partition("Examples:")
    assert found, "no examples"
    return _commands(line.strip() for line in after.splitlines())


def _commands(lines: Any) -> list[str]:
    commands: list[str] = []
    pending = ""
    for line in lines:
        if pending:
            pending += " " + line.strip()
        elif line.startswith("arcbench "):
            pending = line.strip()
        if pending and not pending.endswith("\\"):
            commands.append(pending)
            pending = ""
        elif pending:
            pending = pending[:-1].rstrip()
    return commands


def readme_examples() -> list[str]:
    """Every `arcbench …` line of the README's fenced blocks, its comment removed."""
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", README.read_text(), flags=re.M | re.S)
    lines = []
    for block in blocks:
        for line in block.splitlines():
            for part in line.split("&&"):
                part = part.strip()
                if part.startswith("arcbench "):
                    lines.append(re.sub(r"\s+#.*$", "", part))
    return _commands(lines)


# -- running them -------------------------------------------------------------------------------


def _legacy_results(path: Path) -> None:
    """A result file of the older project: reasoning lines, then a metadata line."""
    lines = [
        {"task_id": "007bbfb7", "reasoning": "Each cell becomes a copy of the grid."},
        {"entry_type": "metadata", "benchmark_type": "reasoning_generation",
         "timestamp": "2025-05-04 16:56:06", "model_identifier": "GEMINI_FLASH",
         "model_username": "google/gemini-2.0-flash-001"},
    ]  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))


def _earlier_stores(data: Path) -> None:
    """The JSON stores an earlier version of the project kept in data/."""
    write_json(data / "traces_store.json", legacy_store(2, 2))
    variant = {"task_id": "aaa", "version": 1, "signed_by": ["alice"], **TASK_A}
    write_json(data / "variations.json", [variant])


PREREQUISITES: dict[str, Callable[[Path, Callable[..., None]], None]] = {
    "runs/shard-2": lambda cwd, arcbench: arcbench(
        "traces",
        "--model",
        "LOCAL_0",
        "--shard",
        "2/2",
        "--max-tasks",
        "3",
        "--run-name",
        "shard-2",
    ),  # the other half of `--shard 1/2`, run on another machine
    "old/reasoning_results.jsonl": lambda cwd, _: _legacy_results(
        cwd / "old/reasoning_results.jsonl"
    ),
    "data/traces_store.json": lambda cwd, _: _earlier_stores(cwd / "data"),
}


PRICES = """[models."openrouter/openai/gpt-4o-mini"]
input_price = 0.15
output_price = 0.60
"""
"""What a user adds to models.toml before capping a run's cost (`--max-cost`)."""


class Examples:
    """Runs example lines in one directory against one fake server."""

    def __init__(self, cwd: Path, server: FakeServer, tmp: Path) -> None:
        self.cwd = cwd
        self.server = server
        bin_dir = tmp / "bin"
        bin_dir.mkdir(exist_ok=True)
        shim = bin_dir / "arcbench"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m arcbench "$@"\n')
        shim.chmod(0o755)
        self.env = cli_env(
            PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            ARCBENCH_BASE_URL=server.url,
            OPENROUTER_API_KEY="sk-or-test-not-a-key",
            ARCBENCH_PORT="0",
            BROWSER="true",
            ARCBENCH_RETRY_WAIT_INITIAL="0",
            ARCBENCH_RETRY_WAIT_MAX="0",
        )

    def arcbench(self, *args: str) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "arcbench", *args],
            cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert result.returncode == 0, (args, result.stderr)

    def prepare(self, line: str) -> None:
        for path, make in PREREQUISITES.items():
            if path in line and not (self.cwd / path).exists():
                make(self.cwd, self.arcbench)
        if "--max-cost" in line and not (self.cwd / "models.toml").exists():
            (self.cwd / "models.toml").write_text(PRICES)

    def as_run(self, line: str) -> str:
        for host in FAKE_HOSTS:
            line = line.replace(host, self.server.url)
        words = line.split()
        runs_a_model = words[1] in ("traces", "codegen")
        if runs_a_model and not {"--max-tasks", "--task-ids", "--tasks"} & set(words):
            line = line.replace(f"arcbench {words[1]}", f"arcbench {words[1]} --max-tasks 3", 1)
        return line

    def run(self, line: str) -> str:
        """Run one example line as a shell would; its output. A failure names the line."""
        self.prepare(line)
        command = self.as_run(line)
        if line.split()[1] == "serve-ui":
            return self._serve(command)
        result = subprocess.run(
            ["sh", "-c", command],
            cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"{line}\n(run as: {command})\n{result.stderr}"
        assert "Traceback" not in result.stderr, line
        return result.stdout

    def _serve(self, command: str) -> str:
        """Start the web app, fetch the page it announces, stop it with Ctrl+C."""
        process = subprocess.Popen(
            ["sh", "-c", f"exec {command}"],
            cwd=self.cwd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert process.stdout is not None
        first = process.stdout.readline()
        address = re.search(r"(http://\S+)", first)
        try:
            if address is not None:
                url = address.group(1).replace("0.0.0.0", "127.0.0.1")
                assert httpx.get(url, follow_redirects=True, timeout=30).status_code == 200
        finally:
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=60)
        assert address is not None, (command, first, err)
        assert process.returncode == 0, (command, err)
        return first + out


@pytest.fixture
def examples(tmp_path: Path, fake_server: FakeServer) -> Examples:
    cwd = tmp_path / "work"
    cwd.mkdir()
    return Examples(cwd, fake_server, tmp_path)


SLOW = pytest.mark.timeout(1800)
"""Some thirty commands, each a new Python process (1-10 s apiece on a busy machine): the
suite's 300 s per test does not fit them, each command's own 600 s bound does."""


@SLOW
def test_every_command_has_examples_and_every_one_runs(examples: Examples) -> None:
    commands = help_commands()
    assert sorted(HELP_ORDER) == sorted(commands)  # a new command joins HELP_ORDER
    ran = 0
    for path in HELP_ORDER:
        for line in help_examples(commands[path].help):
            examples.run(line)
            ran += 1
    assert ran >= 25


@SLOW
def test_every_example_of_the_readme_runs(examples: Examples) -> None:
    lines = readme_examples()
    assert len(lines) >= 30
    for line in lines:
        examples.run(line)


def test_the_readme_examples_are_the_ones_read_here() -> None:
    """The reader of the README finds what a person sees: here, a sample of known lines."""
    lines = readme_examples()
    assert "arcbench codegen --model baseline --dataset arc-agi-1/training" in lines
    assert "arcbench tasks show 007bbfb7 --reveal | less" in lines
    assert 'arcbench serve-ui --host 0.0.0.0 --token "$(openssl rand -hex 16)"' in lines


# -- how the help reads at 80 columns --------------------------------------------------------------


def _help(path: str, columns: int) -> str:
    result = run_cli(*path.split(), "--help", env=cli_env(COLUMNS=str(columns)))
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("path", ["", *HELP_ORDER, "tasks", "store", "models"])
@pytest.mark.parametrize("columns", [80, 120])
def test_help_reads_well_at_80_and_120_columns(path: str, columns: int) -> None:
    text = _help(path, columns)
    lines = text.splitlines()
    assert all(len(line) <= columns for line in lines)
    for placeholder in ("<bool>", "<str>", "<int>", "<float>", "<path>", "<list[", "{", "…"):
        assert placeholder not in text, (path, placeholder)
    command = help_commands().get(path)
    if command is None:
        return
    # Examples whole, each on one line.
    raw = [line.strip() for line in command.help.split("Examples:")[1].splitlines() if line.strip()]
    shown = [line.strip(" │") for line in lines]
    for line in raw:
        assert line in shown, (path, line)
    # Prose wrapped once: each line of a paragraph is as full as the next word allows.
    prose = text.split("Examples:")[0].split("╭")[0].splitlines()[2:]
    paragraphs: list[list[str]] = [[]]
    for line in prose:
        if line.strip():
            paragraphs[-1].append(line.strip())
        else:
            paragraphs.append([])
    for rows in paragraphs:
        for row, following in itertools.pairwise(rows):
            assert len(row) + 1 + len(following.split()[0]) > columns - 2, (path, row, following)
