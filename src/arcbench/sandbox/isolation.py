"""How a sandbox worker is started: the bubblewrap command for full isolation, or a plain process.

Full isolation is bubblewrap (`bwrap`, Debian's `bubblewrap`) with every namespace unshared, and
then the worker's own user and mount namespaces inside it (see `_worker`):

- **network**: a private namespace with only loopback, so nothing outside (nor 127.0.0.1 of the
  host) can be reached;
- **filesystem**: an empty read-only root holding only what a program needs to run: the
  interpreter, the standard library (its site-packages directories masked by empty read-only
  directories), numpy (its package directory and its vendored libraries), the shared libraries
  these load (found from their ELF headers, see `elf`) and the dynamic loader, all read-only and
  at the same paths as on the host (pyenv-style interpreters find libpython through an absolute
  RPATH). No other package, no dataset, no arcbench, no shell, no home, no checkout, no run
  directory, no `.env`. The worker then mounts the program's own size- and file-count-capped
  `/tmp` and `/dev/shm`, makes `/dev` read-only and hides `/proc`;
- **PID**: the worker is PID 1 of its own namespace (`--as-pid-1`), so when it dies the kernel
  kills everything in the namespace, and `--die-with-parent` kills it when arcbench dies;
- **users**: run as a normal user, bubblewrap maps the user into a new user namespace; run as
  root, bubblewrap keeps only CAP_SETUID/CAP_SETGID and the worker drops to `nobody` (65534),
  because a namespace mapped to real root is exempt from `RLIMIT_NPROC`. Either way the worker
  then enters a user namespace of its own, owned by that unprivileged user, in which it may mount,
  and gives each check a fresh IPC namespace; programs run with no capabilities, under the
  seccomp filter of `seccomp`, which also forbids them any further user namespace;
- **environment**: cleared but for `PATH=/usr/bin:/bin` (which holds nothing in there).
"""

from __future__ import annotations

import functools
import glob
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from arcbench.sandbox.elf import library_closure, read_elf
from arcbench.sandbox.seccomp import build_filter

MINIMAL_PATH = "/usr/bin:/bin"
NOBODY = 65534
SANDBOX_TMP = "/tmp"
WORKER_SOURCE = (Path(__file__).parent / "_worker.py").read_text()
RUNTIME_LIBRARIES = ("libgcc_s.so.1",)
"""Loaded with dlopen, so in no DT_NEEDED list: glibc needs libgcc_s to unwind a thread's stack."""
SITE_NAMES = ("site-packages", "dist-packages")


class Isolation(StrEnum):
    """How strongly programs are separated from the machine."""

    FULL = "full"
    """Namespaces (bubblewrap): no network, private filesystem view, own PID namespace."""
    WEAK = "weak"
    """A separate process with a stripped environment, resource limits and a temporary working
    directory, but the host's filesystem and network. Only on explicit request."""


@dataclass(frozen=True)
class IsolationReport:
    """Whether full isolation works on this machine, and why not if it does not."""

    full_available: bool
    detail: str
    bwrap: str | None = None
    remedy: str | None = None
    """What would make full isolation available, when something simple would."""


def numpy_dir() -> str | None:
    """numpy's package directory, or None when numpy is not installed."""
    spec = importlib.util.find_spec("numpy")
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.abspath(next(iter(spec.submodule_search_locations)))


def program_sys_path() -> list[str]:
    """What the worker appends to `sys.path`: the directory numpy is imported from."""
    found = numpy_dir()
    return [os.path.dirname(found)] if found else []


def interpreter() -> str:
    """The real interpreter binary (a venv's `python` is a symlink to it)."""
    return os.path.realpath(sys.executable)


def _stdlib_dirs() -> list[str]:
    paths = {sysconfig.get_path(key) for key in ("stdlib", "platstdlib")}
    return sorted(os.path.normpath(path) for path in paths if path and os.path.isdir(path))


def _site_dirs() -> list[str]:
    """Every directory packages may be installed in; those inside a bound standard library
    directory are masked."""
    import site

    found = set(site.getsitepackages()) | {site.getusersitepackages()}
    found |= {sysconfig.get_path(key) for key in ("purelib", "platlib")}
    found |= {path for path in sys.path if path.endswith(SITE_NAMES)}
    for stdlib in _stdlib_dirs():
        found |= {os.path.join(stdlib, name) for name in SITE_NAMES}
    return sorted(os.path.normpath(path) for path in found if path and os.path.isdir(path))


class _MountPlan:
    """bwrap arguments exposing host paths read-only at the same place, symlinks replicated.

    A path is visible when a bound directory holds it, unless a masked directory (an empty
    read-only tmpfs over part of a bound one) lies between; only what is exposed again inside a
    mask shows through it.
    """

    def __init__(self) -> None:
        self.args: list[str] = []
        self.bound: list[str] = []
        self.masked: list[str] = []
        self.links: set[str] = set()
        self.dirs: set[str] = {"/"}

    @staticmethod
    def _within(path: str, base: str) -> bool:
        return path == base or path.startswith(base.rstrip("/") + "/")

    def _covered(self, path: str) -> bool:
        """Whether a bind shows `path`: the deepest bind or mask above it is a bind."""
        holders = [(len(b), True) for b in self.bound if self._within(path, b)]
        holders += [(len(m), False) for m in self.masked if self._within(path, m)]
        return bool(holders) and max(holders)[1]

    def _parents(self, path: str) -> None:
        """Create the parents of a mount point world-traversable: bubblewrap would copy modes
        such as /root's 0700, and the sandbox may run as nobody."""
        parent = os.path.dirname(path)
        if parent in self.dirs or self._covered(parent):
            return
        self._parents(parent)
        self.args += ["--perms", "0755", "--dir", parent]
        self.dirs.add(parent)

    def mask(self, path: str) -> None:
        """Hide what a bound directory holds at `path` (if anything) behind an empty directory."""
        if self._covered(path) and os.path.isdir(path) and not os.path.islink(path):
            self.args += ["--perms", "0755", "--tmpfs", path]
            self.masked.append(path)
            self.dirs.add(path)

    def expose(self, path: str, depth: int = 0) -> None:
        """Make `path` visible: bind it, after replicating every symlink on the way to it."""
        if depth > 20 or not os.path.lexists(path):
            return
        if self._covered(path):
            target = os.path.realpath(path)
            if target != os.path.normpath(path):
                self.expose(target, depth + 1)  # a symlink inside a bound directory
            return
        parts = [part for part in path.split("/") if part]
        current = "/"
        for index, part in enumerate(parts):
            following = os.path.join(current, part)
            if os.path.islink(following):
                target = os.readlink(following)
                if not self._covered(following) and following not in self.links:
                    self._parents(following)
                    self.args += ["--symlink", target, following]
                    self.links.add(following)
                resolved = os.path.normpath(os.path.join(current, target))
                self.expose(os.path.join(resolved, *parts[index + 1 :]), depth + 1)
                return
            current = following
        self._parents(current)
        self.args += ["--ro-bind", current, current]
        self.bound.append(current)

    def finish(self) -> list[str]:
        for path in self.masked:
            self.args += ["--remount-ro", path]
        return self.args


def exposed_paths() -> tuple[list[str], list[str]]:
    """What programs see: (standard library directories, every other file or directory)."""
    exe = interpreter()
    numpy = numpy_dir()
    numpy_parts = [numpy] if numpy else []
    if numpy and os.path.isdir(numpy + ".libs"):
        numpy_parts.append(numpy + ".libs")  # manylinux wheels vendor OpenBLAS there
    roots = [exe]
    for stdlib in _stdlib_dirs():
        roots += glob.glob(os.path.join(stdlib, "lib-dynload", "*.so"))
    dynload = sysconfig.get_config_var("DESTSHARED")
    if isinstance(dynload, str) and os.path.isdir(dynload):
        roots += glob.glob(os.path.join(dynload, "*.so"))
    for part in numpy_parts:
        roots += glob.glob(os.path.join(part, "**", "*.so*"), recursive=True)
    libraries = library_closure(roots, RUNTIME_LIBRARIES)
    info = read_elf(exe)
    loader = [info.interpreter] if info is not None and info.interpreter else []
    return _stdlib_dirs(), [exe, *numpy_parts, *libraries, *loader]


@functools.cache
def python_mounts() -> tuple[str, ...]:
    """bwrap arguments binding the interpreter, the standard library, numpy and the shared
    libraries they load, read-only, with every site-packages directory masked."""
    stdlib, others = exposed_paths()
    plan = _MountPlan()
    for path in stdlib:
        plan.expose(path)
    for site_dir in _site_dirs():
        plan.mask(site_dir)
    for path in sorted({os.path.normpath(p) for p in others}, key=len):
        plan.expose(path)
    return tuple(plan.finish())


def bwrap_command(
    bwrap: str, worker_args: list[str], *, tmp_bytes: int, as_root: bool
) -> list[str]:
    """The full command line that starts one worker inside a fresh bubblewrap sandbox."""
    if as_root:
        users = [
            "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try",
            "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
        ]  # fmt: skip
    else:
        # No --disable-userns: the worker makes one user namespace of its own before any
        # program runs; the seccomp filter forbids programs every further one.
        users = ["--unshare-all", "--unshare-user"]
    return [
        bwrap,
        *users,
        "--die-with-parent", "--as-pid-1", "--new-session",
        "--hostname", "arcbench-sandbox",
        "--clearenv", "--setenv", "PATH", MINIMAL_PATH,
        # Symbols bound once in the warm parent, not again lazily in every forked child; the
        # worker clears this from its environment (PATH alone) before any program runs.
        "--setenv", "LD_BIND_NOW", "1",
        # A Python installation under /tmp (a venv in a CI runner's scratch space) is bound on
        # top of this tmpfs; the worker mounts the program's own /tmp over it and binds those
        # parts of the installation again, read-only.
        "--size", str(tmp_bytes), "--perms", "1777", "--tmpfs", SANDBOX_TMP,
        *python_mounts(),
        "--proc", "/proc",
        "--dev", "/dev",
        "--remount-ro", "/",
        "--chdir", "/",
        interpreter(), "-I", "-S", "-B", *worker_args,
    ]  # fmt: skip


def worker_command(
    isolation: Isolation, bwrap: str | None, config: dict[str, Any], *, tmp_bytes: int
) -> tuple[list[str], str | None]:
    """The command that starts one worker, and the host directory it works in (weak mode only,
    which the caller removes when the worker is gone).

    `config` holds the worker's limits; the isolation settings are added here.
    """
    config = dict(config, sys_path=program_sys_path())
    seccomp = build_filter()
    if seccomp is not None:
        config["seccomp"] = seccomp.hex()
    if isolation is Isolation.WEAK:
        import tempfile

        workdir = tempfile.mkdtemp(prefix="arcbench-sandbox-")
        config.update(weak=True, parent_pid=os.getpid(), workdir=workdir)
        source = ["-c", WORKER_SOURCE, json.dumps(config)]
        return [interpreter(), "-I", "-S", "-B", *source], workdir
    assert bwrap is not None
    as_root = os.geteuid() == 0
    config.update(workdir=SANDBOX_TMP, tmp_bytes=tmp_bytes)
    if as_root:
        config["drop_to"] = NOBODY
    source = ["-c", WORKER_SOURCE, json.dumps(config)]
    return bwrap_command(bwrap, source, tmp_bytes=tmp_bytes, as_root=as_root), None


PROBE_LIMITS = {
    "memory_bytes": 256 << 20,
    "processes": 8,
    "open_files": 64,
    "output_bytes": 1 << 16,
    "file_bytes": 1 << 20,
    "tmp_files": 64,
}


def static_problem(bwrap: str | None = None) -> IsolationReport:
    """What rules full isolation out without starting anything (not Linux, no bubblewrap, no
    seccomp table for this architecture); `full_available` True when nothing does, yet."""
    if not sys.platform.startswith("linux"):
        return IsolationReport(
            False, f"full isolation needs Linux namespaces ({sys.platform})", remedy="run on Linux"
        )
    found = bwrap or shutil.which("bwrap")
    if found is None or not os.access(found, os.X_OK):
        return IsolationReport(
            False,
            "bubblewrap (bwrap) is not installed",
            remedy="install it (apt-get install bubblewrap)",
        )
    if build_filter() is None:
        return IsolationReport(
            False, f"no seccomp filter for this architecture ({os.uname().machine})", found
        )
    return IsolationReport(True, "bubblewrap namespaces", found)


def numpy_problem(ready: bytes) -> str | None:
    """Why a worker's ready line is not good enough: numpy is installed here but did not import
    in there (a library the sandbox failed to expose, say)."""
    try:
        imported = json.loads(ready).get("numpy")
    except (ValueError, AttributeError):
        return "the worker sent an unreadable ready line"
    if numpy_dir() is not None and not imported:
        return "numpy does not import inside the sandbox"
    return None


@functools.cache
def probe_isolation(bwrap: str | None = None) -> IsolationReport:
    """Check, once per process, that bubblewrap exists and the worker can isolate itself here.

    It starts a real worker with nothing to check, so a kernel that forbids user namespaces, a
    missing bwrap, a mount that fails or a library numpy cannot load shows up here, with the
    reason, rather than on the first check.
    """
    report = static_problem(bwrap)
    if not report.full_available:
        return report
    found = report.bwrap
    command, _ = worker_command(Isolation.FULL, found, {"limits": PROBE_LIMITS}, tmp_bytes=1 << 20)
    try:
        completed = subprocess.run(command, input=b"", capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return IsolationReport(False, f"bubblewrap could not run: {exc}", found)
    ready = completed.stdout.split(b"\n", 1)[0]
    if completed.returncode != 0 or not ready.startswith(b'{"ready": true'):
        stderr = completed.stderr.decode(errors="replace").strip().splitlines()
        reason = stderr[-1] if stderr else f"exit status {completed.returncode}"
        return IsolationReport(
            False,
            f"bubblewrap cannot build the sandbox here: {reason}",
            found,
            remedy="enable unprivileged user namespaces",
        )
    problem = numpy_problem(ready)
    if problem is not None:
        return IsolationReport(False, problem, found)
    return report
