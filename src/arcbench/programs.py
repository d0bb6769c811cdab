"""Taking a program out of a model's reply, and judging its outcomes on a task's pairs.

The last ```python fenced block is the program (a bare ``` block is accepted when it defines the
function). It must define `transform(grid)` or `solve_task(grid)`; anything else is a
`parse_error`, an outcome of the attempt. The code is only ever *read* here: it runs in the
sandbox, never in this process.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from arcbench.tasks import Task

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)
_ENTRY = re.compile(r"^\s*def\s+(transform|solve_task)\s*\(", re.MULTILINE)


@dataclass(frozen=True)
class ExtractedProgram:
    """The program in a reply (or why there is none) and where its block starts."""

    code: str | None
    parse_error: str | None
    start: int


def extract_program(text: str) -> ExtractedProgram:
    """The last python block of a reply that defines `transform` or `solve_task`."""
    blocks = list(_FENCE.finditer(text))
    python = [b for b in blocks if b.group(1).lower() in {"python", "py", "python3"}]
    for block in reversed(python or blocks):
        code = block.group(2)
        if _ENTRY.search(code):
            return ExtractedProgram(code.strip() + "\n", None, block.start())
    if python:
        last = python[-1]
        return ExtractedProgram(
            None,
            "the last python block defines neither transform(grid) nor solve_task(grid)",
            last.start(),
        )
    return ExtractedProgram(None, "no python code block in the reply", len(text))


@dataclass(frozen=True)
class PairResult:
    """How a program did on one train pair."""

    status: str  # correct | wrong | error | timeout | wrong_format
    detail: str | None = None
    output: list[list[int]] | None = None
    """The grid produced, kept for a wrong answer (shown to the model in a repair round)."""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "detail": self.detail}
        if self.output is not None:
            out["output"] = self.output
        return out


def judge_train(task: Task, outcomes: Sequence[Any]) -> list[PairResult]:
    """Compare a program's outcomes on the train inputs with the expected outputs."""
    results = []
    for pair, outcome in zip(task.train, outcomes, strict=False):
        if outcome.status == "ok":
            if outcome.grid == pair.output:
                results.append(PairResult("correct"))
            else:
                results.append(PairResult("wrong", outcome.describe(), outcome.grid))
        else:
            detail = outcome.message or outcome.reason
            if outcome.traceback:
                detail = outcome.traceback
            results.append(PairResult(str(outcome.status), detail))
    return results
