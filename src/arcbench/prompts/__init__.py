"""Prompt templates shipped with the package, rendered with grids as digits, and the replies
they ask for.

A template's version is a hash of its text: a run records it, and resume refuses to mix replies
to different prompts in one run. `traces_reply` and `codegen_reply` write the answer each prompt
asks for (reasoning, then a final fenced block), which is what training data pairs with the
prompt (`arcbench.export`); `extract_grid` and `extract_program` read exactly these back.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib.resources import files
from string import Template

import orjson

from arcbench.tasks import Task

Grid = list[list[int]]


@cache
def template_text(name: str) -> str:
    """The text of the template `name` (a file `<name>.md` in this package)."""
    return files(__package__).joinpath(f"{name}.md").read_text(encoding="utf-8")


def prompt_version(*names: str) -> str:
    """A short hash of the templates' text; it changes whenever a prompt does."""
    digest = hashlib.sha256()
    for name in names:
        digest.update(template_text(name).encode())
    return digest.hexdigest()[:12]


def format_grid(grid: Grid) -> str:
    """A grid as a JSON list of rows, one row per line: digits, never colour names.

    Serialised by orjson in one call and then broken into lines: prompts are built for every
    attempt, so this sits on the runner's hot path.
    """
    return orjson.dumps(grid).decode().replace("],[", "],\n [")


def format_examples(task: Task) -> str:
    """Every train pair, numbered, input then output."""
    blocks = []
    for number, pair in enumerate(task.train, start=1):
        blocks.append(
            f"Example {number} input:\n{format_grid(pair.input)}\n\n"
            f"Example {number} output:\n{format_grid(pair.output)}"
        )
    return "\n\n".join(blocks)


def render(name: str, **values: str) -> str:
    """The template with `$placeholders` filled; a missing value is a programming error."""
    return Template(template_text(name)).substitute(values)


def traces_prompt(task: Task, test_index: int) -> str:
    """The `traces` prompt: the train pairs and one test input, asking for reasoning and a grid."""
    return render(
        "traces",
        examples=format_examples(task),
        test_input=format_grid(task.test[test_index].input),
    )


def codegen_prompt(task: Task) -> str:
    """The `codegen` prompt: the train pairs and every test input, asking for `transform`."""
    tests = "\n\n".join(
        f"Test input {number}:\n{format_grid(test.input)}"
        for number, test in enumerate(task.test, start=1)
    )
    return render("codegen", examples=format_examples(task), test_inputs=tests)


def repair_prompt(failures: str) -> str:
    """The follow-up of a repair round: what the program did wrong, asking for a fix."""
    return render("codegen_repair", failures=failures)


def traces_reply(reasoning: str, grid: Grid) -> str:
    """The reply the `traces` prompt asks for: the reasoning, then the grid in a final ```json
    block."""
    return _with_block(reasoning, "json", format_grid(grid))


def codegen_reply(reasoning: str, code: str) -> str:
    """The reply the `codegen` prompt asks for: the reasoning, then the program in a final
    ```python block."""
    return _with_block(reasoning, "python", code.rstrip("\n"))


def _with_block(reasoning: str, language: str, body: str) -> str:
    block = f"```{language}\n{body}\n```"
    reasoning = reasoning.strip()
    return f"{reasoning}\n\n{block}" if reasoning else block
