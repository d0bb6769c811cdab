"""Run the real `arcbench` under a pseudo-terminal of a given width, as a user's terminal.

Rich then sees a terminal (colours, the live progress line) and its width from the terminal
itself, not from `COLUMNS`. `screen_lines` turns what was written into the lines a person saw:
escape sequences removed, each carriage return or line erase starting a new line.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def run_in_terminal(
    *args: str, columns: int, env: dict[str, str], cwd: Path | None = None, timeout: float = 300
) -> tuple[int, str]:
    """`python -m arcbench ARGS` with stdin, stdout and stderr on one terminal `columns` wide;
    its exit status and everything it wrote."""
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    env["TERM"] = "xterm-256color"
    process = subprocess.Popen(
        [sys.executable, "-m", "arcbench", *args],
        stdin=secondary, stdout=secondary, stderr=secondary, env=env, cwd=cwd, close_fds=True,
    )  # fmt: skip
    os.close(secondary)
    output = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(primary, 1 << 16)
                except OSError:  # the terminal closed: everything was read
                    break
                if not chunk:
                    break
                output += chunk
            elif process.poll() is not None and not ready:
                break
        else:
            process.kill()
            raise AssertionError(f"arcbench {' '.join(args)} did not finish in {timeout} s")
    finally:
        os.close(primary)
    return process.wait(timeout=30), output.decode(errors="replace")


def screen_lines(output: str) -> list[str]:
    """The lines a person saw: escape sequences removed, `\\r` and `\\r\\n` as line ends."""
    text = _ESCAPE.sub("", output.replace("\x1b[2K", "\r"))
    return [line.rstrip() for line in re.split(r"\r\n|\r|\n", text)]
