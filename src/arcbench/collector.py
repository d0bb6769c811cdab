"""Pausing Python's cyclic garbage collector while large JSON documents are decoded.

Decoding a dataset or a store creates millions of lists and dicts; each burst of allocations
triggers a collection that walks every container alive, so the collector ends up doing more work
than the decoding itself (it doubles the load time of ARC-AGI-2). None of these objects form
reference cycles, so nothing is lost by letting the collector run afterwards instead.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Disable the cyclic collector inside the block (re-enabled after, if it was on)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
