"""Token usage and its price: what a model call cost, summed over every HTTP request it made.

Kept apart from the HTTP client so that the runner and `report` can add usages up and price them
without importing httpx.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PER_MILLION = 1_000_000
"""Prices are quoted in US dollars per million tokens, as providers publish them."""


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens a server reported. `reasoning_tokens` are part of `completion_tokens`, not extra."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, int]:
        """The record form (`usage` in results.jsonl and run.json)."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        }

    @classmethod
    def from_reply(cls, usage: object) -> Usage | None:
        """Read an OpenAI-style `usage` object; None when the server reported none.

        Reasoning tokens are taken from `completion_tokens_details.reasoning_tokens` (OpenAI,
        OpenRouter) or a top-level `reasoning_tokens` (some local servers). Missing or
        non-numeric fields count as 0 rather than failing a reply over bookkeeping.
        """
        if not isinstance(usage, Mapping):
            return None
        details = usage.get("completion_tokens_details")
        reasoning = details.get("reasoning_tokens") if isinstance(details, Mapping) else None
        if reasoning is None:
            reasoning = usage.get("reasoning_tokens")
        return cls(
            _count(usage.get("prompt_tokens")),
            _count(usage.get("completion_tokens")),
            _count(reasoning),
        )


def _count(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def reported_cost(usage: object) -> float | None:
    """The cost a provider itself reported in `usage.cost` (OpenRouter, in US dollars)."""
    if not isinstance(usage, Mapping):
        return None
    cost = usage.get("cost")
    if isinstance(cost, int | float) and not isinstance(cost, bool) and cost >= 0:
        return float(cost)
    return None


def priced_cost(
    usage: Usage, input_price: float | None, output_price: float | None
) -> float | None:
    """The cost of `usage` at registry prices (USD per million tokens); None when unpriced."""
    if input_price is None and output_price is None:
        return None
    return (
        usage.prompt_tokens * (input_price or 0.0) + usage.completion_tokens * (output_price or 0.0)
    ) / PER_MILLION
