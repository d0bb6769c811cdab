"""`--augment`: what it parses to, and the colour maps it draws (pure, no sandbox)."""

from __future__ import annotations

import pytest

from arcbench.errors import TransformError
from arcbench.export import parse_augment
from arcbench.tasks import Task
from arcbench.transforms import D8, SYMMETRIES, ColorPermutation, Symmetry, parse_transform


def _task(task_id: str) -> Task:
    return Task.model_validate(
        {"id": task_id, "train": [{"input": [[1]], "output": [[2]]}], "test": [{"input": [[3]]}]}
    )


def test_d8_ids_and_chains_parse_to_grid_transforms() -> None:
    spec = parse_augment("d8, flip_h+color:0213456789, rot90")
    assert [tuple(t.id for t in chain) for chain in spec.chains] == [
        *((name,) for name in D8),
        ("flip_h", "color:0213456789"),
    ]  # rot90 is already in d8: each chain once
    assert spec.colors == 0


def test_colour_maps_keep_the_background_and_are_drawn_per_task_and_seed() -> None:
    spec = parse_augment("colors:3", seed=7)
    first = spec.chains_for(_task("a"))
    assert len(first) == 3
    for (colour,) in first:
        assert isinstance(colour, ColorPermutation)
        assert colour.mapping[0] == 0
    assert first == spec.chains_for(_task("a"))  # reproducible
    assert first != spec.chains_for(_task("b"))
    assert first != parse_augment("colors:3", seed=8).chains_for(_task("a"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("reorder:0", "moves pairs"),
        ("reorder:1,0", "moves pairs"),
        ("colors:0", "colors:3"),
        ("spin", "unknown transform"),
        (" , ", "give d8"),
        ("d8+colors:2", r"listed with commas \(d8,colors:2\)"),  # a run's SPEC, not export's
        ("colors:2+rot90", "never composed with"),
    ],
)
def test_what_is_not_a_grid_transform_is_refused(text: str, message: str) -> None:
    with pytest.raises(TransformError, match=message):
        parse_augment(text)


def test_each_transform_expression_is_the_transform() -> None:
    grid = [[1, 2, 3], [4, 5, 6]]
    for name in SYMMETRIES:
        assert eval(f"lambda grid: {Symmetry(name).expression}")(grid) == Symmetry(name).apply_grid(
            grid
        )
    colour = parse_transform("color:0987654321")
    assert isinstance(colour, ColorPermutation)
    assert eval(f"lambda grid: {colour.expression}")(grid) == colour.apply_grid(grid)
