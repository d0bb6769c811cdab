"""The `traces` job: ask a model for reasoning and an output grid per test input and attempt.

Work items are `(task, test index, attempt)`. Each becomes one record in `results.jsonl` (the
keys DESIGN.md fixes): the prompt, the raw reply, the reasoning, the predicted grid or why there
is none, whether it is correct, tokens, cost and latency. A model failure (unreachable, retries
exhausted) becomes a record with `error`, which a resume retries; bad credentials stop the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from arcbench.answers import extract_grid, reasoning_text
from arcbench.datasets import Dataset
from arcbench.errors import ModelError
from arcbench.prompts import traces_prompt
from arcbench.records import appender, base_record, mark_failed, run_checkpointed
from arcbench.rundir import RunDirectory, now_iso, record_id
from arcbench.runner import Outcome, Stopper
from arcbench.scoring import is_correct
from arcbench.tasks import Task

PROMPT = "traces"


class ChatModel(Protocol):
    """What the job needs of a model client (the HTTP client satisfies it)."""

    async def start(self) -> str: ...

    def describe(self) -> dict[str, Any]: ...

    async def complete(
        self,
        messages: Sequence[dict[str, str]],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Any: ...


@dataclass(frozen=True)
class TracesOptions:
    """The job's own options; run directory and model are given separately."""

    attempts: int = 2
    temperature: float | None = None
    max_tokens: int | None = None
    max_concurrent: int = 4


@dataclass(frozen=True)
class WorkItem:
    task: Task
    test_index: int
    attempt: int
    record_id: str


def dataset_identity(dataset: Dataset, tasks: Sequence[Task]) -> dict[str, Any]:
    """What run.json records under `dataset`: the spec, the selected tasks and their hash."""
    selected = Dataset(dataset.spec, list(tasks))
    return {
        "spec": dataset.spec,
        "task_ids": [task.label for task in tasks],
        "test_inputs": {task.label: len(task.test) for task in tasks},
        "content_hash": selected.content_hash(),
    }


def plan_items(run_id: str, tasks: Sequence[Task], attempts: int, done: set[str]) -> list[WorkItem]:
    """Every (task, test input, attempt) not finished yet, in task order."""
    items = []
    for task in tasks:
        for test_index in range(len(task.test)):
            for attempt in range(1, attempts + 1):
                rid = record_id(run_id, task.id, task.version, test_index, attempt, 0)
                if rid not in done:
                    items.append(WorkItem(task, test_index, attempt, rid))
    return items


def _messages(item: WorkItem) -> list[dict[str, str]]:
    return [{"role": "user", "content": traces_prompt(item.task, item.test_index)}]


async def run_traces(
    run: RunDirectory,
    model: ChatModel,
    items: Sequence[WorkItem],
    options: TracesOptions,
    *,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    stopper: Stopper | None = None,
) -> Outcome:
    """Run the attempts `plan_items` left to do, appending each record the moment it finishes."""

    async def work(item: WorkItem) -> dict[str, Any]:
        messages = _messages(item)
        record = base_record(
            run, item.task, test_index=item.test_index, attempt=item.attempt, messages=messages
        )
        started = time.perf_counter()
        try:
            completion = await model.complete(
                messages, temperature=options.temperature, max_tokens=options.max_tokens
            )
        except ModelError as exc:
            if exc.fatal:
                raise
            return mark_failed(
                record,
                str(exc),
                empty=EMPTY_OUTCOME,
                usage=exc.usage,
                cost=exc.cost_usd,
                latency=time.perf_counter() - started,
            )
        answer = extract_grid(completion.text)
        own = reasoning_text(completion.text, answer)
        reasoning = "\n\n".join(part for part in (completion.reasoning, own) if part)
        answer_grid = item.task.test[item.test_index].output
        record.update(
            response=completion.content,
            reasoning=reasoning,
            prediction=answer.grid,
            correct=is_correct(answer.grid, answer_grid),
            parse_error=answer.parse_error,
            usage=completion.usage.as_dict(),
            cost_usd=completion.cost_usd,
            latency_s=round(completion.latency_s, 3),
            model=completion.model,
            finished_at=now_iso(),
            error=None,
        )
        return record

    def on_error(item: WorkItem, exc: Exception) -> dict[str, Any]:
        record = base_record(
            run,
            item.task,
            test_index=item.test_index,
            attempt=item.attempt,
            messages=_messages(item),
        )
        return mark_failed(record, f"{type(exc).__name__}: {exc}", empty=EMPTY_OUTCOME)

    return await run_checkpointed(
        items,
        work,
        append=appender(run, on_record),
        on_error=on_error,
        max_concurrent=options.max_concurrent,
        stopper=stopper,
    )


EMPTY_OUTCOME = {"prediction": None, "correct": None}
"""A failed traces attempt's outcome fields."""


def default_run_name(command: str, model: str, dataset: str, now: str) -> str:
    """`traces-LOCAL_0-arc-agi-2-evaluation-20261122-101500`: readable and unique per start."""
    from arcbench.datasets import BUNDLED_SPECS

    def clean(text: str) -> str:
        return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in text).strip("-")

    source = dataset if dataset in BUNDLED_SPECS else Path(dataset).stem
    return f"{command}-{clean(model)}-{clean(source)}-{now}"
