"""Scoring by ARC Prize rules, as pure functions over tasks and submitted attempts.

A test output is solved when any of its (at most two) submitted attempts equals it exactly,
shape and every cell. A task scores the fraction of its test outputs solved; the headline is the
mean over every selected task. A task whose answers are unknown, or that got no attempts at all,
still counts (as 0): nothing leaves the denominator. Also reported: the fraction of test outputs
solved (per output) and of tasks with every output solved (all or nothing).

`codegen` submits programs rather than grids: per task, the two attempts' final programs with the
best train accuracy (`choose_programs`), whose outputs are each test input's two attempts.
`score_records` scores the records of runs of either command; `arcbench report` and a run's own
summary both use it, so they always agree. Records of test-time augmentation's views are voted on
(`arcbench.voting`), and each view is also scored alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from arcbench.records import CodegenRecord, OutputKey, TaskKey, TracesRecord
from arcbench.voting import Ballot, vote

Grid = list[list[int]]

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


def matches_answer(prediction: Grid | None, answer: Grid | None) -> bool | None:
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


# --- codegen: the two programs submitted per task ------------------------------------------


@dataclass(frozen=True)
class ProgramChoice:
    """A task's programs judged: the (at most two) submitted, best train accuracy first; the
    test inputs any program got right (the oracle pass@k); how many programs overfit (every
    train pair right, a test output wrong)."""

    submitted: list[CodegenRecord]
    any_right: frozenset[int]
    overfit: int


def final_programs(
    records: Iterable[CodegenRecord],
) -> dict[TaskKey, dict[int, CodegenRecord]]:
    """Each task's final program per attempt: the attempt's last round (failed rounds are not
    programs). `records` are the latest record of each id, in any order."""
    programs: dict[TaskKey, dict[int, CodegenRecord]] = {}
    for record in records:
        if record.error is not None:
            continue
        finals = programs.setdefault(record.task_key, {})
        current = finals.get(record.attempt)
        if current is None or record.round >= current.round:
            finals[record.attempt] = record
    return programs


def choose_programs(finals: Mapping[int, CodegenRecord]) -> ProgramChoice:
    """The two programs submitted for a task: best train accuracy, ties by attempt order."""
    ordered = sorted(finals.items(), key=lambda item: (-item[1].train_accuracy, item[0]))
    any_right: set[int] = set()
    overfit = 0
    for program in finals.values():
        correct = program.correct or []
        any_right |= {index for index, value in enumerate(correct) if value is True}
        if program.fits_train and any(value is False for value in correct):
            overfit += 1
    return ProgramChoice(
        [program for _, program in ordered[:SUBMITTED_ATTEMPTS]], frozenset(any_right), overfit
    )


# --- scoring the records of runs -------------------------------------------------------------


@dataclass(frozen=True)
class Submitted:
    """One attempt at one test output as scored: its grid, whether it matched (None: answer
    unknown), and whether the attempt failed (a failure says nothing about the answer)."""

    prediction: Grid | None
    correct: bool | None
    failed: bool = False


@dataclass(frozen=True)
class ViewScores:
    """Test-time augmentation: each view scored alone (as a run without augmentation would be,
    on its answers mapped back), in the run's order, the identity first."""

    views: dict[str, Score]

    @property
    def identity(self) -> Score:
        return self.views.get("identity", Score())

    @property
    def best(self) -> tuple[str, Score]:
        """The view that scored best alone (the earliest of equals)."""
        return max(self.views.items(), key=lambda item: item[1].score, default=("", Score()))


@dataclass
class ProgramStats:
    """Codegen: what became of the programs. `final` counts each attempt's final program (its
    last round), `fit_train` those that reproduce every train pair and `train_accuracy` their
    mean fraction of train pairs right; `selected` the programs submitted (at most two per
    task; with test-time augmentation, every program whose grid the vote submitted) and
    `selected_fit_train` those of them that fit every train pair; `overfit` the final programs
    that fit every train pair but get a test output wrong."""

    final: int = 0
    fit_train: int = 0
    train_accuracy: float = 0.0
    selected: int = 0
    selected_fit_train: int = 0
    overfit: int = 0

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass
class RunScore:
    """Records scored together: per test output its attempts by number, the ARC Prize score,
    the oracle (any attempt right) and, for codegen, what became of the programs. With
    test-time augmentation the attempts are the voted grids and `views` scores each view
    alone."""

    test_inputs: dict[TaskKey, int]
    attempts: dict[OutputKey, dict[int, Submitted]]
    score: Score
    oracle: Score
    programs: ProgramStats = field(default_factory=ProgramStats)
    views: ViewScores | None = None

    @property
    def overfit_programs(self) -> int:
        return self.programs.overfit


@dataclass
class _Answers:
    """What records submit: per test output its attempts by number, the outputs some program
    not submitted got right (codegen's oracle), and the programs: every final one, those
    submitted and the overfitting ones."""

    attempts: dict[OutputKey, dict[int, Submitted]] = field(default_factory=dict)
    any_right: set[OutputKey] = field(default_factory=set)
    finals: list[CodegenRecord] = field(default_factory=list)
    selected: list[CodegenRecord] = field(default_factory=list)
    overfit: int = 0

    def add(self, other: _Answers) -> None:
        """Take in the answers of other records (a run's views, voted, beside its plain ones)."""
        self.attempts.update(other.attempts)
        self.any_right |= other.any_right
        self.finals += other.finals
        self.selected += other.selected
        self.overfit += other.overfit

    @property
    def programs(self) -> ProgramStats:
        finals, selected = self.finals, self.selected
        return ProgramStats(
            final=len(finals),
            fit_train=sum(1 for program in finals if program.fits_train),
            train_accuracy=(
                sum(program.train_accuracy for program in finals) / len(finals) if finals else 0.0
            ),
            selected=len(selected),
            selected_fit_train=sum(1 for program in selected if program.fits_train),
            overfit=self.overfit,
        )


def score_records(
    declared: Mapping[TaskKey, int],
    records: Iterable[TracesRecord | CodegenRecord],
    view_order: Sequence[str] = (),
) -> RunScore:
    """Score the latest record of every attempt of some runs.

    `declared` lists every selected task with its number of test inputs (from the manifests),
    so a task without any record still counts, as 0. A traces record answers one test output
    with one attempt; codegen programs answer every test output, and the two chosen by
    `choose_programs` are each output's attempts 1 and 2. Records of views (test-time
    augmentation) are voted on instead (`arcbench.voting`), their views taken in `view_order`
    (the run's; views it does not name follow in the order met).
    """
    plain: list[TracesRecord | CodegenRecord] = []
    by_view: dict[str, list[TracesRecord | CodegenRecord]] = {
        label: [] for label in ("identity", *view_order)
    }
    for record in records:
        label = record.view_label
        if label is None:
            plain.append(record)
        else:
            by_view.setdefault(label, []).append(record)
    answers = _submitted(plain)
    views: ViewScores | None = None
    by_view = {label: viewed for label, viewed in by_view.items() if viewed}
    if by_view:
        answers.add(_voted(by_view))
        views = ViewScores(
            {
                label: _scored(declared, _submitted(viewed), oracle=False)[1]
                for label, viewed in by_view.items()
            }
        )
    test_inputs, score, oracle = _scored(declared, answers)
    return RunScore(test_inputs, answers.attempts, score, oracle, answers.programs, views)


def _scored(
    declared: Mapping[TaskKey, int], answers: _Answers, *, oracle: bool = True
) -> tuple[dict[TaskKey, int], Score, Score]:
    """The tasks scored (the declared ones, and any answered), the score and the oracle (an
    empty one unless `oracle`)."""
    test_inputs = dict(declared)
    for key in answers.attempts:
        task_key = (key[0], key[1])
        test_inputs[task_key] = max(test_inputs.get(task_key, 0), key[2] + 1)
    attempts = answers.attempts
    unanswered = [key for key, by in attempts.items() if _answer_unknown(by.values())]
    return (
        test_inputs,
        score_solved(test_inputs, solved_outputs(attempts, SUBMITTED_ATTEMPTS), unanswered),
        score_solved(test_inputs, solved_outputs(attempts, None) | answers.any_right, unanswered)
        if oracle
        else Score(),
    )


def _submitted(records: Iterable[TracesRecord | CodegenRecord]) -> _Answers:
    """Attempts as numbered (traces), or the two programs `choose_programs` picks (codegen)."""
    answers = _Answers()
    programs: list[CodegenRecord] = []
    for record in records:
        if isinstance(record, CodegenRecord):
            programs.append(record)
        else:
            answers.attempts.setdefault(record.output_key, {})[record.attempt] = Submitted(
                record.answer, record.correct, record.error is not None
            )
    for task_key, finals in final_programs(programs).items():
        choice = choose_programs(finals)
        answers.overfit += choice.overfit
        answers.finals += finals.values()
        answers.selected += choice.submitted
        outputs = max(len(program.correct or ()) for program in finals.values())
        for index in range(outputs):
            key = (task_key[0], task_key[1], index)
            for number, program in enumerate(choice.submitted, start=1):
                answers.attempts.setdefault(key, {})[number] = Submitted(
                    _at(program.answers, index), _at(program.correct or [], index)
                )
            if index in choice.any_right:
                answers.any_right.add(key)
    return answers


def _voted(by_view: Mapping[str, list[TracesRecord | CodegenRecord]]) -> _Answers:
    """The two grids every view's answers vote for, per test output (see `arcbench.voting`);
    codegen: every view's final programs, and as selected those whose grid the vote submitted."""
    ballots: dict[OutputKey, list[Ballot]] = {}
    known: dict[OutputKey, bool] = {}
    """Per output answered by some view (with a grid or not), whether its answer is known."""
    failed: set[OutputKey] = set()
    givers: dict[OutputKey, list[tuple[Grid, CodegenRecord]]] = {}
    """Per output, the programs that gave a grid for it, with that grid."""
    answers = _Answers()

    def cast(key: OutputKey, correct: bool | None, ballot: Ballot | None) -> None:
        """Count an answer to `key`: whether it knew the answer, and its ballot when it gave a
        grid."""
        known[key] = known.get(key, False) or correct is not None
        if ballot is not None:
            ballots.setdefault(key, []).append(ballot)

    for position, viewed in enumerate(by_view.values()):
        programs: list[CodegenRecord] = []
        for record in viewed:
            if isinstance(record, CodegenRecord):
                programs.append(record)
            elif record.error is not None:
                failed.add(record.output_key)
            else:
                grid, right = record.answer, record.correct
                ballot = None if grid is None else Ballot(grid, right, (position, record.attempt))
                cast(record.output_key, right, ballot)
        for task_key, finals in final_programs(programs).items():
            answers.overfit += choose_programs(finals).overfit
            answers.finals += finals.values()
            for attempt, program in finals.items():
                correct, grids = program.correct or [], program.answers
                for index in range(max(len(correct), len(grids))):
                    grid, right = _at(grids, index), _at(correct, index)
                    ballot = (
                        None
                        if grid is None
                        else Ballot(grid, right, (position, attempt), program.train_accuracy)
                    )
                    key = (task_key[0], task_key[1], index)
                    cast(key, right, ballot)
                    if grid is not None:
                        givers.setdefault(key, []).append((grid, program))
    selected: dict[int, CodegenRecord] = {}
    for key in known.keys() | failed:
        cast_for = ballots.get(key, [])
        winners = vote(cast_for, SUBMITTED_ATTEMPTS)
        won = [winner.grid for winner in winners]
        selected |= {id(p): p for grid, p in givers.get(key, []) if grid in won}
        nothing = Submitted(None, False if known.get(key) else None, failed=key not in known)
        answers.attempts[key] = {
            number: Submitted(winner.grid, winner.correct)
            for number, winner in enumerate(winners, start=1)
        } or {1: nothing}
        answers.any_right |= {key for ballot in cast_for if ballot.correct is True}
    answers.selected += selected.values()
    return answers


def _at(values: Sequence[Any], index: int) -> Any:
    return values[index] if index < len(values) else None


def solved_outputs(
    attempts: Mapping[OutputKey, Mapping[int, Submitted]], limit: int | None
) -> set[OutputKey]:
    """The outputs one of whose first `limit` attempts (all: None) matched the answer."""
    return {
        key
        for key, by_number in attempts.items()
        if any(
            outcome.correct is True
            for number, outcome in by_number.items()
            if limit is None or number <= limit
        )
    }


def _answer_unknown(outcomes: Iterable[Submitted]) -> bool:
    """Whether an output's answer is unknown: attempts that got an answer say `correct` null.
    Failed attempts say nothing either way."""
    answered = [o for o in outcomes if not o.failed]
    return bool(answered) and all(o.correct is None for o in answered)
