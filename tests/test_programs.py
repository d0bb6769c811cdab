"""Taking programs out of replies (read only: nothing here runs them)."""

from __future__ import annotations

import pytest

from arcbench.programs import extract_program
from arcbench.records import CodegenRecord


@pytest.mark.parametrize(
    ("reply", "first_line"),
    [
        ("Idea.\n```python\ndef transform(grid):\n    return grid\n```", "def transform(grid):"),
        ("```py\ndef solve_task(grid):\n    return grid\n```", "def solve_task(grid):"),
        (
            "```python\ndef transform(g):\n    return g\n```\nbetter:\n"
            "```python\nimport numpy as np\ndef transform(g):\n    return np.flip(g).tolist()\n```",
            "import numpy as np",
        ),
        ("```\ndef transform(grid):\n    return grid\n```", "def transform(grid):"),
        (
            "```python\ndef transform(grid):\n    return grid\n```\n```python\nprint('usage')\n```",
            "def transform(grid):",
        ),
    ],
)
def test_last_python_block_defining_the_entry_point(reply: str, first_line: str) -> None:
    program = extract_program(reply)
    assert program.parse_error is None
    assert program.code is not None
    assert program.code.splitlines()[0] == first_line


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("no code here", "no python code block in the reply"),
        ("```python\nx = 1\n```", "defines neither transform(grid) nor solve_task(grid)"),
        ("```json\n[[1]]\n```", "no python code block in the reply"),
    ],
)
def test_replies_without_a_program(reply: str, error: str) -> None:
    program = extract_program(reply)
    assert program.code is None
    assert program.parse_error is not None
    assert error in program.parse_error


def test_reasoning_ends_where_the_program_starts() -> None:
    reply = "Mirror it.\n```python\ndef transform(g):\n    return g\n```"
    assert reply[: extract_program(reply).start].strip() == "Mirror it."


def train_accuracy(train_results: list[dict[str, str]] | None) -> float:
    fields = {"record_id": "r", "run_id": "run", "task_id": "t", "attempt": 1}
    record = {**fields, "finished_at": "2026-01-01T00:00:00+00:00"}
    return CodegenRecord.model_validate({**record, "train_results": train_results}).train_accuracy


def test_train_accuracy() -> None:
    assert train_accuracy(None) == 0.0
    assert train_accuracy([{"status": "correct"}, {"status": "wrong"}]) == 0.5
