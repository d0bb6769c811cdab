"""The seccomp filter's decisions, for every architecture it covers, read by a small classic-BPF
interpreter: aarch64 cannot be run here, but its filter can be evaluated. (What the x86-64 filter
does to real programs is tested in test_sandbox_state.py.)"""

from __future__ import annotations

import errno
import struct

import pytest

from arcbench.sandbox.seccomp import AARCH64, ARCHITECTURES, X86_64, build_filter

ALLOW = 0x7FFF0000
KILL = 0x80000000


def errno_of(value: int) -> int:
    return 0x00050000 | value


def run_filter(code: bytes, nr: int, arch: int, args: tuple[int, ...] = ()) -> int:
    """Evaluate a classic BPF program (the instructions seccomp filters use) on seccomp_data."""
    data = struct.pack("<iIQ6Q", nr, arch, 0, *(list(args) + [0] * (6 - len(args))))
    instructions = [struct.unpack_from("<HBBI", code, i) for i in range(0, len(code), 8)]
    accumulator, pc = 0, 0
    while True:
        op, true, false, k = instructions[pc]
        pc += 1
        if op == 0x20:  # ld [k]
            (accumulator,) = struct.unpack_from("<I", data, k)
        elif op == 0x06:  # ret k
            return k
        elif op in (0x15, 0x25, 0x45):  # jeq, jgt, jset
            taken = {
                0x15: accumulator == k,
                0x25: accumulator > k,
                0x45: bool(accumulator & k),
            }[op]
            pc += true if taken else false
        else:
            raise AssertionError(f"unexpected opcode {op:#x}")


@pytest.mark.parametrize("machine", sorted(ARCHITECTURES))
def test_the_filter_decides_as_documented(machine: str) -> None:
    code = build_filter(machine)
    assert code is not None
    assert len(code) % 8 == 0
    assert len(code) // 8 < 4096  # the kernel's limit
    arch = ARCHITECTURES[machine].audit
    numbers = ARCHITECTURES[machine].numbers
    read = {"x86_64": 0, "aarch64": 63}[machine]

    def decide(name: str | int, *args: int, on: int = arch) -> int:
        return run_filter(code, numbers[name] if isinstance(name, str) else name, on, args)

    assert decide(read) == ALLOW
    assert decide("keyctl") == errno_of(errno.EPERM)
    assert decide("add_key") == errno_of(errno.EPERM)
    assert decide("mq_open") == errno_of(errno.EPERM)
    assert decide("shmget") == errno_of(errno.EPERM)
    assert decide("io_uring_setup") == errno_of(errno.EPERM)
    assert decide("clone3") == errno_of(errno.ENOSYS)
    assert decide("clone", 0x11) == ALLOW  # fork: SIGCHLD alone
    assert decide("clone", 0x10000000 | 0x11) == errno_of(errno.EPERM)  # CLONE_NEWUSER
    assert decide("unshare", 0x08000000) == ALLOW  # CLONE_NEWIPC: the worker's, per check
    assert decide("unshare", 0x10000000) == errno_of(errno.EPERM)
    assert decide("unshare", 0x20000) == errno_of(errno.EPERM)  # CLONE_NEWNS
    assert decide("socket", 1) == ALLOW  # AF_UNIX
    assert decide("socket", 10) == ALLOW  # AF_INET6
    assert decide("socket", 40) == errno_of(errno.EAFNOSUPPORT)  # AF_VSOCK
    assert decide("socket", 16) == errno_of(errno.EAFNOSUPPORT)  # AF_NETLINK
    assert decide("socketpair", 1) == ALLOW
    assert decide("ioctl", 0, 0x5412) == errno_of(errno.EPERM)  # TIOCSTI
    assert decide("ioctl", 0, 0x5401) == ALLOW  # TCGETS
    assert decide("prlimit64", 0) == ALLOW  # itself
    assert decide("prlimit64", 1) == errno_of(errno.EPERM)  # the warm parent
    assert decide("setpriority", 0, 0, 5) == ALLOW
    assert decide("setpriority", 0, 1, 5) == errno_of(errno.EPERM)
    assert decide("setpriority", 2, 0, 5) == errno_of(errno.EPERM)  # PRIO_USER: all of them
    assert decide("sched_setaffinity", 1) == errno_of(errno.EPERM)
    assert decide("personality", 0xFFFFFFFF) == ALLOW
    assert decide("personality", 0x0040000) == errno_of(errno.EPERM)
    assert decide(470) == errno_of(errno.ENOSYS)  # newer than the table
    assert decide(read, on=0x40000003) == KILL  # i386 system call
    if machine == "x86_64":
        assert decide(0x40000000 | 39) == KILL  # x32 ABI


def test_the_tables_agree_where_the_kernel_numbers_alike() -> None:
    """Linux 5.1 and later number new system calls alike everywhere."""
    for name in ("io_uring_setup", "clone3", "open_tree", "pidfd_getfd", "statmount"):
        assert X86_64[name] == AARCH64[name]


def test_an_unknown_architecture_gets_no_filter() -> None:
    assert build_filter("riscv64") is None
