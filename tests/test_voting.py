"""Voting over views, and scoring records of views: the two grids submitted, ties, and that a vote
never invents an answer no view gave."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from arcbench.records import CodegenRecord, TracesRecord
from arcbench.scoring import Submitted, score_records
from arcbench.voting import Ballot, vote

RIGHT = [[1, 2]]
WRONG = [[[2, 1]], [[3, 3]], [[4]], [[5, 6], [7, 8]]]


def test_the_most_frequent_grids_win_and_a_tie_goes_to_the_models_own_order() -> None:
    ballots = [
        Ballot(WRONG[0], False, (0, 1)),
        Ballot(RIGHT, True, (1, 1)),
        Ballot(WRONG[1], False, (2, 1)),
        Ballot(RIGHT, True, (3, 1)),
        Ballot(WRONG[1], False, (4, 1)),
    ]
    first, second = vote(ballots, 2)
    assert (first.grid, first.votes, first.correct) == (RIGHT, 2, True)
    assert (second.grid, second.votes) == (WRONG[1], 2)  # tied with RIGHT, met later
    [only] = vote(ballots[:1] + ballots[2:3], 1)
    assert only.grid == WRONG[0]  # one vote each: the identity view (position 0) comes first


def test_a_program_that_fits_the_train_pairs_outranks_any_number_that_do_not() -> None:
    ballots = [Ballot(WRONG[0], False, (p, 1), fitness=0.5) for p in range(7)]
    ballots.append(Ballot(RIGHT, True, (7, 1), fitness=1.0))
    first, second = vote(ballots, 2)
    assert first.grid == RIGHT
    assert second.grid == WRONG[0]


grid_choice = st.integers(0, len(WRONG))  # an index into WRONG, or len(WRONG): the right grid


@given(
    st.lists(
        st.tuples(grid_choice, st.integers(0, 7), st.integers(1, 2), st.floats(0, 1)),
        max_size=20,
    )
)
def test_a_vote_only_ever_submits_a_grid_some_view_gave(
    cast: list[tuple[int, int, int, float]],
) -> None:
    ballots = [
        Ballot(RIGHT if i == len(WRONG) else WRONG[i], i == len(WRONG), (view, attempt), fitness)
        for i, view, attempt, fitness in cast
    ]
    winners = vote(ballots, 2)
    assert len(winners) == min(2, len({str(b.grid) for b in ballots}))
    assert all(any(w.grid == b.grid for b in ballots) for w in winners)
    if not any(b.correct for b in ballots):
        assert not any(w.correct for w in winners)
    assert sum(w.votes for w in winners) <= len(ballots)


def _traces(view: str, attempt: int, grid: list[list[int]] | None, right: bool) -> TracesRecord:
    return TracesRecord(
        record_id=f"{view}-{attempt}",
        run_id="r",
        task_id="t",
        test_index=0,
        attempt=attempt,
        finished_at="2026-01-01T00:00:00+00:00",
        view=[view],
        prediction=grid,
        mapped_prediction=grid,
        correct=right if grid is not None else False,
    )


def test_records_of_views_are_voted_and_each_view_scored_alone() -> None:
    records = [
        _traces("identity", 1, WRONG[0], False),
        _traces("identity", 2, None, False),  # a reply without a grid: no ballot
        _traces("rot90", 1, RIGHT, True),
        _traces("rot90", 2, RIGHT, True),
        _traces("flip_h", 1, WRONG[1], False),
        _traces("flip_h", 2, RIGHT, True),
    ]
    scored = score_records({("t", None): 1}, records, ["identity", "rot90", "flip_h"])
    assert scored.attempts[("t", None, 0)][1].prediction == RIGHT
    assert scored.score.score == 1.0
    assert scored.views is not None
    assert scored.views.identity.score == 0.0
    assert scored.views.best == ("rot90", scored.views.views["rot90"])
    assert list(scored.views.views) == ["identity", "rot90", "flip_h"]
    assert scored.oracle.score == 1.0


def test_no_view_right_means_nothing_voted_right_and_failures_count_as_unsolved() -> None:
    failed = _traces("rot90", 1, None, False).model_copy(update={"error": "down", "correct": None})
    records = [_traces("identity", a, WRONG[a], False) for a in (1, 2)] + [failed]
    scored = score_records({("t", None): 1}, records)
    assert scored.score.score == 0.0
    assert scored.oracle.score == 0.0
    assert scored.score.unanswerable_outputs == 0


def _program(view: str, attempt: int, grid: list[list[int]], right: bool, fit: bool) -> Any:
    status = "correct" if fit else "wrong"
    return CodegenRecord(
        record_id=f"{view}-{attempt}",
        run_id="r",
        task_id="t",
        attempt=attempt,
        finished_at="2026-01-01T00:00:00+00:00",
        view=[view],
        code="def transform(grid):\n    return grid\n",
        train_results=[{"status": status}],
        predictions=[[[0]]],
        mapped_predictions=[grid],
        correct=[right],
    )


def test_codegen_votes_by_train_accuracy_first_then_by_votes() -> None:
    records = [_program(v, 1, WRONG[0], False, fit=False) for v in ("identity", "rot90", "rot180")]
    records.append(_program("flip_h", 1, RIGHT, True, fit=True))
    scored = score_records({("t", None): 1}, records)
    attempts = scored.attempts[("t", None, 0)]
    assert attempts[1].prediction == RIGHT
    assert attempts[2].prediction == WRONG[0]
    assert scored.score.score == 1.0
    assert scored.views is not None
    assert scored.views.identity.score == 0.0
    assert scored.views.best[0] == "flip_h"


def test_views_without_a_grid_submit_nothing_and_say_whether_the_answer_was_known() -> None:
    known = [_traces(v, a, None, False) for v in ("identity", "rot90") for a in (1, 2)]
    scored = score_records({("t", None): 1}, known)
    assert scored.attempts[("t", None, 0)] == {1: Submitted(None, False)}
    assert scored.score.score == 0.0
    assert scored.score.unanswerable_outputs == 0
    unknown = [r.model_copy(update={"correct": None}) for r in known]
    assert score_records({("t", None): 1}, unknown).score.unanswerable_outputs == 1
