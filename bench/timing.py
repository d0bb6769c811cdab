"""Timing HTTP requests for the web app's benchmarks: one request at a time, in milliseconds."""

from __future__ import annotations

import time
from collections.abc import Callable

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
