"""Reading model replies, which are hostile text: code fences found in one linear pass, and
long replies parsed off the event loop.

A Markdown fence (```lang … ```) opens with three backticks anywhere in a line, an optional
language word and the rest of that line; its body runs from the next line to the next three
backticks. That is what a lazy regular expression over the whole reply finds, but a regex engine
retries from every backtick of a reply whose fences never close their line, which takes
quadratic time (29 s for 300 KB of backticks); here every position of the text is looked at a
bounded number of times.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

OFFLOAD_CHARS = 64 * 1024
"""Replies at least this long are parsed in a worker thread: a parse of a reply at the size
limit takes up to a few hundred milliseconds, which on the event loop would hold up every other
request of a run (in a thread it only shares the CPU)."""


async def parse_offloaded(parse: Callable[[str], T], text: str) -> T:
    """`parse(text)`, in a worker thread when `text` is long (see `OFFLOAD_CHARS`)."""
    if len(text) < OFFLOAD_CHARS:
        return parse(text)
    return await asyncio.to_thread(parse, text)


TICKS = "```"

MAX_FENCES = 10_000
"""Fenced blocks a reply may hold for its fences to be searched at all; a reply with more is
not an answer but a flood, and searching it would only cost time."""
_LANGUAGE = re.compile(r"[ \t]*([A-Za-z0-9_+-]*)")


@dataclass(frozen=True, slots=True)
class Fence:
    """One fenced block: where its opening backticks are, its language (as written) and body."""

    start: int
    language: str
    body: str


def too_many_fences(text: str) -> bool:
    """Whether `text` holds more than `MAX_FENCES` fences (counted in C, before any search)."""
    return text.count(TICKS) > 2 * MAX_FENCES


def iter_fences(text: str) -> Iterator[Fence]:
    """Every fenced block of `text`, in order of appearance.

    A fence whose opening line never ends, or whose body is never closed, is not a block; nor is
    any later one, since it could only close on the same missing backticks or newline.
    """
    position = 0
    while True:
        start = text.find(TICKS, position)
        if start < 0:
            return
        line_end = text.find("\n", start + len(TICKS))
        if line_end < 0:
            return
        close = text.find(TICKS, line_end + 1)
        if close < 0:
            return
        language = _LANGUAGE.match(text, start + len(TICKS), line_end)
        assert language is not None  # the pattern matches the empty string
        yield Fence(start, language.group(1), text[line_end + 1 : close])
        position = close + len(TICKS)
