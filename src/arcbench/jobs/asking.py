"""What the jobs that ask a language model share: the model, how run.json describes it, the
version of the prompts they send (part of a run's identity, so a resume never mixes prompts),
and the one place every request goes through, where the run's budget admits it or stops the
run (`arcbench.budget`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from arcbench.errors import ModelError
from arcbench.jobs.protocol import ChatModel, JobContext
from arcbench.manifest import AugmentationInfo, ModelInfo
from arcbench.prompts import prompt_version
from arcbench.records import ChatMessage

if TYPE_CHECKING:
    from arcbench.client import Completion


class AskingJob:
    """A job that needs a model; `PROMPTS` names the templates it sends."""

    PROMPTS: ClassVar[tuple[str, ...]]

    def __init__(self, context: JobContext) -> None:
        if context.model is None:
            raise ValueError(f"{type(self).__name__} needs a model")
        self.model: ChatModel = context.model
        self.tasks = context.tasks
        self.settings = context.settings
        self.budget = context.budget

    @property
    def model_info(self) -> ModelInfo:
        return ModelInfo.model_validate(self.model.describe())

    @property
    def prompt_version(self) -> str:
        return prompt_version(*self.PROMPTS)

    @property
    def augmentation(self) -> AugmentationInfo | None:
        return None

    async def ask(self, messages: Sequence[ChatMessage]) -> Completion | ModelError:
        """The model's reply, or the error that makes this attempt a failed one (recorded, and
        retried on resume). A fatal error (a refused key, no credits) is raised: it stops the
        run; so is `BudgetExhausted` when the budget refuses the request, which is not sent."""
        budget = self.budget
        reservation = None if budget is None else budget.admit([m.content for m in messages])
        cost, unmetered = 0.0, 1  # cancelled before the end: charged at its worst case
        try:
            completion = await self.model.complete(
                [message.model_dump() for message in messages],
                temperature=self.settings.temperature,
                max_tokens=self.settings.max_tokens,
            )
            cost, unmetered = completion.cost_usd, completion.unmetered
            return completion
        except ModelError as exc:
            cost, unmetered = exc.cost_usd, exc.unmetered
            if exc.fatal:
                raise
            return exc
        finally:
            if budget is not None and reservation is not None:
                budget.settle(reservation, cost, unmetered=unmetered)
