"""Taking grids and reasoning out of model replies."""

from __future__ import annotations

import pytest

from arcbench.answers import extract_grid, text_before_answer


@pytest.mark.parametrize(
    ("reply", "grid"),
    [
        ("The rule is X.\n```json\n[[1, 2], [3, 4]]\n```", [[1, 2], [3, 4]]),
        ("Try\n```json\n[[9]]\n```\nno wait\n```\n[[1,1],\n [2,2]]\n```", [[1, 1], [2, 2]]),
        ("first [[1]] then the answer [[5, 5], [5, 5]] done", [[5, 5], [5, 5]]),
        ("Output:\n0 1 2\n3 4 5\n", [[0, 1, 2], [3, 4, 5]]),
        ("So the answer is\n012\n345", [[0, 1, 2], [3, 4, 5]]),
        ("Answer:\n7 7 7", [[7, 7, 7]]),
        ("```python\nx = 1\n```\nfinal: [[3]]", [[3]]),
        ("```\n1 2\n3 4\n```", [[1, 2], [3, 4]]),
        ("Input was [[1,2],[3,4]]\nAnswer:\n[[4,3],[2,1]]\n\n[[1]]", [[1]]),
        ("[[1,2],[3,4]]\n[[5,6],[7,8]]", [[5, 6], [7, 8]]),
        ("```json\n[[3]]\n```\n```python\nx = [[1]]\n```", [[3]]),
        ("a list [1, [2]] then [[7]] and the end", [[7]]),
    ],
)
def test_grid_is_found(reply: str, grid: list[list[int]]) -> None:
    answer = extract_grid(reply)
    assert answer.parse_error is None
    assert answer.grid == grid


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("I do not know.", "no grid found in the reply"),
        ("Step 1: look. Step 2: think.", "no grid found in the reply"),
        ("```json\n[[1, 2], [3]]\n```", "not a valid ARC grid: ragged rows"),
        ("```json\n[[10]]\n```", "not a valid ARC grid: cell [0][0] is 10"),
        ("```json\n[" + ",".join(["[0]"] * 31) + "]\n```", "grid has 31 rows"),
        ("```json\n[[]]\n```", "row 0 is empty"),
    ],
)
def test_unusable_replies_say_why(reply: str, error: str) -> None:
    answer = extract_grid(reply)
    assert answer.grid is None
    assert answer.parse_error is not None
    assert error in answer.parse_error


def test_reasoning_is_the_text_before_the_answer_block() -> None:
    reply = "The grid is mirrored.\nSo:\n```json\n[[1]]\n```"
    answer = extract_grid(reply)
    assert text_before_answer(reply, answer) == "The grid is mirrored.\nSo:"
    nothing = extract_grid("no idea at all")
    assert text_before_answer("no idea at all", nothing) == "no idea at all"
