"""Nothing a program does to its own files breaks the cleanup after it: the worker survives (it
is not replaced), the next check passes and finds its /tmp and /dev/shm empty. And a program
that does break its worker, twice, is an outcome of its own, not a sandbox failure that a
resumed run would retry for ever."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from arcbench.sandbox import Sandbox, SandboxError, SyncSandbox
from conftest import cli_env, run_cli
from fakeserver import FakeServer
from sandboxing import (  # noqa: F401
    GRID,
    assert_still_works,
    descendants,
    full_isolation,
    program,
)
from taskdata import write_json

pytestmark = pytest.mark.usefixtures("full_isolation")

LOOK = program(
    """
    import os
    def transform(grid):
        mode = os.stat("/tmp").st_mode & 0o7777
        return [[len(os.listdir("/tmp")), len(os.listdir("/dev/shm")), int(mode == 0o1777)]]
    """
)
FLIP_TASK = {
    "train": [{"input": [[1, 0]], "output": [[0, 1]]}],
    "test": [{"input": [[2, 0]], "output": [[0, 2]]}],
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SyncSandbox]:
    """One worker, so that the check after each attack runs where the attack ran."""
    with SyncSandbox("full", workers=1, timeout_s=20.0) as pool:
        yield pool


ATTACKS = {
    "2,600 nested directories, deeper than PATH_MAX": """
        import os
        def transform(grid):
            for base in ("/tmp", "/dev/shm"):
                os.chdir(base)
                for _ in range(1300):
                    os.mkdir("dd")
                    os.chdir("dd")
            open("bottom", "w").write("x")
            return grid
        """,
    "directories with no permissions, /tmp itself included": """
        import os
        def transform(grid):
            for base in ("/tmp", "/dev/shm"):
                os.makedirs(base + "/a/b/c")
                open(base + "/a/b/c/f", "w").write("x")
                os.chmod(base + "/a/b/c/f", 0)
                os.chmod(base + "/a/b/c", 0)
                os.chmod(base + "/a/b", 0o500)
                os.chmod(base + "/a", 0)
                os.chmod(base, 0)
            return grid
        """,
    "as many files as the filesystem takes": """
        import os
        def transform(grid):
            made = 0
            try:
                for index in range(10 ** 6):
                    os.close(os.open(f"/tmp/{index}", os.O_CREAT | os.O_WRONLY))
                    made += 1
            except OSError:
                pass
            return [[int(made < 10 ** 6)]]
        """,
    "symlink loops, links out of the directory and special files": """
        import os, socket
        def transform(grid):
            os.chdir("/tmp")
            os.symlink("loop-b", "loop-a")
            os.symlink("loop-a", "loop-b")
            os.mkdir("d")
            os.symlink("..", "d/up")
            os.symlink(".", "d/self")
            os.symlink("/", "root")
            os.symlink("/usr", "d/usr")
            os.mkfifo("fifo")
            os.link("fifo", "d/hardlink")
            socket.socket(socket.AF_UNIX).bind("/tmp/socket")
            os.symlink("/tmp", "/dev/shm/tmp")
            return grid
        """,
    "files still open in a detached process (killed before cleanup)": """
        import os, time
        def transform(grid):
            if os.fork() == 0:
                os.setsid()
                handle = open("/tmp/held", "w")
                os.mkdir("/tmp/cwd")
                os.chdir("/tmp/cwd")
                time.sleep(3600)
            time.sleep(0.2)
            return grid
        """,
    "names that are not UTF-8": """
        import os
        def transform(grid):
            os.mkdir(b"/tmp/\\xff\\xfe")
            open(b"/tmp/\\xff\\xfe/\\x80", "w").write("x")
            return grid
        """,
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_the_next_check_passes_in_the_same_worker(sandbox: SyncSandbox, attack: str) -> None:
    started = sandbox.sandbox.stats.workers_started
    [outcome] = sandbox.check(program(ATTACKS[attack]), [GRID])
    assert outcome.status == "ok", outcome
    assert sandbox.check(LOOK, [GRID])[0].grid == [[0, 0, 1]]
    assert sandbox.sandbox.stats.workers_started == started  # the same worker, alive
    assert_still_works(sandbox)


def test_the_number_of_files_is_capped(sandbox: SyncSandbox) -> None:
    """The cap is what bounds the cleanup's work (and the kernel memory a program may pin)."""
    code = program(ATTACKS["as many files as the filesystem takes"])
    began = time.monotonic()
    [outcome] = sandbox.check(code, [GRID])
    assert outcome.grid == [[1]]  # stopped by the cap (ENOSPC), not by the end of the loop
    assert sandbox.check(LOOK, [GRID])[0].grid == [[0, 0, 1]]
    assert time.monotonic() - began < 60


def test_a_program_that_kills_its_worker_twice_is_an_error_of_its_own() -> None:
    """Only weak isolation lets a program kill its worker (as the same user, outside any PID
    namespace). The check is retried once on a fresh worker; then a trivial program passes, so
    the program is to blame: an `error` outcome, which a resumed run keeps instead of retrying."""

    async def run() -> tuple[list[str], list[str], int]:
        async with Sandbox("weak", workers=1) as pool:
            killer = "import os, signal\ndef transform(grid):\n    os.kill(os.getppid(), 9)\n"
            outcomes = await pool.check(killer, [GRID, GRID])
            after = await pool.check("def transform(grid):\n    return grid\n", [GRID])
            return (
                [o.status for o in outcomes] + [o.message or "" for o in outcomes][:1],
                [str(a.grid) for a in after],
                pool.stats.workers_replaced,
            )

    statuses, after, replaced = asyncio.run(run())
    assert statuses[:2] == ["error", "error"]
    assert "broke the sandbox worker" in statuses[2]
    assert after == [str(GRID)]
    assert replaced >= 2


def test_a_pool_whose_worker_cannot_be_replaced_fails_the_check_then_recovers(
    tmp_path: Path,
) -> None:
    """A worker killed from outside (as the OOM killer would), while bubblewrap has gone: the
    check fails with SandboxError instead of waiting for a worker that never comes, and once
    bubblewrap is back the pool starts a worker again."""
    bwrap = tmp_path / "bwrap"
    found = shutil.which("bwrap")
    assert found is not None
    shutil.copy2(found, bwrap)
    identity = "def transform(grid):\n    return grid\n"
    with SyncSandbox("full", workers=1, bwrap=str(bwrap)) as pool:
        assert pool.check(identity, [GRID])[0].grid == GRID
        bwrap.rename(tmp_path / "away")
        [worker] = list(pool.sandbox._all)
        doomed = [worker.process.pid, *descendants(worker.process.pid)]
        for pid in doomed:
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while any(descendants(pid) or os.path.exists(f"/proc/{pid}/cmdline") for pid in doomed[1:]):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        with pytest.raises(SandboxError, match="failed twice"):
            pool.check(identity, [GRID])
        (tmp_path / "away").rename(bwrap)
        assert pool.check(identity, [GRID])[0].grid == GRID


def test_resume_does_not_retry_a_program_that_kills_its_worker(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    """Through the CLI: the program's record is final (its outcome says what it did), so a
    resumed run asks the model for nothing and checks nothing again."""
    dataset = write_json(tmp_path / "task.json", {"killer01": FLIP_TASK})
    fake_server.reply_text = (
        "```python\nimport os\ndef transform(grid):\n    os.kill(os.getppid(), 9)\n```"
    )
    args = ["codegen", "--model", "LOCAL_0", "--base-url", fake_server.url, "-d", str(dataset)]
    args += ["--run-name", "killer", "--attempts", "1", "--sandbox", "weak"]
    first = run_cli(*args, env=cli_env(), timeout=300)
    assert first.returncode == 0, first.stderr
    [record] = [
        orjson.loads(line) for line in Path("runs/killer/results.jsonl").read_bytes().splitlines()
    ]
    assert record["error"] is None
    assert {r["status"] for r in record["train_results"]} == {"error"}
    assert "broke the sandbox worker" in record["train_results"][0]["detail"]
    asked = len(fake_server.chat_requests)
    again = run_cli(*args, env=cli_env(), timeout=300)
    assert again.returncode == 0, again.stderr
    assert len(fake_server.chat_requests) == asked
    assert Path("runs/killer/results.jsonl").read_bytes().count(b"\n") == 1
