"""Augmented copies of verified programs: for a program P that solves a task and a transform T
of its grids, the program T∘P∘T⁻¹ solves the transformed task.

`conjugate` writes that program: P's own code, then a `transform` that maps the grid back through
T⁻¹, applies P, and maps the answer forward through T, quoting the transforms' expressions from
`arcbench.transforms` (so it runs exactly what the library runs). Whether it really solves the
transformed task is not assumed: a program may depend on orientation or colour in ways the
algebra does not see (a rule that reads `grid[0]` as "the top row", a colour it tests for by
number), so every copy is checked in the sandbox on every pair of the transformed task before it
is written (see `arcbench.export.pipeline`).

Only programs are augmented. A trace's text names colours and directions ("the red cells move
left"), which a transform would turn false, and so would the reasoning of a program: a copy
carries the program alone.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from arcbench.augment import parse_chains
from arcbench.errors import TransformError
from arcbench.programs import entry_point
from arcbench.tasks import Task
from arcbench.transforms import (
    ColorPermutation,
    GridTransform,
    Symmetry,
    Transform,
    random_color_map,
)

Chain = tuple[GridTransform, ...]

_COLORS = "colors:"


@dataclass(frozen=True)
class AugmentSpec:
    """The transforms every verified program is augmented with: fixed `chains`, and `colors`
    random colour permutations per task (colour 0, the background, kept), drawn from a generator
    seeded by `(seed, task)` so that an export is reproducible."""

    chains: tuple[Chain, ...] = ()
    colors: int = 0
    seed: int = 0

    def chains_for(self, task: Task) -> list[Chain]:
        """The chains applied to `task`: the fixed ones, then its colour permutations."""
        drawn: list[Chain] = [
            (random_color_map(random.Random(f"{self.seed}/{task.label}/{k}"), "keep0"),)
            for k in range(self.colors)
        ]
        return [*self.chains, *drawn]

    @property
    def per_program(self) -> int:
        """Copies tried per program."""
        return len(self.chains) + self.colors


def parse_augment(text: str, *, seed: int = 0) -> AugmentSpec:
    """`--augment`: comma-separated `d8` (the seven symmetries other than the identity),
    `colors:N` (N random colour permutations per task), and transform ids of
    `arcbench.transforms` (`rot90`, `color:0123456798`, chains such as `flip_h+color:…`).

    Raises `TransformError` for anything else, and for train reorders and swaps, which move
    pairs rather than change grids.
    """
    chains: list[Chain] = []
    colors = 0
    for item in (part.strip() for part in text.split(",")):
        if "+" in item and any(p in ("d8", "") or p.startswith(_COLORS) for p in item.split("+")):
            raise TransformError(
                f"--augment {item}: export copies each program once per listed transform, so "
                "d8 and colors:N are listed with commas (d8,colors:2), never composed with +"
            )
        if item.startswith(_COLORS):
            count = item.removeprefix(_COLORS)
            if not count.isdigit() or int(count) < 1:
                raise TransformError(
                    f"--augment {item}: give the number of colour permutations, e.g. colors:3"
                )
            colors += int(count)
        elif item:
            chains += [_grid_chain(item, chain) for chain in parse_chains(item)]
    if not chains and not colors:
        raise TransformError(
            f"--augment {text!r}: give d8, colors:N or transform ids such as rot90,flip_h"
        )
    return AugmentSpec(tuple(dict.fromkeys(chains)), colors, seed)


def _grid_chain(item: str, transforms: Sequence[Transform]) -> Chain:
    chain: list[GridTransform] = []
    for transform in transforms:
        if not isinstance(transform, Symmetry | ColorPermutation):
            raise TransformError(
                f"--augment {item}: {transform.id} moves pairs and changes no grid; use "
                "symmetries (d8, rot90, …) and colour permutations (colors:N, color:…)"
            )
        chain.append(transform)
    return tuple(chain)


def conjugate(code: str, chain: Sequence[GridTransform]) -> str:
    """The program T∘P∘T⁻¹ for the program `code` (P) and the transform chain T."""
    entry = entry_point(code) or "transform"
    ids = "+".join(transform.id for transform in chain)
    inverse = [transform.inverse() for transform in reversed(chain)]
    back = "\n".join(f"    grid = {t.expression}  # {t.id}" for t in inverse)
    forth = "\n".join(f"    grid = {t.expression}  # {t.id}" for t in chain)
    return (
        f"{code.rstrip()}\n\n\n"
        f"# This task is the one the rule above solves, seen through {ids}:\n"
        "# map each grid back, apply that rule, and map its answer forth.\n"
        f"_original_rule = {entry}\n\n\n"
        "def _to_original(grid):\n"
        f"{back}\n"
        "    return grid\n\n\n"
        "def _from_original(grid):\n"
        "    if hasattr(grid, 'tolist'):  # a numpy array\n"
        "        grid = grid.tolist()\n"
        f"{forth}\n"
        "    return grid\n\n\n"
        "def transform(grid):\n"
        "    return _from_original(_original_rule(_to_original(grid)))\n"
    )
