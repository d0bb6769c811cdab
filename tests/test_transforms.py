"""Transformations: inverses, group laws and agreement with numpy, property-tested."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from arcbench.augment import derive_variant
from arcbench.errors import TransformError
from arcbench.tasks import Pair, Task, TestPair
from arcbench.transforms import (
    D8,
    SYMMETRIES,
    ColorPermutation,
    ReorderTrain,
    SwapPair,
    Symmetry,
    Transform,
    apply_to_grid,
    apply_transforms,
    invert,
    invert_grid,
    parse_chain,
    parse_color_map,
    parse_transform,
)

cells = st.integers(min_value=0, max_value=9)


@st.composite
def grids(draw: st.DrawFn) -> list[list[int]]:
    height = draw(st.integers(1, 8))
    width = draw(st.integers(1, 8))
    return [draw(st.lists(cells, min_size=width, max_size=width)) for _ in range(height)]


permutations = st.permutations(list(range(10))).map(lambda p: ColorPermutation(tuple(p)))
symmetries = st.sampled_from(sorted(SYMMETRIES)).map(Symmetry)

NUMPY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": lambda a: a,
    "rot90": lambda a: np.rot90(a, k=-1),
    "rot180": lambda a: np.rot90(a, k=2),
    "rot270": lambda a: np.rot90(a, k=1),
    "flip_h": np.fliplr,
    "flip_v": np.flipud,
    "transpose": np.transpose,
    "antitranspose": lambda a: np.rot90(np.transpose(a), k=2),
}


@st.composite
def tasks(draw: st.DrawFn) -> Task:
    n_train = draw(st.integers(1, 4))
    n_test = draw(st.integers(1, 3))
    train = [Pair(input=draw(grids()), output=draw(grids())) for _ in range(n_train)]
    test = [TestPair(input=draw(grids()), output=draw(grids())) for _ in range(n_test)]
    return Task(id="t", train=train, test=test)


@given(grids(), symmetries)
def test_symmetries_match_numpy(grid: list[list[int]], symmetry: Symmetry) -> None:
    expected = NUMPY[symmetry.name](np.array(grid)).tolist()
    assert symmetry.apply_grid(grid) == expected


@given(grids(), st.lists(symmetries, min_size=1, max_size=4))
def test_compositions_match_numpy(grid: list[list[int]], chain: list[Symmetry]) -> None:
    expected = np.array(grid)
    for symmetry in chain:
        expected = NUMPY[symmetry.name](expected)
    assert apply_to_grid(grid, chain) == expected.tolist()


@given(grids(), symmetries)
def test_symmetry_then_inverse_is_identity(grid: list[list[int]], symmetry: Symmetry) -> None:
    assert symmetry.inverse().apply_grid(symmetry.apply_grid(grid)) == grid


@given(grids())
def test_rot90_four_times_is_identity(grid: list[list[int]]) -> None:
    assert apply_to_grid(grid, [Symmetry("rot90")] * 4) == grid


@given(grids(), permutations)
def test_colour_permutation_inverse(grid: list[list[int]], perm: ColorPermutation) -> None:
    recoloured = perm.apply_grid(grid)
    assert perm.inverse().apply_grid(recoloured) == grid
    assert all(
        perm.mapping[a] == b
        for ra, rb in zip(grid, recoloured, strict=True)
        for a, b in zip(ra, rb, strict=True)
    )


@given(tasks(), st.data())
def test_task_chain_then_inverse_chain_is_identity(task: Task, data: st.DataObject) -> None:
    order = data.draw(st.permutations(list(range(len(task.train)))))
    swap = SwapPair(
        data.draw(st.integers(0, len(task.train) - 1)),
        data.draw(st.integers(0, len(task.test) - 1)),
    )
    chain: list[Transform] = [
        data.draw(symmetries),
        data.draw(permutations),
        ReorderTrain(tuple(order)),
        swap,
    ]
    changed = apply_transforms(task, chain)
    assert apply_transforms(changed, invert(chain)) == task


@given(tasks(), symmetries, permutations)
def test_transform_applies_to_every_grid_including_test_outputs(
    task: Task, symmetry: Symmetry, perm: ColorPermutation
) -> None:
    changed = apply_transforms(task, [symmetry, perm])
    expected = [perm.apply_grid(symmetry.apply_grid(g)) for g in task.grids()]
    assert changed.grids() == expected


@given(grids(), symmetries, permutations)
def test_invert_grid_maps_a_prediction_back(
    grid: list[list[int]], symmetry: Symmetry, perm: ColorPermutation
) -> None:
    ids = [symmetry.id, perm.id]
    assert invert_grid(apply_to_grid(grid, [symmetry, perm]), ids) == grid


def test_ids_round_trip_through_parsing() -> None:
    transforms: list[Transform] = [
        *(Symmetry(n) for n in SYMMETRIES),
        ColorPermutation((0, 2, 1, 3, 4, 5, 6, 7, 8, 9)),
        ReorderTrain((1, 0)),
        SwapPair(1, 0),
    ]
    for transform in transforms:
        assert parse_transform(transform.id) == transform
    assert [t.id for t in parse_chain("rot90+flip_h")] == ["rot90", "flip_h"]
    assert len(D8) == 7
    assert "identity" not in D8


def test_rotation_direction_is_clockwise() -> None:
    assert Symmetry("rot90").apply_grid([[1, 2], [3, 4]]) == [[3, 1], [4, 2]]
    assert Symmetry("rot270").apply_grid([[1, 2], [3, 4]]) == [[2, 4], [1, 3]]
    assert Symmetry("flip_h").apply_grid([[1, 2], [3, 4]]) == [[2, 1], [4, 3]]
    assert Symmetry("flip_v").apply_grid([[1, 2], [3, 4]]) == [[3, 4], [1, 2]]


def test_explicit_colour_map() -> None:
    perm = parse_color_map("1=2,2=1")
    assert perm.mapping == (0, 2, 1, 3, 4, 5, 6, 7, 8, 9)
    assert parse_color_map("1=2,2=3,3=1").apply_grid([[1, 2, 3, 0]]) == [[2, 3, 1, 0]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1=2", "not a bijection"),
        ("1=2,1=3,2=1", "colour 1 is mapped twice"),
        ("1=12,12=1", "colours are 0-9"),
        ("1>2", "expected pairs like 1=2,2=1"),
    ],
)
def test_bad_colour_maps(text: str, message: str) -> None:
    with pytest.raises(TransformError, match=message):
        parse_color_map(text)


def test_bad_transform_ids_and_inapplicable_transforms() -> None:
    with pytest.raises(TransformError, match="unknown transform 'spin'"):
        parse_transform("spin")
    task = Task(
        id="t",
        train=[Pair(input=[[1]], output=[[2]])],
        test=[TestPair(input=[[3]])],
    )
    with pytest.raises(TransformError, match="needs the output of test pair 0"):
        SwapPair(0, 0).apply_task(task)
    with pytest.raises(TransformError, match="is not an order of its 1 train pairs"):
        ReorderTrain((1, 0)).apply_task(task)


def test_a_derived_variant_records_its_parent_chain_and_net_colour_map() -> None:
    parent = Task(
        id="t",
        version=3,
        train=[Pair(input=[[1, 2]], output=[[2, 1]])],
        test=[TestPair(input=[[3, 0]], output=[[0, 3]])],
    )
    chain = [parse_transform(t) for t in ("color:0213456789", "rot90", "color:0312456789")]
    variant = derive_variant(parent, chain, "ada", "2026-01-01T00:00:00+00:00")
    assert variant.content() == apply_transforms(parent, chain).content()
    assert variant.version is None
    made = variant.provenance
    assert made is not None
    assert made.parent_version == 3
    assert made.transforms == ["color:0213456789", "rot90", "color:0312456789"]
    assert made.color_map == [0, 1, 3, 2, 4, 5, 6, 7, 8, 9]  # 1->2->1, 2->1->3, 3->3->2
    assert (made.created_by, made.signed_by) == ("ada", ["ada"])
    assert apply_to_grid([[1, 2, 3]], [ColorPermutation(tuple(made.color_map))]) == (
        apply_to_grid([[1, 2, 3]], chain[::2])
    )


def test_a_variant_equal_to_its_parent_or_a_sibling_is_refused() -> None:
    parent = Task(
        id="t",
        train=[Pair(input=[[1, 1]], output=[[1, 1]])],
        test=[TestPair(input=[[2, 2]], output=[[2, 2]])],
    )
    with pytest.raises(TransformError, match="gives the same grids as t; nothing new"):
        derive_variant(parent, [parse_transform("flip_h")], "ada", "now")
    sibling = apply_transforms(parent, [parse_transform("rot90")]).model_copy(update={"version": 1})
    with pytest.raises(TransformError, match="same grids as t@1"):
        derive_variant(parent, [parse_transform("transpose")], "ada", "now", existing=[sibling])
