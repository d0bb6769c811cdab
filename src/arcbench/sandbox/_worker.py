"""The warm parent inside the sandbox: it imports numpy once, then forks a child per check.

This file is not imported by arcbench. Its source is handed to `python -I -S -c` inside the
sandbox, so it must stand alone: standard library and numpy only, nothing from arcbench (the
arcbench checkout is not even visible in there).

Protocol, one JSON object per line:

- worker -> arcbench (stdout), once set up: `{"ready": true, "numpy": bool}` (whether numpy
  imported);
- arcbench -> worker (stdin): `{"id": n, "code": str, "inputs": [json-text, ...], "timeout": s}`
- worker -> arcbench (stdout): `{"id": n, "results": [result, ...]}`, one result per input, each
  `{"status": "ok", "output": value}`, `{"status": "wrong", "reason": str}`,
  `{"status": "error", "message": str, "traceback": str}` or `{"status": "timeout"}`, all with
  `"seconds"`; plus `"retire": true` when the worker could not clean up after the program and
  exits instead of taking another check.

Everything the child sends is produced by untrusted code and is treated as such: the worker only
parses it (guarded) and forwards plain JSON; arcbench validates grids itself. The worker defends
itself and the next checks:

- In full isolation it is PID 1 of its own PID namespace. The kernel drops signals from inside
  the namespace that PID 1 has no handler for, so a program cannot kill it; after every check it
  sends SIGKILL to every other process in the namespace (`kill(-1)`) and reaps until none is
  left, which catches forked, `setsid`-detached and SIGTERM-ignoring processes alike.
- Before anything else it enters a user and mount namespace of its own (owned by the unprivileged
  user bubblewrap left it as), mounts the program's `/tmp` and `/dev/shm` as tmpfs capped in
  bytes and in files, makes `/dev` read-only and, once numpy is imported, hides `/proc` behind an
  empty directory. It then installs the seccomp filter arcbench built (see `seccomp`), which no
  process it forks can remove.
- Each check's child enters a fresh IPC namespace and drops every capability before the
  program's first line runs.
- It is not dumpable, so a program running as the same user cannot ptrace it or write its memory
  and forge the results of later checks.
- The child gets fresh copies of the inputs (parsed from JSON text), hard resource limits, only
  its result pipe and a capture pipe for stdout/stderr, and an empty working directory. After the
  check the directory (and /dev/shm) is emptied without recursion and without following links,
  whatever the program did to it (deep nesting, no permissions, many files, symlink loops), and
  the directories' own attributes and times are restored; if anything remains, or a TCP
  connection still waits to close in its network namespace, the worker asks to be replaced
  rather than hand it to the next program.
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
import signal
import sys
import time
import traceback
from typing import Any

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_SECCOMP = 22
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2
CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC = 32, 4096, 16384
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
KEPT_MOUNT_FLAGS = (
    (os.ST_NOSUID, MS_NOSUID),
    (os.ST_NODEV, MS_NODEV),
    (os.ST_NOEXEC, MS_NOEXEC),
    (os.ST_NOATIME, MS_NOATIME),
    (os.ST_NODIRATIME, MS_NODIRATIME),
    (os.ST_RELATIME, MS_RELATIME),
)
"""statvfs flags a read-only remount must repeat: the kernel locks them on mounts a less
privileged namespace inherited, and refuses a remount that would clear one."""
CAPABILITY_VERSION_3 = 0x20080522
DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
TMP_MODE = 0o1777
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
CHILD_UNISOLATED = 71
"""The child could not isolate itself: the sandbox is broken, not the program."""
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


def prepare_parent() -> bool:
    """Make the warm parent hard to attack, isolate it and import what programs use. Returns
    whether numpy imported."""
    weak = bool(CONFIG.get("weak"))
    drop_to = CONFIG.get("drop_to")
    if drop_to is not None:  # started as root without a user namespace: become nobody first
        os.setgroups([])
        os.setresgid(drop_to, drop_to, drop_to)
        os.setresuid(drop_to, drop_to, drop_to)
    if not weak:
        enter_own_namespaces()
        mount_scratch()
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # a change of credentials disarmed it
    for path in CONFIG.get("sys_path", []):
        if path not in sys.path:
            sys.path.append(path)
    prctl(PR_SET_DUMPABLE, 0)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if weak:
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
    if weak and limits["processes"] is not None:
        limits["processes"] += count_own_processes()  # RLIMIT_NPROC counts all of the user's
    FIXED_LIMITS[:] = fixed_limits()
    if not weak:
        NET[:] = [os.open("/proc/self/net", DIRECTORY_FLAGS)]
        hide_proc()
    if CONFIG.get("seccomp"):
        install_seccomp()
    return "numpy" in sys.modules


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


def scratch_dirs() -> list[str]:
    """The directories a program may write to, emptied after every check."""
    return [workdir()] if CONFIG.get("weak") else [workdir(), "/dev/shm"]


ROOT_TIMES: dict[str, tuple[int, int]] = {}
"""(atime, mtime) of the sandbox's /tmp and /dev/shm as mounted: restored after every check,
since a program may set them (to carry a message to the next one)."""
KEPT: dict[str, str | None] = {}
"""Top-level entries of the program's /tmp that belong to a Python installation under /tmp:
name -> symlink target, or None for a read-only bind mount (which a program cannot remove)."""


def check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def mount(source: str | None, target: str, kind: str | None, flags: int, data: str = "") -> None:
    check(
        LIBC.mount(
            source.encode() if source else None,
            target.encode(),
            kind.encode() if kind else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def remount_read_only(path: str) -> None:
    held = os.statvfs(path).f_flag
    kept = sum(flag for st_flag, flag in KEPT_MOUNT_FLAGS if held & st_flag)
    mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | kept)


def enter_own_namespaces() -> None:
    """A user namespace owned by this (unprivileged) user, in which the worker may mount, and a
    mount namespace of its own. Must run while the process has a single thread."""
    uid, gid = os.geteuid(), os.getegid()
    prctl(PR_SET_DUMPABLE, 1)  # a change of uid left /proc/self/*_map owned by root
    check(LIBC.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare")
    maps = (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1"))
    for name, text in maps:
        descriptor = os.open(f"/proc/self/{name}", os.O_WRONLY)
        try:
            os.write(descriptor, text.encode())
        finally:
            os.close(descriptor)
    prctl(PR_SET_DUMPABLE, 0)


def mount_scratch() -> None:
    """The program's /tmp and /dev/shm: tmpfs capped in bytes and files. What bubblewrap bound
    into its own /tmp (a Python installation under /tmp) is bound again, read-only."""
    limits = CONFIG["limits"]
    options = f"size={int(CONFIG['tmp_bytes'])},nr_inodes={int(limits['tmp_files'])},mode=1777"
    underneath = os.open("/tmp", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    names = os.listdir(f"/proc/self/fd/{underneath}")
    scratch = MS_NOSUID | MS_NODEV | MS_NOATIME  # reading changes nothing a later check sees
    mount("tmpfs", "/tmp", "tmpfs", scratch, options)
    for name in names:
        source, target = f"/proc/self/fd/{underneath}/{name}", f"/tmp/{name}"
        if os.path.islink(source):
            link = KEPT[name] = os.readlink(source)
            os.symlink(link, target)
            continue
        if os.path.isdir(source):
            os.mkdir(target, 0o755)
        else:
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
        mount(source, target, None, MS_BIND | MS_REC)
        remount_read_only(target)
        KEPT[name] = None
    os.close(underneath)
    mount("tmpfs", "/dev/shm", "tmpfs", scratch, options)
    for directory in ("/tmp", "/dev/shm"):
        info = os.stat(directory)
        ROOT_TIMES[directory] = (info.st_atime_ns, info.st_mtime_ns)
    remount_read_only("/dev")


def hide_proc() -> None:
    """An empty read-only directory over /proc, once the worker no longer needs it: no mount
    table (which names host paths), no kernel tunables, no view of the warm parent."""
    flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
    mount("tmpfs", "/proc", "tmpfs", flags, "size=4k,nr_inodes=2,mode=555")


class SockFilter(ctypes.Structure):
    _fields_ = (
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint),
    )


class SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter)))


def install_seccomp() -> None:
    """The filter arcbench compiled (see `seccomp`); inherited by every child, never removable."""
    code = bytes.fromhex(CONFIG["seccomp"])
    count = len(code) // ctypes.sizeof(SockFilter)
    instructions = (SockFilter * count).from_buffer_copy(code)
    program = SockFprog(count, instructions)
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    mode = ctypes.c_ulong(SECCOMP_MODE_FILTER)
    check(LIBC.prctl(PR_SET_SECCOMP, mode, ctypes.byref(program), 0, 0), "seccomp")


CAPABILITY_HEADER = (ctypes.c_uint32 * 2)(CAPABILITY_VERSION_3, 0)
NO_CAPABILITIES = (ctypes.c_uint32 * 6)()


def isolate_child() -> None:
    """A fresh IPC namespace (no System V object or POSIX queue of an earlier check), then no
    capabilities at all: the worker's user namespace grants them, the program gets none."""
    check(LIBC.unshare(CLONE_NEWIPC), "unshare")
    check(LIBC.capset(CAPABILITY_HEADER, NO_CAPABILITIES), "capset")


def clear_directory(directory: str) -> bool:
    """Empty `directory` whatever a program did inside it; True when nothing is left.

    One directory descriptor at a time, walking back up through "..", so neither nesting depth
    (no recursion, no path longer than PATH_MAX) nor the open-file limit matters; directories
    are made accessible before they are read; links are removed, never followed. Runs only when
    every process of the check is gone, so nothing changes underneath.
    """
    with contextlib.suppress(OSError):
        os.chmod(directory, scratch_mode(directory))
    try:
        descriptor = os.open(directory, DIRECTORY_FLAGS)
    except OSError:
        return False
    top_kept = kept_names(directory)
    stack: list[tuple[str, list[str]]] = [("", remove_files(descriptor, top_kept))]
    try:
        while stack:
            name, subdirectories = stack[-1]
            if subdirectories:
                child = subdirectories.pop()
                try:
                    os.chmod(child, 0o700, dir_fd=descriptor)
                    inner = os.open(child, DIRECTORY_FLAGS, dir_fd=descriptor)
                except OSError:
                    continue
                os.close(descriptor)
                descriptor = inner
                stack.append((child, remove_files(descriptor, frozenset())))
                continue
            stack.pop()
            if stack:
                parent = os.open("..", DIRECTORY_FLAGS, dir_fd=descriptor)
                os.close(descriptor)
                descriptor = parent
                with contextlib.suppress(OSError):
                    os.rmdir(name, dir_fd=descriptor)
    except OSError:
        return False
    finally:
        os.close(descriptor)
    try:
        reset_root(directory)
        return not set(os.listdir(directory)) - top_kept
    except OSError:
        return False


def reset_root(directory: str) -> None:
    """Undo what a program can do to a scratch directory itself: its extended attributes (user
    attributes, ACLs) and, in full isolation, its times."""
    for name in os.listxattr(directory, follow_symlinks=False):
        os.removexattr(directory, name, follow_symlinks=False)
    if directory in ROOT_TIMES:
        os.utime(directory, ns=ROOT_TIMES[directory], follow_symlinks=False)


def remove_files(descriptor: int, kept: frozenset[str]) -> list[str]:
    """Unlink everything but directories in a directory; return the directories' names."""
    try:
        with os.scandir(descriptor) as entries:
            listed = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries]
    except OSError:
        return []
    directories: list[str] = []
    for name, is_directory in listed:
        if name in kept:
            continue
        if is_directory:
            directories.append(name)
        else:
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=descriptor)
    return directories


def restore_kept_links() -> bool:
    """Put back the installation's symlinks in /tmp that a program removed or replaced."""
    for name, target in KEPT.items():
        if target is None:
            continue
        path = f"/tmp/{name}"
        try:
            if os.readlink(path) == target:
                continue
        except OSError:
            pass
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            os.symlink(target, path)
        except OSError:
            return False
    return True


def clean_up() -> bool:
    """Empty every scratch directory; False when the worker must not be used again."""
    clean = restore_kept_links() and not sockets_left()
    for directory in scratch_dirs():  # every one, even after a failure
        clean = (untouched(directory) or clear_directory(directory)) and clean
    return clean


NET: list[int] = []
"""The worker's /proc/self/net, opened before /proc was hidden (full isolation only)."""


def sockets_left() -> bool:
    """Whether a TCP socket outlived the processes of the check: a connection closed by the
    program waits (TIME_WAIT) for a minute in the worker's network namespace, and the next
    program could tell which ports are held (a bind fails), a message from an earlier one.

    Read from the namespace's counters (`sockstat`), in microseconds: `/proc/net/tcp` would
    walk the kernel's table of every namespace's connections, milliseconds per check."""
    if not NET:
        return False  # weak isolation: the host's network, nothing of it is the sandbox's
    held = 0
    for name in ("sockstat", "sockstat6"):
        try:
            descriptor = os.open(name, os.O_RDONLY | os.O_CLOEXEC, dir_fd=NET[0])
        except FileNotFoundError:
            continue  # no IPv6 in this kernel
        except OSError:
            return True  # unknown: do not hand the namespace on
        try:
            table = os.read(descriptor, 4096).decode("ascii", "replace")
        finally:
            os.close(descriptor)
        for line in table.splitlines():
            label, _, counts = line.partition(":")
            if label in ("TCP", "TCP6"):
                words = counts.split()
                fields = dict(zip(words[::2], words[1::2], strict=False))
                for key in ("inuse", "tw"):
                    count = fields.get(key, "0")
                    held += int(count) if count.isdigit() else 1  # unreadable: assume held
    return held > 0


def untouched(directory: str) -> bool:
    """Whether a scratch directory is as the last cleanup left it (the usual case: most programs
    write no file), in a stat, a listing and a list of extended attributes."""
    try:
        info = os.stat(directory, follow_symlinks=False)
        times = (info.st_atime_ns, info.st_mtime_ns)
        return (
            info.st_mode & 0o7777 == scratch_mode(directory)
            and ROOT_TIMES.get(directory, times) == times
            and set(os.listdir(directory)) == kept_names(directory)
            and not os.listxattr(directory, follow_symlinks=False)
        )
    except OSError:
        return False


def scratch_mode(directory: str) -> int:
    """The mode a scratch directory must have: sticky and world-writable for the sandbox's own
    /tmp and /dev/shm, private for weak mode's directory on the host."""
    return TMP_MODE if directory in ("/tmp", "/dev/shm") and not CONFIG.get("weak") else 0o700


def kept_names(directory: str) -> frozenset[str]:
    """What a cleanup leaves in a scratch directory: the installation's entries in /tmp."""
    return frozenset(KEPT) if directory == "/tmp" and not CONFIG.get("weak") else frozenset()


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
            else:
                try:
                    isolate_child()
                except OSError:
                    os._exit(CHILD_UNISOLATED)
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
    elif os.WEXITSTATUS(status) == CHILD_UNISOLATED:
        message = "the sandbox could not isolate the program"
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
    return results


def stop_watching(fd: int, watched: list[int]) -> None:
    """No more polling a pipe whose writers are all gone: it would be ready for ever."""
    POLL.unregister(fd)
    watched.remove(fd)


def shut_down() -> None:
    """arcbench has gone (its end of our stdin closed): take every process down and exit. In full
    isolation the kernel frees the scratch filesystems with the namespace; in weak mode the
    directory is emptied here, so that arcbench only removes an empty one."""
    kill_everything_else()
    if CONFIG.get("weak"):
        clean_up()
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


def self_test() -> None:
    """Fork one child through the isolation every check's child goes through, so that a kernel
    refusing it stops the worker at its start (and the sandbox's probe reports why)."""
    pid = os.fork()
    if pid == 0:
        try:
            isolate_child()
        except OSError as exc:
            os._exit(exc.errno or 1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        reason = os.strerror(os.WEXITSTATUS(status)) if os.WIFEXITED(status) else str(status)
        sys.stderr.write(f"a check cannot be isolated here: {reason}\n")
        sys.stderr.flush()
        os._exit(1)


def main() -> None:
    global DEVNULL
    numpy_ready = prepare_parent()
    if not CONFIG.get("weak"):
        self_test()
    DEVNULL = os.open(os.devnull, os.O_RDONLY)
    POLL.register(0, select.EPOLLIN)  # arcbench sends nothing mid-check but EOF
    os.makedirs(workdir(), exist_ok=True)
    requests = os.fdopen(0, "rb")
    replies = os.fdopen(os.dup(1), "wb")
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)  # a stray print anywhere can no longer corrupt the protocol
    replies.write(json.dumps({"ready": True, "numpy": numpy_ready}).encode() + b"\n")
    replies.flush()
    for line in requests:
        if not serve(line, replies):
            break
    shut_down()


def serve(line: bytes, replies: Any) -> bool:
    """Run one check and send its reply; False when the worker must retire.

    A function of its own so that nothing of the check (its code, inputs or results) stays
    referenced by the warm parent: the next check's child is forked from it, and a program
    can walk its frames (`sys._getframe().f_back`) up to the loop that called it.
    """
    request = json.loads(line)
    results = run_check(request["code"], request["inputs"], float(request["timeout"]))
    reply: dict[str, Any] = {"id": request["id"], "results": results}
    if not clean_up():
        reply["retire"] = True  # something is left the next program must not find
    replies.write(json.dumps(reply).encode() + b"\n")
    replies.flush()
    return "retire" not in reply


if __name__ == "__main__":
    main()
