"""Shared fixtures: every test runs in its own empty working directory with a clean environment.

`run_cli` runs the real installed `arcbench` console script in a subprocess, as a user would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from fakeserver import FakeServer

_LEAKY_PREFIXES = ("ARCBENCH_", "OPENROUTER_", "OPENAI_")


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty working directory and no arcbench/provider variables leaking in from outside."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(_LEAKY_PREFIXES):
            monkeypatch.delenv(name)


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a CLI subprocess: the test's own, plain output, no colour."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_LEAKY_PREFIXES)}
    env.update({"NO_COLOR": "1", "COLUMNS": "100", "TERM": "dumb"})
    env.update(extra)
    return env


def run_cli(
    *args: str, env: dict[str, str] | None = None, input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `arcbench ARGS…` (the installed console script's module) and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "arcbench", *args],
        capture_output=True,
        text=True,
        env=env or cli_env(),
        input=input,
        timeout=timeout,
        check=False,
    )


def in_sandbox(script: str, *binds: str) -> subprocess.CompletedProcess[str]:
    """Run a shell `script` (with `$PY` for this Python) where /dev is a private copy, so
    that a regression writing over a device damages only the sandbox; `binds` are more bwrap
    arguments."""
    return subprocess.run(
        ["bwrap", "--dev-bind", "/", "/", "--dev", "/dev", *binds, "sh", "-c", script],
        capture_output=True, text=True, check=False, env=cli_env(PY=sys.executable),
    )  # fmt: skip


def traces_args(server_url: str, *args: str) -> tuple[str, ...]:
    """`traces --model LOCAL_0 --base-url URL ARGS…`: a traces run against a fake server."""
    return ("traces", "--model", "LOCAL_0", "--base-url", server_url, *args)


def read_records(run_dir: Path) -> list[dict[str, Any]]:
    """Every record of a run's results.jsonl, in order."""
    return [
        orjson.loads(line)
        for line in (run_dir / "results.jsonl").read_bytes().splitlines()
        if line.strip()
    ]


def start_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start `arcbench ARGS…` in a subprocess without waiting (for signals), output captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "arcbench", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env or cli_env(),
    )


def wait_for_lines(path: Path, count: int, timeout: float = 60) -> None:
    """Wait until the file at `path` (a run's results.jsonl) holds `count` complete lines."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"{path} never reached {count} records")


@pytest.fixture
def cli() -> object:
    """The `run_cli` function, for tests that prefer a fixture."""
    return run_cli


# -- model client: retry waits zeroed, a fake OpenAI-compatible server ---------------------------


@pytest.fixture(autouse=True)
def _no_retry_waits() -> Iterator[None]:
    """stamina's test mode: backoff waits are zero, while each call keeps its own attempt limit."""
    import stamina

    with stamina.set_testing(True, attempts=1000, cap=True):
        yield


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    """A scriptable OpenAI-compatible server on 127.0.0.1 (see tests/fakeserver.py).

    It runs in a thread of the test process, so CLI subprocesses can reach it at `.url` too.
    """
    with FakeServer() as server:
        yield server


# The browser tests' fixtures, for every test module (imported last: `browsing` uses `cli_env`).
from browsing import app, browser, watched  # noqa: E402, F401
