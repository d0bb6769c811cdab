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
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson
from pydantic import TypeAdapter, ValidationError

from arcbench.diagnostics import describe_task_error
from arcbench.tasks import Grid

_GRID = TypeAdapter(Grid)

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)
_DIGIT_ROW = re.compile(r"^[ \t]*\d(?:[ \t,]*\d)*[ \t,]*$")


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
    for match in reversed(list(_FENCE.finditer(text))):
        if match.group(1).lower() not in _GRID_FENCES:
            continue
        body = match.group(2).strip()
        candidate = _as_grid_candidate(body)
        if candidate is None:
            bare = _last_bare(body)
            candidate = bare[0] if bare else None
        if candidate is None:
            rows = _last_digit_rows(body)
            candidate = rows[0] if rows else None
        if candidate is not None:
            return candidate, match.start()
    return None


def _bracket_spans(text: str) -> list[tuple[int, int]]:
    """Every balanced `[[ … ]]` span (outermost only), in order of appearance."""
    spans: list[tuple[int, int]] = []
    depth = 0
    start = -1
    for index, char in enumerate(text):
        if char == "[":
            if depth == 0:
                start = index
            depth += 1
        elif char == "]" and depth:
            depth -= 1
            if depth == 0:
                inner = text[start + 1 : index].lstrip()
                if inner.startswith("["):
                    spans.append((start, index + 1))
    return spans


def _last_bare(text: str) -> tuple[object, int] | None:
    """The last balanced list of lists in the text that parses as JSON."""
    for start, end in reversed(_bracket_spans(text)):
        candidate = _as_grid_candidate(text[start:end])
        if candidate is not None:
            return candidate, start
    return None


def _parse_digit_row(line: str) -> list[int]:
    return [int(ch) for ch in line if ch.isdigit()]


def _last_digit_rows(text: str) -> tuple[object, int] | None:
    """The last block of consecutive digit-only lines (a grid written as rows of digits)."""
    lines = text.splitlines(keepends=True)
    offsets = []
    position = 0
    for line in lines:
        offsets.append(position)
        position += len(line)
    end = len(lines)
    while end > 0:
        while end > 0 and not _DIGIT_ROW.match(lines[end - 1]):
            end -= 1
        start = end
        while start > 0 and _DIGIT_ROW.match(lines[start - 1]):
            start -= 1
        if end - start >= 2 or (end - start == 1 and _announced(lines, start)):
            return [_parse_digit_row(line) for line in lines[start:end]], offsets[start]
        end = start
    return None


def _announced(lines: list[str], index: int) -> bool:
    """Whether the line before a single digit row introduces an answer ("Output:", "Answer:")."""
    if index == 0:
        return False
    previous = lines[index - 1].strip().lower()
    return previous.endswith(":") and ("output" in previous or "answer" in previous)
