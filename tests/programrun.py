"""Run arcbench's own generated programs in plain subprocesses, many per process.

For the baseline's tests and coverage benchmark only: these programs are arcbench's own output,
so a separate interpreter without isolation is enough, and batching hundreds of them into one
process keeps the tests fast. Model-written programs go through `arcbench.sandbox`, never here.

A batch is one task's grids and the programs to run on them. Each program receives a fresh copy
of every input; what comes back is, per program and input, the output grid, or with `expected`
given, whether the output equals it. A program that raises yields `"error: ..."` instead.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

Grid = list[list[int]]

_CHILD = r"""
import json, sys

def plain(value):
    if hasattr(value, "tolist"):
        value = value.tolist()
    return [[int(cell) for cell in row] for row in value]

results = []
for batch in json.load(sys.stdin):
    expected = batch.get("expected")
    per_program = []
    for code in batch["programs"]:
        namespace = {"__name__": "program"}
        try:
            exec(compile(code, "<program>", "exec"), namespace)
            transform = namespace["transform"]
        except Exception as exc:
            per_program.append([f"error: {exc!r}"] * len(batch["inputs"]))
            continue
        outputs = []
        for index, grid in enumerate(batch["inputs"]):
            try:
                output = plain(transform([list(row) for row in grid]))
            except Exception as exc:
                outputs.append(f"error: {exc!r}")
                continue
            outputs.append(output if expected is None else output == expected[index])
        per_program.append(outputs)
    results.append(per_program)
json.dump(results, sys.stdout)
"""


@dataclass(frozen=True)
class Batch:
    """Programs to run on the same inputs; with `expected`, only correctness comes back."""

    programs: Sequence[str]
    inputs: Sequence[Grid]
    expected: Sequence[Grid] | None = None


def run_batches(
    batches: Sequence[Batch], *, workers: int = 1, per_process: int = 50, timeout: float = 600
) -> list[list[list[Any]]]:
    """`result[b][p][i]`: program `p` of batch `b` on input `i` (grid, bool or error string)."""
    chunks = [batches[i : i + per_process] for i in range(0, len(batches), per_process)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(lambda chunk: _run_chunk(chunk, timeout), chunks))
    return [result for part in parts for result in part]


def _run_chunk(chunk: Sequence[Batch], timeout: float) -> list[list[list[Any]]]:
    payload = [
        {
            "programs": list(batch.programs),
            "inputs": list(batch.inputs),
            "expected": None if batch.expected is None else list(batch.expected),
        }
        for batch in chunk
    ]
    done = subprocess.run(
        [sys.executable, "-c", _CHILD],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"program runner failed ({done.returncode}): {done.stderr[-2000:]}")
    results: list[list[list[Any]]] = json.loads(done.stdout)
    return results
