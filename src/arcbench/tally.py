"""Running totals of a run, kept while it goes: what the progress bar and run.json summarise.

Only counters, the ids of failed attempts and the set of solved test outputs are kept, never the
records themselves, so the memory of a run does not grow with its length (the solved outputs are
bounded by the dataset, the failures by what went wrong).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from arcbench.records import CodegenRecord, OutputKey, RecordBase, TracesRecord
from arcbench.rundir import Billed
from arcbench.scoring import SUBMITTED_ATTEMPTS
from arcbench.usage import Usage


@dataclass
class Tally:
    """Counts over the latest record of every attempt: a failure superseded by its retry no
    longer counts as an error. Tokens and cost add up over every record, since a failed attempt
    was billed all the same.

    Only a failed attempt is ever recorded again under the same id (a resume retries it; every
    other record is final), so the ids of failures are all it needs to remember.
    """

    records: int = 0
    errors: int = 0
    parse_errors: int = 0
    correct: int = 0
    fit_train: int = 0
    """Codegen: programs that reproduce every train pair."""
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    solved: set[OutputKey] = field(default_factory=set)
    """Test outputs solved: by one of their first two attempts (traces), or by any program so far
    (codegen, whose submitted pair of programs is only chosen at the end)."""
    _failed: set[str] = field(default_factory=set)

    @classmethod
    def from_records(cls, records: Iterable[RecordBase], billed: Billed | None = None) -> Tally:
        """The tally of a resumed run: outcomes from the latest records, tokens and cost from
        `billed` (every record, superseded failures included) when given."""
        tally = cls()
        for record in records:
            tally.add(record)
        if billed is not None:
            tally.usage = billed.usage
            tally.cost_usd = billed.cost_usd
        return tally

    def add(self, record: RecordBase) -> None:
        """Count one record. Usage and cost count for failed attempts too: they were billed."""
        if record.record_id in self._failed:
            self._failed.discard(record.record_id)
            self.errors -= 1
        else:
            self.records += 1
        outcome = record.outcome()
        if outcome == "error":
            self.errors += 1
            self._failed.add(record.record_id)
        elif outcome == "parse_error":
            self.parse_errors += 1
        elif outcome == "correct":
            self.correct += 1
        self.usage += record.usage
        self.cost_usd += record.cost_usd
        if isinstance(record, CodegenRecord):
            for index, value in enumerate(record.correct or ()):
                if value is True:
                    self.solved.add((record.task_id, record.version, index))
            if record.fits_train:
                self.fit_train += 1
        elif (
            isinstance(record, TracesRecord)
            and record.correct is True
            and record.attempt <= SUBMITTED_ATTEMPTS
        ):
            self.solved.add(record.output_key)
