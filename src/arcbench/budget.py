"""A hard cap on what a run may spend (`--max-cost`): an admission check before every request.

Before a request is sent, its worst case is reserved: every byte of its prompt counted as a
token (a byte-level tokenizer never makes more tokens than bytes) plus a small allowance per
message, and the whole completion limit (`--max-tokens`), at the model's registry prices. A
request is admitted only while the money spent plus what the requests in flight reserved plus
its own worst case stays within the cap; the first one refused closes the budget, so no request
starts after it, and raises `BudgetExhausted`, which stops the runner's scheduling (requests in
flight finish). When a request ends, its reservation is replaced by what it really cost (the
provider's reported cost, else the registry prices, as the client computes it).

What a request cost is not always known, and then its worst case is charged: an HTTP request of
the call that got no reply (a timeout, a dropped connection) or a successful reply without a
usable usage (`Completion.unmetered`), a call cancelled before it ended, a cost that is not a
finite number of dollars from 0 up. A retry after an HTTP error status is free (providers do not
bill refused requests), and is not reserved again.

The cap holds as long as the provider bills no more than the registry prices say. A retry after
a request that got no reply is not reserved before it is sent (the client retries on its own),
only charged afterwards: if a provider bills requests whose reply never arrived, the cap may be
passed by the worst case of each such retry, and nothing is admitted after.

Nothing here knows about ARC: a job decides what a request's prompt is and calls `admit`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from arcbench.errors import ConfigError
from arcbench.registry import ModelEntry, toml_key
from arcbench.runner import StopScheduling
from arcbench.usage import Usage, priced_cost

MESSAGE_OVERHEAD_TOKENS = 16
"""Tokens a chat template may add around one message (role markers, separators), counted on
top of its text in a worst case."""

REASON = "budget"


class BudgetExhausted(StopScheduling):
    """A request would have taken the run past its cap: nothing more is sent."""

    def __init__(self, message: str) -> None:
        super().__init__(message, REASON)


@dataclass(frozen=True)
class Reservation:
    """What one admitted request holds until it ends."""

    usd: float


@dataclass
class Budget:
    """At most `cap_usd` for a run; `spent_usd` so far (earlier sessions included) and
    `reserved_usd` held by the requests in flight. Build it with `Budget.for_model`."""

    cap_usd: float
    input_price: float
    output_price: float
    max_completion_tokens: int
    spent_usd: float = 0.0
    reserved_usd: float = 0.0
    closed: bool = False
    """Set by the first refusal: from then on every request is refused."""

    @classmethod
    def for_model(cls, cap_usd: float, entry: ModelEntry, max_tokens: int | None) -> Budget:
        """The budget of a run of `entry`; refused with `ConfigError` when a request's worst
        case cannot be known: no registry prices, or no completion limit."""
        if not entry.priced:
            raise ConfigError(
                f"--max-cost needs the prices of {entry.name}: add input_price and output_price "
                f"(USD per million tokens) under [models.{toml_key(entry.name)}] in models.toml"
            )
        if max_tokens is None:
            raise ConfigError(
                "--max-cost needs --max-tokens: without a completion limit a request in flight "
                "could cost anything (e.g. --max-tokens 16000)"
            )
        return cls(cap_usd, entry.input_price or 0.0, entry.output_price or 0.0, max_tokens)

    def worst_case_usd(self, prompts: Sequence[str]) -> float:
        """The most a request with these messages' texts can cost."""
        prompt_tokens = sum(len(text.encode()) + MESSAGE_OVERHEAD_TOKENS for text in prompts)
        usage = Usage(prompt_tokens, self.max_completion_tokens)
        return priced_cost(usage, self.input_price, self.output_price) or 0.0

    def admit(self, prompts: Sequence[str]) -> Reservation:
        """Reserve the worst case of a request, or raise `BudgetExhausted` (and close)."""
        worst = self.worst_case_usd(prompts)
        if self.closed or self.spent_usd + self.reserved_usd + worst > self.cap_usd:
            self.closed = True
            raise BudgetExhausted(
                f"the next request could cost up to ${worst:.4f}, and ${self.spent_usd:.4f} is "
                f"spent with ${self.reserved_usd:.4f} in flight, of --max-cost "
                f"${self.cap_usd:.4f}"
            )
        self.reserved_usd += worst
        return Reservation(worst)

    def settle(self, reservation: Reservation, cost_usd: float, *, unmetered: int = 0) -> None:
        """A request ended: release what it reserved and count what it cost, `cost_usd` plus
        the worst case for each of its `unmetered` HTTP requests (see the module docstring); a
        cost that is not a finite amount from 0 up counts as the worst case."""
        self.reserved_usd = max(0.0, self.reserved_usd - reservation.usd)
        known = cost_usd if math.isfinite(cost_usd) and cost_usd >= 0 else reservation.usd
        self.spent_usd += known + max(0, unmetered) * reservation.usd
