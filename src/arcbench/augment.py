"""Synthetic task variants: each requested transform chain, with a colour permutation on top.

`augment_tasks` is deterministic for a given seed: the random colour permutation of variant `k`
of a chain on a task is drawn from a generator seeded by `(seed, task, chain, k)`, so adding a
task or a chain leaves every other variant unchanged. Variants whose grids equal the original's
or an earlier variant's are dropped and counted, never written twice.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from arcbench.errors import TransformError
from arcbench.tasks import Provenance, Task, content_key
from arcbench.transforms import (
    D8,
    ColorPermutation,
    Transform,
    apply_transforms,
    parse_chain,
    random_color_map,
)

COLOR_MODES = ("none", "keep0", "all")
MAX_PER_TASK = 1_000
"""Variants per transform and task: beyond this a run of `augment` would not end in useful time
(and colour permutations give at most 9! distinct ones anyway)."""


@dataclass(frozen=True)
class AugmentPlan:
    """What to generate for every task: chains x `per_task`, coloured by `colors` or `color_map`."""

    chains: tuple[tuple[Transform, ...], ...]
    colors: str = "none"
    color_map: ColorPermutation | None = None
    per_task: int = 1
    seed: int = 0
    author: str = "arcbench"

    def __post_init__(self) -> None:
        if self.colors not in COLOR_MODES:
            raise TransformError(f"--colors {self.colors}: use one of {', '.join(COLOR_MODES)}")
        if self.color_map is not None and self.colors != "none":
            raise TransformError("give either --colors keep0/all or --color-map, not both")
        if not 1 <= self.per_task <= MAX_PER_TASK:
            raise TransformError(f"--per-task {self.per_task}: give 1 to {MAX_PER_TASK}")
        if not self.chains:
            raise TransformError("no transforms given: use d8 or a list such as rot90,flip_h")


@dataclass(frozen=True)
class AugmentResult:
    variants: list[Task]
    duplicates: int


def parse_chains(text: str) -> tuple[tuple[Transform, ...], ...]:
    """`d8` (the seven non-identity symmetries) or `ID[,ID…]` where an ID may compose `a+b`."""
    chains: list[tuple[Transform, ...]] = []
    for item in text.split(","):
        item = item.strip()
        if item.lower() == "d8":
            chains += [tuple(parse_chain(name)) for name in D8]
        elif item:
            chains.append(tuple(parse_chain(item)))
    return tuple(chains)


def augment_tasks(
    tasks: Sequence[Task], plan: AugmentPlan, now: datetime | None = None
) -> AugmentResult:
    """Every variant the plan makes of every task, numbered after the versions already present."""
    created_at = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    next_version: dict[str, int] = {}
    for task in tasks:
        next_version[task.id] = max(next_version.get(task.id, 1), (task.version or 0) + 1)
    seen = {content_key(task) for task in tasks}
    variants: list[Task] = []
    duplicates = 0
    for task in tasks:
        for chain in plan.chains:
            chain_id = "+".join(t.id for t in chain)
            for k in range(plan.per_task):
                transforms = list(chain)
                color = _color_for(plan, f"{plan.seed}/{task.label}/{chain_id}/{k}")
                if color is not None:
                    transforms.append(color)
                variant = apply_transforms(task, transforms)
                key = content_key(variant)
                if key in seen:
                    duplicates += 1
                    continue
                seen.add(key)
                version = next_version[task.id]
                next_version[task.id] = version + 1
                variants.append(
                    with_provenance(variant, task, transforms, plan.author, created_at, version)
                )
    return AugmentResult(variants, duplicates)


def derive_variant(
    parent: Task,
    transforms: Sequence[Transform],
    author: str,
    created_at: str,
    *,
    existing: Sequence[Task] = (),
) -> Task:
    """`parent` through `transforms`, recording how it was made (its version is left unset:
    whoever stores it numbers it). What the web app's "Save as variation" stores.

    A chain that gives back the parent, or one of the `existing` versions, makes nothing new
    and raises `TransformError`.
    """
    variant = apply_transforms(parent, transforms)
    key = content_key(variant)
    for same in (parent, *existing):
        if content_key(same) == key:
            raise TransformError(
                f"task {parent.label}: {'+'.join(t.id for t in transforms) or 'no transform'} "
                f"gives the same grids as {same.label}; nothing new to save"
            )
    return with_provenance(variant, parent, transforms, author, created_at, None)


def with_provenance(
    variant: Task,
    parent: Task,
    transforms: Sequence[Transform],
    author: str,
    created_at: str,
    version: int | None,
) -> Task:
    """`variant` as version `version` of `parent`, made by `author` through `transforms`.

    `color_map` is the net effect of the chain's colour permutations (symmetries and pair
    moves leave colours alone), or None when the chain has none.
    """
    mappings = [t.mapping for t in transforms if isinstance(t, ColorPermutation)]
    color_map: list[int] | None = None
    if mappings:
        color_map = list(range(10))
        for mapping in mappings:
            color_map = [mapping[c] for c in color_map]
    return variant.model_copy(
        update={
            "version": version,
            "provenance": Provenance(
                signed_by=[author],
                parent_version=parent.version,
                transforms=[t.id for t in transforms],
                color_map=color_map,
                created_by=author,
                created_at=created_at,
            ),
        }
    )


def _color_for(plan: AugmentPlan, seed_key: str) -> ColorPermutation | None:
    if plan.color_map is not None:
        return plan.color_map
    if plan.colors == "none":
        return None
    return random_color_map(random.Random(seed_key), plan.colors)
