"""Parsing hostile model replies: seconds per MB for the worst inputs, and the event loop meanwhile.

Every parser of model text (the grid of a `traces` reply, the program of a `codegen` reply, the
`<think>` reasoning the client splits off) is fed adversarial replies built to make a naive
parser backtrack or compare everything with everything: unclosed fences, walls of brackets,
digit rows that fail at their last character, thousands of `<think>` tags. Each is timed at 1 MB
and at the 8 MB the client reads at most; linear parsers take about eight times as long for the
second. The last rows run the worst reply of each parser through `parse_offloaded`, as a run
does, while a ticker on the event loop measures the longest it had to wait, next to a thread that
only runs Python bytecode for as long: a parse holding the interpreter in one long call would
stall far longer than that.

    python bench/bench_replies.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable

from arcbench.answers import extract_grid
from arcbench.client import MAX_REPLY_BYTES, extract_reasoning
from arcbench.programs import extract_program
from arcbench.replies import parse_offloaded

MB = 1_000_000


def _repeat(unit: str, size: int, head: str = "", tail: str = "") -> str:
    return head + unit * max(1, (size - len(head) - len(tail)) // len(unit)) + tail


INPUTS: dict[str, Callable[[int], str]] = {
    "backticks on one line": lambda n: _repeat("``` ", n),
    "fences that never close": lambda n: _repeat("```json\n", n),
    "empty fences": lambda n: _repeat("```\n```\n", n),
    "an open bracket wall": lambda n: _repeat("[", n),
    "bracket pairs": lambda n: _repeat("[[]]", n),
    "many small grids": lambda n: _repeat("[[1]],", n),
    "one unclosed list": lambda n: _repeat("1,", n, head="[["),
    "digit rows": lambda n: _repeat("1 2 3 4\n", n),
    "single digit rows": lambda n: _repeat("1\nx\n", n),
    "pairs of digit rows": lambda n: _repeat("1\n1\nx\n", n),
    "rows after colons": lambda n: _repeat("Output:\n1\nx\n", n),
    "a digit row failing at its end": lambda n: _repeat("1 ", n, tail="x"),
    "separator runs": lambda n: _repeat(" , ,", n, head="1", tail="x"),
    "blank lines in a python fence": lambda n: _repeat("\n", n, head="```python\n"),
    "open <think> tags": lambda n: _repeat("<think>", n),
    "<think> blocks": lambda n: _repeat("<think>a</think>", n),
    "closing </think> tags": lambda n: _repeat("</think>", n),
}

PARSERS: dict[str, Callable[[str], object]] = {
    "grid": extract_grid,
    "program": extract_program,
    "<think>": lambda text: extract_reasoning({"content": text}),
}


def _seconds(parse: Callable[[str], object], text: str) -> float:
    started = time.perf_counter()
    parse(text)
    return time.perf_counter() - started


async def _loop_stall(parse: Callable[[str], object], text: str) -> tuple[float, float]:
    """(parse seconds, longest event-loop stall in seconds) for an offloaded parse."""
    stall = 0.0
    done = False

    async def ticker() -> None:
        nonlocal stall
        loop = asyncio.get_running_loop()
        while not done:
            before = loop.time()
            await asyncio.sleep(0.005)
            stall = max(stall, loop.time() - before - 0.005)

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.02)
    started = time.perf_counter()
    await parse_offloaded(parse, text)
    elapsed = time.perf_counter() - started
    done = True
    await tick
    return elapsed, stall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 MB only")
    args = parser.parse_args()
    sizes = [MB] if args.quick else [MB, MAX_REPLY_BYTES]
    header = f"{'reply (adversarial)':32}" + "".join(
        f"{name + f' {size // MB}MB s/MB':>18}" for name in PARSERS for size in sizes
    )
    print(header)
    worst: dict[str, tuple[float, str]] = dict.fromkeys(PARSERS, (0.0, ""))
    for label, build in INPUTS.items():
        texts = {size: build(size) for size in sizes}
        row = f"{label:32}"
        for name, parse in PARSERS.items():
            for size, text in texts.items():
                per_mb = _seconds(parse, text) / (len(text) / MB)
                row += f"{per_mb:18.3f}"
                if size == sizes[-1] and per_mb > worst[name][0]:
                    worst[name] = (per_mb, label)
        print(row, flush=True)
    print()
    print(f"{'worst input, offloaded (as in a run)':44} {'parse s':>9} {'loop stall ms':>14}")
    for name, (_, label) in worst.items():
        text = INPUTS[label](sizes[-1])
        elapsed, stall = asyncio.run(_loop_stall(PARSERS[name], text))
        print(f"{name + ': ' + label:44} {elapsed:9.3f} {stall * 1000:14.1f}")
    elapsed, stall = asyncio.run(_loop_stall(_busy, " " * MB))
    print(f"{'(any pure-Python thread, for comparison)':44} {elapsed:9.3f} {stall * 1000:14.1f}")


def _busy(text: str) -> None:
    """Python bytecode only, for 1.5 s (`text` only makes it long enough to be offloaded): what
    any worker thread costs the event loop. The GIL changes hands every 5 ms; on a loaded machine
    the operating system adds its own delay."""
    end = time.perf_counter() + 1.5
    while time.perf_counter() < end:
        pass


if __name__ == "__main__":
    main()
