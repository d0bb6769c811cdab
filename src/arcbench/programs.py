"""Taking a program out of a model's reply, and judging its outcomes on a task's pairs.

The last ```python fenced block is the program (a bare ``` block is accepted when it defines the
function). It must define `transform(grid)` or `solve_task(grid)`; anything else is a
`parse_error`, an outcome of the attempt. The code is only ever *read* here: it runs in the
sandbox, never in this process. `function_source` gives the source of library functions that
programs arcbench writes itself are made of.

Finding the program is linear in the reply's length (`arcbench.replies`, and an entry-point
pattern that cannot backtrack across lines); callers on the event loop use
`arcbench.replies.parse_offloaded`.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from arcbench.replies import MAX_FENCES, iter_fences, too_many_fences
from arcbench.tasks import Task

_ENTRY = re.compile(r"def[ \t]+(?:transform|solve_task)[ \t]*\(")
"""`def transform(` (or `solve_task`); it must also start its line (`_defines_entry`). The
pattern starts with a literal, which the regex engine finds fast."""


@dataclass(frozen=True)
class ExtractedProgram:
    """The program in a reply (or why there is none) and where its block starts."""

    code: str | None
    parse_error: str | None
    start: int


def extract_program(text: str) -> ExtractedProgram:
    """The last python block of a reply that defines `transform` or `solve_task`."""
    if too_many_fences(text):
        return ExtractedProgram(
            None, f"the reply holds more than {MAX_FENCES:,} code blocks; none was read", len(text)
        )
    blocks = list(iter_fences(text))
    python = [b for b in blocks if b.language.lower() in {"python", "py", "python3"}]
    for block in reversed(python or blocks):
        if _defines_entry(block.body):
            return ExtractedProgram(block.body.strip() + "\n", None, block.start)
    if python:
        return ExtractedProgram(
            None,
            "the last python block defines neither transform(grid) nor solve_task(grid)",
            python[-1].start,
        )
    return ExtractedProgram(None, "no python code block in the reply", len(text))


def _defines_entry(code: str, pattern: re.Pattern[str] = _ENTRY) -> bool:
    """Whether a line of `code` starts (after indentation) with `def transform(` or
    `def solve_task(` (or what `pattern` matches). Only `_INDENT_WINDOW` characters before each
    match are looked at, so a flood of matches costs a bounded amount each."""
    for match in pattern.finditer(code):
        window = code[max(0, match.start() - _INDENT_WINDOW) : match.start()]
        newline = window.rfind("\n")
        if newline < 0 and match.start() > _INDENT_WINDOW:
            continue  # indented further than any real definition
        if not window[newline + 1 :].strip(" \t"):
            return True
    return False


_INDENT_WINDOW = 200


_NAMED_ENTRIES = {
    name: re.compile(rf"def[ \t]+{name}[ \t]*\(") for name in ("transform", "solve_task")
}


def entry_point(code: str) -> str | None:
    """The function a program defines for the sandbox to call: `transform` when it defines one,
    else `solve_task` (the sandbox's own order), else None."""
    for name, pattern in _NAMED_ENTRIES.items():
        if _defines_entry(code, pattern):
            return name
    return None


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


# --- programs arcbench writes itself ----------------------------------------------------------


@cache
def function_source(function: Callable[..., Any]) -> str:
    """A library function's source without annotations, to be put into a program run in the
    sandbox (the baseline's rules, the wrapper of a view's program): annotations would need
    names from the module it came from, so such functions use builtins only."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    tree = _StripAnnotations().visit(tree)
    return ast.unparse(ast.fix_missing_locations(tree))


class _StripAnnotations(ast.NodeTransformer):
    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.annotation = None
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node.returns = None
        self.generic_visit(node)
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.stmt:
        if node.value is None:
            return ast.Pass()
        return ast.Assign(targets=[node.target], value=node.value, lineno=node.lineno)
