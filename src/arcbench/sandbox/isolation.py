"""How a sandbox worker is started: the bubblewrap command for full isolation, or a plain process.

Full isolation is bubblewrap (`bwrap`, Debian's `bubblewrap`) with every namespace unshared:

- **network**: a private namespace with only loopback, so nothing outside (nor 127.0.0.1 of the
  host) can be reached;
- **filesystem**: an empty read-only root in which only the Python installation (the interpreter,
  libpython, the standard library and the site-packages that hold numpy), the system's shared
  library directory and the dynamic loader are bound read-only, plus a size-capped tmpfs `/tmp`
  that is the program's own empty directory, and minimal `/dev` and `/proc`. No shell, no home
  directory, no checkout, no `.env`;
- **PID**: the worker is PID 1 of its own namespace (`--as-pid-1`), so when it dies the kernel
  kills everything in the namespace, and `--die-with-parent` kills it when arcbench dies;
- **users**: run as a normal user, bubblewrap maps the user into a new user namespace and
  forbids nested ones (`--disable-userns`). Run as root, a user namespace would map the sandbox
  to real root, which the kernel exempts from `RLIMIT_NPROC`; instead bubblewrap keeps only
  CAP_SETUID/CAP_SETGID and the worker drops to `nobody` (65534) before reading any request;
- **environment**: cleared but for `PATH=/usr/bin:/bin` (which holds nothing in there).

Paths are bound at the same place as on the host because pyenv-style interpreters find
libpython through an absolute RPATH.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import struct
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

MINIMAL_PATH = "/usr/bin:/bin"
NOBODY = 65534
SANDBOX_TMP = "/tmp"


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


def site_dirs() -> list[str]:
    """The site-packages directories programs may import from (numpy's first)."""
    dirs: list[str] = []
    spec = importlib.util.find_spec("numpy")
    if spec is not None and spec.submodule_search_locations:
        dirs.append(str(Path(next(iter(spec.submodule_search_locations))).parent))
    import site

    for directory in site.getsitepackages():
        if os.path.isdir(directory) and directory not in dirs:
            dirs.append(directory)
    return dirs


def interpreter() -> str:
    """The real interpreter binary (a venv's `python` is a symlink to it)."""
    return os.path.realpath(sys.executable)


def _mapped_libraries() -> list[str]:
    paths: list[str] = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and ".so" in fields[5]:
                path = fields[5].strip()
                if path.startswith("/") and path not in paths:
                    paths.append(path)
    return paths


def _elf_interpreter(path: str) -> str | None:
    """The dynamic loader an ELF executable names (PT_INTERP), or None for a static one."""
    with open(path, "rb") as handle:
        data = handle.read(1 << 16)
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None  # only 64-bit little-endian is parsed; the loader is then found otherwise
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for index in range(phnum):
        base = phoff + index * phentsize
        (kind,) = struct.unpack_from("<I", data, base)
        if kind == 3:
            (offset,) = struct.unpack_from("<Q", data, base + 8)
            (size,) = struct.unpack_from("<Q", data, base + 32)
            return data[offset : offset + size].rstrip(b"\0").decode()
    return None


class _MountPlan:
    """bwrap arguments exposing host paths read-only at the same place, symlinks replicated."""

    def __init__(self) -> None:
        self.args: list[str] = []
        self.bound: list[str] = []
        self.links: set[str] = set()
        self.dirs: set[str] = {"/"}

    def _parents(self, path: str) -> None:
        """Create the parents of a mount point world-traversable: bubblewrap would copy modes
        such as /root's 0700, and the sandbox may run as nobody."""
        parent = os.path.dirname(path)
        if parent in self.dirs or self._covered(parent):
            return
        self._parents(parent)
        self.args += ["--perms", "0755", "--dir", parent]
        self.dirs.add(parent)

    def _covered(self, path: str) -> bool:
        return any(path == done or path.startswith(done.rstrip("/") + "/") for done in self.bound)

    def expose(self, path: str, depth: int = 0) -> None:
        if depth > 20 or not os.path.lexists(path):
            return
        parts = [part for part in path.split("/") if part]
        current = "/"
        for index, part in enumerate(parts):
            following = os.path.join(current, part)
            if self._covered(following):
                target = os.path.realpath(path)
                if target != os.path.normpath(path):
                    self.expose(target, depth + 1)  # a symlink inside a bound directory
                return
            if os.path.islink(following):
                target = os.readlink(following)
                if following not in self.links:
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


def python_mounts() -> list[str]:
    """bwrap arguments binding the interpreter, its libraries and numpy read-only."""
    exe = interpreter()
    paths = [exe]
    paths += [lib for lib in _mapped_libraries() if "libpython" in os.path.basename(lib)]
    for key in ("stdlib", "platstdlib"):
        paths.append(sysconfig.get_path(key))
    paths += site_dirs()
    libc = next((lib for lib in _mapped_libraries() if "/libc.so" in lib), None)
    system_libs = [os.path.dirname(os.path.realpath(libc))] if libc else []
    loader = _elf_interpreter(exe)
    plan = _MountPlan()
    for path in sorted({os.path.normpath(p) for p in paths + system_libs}, key=len):
        plan.expose(path)
    if loader:
        plan.expose(loader)
    return plan.args


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
        users = ["--unshare-all", "--unshare-user", "--disable-userns"]
    return [
        bwrap,
        *users,
        "--die-with-parent", "--as-pid-1", "--new-session",
        "--hostname", "arcbench-sandbox",
        "--clearenv", "--setenv", "PATH", MINIMAL_PATH,
        # Symbols bound once in the warm parent, not again lazily in every forked child; the
        # worker clears this from its environment (PATH alone) before any program runs.
        "--setenv", "LD_BIND_NOW", "1",
        # The program's /tmp comes first, so that a Python installation under /tmp (a venv in a
        # CI runner's scratch space) is bound on top of it rather than hidden by it.
        "--size", str(tmp_bytes), "--perms", "1777", "--tmpfs", SANDBOX_TMP,
        *python_mounts(),
        "--proc", "/proc",
        "--dev", "/dev",
        "--remount-ro", "/",
        "--chdir", SANDBOX_TMP,
        interpreter(), "-I", "-S", "-B", *worker_args,
    ]  # fmt: skip


@functools.cache
def probe_isolation(bwrap: str | None = None) -> IsolationReport:
    """Check, once per process, that bubblewrap exists and can build the sandbox here.

    It starts the real sandbox command with a trivial script, so a kernel that forbids user
    namespaces, a missing bwrap or a broken mount shows up here rather than on the first check.
    """
    if not sys.platform.startswith("linux"):
        return IsolationReport(False, f"full isolation needs Linux namespaces ({sys.platform})")
    found = bwrap or shutil.which("bwrap")
    if found is None or not os.access(found, os.X_OK):
        return IsolationReport(
            False, "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
        )
    command = bwrap_command(
        found,
        ["-c", "import sys; sys.exit(0)"],
        tmp_bytes=1 << 20,
        as_root=os.geteuid() == 0,
    )
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return IsolationReport(False, f"bubblewrap could not run: {exc}", found)
    if completed.returncode != 0:
        stderr = completed.stderr.strip().splitlines()
        reason = stderr[-1] if stderr else f"exit status {completed.returncode}"
        return IsolationReport(False, f"bubblewrap cannot build the sandbox here: {reason}", found)
    return IsolationReport(True, "bubblewrap namespaces", found)
