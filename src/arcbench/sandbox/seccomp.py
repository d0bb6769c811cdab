"""The seccomp filter the sandbox worker installs before any program runs: which kernel interfaces
a program may not use at all, compiled to a classic BPF program in pure Python.

Namespaces and dropped capabilities already keep a program away from the machine; this filter
takes away what needs no privilege but leaves state behind or widens the kernel's attack surface:

- **kernel objects that outlive a process**: keyrings (`add_key`, `keyctl`, `request_key`),
  System V IPC and POSIX message queues;
- **namespaces and mounts**: a new user namespace (the one kind that needs no capability, and the
  door to every other kind), `setns`, the mount system calls;
- **reaching other processes**: `ptrace`, `process_vm_*`, `kcmp`, `pidfd_getfd`, and changing the
  priority, scheduling, CPU affinity, I/O priority or resource limits of any process but itself
  (the warm parent runs as the same user, and would keep a change for every later check);
- **large attack surfaces few programs need**: io_uring, perf events, BPF, userfaultfd, fanotify,
  old AIO, `modify_ldt`, handles to files, terminal injection (`TIOCSTI`, `TIOCLINUX`), and every
  socket family but Unix, IPv4 and IPv6 (so no `AF_VSOCK`, `AF_NETLINK`, `AF_ALG`, `AF_PACKET`);
- **the machine itself**: modules, kexec, reboot, swap, clocks, accounting, quotas, `sync`.

System calls newer than this table are refused with ENOSYS, as an old kernel would (the C library
falls back), so a future kernel interface is closed until it is reviewed here. A program running
another architecture's system calls (x32, or `int 0x80` on x86-64) is killed. A refused call
fails with EPERM (ENOSYS for `clone3`, whose flags a filter cannot read, so the C library falls
back to `clone`; EAFNOSUPPORT for a socket family), as for an unprivileged user.
"""

from __future__ import annotations

import errno
import platform
import struct
from dataclasses import dataclass

# Classic BPF opcodes (linux/filter.h) and seccomp return values (linux/seccomp.h).
_LD_W_ABS = 0x20
_JEQ = 0x15
_JGT = 0x25
_JSET = 0x45
_RET = 0x06
_KILL_PROCESS = 0x80000000
_ERRNO = 0x00050000
_ALLOW = 0x7FFF0000
_MAX_JUMP = 255

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6].
_NR = 0
_ARCH = 4


def _arg_low(index: int) -> int:
    """Offset of the low 32 bits of argument `index` (little-endian); the kernel truncates every
    argument checked here (flags, pids, families, ioctl requests) to 32 bits."""
    return 16 + 8 * index


CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080
NEW_NAMESPACES = (
    CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET
) | CLONE_NEWTIME
"""Namespace flags refused in `clone` and `unshare`. CLONE_NEWIPC is left out: the worker gives
each check a fresh IPC namespace through it, and a program has no capability to do the same."""

AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
TIOCSTI, TIOCLINUX = 0x5412, 0x541C
PRIO_PROCESS = 0
PERSONALITY_QUERY = 0xFFFFFFFF
NEWEST_REVIEWED = 469
"""The highest system call number reviewed for this filter (file_setattr, Linux 6.17)."""

DENIED = (
    # kernel objects that outlive the process
    "add_key", "request_key", "keyctl",
    "shmget", "shmat", "shmctl", "shmdt", "msgget", "msgsnd", "msgrcv", "msgctl",
    "semget", "semop", "semctl", "semtimedop",
    "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr",
    # namespaces, mounts, the root directory
    "setns", "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount", "fsopen",
    "fsconfig", "fsmount", "fspick", "mount_setattr", "statmount", "listmount", "open_tree_attr",
    # other processes
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "process_madvise",
    "process_mrelease", "ioprio_set", "migrate_pages", "move_pages",
    # large attack surfaces
    "io_uring_setup", "io_uring_enter", "io_uring_register", "perf_event_open", "bpf",
    "userfaultfd", "fanotify_init", "name_to_handle_at", "open_by_handle_at", "modify_ldt",
    "io_setup", "io_destroy", "io_getevents", "io_submit", "io_cancel", "io_pgetevents",
    "lookup_dcookie", "uselib", "ustat", "sysfs", "_sysctl",
    # the machine
    "syslog", "acct", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "swapon",
    "swapoff", "reboot", "sethostname", "setdomainname", "iopl", "ioperm", "create_module",
    "init_module", "finit_module", "delete_module", "get_kernel_syms", "query_module",
    "quotactl", "quotactl_fd", "nfsservctl", "kexec_load", "kexec_file_load", "vhangup", "sync",
)  # fmt: skip
"""Refused outright (EPERM). Names a architecture lacks are skipped."""

_GENERIC_NEW = {
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428,
    "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "clone3": 435, "pidfd_getfd": 438, "process_madvise": 440, "mount_setattr": 442,
    "quotactl_fd": 443, "process_mrelease": 448, "statmount": 457, "listmount": 458,
    "open_tree_attr": 467,
}  # fmt: skip
"""System calls added since Linux 5.1, numbered alike on every architecture."""

X86_64 = {
    "ioctl": 16, "shmget": 29, "shmat": 30, "shmctl": 31, "socket": 41, "socketpair": 53,
    "clone": 56, "semget": 64, "semop": 65, "semctl": 66, "shmdt": 67, "msgget": 68,
    "msgsnd": 69, "msgrcv": 70, "msgctl": 71, "ptrace": 101, "syslog": 103, "uselib": 134,
    "personality": 135, "ustat": 136, "sysfs": 139, "setpriority": 141, "sched_setparam": 142,
    "sched_setscheduler": 144, "vhangup": 153, "modify_ldt": 154, "pivot_root": 155,
    "_sysctl": 156, "adjtimex": 159, "chroot": 161, "sync": 162, "acct": 163,
    "settimeofday": 164, "mount": 165, "umount2": 166, "swapon": 167, "swapoff": 168,
    "reboot": 169, "sethostname": 170, "setdomainname": 171, "iopl": 172, "ioperm": 173,
    "create_module": 174, "init_module": 175, "delete_module": 176, "get_kernel_syms": 177,
    "query_module": 178, "quotactl": 179, "nfsservctl": 180, "sched_setaffinity": 203,
    "io_setup": 206, "io_destroy": 207, "io_getevents": 208, "io_submit": 209, "io_cancel": 210,
    "lookup_dcookie": 212, "semtimedop": 220, "clock_settime": 227, "mq_open": 240,
    "mq_unlink": 241, "mq_timedsend": 242, "mq_timedreceive": 243, "mq_notify": 244,
    "mq_getsetattr": 245, "kexec_load": 246, "add_key": 248, "request_key": 249, "keyctl": 250,
    "ioprio_set": 251, "migrate_pages": 256, "unshare": 272, "move_pages": 279,
    "perf_event_open": 298, "fanotify_init": 300, "prlimit64": 302, "name_to_handle_at": 303,
    "open_by_handle_at": 304, "clock_adjtime": 305, "setns": 308, "process_vm_readv": 310,
    "process_vm_writev": 311, "kcmp": 312, "finit_module": 313, "sched_setattr": 314,
    "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323, "io_pgetevents": 333,
} | _GENERIC_NEW  # fmt: skip

AARCH64 = {
    "io_setup": 0, "io_destroy": 1, "io_submit": 2, "io_cancel": 3, "io_getevents": 4,
    "lookup_dcookie": 18, "ioctl": 29, "ioprio_set": 30, "umount2": 39, "mount": 40,
    "pivot_root": 41, "nfsservctl": 42, "chroot": 51, "vhangup": 58, "quotactl": 60,
    "sync": 81, "acct": 89, "personality": 92, "unshare": 97, "kexec_load": 104,
    "init_module": 105, "delete_module": 106, "clock_settime": 112, "syslog": 116,
    "ptrace": 117, "sched_setparam": 118, "sched_setscheduler": 119, "sched_setaffinity": 122,
    "setpriority": 140, "reboot": 142, "sethostname": 161, "setdomainname": 162,
    "settimeofday": 170, "adjtimex": 171, "mq_open": 180, "mq_unlink": 181,
    "mq_timedsend": 182, "mq_timedreceive": 183, "mq_notify": 184, "mq_getsetattr": 185,
    "msgget": 186, "msgctl": 187, "msgrcv": 188, "msgsnd": 189, "semget": 190, "semctl": 191,
    "semtimedop": 192, "semop": 193, "shmget": 194, "shmctl": 195, "shmat": 196, "shmdt": 197,
    "socket": 198, "socketpair": 199, "add_key": 217, "request_key": 218, "keyctl": 219,
    "clone": 220, "swapon": 224, "swapoff": 225, "migrate_pages": 238, "move_pages": 239,
    "perf_event_open": 241, "prlimit64": 261, "fanotify_init": 262, "name_to_handle_at": 264,
    "open_by_handle_at": 265, "clock_adjtime": 266, "setns": 268, "process_vm_readv": 270,
    "process_vm_writev": 271, "kcmp": 272, "finit_module": 273, "sched_setattr": 274,
    "bpf": 280, "userfaultfd": 282, "io_pgetevents": 292, "kexec_file_load": 294,
} | _GENERIC_NEW  # fmt: skip


@dataclass(frozen=True)
class _Arch:
    audit: int
    """AUDIT_ARCH_* (linux/audit.h): the architecture a system call was made in."""
    numbers: dict[str, int]
    foreign_above: int | None = None
    """Numbers at or above this are another ABI of the same architecture (x32)."""


ARCHITECTURES = {
    "x86_64": _Arch(0xC000003E, X86_64, foreign_above=0x40000000),
    "aarch64": _Arch(0xC00000B7, AARCH64),
}


class _Program:
    """A forward-only BPF program with symbolic jump targets, resolved by `assemble`."""

    def __init__(self) -> None:
        self.code: list[tuple[int, int | str, int | str, int]] = []
        self.labels: dict[str, int] = {}

    def load(self, offset: int) -> None:
        self.code.append((_LD_W_ABS, 0, 0, offset))

    def jump(self, op: int, value: int, true: int | str, false: int | str) -> None:
        """A conditional jump; an int target is a relative skip, a str a label further on."""
        self.code.append((op, true, false, value))

    def ret(self, action: int) -> None:
        self.code.append((_RET, 0, 0, action))

    def label(self, name: str) -> None:
        self.labels[name] = len(self.code)

    def assemble(self) -> bytes:
        out = bytearray()
        for index, (op, true, false, value) in enumerate(self.code):
            offsets = [
                self.labels[target] - index - 1 if isinstance(target, str) else target
                for target in (true, false)
            ]
            if not all(0 <= offset <= _MAX_JUMP for offset in offsets):
                raise ValueError(f"BPF jump out of range at instruction {index}")
            out += struct.pack("<HBBI", op, offsets[0], offsets[1], value)
        return bytes(out)


def _by_value(
    program: _Program, nr: int, arg: int, values: tuple[int, ...], *, listed: int, other: int
) -> None:
    """For system call `nr`: action `listed` when the low 32 bits of argument `arg` are one of
    `values`, action `other` when not."""
    program.jump(_JEQ, nr, 0, len(values) + 3)
    program.load(_arg_low(arg))
    for position, value in enumerate(values):
        program.jump(_JEQ, value, len(values) - position, 0)
    program.ret(other)
    program.ret(listed)


def _deny_flags(program: _Program, nr: int, arg: int, mask: int, code: int) -> None:
    """Error `code` for system call `nr` when argument `arg` has any bit of `mask` set."""
    program.jump(_JEQ, nr, 0, 4)
    program.load(_arg_low(arg))
    program.jump(_JSET, mask, 0, 1)
    program.ret(_ERRNO | code)
    program.ret(_ALLOW)


def _own_priority_only(program: _Program, nr: int) -> None:
    """setpriority(PRIO_PROCESS, 0, n) only: the caller's own niceness, not its group's or its
    user's (which would include the warm parent)."""
    program.jump(_JEQ, nr, 0, 6)
    program.load(_arg_low(0))
    program.jump(_JEQ, PRIO_PROCESS, 0, 2)
    program.load(_arg_low(1))
    program.jump(_JEQ, 0, 1, 0)
    program.ret(_ERRNO | errno.EPERM)
    program.ret(_ALLOW)


def build_filter(machine: str | None = None) -> bytes | None:
    """The filter for `machine` (default: this one) as `struct sock_filter` bytes, or None when
    the architecture has no table here."""
    arch = ARCHITECTURES.get(machine or platform.machine())
    if arch is None:
        return None
    numbers = arch.numbers
    program = _Program()
    program.load(_ARCH)
    program.jump(_JEQ, arch.audit, 1, 0)
    program.ret(_KILL_PROCESS)
    program.load(_NR)
    if arch.foreign_above is not None:
        program.jump(_JGT, arch.foreign_above - 1, "kill", 0)
    program.jump(_JGT, NEWEST_REVIEWED, "enosys", 0)
    for name in DENIED:
        if name in numbers:
            program.jump(_JEQ, numbers[name], "eperm", 0)
    program.jump(_JEQ, numbers["clone3"], "enosys", 0)
    # Each block below returns on every path once its system call matched, and jumps over its
    # own load otherwise, so the accumulator still holds the call's number for the next one.
    _deny_flags(program, numbers["clone"], 0, NEW_NAMESPACES, errno.EPERM)
    _deny_flags(program, numbers["unshare"], 0, NEW_NAMESPACES, errno.EPERM)
    eperm, no_family = _ERRNO | errno.EPERM, _ERRNO | errno.EAFNOSUPPORT
    for name in ("socket", "socketpair"):
        families = (AF_UNIX, AF_INET, AF_INET6)
        _by_value(program, numbers[name], 0, families, listed=_ALLOW, other=no_family)
    _by_value(program, numbers["ioctl"], 1, (TIOCSTI, TIOCLINUX), listed=eperm, other=_ALLOW)
    itself = ("prlimit64", "sched_setaffinity", "sched_setparam", "sched_setscheduler")
    for name in (*itself, "sched_setattr"):  # pid 0: the caller itself
        _by_value(program, numbers[name], 0, (0,), listed=_ALLOW, other=eperm)
    _own_priority_only(program, numbers["setpriority"])
    query = (PERSONALITY_QUERY, 0)
    _by_value(program, numbers["personality"], 0, query, listed=_ALLOW, other=eperm)
    program.ret(_ALLOW)
    program.label("eperm")
    program.ret(_ERRNO | errno.EPERM)
    program.label("enosys")
    program.ret(_ERRNO | errno.ENOSYS)
    program.label("kill")
    program.ret(_KILL_PROCESS)
    return program.assemble()
