"""Files a command is asked to write (`report --submission/--html`, `tasks augment --out`): a
file is replaced atomically, while a pipe or a device (`/dev/stdout`) is written straight
through — a rename would put a regular file where the device was, and print nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest

from conftest import in_sandbox, run_cli

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="needs bubblewrap for a private /dev and programs"
)


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """A real run: the offline baseline on three bundled tasks."""
    result = run_cli(
        "codegen", "--model", "baseline", "-d", "arc-agi-1/training", "--max-tasks", "3",
        "--out", str(tmp_path), "--run-name", "run",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return tmp_path / "run"


def task_ids(submission: bytes) -> list[str]:
    return sorted(orjson.loads(submission))


@needs_bwrap
def test_report_files_given_as_standard_output_are_written_through(run: Path) -> None:
    result = in_sandbox(
        f'"$PY" -m arcbench report {run} --submission /dev/stdout > submission.json && '
        f'"$PY" -m arcbench report {run} --html /dev/stdout | cat > report.html && '
        "test -L /dev/stdout && echo device-intact"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "device-intact\n"
    assert len(task_ids(Path("submission.json").read_bytes())) == 3
    assert Path("report.html").read_text().startswith("<!doctype html>")


@needs_bwrap
def test_augmented_variants_given_as_standard_output_are_written_through() -> None:
    result = in_sandbox(
        '"$PY" -m arcbench tasks augment -d arc-agi-1/training --max-tasks 2 '
        "--transforms rot90 --out /dev/stdout | cat > variants.json && "
        "test -L /dev/stdout && echo device-intact"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "device-intact\n"
    variants = orjson.loads(Path("variants.json").read_bytes())
    assert [v["transforms"] for v in variants] == [["rot90"], ["rot90"]]


@needs_bwrap
def test_an_output_into_a_fifo_keeps_the_fifo(run: Path, tmp_path: Path) -> None:
    """A named pipe is written through, and stays a pipe."""
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    with subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE) as reader:
        try:
            result = run_cli("report", str(run), "--submission", str(fifo))
            read, _ = reader.communicate(timeout=60 if result.returncode == 0 else 0.1)
        finally:
            reader.kill()
    assert result.returncode == 0, result.stderr
    assert len(task_ids(read)) == 3
    assert fifo.is_fifo()


@needs_bwrap
def test_a_file_output_is_replaced_whole(run: Path, tmp_path: Path) -> None:
    target = tmp_path / "submission.json"
    target.write_text("old")
    result = run_cli("report", str(run), "--submission", str(target))
    assert result.returncode == 0, result.stderr
    assert len(task_ids(target.read_bytes())) == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
