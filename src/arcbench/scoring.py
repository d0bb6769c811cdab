"""Scoring by ARC Prize rules, as pure functions over tasks and submitted attempts.

A test output is solved when any of its (at most two) submitted attempts equals it exactly,
shape and every cell. A task scores the fraction of its test outputs solved; the headline is the
mean over every selected task. A task whose answers are unknown, or that got no attempts at all,
still counts (as 0): nothing leaves the denominator. Also reported: the fraction of test outputs
solved (per output) and of tasks with every output solved (all or nothing).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from arcbench.tasks import Task

Grid = list[list[int]]
TaskKey = tuple[str, int | None]

SUBMITTED_ATTEMPTS = 2
"""ARC Prize rules: two attempts per test input count."""


@dataclass(frozen=True)
class TaskScore:
    """One task's result: which test outputs were solved, and whether answers were known."""

    key: TaskKey
    solved: tuple[bool, ...]
    answered: tuple[bool, ...]

    @property
    def score(self) -> float:
        return sum(self.solved) / len(self.solved) if self.solved else 0.0


@dataclass(frozen=True)
class Score:
    """The aggregations of a set of task scores; `score` is the headline."""

    tasks: list[TaskScore] = field(default_factory=list)

    @property
    def score(self) -> float:
        """Per-task average: the ARC Prize headline."""
        return sum(t.score for t in self.tasks) / len(self.tasks) if self.tasks else 0.0

    @property
    def outputs(self) -> int:
        return sum(len(t.solved) for t in self.tasks)

    @property
    def outputs_solved(self) -> int:
        return sum(sum(t.solved) for t in self.tasks)

    @property
    def per_output(self) -> float:
        return self.outputs_solved / self.outputs if self.outputs else 0.0

    @property
    def tasks_solved(self) -> int:
        return sum(1 for t in self.tasks if t.solved and all(t.solved))

    @property
    def all_or_nothing(self) -> float:
        return self.tasks_solved / len(self.tasks) if self.tasks else 0.0

    @property
    def unanswerable_outputs(self) -> int:
        """Test outputs whose answer is unknown: they count as unsolved."""
        return sum(len(t.answered) - sum(t.answered) for t in self.tasks)

    def as_dict(self) -> dict[str, float | int]:
        return {
            "score": self.score,
            "per_task": self.score,
            "per_output": self.per_output,
            "all_or_nothing": self.all_or_nothing,
            "tasks": len(self.tasks),
            "tasks_solved": self.tasks_solved,
            "outputs": self.outputs,
            "outputs_solved": self.outputs_solved,
            "outputs_without_answer": self.unanswerable_outputs,
        }


def score_solved(
    test_inputs: Mapping[TaskKey, int],
    solved: Iterable[tuple[str, int | None, int]],
    unanswered: Iterable[tuple[str, int | None, int]] = (),
) -> Score:
    """Score from the set of solved `(task_id, version, test_index)` outputs.

    `test_inputs` lists every selected task with its number of test inputs, so tasks without
    any attempt still count (as 0). `unanswered` names outputs whose answer is unknown.
    """
    solved_set = set(solved)
    unanswered_set = set(unanswered)
    results = []
    for key, count in test_inputs.items():
        outputs = [(key[0], key[1], index) for index in range(count)]
        results.append(
            TaskScore(
                key,
                tuple(o in solved_set for o in outputs),
                tuple(o not in unanswered_set for o in outputs),
            )
        )
    return Score(results)


def is_correct(prediction: Grid | None, answer: Grid | None) -> bool | None:
    """Exact match of shape and every cell; None when the answer is unknown."""
    if answer is None:
        return None
    return prediction is not None and prediction == answer


@dataclass(frozen=True)
class GridComparison:
    """How far a candidate grid is from the answer: what a person solving a task is told.

    `distance` is the share of cells that differ when the shapes match (0.0 is the answer), and
    1.0 when they do not: a wrong shape is as far as a grid can be.
    """

    correct: bool
    distance: float
    shape_match: bool


def compare_grids(candidate: Grid, answer: Grid) -> GridComparison:
    """Compare a candidate with the answer, cell by cell (both are valid, rectangular grids)."""
    if len(candidate) != len(answer) or len(candidate[0]) != len(answer[0]):
        return GridComparison(correct=False, distance=1.0, shape_match=False)
    cells = len(answer) * len(answer[0])
    differing = sum(
        a != b
        for row, answer_row in zip(candidate, answer, strict=True)
        for a, b in zip(row, answer_row, strict=True)
    )
    return GridComparison(correct=differing == 0, distance=differing / cells, shape_match=True)


def score_tasks(
    tasks: Sequence[Task],
    submissions: Mapping[tuple[TaskKey, int], Sequence[Grid | None]],
    limit: int | None = SUBMITTED_ATTEMPTS,
) -> Score:
    """Score `tasks` given each test output's attempts, keyed by `(task key, test index)`.

    Only the first `limit` attempts of each output count (two under ARC Prize rules; None counts
    all of them, the oracle pass@k). Outputs with no entry count as unsolved.
    """
    results = []
    for task in tasks:
        solved = []
        answered = []
        for index, test in enumerate(task.test):
            attempts = list(submissions.get((task.key, index), ()))
            if limit is not None:
                attempts = attempts[:limit]
            answered.append(test.output is not None)
            solved.append(any(is_correct(a, test.output) for a in attempts))
        results.append(TaskScore(task.key, tuple(solved), tuple(answered)))
    return Score(results)
