"""A non-editable install works on its own: the built wheel, installed with the dependencies it
declares into a fresh, isolated virtual environment (no site-packages of the test's own Python,
whether that is a system Python or itself a virtualenv), runs its commands outside the checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import httpx
import orjson

from webapp import ServeProcess

ROOT = Path(__file__).resolve().parents[1]


def _isolated_env() -> dict[str, str]:
    """The test's environment without anything that would make Python find this checkout or
    the test's own packages (PYTHONPATH, an active virtualenv)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}
        and not name.startswith("ARCBENCH_")
    }
    env.update(NO_COLOR="1", COLUMNS="100")
    return env


def test_wheel_installs_with_its_dependencies_and_runs_outside_the_checkout(
    tmp_path: Path,
) -> None:
    env = _isolated_env()
    wheels = tmp_path / "wheels"
    build = ["wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(ROOT)]
    subprocess.run(
        [sys.executable, "-m", "pip", *build],
        check=True,
        capture_output=True,
        timeout=300,
        env=env,
    )
    wheel = next(wheels.glob("arcbench-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=False, with_pip=False)
    python = env_dir / "bin" / "python"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(a) for a in args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=300,
            check=False,
        )

    where = run(python, "-c", "import arcbench, sys; print(arcbench.__file__, sys.path)")
    assert where.stdout.startswith(str(env_dir)), where.stdout + where.stderr
    assert str(ROOT) not in where.stdout  # nothing of the checkout is on the path
    script = env_dir / "bin" / "arcbench"
    helped = run(script, "--help")
    assert helped.returncode == 0, helped.stderr
    assert "tasks" in helped.stdout
    listed = run(script, "tasks", "list", "--dataset", "arc-agi-1/evaluation", "--json")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count('"id"') == 400
    # The prompt templates ship inside the wheel.
    prompts = run(
        python,
        "-c",
        "from arcbench.prompts import template_text as t; "
        "print(all(t(n) for n in ('traces', 'codegen', 'codegen_repair')))",
    )
    assert prompts.stdout.strip() == "True", prompts.stderr
    # The web app's front end ships inside the wheel and is served from there.
    static = run(python, "-c", "from arcbench.web.static import static_dir; print(static_dir())")
    assert static.stdout.strip() == str(Path(where.stdout.split()[0]).parent / "web_static"), (
        static.stderr
    )
    with ServeProcess(cwd=tmp_path, env=env, command=[str(script)]) as app:
        page = httpx.get(f"{app.url}/")
        assert page.status_code == 200
        assert "js/main.js" in page.text
        for asset in ("/js/main.js", "/js/editor.js", "/style.css", "/favicon.svg"):
            assert httpx.get(f"{app.url}{asset}").status_code == 200, asset
    # A whole job runs from the installed package alone (weak isolation: works on any machine).
    job = run(
        script,
        "codegen",
        "--model",
        "baseline",
        "-d",
        "arc-agi-1/training",
        "--task-ids",
        "3c9b0459",
        "--sandbox",
        "weak",
        "--run-name",
        "wheel",
    )
    assert job.returncode == 0, job.stderr
    manifest = orjson.loads((tmp_path / "runs" / "wheel" / "run.json").read_bytes())
    assert manifest["status"] == "completed"
    assert manifest["score"]["score"] == 1.0
