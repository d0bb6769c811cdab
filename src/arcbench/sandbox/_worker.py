"""The warm parent inside the sandbox: it imports numpy once, then forks a child per check.

This file is not imported by arcbench. Its source is handed to `python -I -S -c` inside the
sandbox, so it must stand alone: standard library and numpy only, nothing from arcbench (the
arcbench checkout is not even visible in there).

Protocol, one JSON object per line:

- arcbench -> worker (stdin): `{"id": n, "code": str, "inputs": [json-text, ...], "timeout": s}`
- worker -> arcbench (stdout): `{"id": n, "results": [result, ...]}`, one result per input, each
  `{"status": "ok", "output": value}`, `{"status": "wrong", "reason": str}`,
  `{"status": "error", "message": str, "traceback": str}` or `{"status": "timeout"}`, all with
  `"seconds"`.

Everything the child sends is produced by untrusted code and is treated as such: the worker only
parses it (guarded) and forwards plain JSON; arcbench validates grids itself. The worker defends
itself and the next checks:

- In full isolation it is PID 1 of its own PID namespace. The kernel drops signals from inside
  the namespace that PID 1 has no handler for, so a program cannot kill it; after every check it
  sends SIGKILL to every other process in the namespace (`kill(-1)`) and reaps until none is
  left, which catches forked, `setsid`-detached and SIGTERM-ignoring processes alike.
- It is not dumpable, so a program running as the same user cannot ptrace it or write its memory
  and forge the results of later checks.
- The child gets fresh copies of the inputs (parsed from JSON text), hard resource limits, only
  its result pipe and a capture pipe for stdout/stderr, and an empty working directory that is
  wiped, with System V IPC objects, once the check is over.
- In weak mode (no namespaces) it is a child subreaper instead, and kills its descendants by
  walking `/proc/self/task/*/children`.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import gc
import importlib
import json
import linecache
import math
import os
import resource
import select
import shutil
import signal
import sys
import time
import traceback
from typing import Any

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
IPC_RMID = 0
IPC_INFO_COMMANDS = (("shm", 14, 0), ("msg", 12, 0), ("sem", 19, 28))
"""(kind, SHM_INFO / MSG_INFO / SEM_INFO, offset of the int counting the objects in use)."""
MAX_RESULT_LINE = 256 * 1024
READ_SIZE = 1 << 16
QUIET_START = 0.05
"""For this long after a child starts, the worker does not wake for each answer it sends, only
when it exits (or prints): a fast program's answers are read in one go. Each answer carries
the time it was sent, so time limits and `seconds` stay per input."""
MAX_MESSAGE = 2000
MAX_TRACEBACK = 8000
MAX_SIDE = 30
PROGRAM_FILENAME = "<program>"
CHILD_BROKEN = 70
PRELOAD = (
    "collections",
    "copy",
    "dataclasses",
    "functools",
    "heapq",
    "itertools",
    "math",
    "operator",
    "re",
    "typing",
    "numpy",
)
"""Modules generated programs commonly import; importing them in the warm parent makes their
import in every child free."""

CONFIG: dict[str, Any] = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
LIBC = ctypes.CDLL(None, use_errno=True)
DEVNULL = -1
"""/dev/null, opened read-only once by the warm parent: every child's stdin."""
POLL = select.epoll()
"""One epoll for the worker's life: its stdin (arcbench's EOF) always, a child's fds per check."""
PIPE_DEFAULT = (int(signal.SIGPIPE), int(signal.SIG_DFL))
RAW_SIGNAL: Any = importlib.import_module("_signal").signal
"""signal.signal without its enum conversions, which cost every child page faults."""
STDIO: tuple[Any, Any, Any] = (sys.stdin, sys.stdout, sys.stderr)
"""The interpreter's stdio objects on fds 0-2; the warm parent never uses them, children do."""


def prctl(option: int, value: int) -> None:
    """Call prctl(2), raising on failure: every use here is a safety property."""
    if LIBC.prctl(option, ctypes.c_ulong(value), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def prepare_parent() -> None:
    """Make the warm parent hard to attack and import what programs use."""
    drop_to = CONFIG.get("drop_to")
    if drop_to is not None:  # started as root without a user namespace: become nobody first
        os.setgroups([])
        os.setresgid(drop_to, drop_to, drop_to)
        os.setresuid(drop_to, drop_to, drop_to)
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # a change of credentials disarmed it
    for path in CONFIG.get("sys_path", []):
        if path not in sys.path:
            sys.path.append(path)
    prctl(PR_SET_DUMPABLE, 0)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if CONFIG.get("weak"):
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != CONFIG.get("parent_pid"):
            os._exit(1)  # arcbench died before the death signal was armed
        prctl(PR_SET_CHILD_SUBREAPER, 1)
    threads = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    for name in threads:
        os.environ[name] = "1"
    for module in PRELOAD:
        with contextlib.suppress(ImportError):
            __import__(module)
    for name in threads:
        del os.environ[name]
    for name in list(os.environ):  # bubblewrap's PWD, Python's locale coercion (LC_CTYPE)
        if name != "PATH":
            del os.environ[name]
    gc.freeze()  # children then leave the warm objects' pages unshared, fork stays cheap
    with open("/proc/self/statm") as statm:
        warm_size = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    limits = CONFIG["limits"]
    limits["address_space"] = warm_size + int(limits["memory_bytes"])
    if CONFIG.get("weak") and limits["processes"] is not None:
        limits["processes"] += count_own_processes()  # RLIMIT_NPROC counts all of the user's
    FIXED_LIMITS[:] = fixed_limits()


def count_own_processes() -> int:
    uid = os.getuid()
    count = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{name}").st_uid == uid:
                    count += 1
    return count


def workdir() -> str:
    return str(CONFIG["workdir"])


def wipe_workdir() -> None:
    """Empty the program's directory (and /dev/shm in the sandbox) for the next check."""
    dirs = [workdir()] + ([] if CONFIG.get("weak") else ["/dev/shm"])
    for directory in dirs:
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            path = os.path.join(directory, name)
            try:
                if os.path.isdir(path) and not os.path.islink(path):
                    os.chmod(path, 0o700)
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.unlink(path)
            except OSError:
                pass


IPC_INFO = ctypes.create_string_buffer(512)


def ipc_in_use(kind: str) -> bool:
    """Whether the namespace holds objects of a kind: one `*_INFO` call, no /proc table to read.

    Errs on the side of yes: when the call fails, the caller reads the table as before.
    """
    for name, command, offset in IPC_INFO_COMMANDS:
        if name == kind:
            ctypes.memset(IPC_INFO, 0, len(IPC_INFO))
            if kind == "sem":
                status = LIBC.semctl(0, 0, command, IPC_INFO)
            elif kind == "msg":
                status = LIBC.msgctl(0, command, IPC_INFO)
            else:
                status = LIBC.shmctl(0, command, IPC_INFO)
            if status < 0:
                return True
            return int.from_bytes(IPC_INFO.raw[offset : offset + 4], sys.byteorder) != 0
    return True


def remove_ipc_objects() -> None:
    """Remove System V IPC objects a program left in the worker's private IPC namespace."""
    if CONFIG.get("weak"):
        return
    for kind, function in (("shm", LIBC.shmctl), ("msg", LIBC.msgctl), ("sem", LIBC.semctl)):
        if not ipc_in_use(kind):
            continue
        try:
            with open(f"/proc/sysvipc/{kind}") as table:
                lines = table.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 1:
                if kind == "sem":
                    function(int(fields[1]), 0, IPC_RMID, None)
                else:
                    function(int(fields[1]), IPC_RMID, None)


def kill_everything_else() -> None:
    """SIGKILL every process but this one and reap them all, however they detached."""
    if os.getpid() == 1:
        while True:
            with contextlib.suppress(ProcessLookupError):
                os.kill(-1, signal.SIGKILL)
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                return
            except InterruptedError:
                continue
    else:
        while True:
            for pid in own_children():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            try:
                reaped, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if reaped == 0:
                time.sleep(0.001)  # an orphan may still be on its way to us


def own_children() -> list[int]:
    """This process's children (orphaned descendants become children of a subreaper)."""
    pids: list[int] = []
    base = f"/proc/{os.getpid()}/task"
    for tid in os.listdir(base):
        try:
            with open(f"{base}/{tid}/children") as handle:
                pids += [int(pid) for pid in handle.read().split()]
        except OSError:
            continue
    return pids


def set_limits(remaining_inputs: int, timeout: float) -> None:
    cpu = int(timeout * remaining_inputs) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    for kind, value in FIXED_LIMITS:
        resource.setrlimit(kind, value)


FIXED_LIMITS: list[tuple[int, tuple[int, int]]] = []
"""Every rlimit but CPU time's, as (resource, (soft, hard)): set once the parent knows its size."""


def fixed_limits() -> list[tuple[int, tuple[int, int]]]:
    limits = CONFIG["limits"]
    fixed = [
        (resource.RLIMIT_AS, (limits["address_space"], limits["address_space"])),
        (resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"])),
        (resource.RLIMIT_FSIZE, (limits["file_bytes"], limits["file_bytes"])),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_MEMLOCK, (0, 0)),
    ]
    if limits["processes"] is not None:
        fixed.append((resource.RLIMIT_NPROC, (limits["processes"], limits["processes"])))
    return fixed


def short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit // 2] + "\n...\n" + text[-limit // 2 :]


def describe_exception(exc: BaseException) -> dict[str, Any]:
    tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
    try:
        text = "".join(traceback.format_exception(type(exc), exc, tb))
        message = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    except BaseException:  # a program's exception whose __str__ raises
        text = message = type(exc).__name__
    if isinstance(exc, SystemExit):
        message = f"the program exited the interpreter ({message})"
    return {
        "status": "error",
        "message": short(message, MAX_MESSAGE),
        "traceback": short(text, MAX_TRACEBACK),
    }


class WrongFormat(Exception):
    pass


def to_plain(output: object) -> object:
    """Turn a returned grid into plain JSON data: numpy arrays, tuples and numpy ints accepted.

    Runs in the untrusted child, so it is only a convenience and a source of helpful reasons;
    arcbench validates the plain data again in its own process.
    """
    import numpy

    if output is None:
        return None
    if isinstance(output, numpy.ndarray):
        output = output.tolist()
    if not isinstance(output, list | tuple):
        raise WrongFormat(f"the program returned {type(output).__name__}, not a grid")
    if len(output) > MAX_SIDE:
        raise WrongFormat(f"the grid has {len(output)} rows (at most {MAX_SIDE})")
    rows: list[object] = []
    for r, row in enumerate(output):
        if isinstance(row, numpy.ndarray):
            row = row.tolist()
        if not isinstance(row, list | tuple):
            raise WrongFormat(f"row {r} is {type(row).__name__}, not a list")
        if len(row) > MAX_SIDE:
            raise WrongFormat(f"row {r} has {len(row)} cells (at most {MAX_SIDE})")
        cells: list[object] = []
        for c, cell in enumerate(row):
            if type(cell) in (int, float, bool) or cell is None:
                cells.append(cell)
            elif isinstance(cell, numpy.integer | numpy.floating | numpy.bool_):
                cells.append(cell.item())
            else:
                raise WrongFormat(f"cell ({r}, {c}) is {type(cell).__name__}, not an int")
        rows.append(cells)
    return rows


def child_main(code: str, inputs: list[str], start: int, timeout: float, result_fd: int) -> None:
    """Run the program on inputs[start:], writing one result line per input. Never returns."""

    def emit(index: int, result: dict[str, Any]) -> None:
        result["index"] = index
        result["at"] = time.monotonic()
        data = (json.dumps(result) + "\n").encode()
        while data:
            data = data[os.write(result_fd, data) :]

    try:
        linecache.cache[PROGRAM_FILENAME] = (len(code), None, code.splitlines(True), "<program>")
        namespace: dict[str, Any] = {"__name__": "arcbench_program"}
        exec(compile(code, PROGRAM_FILENAME, "exec"), namespace)
        function = namespace.get("transform", namespace.get("solve_task"))
        if not callable(function):
            raise NameError("the program defines no function transform(grid) or solve_task(grid)")
    except BaseException as exc:
        failure = describe_exception(exc)
        for index in range(start, len(inputs)):
            emit(index, dict(failure))
        os._exit(0)
    for index in range(start, len(inputs)):
        grid = json.loads(inputs[index])
        try:
            output = function(grid)
        except BaseException as exc:
            emit(index, describe_exception(exc))
            continue
        try:
            emit(index, {"status": "ok", "output": to_plain(output)})
        except WrongFormat as exc:
            emit(index, {"status": "wrong", "reason": str(exc)})
        except BaseException as exc:
            emit(index, {"status": "wrong", "reason": f"the output cannot be read: {exc!r}"})
    os._exit(0)


def spawn_child(code: str, inputs: list[str], start: int, timeout: float) -> tuple[int, int, int]:
    """Fork a child for inputs[start:]; return its pid, result pipe and output pipe."""
    result_r, result_w = os.pipe()
    output_r, output_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            if CONFIG.get("weak"):
                os.setsid()
            os.dup2(DEVNULL, 0)
            os.dup2(output_w, 1)
            os.dup2(output_w, 2)
            os.dup2(result_w, 3)
            os.closerange(4, 1 << 16)
            os.chdir(workdir())
            RAW_SIGNAL(*PIPE_DEFAULT)
            set_limits(len(inputs) - start, timeout)
            # The warm parent's own stdio objects, unused and empty, now on the child's fds 0-2:
            # opening new ones would cost each child three codec lookups and their page faults.
            sys.stdin, sys.stdout, sys.stderr = STDIO
            child_main(code, inputs, start, timeout, 3)
        finally:
            os._exit(CHILD_BROKEN)
    os.close(result_w)
    os.close(output_w)
    fcntl.fcntl(result_r, fcntl.F_SETFL, os.O_RDONLY | os.O_NONBLOCK)
    fcntl.fcntl(output_r, fcntl.F_SETFL, os.O_RDONLY | os.O_NONBLOCK)
    return pid, result_r, output_r


def describe_exit(status: int) -> dict[str, Any]:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number == signal.SIGXCPU:
            return {"status": "timeout", "message": "CPU time limit exceeded"}
        name = signal.Signals(number).name if number in signal.valid_signals() else str(number)
        hint = {
            "SIGSEGV": " (for example a C stack overflow from deep recursion)",
            "SIGXFSZ": " (file size limit exceeded)",
            "SIGKILL": " (killed, for example for exceeding a resource limit)",
        }.get(name, "")
        message = f"the program crashed with {name}{hint}"
    elif os.WEXITSTATUS(status) == CHILD_BROKEN:
        message = "the program broke how the sandbox reports its answer (say, by patching builtins)"
    else:
        message = (
            f"the program exited the interpreter (exit status {os.WEXITSTATUS(status)}) "
            "instead of returning a grid"
        )
    return {"status": "error", "message": message, "traceback": ""}


def reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


SCALARS = {int, float, bool, type(None)}


def is_grid_like(value: object) -> bool:
    """Plain data two levels deep at most, so arcbench never parses anything deeply nested, and
    no non-finite float (a forged `1e999`), which the reply could not carry as JSON."""
    if value is None:
        return True
    if type(value) is not list:
        return False
    for row in value:
        if type(row) is not list:
            return False
        kinds = set(map(type, row))
        if not kinds <= SCALARS:
            return False
        if float in kinds and not all(math.isfinite(cell) for cell in row if type(cell) is float):
            return False
    return True


def parse_result(line: bytes) -> tuple[int | None, float | None, dict[str, Any]]:
    """A child's result line as (index, time it was sent, result); index None when the line is
    not a result. The time is the child's word, only to be trusted within bounds."""
    unreadable = {"status": "wrong", "reason": "the program's answer could not be read"}
    try:
        value = json.loads(line, parse_constant=reject_constant)
    except (ValueError, RecursionError):
        return None, None, unreadable
    if not isinstance(value, dict) or value.get("status") not in ("ok", "wrong", "error"):
        return None, None, unreadable
    index = value.get("index")
    sent = value.get("at")
    result: dict[str, Any] = {"status": value["status"]}
    if value["status"] == "ok":
        result["output"] = value.get("output")
        if not is_grid_like(result["output"]):
            result = {"status": "wrong", "reason": "the output is not a list of lists of numbers"}
    elif value["status"] == "wrong":
        result["reason"] = short(str(value.get("reason")), MAX_MESSAGE)
    else:
        result["message"] = short(str(value.get("message")), MAX_MESSAGE)
        result["traceback"] = short(str(value.get("traceback")), MAX_TRACEBACK)
    return (
        index if type(index) is int else None,
        sent if type(sent) is float and math.isfinite(sent) else None,
        result,
    )


def run_check(code: str, inputs: list[str], timeout: float) -> list[dict[str, Any]]:
    """Run one program on every input; a timeout or crash on one input does not stop the rest."""
    max_output = int(CONFIG["limits"]["output_bytes"])
    results: list[dict[str, Any]] = []
    total = len(inputs)
    while len(results) < total:
        start = len(results)
        pid, result_r, output_r = spawn_child(code, inputs, start, timeout)
        pidfd = os.pidfd_open(pid)
        for fd in (output_r, pidfd):
            POLL.register(fd, select.EPOLLIN)
        watched: list[int] = [output_r, pidfd]
        pending = b""
        printed = 0
        began = time.monotonic()
        deadline = began + timeout
        quiet_until = began + QUIET_START
        following = False
        failure: dict[str, Any] | None = None

        def take_lines(fd: int) -> dict[str, Any] | None:
            """Read the answers the child has sent from `fd`, its result pipe."""
            nonlocal pending, began, deadline
            pending += read_available(fd)
            while b"\n" in pending and len(results) < total:
                line, pending = pending.split(b"\n", 1)
                index, sent, result = parse_result(line)
                if index is not None and index != len(results):
                    continue  # a duplicate (say, from a forked copy) or a forged line
                # When the child says it sent the line, but never before the input began nor
                # after now: a lie can only shorten the program's own time on the next input.
                now = time.monotonic()
                arrived = now if sent is None else min(max(sent, began), now)
                result["seconds"] = round(arrived - began, 6)
                results.append(result)
                began, deadline = arrived, arrived + timeout
            if len(pending) > MAX_RESULT_LINE:
                return {"status": "wrong", "reason": "the output is far larger than a grid"}
            return None

        while len(results) < total and failure is None:
            now = time.monotonic()
            if not following and now >= quiet_until:
                POLL.register(result_r, select.EPOLLIN)  # a slow program: follow it per input
                watched.append(result_r)
                following = True
            if now >= deadline:
                failure = take_lines(result_r)  # answers already sent are not late
                if failure is not None or len(results) == total:
                    break
                if time.monotonic() >= deadline:
                    failure = {"status": "timeout"}
                    break
                continue
            wait = deadline - now if following else min(deadline, quiet_until) - now
            for fd, events in POLL.poll(wait):
                if fd == result_r:
                    answered = len(results)
                    failure = take_lines(result_r)
                    if events & select.EPOLLHUP and len(results) == answered and failure is None:
                        stop_watching(result_r, watched)  # closed: the child's exit comes next
                elif fd == output_r:
                    printed_now = len(read_available(output_r))
                    printed += printed_now
                    if events & select.EPOLLHUP and not printed_now:
                        stop_watching(output_r, watched)  # closed: the child's exit comes next
                    if printed > max_output:
                        failure = {
                            "status": "error",
                            "message": f"the program printed more than {max_output} bytes",
                            "traceback": "",
                        }
                elif fd == 0:
                    shut_down()
                elif fd == pidfd:
                    _, status = os.waitpid(pid, 0)
                    failure = take_lines(result_r)
                    if failure is None and len(results) < total:
                        failure = describe_exit(status)
                    break
                if failure is not None:
                    break
        if failure is not None and len(results) < total:
            failure["seconds"] = round(time.monotonic() - began, 6)
            results.append(failure)
        for fd in watched:
            POLL.unregister(fd)
        for fd in (result_r, output_r, pidfd):
            os.close(fd)
        kill_everything_else()
    wipe_workdir()
    remove_ipc_objects()
    return results


def stop_watching(fd: int, watched: list[int]) -> None:
    """No more polling a pipe whose writers are all gone: it would be ready for ever."""
    POLL.unregister(fd)
    watched.remove(fd)


def shut_down() -> None:
    """arcbench has gone (its end of our stdin closed): take every process down and exit."""
    kill_everything_else()
    wipe_workdir()
    os._exit(0)


def read_available(fd: int) -> bytes:
    """What a non-blocking pipe holds now (a short read means it was emptied)."""
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(fd, READ_SIZE)
        except BlockingIOError:
            break
        except OSError as exc:
            if exc.errno == errno.EINTR:
                continue
            break
        chunks.append(chunk)
        if len(chunk) < READ_SIZE:
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def main() -> None:
    global DEVNULL
    prepare_parent()
    DEVNULL = os.open(os.devnull, os.O_RDONLY)
    POLL.register(0, select.EPOLLIN)  # arcbench sends nothing mid-check but EOF
    os.makedirs(workdir(), exist_ok=True)
    requests = os.fdopen(0, "rb")
    replies = os.fdopen(os.dup(1), "wb")
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)  # a stray print anywhere can no longer corrupt the protocol
    replies.write(b'{"ready": true}\n')
    replies.flush()
    for line in requests:
        request = json.loads(line)
        results = run_check(request["code"], request["inputs"], float(request["timeout"]))
        replies.write(json.dumps({"id": request["id"], "results": results}).encode() + b"\n")
        replies.flush()
    shut_down()


if __name__ == "__main__":
    main()
