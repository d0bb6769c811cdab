"""Views of a task for test-time augmentation: `--augment SPEC` and `--views K`.

A *view* is a chain of transforms (`arcbench.transforms`) applied to a whole task, train pairs and
test inputs alike; a model is asked on the view as on any task, and its answer is mapped back to
the task's own frame through the inverse chain. The identity view (the task as given) is always
one of them, and always the first.

SPEC is a comma-separated list of items; an item is parts joined by `+`, and gives every chain
that takes one choice from each part in turn (a product):

- `d8`: the eight symmetries of the square, identity included;
- `colors:N`: no recolouring, or one of N colour permutations that keep 0 (the background) fixed,
  drawn from a generator seeded by `AUGMENT_SEED` (so `colors:2` are the first two of `colors:3`);
- a transform id (`rot90`, `flip_h`, `color:0213456789`, `reorder:1,0`): that transform.

So `d8` gives 8 views, `colors:3` gives 4, `d8+colors:3` gives 32 and `rot90,flip_h` gives 3 (the
identity first). `--views K` keeps the identity and K-1 of the others, drawn with a seed, in SPEC
order. The views of a run are the same for every task, so that each view can be scored alone.

A program written for a view answers in the view's frame; `View.wrap_program` wraps it, as
source code run in the sandbox, so that it answers the original test inputs in the task's frame.
"""

from __future__ import annotations

import random
import re
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from arcbench.errors import TransformError
from arcbench.programs import function_source
from arcbench.tasks import MAX_SIDE, Task
from arcbench.transforms import (
    SYMMETRIES,
    ColorPermutation,
    Grid,
    ReorderTrain,
    SwapPair,
    Symmetry,
    Transform,
    apply_to_grid,
    apply_transforms,
    invert,
    parse_transform,
    random_color_map,
    recolor,
)

AUGMENT_SEED = 0
"""Seeds the colour permutations of `colors:N` and the choice of `--views K`: a run's views are
a function of its SPEC and K alone, so a resume (and a second run) asks the same views."""

MAX_COLOR_VIEWS = 1000
"""The largest N of `colors:N`: far more views than any run can afford."""

MAX_VIEWS = 10_000
"""The most views a SPEC may give (`d8+colors:1000` gives 8,008): a SPEC beyond it is a typo
such as `colors:1000+colors:1000`, refused before a million views are made."""

IDENTITY = "identity"

Chain = tuple[Transform, ...]


@dataclass(frozen=True)
class View:
    """One view: the transforms applied to the task, in order (none: the identity view)."""

    transforms: Chain = ()

    @property
    def ids(self) -> list[str]:
        """The transform ids a record keeps (`["identity"]` for the task as given)."""
        return [t.id for t in self.transforms] or [IDENTITY]

    @property
    def label(self) -> str:
        """The ids joined by `+`: `identity`, `rot90`, `flip_h+color:0213456789`."""
        return "+".join(self.ids)

    @property
    def is_identity(self) -> bool:
        return not self.transforms

    def apply(self, task: Task) -> Task:
        """The whole task in this view. Symmetries and recolourings keep every grid within
        30 x 30; a grid outside it would be a bug, and is refused rather than sent."""
        if self.is_identity:
            return task
        viewed = apply_transforms(task, self.transforms)
        grids = [g for p in viewed.train for g in (p.input, p.output)]
        grids += [g for t in viewed.test for g in (t.input, t.output) if g is not None]
        for grid in grids:
            if not (1 <= len(grid) <= MAX_SIDE and 1 <= len(grid[0]) <= MAX_SIDE):
                raise TransformError(
                    f"task {task.label}: the view {self.label} gives a "
                    f"{len(grid)}x{len(grid[0])} grid (at most {MAX_SIDE}x{MAX_SIDE})"
                )
        return viewed

    @cached_property
    def _inverse(self) -> list[Transform]:
        return invert(self.transforms)

    def map_back(self, grid: Grid) -> Grid:
        """A grid answered in this view, in the task's own frame."""
        return apply_to_grid(grid, self._inverse)

    def wrap_program(self, code: str) -> str:
        """`code` (a program written for this view) wrapped so that, run on an input of the
        task's own frame, it is given the input in the view's frame and its output is mapped
        back: `inverse(program(view(input)))`.

        The wrapper is source code for the sandbox, never run here. Its helpers live inside one
        function (`_arcbench_view`), so they cannot clash with the program's own names; only
        `transform` is rebound, to the wrapped function. An output that is not a grid of
        colours is passed through as it is, so the sandbox reports it as it would the program's.
        """
        forward = _steps(self.transforms)
        backward = _steps(tuple(invert(self.transforms)))
        helpers = [function_source(_plain_grid)]
        helpers += [function_source(fn) for fn in dict.fromkeys(f for f, _ in forward + backward)]
        body = "\n\n".join(_indent(source, 4) for source in helpers)
        return _WRAPPER.format(
            code=code.rstrip("\n"),
            label=self.label,
            helpers=body,
            forward=_calls(forward),
            backward=_calls(backward),
        )


_WRAPPER = '''{code}


def _arcbench_view(entry):
    """arcbench: the program above asked on the view {label}, answering in the task's frame."""

{helpers}

    def forward(grid):
{forward}
        return grid

    def backward(grid):
{backward}
        return grid

    def transform(grid):
        if not callable(entry):
            raise NameError("the program defines no function transform(grid) or solve_task(grid)")
        output = entry(forward(grid))
        rows = _plain_grid(output)
        return output if rows is None else backward(rows)

    return transform


transform = _arcbench_view(globals().get("transform", globals().get("solve_task")))
'''


def _plain_grid(output: Any) -> list[list[int]] | None:
    """The output as a list of rows of colours 0-9 (numpy arrays and tuples read as lists), or
    None when it is not a rectangular grid of colours. Runs in the sandbox: builtins only."""
    if hasattr(output, "tolist"):
        output = output.tolist()
    if not isinstance(output, list | tuple) or not output:
        return None
    rows: list[list[int]] = []
    for row in output:
        if hasattr(row, "tolist"):
            row = row.tolist()
        if not isinstance(row, list | tuple) or len(row) != len(rows[0] if rows else row):
            return None
        cells = [cell.item() if hasattr(cell, "item") else cell for cell in row]
        if not cells or any(type(cell) is not int or not 0 <= cell <= 9 for cell in cells):
            return None
        rows.append(cells)
    return rows


def _steps(chain: Chain) -> list[tuple[Any, str]]:
    """Each grid-level transform of a chain as (function, call): `_rot90(grid)`,
    `recolor(grid, (0, 2, 1, …))`. Pair reorders leave grids alone."""
    steps: list[tuple[Any, str]] = []
    for transform in chain:
        if isinstance(transform, Symmetry):
            function = SYMMETRIES[transform.name]
            steps.append((function, f"{function.__name__}(grid)"))
        elif isinstance(transform, ColorPermutation):
            steps.append((recolor, f"recolor(grid, {transform.mapping!r})"))
    return steps


def _calls(steps: list[tuple[Any, str]]) -> str:
    return "\n".join(f"        grid = {call}" for _, call in steps) or "        pass"


def _indent(source: str, spaces: int) -> str:
    pad = " " * spaces
    return "\n".join(pad + line if line else line for line in source.splitlines())


# --- SPEC and --views ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Augmentation:
    """The views of a run: SPEC as given and the views it chose, the identity first."""

    spec: str
    views: tuple[View, ...]

    @property
    def labels(self) -> list[str]:
        return [view.label for view in self.views]


def parse_augment(spec: str, views: int | None = None) -> Augmentation:
    """The views `--augment SPEC --views K` ask (K None: every view SPEC gives).

    Raises `TransformError`, naming the option and what to write instead, for an unknown
    transform id, a malformed part, `--views` below 1 or above what SPEC gives.
    """
    text = spec.strip()
    if not text:
        raise TransformError("--augment: give d8, colors:N, d8+colors:N or transform ids")
    if not text.isprintable():
        raise TransformError(
            f"--augment {text!r}: a line break or control character; give d8, colors:N, "
            "d8+colors:N or transform ids on one line"
        )
    chains: list[Chain] = [()]
    for item in _items(text):
        if not item.strip():
            raise TransformError(f"--augment {spec}: an empty item between commas")
        product: list[Chain] = [()]
        for part in item.split("+"):
            choices = _choices(part, spec)
            if len(product) * len(choices) > MAX_VIEWS:
                raise TransformError(
                    f"--augment {spec}: {item.strip()} gives more than {MAX_VIEWS:,} views; "
                    "give a smaller SPEC (d8+colors:N gives 8 x (N+1))"
                )
            product = _distinct((chain + c for chain in product for c in choices), spec)
        chains = _distinct([*chains, *product], spec)
        if len(chains) > MAX_VIEWS:
            raise TransformError(
                f"--augment {spec}: more than {MAX_VIEWS:,} views; give a smaller SPEC"
            )
    every = tuple(View(tuple(t for t in chain if t != Symmetry(IDENTITY))) for chain in chains)
    return Augmentation(text, _choose(every, views, text))


def _distinct(chains: Iterable[Chain], spec: str) -> list[Chain]:
    """The chains that show a task differently, each the first written of those that show it
    alike: `rot90+rot270` is the identity, `d8+d8` is `d8`. Two views that show the same task
    would ask the same prompt twice and give its answer two votes."""
    seen: dict[Hashable, Chain] = {}
    for chain in chains:
        seen.setdefault(_effect(chain, spec), chain)
    return list(seen.values())


_PROBE = [[0, 1, 2], [3, 4, 5]]
"""A grid every symmetry of the square moves to a different grid (distinct cells, not square)."""


def _effect(chain: Chain, spec: str) -> Hashable:
    """What a chain does to any task, whatever the order and repetition of its transforms:
    symmetries, recolourings and train reorders act on different things, so they commute, and
    each kind composes to one transform (seen by its action on a probe)."""
    symmetries = [t for t in chain if isinstance(t, Symmetry)]
    colors = [t for t in chain if isinstance(t, ColorPermutation)]
    order: list[int] | None = None
    for transform in chain:
        if isinstance(transform, ReorderTrain):
            if order is None:
                order = list(range(len(transform.order)))
            if len(transform.order) != len(order):
                raise TransformError(
                    f"--augment {spec}: {'+'.join(t.id for t in chain)} reorders "
                    f"{len(order)} and {len(transform.order)} train pairs, which no task has"
                )
            order = [order[i] for i in transform.order]
    shape = apply_to_grid(_PROBE, symmetries)
    palette = apply_to_grid([list(range(10))], colors)
    reorder = None if order is None or order == sorted(order) else tuple(order)
    return (str(shape), tuple(palette[0]), reorder)


def _items(text: str) -> list[str]:
    """SPEC's comma-separated items; a comma before a digit is inside an item (`reorder:2,0,1`,
    `reorder:1,0+rot90`), since no item starts with a digit."""
    return re.split(r",(?!\s*\d)", text)


def view_of(ids: Sequence[str]) -> View:
    """The view a record names by its transform ids."""
    return View(tuple(t for t in map(parse_transform, ids) if t != Symmetry(IDENTITY)))


def _choices(part: str, spec: str) -> list[Chain]:
    """What one part of an item contributes: the chains to choose one from."""
    name = part.strip()
    if name.lower() == "d8":
        return [(Symmetry(symmetry),) for symmetry in SYMMETRIES]
    kind, sep, count = name.partition(":")
    if sep and kind.lower() == "colors":
        if not count.isdigit() or not 1 <= int(count) <= MAX_COLOR_VIEWS:
            raise TransformError(
                f"--augment {spec}: {name}: N of colors:N is a whole number from 1 to "
                f"{MAX_COLOR_VIEWS}"
            )
        return [(), *((color,) for color in _color_permutations(int(count)))]
    try:
        transform = parse_transform(name)
    except TransformError as exc:
        raise TransformError(f"--augment {spec}: {exc}; or d8, colors:N") from None
    if isinstance(transform, SwapPair):
        raise TransformError(
            f"--augment {spec}: {name} moves a test pair into the train pairs, so its answer "
            "cannot be mapped back; use symmetries, colour permutations or reorder:…"
        )
    if isinstance(transform, ReorderTrain) and sorted(transform.order) != list(
        range(len(transform.order))
    ):
        raise TransformError(
            f"--augment {spec}: {name} is not an order of train pairs (each of 0 to "
            f"{len(transform.order) - 1} once)"
        )
    if isinstance(transform, ReorderTrain | ColorPermutation | Symmetry):
        return [(transform,)]
    raise AssertionError(transform)  # pragma: no cover: parse_transform gives no other kind


def _color_permutations(count: int) -> list[ColorPermutation]:
    """The first `count` distinct colour permutations keeping 0 of the seeded sequence."""
    rng = random.Random(f"{AUGMENT_SEED}/colors")
    found: dict[ColorPermutation, None] = {}
    while len(found) < count:
        permutation = random_color_map(rng, "keep0")
        if permutation.mapping != tuple(range(10)):
            found.setdefault(permutation, None)
    return list(found)


def _choose(every: tuple[View, ...], views: int | None, spec: str) -> tuple[View, ...]:
    """The identity and `views - 1` others drawn with a seed, in SPEC order."""
    if views is None:
        return every
    if views < 1:
        raise TransformError(f"--views {views}: give at least 1 (1 is the identity view alone)")
    if views > len(every):
        raise TransformError(
            f"--views {views}: --augment {spec} gives {len(every)} views (the identity "
            f"included); give --views {len(every)} or fewer, or a larger SPEC"
        )
    rng = random.Random(f"{AUGMENT_SEED}/{spec}/{views}")
    chosen = sorted(rng.sample(range(1, len(every)), views - 1))
    return (every[0], *(every[i] for i in chosen))


def check_tasks(augmentation: Augmentation, tasks: Iterable[Task]) -> None:
    """Refuse, before a run asks anything, a view that cannot show one of its tasks: a reorder
    of another number of train pairs than the task has (every other transform shows any task)."""
    reorders = {
        len(t.order): view
        for view in augmentation.views
        for t in view.transforms
        if isinstance(t, ReorderTrain)
    }
    for task in tasks if reorders else ():
        for count, view in reorders.items():
            if count != len(task.train):
                raise TransformError(
                    f"--augment {augmentation.spec}: the view {view.label} reorders {count} "
                    f"train pairs, and task {task.label} has {len(task.train)}; select tasks "
                    f"with {count} train pairs (--task-ids) or drop the reorder"
                )
