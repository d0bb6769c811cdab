"""The task models accept exactly the ARC format and say precisely what is wrong otherwise."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from arcbench.diagnostics import describe_task_error
from arcbench.tasks import RawTask
from taskdata import TASK_A

ADAPTER = TypeAdapter(RawTask)


def _message(task: object) -> str:
    with pytest.raises(ValidationError) as info:
        ADAPTER.validate_python(task)
    error = info.value.errors(include_url=False)[0]
    return describe_task_error(tuple(error["loc"]), error)


def _with_grid(grid: object) -> dict[str, object]:
    return {
        "train": [TASK_A["train"][0], {"input": [[1]], "output": grid}],
        "test": TASK_A["test"],
    }


def test_valid_task_loads_with_optional_test_output() -> None:
    raw = ADAPTER.validate_python({"train": TASK_A["train"], "test": [{"input": [[1]]}]})
    assert raw.test[0].output is None
    assert raw.train[1].output == [[0, 0], [0, 2]]


@pytest.mark.parametrize(
    ("grid", "expected"),
    [
        ([[1, 2], [3]], "train[1].output: ragged rows: row 0 has 2 cells but row 1 has 1"),
        ([[10]], "train[1].output: cell [0][0] is 10; cells must be integers 0-9"),
        ([[0, -1]], "train[1].output: cell [0][1] is -1; cells must be integers 0-9"),
        ([["1"]], "train[1].output: cell [0][0] is a string ('1'); cells must be integers 0-9"),
        ([[1.0]], "train[1].output: cell [0][0] is a float (1.0); cells must be integers 0-9"),
        ([[True]], "train[1].output: cell [0][0] is a boolean (True); cells must be integers 0-9"),
        ([[0] * 31], "train[1].output: row 0 has 31 cells; at most 30 are allowed"),
        ([[0]] * 31, "train[1].output: grid has 31 rows; at most 30 are allowed"),
        ([], "train[1].output: grid has no rows; a grid is 1-30 rows of 1-30 cells"),
        ([[]], "train[1].output: row 0 is empty; a row has 1-30 cells"),
        ("0123", "train[1].output: grid is a string, not a list of rows"),
    ],
)
def test_bad_grids_are_named_precisely(grid: object, expected: str) -> None:
    assert _message(_with_grid(grid)) == expected


def test_missing_test_pair_and_missing_keys() -> None:
    assert _message({"train": TASK_A["train"], "test": []}) == (
        "has no test pair; a task needs at least one"
    )
    assert _message({"train": TASK_A["train"]}) == "missing key 'test'"
    assert _message({"train": [{"input": [[1]]}], "test": TASK_A["test"]}) == (
        "train[0].output: missing"
    )


def test_largest_grid_is_accepted() -> None:
    big = [[9] * 30 for _ in range(30)]
    raw = ADAPTER.validate_python(_with_grid(big))
    assert raw.train[1].output == big
