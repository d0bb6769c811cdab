"""The sandbox finds a Python installation wherever it lives, /tmp included, and shows programs
only its interpreter, standard library and numpy."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
import venv
from pathlib import Path

import numpy
import pytest

from sandboxing import full_isolation  # noqa: F401

pytestmark = pytest.mark.usefixtures("full_isolation")


def test_numpy_of_a_copied_venv_under_tmp_imports_and_nothing_else_shows(tmp_path: Path) -> None:
    """A CI runner's venv often lives in /tmp, where the program's own /tmp is mounted. Here the
    interpreter itself is a copy under /tmp and numpy is installed in the venv; a module beside
    numpy in the venv's site-packages must stay out of sight."""
    assert str(tmp_path).startswith("/tmp/")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, symlinks=False, with_pip=False)
    site = next((env_dir / "lib").glob("python3*/site-packages"))
    numpy_source = Path(numpy.__file__).parent
    shutil.copytree(numpy_source, site / "numpy", symlinks=True)
    if numpy_source.with_name("numpy.libs").is_dir():
        shutil.copytree(numpy_source.with_name("numpy.libs"), site / "numpy.libs", symlinks=True)
    (site / "venv_only_module.py").write_text("ANSWER = [[4, 2]]\n")
    script = textwrap.dedent(
        """
        import numpy
        assert numpy.__file__.startswith(SITE), numpy.__file__
        from arcbench.sandbox import SyncSandbox
        code = (
            "import numpy, os, sys\\n"
            "def transform(grid):\\n"
            "    found = []\\n"
            "    try:\\n"
            "        import venv_only_module\\n"
            "        found.append('venv_only_module')\\n"
            "    except ImportError:\\n"
            "        pass\\n"
            "    for name in os.listdir(SITE):\\n"
            "        found.append(name)\\n"
            "    assert sys.executable.startswith('/tmp/'), sys.executable\\n"
            "    return [[len(found), int(numpy.__file__.startswith(SITE))]]\\n"
        )
        removal = (
            "import os, shutil\\n"
            "def transform(grid):\\n"
            "    top = SITE.split('/')[2]\\n"
            "    shutil.rmtree('/tmp/' + top, ignore_errors=True)\\n"
            "    for name in os.listdir('/tmp'):\\n"
            "        try:\\n"
            "            os.rename('/tmp/' + name, '/tmp/moved')\\n"
            "        except OSError:\\n"
            "            pass\\n"
            "    return grid\\n"
        )
        with SyncSandbox(workers=1) as sandbox:
            first = sandbox.check(code, [[[0]]])[0]
            sandbox.check(removal, [[[0]]])
            again = sandbox.check(code, [[[0]]])[0]
            replaced = sandbox.sandbox.stats.workers_replaced
        print(first.status, first.grid, first.message, again.grid, replaced)
        """
    ).replace("SITE", repr(str(site)))
    src = Path(__file__).resolve().parents[1] / "src"
    result = subprocess.run(
        [env_dir / "bin" / "python", "-c", script],
        capture_output=True,
        text=True,
        timeout=180,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(src)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # Only numpy and numpy.libs (if vendored) are in the venv's site-packages, numpy imports
    # from there, and a program that tries to remove the installation from /tmp changes nothing.
    expected = 2 if (site / "numpy.libs").is_dir() else 1
    assert result.stdout.split() == [
        "ok",
        f"[[{expected},",
        "1]]",
        "None",
        f"[[{expected},",
        "1]]",
        "0",
    ]
