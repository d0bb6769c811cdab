"""Result records: the fields every record starts with, the form of a failed attempt, and
running work whose every result is appended to the run the moment it exists.

`traces` and `codegen` differ in what an attempt produces; how an attempt is identified, how a
failure is written down (so that a resume retries it) and how results reach `results.jsonl`
are the same, and live here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from arcbench.errors import RunOutputError
from arcbench.rundir import RunDirectory, now_iso, record_id
from arcbench.runner import Outcome, Runner, Stopper, sigint_stops
from arcbench.tasks import Task

T = TypeVar("T")

NO_USAGE = {"prompt_tokens": 0, "completion_tokens": 0, "reasoning_tokens": 0}


def base_record(
    run: RunDirectory,
    task: Task,
    *,
    test_index: int | None,
    attempt: int,
    round_: int = 0,
    messages: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """The identifying fields every record starts with (DESIGN.md, "Runs")."""
    return {
        "record_id": record_id(run.run_id, task.id, task.version, test_index, attempt, round_),
        "run_id": run.run_id,
        "task_id": task.id,
        "version": task.version,
        "test_index": test_index,
        "attempt": attempt,
        "round": round_,
        "messages": messages or [],
    }


def mark_failed(
    record: dict[str, Any],
    error: str,
    *,
    empty: Mapping[str, Any],
    usage: Any = None,
    cost: float = 0.0,
    latency: float = 0.0,
) -> dict[str, Any]:
    """Turn a record into a failed attempt's: `error` set (so a resume retries it), the
    command's outcome fields `empty`, and whatever the failed calls cost."""
    record.update(empty)
    record.update(
        response=None,
        reasoning="",
        parse_error=None,
        usage=usage.as_dict() if usage is not None else dict(NO_USAGE),
        cost_usd=cost,
        latency_s=round(latency, 3),
        finished_at=now_iso(),
        error=error,
    )
    return record


def is_fatal(exc: BaseException) -> bool:
    """Errors that stop a whole run: an unwritable run directory, a refused key, no credits."""
    return isinstance(exc, RunOutputError) or bool(getattr(exc, "fatal", False))


async def run_checkpointed(
    items: Iterable[T],
    work: Callable[[T], Any],
    *,
    append: Callable[[dict[str, Any]], None],
    on_error: Callable[[T, Exception], dict[str, Any]],
    max_concurrent: int,
    stopper: Stopper | None = None,
) -> Outcome:
    """Run `work` over `items`, handing each result record to `append` (see `appender`) the
    moment it exists. Returns how the run ended; Ctrl+C is handled as `runner.Stopper` says."""
    runner: Runner[T, dict[str, Any]] = Runner(
        work,
        max_concurrent=max_concurrent,
        on_result=append,
        on_error=on_error,
        is_fatal=is_fatal,
        stopper=stopper,
    )
    with sigint_stops(runner.stopper):
        return await runner.run(iter(items))


def appender(
    run: RunDirectory, on_record: Callable[[dict[str, Any]], None] | None
) -> Callable[[dict[str, Any]], None]:
    """A function that writes one record to the run and then reports it. Keys starting with
    `_` stay in memory only; an empty dict is nothing to write."""

    def append(record: dict[str, Any]) -> None:
        if not record:
            return
        clean = {k: v for k, v in record.items() if not k.startswith("_")}
        try:
            run.append(clean)
        except OSError as exc:
            raise RunOutputError(f"cannot write {run.results_path}: {exc.strerror}") from None
        if on_record is not None:
            on_record(clean)

    return append
