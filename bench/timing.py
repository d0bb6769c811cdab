"""Timing HTTP requests for the web app's benchmarks: one request at a time, in milliseconds."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import httpx


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of `values` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def latencies(
    request: Callable[[], httpx.Response], count: int, *, warmup: int = 10
) -> list[float]:
    """`count` timings of `request`, after `warmup` untimed ones; any error status raises."""
    for _ in range(warmup):
        request().raise_for_status()
    out = []
    for _ in range(count):
        start = time.perf_counter()
        request().raise_for_status()
        out.append((time.perf_counter() - start) * 1000)
    return out


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) process `pid` has used so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat(5)
    return ticks / os.sysconf("SC_CLK_TCK")
