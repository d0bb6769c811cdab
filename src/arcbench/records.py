"""The records of `results.jsonl`: one pydantic model per kind, with the keys DESIGN.md ("Runs")
fixes, written the moment an attempt finishes and validated whenever they are read back.

- `TracesRecord`: one attempt at one test input (`test_index` a number, `prediction` one grid or
  null, `correct` one bool or null);
- `CodegenRecord`: one round of one program, which answers every test input (`test_index` null,
  `predictions` and `correct` one entry per test input, `train_results` one per train pair); the
  offline baseline's records are codegen records naming their catalog `rule`.

A run with test-time augmentation (`--augment`, `arcbench.views`) asks every task in several
views: its records name their `view` (the transform ids; `["identity"]` for the task as given),
keep the raw answer in the view's frame (`prediction`, `predictions`) and the answer mapped back
to the task's frame (`mapped_prediction`, `mapped_predictions`), which `correct` judges. Records
of a run without augmentation have `view` null and no mapped answer.

`parse_record` tells them apart by `test_index`, as every reader always has, so a results file is
read without its manifest. The keys are those runs have always had, so run directories written by
earlier versions read unchanged; `data/record-*.schema.json` is generated from these models and
`data/nature_of_data.md` documents every field.

A record with `error` set is a failed attempt (the model could not be reached, the sandbox broke):
a resume retries it, and its retry appends a record with the same `record_id`. A reply without a
grid or program (`parse_error`), or a program that crashes, is an outcome, not an `error`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Protocol

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SerializerFunctionWrapHandler,
    StrictBool,
    Tag,
    TypeAdapter,
    model_serializer,
)

from arcbench.tasks import MAX_TEST_INPUTS, Grid
from arcbench.usage import Usage

TaskKey = tuple[str, int | None]
OutputKey = tuple[str, int | None, int]
"""A test output: `(task_id, version, test_index)`."""

Outcome = Literal["error", "parse_error", "correct", "answered"]
"""What a record counts as in a run's totals (see `RecordBase.outcome`)."""


class ChatMessage(BaseModel):
    """One chat message of the prompt sent, as the OpenAI API takes it."""

    model_config = ConfigDict(frozen=True)

    role: str
    content: str


class ProgramResult(BaseModel):
    """How a program did on one input.

    On a train pair: `correct`, `wrong` (with the grid it produced in `output`), or the sandbox's
    `error`, `timeout` or `wrong_format` (why, or the traceback, in `detail`). On a test input the
    sandbox's outcome: `ok` (the grid is in `predictions`), `error`, `timeout`, `wrong_format`.
    """

    model_config = ConfigDict(frozen=True)

    status: Literal["correct", "wrong", "ok", "error", "timeout", "wrong_format"]
    detail: str | None = None
    output: Grid | None = None

    @model_serializer(mode="wrap")
    def _without_empty_output(self, handler: SerializerFunctionWrapHandler) -> Any:
        """`output` is written only where there is one (a wrong answer), as runs always had."""
        data = handler(self)
        if isinstance(data, dict) and data.get("output") is None:
            data.pop("output", None)
        return data


class RecordBase(BaseModel):
    """The fields every record has: which attempt it is, what was asked and answered, its cost."""

    model_config = ConfigDict(extra="ignore")

    record_id: str
    run_id: str
    task_id: str
    version: int | None = None
    test_index: int | None = None
    attempt: int
    round: int = 0
    messages: list[ChatMessage] = Field(default_factory=list)
    response: str | None = None
    reasoning: str = ""
    parse_error: str | None = None
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float = 0.0
    latency_s: float = 0.0
    model: str | None = None
    finished_at: str
    error: str | None = None
    view: list[str] | None = None

    @property
    def task_key(self) -> TaskKey:
        return (self.task_id, self.version)

    @property
    def label(self) -> str:
        """`task_id`, or `task_id@version` for a task version."""
        return self.task_id if self.version is None else f"{self.task_id}@{self.version}"

    @property
    def view_label(self) -> str | None:
        """The view's transform ids joined by `+` (`identity`, `rot90`), or None without
        augmentation."""
        return None if self.view is None else "+".join(self.view)

    def _where(self) -> str:
        """The task, and the view when the run has views, for run.log."""
        return self.label if self.view is None else f"{self.label} [{self.view_label}]"

    def outcome(self) -> Outcome:
        """`error` (the attempt failed), `parse_error` (no grid or program in the reply),
        `correct` (every known answer matched), else `answered`."""
        if self.error is not None:
            return "error"
        if self.parse_error is not None:
            return "parse_error"
        return "correct" if self._all_correct() else "answered"

    def _all_correct(self) -> bool:
        raise NotImplementedError


class TracesRecord(RecordBase):
    """A `traces` attempt: one test input, one predicted grid (or why there is none)."""

    test_index: int = Field(ge=0, lt=MAX_TEST_INPUTS)
    prediction: Grid | None = None
    mapped_prediction: Grid | None = None
    correct: StrictBool | None = None

    def _all_correct(self) -> bool:
        return self.correct is True

    @property
    def output_key(self) -> OutputKey:
        return (self.task_id, self.version, self.test_index)

    @property
    def answer(self) -> Grid | None:
        """The grid in the task's own frame: what `correct` judges and scoring submits."""
        return self.prediction if self.view is None else self.mapped_prediction

    def describe(self) -> str:
        """One line for run.log: where, what came of it, how long and how many tokens."""
        outcome = self.error or self.parse_error or ("correct" if self.correct else "answered")
        return (
            f"{self._where()} test {self.test_index} attempt {self.attempt}: {outcome} "
            f"({self.latency_s:.2f} s, {self.usage.total_tokens} tokens)"
        )


class CodegenRecord(RecordBase):
    """A `codegen` round: a program, and how it did on every train and test input.

    An attempt's final program is its last round's. `rule` names the catalog rule of an offline
    baseline candidate (null for a model's program).
    """

    test_index: None = None
    code: str | None = None
    rule: str | None = None
    train_results: list[ProgramResult] | None = None
    predictions: list[Grid | None] | None = None
    mapped_predictions: list[Grid | None] | None = None
    correct: list[StrictBool | None] | None = None
    test_results: list[ProgramResult] | None = None

    @property
    def answers(self) -> list[Grid | None]:
        """The grids in the task's own frame, one per test input: what `correct` judges."""
        return list((self.predictions if self.view is None else self.mapped_predictions) or ())

    def _all_correct(self) -> bool:
        return bool(self.correct) and all(value is True for value in self.correct or ())

    @property
    def train_accuracy(self) -> float:
        """The fraction of train pairs the program got right (0 for no program)."""
        if not self.train_results:
            return 0.0
        right = sum(1 for result in self.train_results if result.status == "correct")
        return right / len(self.train_results)

    @property
    def fits_train(self) -> bool:
        """Whether the program reproduces every train pair."""
        return bool(self.train_results) and self.train_accuracy == 1.0

    @property
    def solves_task(self) -> bool:
        """Whether the program is verified: every train pair right and every test output with
        a known answer right (`arcbench export` writes only these by default)."""
        return (
            self.error is None
            and self.code is not None
            and solves_pairs(self.train_results or [], self.correct or [])
        )

    def describe(self) -> str:
        """One line for run.log: where, what came of it, how long and how many tokens."""
        if self.error or self.parse_error:
            outcome = str(self.error or self.parse_error)
        else:
            right = sum(1 for r in self.train_results or () if r.status == "correct")
            outcome = f"{right}/{len(self.train_results or ())} train pairs, test {self.correct}"
        return (
            f"{self._where()} attempt {self.attempt} round {self.round}: {outcome} "
            f"({self.latency_s:.2f} s, {self.usage.total_tokens} tokens)"
        )


class Judged(Protocol):
    """How a program did on one train pair: a `ProgramResult`, or the checker's own result."""

    @property
    def status(self) -> str: ...


def solves_pairs(train_results: Sequence[Judged], correct: Sequence[bool | None]) -> bool:
    """A program's check passed: at least one train pair, every one right, and no test output
    with a known answer wrong (one without an answer cannot be held against it)."""
    return (
        bool(train_results)
        and all(result.status == "correct" for result in train_results)
        and all(value is not False for value in correct)
    )


def _record_kind(value: Any) -> str:
    if isinstance(value, RecordBase):
        return "codegen" if isinstance(value, CodegenRecord) else "traces"
    test_index = value.get("test_index") if isinstance(value, dict) else None
    return "codegen" if test_index is None else "traces"


Record = Annotated[
    Annotated[TracesRecord, Tag("traces")] | Annotated[CodegenRecord, Tag("codegen")],
    Discriminator(_record_kind),
]
"""Any record of a results file: a traces attempt or a codegen round."""

RECORD: TypeAdapter[TracesRecord | CodegenRecord] = TypeAdapter(Record)


TEXT_FIELDS = frozenset({"messages", "response", "reasoning", "code"})
"""A record's bulky fields: bookkeeping over a long run leaves them in the file."""

_REPEATED = ("run_id", "task_id", "model", "finished_at")
"""Fields whose values recur from record to record: kept once in memory (interned)."""


def parse_record(data: object, *, without_text: bool = False) -> TracesRecord | CodegenRecord:
    """Validate one decoded line of a results file (raises pydantic's `ValidationError`).

    `without_text` drops `TEXT_FIELDS` before validating and shares the strings that recur
    between records, for the records a resume or a report keeps of a whole run: a few hundred
    bytes each instead of the prompt and reply.
    """
    if not (without_text and isinstance(data, dict)):
        return RECORD.validate_python(data)
    kept = {key: value for key, value in data.items() if key not in TEXT_FIELDS}
    for key in _REPEATED:
        if isinstance(kept.get(key), str):
            kept[key] = sys.intern(kept[key])
    record = RECORD.validate_python(kept)
    # pydantic's record of which fields were given explicitly is a set as large as the record's
    # own fields; nothing reads it from these bookkeeping copies, so it is emptied (a third of
    # their memory).
    record.model_fields_set.clear()
    return record


def dump_record(record: RecordBase) -> bytes:
    """One line of `results.jsonl` (without its newline)."""
    return record.__pydantic_serializer__.to_json(record)
