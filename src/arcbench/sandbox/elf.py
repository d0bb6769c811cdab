"""Which shared libraries a Python installation loads, read from its ELF files without running them.

The sandbox shows a program the interpreter, the standard library and numpy, and of the system's
libraries only those these load: the closure of their `DT_NEEDED` entries, resolved as the
dynamic loader resolves them (`DT_RPATH`, `DT_RUNPATH`, `$ORIGIN`, the `ld.so.conf` directories
and the system's default ones). Only 64-bit little-endian ELF is read (x86-64, aarch64); anything
else is skipped, and then fails to load inside the sandbox rather than exposing more.
"""

from __future__ import annotations

import glob
import mmap
import os
import struct
import sysconfig
from collections.abc import Iterable
from dataclasses import dataclass

_PT_LOAD, _PT_DYNAMIC, _PT_INTERP = 1, 2, 3
_DT_NEEDED, _DT_STRTAB, _DT_RPATH, _DT_RUNPATH = 1, 5, 15, 29


@dataclass(frozen=True)
class ElfInfo:
    """What the dynamic loader reads from one ELF file."""

    needed: tuple[str, ...] = ()
    search: tuple[str, ...] = ()
    """RPATH and RUNPATH directories, `$ORIGIN` expanded."""
    interpreter: str | None = None
    """PT_INTERP: the dynamic loader an executable names."""


def read_elf(path: str) -> ElfInfo | None:
    """The loader-relevant parts of an ELF file, or None for anything that is not 64-bit LE ELF."""
    try:
        with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, prot=mmap.PROT_READ) as data:
            return _parse(data, path)
    except (OSError, ValueError, struct.error, IndexError):
        return None


def _parse(data: mmap.mmap, path: str) -> ElfInfo | None:
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    loads: list[tuple[int, int, int]] = []
    dynamic: tuple[int, int] | None = None
    interpreter = None
    for index in range(phnum):
        base = phoff + index * phentsize
        kind, _, offset, vaddr, _, filesz = struct.unpack_from("<IIQQQQ", data, base)
        if kind == _PT_LOAD:
            loads.append((vaddr, offset, filesz))
        elif kind == _PT_DYNAMIC:
            dynamic = (offset, filesz)
        elif kind == _PT_INTERP:
            interpreter = data[offset : offset + filesz].rstrip(b"\0").decode()
    if dynamic is None:
        return ElfInfo(interpreter=interpreter)
    entries: list[tuple[int, int]] = []
    for position in range(dynamic[0], dynamic[0] + dynamic[1], 16):
        tag, value = struct.unpack_from("<QQ", data, position)
        if tag == 0:
            break
        entries.append((tag, value))
    strtab = next((value for tag, value in entries if tag == _DT_STRTAB), None)
    table = _file_offset(loads, strtab) if strtab is not None else None
    if table is None:
        return ElfInfo(interpreter=interpreter)

    def string(offset: int) -> str:
        start = table + offset
        return data[start : data.find(b"\0", start)].decode(errors="surrogateescape")

    origin = os.path.dirname(os.path.abspath(path))
    needed = tuple(string(value) for tag, value in entries if tag == _DT_NEEDED)
    search: list[str] = []
    for tag, value in entries:
        if tag in (_DT_RPATH, _DT_RUNPATH):
            for entry in string(value).split(":"):
                if entry:
                    search.append(entry.replace("${ORIGIN}", origin).replace("$ORIGIN", origin))
    return ElfInfo(needed, tuple(search), interpreter)


def _file_offset(loads: list[tuple[int, int, int]], address: int) -> int | None:
    for vaddr, offset, size in loads:
        if vaddr <= address < vaddr + size:
            return address - vaddr + offset
    return None


def _configured_dirs(path: str = "/etc/ld.so.conf", depth: int = 0) -> list[str]:
    """The directories `ldconfig` caches, from ld.so.conf and its includes."""
    dirs: list[str] = []
    try:
        with open(path) as handle:
            lines = handle.read().splitlines()
    except OSError:
        return dirs
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if line.startswith("include") and depth < 5:
            pattern = line.split(None, 1)[1] if " " in line or "\t" in line else ""
            if pattern and not pattern.startswith("/"):
                pattern = os.path.join(os.path.dirname(path), pattern)
            for included in sorted(glob.glob(pattern)):
                dirs += _configured_dirs(included, depth + 1)
        elif line.startswith("/"):
            dirs.append(line)
    return dirs


def default_dirs() -> list[str]:
    """Where the loader looks after RPATH/RUNPATH: ld.so.conf's directories, then the defaults."""
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    defaults = [f"/lib/{multiarch}", f"/usr/lib/{multiarch}"] if multiarch else []
    defaults += ["/lib64", "/usr/lib64", "/lib", "/usr/lib"]
    found: list[str] = []
    for directory in _configured_dirs() + defaults:
        if directory not in found and os.path.isdir(directory):
            found.append(directory)
    return found


def library_closure(roots: Iterable[str], extra: Iterable[str] = ()) -> list[str]:
    """Every shared library the ELF files `roots` load, directly or not, as the paths the loader
    would open (symlinks not resolved; the caller follows them), plus the libraries named in
    `extra` (loaded at run time with dlopen, such as libgcc_s for thread cancellation).

    A name found in several candidate directories is returned once per directory, so that
    whichever the loader picks is there.
    """
    system = default_dirs()
    found: dict[str, None] = {}
    queue: list[tuple[str, tuple[str, ...]]] = [(root, ()) for root in roots]
    for name in extra:
        for library in _locate(name, [], system):
            found.setdefault(library)
            queue.append((library, ()))
    visited: set[str] = set()
    while queue:
        path, inherited = queue.pop()
        if path in visited:
            continue
        visited.add(path)
        info = read_elf(path)
        if info is None:
            continue
        search = info.search + inherited  # a loading object's RPATH applies to what it loads
        for name in info.needed:
            for library in _locate(name, list(search), system):
                found.setdefault(library)
                queue.append((library, search))
    return list(found)


def _locate(name: str, search: list[str], system: list[str]) -> list[str]:
    """Where the loader finds `name`: the first match on the object's own search path, or else
    the system directory it would pick (one path per distinct file: /lib and /usr/lib are often
    the same directory)."""
    if "/" in name:
        return [name] if os.path.exists(name) else []
    for directory in search:
        candidate = os.path.normpath(os.path.join(directory, name))
        if os.path.exists(candidate):
            return [candidate]
    matches: dict[str, str] = {}
    for directory in system:
        candidate = os.path.join(directory, name)
        if os.path.exists(candidate):
            matches.setdefault(os.path.realpath(candidate), candidate)
    return list(matches.values())
