"""Taking the answer out of a model's reply: the predicted grid, and the reasoning before it.

Models format answers in many ways, so the grid is looked for in order of explicitness:
1. the last fenced code block whose content is a JSON list of lists;
2. else the last bare JSON list of lists anywhere in the text;
3. else the last run of two or more lines made only of digits (optionally space-separated),
   or a single such line right after the word "output" or "answer".
The grid found is then validated as an ARC grid. When nothing usable is found the result says
why (`parse_error`), which is an outcome of the attempt, not a failure of it.

The reasoning is the reply's own text up to where the answer starts: with the model's reasoning
fields prepended by the caller, it is what becomes a trace.

A reply is hostile input, so every step is linear in its length and the work on candidates is
bounded: only the last `MAX_CANDIDATES` fences and bracketed spans are tried, a span longer than
any grid can be written (`MAX_GRID_TEXT`) is not parsed at all, and a flood of fences or
brackets (`replies.MAX_FENCES`, `MAX_BRACKETS`) is not searched. Callers on the event loop
use `arcbench.replies.parse_offloaded`, which takes a long reply apart in a worker thread.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

import orjson
from pydantic import TypeAdapter, ValidationError

from arcbench.diagnostics import describe_task_error
from arcbench.replies import iter_fences, too_many_fences
from arcbench.tasks import MAX_SIDE, Grid

_GRID = TypeAdapter(Grid)

_ROW = r"[ \t]*\d[\d \t,]*\r?"
_ROW_LINE = re.compile(_ROW)
"""A line made only of digits, with spaces or commas between them."""
_TWO_ROWS = re.compile(rf"\n{_ROW}\n{_ROW}(?=\n|\Z)")
"""Two such lines in a row (after a newline: a literal start the regex engine finds fast)."""
_ROW_AFTER_COLON = re.compile(rf"\n[^\n]*:[ \t\r]*\n{_ROW}(?=\n|\Z)")
"""Such a line after a line ending with a colon (which may announce the answer)."""
_WINDOW = 1 << 16
"""Characters of a reply one regex search covers at most (a few milliseconds), so that a search
never holds the interpreter long, even in a worker thread."""
_BRACKETS = re.compile(r"\[+|\]+")

MAX_CANDIDATES = 64
"""Fences, and bracketed spans, tried from the end of a reply before giving up."""

MAX_BRACKETS = 100_000
"""Opening brackets a reply may hold for its bare lists to be searched (1,600 full 30x30 grids);
more is a flood, not an answer."""

MAX_GRID_TEXT = 64 * 1024
"""Longest text that can hold a 30x30 grid, however generously spaced; a longer span is not
parsed."""


@dataclass(frozen=True)
class Answer:
    """A reply taken apart: the grid (or why there is none) and where the answer began."""

    grid: list[list[int]] | None
    parse_error: str | None
    answer_start: int
    """Offset in the reply where the answer block starts (the reply's length if none)."""


def extract_grid(text: str) -> Answer:
    """Find and validate the predicted grid in a reply (see the module docstring for the order)."""
    found = _last_fenced(text) or _last_bare(text) or _last_digit_rows(text)
    if found is None:
        return Answer(None, "no grid found in the reply", len(text))
    candidate, start = found
    try:
        grid = _GRID.validate_python(candidate)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        problem = describe_task_error(("output", *error["loc"]), error).removeprefix("output: ")
        return Answer(None, f"the answer is not a valid ARC grid: {problem}", start)
    return Answer(grid, None, start)


def text_before_answer(text: str, answer: Answer) -> str:
    """The reply's own text before its answer block, trimmed."""
    return text[: answer.answer_start].strip()


def _as_grid_candidate(source: str) -> object | None:
    try:
        value = orjson.loads(source)
    except orjson.JSONDecodeError:
        return None
    if isinstance(value, list) and value and all(isinstance(row, list) for row in value):
        return value
    return None


_GRID_FENCES = {"", "json", "jsonc", "text", "txt", "plaintext", "output", "grid"}
"""Fence languages an answer grid may be given in (a list literal in python code is not one)."""


def _last_fenced(text: str) -> tuple[object, int] | None:
    if too_many_fences(text):
        return None
    fences = [f for f in iter_fences(text) if f.language.lower() in _GRID_FENCES]
    for fence in reversed(fences[-MAX_CANDIDATES:]):
        body = fence.body.strip()
        candidate = _as_grid_candidate(body) if len(body) <= MAX_GRID_TEXT else None
        if candidate is None:
            bare = _last_bare(body)
            candidate = bare[0] if bare else None
        if candidate is None:
            rows = _last_digit_rows(body)
            candidate = rows[0] if rows else None
        if candidate is not None:
            return candidate, fence.start
    return None


def _bracket_spans(text: str) -> list[tuple[int, int]]:
    """Every balanced bracketed span (outermost only), in order of appearance; an unmatched `]`
    is ignored. One pass over the runs of brackets, the text between skipped in C. (A run cut in
    two by a window boundary counts the same as whole.)"""
    spans: list[tuple[int, int]] = []
    depth = 0
    start = -1
    for match in _windowed(_BRACKETS, text):
        index, end = match.span()
        if text[index] == "[":
            if depth == 0:
                start = index
            depth += end - index
        elif depth:
            if end - index >= depth:
                spans.append((start, index + depth))
                depth = 0
            else:
                depth -= end - index
    return spans


def _opens_list(text: str, start: int, end: int) -> bool:
    """Whether the first non-space character of `text[start:end]` is `[`."""
    found = _NON_SPACE.search(text, start, end)
    return found is not None and found.group() == "["


_NON_SPACE = re.compile(r"\S")


def _last_bare(text: str) -> tuple[object, int] | None:
    """The last balanced list of lists in the text that parses as JSON (of the last
    `MAX_CANDIDATES` such spans short enough to be a grid; none in a flood of brackets)."""
    if text.count("[") > MAX_BRACKETS:
        return None
    tried = 0
    for start, end in reversed(_bracket_spans(text)):
        if end - start > MAX_GRID_TEXT or not _opens_list(text, start + 1, end - 1):
            continue
        candidate = _as_grid_candidate(text[start:end])
        if candidate is not None:
            return candidate, start
        tried += 1
        if tried == MAX_CANDIDATES:
            break
    return None


def _parse_digit_row(line: str) -> list[int]:
    """The digits of a row; past `MAX_SIDE + 1` of them it is too wide to be a row anyway."""
    return [int(ch) for ch in islice((ch for ch in line if ch.isdigit()), MAX_SIDE + 1)]


def _last_digit_rows(text: str) -> tuple[object, int] | None:
    """The last block of consecutive digit-only lines (a grid written as rows of digits): two
    or more rows, or a single row right after a line announcing the answer ("Output:").

    The last place where such a block shows (two rows together, or a row after a colon) is found
    by regex searches over windows of the reply; the block around it is then read line by line.
    """
    padded = "\n" + text  # every line now starts after a newline
    seed = -1
    for start, end in _windows(padded):
        for pattern in (_TWO_ROWS, _ROW_AFTER_COLON):
            for match in pattern.finditer(padded, start, end):  # a Python loop: cheap steps
                if pattern is _TWO_ROWS or _announces(_line_at(padded, match.start() + 1)):
                    seed = max(seed, match.end())
    if seed < 0:
        return None
    return _block_ending_near(padded, seed)


def _windowed(pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """`pattern.finditer(text)`, one `_WINDOW` at a time (a match cannot span two windows)."""
    for start in range(0, len(text), _WINDOW):
        yield from pattern.finditer(text, start, start + _WINDOW)


def _windows(text: str) -> Iterator[tuple[int, int]]:
    """Spans of `text` to search, ending at line ends, each starting at the beginning of the
    previous one's last line, so that any two neighbouring lines lie together in one span."""
    start, end = 0, -1
    while end < len(text):
        end = text.find("\n", max(start + _WINDOW, end + 1))
        end = len(text) if end < 0 else end
        yield start, end
        start = text.rfind("\n", start, end)


def _line_at(text: str, start: int) -> str:
    end = text.find("\n", start)
    return text[start : end if end >= 0 else len(text)]


def _block_ending_near(padded: str, position: int) -> tuple[object, int]:
    """The whole run of digit rows around the row ending at `position` in `"\n" + text`, and
    its start in `text`; more rows than a grid has are cut to one too many."""
    first = padded.rfind("\n", 0, position)  # the newline before the seed's last row
    rows = [padded[first + 1 : position]]
    while len(rows) <= MAX_SIDE:  # up
        previous = padded.rfind("\n", 0, first)
        if previous < 0 or not _ROW_LINE.fullmatch(padded, previous + 1, first):
            break
        rows.insert(0, padded[previous + 1 : first])
        first = previous
    end = position
    while len(rows) <= MAX_SIDE and end < len(padded):  # down
        following = padded.find("\n", end + 1)
        following = len(padded) if following < 0 else following
        if not _ROW_LINE.fullmatch(padded, end + 1, following):
            break
        rows.append(padded[end + 1 : following])
        end = following
    return [_parse_digit_row(row) for row in rows], first


def _announces(line: str) -> bool:
    """Whether a line introduces an answer, like "Output:" or "Answer:"."""
    line = line.strip().lower()
    return line.endswith(":") and ("output" in line or "answer" in line)
