"""SIGINT and SIGTERM at any moment of a command: real signals to the real CLI.

Whenever a signal lands — during start-up, while the dataset loads, while the run directory is
being opened, while requests are in flight, while the run is closed or its result printed, or
while the process exits — the command exits with 128 + the signal's number (never by the signal
itself), prints no traceback, never leaves `run.json` at `running`, and a resume completes the
run without asking anything twice.

A signal is only sent once the process handles it (its `SigCgt` mask in /proc says so): before
that the interpreter itself is starting, and no program can catch anything yet.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from conftest import cli_env, read_records, traces_args
from fakeserver import FakeServer
from taskdata import TASK_A, TASK_B, write_json

FAST = {
    "ARCBENCH_RETRY_WAIT_INITIAL": "0",
    "ARCBENCH_RETRY_WAIT_MAX": "0",
    "ARCBENCH_RETRY_WAIT_JITTER": "0",
}
ATTEMPTS = 6  # the dataset below: 3 test inputs, 2 attempts each


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return write_json(tmp_path / "small.json", {"aaa": TASK_A, "bbb": TASK_B})


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "arcbench", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(**FAST),
        start_new_session=True,  # a process group of its own, as a shell job has
    )


def _wait_until_handled(proc: subprocess.Popen[str], timeout: float = 30) -> None:
    """Wait until the process has handlers for SIGINT and SIGTERM (its SigCgt mask)."""
    wanted = (1 << (signal.SIGINT - 1)) | (1 << (signal.SIGTERM - 1))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
        except OSError:
            break
        caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
        if int(caught.split()[1], 16) & wanted == wanted:
            return
        time.sleep(0.001)
    raise AssertionError(f"the command never handled SIGINT and SIGTERM: {proc.poll()}")


def _traces_args(server: FakeServer, dataset: Path, name: str) -> tuple[str, ...]:
    return traces_args(server.url, "-d", str(dataset), "-j", "2", "--run-name", name)


def _manifest(name: str) -> dict[str, Any] | None:
    path = Path("runs") / name / "run.json"
    return dict(orjson.loads(path.read_bytes())) if path.exists() else None


def _slow_run_after(server: FakeServer, dataset: Path, name: str, delay: float) -> Any:
    """A traces run of six 0.3 s requests, `delay` seconds after it handles signals."""
    server.latency = 0.3
    proc = _start(*_traces_args(server, dataset, name))
    _wait_until_handled(proc)
    time.sleep(delay)
    return proc


def _check_stopped(proc: subprocess.Popen[str], sig: int, name: str, *others: int) -> None:
    """The command ended cleanly: by exit status, without traceback, run.json final."""
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode in (0, 128 + sig, *(128 + s for s in others)), (proc.returncode, stderr)
    assert "Traceback" not in stderr, stderr
    manifest = _manifest(name)
    if manifest is not None:
        assert manifest["status"] in ("interrupted", "completed"), manifest["status"]


def _check_resume(server: FakeServer, dataset: Path, name: str) -> None:
    asked_before = len(server.chat_requests)
    results = Path("runs") / name / "results.jsonl"
    written = results.read_bytes().count(b"\n") if results.exists() else 0
    resumed = subprocess.run(
        [sys.executable, "-m", "arcbench", *_traces_args(server, dataset, name)],
        capture_output=True,
        text=True,
        env=cli_env(**FAST),
        timeout=120,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    manifest = _manifest(name)
    assert manifest is not None
    assert manifest["status"] == "completed"
    records = read_records(results.parent)
    assert len({r["record_id"] for r in records}) == ATTEMPTS
    assert len(server.chat_requests) - asked_before == ATTEMPTS - written  # nothing asked twice


# Delays after the handlers are in place: start-up imports, settings and dataset loading,
# discovery, the run in flight (six 0.3 s requests, two at a time), closing and exiting.
DELAYS = (0.0, 0.01, 0.05, 0.12, 0.25, 0.5, 0.8, 1.2, 1.8, 2.6)


@pytest.mark.parametrize("delay", DELAYS)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_at_any_moment_ends_the_command_cleanly(
    fake_server: FakeServer, dataset: Path, sig: int, delay: float
) -> None:
    proc = _slow_run_after(fake_server, dataset, "sig", delay)
    proc.send_signal(sig)
    _check_stopped(proc, sig, "sig")
    fake_server.latency = 0.0
    _check_resume(fake_server, dataset, "sig")


@pytest.mark.parametrize("delay", [0.0, 0.1, 0.4, 0.9, 1.5])
@pytest.mark.parametrize(
    ("first", "second"),
    [(signal.SIGINT, signal.SIGINT), (signal.SIGTERM, signal.SIGINT)],
    ids=["INT-INT", "TERM-INT"],
)
def test_two_quick_signals_never_kill_the_process(
    fake_server: FakeServer, dataset: Path, first: int, second: int, delay: float
) -> None:
    proc = _slow_run_after(fake_server, dataset, "twice", delay)
    os.killpg(proc.pid, first)  # the whole process group, as a terminal's Ctrl+C does
    time.sleep(0.02)
    os.killpg(proc.pid, second)
    _check_stopped(proc, first, "twice", second)
    fake_server.latency = 0.0
    _check_resume(fake_server, dataset, "twice")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_storm_of_signals_from_start_to_exit(
    fake_server: FakeServer, dataset: Path, sig: int
) -> None:
    """A signal every few milliseconds for the whole life of the command: whichever line each
    lands on, including after the run completed and while the process exits."""
    fake_server.latency = 0.05
    name = "storm"
    proc = _start(*_traces_args(fake_server, dataset, name))
    _wait_until_handled(proc)
    sent = 0

    def storm() -> None:
        nonlocal sent
        while proc.poll() is None:
            try:
                proc.send_signal(sig)
            except ProcessLookupError:
                return
            sent += 1
            time.sleep(0.003)

    thread = threading.Thread(target=storm)
    thread.start()
    _check_stopped(proc, sig, name)
    thread.join()
    assert sent > 1
    assert proc.returncode == 128 + sig
    fake_server.latency = 0.0
    _check_resume(fake_server, dataset, name)


@pytest.mark.parametrize("delay", [0.3, 0.6, 1.0])
def test_a_signal_after_the_run_completed(
    fake_server: FakeServer, dataset: Path, delay: float
) -> None:
    """A finished run stays finished: a Ctrl+C while the result prints or the process exits
    only changes the exit status."""
    name = "done"
    first = _start(*_traces_args(fake_server, dataset, name))
    first.communicate(timeout=60)
    assert first.returncode == 0
    proc = _start(*_traces_args(fake_server, dataset, name))  # nothing left to do: it closes
    _wait_until_handled(proc)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _check_stopped(proc, signal.SIGINT, name)
    manifest = _manifest(name)
    assert manifest is not None
    assert manifest["status"] == "completed"


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_a_command_without_a_run(sig: int, delay: float) -> None:
    proc = _start("tasks", "list", "--dataset", "arc-agi-2/training")
    _wait_until_handled(proc)
    time.sleep(delay)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode in (0, 128 + sig), (proc.returncode, stderr)
    assert "Traceback" not in stderr, stderr
    if proc.returncode:
        assert stderr.strip().endswith(f"arcbench: interrupted ({signal.Signals(sig).name})")


@pytest.mark.parametrize("delay", [0.05, 0.15, 0.25, 0.35, 0.5, 0.8, 1.5])
def test_a_signal_while_codegen_starts_its_sandbox(delay: float) -> None:
    """`codegen` imports and starts the sandbox in its first second; a Ctrl+C there (to the whole
    process group, as a terminal sends it) ends the command cleanly too, and a resume finishes."""
    args = ("codegen", "--model", "baseline", "-d", "arc-agi-1/training", "--max-tasks", "30")
    proc = _start(*args, "--run-name", "cg")
    _wait_until_handled(proc)
    time.sleep(delay)
    os.killpg(proc.pid, signal.SIGINT)
    _check_stopped(proc, signal.SIGINT, "cg")
    resumed = subprocess.run(
        [sys.executable, "-m", "arcbench", *args, "--run-name", "cg"],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=300,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    manifest = _manifest("cg")
    assert manifest is not None
    assert manifest["status"] == "completed"
    assert manifest["counts"]["tasks"] == 30
