"""What a program did with one input, and the grid check that decides whether its answer is a grid.

The check runs in the arcbench process on plain JSON data (lists, ints, floats, bools, None,
strings) parsed from the sandbox's reply, never on objects a program made: a program cannot hand
the trusted process an object whose `__eq__` or `__len__` lies, because no such object crosses
the process boundary. Cells are checked with `type(cell) is int`, so `true` is not a 1.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from arcbench.tasks import MAX_SIDE

OutcomeStatus = Literal["ok", "wrong_format", "error", "timeout"]
"""`ok`: a valid grid (right or wrong is the caller's call, by comparing `grid`);
`wrong_format`: the program returned something that is not an ARC grid (`reason` says why);
`error`: it raised, crashed, exited or broke a limit (`message`, `traceback`);
`timeout`: it ran out of wall or CPU time on this input."""


class ProgramOutcome(BaseModel):
    """The result of running one program on one input grid."""

    model_config = ConfigDict(frozen=True)

    status: OutcomeStatus
    grid: list[list[int]] | None = None
    reason: str | None = None
    message: str | None = None
    traceback: str | None = None
    seconds: float = 0.0
    """Wall time the program spent on this input, as measured inside the sandbox."""

    @property
    def ok(self) -> bool:
        """Whether the program returned a valid grid (not necessarily the right one)."""
        return self.status == "ok"

    def describe(self) -> str:
        """One line for logs and repair prompts: the grid's shape or what went wrong."""
        if self.grid is not None:
            return f"ok: {len(self.grid)}x{len(self.grid[0])} grid"
        detail = self.reason or self.message or ""
        return f"{self.status}: {detail}" if detail else self.status


def _json_name(value: object) -> str:
    if value is None:
        return "null (None)"
    if isinstance(value, bool):
        return f"a boolean ({'true' if value else 'false'})"
    if isinstance(value, float):
        return f"a float ({value!r})"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object (dict)"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _is_grid(value: object) -> bool:
    """The common case, at C speed: `type` per cell, so neither `True` nor `1.0` passes as 1."""
    if type(value) is not list or not 1 <= len(value) <= MAX_SIDE or type(value[0]) is not list:
        return False
    width = len(value[0])
    if not 1 <= width <= MAX_SIDE:
        return False
    for row in value:
        if type(row) is not list or len(row) != width or set(map(type, row)) != _INT_ONLY:
            return False
        if min(row) < 0 or max(row) > 9:
            return False
    return True


_INT_ONLY = {int}


def grid_problem(value: object) -> str | None:
    """Why plain JSON data is not an ARC grid, or None when it is one.

    A grid is a list of 1-30 rows, each a list of the same 1-30 length, of ints 0-9.
    """
    if _is_grid(value):
        return None
    if value is None:
        return "the program returned None instead of a grid"
    if type(value) is not list:
        return f"the output is {_json_name(value)}, not a list of rows"
    if not 1 <= len(value) <= MAX_SIDE:
        return f"the grid has {len(value)} rows (1 to {MAX_SIDE} allowed)"
    width = -1
    for r, row in enumerate(value):
        if type(row) is not list:
            return f"row {r} is {_json_name(row)}, not a list of cells"
        if not 1 <= len(row) <= MAX_SIDE:
            return f"row {r} has {len(row)} cells (1 to {MAX_SIDE} allowed)"
        if width < 0:
            width = len(row)
        elif len(row) != width:
            return f"ragged grid: row 0 has {width} cells but row {r} has {len(row)}"
        for c, cell in enumerate(row):
            if type(cell) is not int:
                return f"cell ({r}, {c}) is {_json_name(cell)}, not an integer 0-9"
            if not 0 <= cell <= 9:
                shown = str(cell) if abs(cell) < 10**12 else "a huge integer"
                return f"cell ({r}, {c}) is {shown}, outside the colours 0-9"
    return None
