"""Grids as tiny PNG images: one pixel per cell in the ARC palette, four bits a pixel.

The HTML report shows hundreds of grids in one file that must stay small and open offline; a
30x30 grid as a PNG is a few hundred bytes (a table of 900 coloured cells is tens of
kilobytes). The page scales the image up without smoothing and draws the cell lines over it.
"""

from __future__ import annotations

import base64
import struct
import zlib

from arcbench.tasks import PALETTE

Grid = list[list[int]]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PALETTE_RGB = b"".join(bytes.fromhex(colour.lstrip("#")) for colour in PALETTE)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def grid_png(grid: Grid) -> bytes:
    """A PNG of `grid`, one pixel per cell, palette colours 0-9 (a valid ARC grid)."""
    height, width = len(grid), len(grid[0])
    rows = bytearray()
    for row in grid:
        rows.append(0)  # filter: none
        packed = row if width % 2 == 0 else [*row, 0]
        rows.extend((packed[i] << 4) | packed[i + 1] for i in range(0, len(packed), 2))
    header = struct.pack(">IIBBBBB", width, height, 4, 3, 0, 0, 0)
    return b"".join(
        (
            _SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"PLTE", _PALETTE_RGB),
            _chunk(b"IDAT", zlib.compress(bytes(rows), 9)),
            _chunk(b"IEND", b""),
        )
    )


def grid_data_uri(grid: Grid) -> str:
    """`grid_png` as a `data:` URI, for an `<img src>` in a self-contained page."""
    return "data:image/png;base64," + base64.b64encode(grid_png(grid)).decode("ascii")
