"""Listings that never cut what a user copies: a table where it fits, else one block per row.

A listing's first column names each row (a model, a task): what the user types next, so it is
never shortened, and neither is a column marked `whole` (a URL). Columns marked `wraps` (lists
of grid sizes) may wrap between words. When even the narrowest such table is wider than the
terminal, each row becomes a block: its name on a line, then `column: value` lines, printed
without any wrapping of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

Row = dict[str, str]
EMPTY = "-"
"""A cell that says nothing: left out of blocks, and its column droppable."""


@dataclass(frozen=True)
class Column:
    name: str
    wraps: bool = False
    right: bool = False


def print_listing(
    console: Console,
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Row],
    narrower: Sequence[Sequence[str]] = (),
) -> None:
    """`rows` as a table of `columns` if it fits `console`, else as a table of each of the
    `narrower` choices of column names in turn, else as blocks (see the module docstring)."""
    by_name = {column.name: column for column in columns}
    for names in (tuple(by_name), *narrower):
        table = Table()
        for index, name in enumerate(names):
            column = by_name[name]
            table.add_column(
                name,
                justify="right" if column.right else "left",
                no_wrap=not column.wraps,
                min_width=max((len(row[name]) for row in rows), default=0) if index == 0 else None,
            )
        for row in rows:
            table.add_row(*(row[name] for name in names))
        if _narrowest([by_name[name] for name in names], rows) <= console.width:
            console.print(title, style="italic", soft_wrap=True)  # a path in it stays whole
            console.print(table)
            return
    console.print(title, style="bold", soft_wrap=True)
    key, *others = by_name
    width = max(len(name) for name in others) + 2
    for row in rows:
        console.print(row[key], style="bold", soft_wrap=True, markup=False)
        for name in others:
            if row[name] != EMPTY:
                console.print(f"  {name + ':':<{width}}{row[name]}", soft_wrap=True, markup=False)


def _narrowest(columns: Sequence[Column], rows: Sequence[Row]) -> int:
    """The least width a table of `columns` takes without cutting a cell or a heading: a
    column that does not wrap is as wide as its widest cell, one that wraps as its longest
    word; each column adds its padding and a border."""

    def widest(texts: list[str], wraps: bool) -> int:
        pieces = [word for text in texts for word in text.split()] if wraps else texts
        return max(map(cell_len, pieces), default=0)

    inner = sum(
        widest([column.name, *(row[column.name] for row in rows)], column.wraps)
        for column in columns
    )
    return inner + 3 * len(columns) + 1
