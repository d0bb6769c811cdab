"""ARC Prize scoring: pass@2 per output, mean per task, nothing leaves the denominator."""

from __future__ import annotations

import pytest

from arcbench.records import TracesRecord
from arcbench.scoring import (
    GridComparison,
    compare_grids,
    matches_answer,
    score_records,
    score_solved,
)
from arcbench.tasks import Pair, Task, TestPair

Grid = list[list[int]]


def _task(task_id: str, outputs: list[Grid | None]) -> Task:
    return Task(
        id=task_id,
        train=[Pair(input=[[1]], output=[[1]])],
        test=[TestPair(input=[[0]], output=o) for o in outputs],
    )


def _attempts(task: Task, index: int, grids: list[Grid | None]) -> list[TracesRecord]:
    """The records of attempts 1, 2, … at one test output, graded as a run grades them."""
    answer = task.test[index].output
    return [
        TracesRecord(
            record_id=f"{task.id}/{index}/{number}",
            run_id="run",
            task_id=task.id,
            test_index=index,
            attempt=number,
            prediction=grid,
            correct=matches_answer(grid, answer),
            finished_at="2026-01-01T00:00:00+00:00",
        )
        for number, grid in enumerate(grids, start=1)
    ]


def test_exact_match_of_shape_and_cells() -> None:
    assert matches_answer([[1, 2]], [[1, 2]]) is True
    assert matches_answer([[1], [2]], [[1, 2]]) is False
    assert matches_answer(None, [[1]]) is False
    assert matches_answer([[1]], None) is None


def test_headline_is_per_task_average_with_two_attempts() -> None:
    a = _task("a", [[[1]], [[2]]])
    b = _task("b", [[[3]]])
    c = _task("c", [None])  # unknown answer: counts as 0, stays in the denominator
    d = _task("d", [[[4]]])  # never attempted: counts as 0
    records = [
        *_attempts(a, 0, [[[9]], [[1]]]),  # second attempt right
        *_attempts(a, 1, [[[9]], [[9]], [[2]]]),  # only a third attempt right: not counted
        *_attempts(b, 0, [[[3]], None]),
        *_attempts(c, 0, [[[0]]]),
    ]
    scored = score_records({t.key: len(t.test) for t in (a, b, c, d)}, records)
    score = scored.score
    assert score.score == (0.5 + 1 + 0 + 0) / 4
    assert score.per_output == 2 / 5
    assert score.all_or_nothing == 1 / 4
    assert score.unanswerable_outputs == 1
    oracle = scored.oracle
    assert oracle.score == (1 + 1 + 0 + 0) / 4


def test_score_from_solved_outputs() -> None:
    score = score_solved({("a", None): 2, ("b", 3): 1}, {("a", None, 1), ("b", 3, 0)})
    assert score.score == (0.5 + 1) / 2
    assert score.as_dict()["outputs_solved"] == 2
    assert score_solved({}, set()).score == 0.0


def test_grid_comparison_is_the_share_of_differing_cells() -> None:
    assert compare_grids([[1, 2], [3, 4]], [[1, 2], [3, 4]]) == GridComparison(True, 0.0, True)
    assert compare_grids([[1, 2], [3, 5]], [[1, 2], [3, 4]]) == GridComparison(False, 0.25, True)
    assert compare_grids([[0, 0], [0, 0]], [[1, 2], [3, 4]]) == GridComparison(False, 1.0, True)


@pytest.mark.parametrize("candidate", [[[1, 2]], [[1], [2]], [[1, 2, 0], [3, 4, 0]]])
def test_a_grid_of_another_shape_is_as_far_as_can_be(candidate: list[list[int]]) -> None:
    assert compare_grids(candidate, [[1, 2], [3, 4]]) == GridComparison(False, 1.0, False)
