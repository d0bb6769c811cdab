"""Grids as tiny PNG images: one pixel per cell in the ARC palette, four bits a pixel.

The HTML report shows hundreds of grids in one file that must stay small and open offline; a
30x30 grid as a PNG is a few hundred bytes (a table of 900 coloured cells is tens of
kilobytes). The page scales the image up without smoothing and draws the cell lines over it.
A prediction compared with its expected output is drawn three pixels a cell, the middle pixel of
each cell that differs in a contrasting colour: a dot that shows at any size.
"""

from __future__ import annotations

import base64
import struct
import zlib

from arcbench.tasks import PALETTE

Grid = list[list[int]]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PALETTE_RGB = b"".join(bytes.fromhex(colour.lstrip("#")) for colour in PALETTE) + bytes(
    (255, 255, 255)
)
_WHITE = 10
_DARK = frozenset({0, 1, 2, 6, 9})
"""Colours on which the difference mark is white (black on the others)."""
MARK_SCALE = 3


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def differing_cells(grid: Grid, expected: Grid | None) -> set[tuple[int, int]] | None:
    """The cells where `grid` differs from `expected`; None when there is nothing to compare
    (no expected grid, or another shape)."""
    if expected is None or len(expected) != len(grid) or len(expected[0]) != len(grid[0]):
        return None
    return {
        (r, c)
        for r, (row, wanted) in enumerate(zip(grid, expected, strict=True))
        for c, (value, other) in enumerate(zip(row, wanted, strict=True))
        if value != other
    }


def _pixels(grid: Grid, marks: set[tuple[int, int]]) -> list[list[int]]:
    """The image's pixels: a pixel per cell, or `MARK_SCALE` a cell with marked middles."""
    if not marks:
        return grid
    scale = MARK_SCALE
    rows: list[list[int]] = []
    for r, row in enumerate(grid):
        band = [[value for value in row for _ in range(scale)] for _ in range(scale)]
        for c, value in enumerate(row):
            if (r, c) in marks:
                band[scale // 2][c * scale + scale // 2] = _WHITE if value in _DARK else 0
        rows.extend(band)
    return rows


def grid_png(grid: Grid, marks: set[tuple[int, int]] | None = None) -> bytes:
    """A PNG of `grid` (a valid ARC grid) in the palette; `marks` are cells to dot. The image's
    palette holds only the colours used, so pixels take as few bits as they allow (1, 2 or 4)."""
    pixels = _pixels(grid, marks or set())
    height, width = len(pixels), len(pixels[0])
    used = sorted({value for row in pixels for value in row})
    index = {colour: position for position, colour in enumerate(used)}
    depth = 1 if len(used) <= 2 else 2 if len(used) <= 4 else 4
    per_byte = 8 // depth
    raw = bytearray()
    for row in pixels:
        raw.append(0)  # filter: none
        for start in range(0, width, per_byte):
            byte = 0
            for offset in range(per_byte):
                value = index[row[start + offset]] if start + offset < width else 0
                byte = (byte << depth) | value
            raw.append(byte)
    palette = b"".join(_PALETTE_RGB[3 * colour : 3 * colour + 3] for colour in used)
    header = struct.pack(">IIBBBBB", width, height, depth, 3, 0, 0, 0)
    return b"".join(
        (
            _SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"PLTE", palette),
            _chunk(b"IDAT", zlib.compress(bytes(raw), 9)),
            _chunk(b"IEND", b""),
        )
    )


def grid_data_uri(grid: Grid, marks: set[tuple[int, int]] | None = None) -> str:
    """`grid_png` as a `data:` URI, for a self-contained page."""
    return "data:image/png;base64," + base64.b64encode(grid_png(grid, marks)).decode("ascii")
