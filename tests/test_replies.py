"""Hostile model replies: every parser is linear, bounded and off the event loop.

The parsers are checked against the simple (quadratic) definitions they replace on random
replies, fed the adversarial replies of `bench/bench_replies.py` at 1 MB, and run inside a real
`arcbench traces` run where one reply is pathological and the others must not suffer for it.
"""

from __future__ import annotations

import asyncio
import gzip
import re
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arcbench.answers import _bracket_spans, _last_digit_rows, extract_grid
from arcbench.client import MAX_REPLY_BYTES, ModelClient, RetryPolicy, extract_reasoning
from arcbench.errors import ReplyTooLargeError
from arcbench.programs import extract_program
from arcbench.registry import ModelEntry
from arcbench.replies import MAX_FENCES, iter_fences, parse_offloaded
from conftest import read_records, run_cli, traces_args
from fakeserver import FakeServer, Recorded, raw, reply

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from bench_replies import INPUTS

MB = 1_000_000

# --- the definitions the linear parsers must agree with -------------------------------------------

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)
_DIGIT_ROW = re.compile(r"^[ \t]*\d(?:[ \t,]*\d)*[ \t,]*$")


def _spans_by_definition(text: str) -> list[tuple[int, int]]:
    spans, depth, start = [], 0, -1
    for index, char in enumerate(text):
        if char == "[":
            if depth == 0:
                start = index
            depth += 1
        elif char == "]" and depth:
            depth -= 1
            if depth == 0:
                spans.append((start, index + 1))
    return spans


def _digit_rows_by_definition(text: str) -> tuple[list[list[int]], int] | None:
    lines = text.split("\n")
    offsets, position = [], 0
    for line in lines:
        offsets.append(position)
        position += len(line) + 1
    end = len(lines)
    while end > 0:
        while end > 0 and not _DIGIT_ROW.match(lines[end - 1]):
            end -= 1
        start = end
        while start > 0 and _DIGIT_ROW.match(lines[start - 1]):
            start -= 1
        previous = lines[start - 1].strip().lower() if start else ""
        announced = previous.endswith(":") and ("output" in previous or "answer" in previous)
        if end - start >= 2 or (end - start == 1 and start > 0 and announced):
            rows = [[int(c) for c in line if c.isdigit()] for line in lines[start:end]]
            return rows, offsets[start]
        end = start
    return None


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="`\n ajsonpy\t[]x", max_size=60))
def test_fences_are_what_the_regular_expression_finds(text: str) -> None:
    expected = [(m.start(), m.group(1), m.group(2)) for m in _FENCE.finditer(text)]
    assert [(f.start, f.language, f.body) for f in iter_fences(text)] == expected


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="[] 1,x\n", max_size=60))
def test_bracket_spans_are_the_outermost_balanced_ones(text: str) -> None:
    assert _bracket_spans(text) == _spans_by_definition(text)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.sampled_from(["1 2", "3,4", "56", " 7 ", "x", "", "Output:", "answer:", "9"]),
        max_size=12,
    ).map("\n".join)
)
def test_digit_rows_are_the_last_block_of_digit_lines(text: str) -> None:
    found = _last_digit_rows(text)
    expected = _digit_rows_by_definition(text)
    assert found == expected


def test_a_run_of_digit_rows_longer_than_a_grid_is_refused_whole() -> None:
    for rows in (31, 32, 62, 100):
        answer = extract_grid("x\n" + "1 2\n" * rows)
        assert answer.parse_error is not None
        assert "at most 30" in answer.parse_error
    assert extract_grid("x\n" + "1 2\n" * 30).grid == [[1, 2]] * 30


# --- adversarial replies -------------------------------------------------------------------------


@pytest.mark.parametrize("label", list(INPUTS))
def test_adversarial_replies_are_parsed(label: str) -> None:
    text = INPUTS[label](MB)
    answer = extract_grid(text)
    assert (answer.grid is None) != (answer.parse_error is None)
    program = extract_program(text)
    assert (program.code is None) != (program.parse_error is None)
    reasoning, rest = extract_reasoning({"content": text})
    assert len(reasoning) + len(rest) <= len(text)


def test_a_flood_of_fences_is_not_searched() -> None:
    text = "```python\ndef transform(g):\n    return g\n```\n" * (MAX_FENCES + 1)
    program = extract_program(text)
    assert program.code is None
    assert program.parse_error == "the reply holds more than 10,000 code blocks; none was read"


def test_many_think_blocks_keep_each_distinct_part_once() -> None:
    content = "".join(f"<think>step {i % 50}</think>" for i in range(20_000)) + "answer"
    reasoning, text = extract_reasoning({"content": content, "reasoning": "step 1 and more"})
    assert text == "answer"
    parts = reasoning.split("\n\n")
    assert parts[0] == "step 1 and more"
    assert len(parts) == len(set(parts)) == 50  # "step 1" is inside the first part


def test_long_parses_run_off_the_event_loop() -> None:
    """While a long reply is parsed, the event loop keeps running other coroutines."""
    text = INPUTS["single digit rows"](4 * MB)

    async def go() -> int:
        ticks = 0
        done = False

        async def ticker() -> None:
            nonlocal ticks
            while not done:
                await asyncio.sleep(0.001)
                ticks += 1

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        await parse_offloaded(extract_grid, text)
        done = True
        await task
        return ticks

    assert asyncio.run(go()) > 1


# --- the client's read limit ---------------------------------------------------------------------


def _complete(server: FakeServer) -> Any:
    async def go() -> Any:
        entry = ModelEntry(
            name="t", provider="local", base_url=server.url, model_id="m", source="test"
        )
        async with ModelClient(entry, policy=RetryPolicy(retries=3, timeout=60)) as client:
            return await client.complete([{"role": "user", "content": "hi"}])

    try:
        return asyncio.run(go())
    except ReplyTooLargeError as exc:
        return exc


def _body(content: str) -> bytes:
    return orjson.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]})


def test_a_reply_beyond_the_limit_is_refused_without_retry(fake_server: FakeServer) -> None:
    fake_server.enqueue(reply("x" * MAX_REPLY_BYTES))
    error = _complete(fake_server)
    assert isinstance(error, ReplyTooLargeError)
    assert "larger than 8 MB" in str(error)
    assert len(fake_server.chat_requests) == 1


def test_a_reply_just_under_the_limit_is_read(fake_server: FakeServer) -> None:
    content = "y" * (MAX_REPLY_BYTES - 200)
    fake_server.enqueue(raw(_body(content)))
    assert _complete(fake_server).text == content


def test_a_compressed_reply_is_limited_by_what_it_expands_to(fake_server: FakeServer) -> None:
    bomb = gzip.compress(_body("z" * (3 * MAX_REPLY_BYTES)))
    assert len(bomb) < MAX_REPLY_BYTES // 100
    fake_server.enqueue(raw(bomb, headers={"content-encoding": "gzip"}))
    assert isinstance(_complete(fake_server), ReplyTooLargeError)
    fake_server.enqueue(raw(gzip.compress(_body("ok")), headers={"content-encoding": "gzip"}))
    assert _complete(fake_server).text == "ok"


def test_the_limit_holds_with_many_connections(fake_server: FakeServer) -> None:
    """Above 16 connections the client shards its pools and reads bodies in the transport."""

    async def go() -> tuple[Any, Any]:
        entry = ModelEntry(
            name="t", provider="local", base_url=fake_server.url, model_id="m", source="test"
        )
        async with ModelClient(
            entry, max_concurrent=64, policy=RetryPolicy(retries=0, timeout=60)
        ) as client:
            return await asyncio.gather(
                client.complete([{"role": "user", "content": "big"}]),
                client.complete([{"role": "user", "content": "small"}]),
                return_exceptions=True,
            )

    fake_server.answer("big", "b" * MAX_REPLY_BYTES)
    fake_server.answer("small", "fine")
    big, small = asyncio.run(go())
    assert isinstance(big, ReplyTooLargeError)
    assert small.text == "fine"


# --- a pathological reply inside a real run ------------------------------------------------------

PIECE = 600_000
PATHOLOGICAL = (
    INPUTS["backticks on one line"](PIECE)
    + INPUTS["open <think> tags"](PIECE)[:-7]  # not closed: everything after is reasoning...
    + "</think>"  # ...until here
    + INPUTS["empty fences"](PIECE)
    + INPUTS["bracket pairs"](PIECE)
    + INPUTS["single digit rows"](PIECE)
    + INPUTS["blank lines in a python fence"](PIECE)
    + INPUTS["separator runs"](PIECE)
)


def test_one_pathological_reply_does_not_hold_up_the_others(fake_server: FakeServer) -> None:
    """Ten tasks at four in flight; one reply is as large as the client reads and built to stall
    naive parsers, another is larger than that. The others arrive meanwhile and must all be
    recorded well inside their own timeout."""
    assert MAX_REPLY_BYTES // 2 < len(_body(PATHOLOGICAL)) < MAX_REPLY_BYTES - 1000
    fake_server.latency = 0.3
    sent: dict[str, int] = {}

    def responder(request: Recorded) -> str | dict[str, Any]:
        count = len(fake_server.chat_requests)
        if count == 3:
            return PATHOLOGICAL
        if count == 5:
            return reply("q" * (MAX_REPLY_BYTES + 1), delay=0.3)
        sent["normal"] = sent.get("normal", 0) + 1
        return "The rule.\n```json\n[[1]]\n```"

    fake_server.responder = responder
    result = run_cli(
        *traces_args(fake_server.url, "-d", "arc-agi-1/training", "--max-tasks", "10"),
        *("--attempts", "1", "-j", "4", "--timeout", "30", "--retries", "0"),
        *("--run-name", "hostile"),
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    records = read_records(Path("runs/hostile"))
    assert len(records) == len(fake_server.chat_requests)
    errors = [r["error"] for r in records if r["error"]]
    assert len(errors) == 1
    assert "larger than 8 MB" in errors[0]
    huge = [r for r in records if r["response"] and len(r["response"]) > MB]
    assert len(huge) == 1
    assert huge[0]["prediction"] is None
    assert huge[0]["parse_error"] is not None
    normal = [r for r in records if r not in huge and not r["error"]]
    assert len(normal) == sent["normal"]
    assert all(r["prediction"] == [[1]] for r in normal)
