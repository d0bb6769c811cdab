"""Progress of a model job: a Rich progress bar on a terminal, plain log lines elsewhere."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

if TYPE_CHECKING:
    from arcbench.client import RetryEvent
    from arcbench.jobs import RunPlan
    from arcbench.records import RecordBase
    from arcbench.rundir import RunDirectory
    from arcbench.tally import Tally

PLAIN_INTERVAL_S = 10.0


def _tokens(count: int) -> str:
    if count >= 1_000_000:
        return f"{count / 1_000_000:.1f}M"
    if count >= 1_000:
        return f"{count / 1_000:.1f}k"
    return str(count)


class ProgressReporter:
    """Draws a job's progress on stderr; implements the library's `JobReporter` protocol."""

    def __init__(self, console: Console | None = None, plan: RunPlan | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self._plan = plan
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._total: int | None = 0
        self._done = 0
        self._started = time.monotonic()
        self._last_line = 0.0
        self._session_done = 0

    # -- JobReporter --------------------------------------------------------------------------

    def started(
        self, run: RunDirectory, total: int | None, remaining: int | None, tally: Tally
    ) -> None:
        self._total = total
        self._done = 0 if total is None or remaining is None else total - remaining
        self._started = time.monotonic()
        if self._plan is not None:
            print_plan(self._plan, self.console)
        verb = "resuming" if run.resumed else "starting"
        todo = "" if total is None else f" ({remaining} of {total} attempts to go)"
        self.console.print(f"{verb} run {run.path}{todo}")
        if run.torn is not None:
            self.console.print(f"[yellow]{run.torn.describe()}[/yellow]")
        if self.console.is_terminal:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[stats]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task(
                "attempts", total=total, completed=self._done, stats=self._stats(tally)
            )

    def record(self, record: RecordBase, tally: Tally, finished: bool = True) -> None:
        step = 1 if finished else 0
        self._done += step
        self._session_done += step
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=step, stats=self._stats(tally))
            return
        now = time.monotonic()
        if now - self._last_line >= PLAIN_INTERVAL_S or self._done == self._total:
            self._last_line = now
            total = "?" if self._total is None else self._total
            self.console.print(f"[{self._done}/{total}] {self._stats(tally)} {self._rate()}")

    def stopping(self, cancelling: bool) -> None:
        if cancelling:
            self.console.print("[red]cancelling the requests in flight[/red]")
        else:
            self.console.print(
                "[yellow]stopping: finishing the requests in flight "
                "(Ctrl+C again cancels them)[/yellow]"
            )

    def retrying(self, event: RetryEvent) -> None:
        """The model client's `on_retry`: a dim line above the bar (run.log has them all)."""
        if self._progress is None:
            return
        self._progress.console.print(
            f"[dim]retrying ({event.reason}), request {event.attempt}[/dim]", highlight=False
        )

    # -- helpers ------------------------------------------------------------------------------

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def _stats(self, tally: Tally) -> str:
        tokens = tally.usage.total_tokens
        fits = f"fit train {tally.fit_train} · " if tally.fit_train else ""
        elapsed = time.monotonic() - self._started
        rate = f" · {self._session_done / elapsed:.1f}/s" if self._session_done and elapsed else ""
        return (
            f"solved {len(tally.solved)} · {fits}errors {tally.errors} · "
            f"tokens {_tokens(tokens)} · ${tally.cost_usd:.4f}{rate}"
        )

    def _rate(self) -> str:
        elapsed = time.monotonic() - self._started
        if not self._session_done or elapsed <= 0 or self._total is None:
            return ""
        left = (self._total - self._done) / (self._session_done / elapsed)
        return f"· ETA {int(left // 60)}m{int(left % 60):02d}s"


def print_plan(plan: RunPlan, console: Console) -> None:
    """What the run will ask and roughly cost, when it starts (on stderr, with the progress)."""
    inputs = f"{_count(plan.tasks, 'task')}, {_count(plan.test_inputs, 'test input')}"
    if plan.offline:
        asks = ": no requests (offline)"
    elif plan.most_requests != plan.requests:
        asks = f", {_count(plan.attempts, 'attempt')} each: {plan.requests:,} to "
        asks += f"{_count(plan.most_requests, 'request')} (repair rounds)"
    else:
        asks = f", {_count(plan.attempts, 'attempt')} each: {_count(plan.requests, 'request')}"
    console.print(f"plan: {inputs}{asks}")
    if plan.augment is not None:
        console.print(
            f"  --augment {plan.augment}: {plan.views} views of every task, "
            f"{plan.views}x the requests and programs of one"
        )
    if not plan.offline:
        _print_cost(plan, console)


def _print_cost(plan: RunPlan, console: Console) -> None:
    """The plan's cost estimate, what it assumes, and the cap."""
    estimate = plan.cost_range()
    if estimate is None:
        if plan.provider != "local":
            console.print(
                f"cost: not estimated, the registry has no prices for {plan.model} "
                "(input_price, output_price in models.toml)"
            )
        return
    low, high = estimate
    console.print(
        f"cost: {_usd(low)} to {_usd(high)} at ${plan.input_price or 0:g} in / "
        f"${plan.output_price or 0:g} out per million tokens"
    )
    console.print(
        f"  prompts: {plan.workload.prompt_chars:,} characters, about "
        f"{plan.prompt_tokens:,} tokens (characters/4)"
    )
    allowance = "--max-tokens" if plan.reply_tokens_given else "a typical reply; --max-tokens"
    console.print(f"  replies: 0 to {plan.reply_tokens:,} tokens each ({allowance})")
    if plan.max_cost is not None:
        console.print(f"  cap: {_usd(plan.max_cost)} (--max-cost), earlier sessions included")


def _usd(amount: float) -> str:
    """Dollars to the cent, or to the hundredth of a cent below a dollar."""
    return f"${amount:,.2f}" if amount >= 1 else f"${amount:.4f}"


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" + ("" if number == 1 else "s")
