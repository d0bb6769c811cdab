"""The plan of a run: what it will ask and roughly what that costs, known before it starts.

The command line prints it when a run starts, so that a user sees what a run will cost before
paying for it: the tasks and test inputs selected, the requests the job will send (a range where
failed programs may be repaired), with test-time augmentation how many views of every task
multiply them, and, for a model with registry prices, a cost estimate as a range: from the
prompts alone to every request also using its whole completion allowance (`--max-tokens`, else a
stated typical reply). Prompt tokens are counted on the actual prompts at characters/4, an
approximation the plan states. A library caller gets the same object from `plan_run`.
"""

from __future__ import annotations

from dataclasses import dataclass

from arcbench import defaults
from arcbench.jobs.engine import JobRequest
from arcbench.jobs.protocol import Workload
from arcbench.usage import Usage, approximate_tokens, priced_cost


@dataclass(frozen=True)
class RunPlan:
    """What a run will do (see the module docstring). `requests`, `most_requests` and the
    prompts count every view; `views` is the multiplier (1 without `--augment`). Prices are USD
    per million tokens (None: the registry has none); `reply_tokens` is the completion allowance
    per request the estimate assumes, `reply_tokens_given` whether it is `--max-tokens` rather
    than a typical length."""

    command: str
    model: str
    provider: str
    offline: bool
    tasks: int
    test_inputs: int
    attempts: int
    augment: str | None
    workload: Workload
    input_price: float | None = None
    output_price: float | None = None
    reply_tokens: int = defaults.TYPICAL_REPLY_TOKENS
    reply_tokens_given: bool = False
    max_cost: float | None = None

    @property
    def views(self) -> int:
        return self.workload.views

    @property
    def requests(self) -> int:
        return self.workload.requests

    @property
    def most_requests(self) -> int:
        return self.workload.most_requests

    @property
    def prompt_tokens(self) -> int:
        """Prompt tokens of the requests sure to be sent (characters/4)."""
        return approximate_tokens(self.workload.prompt_chars)

    @property
    def priced(self) -> bool:
        return self.input_price is not None or self.output_price is not None

    def cost_range(self) -> tuple[float, float] | None:
        """The estimate in USD, lowest to highest; None without registry prices."""
        low = priced_cost(Usage(self.prompt_tokens, 0), self.input_price, self.output_price)
        most = Usage(
            approximate_tokens(self.workload.most_prompt_chars),
            self.most_requests * self.reply_tokens,
        )
        high = priced_cost(most, self.input_price, self.output_price)
        if low is None or high is None:
            return None
        return low, high


def plan_run(request: JobRequest) -> RunPlan:
    """The plan of `request`; raises what making its job would (a bad `--augment`, say)."""
    kind = request.kind
    settings = request.settings
    entry = request.model
    return RunPlan(
        command=kind.command,
        model=entry.name,
        provider=entry.provider,
        offline=kind.offline,
        tasks=len(request.tasks),
        test_inputs=sum(len(task.test) for task in request.tasks),
        attempts=settings.attempts,
        augment=settings.augment,
        workload=kind.workload(settings, request.tasks),
        input_price=entry.input_price,
        output_price=entry.output_price,
        reply_tokens=settings.max_tokens or defaults.TYPICAL_REPLY_TOKENS,
        reply_tokens_given=settings.max_tokens is not None,
        max_cost=settings.max_cost,
    )
