"""Running totals of a run, kept while it goes: what the progress bar and run.json summarise.

Only counters and the set of solved test outputs are kept, never the records themselves, so the
memory of a run does not grow with its length.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from arcbench.scoring import SUBMITTED_ATTEMPTS

OutputKey = tuple[str, int | None, int]


@dataclass
class Tally:
    """Counts over the latest record of every attempt: a failure superseded by its retry no
    longer counts as an error. Tokens and cost add up over every record, since a failed attempt
    was billed all the same."""

    records: int = 0
    errors: int = 0
    parse_errors: int = 0
    correct: int = 0
    fit_train: int = 0
    """Codegen: programs that reproduce every train pair."""
    _outcomes: dict[str, str] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    solved: set[OutputKey] = field(default_factory=set)
    """Test outputs solved: by one of their first two attempts (traces), or by any program so far
    (codegen, whose submitted pair of programs is only chosen at the end)."""

    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]], billed: Any = None) -> Tally:
        """The tally of a resumed run: outcomes from the latest records, tokens and cost from
        `billed` (every record, superseded failures included) when given."""
        tally = cls()
        for record in records:
            tally.add(record)
        if billed is not None:
            tally.prompt_tokens = billed.prompt_tokens
            tally.completion_tokens = billed.completion_tokens
            tally.reasoning_tokens = billed.reasoning_tokens
            tally.cost_usd = billed.cost_usd
        return tally

    def add(self, record: dict[str, Any]) -> None:
        """Count one record. Usage and cost count for failed attempts too: they were billed."""
        outcome = _outcome(record)
        previous = self._outcomes.get(str(record.get("record_id")))
        if previous is None:
            self.records += 1
        else:
            self._count(previous, -1)
        self._outcomes[str(record.get("record_id"))] = outcome
        self._count(outcome, +1)
        usage = record.get("usage") or {}
        self.prompt_tokens += int(usage.get("prompt_tokens") or 0)
        self.completion_tokens += int(usage.get("completion_tokens") or 0)
        self.reasoning_tokens += int(usage.get("reasoning_tokens") or 0)
        self.cost_usd += float(record.get("cost_usd") or 0.0)
        correct = record.get("correct")
        if isinstance(correct, list):  # a codegen program answers every test input
            for index, value in enumerate(correct):
                if value is True:
                    self.solved.add((str(record["task_id"]), record.get("version"), index))
            results = record.get("train_results") or []
            if results and all(r.get("status") == "correct" for r in results):
                self.fit_train += 1
        elif correct is True:
            attempt = record.get("attempt")
            if isinstance(attempt, int) and attempt <= SUBMITTED_ATTEMPTS:
                key = (
                    str(record["task_id"]),
                    record.get("version"),
                    int(record.get("test_index") or 0),
                )
                self.solved.add(key)

    def _count(self, outcome: str, step: int) -> None:
        if outcome == "error":
            self.errors += step
        elif outcome == "parse_error":
            self.parse_errors += step
        elif outcome == "correct":
            self.correct += step

    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        }


def _outcome(record: dict[str, Any]) -> str:
    if record.get("error") is not None:
        return "error"
    if record.get("parse_error") is not None:
        return "parse_error"
    correct = record.get("correct")
    if isinstance(correct, list):
        return "correct" if correct and all(v is True for v in correct) else "answered"
    return "correct" if correct is True else "answered"
