"""Terminal rendering of grids and tasks: ARC colours on a terminal, plain digits elsewhere."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.columns import Columns
from rich.console import Console, Group
from rich.panel import Panel
from rich.text import Text

from arcbench.tasks import PALETTE

if TYPE_CHECKING:
    from arcbench.tasks import PALETTE, Task


_DARK = {0, 1, 9}
"""Colours light enough text is drawn in white on them."""

Grid = list[list[int]]


def shape(grid: Grid) -> str:
    return f"{len(grid)}x{len(grid[0])}"


def grid_text(grid: Grid, cell_width: int = 2) -> Text:
    """A grid as coloured cells, `cell_width` columns per cell with the digit on its colour."""
    text = Text()
    for index, row in enumerate(grid):
        if index:
            text.append("\n")
        for cell in row:
            fg = "#FFFFFF" if cell in _DARK else "#000000"
            text.append(f"{cell}".ljust(cell_width), style=f"{fg} on {PALETTE[cell]}")
    return text


def _panel(grid: Grid, title: str, cell_width: int) -> Panel:
    title = f"{title} {shape(grid)}"
    width = max(cell_width * len(grid[0]), len(title) + 4) + 2
    return Panel(grid_text(grid, cell_width), title=title, width=width, padding=0)


def _cell_width(task: Task, columns: int) -> int:
    """Two columns per cell where the widest grid fits the terminal so, else one: a row of a
    grid is never wrapped."""
    grids = [g for pair in task.train for g in (pair.input, pair.output)]
    grids += [g for test in task.test for g in (test.input, test.output) if g is not None]
    widest = max(len(grid[0]) for grid in grids)
    return 2 if 2 * widest + 2 <= columns else 1


def print_task(console: Console, task: Task, source: str, reveal: bool) -> None:
    """Each pair's grids side by side (wrapping when the terminal is too narrow)."""
    if not console.is_terminal:
        print_task_plain(task, source, reveal, console)
        return
    console.print(Text(_header(task, source), style="bold"))
    cells = _cell_width(task, console.width)
    for index, pair in enumerate(task.train):
        console.print(
            Columns(
                [
                    _panel(pair.input, f"train[{index}] input", cells),
                    _panel(pair.output, "output", cells),
                ],
                padding=(0, 1),
            )
        )
    for index, test in enumerate(task.test):
        parts: list[Panel] = [_panel(test.input, f"test[{index}] input", cells)]
        if test.output is None:
            note = Text("output unknown", style="dim")
        elif reveal:
            parts.append(_panel(test.output, "output", cells))
            note = None
        else:
            note = Text("output hidden (--reveal shows it)", style="dim")
        console.print(Group(Columns(parts, padding=(0, 1)), *([note] if note else [])))


def _header(task: Task, source: str) -> str:
    return f"{task.label} ({source}): {len(task.train)} train, {len(task.test)} test"


def print_task_plain(task: Task, source: str, reveal: bool, console: Console) -> None:
    """Digits only, input and output side by side: for pipes, files and screen readers."""
    lines = [_header(task, source)]
    for index, pair in enumerate(task.train):
        lines += ["", *_side_by_side(f"train[{index}]", pair.input, pair.output)]
    for index, test in enumerate(task.test):
        output = test.output if reveal else None
        lines += ["", *_side_by_side(f"test[{index}]", test.input, output)]
        if test.output is None:
            lines.append("(output unknown)")
        elif not reveal:
            lines.append("(output hidden; --reveal shows it)")
    console.file.write("\n".join(lines) + "\n")


def _side_by_side(title: str, left: Grid, right: Grid | None) -> list[str]:
    head = f"{title} input {shape(left)}"
    width = max(len(left[0]), len(head))
    head = head.ljust(width + 3)
    lines = [head + (f"output {shape(right)}" if right is not None else "")]
    rows = max(len(left), len(right) if right is not None else 0)
    for r in range(rows):
        cells = "".join(str(c) for c in left[r]) if r < len(left) else ""
        line = cells.ljust(width + 3)
        if right is not None and r < len(right):
            line += "".join(str(c) for c in right[r])
        lines.append(line.rstrip())
    return lines
