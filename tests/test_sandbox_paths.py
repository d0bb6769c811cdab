"""The sandbox finds a Python installation wherever it lives, /tmp included."""

from __future__ import annotations

import subprocess
import textwrap
import venv
from pathlib import Path


def test_packages_of_a_venv_under_tmp_are_importable(tmp_path: Path) -> None:
    """A CI runner's venv often lives in /tmp, where the program's own /tmp is mounted."""
    assert str(tmp_path).startswith("/tmp/")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    site = next((env_dir / "lib").glob("python3*/site-packages"))
    (site / "venv_only_module.py").write_text("ANSWER = [[4, 2]]\n")
    script = textwrap.dedent(
        """
        from arcbench.sandbox import SyncSandbox
        code = (
            "import venv_only_module\\n"
            "def transform(grid):\\n    return venv_only_module.ANSWER\\n"
        )
        with SyncSandbox() as sandbox:
            outcome = sandbox.check(code, [[[0]]])[0]
        print(outcome.status, outcome.grid, outcome.message)
        """
    )
    src = Path(__file__).resolve().parents[1] / "src"
    result = subprocess.run(
        [env_dir / "bin" / "python", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(src)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok [[4, 2]] None", result.stdout
