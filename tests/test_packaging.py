"""A non-editable install (a built wheel in a fresh virtual environment) works on its own."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import httpx

from conftest import cli_env
from webapp import ServeProcess

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_installs_and_runs_outside_the_checkout(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(wheels.glob("arcbench-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    python = env_dir / "bin" / "python"
    # The installed copy only: a PYTHONPATH pointing at a checkout would shadow it.
    outside = {k: v for k, v in cli_env().items() if k != "PYTHONPATH"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "-q",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    script = env_dir / "bin" / "arcbench"

    def installed(*command: str | Path) -> subprocess.CompletedProcess[str]:
        """Run a program of the virtualenv outside the checkout, without PYTHONPATH."""
        return subprocess.run(
            command, capture_output=True, text=True, cwd=tmp_path, env=outside, check=False
        )

    where = installed(python, "-c", "import arcbench; print(arcbench.__file__)").stdout
    assert where.startswith(str(env_dir)), where
    result = installed(script, "--help")
    assert result.returncode == 0, result.stderr
    assert "tasks" in result.stdout
    listed = installed(script, "tasks", "list", "--dataset", "arc-agi-1/evaluation", "--json")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count('"id"') == 400
    # The prompt templates ship inside the wheel.
    prompts = installed(
        python,
        "-c",
        "from arcbench.prompts import template_text as t; "
        "print(all(t(n) for n in ('traces', 'codegen', 'codegen_repair')))",
    )
    assert prompts.stdout.strip() == "True", prompts.stderr
    # The web app's front end ships inside the wheel and is served from there.
    static = installed(
        python, "-c", "from arcbench.web.static import static_dir; print(static_dir())"
    )
    assert static.stdout.strip() == str(Path(where.strip()).parent / "web_static"), static.stderr
    with ServeProcess(cwd=tmp_path, env=outside, command=[str(script)]) as app:
        page = httpx.get(f"{app.url}/")
        assert page.status_code == 200
        assert "js/main.js" in page.text
        for asset in ("/js/main.js", "/js/editor.js", "/style.css", "/favicon.svg"):
            assert httpx.get(f"{app.url}{asset}").status_code == 200, asset
