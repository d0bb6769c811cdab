"""The baseline's candidate programs: each rule family is proposed when it fits, and its program,
run as a separate interpreter would run it, gives exactly the right grids.

Programs are never executed in the test process: every check goes through `programrun`, which
runs hundreds of them per subprocess, so the whole module costs a few subprocesses.
"""

from __future__ import annotations

import ast
from typing import Any

import pytest

from arcbench.baseline import Candidate, generate_candidates
from arcbench.datasets import load_dataset
from arcbench.tasks import Pair, Task, TestPair
from arcbench.transforms import SYMMETRIES
from programrun import Batch, run_batches

Grid = list[list[int]]


def make_task(task_id: str, train: list[tuple[Grid, Grid]], test: list[tuple[Grid, Grid]]) -> Task:
    return Task(
        id=task_id,
        train=[Pair(input=i, output=o) for i, o in train],
        test=[TestPair(input=i, output=o) for i, o in test],
    )


def symmetry_task(name: str) -> Task:
    """Two train pairs and a test pair, all non-square, so that every symmetry differs."""
    grids = [[[1, 2, 3], [4, 5, 6]], [[7, 8], [9, 0], [1, 1]], [[3, 3, 1, 2], [0, 4, 4, 4]]]
    fn = SYMMETRIES[name]
    return make_task(name, [(g, fn(g)) for g in grids[:2]], [(grids[2], fn(grids[2]))])


def scaled(grid: Grid, rows: int, cols: int) -> Grid:
    return [[c for c in row for _ in range(cols)] for row in grid for _ in range(rows)]


def tiled(grid: Grid, rows: int, cols: int) -> Grid:
    return [row * cols for _ in range(rows) for row in grid]


def mirrored_beside(grid: Grid) -> Grid:
    return [row + row[::-1] for row in grid]


A: Grid = [[1, 2, 0], [0, 3, 0]]
B: Grid = [[4, 0], [5, 5], [0, 6]]
C: Grid = [[7, 8, 9]]

HAND_MADE: list[tuple[Task, str]] = [
    *((symmetry_task(name), name) for name in SYMMETRIES if name != "identity"),
    (
        make_task(
            "color_map",
            [([[1, 2], [3, 0]], [[2, 1], [3, 0]]), ([[1, 1], [2, 4]], [[2, 2], [1, 4]])],
            [([[5, 1], [2, 2]], [[5, 2], [1, 1]])],  # 5 was never seen: it stays 5
        ),
        "color_map:1>2,2>1",
    ),
    (
        make_task(
            "scale_up",
            [(A, scaled(A, 2, 3)), (B, scaled(B, 2, 3))],
            [(C, scaled(C, 2, 3))],
        ),
        "scale_up_2x3",
    ),
    (
        make_task(
            "scale_down",
            [(scaled(A, 2, 2), A), (scaled(B, 2, 2), B)],
            [(scaled(C, 2, 2), C)],
        ),
        "scale_down_2x2",
    ),
    (
        make_task("tile", [(A, tiled(A, 2, 3)), (B, tiled(B, 2, 3))], [(C, tiled(C, 2, 3))]),
        "tile_2x3",
    ),
    (
        make_task(
            "untile",  # the repeat differs per pair: 2 x 1 copies, 1 x 3, 3 x 3
            [(tiled(A, 2, 1), A), (tiled(B, 1, 3), B)],
            [(tiled([[1, 2], [2, 1]], 3, 3), [[1, 2], [2, 1]])],
        ),
        "untile",
    ),
    (
        make_task(
            "mirror_beside",
            [(A, mirrored_beside(A)), (B, mirrored_beside(B))],
            [(C, mirrored_beside(C))],
        ),
        "mirror:identity,flip_h",
    ),
    (
        make_task(
            "mirror_above",
            [(A, A[::-1] + A), (B, B[::-1] + B)],
            [(C, C[::-1] + C)],
        ),
        "mirror:flip_v/identity",
    ),
    (
        make_task(
            "mirror_2x2",
            [
                (A, mirrored_beside(A) + mirrored_beside(A)[::-1]),
                (B, mirrored_beside(B) + mirrored_beside(B)[::-1]),
            ],
            [(C, mirrored_beside(C) + mirrored_beside(C)[::-1])],
        ),
        "mirror:identity,flip_h/flip_v,rot180",
    ),
    (
        make_task(
            "crop_zero",
            [
                ([[0, 0, 0, 0], [0, 1, 2, 0], [0, 0, 3, 0]], [[1, 2], [0, 3]]),
                ([[0, 0, 0], [0, 0, 0], [4, 0, 0]], [[4]]),
            ],
            [([[0, 5, 0], [0, 0, 6], [0, 0, 0]], [[5, 0], [0, 6]])],
        ),
        "crop_bbox:0",
    ),
    (
        make_task(
            "crop_mode",  # background 7; the 0 cells belong to the object
            [
                ([[7, 7, 7, 7], [7, 1, 0, 7], [7, 0, 3, 7]], [[1, 0], [0, 3]]),
                ([[7, 7, 7], [7, 7, 7], [0, 7, 7]], [[0]]),
            ],
            [([[7, 5, 7], [7, 0, 6], [7, 7, 7]], [[5, 7], [0, 6]])],
        ),
        "crop_bbox:mode",
    ),
    (
        make_task(
            "crop_corner",
            [
                ([[1, 2, 3], [4, 5, 6], [7, 8, 9]], [[5, 6], [8, 9]]),
                ([[1, 2, 3, 4], [5, 6, 7, 8]], [[3, 4], [7, 8]]),
            ],
            [([[0, 0, 0], [0, 1, 2], [0, 3, 4]], [[1, 2], [3, 4]])],
        ),
        "crop_corner:bottom_right_2x2",
    ),
    (
        make_task(
            "flip_then_recolour",
            [
                ([[1, 2, 0], [0, 3, 0]], [[0, 5, 1], [0, 3, 0]]),
                ([[2, 2], [1, 0]], [[5, 5], [0, 1]]),
            ],
            [([[1, 3, 2]], [[5, 3, 1]])],
        ),
        "flip_h+color_map:2>5",
    ),
    (
        make_task(
            "crop_then_scale",
            [
                ([[0, 0, 0], [0, 1, 2], [0, 0, 0]], scaled([[1, 2]], 2, 2)),
                ([[0, 3], [0, 4]], scaled([[3], [4]], 2, 2)),
            ],
            [([[5, 0], [0, 0]], [[5, 5], [5, 5]])],
        ),
        "crop_bbox:0+scale_up_2x2",
    ),
    (
        make_task(
            "rotate_then_tile",
            [(A, tiled(SYMMETRIES["rot90"](A), 1, 2)), (B, tiled(SYMMETRIES["rot90"](B), 1, 2))],
            [(C, tiled(SYMMETRIES["rot90"](C), 1, 2))],
        ),
        "rot90+tile_1x2",
    ),
]

REAL_TASKS = {  # ARC-AGI-1 training tasks checked to be whole-grid rules, and a rule solving each
    "3c9b0459": "rot180",
    "6150a2bd": "rot180",
    "67a3c6ac": "flip_h",
    "68b16354": "flip_v",
    "74dd1130": "transpose",
    "9dfd6313": "transpose",
    "ed36ccf7": "rot270",
    "a416b8f3": "tile_1x2",
    "c8f0f002": "color_map:7>5",
    "b1948b0a": "color_map:6>2",
    "0d3d703e": "color_map:1>5,2>6,3>4,4>3,5>1,6>2,8>9,9>8",
    "c59eb873": "scale_up_2x2",
    "9172f3a0": "scale_up_3x3",
    "d10ecb37": "crop_corner:top_left_2x2",
    "1cf80156": "crop_bbox:0",
    "7b7f7511": "untile",
    "3af2c5a8": "mirror:identity,flip_h/flip_v,rot180",
    "4c4377d9": "mirror:flip_v/identity",
    "6d0aefbc": "mirror:identity,flip_h",
    "7468f01a": "flip_h+crop_bbox:0",
    "f25fbde4": "crop_bbox:0+scale_up_2x2",
}
NOT_WHOLE_GRID = ("007bbfb7",)  # the input scaled by itself: a fractal, outside the catalog


def all_inputs(task: Task) -> list[Grid]:
    return [p.input for p in task.train] + [t.input for t in task.test]


def all_outputs(task: Task) -> list[Grid]:
    return [p.output for p in task.train] + [t.output for t in task.test if t.output is not None]


@pytest.fixture(scope="module")
def hand_made() -> dict[str, tuple[list[Candidate], list[list[Any]]]]:
    """Every candidate of every hand-made task with its outputs, from one subprocess."""
    candidates = [generate_candidates(task) for task, _ in HAND_MADE]
    batches = [
        Batch(programs=[c.code for c in found], inputs=all_inputs(task))
        for (task, _), found in zip(HAND_MADE, candidates, strict=True)
    ]
    results = run_batches(batches, per_process=len(batches))
    return {
        task.id: (found, outputs)
        for (task, _), found, outputs in zip(HAND_MADE, candidates, results, strict=True)
    }


@pytest.fixture(scope="module")
def arc_tasks() -> dict[str, Task]:
    return {task.id: task for task in load_dataset("arc-agi-1/training").tasks}


@pytest.fixture(scope="module")
def real(arc_tasks: dict[str, Task]) -> dict[str, tuple[list[Candidate], list[list[Any]]]]:
    """Every candidate of the real tasks below with its outputs, from one subprocess."""
    ids = [*REAL_TASKS, *NOT_WHOLE_GRID]
    candidates = [generate_candidates(arc_tasks[task_id]) for task_id in ids]
    batches = [
        Batch(programs=[c.code for c in found], inputs=all_inputs(arc_tasks[task_id]))
        for task_id, found in zip(ids, candidates, strict=True)
    ]
    results = run_batches(batches, per_process=len(batches))
    return {
        task_id: (found, outputs)
        for task_id, found, outputs in zip(ids, candidates, results, strict=True)
    }


def solvers(task: Task, found: list[Candidate], outputs: list[list[Any]]) -> list[str]:
    """The names of the candidates that answer every train and test input exactly."""
    expected = all_outputs(task)
    return [c.name for c, got in zip(found, outputs, strict=True) if got == expected]


@pytest.mark.parametrize(("task", "rule"), HAND_MADE, ids=[task.id for task, _ in HAND_MADE])
def test_each_rule_family_is_proposed_and_its_program_is_exact(
    task: Task, rule: str, hand_made: dict[str, tuple[list[Candidate], list[list[Any]]]]
) -> None:
    found, outputs = hand_made[task.id]
    names = [c.name for c in found]
    assert rule in names
    assert outputs[names.index(rule)] == all_outputs(task)
    assert solvers(task, found, outputs)[0] == rule, "a simpler candidate solves it first"


def test_a_symmetry_program_computes_what_its_id_means(
    hand_made: dict[str, tuple[list[Candidate], list[list[Any]]]],
) -> None:
    """Literal expectations, independent of `arcbench.transforms`, for the first train input."""
    expected = {
        "rot90": [[4, 1], [5, 2], [6, 3]],
        "rot180": [[6, 5, 4], [3, 2, 1]],
        "rot270": [[3, 6], [2, 5], [1, 4]],
        "flip_h": [[3, 2, 1], [6, 5, 4]],
        "flip_v": [[4, 5, 6], [1, 2, 3]],
        "transpose": [[1, 4], [2, 5], [3, 6]],
        "antitranspose": [[6, 3], [5, 2], [4, 1]],
    }
    for name, grid in expected.items():
        found, outputs = hand_made[name]
        assert outputs[[c.name for c in found].index(name)][0] == grid, name


@pytest.mark.parametrize(("task_id", "rule"), REAL_TASKS.items())
def test_real_whole_grid_tasks_are_solved_train_and_test(
    task_id: str,
    rule: str,
    arc_tasks: dict[str, Task],
    real: dict[str, tuple[list[Candidate], list[list[Any]]]],
) -> None:
    found, outputs = real[task_id]
    assert rule in solvers(arc_tasks[task_id], found, outputs)


@pytest.mark.parametrize("task_id", NOT_WHOLE_GRID)
def test_a_task_outside_the_catalog_is_not_solved(
    task_id: str,
    arc_tasks: dict[str, Task],
    real: dict[str, tuple[list[Candidate], list[list[Any]]]],
) -> None:
    found, outputs = real[task_id]
    assert found, "candidates are still proposed"
    assert solvers(arc_tasks[task_id], found, outputs) == []


def test_no_two_candidates_of_a_task_behave_alike(
    hand_made: dict[str, tuple[list[Candidate], list[list[Any]]]],
    real: dict[str, tuple[list[Candidate], list[list[Any]]]],
) -> None:
    """Duplicates are dropped by what the rules compute in-process; the programs must agree."""
    for task_id, (found, outputs) in {**hand_made, **real}.items():
        behaviours = [repr(out) for out in outputs]
        assert len(set(behaviours)) == len(behaviours), task_id
        assert len({c.name for c in found}) == len(found), task_id
        assert not any(isinstance(o, str) for out in outputs for o in out), task_id


def test_programs_are_self_contained_sources(
    arc_tasks: dict[str, Task], real: dict[str, tuple[list[Candidate], list[list[Any]]]]
) -> None:
    for found, _ in real.values():
        for candidate in found:
            tree = ast.parse(candidate.code)
            assert not [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
            top = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
            assert [n.name for n in top if n.name == "transform"] == ["transform"]
            assert "def transform(grid: list[list[int]]) -> list[list[int]]:" in candidate.code


def test_colour_map_needs_one_substitution_for_every_pair() -> None:
    task = make_task("conflict", [([[1, 2]], [[3, 2]]), ([[1, 1]], [[4, 4]])], [([[1]], [[3]])])
    assert not [c for c in generate_candidates(task) if c.name.startswith("color_map")]


def test_scale_down_needs_blocks_of_one_colour() -> None:
    blurred = [[1, 2, 3, 3], [1, 1, 3, 3]]
    task = make_task("blur", [(blurred, [[1, 3]])], [([[5, 5], [5, 5]], [[5]])])
    names = [c.name for c in generate_candidates(task)]
    assert not [name for name in names if name.startswith("scale_down")]


def test_a_rule_that_would_answer_with_an_oversized_grid_is_dropped() -> None:
    """Tile 2 x 2 fits the 10 x 10 train input but would make a 40 x 40 grid of the test input."""
    small = [[(i + j) % 10 for j in range(10)] for i in range(10)]
    big = tiled(small, 2, 2)
    task = make_task("oversized", [(small, big)], [(big, [[0]])])
    names = [c.name for c in generate_candidates(task)]
    assert "tile_2x2" not in names
    assert "flip_h" in names


def test_generation_is_deterministic_and_never_reads_test_outputs(
    arc_tasks: dict[str, Task],
) -> None:
    for task_id in ("3af2c5a8", "0d3d703e", "007bbfb7"):
        task = arc_tasks[task_id]
        hidden = task.model_copy(update={"test": [TestPair(input=t.input) for t in task.test]})
        assert generate_candidates(task) == generate_candidates(hidden)


def test_candidate_lists_stay_small_on_a_whole_set(arc_tasks: dict[str, Task]) -> None:
    counts = [len(generate_candidates(task)) for task in arc_tasks.values()]
    assert min(counts) >= 1
    assert max(counts) <= 300
    assert sum(counts) / len(counts) <= 50


def test_a_rule_that_cannot_handle_a_test_input_is_dropped() -> None:
    """A pinwheel of rotations fits square train inputs; a tall test input would break it."""

    def spin(grid: Grid) -> Grid:
        top = [a + b for a, b in zip(grid, SYMMETRIES["rot90"](grid), strict=True)]
        bottom = [
            a + b
            for a, b in zip(SYMMETRIES["rot270"](grid), SYMMETRIES["rot180"](grid), strict=True)
        ]
        return top + bottom

    square = [[1, 2], [3, 0]]
    task = make_task("pinwheel", [(square, spin(square))], [([[1], [2], [3]], [[0]])])
    names = [c.name for c in generate_candidates(task)]
    assert "mirror:identity,rot90/rot270,rot180" not in names
    square_test = make_task("pinwheel_square", [(square, spin(square))], [(square, spin(square))])
    assert "mirror:identity,rot90/rot270,rot180" in [
        c.name for c in generate_candidates(square_test)
    ]
