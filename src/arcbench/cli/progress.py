"""Progress of a job: one live line on a terminal, plain log lines elsewhere.

Every job shows the same facts: units done of the total, rate, what is solved so far, errors,
tokens, cost, elapsed time and ETA. A terminal line holds what fits its width, chosen by
priority (the count, the ETA and the score first, the bar last), so nothing is ever cut
mid-word, at 80 columns or on a window resized while it runs; plain lines (a pipe, a log file)
carry every fact.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.text import Text

if TYPE_CHECKING:
    from arcbench.client import RetryEvent
    from arcbench.jobs import RunPlan
    from arcbench.records import RecordBase
    from arcbench.rundir import RunDirectory
    from arcbench.tally import Tally

PLAIN_INTERVAL_S = 10.0
"""Seconds between plain progress lines (and one at the end)."""

SEPARATOR = " · "
MIN_BAR = 10
"""The narrowest bar worth drawing; narrower, the line goes without it."""


def _tokens(count: int) -> str:
    if count >= 1_000_000:
        return f"{count / 1_000_000:.1f}M"
    if count >= 1_000:
        return f"{count / 1_000:.1f}k"
    return str(count)


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


@dataclass
class Snapshot:
    """What the progress line says at one moment."""

    done: int
    total: int | None
    unit: str
    session_done: int
    elapsed_s: float
    solved: int
    errors: int
    tokens: int
    cost_usd: float
    fit_train: int = 0

    @property
    def rate(self) -> float | None:
        """Units per second this session (a resume's earlier units do not count)."""
        if not self.session_done or self.elapsed_s <= 0:
            return None
        return self.session_done / self.elapsed_s

    @property
    def eta_s(self) -> float | None:
        rate = self.rate
        if rate is None or self.total is None:
            return None
        return max(self.total - self.done, 0) / rate

    def fields(self) -> list[tuple[int, str]]:
        """The facts in display order, each with its priority (0 is kept first)."""
        total = "?" if self.total is None else str(self.total)
        rate, eta = self.rate, self.eta_s
        fields = [(0, f"{self.done}/{total} {self.unit}"), (2, f"solved {self.solved}")]
        if self.fit_train:
            fields.append((7, f"fit train {self.fit_train}"))
        fields += [
            (3 if self.errors else 8, f"errors {self.errors}"),
            (6, f"tokens {_tokens(self.tokens)}"),
            (4, f"${self.cost_usd:.4f}"),
            (5, f"{rate:.1f}/s" if rate is not None else "-/s"),
            (9, _clock(self.elapsed_s)),
            (1, f"ETA {_clock(eta)}" if eta is not None else "ETA -"),
        ]
        return fields

    def line(self, width: int | None = None) -> tuple[str, int]:
        """The facts that fit `width` (all when None), joined; and the width left for a bar."""
        fields = self.fields()
        if width is None:
            return SEPARATOR.join(text for _, text in fields), 0
        kept: set[int] = set()
        used = -len(SEPARATOR)
        for index, (_, text) in sorted(enumerate(fields), key=lambda item: item[1][0]):
            cost = len(SEPARATOR) + len(text)
            if used + cost > width:
                break
            kept.add(index)
            used += cost
        text = SEPARATOR.join(text for index, (_, text) in enumerate(fields) if index in kept)
        return text, width - len(text) - 1


class ProgressLine:
    """The live line: rendered at the console's width each time it is drawn."""

    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self._snapshot = snapshot

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        snap = self._snapshot()
        text, room = snap.line(options.max_width)
        line = Text(no_wrap=True, overflow="crop")
        if room >= MIN_BAR:
            bar = min(room, 40)
            filled = 0 if not snap.total else round(bar * min(snap.done / snap.total, 1.0))
            line.append("━" * filled, style="green")
            line.append("━" * (bar - filled), style="grey37")
            line.append(" ")
        line.append(text)
        yield line


class ProgressReporter:
    """Draws a job's progress on stderr; implements the library's `JobReporter` protocol."""

    def __init__(self, console: Console | None = None, plan: RunPlan | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self._plan = plan
        self._live: Live | None = None
        self._total: int | None = 0
        self._unit = "attempts"
        self._done = 0
        self._session_done = 0
        self._started = time.monotonic()
        self._last_line = 0.0
        self._tally: Tally | None = None

    # -- JobReporter --------------------------------------------------------------------------

    def started(
        self,
        run: RunDirectory,
        total: int | None,
        remaining: int | None,
        tally: Tally,
        unit: str = "attempts",
    ) -> None:
        self._total, self._unit, self._tally = total, unit, tally
        self._done = 0 if total is None or remaining is None else total - remaining
        self._started = time.monotonic()
        if self._plan is not None:
            print_plan(self._plan, self.console)
        verb = "resuming" if run.resumed else "starting"
        if total is None:
            todo = ""
        elif remaining is None:
            todo = f" ({total} {unit})"
        else:
            todo = f" ({remaining} of {total} {unit} to go)"
        self.console.print(f"{verb} run {run.path}{todo}", soft_wrap=True, markup=False)
        if run.torn is not None:
            self.console.print(run.torn.describe(), style="yellow", soft_wrap=True, markup=False)
        if self.console.is_terminal:
            self._live = Live(
                ProgressLine(self.snapshot),
                console=self.console,
                refresh_per_second=4,
                transient=False,
            )
            self._live.start()

    def record(self, record: RecordBase, tally: Tally) -> None:
        self._tally = tally

    def finished(self, tally: Tally) -> None:
        self._tally = tally
        self._done += 1
        self._session_done += 1
        if self._live is not None:
            return
        now = time.monotonic()
        if now - self._last_line >= PLAIN_INTERVAL_S or self._done == self._total:
            self._last_line = now
            self.console.print(self.snapshot().line()[0], markup=False, soft_wrap=True)

    def stopping(self, cancelling: bool) -> None:
        if cancelling:
            self.console.print("[red]cancelling the requests in flight[/red]")
        else:
            self.console.print(
                "[yellow]stopping: finishing the requests in flight "
                "(Ctrl+C again cancels them)[/yellow]"
            )

    def retrying(self, event: RetryEvent) -> None:
        """The model client's `on_retry`: a dim line above the live line (run.log has them all)."""
        if self._live is None:
            return
        # The reason may quote the server: plain text, never markup.
        self._live.console.print(
            Text(f"retrying ({event.reason}), request {event.attempt}", style="dim")
        )

    # -- helpers ------------------------------------------------------------------------------

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def snapshot(self) -> Snapshot:
        tally = self._tally
        return Snapshot(
            done=self._done,
            total=self._total,
            unit=self._unit,
            session_done=self._session_done,
            elapsed_s=time.monotonic() - self._started,
            solved=len(tally.solved) if tally else 0,
            errors=tally.errors if tally else 0,
            tokens=tally.usage.total_tokens if tally else 0,
            cost_usd=tally.cost_usd if tally else 0.0,
            fit_train=tally.fit_train if tally else 0,
        )


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
    console.print(f"plan: {inputs}{asks}", markup=False)
    if plan.augment is not None:
        console.print(
            f"  --augment {plan.augment}: {plan.views} views of every task, "
            f"{plan.views}x the requests and programs of one",
            markup=False,
            soft_wrap=True,
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
                "(input_price, output_price in models.toml)",
                markup=False,
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
