"""Token usage and its price: what a model call cost, summed over every HTTP request it made.

Kept apart from the HTTP client so that the runner and `report` can add usages up and price them
without importing httpx.

What a server says it used is untrusted input like everything else it sends: a count must be a
whole number from 0 to `MAX_TOKENS`, a cost a finite number of dollars from 0 to `MAX_COST_USD`.
Anything else (`1.7e300`, `-5`, `NaN`, `"12"`, `{"a": 1}`) is not used — the count is 0 — and is
named in `Usage.unusable`, which records carry as `usage.unusable` (empty when all was usable),
so the attempt is kept and the record says what the server got wrong.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

PER_MILLION = 1_000_000
"""Prices are quoted in US dollars per million tokens, as providers publish them."""

MAX_TOKENS = 10**9
"""The most tokens one request can plausibly use (a thousand times the longest context). It also
keeps every sum of a run far inside 64 bits, which is what JSON tools can hold."""

MAX_COST_USD = 10_000.0
"""The most a single request can plausibly cost, in US dollars."""

MAX_UNUSABLE = 8
"""Notes about unusable usage kept per attempt (a retried call may repeat the same one)."""

CHARS_PER_TOKEN = 4
"""The stated approximation of a run's cost estimate: a token per four characters of prompt.
English prose comes close; grids of digits take more tokens than that, so the estimate of a
prompt made mostly of grids is low (the budget's worst case never uses it)."""


def approximate_tokens(characters: int) -> int:
    """Tokens of `characters` of text at `CHARS_PER_TOKEN` (rounded up)."""
    return -(-characters // CHARS_PER_TOKEN)


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens a server reported. `reasoning_tokens` are part of `completion_tokens`, not extra.

    `unusable` names what the server reported as usage or cost that could not be used (a count
    that is not a whole number from 0 to 10^9, a cost that is not finite dollars up to 10,000,
    a usage that is not an object); such a count is 0 here.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    unusable: tuple[str, ...] = ()

    def __add__(self, other: Usage) -> Usage:
        notes = tuple(dict.fromkeys(self.unusable + other.unusable))[:MAX_UNUSABLE]
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
            notes,
        )

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, int]:
        """The three counts, for adding up (records and run.json also carry `unusable`)."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        }

    @classmethod
    def from_reply(cls, usage: object) -> Usage | None:
        """Read an OpenAI-style `usage` object; None when the server reported none.

        Reasoning tokens are taken from `completion_tokens_details.reasoning_tokens` (OpenAI,
        OpenRouter) or a top-level `reasoning_tokens` (some local servers). A missing field
        counts as 0; an unusable one counts as 0 and is named in `unusable`, with an unusable
        `cost` (see `reported_cost`).
        """
        if usage is None:
            return None
        if not isinstance(usage, Mapping):
            return cls(unusable=(f"usage is {_shown(usage)}, not an object",))
        notes: list[str] = []
        details = usage.get("completion_tokens_details")
        reasoning = details.get("reasoning_tokens") if isinstance(details, Mapping) else None
        where = "completion_tokens_details.reasoning_tokens"
        if reasoning is None:
            reasoning, where = usage.get("reasoning_tokens"), "reasoning_tokens"
        prompt = _count("prompt_tokens", usage.get("prompt_tokens"), notes)
        completion = _count("completion_tokens", usage.get("completion_tokens"), notes)
        thinking = _count(where, reasoning, notes)
        _cost(usage.get("cost"), notes)
        return cls(prompt, completion, thinking, tuple(notes[:MAX_UNUSABLE]))


def _shown(value: object) -> str:
    """A value from a server, for a note: scalars as written (shortened), containers by kind."""
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _count(name: str, value: object, notes: list[str]) -> int:
    """A token count from a server, or 0 (with a note in `notes`) when it is not one."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TOKENS:
        return value
    if isinstance(value, float) and value.is_integer() and 0 <= value <= MAX_TOKENS:
        return int(value)  # 12.0 is a count; NaN and infinities are not integers
    notes.append(f"{name} {_shown(value)} is not a token count (0 to {MAX_TOKENS:,}); counted 0")
    return 0


def _cost(value: object, notes: list[str]) -> float | None:
    """A cost in US dollars from a server, None when absent or unusable (then noted)."""
    if value is None:
        return None
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= MAX_COST_USD
    ):
        return float(value)
    notes.append(f"cost {_shown(value)} is not a price in dollars (0 to {MAX_COST_USD:g}); unused")
    return None


def reported_cost(usage: object) -> float | None:
    """The cost a provider itself reported in `usage.cost` (OpenRouter, in US dollars); None
    when it reported none or an unusable one (which `Usage.from_reply` notes)."""
    if not isinstance(usage, Mapping):
        return None
    return _cost(usage.get("cost"), [])


def priced_cost(
    usage: Usage, input_price: float | None, output_price: float | None
) -> float | None:
    """The cost of `usage` at registry prices (USD per million tokens); None when unpriced."""
    if input_price is None and output_price is None:
        return None
    return (
        usage.prompt_tokens * (input_price or 0.0) + usage.completion_tokens * (output_price or 0.0)
    ) / PER_MILLION
