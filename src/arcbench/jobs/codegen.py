"""The `codegen` job: programs from a model, checked in the sandbox.

A work item is `(task, attempt)`. Round 0 asks for reasoning and a `transform(grid)` program;
the program runs in the sandbox on every train input and every test input. While it gets a train
pair wrong and repair rounds remain, the model is shown its program's failures and asked for a
corrected one; every round's program is its own record (`round` 0, 1, …), and an attempt's final
program is its last round's. A resume continues an attempt from its last finished round, the
conversation rebuilt from the records.

Two programs are submitted per task (`arcbench.scoring.choose_programs`): the attempts' final
programs with the best train accuracy, whose outputs on each test input are its two attempts.
The offline baseline (`arcbench.jobs.baseline`) checks and scores its programs the same way.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from arcbench import defaults
from arcbench.errors import ModelError, SandboxError
from arcbench.jobs.asking import AskingJob
from arcbench.jobs.protocol import JobContext, Plan, ProgramChecker, Workload
from arcbench.manifest import (
    CodegenCounts,
    RunManifest,
    RunSummary,
    SandboxInfo,
    ScoreSummary,
)
from arcbench.programs import PairResult, extract_program, judge_train
from arcbench.prompts import codegen_prompt, format_grid, repair_prompt
from arcbench.records import ChatMessage, CodegenRecord, ProgramResult, solves_pairs
from arcbench.replies import parse_offloaded
from arcbench.rundir import RunDirectory, now_iso, read_latest, record_id
from arcbench.runfiles import iter_records
from arcbench.scoring import matches_answer, score_records
from arcbench.settings import Settings
from arcbench.tally import Tally
from arcbench.tasks import Grid, Task
from arcbench.usage import CHARS_PER_TOKEN, Usage

if TYPE_CHECKING:
    from arcbench.sandbox import ProgramOutcome

MAX_FAILURES_SHOWN = 3
"""Failing train pairs shown in a repair prompt: enough to see the pattern, short enough to fit."""


@dataclass(frozen=True)
class CodegenItem:
    """One attempt at a task; `resume_from` is its last finished round's record, if any."""

    run_id: str
    task: Task
    attempt: int
    resume_from: CodegenRecord | None = None


class CodegenJob(AskingJob):
    """Programs from a model, `settings.attempts` per task, each repaired up to
    `settings.rounds` times, checked in the sandbox."""

    PROMPTS = ("codegen", "codegen_repair")

    @staticmethod
    def workload(settings: Settings, tasks: Sequence[Task]) -> Workload:
        """One request per attempt, and one more per repair round a program may need; a repair
        round resends the conversation, counted with replies of the completion limit (or a
        typical length) and a repair message showing the failing pairs."""
        rounds, attempts = settings.rounds, settings.attempts
        reply = (settings.max_tokens or defaults.TYPICAL_REPLY_TOKENS) * CHARS_PER_TOKEN
        first = most = 0
        for task in tasks:
            prompt = len(codegen_prompt(task))
            shown = task.train[:MAX_FAILURES_SHOWN]
            repair = len(repair_prompt("")) + sum(2 * len(format_grid(p.output)) for p in shown)
            first += prompt
            most += (rounds + 1) * prompt + (reply + repair) * rounds * (rounds + 1) // 2
        requests = len(tasks) * attempts
        return Workload(requests, requests * (rounds + 1), first * attempts, most * attempts)

    def __init__(self, context: JobContext) -> None:
        super().__init__(context)
        if context.sandbox is None:
            raise ValueError("CodegenJob needs a sandbox")
        self.sandbox: ProgramChecker = context.sandbox
        self._rounds_reached: dict[tuple[str, int | None, int], int] = {}
        """The round each attempt in flight is in, so a failure is recorded under its id."""

    def manifest_entries(self, previous: RunManifest) -> dict[str, Any]:
        return sandbox_entries(previous, self.sandbox, self.settings.exec_timeout)

    def plan(self, run: RunDirectory) -> Plan[CodegenItem]:
        """Attempts still to run (or to continue), in task order. Attempts to continue need
        their last round's full record (the run keeps records without their text): those are
        read back once, here."""
        partial: set[str] = set()
        remaining = 0
        for item in self._pending(run, {}):
            remaining += 1
            if item.resume_from is not None:
                partial.add(item.resume_from.record_id)
        full = _full_records(run, partial)
        return Plan(self._pending(run, full), len(self.tasks) * self.settings.attempts, remaining)

    def _pending(self, run: RunDirectory, full: dict[str, CodegenRecord]) -> Iterator[CodegenItem]:
        for task in self.tasks:
            for attempt in range(1, self.settings.attempts + 1):
                last: CodegenRecord | None = None
                for round_ in range(self.settings.rounds + 1):
                    rid = record_id(run.run_id, task.id, task.version, None, attempt, round_)
                    record = run.previous.get(rid)
                    if not isinstance(record, CodegenRecord) or record.error is not None:
                        break
                    last = record
                if last is not None and attempt_finished(last, self.settings.rounds):
                    continue
                resume = full.get(last.record_id, last) if last is not None else None
                yield CodegenItem(run.run_id, task, attempt, resume)

    async def work(self, item: CodegenItem) -> AsyncIterator[CodegenRecord]:
        """Ask, extract, check, repair: one record per round."""
        task = item.task
        key = (task.id, task.version, item.attempt)
        if item.resume_from is not None:
            previous = item.resume_from
            messages = [
                *previous.messages,
                ChatMessage(role="assistant", content=previous.response or ""),
                ChatMessage(role="user", content=repair_message(task, previous)),
            ]
            round_ = previous.round + 1
        else:
            messages = [ChatMessage(role="user", content=codegen_prompt(task))]
            round_ = 0
        while True:
            self._rounds_reached[key] = round_
            record = await self._round(item, round_, messages)
            yield record
            if record.error or attempt_finished(record, self.settings.rounds):
                self._rounds_reached.pop(key, None)
                return
            messages = [
                *messages,
                ChatMessage(role="assistant", content=record.response or ""),
                ChatMessage(role="user", content=repair_message(task, record)),
            ]
            round_ += 1

    async def _round(
        self, item: CodegenItem, round_: int, messages: list[ChatMessage]
    ) -> CodegenRecord:
        task = item.task
        started = time.perf_counter()
        identity = program_identity(item.run_id, task, item.attempt, round_)
        completion = await self.ask(messages)
        if isinstance(completion, ModelError):
            return failed_program(
                identity,
                str(completion),
                messages,
                completion.usage,
                completion.cost_usd,
                time.perf_counter() - started,
            )
        program = await parse_offloaded(extract_program, completion.text)
        own = completion.text[: program.start].strip()
        answered: dict[str, Any] = {
            **identity,
            "messages": messages,
            "response": completion.content,
            "reasoning": "\n\n".join(p for p in (completion.reasoning, own) if p),
            "code": program.code,
            "parse_error": program.parse_error,
            "usage": completion.usage,
            "cost_usd": completion.cost_usd,
            "model": completion.model,
        }
        if program.code is None:
            outcome: dict[str, Any] = {
                "train_results": None,
                "predictions": [None] * len(task.test),
                "correct": _graded(task, [None] * len(task.test)),
            }
        else:
            try:
                outcome = await check_program(
                    self.sandbox, task, program.code, self.settings.exec_timeout
                )
            except SandboxError as exc:  # the sandbox broke, not the program: retried on resume
                return failed_program(
                    identity,
                    f"sandbox failure: {exc}",
                    messages,
                    completion.usage,
                    completion.cost_usd,
                    time.perf_counter() - started,
                )
        return CodegenRecord(
            **answered,
            **outcome,
            latency_s=round(time.perf_counter() - started, 3),
            finished_at=now_iso(),
        )

    def failed(self, item: CodegenItem, error: str) -> CodegenRecord:
        task = item.task
        round_ = self._rounds_reached.pop((task.id, task.version, item.attempt), 0)
        return failed_program(program_identity(item.run_id, task, item.attempt, round_), error)

    def summarise(self, run: RunDirectory, tally: Tally, plan: Plan[CodegenItem]) -> RunSummary:
        return summarise_programs(run, tally, self.tasks, plan.total)


def attempt_finished(record: CodegenRecord, rounds: int) -> bool:
    """An attempt needs no more rounds when its program solves the train pairs or rounds ran out
    (a failed round is not finished: a resume retries it)."""
    if record.error is not None:
        return False
    return record.fits_train or record.round >= rounds


def program_identity(run_id: str, task: Task, attempt: int, round_: int) -> dict[str, Any]:
    """The identifying fields of a codegen record (DESIGN.md, "Runs")."""
    return {
        "record_id": record_id(run_id, task.id, task.version, None, attempt, round_),
        "run_id": run_id,
        "task_id": task.id,
        "version": task.version,
        "test_index": None,
        "attempt": attempt,
        "round": round_,
    }


def failed_program(
    identity: dict[str, Any],
    error: str,
    messages: Sequence[ChatMessage] = (),
    usage: Usage | None = None,
    cost: float = 0.0,
    latency: float = 0.0,
) -> CodegenRecord:
    """A round that failed (model unreachable, sandbox broken): retried on resume."""
    return CodegenRecord(
        **identity,
        messages=list(messages),
        usage=usage or Usage(),
        cost_usd=cost,
        latency_s=round(latency, 3),
        finished_at=now_iso(),
        error=error,
    )


@dataclass(frozen=True)
class ProgramRun:
    """A program's outcomes on a task: judged on the train pairs, its predictions for the test
    inputs and whether each is right (None: no known answer), and the sandbox's outcomes on
    the test inputs."""

    train: list[PairResult]
    predictions: list[Grid | None]
    correct: list[bool | None]
    test_outcomes: list[ProgramOutcome]

    @property
    def solves(self) -> bool:
        """Every train pair right and no test output with a known answer wrong."""
        return solves_pairs(self.train, self.correct)


async def run_program(
    sandbox: ProgramChecker, task: Task, code: str, timeout_s: float
) -> ProgramRun:
    """Run a program in the sandbox on every train input, then every test input."""
    inputs = [pair.input for pair in task.train] + [test.input for test in task.test]
    outcomes = await sandbox.check(code, inputs, timeout_s=timeout_s)
    train_outcomes, test_outcomes = outcomes[: len(task.train)], outcomes[len(task.train) :]
    predictions = [o.grid if o.status == "ok" else None for o in test_outcomes]
    return ProgramRun(
        judge_train(task, train_outcomes), predictions, _graded(task, predictions), test_outcomes
    )


async def check_program(
    sandbox: ProgramChecker, task: Task, code: str, timeout_s: float
) -> dict[str, Any]:
    """Run a program in the sandbox on every train input, then every test input: the record
    fields `train_results`, `predictions`, `correct` and `test_results`."""
    run = await run_program(sandbox, task, code, timeout_s)
    # The outcomes are the sandbox's, validated when they crossed into this process: the
    # results are built from them without validating again.
    return {
        "train_results": [ProgramResult.model_construct(**r.as_dict()) for r in run.train],
        "predictions": run.predictions,
        "correct": run.correct,
        "test_results": [
            ProgramResult.model_construct(status=o.status, detail=o.reason or o.message)
            for o in run.test_outcomes
        ],
    }


def _graded(task: Task, predictions: Sequence[list[list[int]] | None]) -> list[bool | None]:
    return [matches_answer(p, t.output) for p, t in zip(predictions, task.test, strict=True)]


def describe_failures(task: Task, train_results: Sequence[ProgramResult]) -> str:
    """What went wrong on the failing train pairs: the traceback, or expected vs produced."""
    parts = []
    for index, result in enumerate(train_results):
        if result.status == "correct":
            continue
        pair = task.train[index]
        if result.status == "wrong":
            shown = format_grid(result.output) if result.output else "(not a grid)"
            parts.append(
                f"Example {index + 1}: wrong output.\nExpected:\n{format_grid(pair.output)}\n"
                f"Your program produced:\n{shown}"
            )
        else:
            parts.append(f"Example {index + 1}: {result.status}.\n{result.detail or ''}".rstrip())
        if len(parts) == MAX_FAILURES_SHOWN:
            break
    return "\n\n".join(parts) if parts else "Every example is right."


def repair_message(task: Task, record: CodegenRecord) -> str:
    """What the model is told after a round: its program's failures, or that it gave none."""
    if record.code is None:
        return (
            f"Your reply had no usable program: {record.parse_error}. "
            "Give the complete transform(grid) function in a final ```python code block."
        )
    return repair_prompt(describe_failures(task, record.train_results or []))


def _full_records(run: RunDirectory, wanted: set[str]) -> dict[str, CodegenRecord]:
    """The complete latest records of the given ids (the run keeps them without their text)."""
    if not wanted:
        return {}
    found: dict[str, CodegenRecord] = {}
    for record in iter_records(run.results_path):
        if isinstance(record, CodegenRecord) and record.record_id in wanted:
            found[record.record_id] = record
    return found


# --- shared with the offline baseline ---------------------------------------------------------


def sandbox_entries(
    previous: RunManifest, sandbox: ProgramChecker, exec_timeout_s: float
) -> dict[str, Any]:
    """run.json's `sandbox`: this session's isolation added to the run's history."""
    isolation = str(sandbox.isolation)
    if previous.sandbox is None:
        info = SandboxInfo(isolation=isolation, exec_timeout_s=exec_timeout_s, sessions=[isolation])
    else:
        info = previous.sandbox.resumed_with(isolation, exec_timeout_s)
    return {"sandbox": info}


def summarise_programs(
    run: RunDirectory, tally: Tally, tasks: Sequence[Task], planned: int | None
) -> RunSummary:
    """A program run's summary. Choosing the two programs per task needs every attempt's final
    program, so it is scored from the results file, as `arcbench report` would score it."""
    latest, _ = read_latest(run.results_path)
    scored = score_records({task.key: len(task.test) for task in tasks}, latest.values())
    return RunSummary(
        counts=CodegenCounts(
            tasks=len(scored.score.tasks),
            test_inputs=scored.score.outputs,
            attempts_planned=planned,
            programs=tally.records - tally.errors,
            errors=tally.errors,
            parse_errors=tally.parse_errors,
            overfit_programs=scored.overfit_programs,
        ),
        score=ScoreSummary.model_validate(
            {**scored.score.as_dict(), "pass_at_k": scored.oracle.per_output}
        ),
        usage=tally.usage,
        cost_usd=round(tally.cost_usd, 6),
    )
