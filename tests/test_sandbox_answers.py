"""A program cannot find the answers: it sees only the interpreter, the standard library and
numpy, and no dataset file, no arcbench, no other package and no run directory.

The hostile program below searches every file it can read for the inputs it is given and, in
any JSON that holds one, takes the matching output. Run with weak isolation (the host's files)
it finds the answers and scores 100%, so the search works; with full isolation it must score 0
for every bundled dataset and for a dataset given as a directory.
"""

from __future__ import annotations

import os
import random
import sys
import sysconfig
from pathlib import Path
from typing import Any

import numpy
import orjson
import pytest

from arcbench.datasets import BUNDLED_SPECS, load_dataset
from arcbench.sandbox import SyncSandbox
from conftest import cli_env, run_cli
from fakeserver import FakeServer
from sandboxing import full_isolation, program  # noqa: F401
from taskdata import write_json

pytestmark = pytest.mark.usefixtures("full_isolation")

SEARCH = program(
    '''
    import json, os, stat, sys

    FILES = []
    SEARCHED = [0, 0]


    def readable_files():
        """Every regular file in reach: JSON files first, in likely places first."""
        yield from walk(lambda name: name.endswith(".json"))
        yield from walk(lambda name: True)


    def walk(wanted):
        roots = [p for p in sys.path if p] + ["/tmp", os.getcwd(), "/"]
        seen = set()
        for root in roots:
            for directory, subdirectories, names in os.walk(root):
                if directory.startswith(("/proc", "/sys", "/dev")):
                    subdirectories[:] = []
                    continue
                for name in filter(wanted, names):
                    path = os.path.join(directory, name)
                    try:
                        info = os.stat(path, follow_symlinks=False)
                    except OSError:
                        continue
                    if stat.S_ISREG(info.st_mode) and 0 < info.st_size < 64 << 20:
                        key = (info.st_dev, info.st_ino)
                        if key not in seen:
                            seen.add(key)
                            yield path


    def answers_for(grid, data):
        """Outputs paired with `grid` anywhere in a JSON document."""
        stack = [data]
        while stack:
            value = stack.pop()
            if isinstance(value, dict):
                if value.get("input") == grid and "output" in value:
                    yield value["output"]
                stack.extend(value.values())
            elif isinstance(value, list):
                stack.extend(value)


    def transform(grid):
        needles = [json.dumps(grid).encode(), json.dumps(grid, separators=(",", ":")).encode()]
        for path in readable_files():
            try:
                with open(path, "rb") as handle:
                    content = handle.read()
            except OSError:
                continue
            SEARCHED[0] += 1
            SEARCHED[1] += len(content)
            if any(needle in content for needle in needles):
                try:
                    for answer in answers_for(grid, json.loads(content)):
                        return answer
                except ValueError:
                    pass
        raise LookupError(f"no answer in {SEARCHED[0]} files, {SEARCHED[1]} bytes")
    '''
)
REPLY = f"I will look the answer up.\n```python\n{SEARCH}```"


def _records(name: str) -> list[dict[str, Any]]:
    lines = Path(f"runs/{name}/results.jsonl").read_bytes().splitlines()
    return [orjson.loads(line) for line in lines if line.strip()]


def _score(name: str) -> float:
    return float(orjson.loads(Path(f"runs/{name}/run.json").read_bytes())["score"]["score"])


def _codegen(server: FakeServer, name: str, *args: str) -> None:
    server.reset()
    server.reply_text = REPLY
    result = run_cli(
        "codegen",
        *("--model", "LOCAL_0", "--base-url", server.url, "--run-name", name),
        *("--attempts", "1", "--exec-timeout", "60", "-j", "1", *args),
        env=cli_env(),
        timeout=600,
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture
def unique_task(tmp_path: Path) -> Path:
    """A dataset directory (under /tmp, where the program's own /tmp is) with one task whose
    answer exists nowhere else."""
    rng = random.Random()

    def grid() -> list[list[int]]:
        return [[rng.randrange(10) for _ in range(12)] for _ in range(12)]

    pairs = [{"input": grid(), "output": grid()} for _ in range(3)]
    task = {"train": pairs[:2], "test": pairs[2:]}
    return write_json(tmp_path / "data" / "secret_task.json", task).parent


def test_the_search_finds_the_answers_where_the_files_are_visible(
    fake_server: FakeServer, unique_task: Path
) -> None:
    """The control: with weak isolation (no filesystem namespace) the same program scores 100%
    on the dataset directory and on the bundled default dataset."""
    _codegen(fake_server, "weak-dir", "-d", str(unique_task), "--sandbox", "weak")
    assert _score("weak-dir") == 1.0
    _codegen(fake_server, "weak-bundled", "--task-ids", "0934a4d8", "--sandbox", "weak")
    assert _score("weak-bundled") == 1.0


def test_a_program_cannot_find_the_answers_of_a_dataset_directory(
    fake_server: FakeServer, unique_task: Path
) -> None:
    _codegen(fake_server, "dir", "-d", str(unique_task))
    assert _score("dir") == 0.0
    [record] = _records("dir")
    assert record["correct"] == [False]
    detail = record["test_results"][0]["detail"]
    assert "LookupError: no answer in" in detail
    searched = int(detail.split("no answer in ")[1].split()[0])
    assert searched > 1000  # it did look: the standard library alone is thousands of files


def test_a_program_cannot_find_the_answers_of_the_bundled_datasets(
    fake_server: FakeServer,
) -> None:
    _codegen(fake_server, "bundled", "--task-ids", "0934a4d8")  # the default dataset
    assert _score("bundled") == 0.0
    with SyncSandbox(workers=1) as sandbox:
        for spec in BUNDLED_SPECS:
            task = load_dataset(spec).tasks[0]
            outcomes = sandbox.check(SEARCH, [test.input for test in task.test], timeout_s=60)
            assert [o.status for o in outcomes] == ["error"] * len(task.test), spec
            assert all("LookupError: no answer in" in (o.message or "") for o in outcomes)


INVENTORY = program(
    """
    import os, stat
    def transform(grid):
        files, outside = 0, []
        for directory, subdirectories, names in os.walk("/"):
            if directory == "/":
                subdirectories[:] = [d for d in subdirectories if d not in ("proc", "sys", "dev")]
            for name in names:
                path = os.path.join(directory, name)
                try:
                    if not stat.S_ISREG(os.stat(path, follow_symlinks=False).st_mode):
                        continue
                except OSError:
                    continue
                files += 1
                if path.startswith(NUMPY):
                    continue
                if "/site-packages/" in path or "/dist-packages/" in path:
                    outside.append(path)
                elif not path.startswith(OTHERS) and not LIBRARY(name):
                    outside.append(path)
        raise RuntimeError(f"{files} files; outside: {sorted(outside)[:20]} ({len(outside)})")
    """
)


def test_a_program_sees_only_the_interpreter_the_standard_library_and_numpy() -> None:
    """Every regular file a program can find is part of numpy, of the standard library outside
    its site-packages directory, the interpreter, or a shared library."""
    numpy_dir = os.path.dirname(numpy.__file__)
    stdlib = sysconfig.get_path("stdlib")
    code = (
        INVENTORY.replace("NUMPY", repr((f"{numpy_dir}/", f"{numpy_dir}.libs/")))
        .replace("OTHERS", repr((f"{stdlib}/", os.path.realpath(sys.executable))))
        .replace("LIBRARY(name)", "('.so' in name and name.startswith(('lib', 'ld-')))")
    )
    with SyncSandbox(workers=1) as sandbox:
        [outcome] = sandbox.check(code, [[[0]]], timeout_s=60)
        [[proc, sys_dir]] = sandbox.check(
            "import os\ndef transform(grid):\n"
            "    return [[len(os.listdir('/proc')), int(os.path.exists('/sys'))]]\n",
            [[[0]]],
        )[0].grid or [[-1, -1]]
        message = outcome.message or ""
        files = int(message.removeprefix("RuntimeError: ").split()[0])
        assert files > 1000, message
        assert message.endswith("outside: [] (0)"), message
        assert (proc, sys_dir) == (0, 0)  # /proc and /sys, left out of the walk, hold nothing
        site = os.path.dirname(numpy_dir)
        listing = (
            "import os\n"
            f"def transform(grid):\n    raise RuntimeError(sorted(os.listdir({site!r})))\n"
        )
        [outcome] = sandbox.check(listing, [[[0]]])
    visible = {"numpy", "numpy.libs"} & set(os.listdir(os.path.dirname(numpy_dir)))
    assert outcome.message == f"RuntimeError: {sorted(visible)}"
