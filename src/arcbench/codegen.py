"""The `codegen` job: programs from a model (or the offline baseline), checked in the sandbox.

A work item is `(task, attempt)`. Round 0 asks for reasoning and a `transform(grid)` program;
the program runs in the sandbox on every train input and every test input. While it gets a train
pair wrong and repair rounds remain, the model is shown its program's failures and asked for a
corrected one; every round's program is its own record (`round` 0, 1, …), and an attempt's final
program is its last round's. A resume continues an attempt from its last finished round, the
conversation rebuilt from the records.

Two programs are submitted per task: the attempts' final programs with the best train accuracy
(ties by attempt order); their outputs on each test input are that input's two attempts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from arcbench.errors import ModelError, SandboxError
from arcbench.programs import PairResult, extract_program, judge_train, train_accuracy
from arcbench.prompts import codegen_prompt, format_grid, repair_prompt
from arcbench.records import NO_USAGE, appender, base_record, mark_failed, run_checkpointed
from arcbench.rundir import RunDirectory, now_iso, record_id
from arcbench.runfiles import iter_results
from arcbench.runner import Outcome, Stopper
from arcbench.scoring import is_correct
from arcbench.tasks import Task

PROMPTS = ("codegen", "codegen_repair")
MAX_FAILURES_SHOWN = 3
"""Failing train pairs shown in a repair prompt: enough to see the pattern, short enough to fit."""

Message = dict[str, str]


@dataclass(frozen=True)
class CodegenOptions:
    attempts: int = 2
    rounds: int = 0
    exec_timeout: float = 2.0
    temperature: float | None = None
    max_tokens: int | None = None
    max_concurrent: int = 4


@dataclass(frozen=True)
class Attempt:
    """One attempt at a task; `resume_from` is its last finished round's record, if any."""

    task: Task
    attempt: int
    resume_from: dict[str, Any] | None = None


def attempt_finished(record: dict[str, Any], rounds: int) -> bool:
    """An attempt needs no more rounds when its program solves the train pairs or rounds ran out."""
    if record.get("error") is not None:
        return False
    solved = train_accuracy(record.get("train_results")) == 1.0
    return solved or int(record.get("round") or 0) >= rounds


def plan_attempts(
    run_id: str, tasks: Sequence[Task], options: CodegenOptions, previous: dict[str, dict[str, Any]]
) -> list[Attempt]:
    """Attempts still to run (or to continue), in task order."""
    plan = []
    for task in tasks:
        for attempt in range(1, options.attempts + 1):
            last: dict[str, Any] | None = None
            for round_ in range(options.rounds + 1):
                record = previous.get(
                    record_id(run_id, task.id, task.version, None, attempt, round_)
                )
                if record is None or record.get("error") is not None:
                    break
                last = record
            if last is not None and attempt_finished(last, options.rounds):
                continue
            plan.append(Attempt(task, attempt, last))
    return plan


def describe_failures(task: Task, train_results: Sequence[dict[str, Any]]) -> str:
    """What went wrong on the failing train pairs: the traceback, or expected vs produced."""
    parts = []
    for index, result in enumerate(train_results):
        if result["status"] == "correct":
            continue
        pair = task.train[index]
        if result["status"] == "wrong":
            produced = result.get("output")
            shown = format_grid(produced) if produced else "(not a grid)"
            parts.append(
                f"Example {index + 1}: wrong output.\nExpected:\n{format_grid(pair.output)}\n"
                f"Your program produced:\n{shown}"
            )
        else:
            parts.append(
                f"Example {index + 1}: {result['status']}.\n{result.get('detail') or ''}".rstrip()
            )
        if len(parts) == MAX_FAILURES_SHOWN:
            break
    return "\n\n".join(parts) if parts else "Every example is right."


class CodegenWork:
    """Runs one attempt's rounds: ask, extract, check, repair."""

    def __init__(
        self,
        run: RunDirectory,
        model: Any,
        sandbox: Any,
        options: CodegenOptions,
        append: Callable[[dict[str, Any]], None],
    ) -> None:
        self.run = run
        self.model = model
        self.sandbox = sandbox
        self.options = options
        self.append = append
        self.rounds_reached: dict[tuple[str, int | None, int], int] = {}
        """The round each attempt is in, so an unexpected failure is recorded under its id."""

    async def __call__(self, item: Attempt) -> dict[str, Any]:
        task = item.task
        if item.resume_from is not None:
            previous = item.resume_from
            messages = [
                *previous["messages"],
                {"role": "assistant", "content": previous["response"] or ""},
            ]
            messages.append({"role": "user", "content": previous["_repair"]})
            round_ = int(previous["round"]) + 1
        else:
            messages = [{"role": "user", "content": codegen_prompt(task)}]
            round_ = 0
        while True:
            self.rounds_reached[(task.id, task.version, item.attempt)] = round_
            record = await self._round(task, item.attempt, round_, messages)
            if (
                round_ >= self.options.rounds
                or attempt_finished(record, self.options.rounds)
                or record["error"]
            ):
                return record
            self.append(record)
            messages = [*messages, {"role": "assistant", "content": record["response"] or ""}]
            messages.append({"role": "user", "content": record.pop("_repair")})
            round_ += 1

    async def _round(
        self, task: Task, attempt: int, round_: int, messages: list[Message]
    ) -> dict[str, Any]:
        record = base_record(
            self.run, task, test_index=None, attempt=attempt, round_=round_, messages=messages
        )
        started = time.perf_counter()
        try:
            completion = await self.model.complete(
                messages, temperature=self.options.temperature, max_tokens=self.options.max_tokens
            )
        except ModelError as exc:
            if exc.fatal:
                raise
            return failed_record(
                record, str(exc), exc.usage, exc.cost_usd, time.perf_counter() - started
            )
        program = extract_program(completion.text)
        own = completion.text[: program.start].strip()
        record.update(
            response=completion.content,
            reasoning="\n\n".join(p for p in (completion.reasoning, own) if p),
            code=program.code,
            parse_error=program.parse_error,
            usage=completion.usage.as_dict(),
            cost_usd=completion.cost_usd,
            model=completion.model,
        )
        try:
            await self._check(task, record)
        except SandboxError as exc:  # the sandbox broke, not the program: retried on resume
            return failed_record(
                record,
                f"sandbox failure: {exc}",
                completion.usage,
                completion.cost_usd,
                time.perf_counter() - started,
            )
        record["latency_s"] = round(time.perf_counter() - started, 3)
        record["finished_at"] = now_iso()
        record["error"] = None
        return record

    async def _check(self, task: Task, record: dict[str, Any]) -> None:
        """Run the program on every train and test input; fill in the results and the repair."""
        code = record.get("code")
        if code is None:
            record.update(
                train_results=None,
                predictions=[None] * len(task.test),
                correct=_correct(task, [None] * len(task.test)),
            )
            record["_repair"] = _no_program(record["parse_error"])
            return
        record.update(await check_program(self.sandbox, task, code, self.options.exec_timeout))
        record["_repair"] = repair_prompt(describe_failures(task, record["train_results"]))


async def check_program(sandbox: Any, task: Task, code: str, timeout_s: float) -> dict[str, Any]:
    """Run a program in the sandbox on every train input, then every test input: the record
    fields `train_results`, `predictions`, `correct` and `test_results`."""
    inputs = [pair.input for pair in task.train] + [test.input for test in task.test]
    outcomes = await sandbox.check(code, inputs, timeout_s=timeout_s)
    train_outcomes, test_outcomes = outcomes[: len(task.train)], outcomes[len(task.train) :]
    predictions = [o.grid if o.status == "ok" else None for o in test_outcomes]
    return {
        "train_results": [r.as_dict() for r in judge_train(task, train_outcomes)],
        "predictions": predictions,
        "correct": _correct(task, predictions),
        "test_results": [
            PairResult(str(o.status), o.reason or o.message).as_dict() for o in test_outcomes
        ],
    }


def _correct(task: Task, predictions: Sequence[list[list[int]] | None]) -> list[bool | None]:
    return [is_correct(p, t.output) for p, t in zip(predictions, task.test, strict=True)]


EMPTY_OUTCOME = {"code": None, "train_results": None, "predictions": None, "correct": None}
"""A failed codegen attempt's outcome fields."""


def failed_record(
    record: dict[str, Any], error: str, usage: Any = None, cost: float = 0.0, latency: float = 0.0
) -> dict[str, Any]:
    """An attempt that failed (model unreachable, sandbox broken): retried on resume."""
    return mark_failed(record, error, empty=EMPTY_OUTCOME, usage=usage, cost=cost, latency=latency)


async def run_codegen(
    run: RunDirectory,
    model: Any,
    sandbox: Any,
    planned: Sequence[Attempt],
    options: CodegenOptions,
    *,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    stopper: Stopper | None = None,
) -> Outcome:
    """Run the attempts `plan_attempts` left to do, appending each round's record the moment
    it exists."""
    append = appender(run, on_record)
    work = CodegenWork(run, model, sandbox, options, append)
    items = list(planned)
    partial = {str(item.resume_from["record_id"]) for item in items if item.resume_from}
    full = _full_records(run, partial)
    for index, item in enumerate(items):
        if item.resume_from is not None:
            resumed = dict(full[str(item.resume_from["record_id"])])
            resumed["_repair"] = _rebuild_repair(item.task, resumed)
            items[index] = Attempt(item.task, item.attempt, resumed)

    def on_error(item: Attempt, exc: Exception) -> dict[str, Any]:
        task = item.task
        round_ = work.rounds_reached.get((task.id, task.version, item.attempt), 0)
        record = base_record(run, task, test_index=None, attempt=item.attempt, round_=round_)
        return failed_record(record, f"{type(exc).__name__}: {exc}")

    return await run_checkpointed(
        items,
        work,
        append=append,
        on_error=on_error,
        max_concurrent=options.max_concurrent,
        stopper=stopper,
    )


def _full_records(run: RunDirectory, wanted: set[str]) -> dict[str, dict[str, Any]]:
    """The complete latest records of the given ids (resume keeps only slim ones in memory)."""
    if not wanted:
        return {}
    found: dict[str, dict[str, Any]] = {}
    for record in iter_results(run.results_path):
        if record.get("record_id") in wanted:
            found[str(record["record_id"])] = record
    return found


def _no_program(parse_error: object) -> str:
    return (
        f"Your reply had no usable program: {parse_error}. "
        "Give the complete transform(grid) function in a final ```python code block."
    )


def _rebuild_repair(task: Task, record: dict[str, Any]) -> str:
    """The repair message a finished round would have been followed by (for resume)."""
    if record.get("code") is None:
        return _no_program(record.get("parse_error"))
    return repair_prompt(describe_failures(task, record.get("train_results") or []))


# --- the offline baseline -----------------------------------------------------------------------


class BaselineWork:
    """Checks every catalog candidate of a task in the sandbox; one record per candidate.

    Candidates are numbered as attempts (1, 2, …) in catalog order, so ties in train accuracy go
    to the simpler rule, and they are deterministic, so a resume skips the ones already checked.
    """

    def __init__(
        self,
        run: RunDirectory,
        sandbox: Any,
        options: CodegenOptions,
        append: Callable[[dict[str, Any]], None],
    ) -> None:
        self.run = run
        self.sandbox = sandbox
        self.options = options
        self.append = append

    async def __call__(self, task: Task) -> dict[str, Any]:
        import asyncio

        from arcbench.baseline import generate_candidates

        candidates = generate_candidates(task)
        pending = [
            (number, candidate)
            for number, candidate in enumerate(candidates, start=1)
            if record_id(self.run.run_id, task.id, task.version, None, number, 0)
            not in self.run.done
        ]
        records = await asyncio.gather(
            *(self._check(task, number, candidate) for number, candidate in pending)
        )
        for record in records[:-1]:
            self.append(record)
        return records[-1] if records else {}

    async def _check(self, task: Task, number: int, candidate: Any) -> dict[str, Any]:
        started = time.perf_counter()
        record = base_record(self.run, task, test_index=None, attempt=number)
        record |= {
            "response": None,
            "reasoning": "",  # a catalog rule has no reasoning; `merge` makes no trace of it
            "code": candidate.code,
            "parse_error": None,
            "usage": dict(NO_USAGE),
            "cost_usd": 0.0,
            "model": "baseline",
            "rule": candidate.name,
        }
        try:
            checked = await check_program(
                self.sandbox, task, candidate.code, self.options.exec_timeout
            )
        except SandboxError as exc:  # retried on resume: this candidate is not done
            return failed_record(record, f"sandbox failure: {exc}")
        record.update(
            checked,
            latency_s=round(time.perf_counter() - started, 3),
            finished_at=now_iso(),
            error=None,
        )
        return record


async def run_baseline(
    run: RunDirectory,
    sandbox: Any,
    tasks: Sequence[Task],
    options: CodegenOptions,
    *,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    stopper: Stopper | None = None,
) -> Outcome:
    """Check the baseline's candidates for every task, a task at a time per slot."""
    append = appender(run, on_record)
    work = BaselineWork(run, sandbox, options, append)

    def on_error(task: Task, exc: Exception) -> dict[str, Any]:
        record = base_record(run, task, test_index=None, attempt=0)
        return failed_record(record, f"{type(exc).__name__}: {exc}")

    return await run_checkpointed(
        tasks,
        work,
        append=append,
        on_error=on_error,
        max_concurrent=options.max_concurrent,
        stopper=stopper,
    )
