"""Every check starts in a state no earlier program could have touched, and programs cannot reach
the kernel interfaces the sandbox closes (keyrings, IPC, namespaces, mounts, other processes,
foreign socket families, /proc, io_uring, perf, BPF).

Each refusal is checked twice: the same code runs on the host first (in a throwaway process),
where it must succeed, so a test cannot pass because the probe itself is broken.
"""

from __future__ import annotations

import errno
import json
import os
import platform
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from arcbench.sandbox import SyncSandbox
from sandboxing import GRID, assert_still_works, full_isolation, program  # noqa: F401

pytestmark = pytest.mark.usefixtures("full_isolation")

X86_64 = platform.machine() == "x86_64"
SYSCALLS = {  # x86-64 numbers, from asm/unistd_64.h: independent of arcbench's own table
    "add_key": 248,
    "keyctl": 250,
    "request_key": 249,
    "io_uring_setup": 425,
    "perf_event_open": 298,
    "bpf": 321,
    "userfaultfd": 323,
    "clone": 56,
    "clone3": 435,
    "sync": 162,
    "personality": 135,
}

PROBES = r"""
import ctypes, errno, json, mmap, os, socket, sys

LIBC = ctypes.CDLL(None, use_errno=True)
NR = json.loads(%(numbers)r)
X86_64 = %(x86_64)r


def outcome(value):
    return "ok" if value >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")


def attempt(function):
    try:
        function()
    except OSError as exc:
        return errno.errorcode.get(exc.errno, "?")
    return "ok"


def probes():
    found = {}
    if X86_64:
        LIBC.syscall(NR["keyctl"], 1, None)  # a session keyring of its own, not the login's
        key = LIBC.syscall(NR["add_key"], b"user", b"arcbench-probe", b"x", 1, -3)
        found["add_key"] = outcome(key)
        key = LIBC.syscall(NR["request_key"], b"user", b"arcbench-probe", None, -3)
        found["request_key"] = outcome(key)
        found["keyctl"] = outcome(LIBC.syscall(NR["keyctl"], 0, -3, 0))  # KEYCTL_GET_KEYRING_ID
        ring = LIBC.syscall(NR["io_uring_setup"], 4, ctypes.create_string_buffer(120))
        found["io_uring"] = outcome(ring)
        found["userfaultfd"] = outcome(LIBC.syscall(NR["userfaultfd"], 0))
        attr = ctypes.create_string_buffer(128)
        attr[0:8] = (1).to_bytes(4, "little") + (128).to_bytes(4, "little")  # software, size
        event = LIBC.syscall(NR["perf_event_open"], attr, 0, -1, -1, 0)
        found["perf_event_open"] = outcome(event)
        found["clone3"] = outcome(LIBC.syscall(NR["clone3"], None, 0))
        found["personality"] = outcome(LIBC.syscall(NR["personality"], 0x0040000))
    shm = LIBC.shmget(0, 4096, 0o1000 | 0o600)
    found["shmget"] = outcome(shm)
    if shm >= 0:
        LIBC.shmctl(shm, 0, None)
    queue = LIBC.msgget(0, 0o1000 | 0o600)
    found["msgget"] = outcome(queue)
    if queue >= 0:
        LIBC.msgctl(queue, 0, None)
    semaphores = LIBC.semget(0, 1, 0o1000 | 0o600)
    found["semget"] = outcome(semaphores)
    if semaphores >= 0:
        LIBC.semctl(semaphores, 0, 0, None)
    name = b"/arcbench-probe-%%d" %% os.getpid()
    mq = LIBC.mq_open(name, os.O_CREAT | os.O_RDWR, 0o600, None)
    found["mq_open"] = outcome(mq)
    if mq >= 0:
        LIBC.mq_close(mq)
        LIBC.mq_unlink(name)
    pid = os.fork()
    if pid == 0:  # user namespace, then a mount in it (in a child: a process keeps its namespaces)
        if LIBC.unshare(0x10000000 | 0x20000) != 0:
            os._exit(ctypes.get_errno())
        private = LIBC.mount(b"none", b"/", None, 0x40000 | 0x4000, None)  # MS_PRIVATE|MS_REC
        os._exit(ctypes.get_errno() if private else 0)
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    found["unshare_user_and_mount"] = errno.errorcode.get(code, "ok")
    found["ptrace_traceme"] = outcome(LIBC.ptrace(0, 0, None, None))
    found["setns"] = outcome(LIBC.setns(0, 0))
    for family in ("AF_VSOCK", "AF_NETLINK", "AF_PACKET", "AF_ALG", "AF_KEY", "AF_UNIX", "AF_INET"):
        kinds = {"AF_ALG": socket.SOCK_SEQPACKET, "AF_NETLINK": socket.SOCK_RAW}
        kind = kinds.get(family, socket.SOCK_DGRAM)
        found[family] = attempt(lambda: socket.socket(getattr(socket, family), kind).close())
    pair = lambda: socket.socketpair(socket.AF_NETLINK, socket.SOCK_RAW)
    found["socketpair_netlink"] = attempt(pair)
    found["mountinfo"] = attempt(lambda: open("/proc/self/mountinfo").read())
    found["proc_entries"] = len(os.listdir("/proc"))
    found["sys"] = os.path.exists("/sys/kernel")
    return found
"""


def probe_code() -> str:
    return PROBES % {"numbers": json.dumps(SYSCALLS), "x86_64": X86_64}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SyncSandbox]:
    """One worker, so that every check of a test runs after the previous one in the same worker."""
    with SyncSandbox("full", workers=1, timeout_s=10.0) as pool:
        yield pool


@pytest.fixture(scope="module")
def host() -> dict[str, object]:
    """The probes run on the host, as root or not, in a process thrown away afterwards."""
    script = probe_code() + "\nprint(json.dumps(probes()))\n"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    return dict(json.loads(done.stdout))


@pytest.fixture(scope="module")
def inside(sandbox: SyncSandbox) -> dict[str, object]:
    code = probe_code() + "\ndef transform(grid):\n    raise RuntimeError(json.dumps(probes()))\n"
    [outcome] = sandbox.check(code, [GRID])
    assert outcome.message is not None
    assert outcome.message.startswith("RuntimeError: "), outcome.message
    return dict(json.loads(outcome.message.removeprefix("RuntimeError: ")))


REFUSED = {
    "add_key": "EPERM",
    "request_key": "EPERM",
    "keyctl": "EPERM",
    "io_uring": "EPERM",
    "userfaultfd": "EPERM",
    "perf_event_open": "EPERM",
    "clone3": "ENOSYS",
    "personality": "EPERM",
    "shmget": "EPERM",
    "msgget": "EPERM",
    "semget": "EPERM",
    "mq_open": "EPERM",
    "unshare_user_and_mount": "EPERM",
    "ptrace_traceme": "EPERM",
    "setns": "EPERM",
    "AF_VSOCK": "EAFNOSUPPORT",
    "AF_NETLINK": "EAFNOSUPPORT",
    "AF_PACKET": "EAFNOSUPPORT",
    "AF_ALG": "EAFNOSUPPORT",
    "AF_KEY": "EAFNOSUPPORT",
    "socketpair_netlink": "EAFNOSUPPORT",
    "mountinfo": "ENOENT",
}
ON_HOST = {  # what the same code does outside, where nothing refuses it
    "add_key": "ok",
    "keyctl": "ok",
    "shmget": "ok",
    "msgget": "ok",
    "semget": "ok",
    "mq_open": "ok",
    "unshare_user_and_mount": "ok",
    "AF_NETLINK": "ok",
    "AF_UNIX": "ok",
    "AF_INET": "ok",
    "socketpair_netlink": errno.errorcode[errno.EOPNOTSUPP],  # netlink has no pairs
    "mountinfo": "ok",
    "sys": True,
}


@pytest.mark.parametrize("probe", sorted(REFUSED))
def test_a_program_cannot_use(
    inside: dict[str, object], host: dict[str, object], probe: str
) -> None:
    if probe not in inside:
        pytest.skip(f"{probe} is probed on x86-64 only")
    assert inside[probe] == REFUSED[probe]
    if probe in ON_HOST:
        assert host[probe] == ON_HOST[probe], "the probe itself does not work on the host"


def test_what_programs_need_still_works(inside: dict[str, object]) -> None:
    assert inside["AF_UNIX"] == "ok"
    assert inside["AF_INET"] == "ok"  # its own loopback only (see test_sandbox.py)
    assert inside["proc_entries"] == 0
    assert inside["sys"] is False


def test_threads_subprocesses_and_multiprocessing_work(sandbox: SyncSandbox) -> None:
    """clone3 is refused with ENOSYS, so the C library falls back to clone; POSIX semaphores
    live in the program's own /dev/shm."""
    code = program(
        """
        import multiprocessing, subprocess, sys, threading
        def transform(grid):
            seen = []
            worker = threading.Thread(target=lambda: seen.append(1))
            worker.start()
            worker.join()
            child = subprocess.run([sys.executable, "-c", "print(3)"], capture_output=True)
            with multiprocessing.get_context("fork").Pool(2) as pool:
                doubled = pool.map(abs, [-2, -4])
            return [[len(seen), int(child.stdout), *doubled]]
        """
    )
    [outcome] = sandbox.check(code, [GRID], timeout_s=20)
    assert outcome.grid == [[1, 3, 2, 4]], outcome


def test_a_foreign_abi_system_call_kills_the_program(sandbox: SyncSandbox) -> None:
    if not X86_64:
        pytest.skip("the x32 ABI exists on x86-64 only")
    code = program(
        """
        import ctypes
        def transform(grid):
            ctypes.CDLL(None).syscall(0x40000000 | 39)  # getpid, x32 numbering
            return grid
        """
    )
    [outcome] = sandbox.check(code, [GRID])
    assert outcome.status == "error"
    assert "SIGSYS" in (outcome.message or "")
    assert_still_works(sandbox)


def test_the_warm_parent_cannot_be_reniced_pinned_or_limited(sandbox: SyncSandbox) -> None:
    """The warm parent (PID 1) runs as the same user: a change to it would reach every later
    check. A program may change only itself, and the next program starts as before."""
    attack = program(
        """
        import errno, os, resource
        def transform(grid):
            refused = []
            for change in (
                lambda: os.setpriority(os.PRIO_PROCESS, 1, 19),
                lambda: os.setpriority(os.PRIO_USER, 0, 19),
                lambda: os.setpriority(os.PRIO_PGRP, 0, 19),
                lambda: os.sched_setaffinity(1, {0}),
                lambda: resource.prlimit(1, resource.RLIMIT_NOFILE, (3, 3)),
                lambda: resource.prlimit(1, resource.RLIMIT_AS, (1 << 20, 1 << 20)),
                lambda: os.sched_setscheduler(1, os.SCHED_IDLE, os.sched_param(0)),
            ):
                try:
                    change()
                except OSError as exc:
                    refused.append(exc.errno == errno.EPERM)
            os.nice(10)  # itself: allowed
            os.sched_setaffinity(0, {0})
            resource.setrlimit(resource.RLIMIT_NOFILE, (8, 8))
            return [[int(all(refused)), len(refused)]]
        """
    )
    look = program(
        """
        import os, resource
        def transform(grid):
            return [[os.getpriority(os.PRIO_PROCESS, 0), len(os.sched_getaffinity(0)),
                     int(resource.getrlimit(resource.RLIMIT_NOFILE)[0] > 8)]]
        """
    )
    before = sandbox.check(look, [GRID])[0].grid
    assert before is not None
    assert before[0][2] == 1
    assert sandbox.check(attack, [GRID])[0].grid == [[1, 7]]
    assert sandbox.check(look, [GRID])[0].grid == before


def test_no_kernel_object_or_file_of_a_check_reaches_the_next(sandbox: SyncSandbox) -> None:
    """The first program leaves everything it can behind (files in /tmp and /dev/shm, a POSIX
    shared memory segment and semaphore, a detached process listening on TCP and on an abstract
    Unix socket, environment changes); the next one, in the same worker, finds none of it."""
    litter = program(
        """
        import multiprocessing.shared_memory, os, socket, time
        def transform(grid):
            open("/tmp/left", "w").write("x")
            open("/dev/shm/left", "w").write("x")
            multiprocessing.shared_memory.SharedMemory("arcbench-left", create=True, size=4096)
            multiprocessing.get_context("fork").Semaphore(1)
            os.environ["LEFT"] = "1"
            if os.fork() == 0:
                os.setsid()
                tcp = socket.socket()
                tcp.bind(("127.0.0.1", 40123))
                tcp.listen()
                unix = socket.socket(socket.AF_UNIX)
                unix.bind("\\0arcbench-left")
                unix.listen()
                time.sleep(3600)
            time.sleep(0.2)
            return [[len(os.listdir("/tmp")), len(os.listdir("/dev/shm"))]]
        """
    )
    look = program(
        """
        import os, socket
        def transform(grid):
            reached = 0
            for family, address in ((socket.AF_INET, ("127.0.0.1", 40123)),
                                    (socket.AF_UNIX, "\\0arcbench-left")):
                try:
                    socket.socket(family).connect(address)
                    reached += 1
                except OSError:
                    pass
            return [[len(os.listdir("/tmp")), len(os.listdir("/dev/shm")), reached,
                     int("LEFT" in os.environ)]]
        """
    )
    for _ in range(2):
        left = sandbox.check(litter, [GRID])[0].grid
        assert left is not None
        assert left[0][0] >= 1
        assert left[0][1] >= 2  # the file and the shared memory segment, at least
        assert sandbox.check(look, [GRID])[0].grid == [[0, 0, 0, 0]]
    assert_still_works(sandbox)


def test_the_process_limit_counts_only_the_check_itself(sandbox: SyncSandbox) -> None:
    """RLIMIT_NPROC counts a user's processes per user namespace: a program may start as many as
    the limit allows, whatever earlier checks started and whatever else runs on the machine."""
    code = program(
        """
        import os, time
        def transform(grid):
            started = 0
            for _ in range(28):
                pid = os.fork()
                if pid == 0:
                    time.sleep(3600)
                started += 1
            return [[started // 4]]
        """
    )
    for _ in range(3):
        assert sandbox.check(code, [GRID])[0].grid == [[7]]
    assert_still_works(sandbox)


def test_the_hosts_session_keyring_is_out_of_reach(tmp_path: object) -> None:
    """arcbench runs in some session keyring (a login's, say, holding secrets); the sandbox is
    started from a process whose session keyring holds a key, and a program cannot see it."""
    if not X86_64:
        pytest.skip("keyctl is called by number, x86-64 only")
    keyctl, add_key, request_key = (SYSCALLS[n] for n in ("keyctl", "add_key", "request_key"))
    program_code = (
        "import ctypes\n"
        "def transform(grid):\n"
        "    libc = ctypes.CDLL(None, use_errno=True)\n"
        f"    found = libc.syscall({request_key}, b'user', b'arcbench-secret', None, 0)\n"
        "    buffer = ctypes.create_string_buffer(64)\n"
        f"    read = libc.syscall({keyctl}, 11, KEY, buffer, 64)  # KEYCTL_READ\n"
        "    return [[int(found > 0), int(read > 0), int(b'hunter2' in buffer.raw)]]\n"
    )
    script = "\n".join(
        [
            "import ctypes, json",
            "from arcbench.sandbox import SyncSandbox",
            "libc = ctypes.CDLL(None, use_errno=True)",
            f"libc.syscall({keyctl}, 1, None)  # a session keyring of this process's own",
            f"key = libc.syscall({add_key}, b'user', b'arcbench-secret', b'hunter2', 7, -3)",
            "assert key > 0, ctypes.get_errno()",
            f"code = {program_code!r}.replace('KEY', str(key))",
            "namespace = {}",
            "exec(code, namespace)",
            "assert namespace['transform'](None) == [[1, 1, 1]]  # outside, the key is readable",
            "with SyncSandbox(workers=1) as sandbox:",
            "    print(json.dumps(sandbox.check(code, [[[0]]])[0].grid))",
        ]
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [[0, 0, 0]]


def test_the_sandbox_is_the_same_for_root_and_for_a_user() -> None:
    """Run as a normal user (here uid 1000 in a user namespace of the test's own), bubblewrap
    takes the other path; every probe gives the same answer."""
    if os.geteuid() != 0:
        pytest.skip("needs root to map a second user")
    unshare = "/usr/bin/unshare"
    if not os.access(unshare, os.X_OK):
        pytest.skip("util-linux unshare is not installed")
    code = probe_code() + "\ndef transform(grid):\n    raise RuntimeError(json.dumps(probes()))\n"
    script = probe_code() + textwrap.dedent(
        f"""
        from arcbench.sandbox import SyncSandbox
        with SyncSandbox(workers=1) as sandbox:
            outcome = sandbox.check({code!r}, [[[0]]])[0]
        print(os.geteuid(), outcome.message.removeprefix("RuntimeError: "))
        """
    )
    done = subprocess.run(
        [unshare, "--user", "--map-user=1000", "--map-group=1000", sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    uid, found = done.stdout.split(" ", 1)
    assert uid == "1000"
    as_user = json.loads(found)
    for probe, expected in REFUSED.items():
        if probe in as_user:
            assert as_user[probe] == expected, probe


def test_attributes_and_times_of_the_scratch_directories_do_not_carry_over(
    sandbox: SyncSandbox,
) -> None:
    """A program owns its /tmp and /dev/shm, so it can set their extended attributes, a default
    ACL, their times and their mode: each is a message to the next program, and each is undone."""
    look = program(
        """
        import os
        def transform(grid):
            seen = []
            for directory in ("/tmp", "/dev/shm"):
                info = os.stat(directory)
                seen.append((info.st_atime_ns, info.st_mtime_ns, oct(info.st_mode),
                             sorted(os.listxattr(directory))))
            raise RuntimeError(seen)
        """
    )
    attack = program(
        """
        import os, struct
        ACL = struct.pack("<I", 2) + b"".join(
            struct.pack("<HHI", tag, 7, 0xFFFFFFFF) for tag in (0x01, 0x04, 0x20)
        )
        def transform(grid):
            for directory in ("/tmp", "/dev/shm"):
                os.setxattr(directory, "user.message", b"from an earlier program")
                os.setxattr(directory, "system.posix_acl_default", ACL)
                os.utime(directory, ns=(123456789, 987654321))
                os.chmod(directory, 0o700)
            return [[len(os.listxattr("/tmp")), len(os.listxattr("/dev/shm"))]]
        """
    )
    before = sandbox.check(look, [GRID])[0].message
    assert before is not None
    assert "[]" in before  # no attribute to begin with
    assert sandbox.check(attack, [GRID])[0].grid == [[2, 2]]
    assert sandbox.check(look, [GRID])[0].message == before


def test_no_object_of_an_earlier_check_is_reachable_in_the_next(sandbox: SyncSandbox) -> None:
    """Each check's child is forked from the warm parent, so whatever that parent still holds is
    in the next program's memory: an earlier program's answer (another attempt's prediction for
    the same test input) must not be among the objects a program can reach by walking its frames
    up to the worker's loop, or through the garbage collector."""
    answer = program(
        """
        def transform(grid):
            return [[7, 3, 7, 3, 9, 1, 5, 2], [2, 5, 1, 9, 3, 7, 3, 7]]
        """
    )
    search = program(
        """
        import gc, sys
        def transform(grid):
            rows = [list(map(int, "73739152")), list(map(int, "25193737"))]  # not spelled out
            text = repr(rows).replace(" ", "")
            def found(value):
                if isinstance(value, bytes):
                    value = value.decode(errors="replace")
                return value == rows or (isinstance(value, str) and text in value.replace(" ", ""))
            hits = 0
            frame = sys._getframe().f_back
            while frame is not None:
                hits += sum(found(value) or found(repr(value)) for value in frame.f_locals.values())
                frame = frame.f_back
            for value in gc.get_objects():
                if value is not rows:
                    hits += found(value) or found(repr(value)[:100000])
            return [[min(hits, 9)]]
        """
    )
    secret = [[7, 3, 7, 3, 9, 1, 5, 2], [2, 5, 1, 9, 3, 7, 3, 7]]
    assert sandbox.check(answer, [GRID])[0].grid == secret
    assert sandbox.check(search, [GRID])[0].grid == [[0]]


def test_a_connection_left_waiting_does_not_reach_the_next_check(sandbox: SyncSandbox) -> None:
    """A TCP connection the program closed stays in TIME_WAIT for a minute after every process of
    the check is gone; in the same network namespace the next program would find its ports held
    (a message of one bit per port). The worker is replaced instead."""
    ports = [41001, 41003, 41004]
    leave = program(
        f"""
        import socket
        def transform(grid):
            server = socket.socket()
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("127.0.0.1", 41000))
            server.listen()
            for port in {ports!r}:
                client = socket.socket()
                client.bind(("127.0.0.1", port))
                client.connect(("127.0.0.1", 41000))
                accepted, _ = server.accept()
                client.close()  # the side that closes first waits
                accepted.close()
            return [[1]]
        """
    )
    look = program(
        """
        import socket
        def transform(grid):
            held = []
            for port in range(41001, 41006):
                try:
                    socket.socket().bind(("127.0.0.1", port))
                    held.append(0)
                except OSError:
                    held.append(1)
            return [held]
        """
    )
    assert sandbox.check(leave, [GRID])[0].grid == [[1]]
    assert sandbox.check(look, [GRID])[0].grid == [[0, 0, 0, 0, 0]]
    assert_still_works(sandbox)
