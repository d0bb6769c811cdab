"""Voting over the views of test-time augmentation: which two grids a test input submits.

Every view of a task answers each test input (`traces`: each attempt's grid; `codegen`: each
attempt's final program's output), mapped back to the task's frame (`arcbench.views`). Those
answers are the ballots. Identical grids pool their votes, and the two best grids are submitted:

- `traces`: the most votes first; a tie goes to the grid the model gave first in its own order
  (views in the run's order, the identity first, then attempts by number);
- `codegen`: the best train accuracy of a program giving the grid first, then the most votes,
  then the same order. Train accuracy leads because programs are checked: a program that fits
  every train pair outranks any number that do not, which would otherwise outvote it (the same
  wrong program, such as "return the input", looks alike in every view).

Voting never invents a grid: what it submits is always one of the ballots. Pure functions over
grids, so a vote costs microseconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

Grid = list[list[int]]


@dataclass(frozen=True)
class Ballot:
    """One answer to one test input: its grid in the task's frame, whether that is right (None:
    the answer is unknown), its place in the model's own order, and its `fitness` (codegen: the
    train accuracy of the program that gave it; 1 for a traces attempt)."""

    grid: Grid
    correct: bool | None
    order: tuple[int, int]
    fitness: float = 1.0


@dataclass(frozen=True)
class Voted:
    """A grid that won a place: the grid, whether it is right, and the ballots it pooled."""

    grid: Grid
    correct: bool | None
    votes: int


TRACES_RULE = "most votes; a tie to the model's own order"
CODEGEN_RULE = "train accuracy, then votes, then the model's order"


def voting_rule(codegen: bool) -> str:
    """How a run's grids were chosen, in words, for a report to state beside the voted score."""
    return CODEGEN_RULE if codegen else TRACES_RULE


def vote(ballots: Iterable[Ballot], keep: int) -> list[Voted]:
    """The `keep` best grids among the ballots, best first (see the module docstring)."""
    pooled: dict[tuple[tuple[int, ...], ...], list[Ballot]] = {}
    for ballot in ballots:
        pooled.setdefault(tuple(map(tuple, ballot.grid)), []).append(ballot)

    def rank(group: list[Ballot]) -> tuple[float, int, tuple[int, int]]:
        return (
            -max(b.fitness for b in group),
            -len(group),
            min(b.order for b in group),
        )

    best = sorted(pooled.values(), key=rank)[:keep]
    return [Voted(group[0].grid, _correct(group), len(group)) for group in best]


def _correct(group: list[Ballot]) -> bool | None:
    """Ballots of one grid for one test input agree on whether it is right, unless some know
    the answer and some do not (a run read together with another): a known verdict wins."""
    known = [b.correct for b in group if b.correct is not None]
    return known[0] if known else None
