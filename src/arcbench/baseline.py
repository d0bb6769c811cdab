"""Candidate programs of the offline `baseline` model: whole-grid rules, emitted as Python source.

`arcbench codegen --model baseline` needs no model server. For each task it checks every candidate
of `generate_candidates` in the sandbox, like any model's program, and submits the two best by
train accuracy. It is the first-run demo and a reference row in every comparison, so it has to be
deterministic, offline and cheap to check: a few to a few hundred candidates per task, not the
thousands a blind enumeration would give.

The catalog (each rule maps a whole grid to a whole grid; names are stable and parse by eye):

- the symmetries of `arcbench.transforms`, by their ids: `rot90`, `flip_h`, `transpose`, ...
- `color_map:1>2,3>4`: a cell-wise colour substitution, inferred from the train pairs and emitted
  only when one substitution explains every pair; colours it never saw stay as they are;
- `scale_up_KxM` (each cell becomes a K x M block) and `scale_down_KxM` (its inverse, proposed only
  when every K x M block of the grids it is inferred from is one colour);
- `tile_KxM` (K x M copies) and `untile` (the smallest tile the grid exactly repeats);
- `mirror:A,B/C,D`: blocks of symmetric copies, one row of blocks per `/` (`mirror:identity,flip_h`
  is the input beside its mirror image; `mirror:identity,flip_h/flip_v,rot180` the 2 x 2 one);
- `crop_bbox:0` and `crop_bbox:mode`: the bounding box of the cells that are not background, with
  background 0 or the grid's most common colour; `crop_corner:top_left_HxW` and the other three
  corners, when every train output has the same shape H x W;
- `A+B`: rule A, then rule B.

Parameters come from the train pairs. A final rule (a single rule, or the B of `A+B`) is inferred
exactly from the grids it receives and the train outputs: the one scale or tile factor that fits
every pair's shapes, the colour map, the mirror layout block by block. A first rule (the A of
`A+B`) cannot see its own targets, so it is proposed more loosely: every divisor of the overall
shape factor, the usual mirror layouts. A colour map only ever comes last; it commutes with the
other rules that keep colours.

Why the rules are functions of this module whose source is emitted: each rule is written once. The
generator calls those functions in-process on the task's grids -- trusted library code on
validated data -- to infer what B needs after A, to drop candidates that would answer some input
with an invalid grid, and to drop candidates that behave like an earlier one on every train and
test input (so two candidates that agree on the train pairs but differ on a test input both stay:
they are different second attempts). The program text is then the same functions' source
(`inspect.getsource`, annotations removed so that it needs no import), which is why those
functions use builtins only. The generated text itself is never executed here; the sandbox does
that.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from arcbench.programs import function_source
from arcbench.tasks import MAX_SIDE, Task
from arcbench.transforms import SYMMETRIES, Grid, recolor

SymmetryFn = Callable[[Grid], Grid]


@dataclass(frozen=True)
class Candidate:
    """One candidate program: a stable `name` (`rot90`, `scale_up_3x3+flip_h`, `color_map:1>2`)
    and `code`, self-contained Python source defining `transform(grid) -> grid` without imports."""

    name: str
    code: str


def generate_candidates(task: Task) -> list[Candidate]:
    """The catalog's rules and compositions of two, parameters inferred from `task`'s train pairs,
    one candidate per distinct behaviour, single rules first (ties in train accuracy go to the
    earlier candidate, so the simpler explanation wins).

    Candidates are proposed, not pre-solved: whether one is right is for the sandbox to tell.
    Deterministic for a given task. Test outputs are never looked at; test inputs only decide
    whether a candidate answers every input with a valid grid and whether it duplicates another.
    A rule that leaves every input unchanged is never proposed.
    """
    inputs = [pair.input for pair in task.train]
    outputs = [pair.output for pair in task.train]
    tests = [pair.input for pair in task.test]
    grids = inputs + tests
    seen = {_behaviour(grids)}  # a rule that changes nothing never solves a task
    candidates: list[Candidate] = []

    def keep(steps: tuple[_Step, ...], results: list[Grid]) -> None:
        key = _behaviour(results)
        if key not in seen:
            seen.add(key)
            candidates.append(_candidate(steps))

    for last in _final_steps(inputs, outputs):
        results = _apply(last, grids)
        if results is not None:
            keep((last,), results)
    for first in _first_steps(inputs, outputs):
        middle = _apply(first, grids)
        if middle is None:
            continue
        for last in _final_steps(middle[: len(inputs)], outputs):
            results = _apply(last, middle)
            if results is not None:
                keep((first, last), results)
    return candidates


# --- the rules ------------------------------------------------------------------------------------
# Their source is what the programs contain: builtins only, no module-level names, no imports.


def _scale_up(grid: Grid, rows: int, cols: int) -> Grid:
    """Each cell becomes a `rows` x `cols` block of its colour."""
    return [[cell for cell in row for _ in range(cols)] for row in grid for _ in range(rows)]


def _scale_down(grid: Grid, rows: int, cols: int) -> Grid:
    """Each `rows` x `cols` block becomes one cell, the colour of its top-left corner."""
    return [row[::cols] for row in grid[::rows]]


def _tile(grid: Grid, rows: int, cols: int) -> Grid:
    """`rows` x `cols` copies of the grid."""
    return [list(row) * cols for _ in range(rows) for row in grid]


def _untile(grid: Grid) -> Grid:
    """The smallest tile of which the grid is an exact repetition (the grid itself if none)."""
    height, width = len(grid), len(grid[0])
    rows = next(
        p
        for p in range(1, height + 1)
        if height % p == 0 and all(grid[i] == grid[i % p] for i in range(height))
    )
    cols = next(
        q
        for q in range(1, width + 1)
        if width % q == 0 and all(row[j] == row[j % q] for row in grid for j in range(width))
    )
    return [list(row[:cols]) for row in grid[:rows]]


def _arrange(grid: Grid, layout: tuple[tuple[SymmetryFn, ...], ...]) -> Grid:
    """Blocks of transformed copies: block (i, j) of the result is `layout[i][j](grid)`."""
    result = []
    for layout_row in layout:
        blocks = [symmetry(grid) for symmetry in layout_row]
        for r in range(len(blocks[0])):
            result.append([cell for block in blocks for cell in block[r]])
    return result


def _crop_bbox(grid: Grid, background: int | None) -> Grid:
    """The bounding box of the cells that are not `background` (None: the most common colour).

    A grid that is all background is returned whole.
    """
    if background is None:
        counts: dict[int, int] = {}
        for row in grid:
            for cell in row:
                counts[cell] = counts.get(cell, 0) + 1
        background = max(sorted(counts), key=counts.__getitem__)
    rows = [i for i, row in enumerate(grid) if any(cell != background for cell in row)]
    cols = [j for j in range(len(grid[0])) if any(row[j] != background for row in grid)]
    if not rows:
        return [list(row) for row in grid]
    return [list(row[cols[0] : cols[-1] + 1]) for row in grid[rows[0] : rows[-1] + 1]]


def _crop_corner(grid: Grid, rows: int, cols: int, bottom: bool, right: bool) -> Grid:
    """The `rows` x `cols` window in one corner of the grid."""
    top = max(0, len(grid) - rows) if bottom else 0
    left = max(0, len(grid[0]) - cols) if right else 0
    return [list(row[left : left + cols]) for row in grid[top : top + rows]]


# --- steps and programs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Step:
    """One rule with its parameters: callable here, and renderable as a call in a program."""

    name: str
    function: Callable[..., Grid]
    args: tuple[object, ...] = ()

    def apply(self, grid: Grid) -> Grid:
        return self.function(grid, *self.args)

    def call(self) -> str:
        return f"{self.function.__name__}({', '.join(['grid', *map(_literal, self.args)])})"

    def functions(self) -> Iterator[Callable[..., Grid]]:
        """The functions a program must define to make this call: the rule's and its arguments'."""
        yield self.function
        yield from _callables(self.args)


def _literal(value: object) -> str:
    if inspect.isfunction(value):
        return value.__name__
    if isinstance(value, tuple):
        items = [_literal(item) for item in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    return repr(value)


def _callables(value: object) -> Iterator[Callable[..., Grid]]:
    if inspect.isfunction(value):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            yield from _callables(item)


def _candidate(steps: tuple[_Step, ...]) -> Candidate:
    functions = list(dict.fromkeys(fn for step in steps for fn in step.functions()))
    body = [f"    grid = {step.call()}" for step in steps]
    transform = "\n".join(
        ["def transform(grid: list[list[int]]) -> list[list[int]]:", *body, "    return grid"]
    )
    name = "+".join(step.name for step in steps)
    parts = [f"# arcbench baseline: {name}", *map(function_source, functions), transform]
    return Candidate(name=name, code="\n\n\n".join(parts) + "\n")


# --- inference ------------------------------------------------------------------------------------

_SYMMETRY_ORDER = ("flip_h", "flip_v", "rot180", "transpose", "antitranspose", "rot90", "rot270")
"""The non-identity symmetries, mirrors first: the order in which they are proposed and named."""

_MIRROR_LAYOUTS: tuple[tuple[tuple[str, ...], ...], ...] = (
    (("identity", "flip_h"),),
    (("flip_h", "identity"),),
    (("identity",), ("flip_v",)),
    (("flip_v",), ("identity",)),
    (("identity", "flip_h"), ("flip_v", "rot180")),
    (("rot180", "flip_v"), ("flip_h", "identity")),
    (("flip_h", "identity"), ("rot180", "flip_v")),
    (("flip_v", "rot180"), ("identity", "flip_h")),
    (("identity", "rot90"), ("rot270", "rot180")),
    (("identity", "rot270"), ("rot90", "rot180")),
)
"""The mirror layouts proposed as a first rule, where the layout cannot be read off the outputs."""

_MAX_MIRROR_BLOCKS = 16


def _final_steps(sources: Sequence[Grid], targets: Sequence[Grid]) -> Iterator[_Step]:
    """Rules inferred exactly from what they receive (`sources`) and must produce (`targets`)."""
    yield from (_symmetry(name) for name in _SYMMETRY_ORDER)
    table = _infer_color_map(sources, targets)
    if table is not None:
        changed = ",".join(f"{c}>{table[c]}" for c in range(10) if table[c] != c)
        yield _Step(f"color_map:{changed}", recolor, (table,))
    up = _factor(sources, targets)
    if up is not None:
        yield _scale_up_step(up)
        yield _Step(f"tile_{up[0]}x{up[1]}", _tile, up)
        layout = _infer_layout(sources, targets, up)
        if layout is not None:
            yield _mirror_step(layout)
    down = _factor(targets, sources)
    if down is not None and _uniform_blocks(sources, down):
        yield _scale_down_step(down)
    yield from _structural_steps()
    yield from _corner_steps(sources, targets)


def _first_steps(inputs: Sequence[Grid], outputs: Sequence[Grid]) -> Iterator[_Step]:
    """Rules to try before a final one: loosely proposed, since their targets are unknown."""
    yield from (_symmetry(name) for name in _SYMMETRY_ORDER)
    up = _factor(inputs, outputs)
    if up is not None:
        for factor in _divisor_pairs(up):
            yield _scale_up_step(factor)
            yield _Step(f"tile_{factor[0]}x{factor[1]}", _tile, factor)
        square = all(len(grid) == len(grid[0]) for grid in inputs)
        for layout in _MIRROR_LAYOUTS:
            fits = up[0] % len(layout) == 0 and up[1] % len(layout[0]) == 0
            if fits and (square or not _uses_rotation(layout)):
                yield _mirror_step(layout)
    down = _factor(outputs, inputs)
    if down is not None:
        for factor in _divisor_pairs(down):
            if _uniform_blocks(inputs, factor):
                yield _scale_down_step(factor)
    yield from _structural_steps()


def _symmetry(name: str) -> _Step:
    return _Step(name, SYMMETRIES[name])


def _scale_up_step(factor: tuple[int, int]) -> _Step:
    return _Step(f"scale_up_{factor[0]}x{factor[1]}", _scale_up, factor)


def _scale_down_step(factor: tuple[int, int]) -> _Step:
    return _Step(f"scale_down_{factor[0]}x{factor[1]}", _scale_down, factor)


def _mirror_step(layout: tuple[tuple[str, ...], ...]) -> _Step:
    name = "mirror:" + "/".join(",".join(row) for row in layout)
    functions = tuple(tuple(SYMMETRIES[block] for block in row) for row in layout)
    return _Step(name, _arrange, (functions,))


def _structural_steps() -> Iterator[_Step]:
    """The parameter-free rules that change the shape by looking at the content."""
    yield _Step("untile", _untile)
    yield _Step("crop_bbox:0", _crop_bbox, (0,))
    yield _Step("crop_bbox:mode", _crop_bbox, (None,))


def _corner_steps(sources: Sequence[Grid], targets: Sequence[Grid]) -> Iterator[_Step]:
    """Corner windows of the one shape every target has, when each source is at least as big."""
    shapes = {_shape(grid) for grid in targets}
    if len(shapes) != 1:
        return
    rows, cols = shapes.pop()
    if any(len(grid) < rows or len(grid[0]) < cols for grid in sources):
        return
    if all(_shape(grid) == (rows, cols) for grid in sources):
        return
    for bottom in (False, True):
        for right in (False, True):
            corner = f"{'bottom' if bottom else 'top'}_{'right' if right else 'left'}"
            name = f"crop_corner:{corner}_{rows}x{cols}"
            yield _Step(name, _crop_corner, (rows, cols, bottom, right))


def _shape(grid: Grid) -> tuple[int, int]:
    return len(grid), len(grid[0])


def _factor(small: Sequence[Grid], big: Sequence[Grid]) -> tuple[int, int] | None:
    """The one integer factor (rows, cols), not 1 x 1, by which each `big` exceeds its `small`."""
    factors: set[tuple[int, int]] = set()
    for a, b in zip(small, big, strict=True):
        (ah, aw), (bh, bw) = _shape(a), _shape(b)
        if bh % ah or bw % aw:
            return None
        factors.add((bh // ah, bw // aw))
    if len(factors) != 1:
        return None
    factor = factors.pop()
    return None if factor == (1, 1) else factor


def _divisor_pairs(factor: tuple[int, int]) -> list[tuple[int, int]]:
    """Every factor (k, m), not 1 x 1, that divides `factor`: what a first rule may contribute."""
    rows = [k for k in range(1, factor[0] + 1) if factor[0] % k == 0]
    cols = [m for m in range(1, factor[1] + 1) if factor[1] % m == 0]
    return [(k, m) for k in rows for m in cols if (k, m) != (1, 1)]


def _uniform_blocks(grids: Sequence[Grid], factor: tuple[int, int]) -> bool:
    """Whether every `factor`-sized block of every grid is one colour: down-scaling is exact."""
    k, m = factor
    for grid in grids:
        if len(grid) % k or len(grid[0]) % m:
            return False
        for i, row in enumerate(grid):
            corner = grid[i - i % k]
            if any(cell != corner[j - j % m] for j, cell in enumerate(row)):
                return False
    return True


def _infer_color_map(sources: Sequence[Grid], targets: Sequence[Grid]) -> tuple[int, ...] | None:
    """The one colour substitution taking every source to its target, if there is one.

    None when shapes differ, when a colour would need two images, or when nothing changes.
    """
    image: dict[int, int] = {}
    for source, target in zip(sources, targets, strict=True):
        if _shape(source) != _shape(target):
            return None
        for source_row, target_row in zip(source, target, strict=True):
            for a, b in zip(source_row, target_row, strict=True):
                if image.setdefault(a, b) != b:
                    return None
    if all(a == b for a, b in image.items()):
        return None
    return tuple(image.get(c, c) for c in range(10))


def _infer_layout(
    sources: Sequence[Grid], targets: Sequence[Grid], factor: tuple[int, int]
) -> tuple[tuple[str, ...], ...] | None:
    """The symmetry of each block of the targets, the same in every pair, if every block has one.

    A layout with one symmetry throughout is a tile of that symmetry's result, which the
    composition `symmetry+tile_KxM` already proposes; it gives None too.
    """
    k, m = factor
    if k * m > _MAX_MIRROR_BLOCKS:
        return None
    layout: list[tuple[str, ...]] = []
    for bi in range(k):
        row: list[str] = []
        for bj in range(m):
            name = next(
                (
                    name
                    for name in ("identity", *_SYMMETRY_ORDER)
                    if all(
                        SYMMETRIES[name](source) == _block(target, factor, bi, bj)
                        for source, target in zip(sources, targets, strict=True)
                    )
                ),
                None,
            )
            if name is None:
                return None
            row.append(name)
        layout.append(tuple(row))
    if len({name for row in layout for name in row}) == 1:
        return None
    return tuple(layout)


def _block(grid: Grid, factor: tuple[int, int], bi: int, bj: int) -> Grid:
    height, width = len(grid) // factor[0], len(grid[0]) // factor[1]
    return [row[bj * width : (bj + 1) * width] for row in grid[bi * height : (bi + 1) * height]]


def _uses_rotation(layout: tuple[tuple[str, ...], ...]) -> bool:
    return any(name in {"rot90", "rot270"} for row in layout for name in row)


# --- checking candidates on the task's own grids --------------------------------------------------


def _apply(step: _Step, grids: Sequence[Grid]) -> list[Grid] | None:
    """`step` on every grid, or None if it fails on one or any result is not a valid ARC grid.

    A layout inferred on square train inputs meets a non-square test input with an IndexError,
    and so would its program: such a rule is no candidate for the task.
    """
    try:
        results = [step.apply(grid) for grid in grids]
    except IndexError:
        return None
    return results if all(_valid(grid) for grid in results) else None


def _valid(grid: Grid) -> bool:
    if not 1 <= len(grid) <= MAX_SIDE:
        return False
    width = len(grid[0])
    return 1 <= width <= MAX_SIDE and all(len(row) == width for row in grid)


def _behaviour(grids: Sequence[Grid]) -> tuple[tuple[tuple[int, ...], ...], ...]:
    return tuple(tuple(tuple(row) for row in grid) for grid in grids)
