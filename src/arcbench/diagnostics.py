"""Turn pydantic's validation errors into sentences about ARC tasks.

pydantic reports `('train', 2, 'output', 3, 1) less_than_equal`; a user needs
`train[2].output: cell [3][1] is 10; cells must be integers 0-9`. Data sources call
`describe_task_error` with the part of the location that lies inside one task.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import ErrorDetails

_GRID_KEYS = {"input", "output"}


def _pair_path(loc: tuple[int | str, ...]) -> tuple[str, tuple[int | str, ...]]:
    """Split a location into its readable pair path (`train[2].output`) and the rest."""
    parts: list[str] = []
    index = 0
    while index < len(loc):
        item = loc[index]
        if isinstance(item, int) and parts:
            parts[-1] += f"[{item}]"
        else:
            parts.append(str(item))
        index += 1
        if item in _GRID_KEYS:
            break
    return ".".join(parts), loc[index:]


def describe_value(value: Any) -> str:
    """What kind of JSON value `value` is, as a message says it ("a string", "an object")."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


_SHOWN_VALUE = 40


def _shown(value: Any) -> str:
    """A bad value for a message: scalars as written (shortened), containers by their kind only,
    so that a huge or deeply nested value cannot flood the line or exhaust the stack."""
    if isinstance(value, list | dict | tuple):
        return describe_value(value)
    text = repr(value)
    return text if len(text) <= _SHOWN_VALUE else text[: _SHOWN_VALUE - 1] + "…"


def _message(error: ErrorDetails) -> str:
    return str(error["msg"]).removeprefix("Value error, ")


def _grid_problem(rest: tuple[int | str, ...], error: ErrorDetails) -> str:
    """Describe a problem inside a grid: at grid, row or cell level."""
    kind = error["type"]
    value = error.get("input")
    if len(rest) == 0:
        if kind == "too_long":
            return f"grid has {len(value)} rows; at most 30 are allowed"
        if kind == "too_short":
            return "grid has no rows; a grid is 1-30 rows of 1-30 cells"
        if kind == "list_type":
            return f"grid is {describe_value(value)}, not a list of rows"
        if kind == "value_error":
            return _message(error)
    if len(rest) == 1:
        row = rest[0]
        if kind == "too_long":
            return f"row {row} has {len(value)} cells; at most 30 are allowed"
        if kind == "too_short":
            return f"row {row} is empty; a row has 1-30 cells"
        if kind == "list_type":
            return f"row {row} is {describe_value(value)}, not a list of cells"
    if len(rest) == 2:
        row, col = rest
        if kind in {"less_than_equal", "greater_than_equal"}:
            return f"cell [{row}][{col}] is {_shown(value)}; cells must be integers 0-9"
        if kind in {"int_type", "int_parsing", "int_from_float"}:
            shown = describe_value(value)
            if not isinstance(value, list | dict):
                shown += f" ({_shown(value)})"
            return f"cell [{row}][{col}] is {shown}; cells must be integers 0-9"
    if len(rest) > 2:
        return f"cell [{rest[0]}][{rest[1]}] is nested {len(rest) - 2} levels deeper than a grid"
    return _message(error)


def describe_task_error(loc: tuple[int | str, ...], error: ErrorDetails) -> str:
    """One readable line for an error at `loc`, a location relative to one task's JSON object."""
    kind = error["type"]
    if not loc:
        if kind in {"model_type", "dict_type", "model_attributes_type"}:
            found = describe_value(error["input"])
            return f"a task must be a JSON object with 'train' and 'test', not {found}"
        return _message(error)
    path, rest = _pair_path(loc)
    if loc[-1] in _GRID_KEYS or rest or loc[len(loc) - len(rest) - 1] in _GRID_KEYS:
        if kind == "missing" and not rest:
            return f"{path}: missing"
        return f"{path}: {_grid_problem(rest, error)}"
    if kind == "missing":
        return f"missing key '{loc[-1]}'" if len(loc) == 1 else f"{path}: missing"
    if kind == "too_short" and loc[-1] in {"train", "test"}:
        return f"has no {loc[-1]} pair; a task needs at least one"
    if kind == "list_type":
        return f"{path}: must be a list, not {describe_value(error['input'])}"
    if kind in {"model_type", "dict_type", "model_attributes_type"}:
        found = describe_value(error["input"])
        return f"{path}: must be an object with 'input' and 'output', not {found}"
    return f"{path}: {_message(error)}"
