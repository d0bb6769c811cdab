"""Task transformations: the eight symmetries of the square, colour permutations, train
reordering and train/test swaps. The one implementation used by `tasks augment`, the web app and
the tests.

Every transform has a stable string id that parses back to it (`rot90`, `color:0312456789`,
`reorder:2,0,1`, `swap:1,0`), applies to every grid of a task (test outputs included), and has an
inverse. A variant records the ids it was made with, in order, so a prediction on the variant maps
back to the parent through `invert_grid`.

Grids are plain `list[list[int]]`; these functions never mutate their argument.
"""

from __future__ import annotations

import ast
import inspect
import random
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from arcbench.errors import TransformError
from arcbench.tasks import Pair, Task, TestPair

Grid = list[list[int]]


def _identity(grid: Grid) -> Grid:
    return [list(row) for row in grid]


def _rot90(grid: Grid) -> Grid:
    """90 degrees clockwise: the first column, read bottom-up, becomes the first row."""
    return [list(row) for row in zip(*grid[::-1], strict=True)]


def _rot180(grid: Grid) -> Grid:
    return [row[::-1] for row in grid[::-1]]


def _rot270(grid: Grid) -> Grid:
    """90 degrees counter-clockwise."""
    return [list(row) for row in zip(*grid, strict=True)][::-1]


def _flip_h(grid: Grid) -> Grid:
    """Mirror left-right: each row reversed."""
    return [row[::-1] for row in grid]


def _flip_v(grid: Grid) -> Grid:
    """Mirror top-bottom: the order of rows reversed."""
    return [list(row) for row in grid[::-1]]


def _transpose(grid: Grid) -> Grid:
    return [list(row) for row in zip(*grid, strict=True)]


def _antitranspose(grid: Grid) -> Grid:
    """Reflection in the anti-diagonal: cell (i, j) of an h x w grid goes to (w-1-j, h-1-i)."""
    return [list(row)[::-1] for row in zip(*grid, strict=True)][::-1]


def recolor(grid: Grid, table: Sequence[int]) -> Grid:
    """Colour `c` becomes `table[c]`."""
    return [[table[cell] for cell in row] for row in grid]


SYMMETRIES: dict[str, Callable[[Grid], Grid]] = {
    "identity": _identity,
    "rot90": _rot90,
    "rot180": _rot180,
    "rot270": _rot270,
    "flip_h": _flip_h,
    "flip_v": _flip_v,
    "transpose": _transpose,
    "antitranspose": _antitranspose,
}
"""The dihedral group D8 of the square, by id."""

_SYMMETRY_INVERSES = {"rot90": "rot270", "rot270": "rot90"}


@cache
def _returned_expression(function: Callable[[Grid], Grid]) -> str:
    """The expression a one-statement function of `grid` returns, as source: what a program that
    carries a transform with it quotes (see `Symmetry.expression`)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    definition = tree.body[0]
    assert isinstance(definition, ast.FunctionDef)
    returned = definition.body[-1]
    assert isinstance(returned, ast.Return)
    assert returned.value is not None
    return ast.unparse(returned.value)


D8 = tuple(name for name in SYMMETRIES if name != "identity")
"""The seven non-identity symmetries, what `--transforms d8` expands to."""


@dataclass(frozen=True)
class Symmetry:
    """One of the eight symmetries of the square."""

    name: str

    @property
    def id(self) -> str:
        return self.name

    def apply_grid(self, grid: Grid) -> Grid:
        return SYMMETRIES[self.name](grid)

    def apply_task(self, task: Task) -> Task:
        return _map_grids(task, self.apply_grid)

    def inverse(self) -> Symmetry:
        return Symmetry(_SYMMETRY_INVERSES.get(self.name, self.name))

    @property
    def expression(self) -> str:
        """This symmetry as a Python expression over a list-of-lists `grid`, taken from the
        source of its function: a program that must carry the transform with it
        (`arcbench.export` writes T∘P∘T⁻¹) runs exactly what the library runs."""
        return _returned_expression(SYMMETRIES[self.name])


@dataclass(frozen=True)
class ColorPermutation:
    """A bijection of the ten colours: colour `c` becomes `mapping[c]`."""

    mapping: tuple[int, ...]

    def __post_init__(self) -> None:
        if sorted(self.mapping) != list(range(10)):
            raise TransformError(
                f"colour map {list(self.mapping)} is not a permutation of the colours 0-9"
            )

    @property
    def id(self) -> str:
        return "color:" + "".join(str(c) for c in self.mapping)

    @property
    def keeps_background(self) -> bool:
        return self.mapping[0] == 0

    def apply_grid(self, grid: Grid) -> Grid:
        return recolor(grid, self.mapping)

    @property
    def expression(self) -> str:
        """This permutation as a Python expression over `grid`, as `apply_grid` computes it."""
        return f"[[{self.mapping!r}[cell] for cell in row] for row in grid]"

    def apply_task(self, task: Task) -> Task:
        return _map_grids(task, self.apply_grid)

    def inverse(self) -> ColorPermutation:
        inverse = [0] * 10
        for old, new in enumerate(self.mapping):
            inverse[new] = old
        return ColorPermutation(tuple(inverse))


@dataclass(frozen=True)
class ReorderTrain:
    """Put the train pairs in a new order: new pair `k` is old pair `order[k]`."""

    order: tuple[int, ...]

    @property
    def id(self) -> str:
        return "reorder:" + ",".join(str(i) for i in self.order)

    def apply_grid(self, grid: Grid) -> Grid:
        return _identity(grid)

    def apply_task(self, task: Task) -> Task:
        if sorted(self.order) != list(range(len(task.train))):
            raise TransformError(
                f"task {task.label}: {self.id} is not an order of its {len(task.train)} train pairs"
            )
        train = [task.train[i] for i in self.order]
        return task.model_copy(update={"train": train})

    def inverse(self) -> ReorderTrain:
        inverse = [0] * len(self.order)
        for new, old in enumerate(self.order):
            inverse[old] = new
        return ReorderTrain(tuple(inverse))


@dataclass(frozen=True)
class SwapPair:
    """Exchange train pair `train_index` with test pair `test_index` (which needs its output)."""

    train_index: int
    test_index: int

    @property
    def id(self) -> str:
        return f"swap:{self.train_index},{self.test_index}"

    def apply_grid(self, grid: Grid) -> Grid:
        return _identity(grid)

    def apply_task(self, task: Task) -> Task:
        i, j = self.train_index, self.test_index
        if not (0 <= i < len(task.train) and 0 <= j < len(task.test)):
            raise TransformError(
                f"task {task.label}: {self.id} needs train pair {i} and test pair {j}; "
                f"it has {len(task.train)} train and {len(task.test)} test pairs"
            )
        test = task.test[j]
        if test.output is None:
            raise TransformError(
                f"task {task.label}: {self.id} needs the output of test pair {j}, which is unknown"
            )
        train_pair = task.train[i]
        train = list(task.train)
        tests = list(task.test)
        train[i] = Pair.model_construct(input=test.input, output=test.output)
        tests[j] = TestPair.model_construct(input=train_pair.input, output=train_pair.output)
        return task.model_copy(update={"train": train, "test": tests})

    def inverse(self) -> SwapPair:
        return self


Transform = Symmetry | ColorPermutation | ReorderTrain | SwapPair
GridTransform = Symmetry | ColorPermutation
"""The transforms that change grids (and have an `expression`); pair moves change none."""


def _map_grids(task: Task, fn: Callable[[Grid], Grid]) -> Task:
    train = [Pair.model_construct(input=fn(p.input), output=fn(p.output)) for p in task.train]
    test = [
        TestPair.model_construct(
            input=fn(t.input), output=None if t.output is None else fn(t.output)
        )
        for t in task.test
    ]
    return task.model_copy(update={"train": train, "test": test})


# --- parsing ----------------------------------------------------------------------------------


def _int_list(text: str, transform_id: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise TransformError(
            f"transform '{transform_id}': expected comma-separated integers after ':'"
        ) from None


def parse_transform(transform_id: str) -> Transform:
    """The transform a stable id names: a symmetry, `color:DDDDDDDDDD`, `reorder:…`, `swap:I,J`."""
    text = transform_id.strip()
    if text in SYMMETRIES:
        return Symmetry(text)
    kind, _, arg = text.partition(":")
    if kind == "color" and len(arg) == 10 and arg.isdigit():
        return ColorPermutation(tuple(int(c) for c in arg))
    if kind == "reorder" and arg:
        return ReorderTrain(_int_list(arg, text))
    if kind == "swap" and arg:
        pair = _int_list(arg, text)
        if len(pair) == 2 and min(pair) >= 0:
            return SwapPair(pair[0], pair[1])
    raise TransformError(
        f"unknown transform '{transform_id}': use one of {', '.join(SYMMETRIES)}, "
        "color:DDDDDDDDDD (ten digits), reorder:I,J,… or swap:TRAIN,TEST"
    )


def parse_chain(text: str) -> list[Transform]:
    """`a+b+c`: apply `a`, then `b`, then `c`."""
    return [parse_transform(part) for part in text.split("+")]


def parse_color_map(text: str) -> ColorPermutation:
    """`1=2,2=1`: an explicit bijection on the colours it names; the others stay put."""
    mapping = list(range(10))
    sources: list[int] = []
    targets: list[int] = []
    for item in text.split(","):
        left, sep, right = item.partition("=")
        try:
            if not sep:
                raise ValueError
            old, new = int(left), int(right)
        except ValueError:
            raise TransformError(
                f"--color-map {text}: expected pairs like 1=2,2=1 (colour=new colour)"
            ) from None
        if not (0 <= old <= 9 and 0 <= new <= 9):
            raise TransformError(f"--color-map {text}: colours are 0-9")
        if old in sources:
            raise TransformError(f"--color-map {text}: colour {old} is mapped twice")
        sources.append(old)
        targets.append(new)
        mapping[old] = new
    if sorted(sources) != sorted(targets):
        raise TransformError(
            f"--color-map {text}: not a bijection; every colour mapped to must also be mapped "
            f"from (for example 1=2,2=1)"
        )
    return ColorPermutation(tuple(mapping))


def random_color_map(rng: random.Random, mode: str) -> ColorPermutation:
    """A random colour permutation: `keep0` fixes the background 0, `all` permutes all ten."""
    if mode == "keep0":
        rest = list(range(1, 10))
        rng.shuffle(rest)
        return ColorPermutation((0, *rest))
    if mode == "all":
        colours = list(range(10))
        rng.shuffle(colours)
        return ColorPermutation(tuple(colours))
    raise TransformError(f"colour mode '{mode}': use none, keep0 or all")


# --- applying ---------------------------------------------------------------------------------


def apply_transforms(task: Task, transforms: Iterable[Transform]) -> Task:
    """The task with each transform applied in order (to every grid, test outputs included)."""
    for transform in transforms:
        task = transform.apply_task(task)
    return task


def apply_to_grid(grid: Grid, transforms: Iterable[Transform]) -> Grid:
    """A grid through the grid-level part of a chain (pair reorders and swaps leave it alone)."""
    out = _identity(grid)
    for transform in transforms:
        out = transform.apply_grid(out)
    return out


def test_positions(transforms: Iterable[Transform], tests: int) -> dict[int, int]:
    """Where each of a task's `tests` test inputs is after the chain: `{before: after}`. A test
    input that a swap moved into the train pairs has no place; one a later swap brings back
    has its new one."""
    test_origin: dict[int, tuple[str, int]] = {j: ("test", j) for j in range(tests)}
    train_origin: dict[int, tuple[str, int]] = {}
    for transform in transforms:
        if isinstance(transform, ReorderTrain):
            before = train_origin
            train_origin = {
                new: before.get(old, ("train", old)) for new, old in enumerate(transform.order)
            }
        elif isinstance(transform, SwapPair):
            i, j = transform.train_index, transform.test_index
            test_origin[j], train_origin[i] = (
                train_origin.get(i, ("train", i)),
                test_origin.get(j, ("test", j)),
            )
    return {origin[1]: after for after, origin in test_origin.items() if origin[0] == "test"}


def invert(transforms: Sequence[Transform]) -> list[Transform]:
    """The chain that undoes `transforms`: the inverses in reverse order."""
    return [transform.inverse() for transform in reversed(transforms)]


def invert_grid(grid: Grid, transform_ids: Sequence[str]) -> Grid:
    """Map a grid predicted for a variant back to its parent task's frame."""
    return apply_to_grid(grid, invert([parse_transform(t) for t in transform_ids]))
