"""The `traces` job: ask a model for reasoning and an output grid per test input and attempt.

Work items are `(task, test index, attempt)`, planned lazily in task order. Each becomes one
`TracesRecord`: the prompt, the raw reply, the reasoning, the predicted grid or why there is none,
whether it is correct, tokens, cost and latency. A model failure (unreachable, retries exhausted)
becomes a record with `error`, which a resume retries; bad credentials stop the run.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from arcbench.answers import extract_grid, text_before_answer
from arcbench.errors import ModelError
from arcbench.jobs.asking import AskingJob
from arcbench.jobs.protocol import Plan, Workload
from arcbench.manifest import RunManifest, RunSummary, ScoreSummary, TracesCounts
from arcbench.prompts import traces_prompt
from arcbench.records import ChatMessage, TracesRecord
from arcbench.replies import parse_offloaded
from arcbench.rundir import RunDirectory, now_iso, record_id
from arcbench.scoring import matches_answer, score_solved
from arcbench.settings import Settings
from arcbench.tally import Tally
from arcbench.tasks import Task
from arcbench.usage import Usage


@dataclass(frozen=True)
class TracesItem:
    """One attempt at one test input of a task."""

    run_id: str
    task: Task
    test_index: int
    attempt: int
    record_id: str


class TracesJob(AskingJob):
    """Reasoning and a predicted grid for every test input, `settings.attempts` times."""

    PROMPTS = ("traces",)

    @staticmethod
    def workload(settings: Settings, tasks: Sequence[Task]) -> Workload:
        """One request per test input and attempt, each prompt measured."""
        chars = sum(len(traces_prompt(task, i)) for task in tasks for i in range(len(task.test)))
        requests = sum(len(task.test) for task in tasks) * settings.attempts
        return Workload(requests, requests, chars * settings.attempts, chars * settings.attempts)

    def manifest_entries(self, previous: RunManifest) -> dict[str, Any]:
        return {}

    def plan(self, run: RunDirectory) -> Plan[TracesItem]:
        """Every (task, test input, attempt) not finished yet, in task order."""
        total = sum(len(task.test) for task in self.tasks) * self.settings.attempts
        remaining = sum(1 for _ in self._pending(run))
        return Plan(self._pending(run), total, remaining)

    def _pending(self, run: RunDirectory) -> Iterator[TracesItem]:
        for task in self.tasks:
            for test_index in range(len(task.test)):
                for attempt in range(1, self.settings.attempts + 1):
                    rid = record_id(run.run_id, task.id, task.version, test_index, attempt, 0)
                    if rid not in run.done:
                        yield TracesItem(run.run_id, task, test_index, attempt, rid)

    async def work(self, item: TracesItem) -> AsyncIterator[TracesRecord]:
        messages = [ChatMessage(role="user", content=traces_prompt(item.task, item.test_index))]
        started = time.perf_counter()
        completion = await self.ask(messages)
        if isinstance(completion, ModelError):
            yield self._failure(
                item,
                str(completion),
                messages,
                completion.usage,
                completion.cost_usd,
                time.perf_counter() - started,
            )
            return
        answer = await parse_offloaded(extract_grid, completion.text)
        own = text_before_answer(completion.text, answer)
        yield TracesRecord(
            **self._identity(item),
            messages=messages,
            response=completion.content,
            reasoning="\n\n".join(part for part in (completion.reasoning, own) if part),
            prediction=answer.grid,
            correct=matches_answer(answer.grid, item.task.test[item.test_index].output),
            parse_error=answer.parse_error,
            usage=completion.usage,
            cost_usd=completion.cost_usd,
            latency_s=round(completion.latency_s, 3),
            model=completion.model,
            finished_at=now_iso(),
        )

    def failed(self, item: TracesItem, error: str) -> TracesRecord:
        messages = [ChatMessage(role="user", content=traces_prompt(item.task, item.test_index))]
        return self._failure(item, error, messages)

    def _failure(
        self,
        item: TracesItem,
        error: str,
        messages: list[ChatMessage],
        usage: Usage | None = None,
        cost: float = 0.0,
        latency: float = 0.0,
    ) -> TracesRecord:
        return TracesRecord(
            **self._identity(item),
            messages=messages,
            usage=usage or Usage(),
            cost_usd=cost,
            latency_s=round(latency, 3),
            finished_at=now_iso(),
            error=error,
        )

    def _identity(self, item: TracesItem) -> dict[str, Any]:
        task = item.task
        return {
            "record_id": item.record_id,
            "run_id": item.run_id,
            "task_id": task.id,
            "version": task.version,
            "test_index": item.test_index,
            "attempt": item.attempt,
            "round": 0,
        }

    def summarise(self, run: RunDirectory, tally: Tally, plan: Plan[TracesItem]) -> RunSummary:
        """Scored from the tally, which knows every solved output: no need to re-read."""
        tasks = self.tasks
        unanswered = [
            (task.id, task.version, index)
            for task in tasks
            for index, test in enumerate(task.test)
            if test.output is None
        ]
        score = score_solved({task.key: len(task.test) for task in tasks}, tally.solved, unanswered)
        return RunSummary(
            counts=TracesCounts(
                tasks=len(tasks),
                test_inputs=sum(len(task.test) for task in tasks),
                attempts_planned=plan.total,
                attempts_done=tally.records - tally.errors,
                errors=tally.errors,
                parse_errors=tally.parse_errors,
                correct=tally.correct,
            ),
            score=ScoreSummary.model_validate(score.as_dict()),
            usage=tally.usage,
            cost_usd=round(tally.cost_usd, 6),
        )
