"""The sandbox against hostile programs: each is contained, reported as its outcome, and the
sandbox keeps working. Every test checks the protection's effect on the real machine (a file, a
listener, /proc), so it fails if that protection is removed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from arcbench.sandbox import (
    Sandbox,
    SandboxUnavailableError,
    SyncSandbox,
    probe_isolation,
)
from sandboxing import GRID, assert_still_works, full_isolation, program  # noqa: F401

SECRET = f"arcbench-secret-{uuid.uuid4().hex}"

pytestmark = pytest.mark.usefixtures("full_isolation")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SyncSandbox]:
    """One pool for the module, started while a secret is in arcbench's environment."""
    os.environ["SANDBOX_TEST_SECRET"] = SECRET
    try:
        with SyncSandbox("full", workers=2, timeout_s=2.0) as pool:
            yield pool
    finally:
        del os.environ["SANDBOX_TEST_SECRET"]


def processes_named(name: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() == name:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def test_full_isolation_is_available_on_linux() -> None:
    report = probe_isolation()
    assert report.full_available, report.detail


def test_runs_a_program_on_every_input_with_numpy(sandbox: SyncSandbox) -> None:
    code = "import numpy as np\ndef transform(grid):\n    return np.array(grid).T\n"
    outcomes = sandbox.check(code, [GRID, [[5]], [[1, 2, 3]]])
    assert [o.grid for o in outcomes] == [[[1, 3], [2, 4]], [[5]], [[1], [2], [3]]]
    assert all(o.status == "ok" for o in outcomes)


def test_solve_task_is_accepted_and_inputs_are_fresh_copies(sandbox: SyncSandbox) -> None:
    code = "def solve_task(grid):\n    grid[0][0] = 9\n    return grid\n"
    outcomes = sandbox.check(code, [GRID, GRID])
    assert [o.grid for o in outcomes] == [[[9, 2], [3, 4]]] * 2
    assert GRID == [[1, 2], [3, 4]]


def test_a_program_without_transform_is_an_error(sandbox: SyncSandbox) -> None:
    [outcome] = sandbox.check("def solve(grid):\n    return grid\n", [GRID])
    assert outcome.status == "error"
    assert "transform" in (outcome.message or "")


def test_a_traceback_shows_the_program_line(sandbox: SyncSandbox) -> None:
    code = "def transform(grid):\n    x = 1\n    return grid[5]\n"
    [outcome] = sandbox.check(code, [GRID])
    assert outcome.status == "error"
    assert outcome.message == "IndexError: list index out of range"
    assert "return grid[5]" in (outcome.traceback or "")
    assert "_worker" not in (outcome.traceback or "")


@pytest.mark.parametrize(
    "body",
    ["while True:\n        pass", "import time\n    time.sleep(3600)"],
    ids=["loop", "sleep"],
)
def test_infinite_loop_and_long_sleep_time_out(sandbox: SyncSandbox, body: str) -> None:
    began = time.monotonic()
    [outcome] = sandbox.check(f"def transform(grid):\n    {body}\n", [GRID], timeout_s=0.5)
    assert outcome.status == "timeout"
    assert time.monotonic() - began < 3
    assert_still_works(sandbox)


def test_a_timeout_on_one_input_does_not_stop_the_others(sandbox: SyncSandbox) -> None:
    code = "def transform(grid):\n    while grid == [[0]]:\n        pass\n    return grid\n"
    outcomes = sandbox.check(code, [GRID, [[0]], [[7]]], timeout_s=0.4)
    assert [o.status for o in outcomes] == ["ok", "timeout", "ok"]
    assert outcomes[2].grid == [[7]]


def test_each_input_of_a_slow_program_gets_the_whole_time_limit(sandbox: SyncSandbox) -> None:
    """The limit is per input: three inputs of 0.8 s each pass a 2 s limit they exceed together.
    `seconds` is each input's own time, so never less than its sleep."""
    code = "import time\ndef transform(grid):\n    time.sleep(0.8)\n    return grid\n"
    outcomes = sandbox.check(code, [GRID, [[5]], [[7]]], timeout_s=2.0)
    assert [o.status for o in outcomes] == ["ok", "ok", "ok"]
    assert all(o.seconds >= 0.8 for o in outcomes)


def test_a_forged_answer_time_cannot_extend_the_time_limit(sandbox: SyncSandbox) -> None:
    code = program(
        """
        import os, time
        calls = []
        def transform(grid):
            calls.append(grid)
            if len(calls) == 1:  # claims to have answered far in the future
                os.write(3, b'{"status": "ok", "index": 0, "output": [[1]], "at": 1e15}\\n')
                return grid
            time.sleep(3600)
        """
    )
    began = time.monotonic()
    outcomes = sandbox.check(code, [GRID, GRID], timeout_s=0.5)
    assert [o.status for o in outcomes] == ["ok", "timeout"]
    assert time.monotonic() - began < 3
    assert_still_works(sandbox)


def test_allocating_10_gb_is_a_memory_error(sandbox: SyncSandbox) -> None:
    code = "def transform(grid):\n    block = bytearray(10 * 1024**3)\n    return grid\n"
    [outcome] = sandbox.check(code, [GRID], timeout_s=5)
    assert outcome.status == "error"
    assert "MemoryError" in (outcome.message or "")
    assert_still_works(sandbox)


def test_a_fork_bomb_hits_the_process_limit_and_leaves_nothing(sandbox: SyncSandbox) -> None:
    code = "import os\ndef transform(grid):\n    while True:\n        os.fork()\n"
    began = time.monotonic()
    [outcome] = sandbox.check(code, [GRID], timeout_s=5)
    assert outcome.status == "error"
    assert "BlockingIOError" in (outcome.message or "")  # fork refused, long before the timeout
    assert time.monotonic() - began < 4
    assert_still_works(sandbox)


def test_detached_sigterm_ignoring_processes_die_with_the_check(sandbox: SyncSandbox) -> None:
    name = f"esc{uuid.uuid4().hex[:10]}"
    code = program(
        f"""
        import ctypes, os, signal, time
        def transform(grid):
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    signal.signal(signal.SIGTERM, signal.SIG_IGN)
                    ctypes.CDLL(None).prctl(15, b"{name}", 0, 0, 0)
                    time.sleep(3600)
                os._exit(0)
            time.sleep(0.3)
            return grid
        """
    )
    [outcome] = sandbox.check(code, [GRID])
    assert outcome.grid == GRID
    time.sleep(0.1)
    assert processes_named(name) == []
    assert_still_works(sandbox)


def test_nothing_outlives_arcbench(tmp_path: Path) -> None:
    name = f"orp{uuid.uuid4().hex[:10]}"
    code = program(
        f"""
        import ctypes, os, time
        def transform(grid):
            if os.fork() == 0:
                os.setsid()
                ctypes.CDLL(None).prctl(15, b"{name}", 0, 0, 0)
                time.sleep(3600)
            time.sleep(3600)
        """
    )
    driver = tmp_path / "driver.py"
    driver.write_text(
        "from arcbench.sandbox import SyncSandbox\n"
        "with SyncSandbox('full', workers=1) as sb:\n"
        f"    sb.check({code!r}, [[[1]]], timeout_s=600)\n"
    )
    process = subprocess.Popen([sys.executable, str(driver)])
    try:
        deadline = time.monotonic() + 30
        while not processes_named(name):
            assert time.monotonic() < deadline, "the program never started"
            time.sleep(0.05)
        process.kill()  # arcbench dies mid-check, without any chance to clean up
        process.wait()
        deadline = time.monotonic() + 5
        while processes_named(name) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_named(name) == []
    finally:
        process.kill()


def test_spawning_a_shell_fails(sandbox: SyncSandbox, tmp_path: Path) -> None:
    marker = tmp_path / "shell-ran"
    code = program(
        f"""
        import os, subprocess
        def transform(grid):
            os.system("touch {marker}")
            subprocess.run(["sh", "-c", "touch {marker}"], check=True)
            return grid
        """
    )
    [outcome] = sandbox.check(code, [GRID])
    assert outcome.status == "error"
    assert "FileNotFoundError" in (outcome.message or "")
    assert not marker.exists()
    assert_still_works(sandbox)


def test_writing_outside_its_directory_changes_nothing(
    sandbox: SyncSandbox, tmp_path: Path
) -> None:
    token = uuid.uuid4().hex
    site = Path(os.__file__).parent / "site-packages"
    targets = [tmp_path / "pwned.txt", Path(f"/tmp/arcbench-pwned-{token}"), site / f"{token}.pth"]
    code = program(
        f"""
        import os
        def transform(grid):
            written = 0
            for path in {[str(t) for t in targets]!r}:
                try:
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    with open(path, "w") as handle:
                        handle.write("pwned")
                    written += 1
                except OSError:
                    pass
            return [[written]]
        """
    )
    try:
        [outcome] = sandbox.check(code, [GRID])
        assert outcome.status == "ok"
        assert [target.exists() for target in targets] == [False, False, False]
    finally:
        for target in targets:
            target.unlink(missing_ok=True)


def test_deleting_files_changes_nothing(sandbox: SyncSandbox, tmp_path: Path) -> None:
    victims = [tmp_path / "precious.txt"]
    site = Path(os.__file__).parent / "site-packages"
    if os.access(site, os.W_OK):
        victims.append(site / f"arcbench-victim-{uuid.uuid4().hex}.txt")
    for victim in victims:
        victim.write_text("precious")
    code = program(
        f"""
        import os, shutil
        def transform(grid):
            for path in {[str(v) for v in victims]!r}:
                try:
                    os.remove(path)
                except OSError:
                    pass
            shutil.rmtree({str(tmp_path)!r}, ignore_errors=True)
            return grid
        """
    )
    try:
        [outcome] = sandbox.check(code, [GRID])
        assert outcome.status == "ok"
        assert [victim.read_text() for victim in victims] == ["precious"] * len(victims)
    finally:
        for victim in victims[1:]:
            victim.unlink(missing_ok=True)


def test_the_environment_holds_only_path(sandbox: SyncSandbox) -> None:
    assert os.environ["SANDBOX_TEST_SECRET"] == SECRET  # arcbench's own environment has it
    code = "import os\ndef transform(grid):\n    raise RuntimeError(sorted(os.environ.items()))\n"
    [outcome] = sandbox.check(code, [GRID])
    assert outcome.message == "RuntimeError: [('PATH', '/usr/bin:/bin')]"


def test_the_users_dotenv_cannot_be_read(sandbox: SyncSandbox, tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"OPENROUTER_API_KEY={SECRET}\n")
    home = Path.home() / ".env"
    code = program(
        f"""
        def transform(grid):
            found = []
            for path in [{str(dotenv)!r}, {str(home)!r}, "/work/main/.env", ".env"]:
                try:
                    found.append(open(path).read())
                except OSError:
                    pass
            raise RuntimeError(found)
        """
    )
    [outcome] = sandbox.check(code, [GRID])
    assert outcome.message == "RuntimeError: []"
    assert SECRET not in (outcome.traceback or "")


def test_a_listener_on_host_loopback_receives_nothing(sandbox: SyncSandbox) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(1.5)
    port = listener.getsockname()[1]
    received: list[bytes] = []

    def accept() -> None:
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            return
        with connection:
            received.append(connection.recv(100) or b"<connected>")

    thread = threading.Thread(target=accept)
    thread.start()
    code = program(
        f"""
        import socket
        def transform(grid):
            with socket.create_connection(("127.0.0.1", {port}), timeout=1) as s:
                s.sendall(b"leak")
            return grid
        """
    )
    try:
        [outcome] = sandbox.check(code, [GRID])
        thread.join()
    finally:
        listener.close()
    assert outcome.status == "error"
    assert "ConnectionRefusedError" in (outcome.message or "")
    assert received == []


def test_killing_its_parent_does_not_hurt_the_sandbox(sandbox: SyncSandbox) -> None:
    started = sandbox.sandbox.stats.workers_started
    code = program(
        """
        import os, signal
        def transform(grid):
            for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP, signal.SIGINT):
                os.kill(os.getppid(), sig)
                os.kill(1, sig)
            return grid
        """
    )
    for _ in range(3):  # reaches both workers
        [outcome] = sandbox.check(code, [GRID])
        assert outcome.grid == GRID
    assert sandbox.sandbox.stats.workers_started == started  # no worker died and was replaced
    assert_still_works(sandbox)


def test_printing_100_mb_is_stopped(sandbox: SyncSandbox) -> None:
    code = "def transform(grid):\n    for _ in range(100):\n        print('x' * 1_000_000)\n"
    [outcome] = sandbox.check(code, [GRID], timeout_s=10)
    assert outcome.status == "error"
    assert "printed more than" in (outcome.message or "")
    assert outcome.seconds < 5
    assert_still_works(sandbox)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("import sys\ndef transform(grid):\n    sys.exit(0)\n", "exited the interpreter"),
        ("import os\ndef transform(grid):\n    os._exit(3)\n", "exit status 3"),
        ("raise SystemExit(1)\n", "exited the interpreter"),
        ("import os\ndef transform(grid):\n    os.abort()\n", "SIGABRT"),
        ("def transform(grid):\n    raise KeyboardInterrupt\n", "KeyboardInterrupt"),
    ],
    ids=["sys.exit", "os._exit", "module-exit", "abort", "keyboard-interrupt"],
)
def test_exiting_the_interpreter_is_an_error(
    sandbox: SyncSandbox, code: str, expected: str
) -> None:
    outcomes = sandbox.check(code, [GRID, GRID])
    assert [o.status for o in outcomes] == ["error", "error"]
    assert expected in (outcomes[0].message or "")
    assert_still_works(sandbox)


def test_deep_recursion_is_an_error(sandbox: SyncSandbox) -> None:
    plain = "def transform(grid):\n    return transform(grid)\n"
    [outcome] = sandbox.check(plain, [GRID])
    assert "RecursionError" in (outcome.message or "")
    in_c = program(
        """
        import sys
        sys.setrecursionlimit(10**8)
        def transform(grid):
            nested = []
            for _ in range(10**6):
                nested = [nested]
            return repr(nested)
        """
    )
    [outcome] = sandbox.check(in_c, [GRID], timeout_s=10)
    assert outcome.status == "error"
    assert "SIGSEGV" in (outcome.message or "")
    assert_still_works(sandbox)


def test_monkeypatching_builtins_cannot_fool_the_checker(sandbox: SyncSandbox) -> None:
    code = program(
        """
        import builtins, json
        class Liar(list):
            def __eq__(self, other):
                return True
            def __len__(self):
                return 2
        builtins.isinstance = lambda *args: True
        builtins.len = lambda *args: 2
        json.dumps = lambda *a, **k: '{"status": "ok", "index": 0, "output": "%s"}' % "fooled"
        def transform(grid):
            return Liar()
        """
    )
    [outcome] = sandbox.check(code, [GRID])
    assert outcome.status in ("wrong_format", "error")
    assert outcome.grid is None
    forged = program(
        """
        import json
        json.dumps = lambda *a, **k: '{"status": "ok", "index": 0, "output": [[1, true]]}'
        def transform(grid):
            return grid
        """
    )
    [outcome] = sandbox.check(forged, [GRID])
    assert outcome.status == "wrong_format"  # the forged answer is checked here, as plain data
    assert "boolean" in (outcome.reason or "")
    liar_int = program(
        """
        class Three(int):
            def __eq__(self, other):
                return True
        def transform(grid):
            return [[Three(3), 4]]
        """
    )
    [outcome] = sandbox.check(liar_int, [GRID])
    assert outcome.status == "wrong_format"
    assert "Three" in (outcome.reason or "")
    fresh = "def transform(grid):\n    return [[int(isinstance(1, str)), len([1, 2, 3])]]\n"
    assert sandbox.check(fresh, [GRID])[0].grid == [[0, 3]]  # the next program is unaffected


def test_a_forged_infinite_number_is_a_wrong_answer_not_a_broken_sandbox(
    sandbox: SyncSandbox,
) -> None:
    forged = program(
        """
        import os
        def transform(grid):
            os.write(3, b'{"status": "ok", "index": 0, "output": [[1e999]]}\\n')
            os._exit(0)
        """
    )
    replaced = sandbox.sandbox.stats.workers_replaced
    [outcome] = sandbox.check(forged, [GRID])  # JSON cannot carry the infinity onwards
    assert outcome.status == "wrong_format"
    assert sandbox.sandbox.stats.workers_replaced == replaced
    assert_still_works(sandbox)


def test_the_working_directory_starts_empty_every_time(sandbox: SyncSandbox) -> None:
    litter = program(
        """
        import os
        def transform(grid):
            open("left-behind", "w").write("x")
            os.makedirs("/tmp/deep/er", exist_ok=True)
            return [[len(os.listdir("."))]]
        """
    )
    look = "import os\ndef transform(grid):\n    return [[len(os.listdir('/tmp'))]]\n"
    # Empty but for the ancestors of a Python installation that lives under /tmp (a CI venv),
    # which are bound read-only into the program's /tmp.
    clean = sandbox.check(look, [GRID])[0].grid
    assert clean is not None
    for _ in range(3):
        assert sandbox.check(litter, [GRID])[0].grid == [[clean[0][0] + 2]]
        assert sandbox.check(look, [GRID])[0].grid == clean


@pytest.mark.parametrize(
    ("returned", "reason"),
    [
        ("[[1, 2], [3]]", "ragged"),
        ("[[10]]", "outside the colours"),
        ("[[1] * 31] * 31", "31 rows"),
        ("[[1] * 31]", "31 cells"),
        ("None", "None"),
        ("[]", "0 rows"),
        ("[[]]", "0 cells"),
        ("[[1.0]]", "float"),
        ("[[True]]", "boolean"),
        ("'12'", "str"),
        ("{'a': 1}", "dict"),
        ("[[-1]]", "outside the colours"),
        ("np.zeros((2, 2))", "float"),
        ("np.zeros((2, 2, 2), dtype=int)", "not an int"),
        ("[[1, [2]]]", "list"),
    ],
)
def test_outputs_that_are_not_grids_are_wrong_format(
    sandbox: SyncSandbox, returned: str, reason: str
) -> None:
    code = f"import numpy as np\ndef transform(grid):\n    return {returned}\n"
    [outcome] = sandbox.check(code, [GRID])
    assert outcome.status == "wrong_format"
    assert reason in (outcome.reason or "")


@pytest.mark.parametrize(
    "returned",
    [
        "((1, 2), (3, 4))",
        "np.array([[1, 2], [3, 4]], dtype=np.uint8)",
        "[np.array([1, 2]), (3, 4)]",
        "[[np.int64(1), 2], [3, 4]]",
    ],
)
def test_numpy_arrays_and_tuples_are_accepted(sandbox: SyncSandbox, returned: str) -> None:
    code = f"import numpy as np\ndef transform(grid):\n    return {returned}\n"
    [outcome] = sandbox.check(code, [GRID])
    assert outcome.grid == [[1, 2], [3, 4]]
    assert all(type(cell) is int for row in outcome.grid for cell in row)


def test_full_isolation_refuses_to_start_without_bubblewrap() -> None:
    with pytest.raises(SandboxUnavailableError, match="--sandbox weak"):
        SyncSandbox("full", bwrap="/nonexistent/bwrap").__enter__()


def test_weak_isolation_runs_when_asked_for_explicitly(tmp_path: Path) -> None:
    async def run() -> tuple[list[str], str | None]:
        async with Sandbox("weak", workers=1) as pool:
            assert pool.isolation == "weak"
            outcomes = await pool.check(
                "import time\ndef transform(grid):\n    while grid == [[0]]:\n        pass\n"
                "    return grid\n",
                [GRID, [[0]]],
                timeout_s=0.3,
            )
            [env] = await pool.check(
                "import os\ndef transform(g):\n    raise RuntimeError(sorted(os.environ))\n",
                [GRID],
            )
        return [o.status for o in outcomes], env.message

    import asyncio

    statuses, message = asyncio.run(run())
    assert statuses == ["ok", "timeout"]
    assert message == "RuntimeError: ['PATH']"
