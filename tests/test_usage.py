"""Usage and cost from a server are untrusted: validated, noted when unusable, never fatal.

Unit tests of `arcbench.usage`, the client against the fake server, and whole runs through the
real CLI whose replies carry every kind of junk where token counts and costs belong.
"""

from __future__ import annotations

import asyncio
import math
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arcbench.client import ModelClient, RetryPolicy
from arcbench.registry import ModelEntry
from arcbench.usage import MAX_TOKENS, Usage
from conftest import cli_env, read_records, run_cli, traces_args
from fakeserver import FakeServer, raw, reply
from taskdata import TASK_A, TASK_B, write_json

JUNK: list[Any] = [
    1.7e300,
    -5,
    -0.5,
    12.5,
    2**70,
    MAX_TOKENS + 1,
    True,
    "12",
    "",
    [1, 2],
    {"nested": [1]},
    float("nan"),
    float("inf"),
    float("-inf"),
]


@pytest.mark.parametrize("value", JUNK, ids=repr)
@pytest.mark.parametrize("field", ["prompt_tokens", "completion_tokens", "reasoning_tokens"])
def test_an_unusable_count_is_zero_and_named(field: str, value: Any) -> None:
    usage = Usage.from_reply({"prompt_tokens": 10, "completion_tokens": 20, field: value})
    assert usage is not None
    assert getattr(usage, field) == 0
    assert len(usage.unusable) == 1
    assert usage.unusable[0].startswith(f"{field} ")
    assert "is not a token count" in usage.unusable[0]
    assert len(usage.unusable[0]) < 120
    orjson.dumps(usage.as_dict())  # always writable


def test_usable_counts_are_kept() -> None:
    usage = Usage.from_reply(
        {
            "prompt_tokens": 0,
            "completion_tokens": 12.0,  # a whole number written as a float
            "completion_tokens_details": {"reasoning_tokens": MAX_TOKENS},
            "cost": 0,
        }
    )
    assert usage == Usage(0, 12, MAX_TOKENS)
    assert usage.unusable == ()


@pytest.mark.parametrize("value", [*JUNK[:3], 1e5, "0.01", None], ids=repr)
def test_an_unusable_cost_is_named(value: Any) -> None:
    usage = Usage.from_reply({"prompt_tokens": 1, "cost": value})
    assert usage is not None
    if value is None:
        assert usage.unusable == ()
    else:
        assert usage.unusable[0].startswith("cost ")


@pytest.mark.parametrize(
    ("value", "shown"), [("junk", "'junk'"), ([1], "a list"), (7, "7"), (True, "True")], ids=repr
)
def test_usage_that_is_not_an_object(value: Any, shown: str) -> None:
    assert Usage.from_reply(value) == Usage(unusable=(f"usage is {shown}, not an object",))
    assert Usage.from_reply(None) is None


_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**80), 2**80) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "prompt_tokens",
                "completion_tokens",
                "reasoning_tokens",
                "cost",
                "other",
                "completion_tokens_details",
            ]
        ),
        _JSONISH,
    )
    | _JSONISH
)
def test_any_usage_gives_bounded_counts_that_json_can_hold(value: Any) -> None:
    usage = Usage.from_reply(value)
    if usage is None:
        return
    for count in (usage.prompt_tokens, usage.completion_tokens, usage.reasoning_tokens):
        assert isinstance(count, int)
        assert 0 <= count <= MAX_TOKENS
    total = usage
    for _ in range(3):
        total = total + usage
    assert len(total.unusable) <= 8
    orjson.dumps(total.as_dict())


# --- the client --------------------------------------------------------------------------------


def _complete(server: FakeServer, **entry: Any) -> Any:
    async def go() -> Any:
        model = ModelEntry(
            name="t", provider="local", base_url=server.url, model_id="m", source="test", **entry
        )
        async with ModelClient(model, policy=RetryPolicy(retries=1, timeout=20)) as client:
            return await client.complete([{"role": "user", "content": "hi"}])

    return asyncio.run(go())


_CHOICE = '"choices": [{"message": {"role": "assistant", "content": "ok"}}]'


@pytest.mark.parametrize(
    ("body", "note"),
    [
        ('{%s, "usage": {"prompt_tokens": 1e999, "completion_tokens": 3}}', "prompt_tokens inf"),
        ('{%s, "usage": {"prompt_tokens": NaN, "completion_tokens": 3}}', "prompt_tokens nan"),
        ('{%s, "usage": {"completion_tokens": 3, "cost": Infinity}}', "cost inf"),
        ('{%s, "usage": {"completion_tokens": 3, "cost": -Infinity}}', "cost -inf"),
        ('{%s, "usage": {"completion_tokens": 3, "prompt_tokens": 1%s}}', "prompt_tokens 1000"),
    ],
)
def test_numbers_json_forbids_keep_the_reply(fake_server: FakeServer, body: str, note: str) -> None:
    text = body % (_CHOICE, "0" * 400) if body.count("%s") == 2 else body % _CHOICE
    fake_server.enqueue(raw(text))
    completion = _complete(fake_server)
    assert completion.text == "ok"
    assert completion.usage.completion_tokens == 3
    assert completion.usage.unusable[0].startswith(note)
    assert len(fake_server.chat_requests) == 1  # kept, not retried


def test_broken_unicode_in_a_reply_is_repaired(fake_server: FakeServer) -> None:
    fake_server.enqueue(
        raw('{"choices": [{"message": {"content": "a\\ud800b \\udfff", "reasoning": "\\ud83d"}}]}')
    )
    completion = _complete(fake_server)
    assert completion.text == "a\ufffdb \ufffd"
    assert completion.reasoning == "\ufffd"
    orjson.dumps([completion.text, completion.reasoning])


def test_junk_cost_falls_back_to_registry_prices_and_says_unpriced(
    fake_server: FakeServer,
) -> None:
    fake_server.enqueue(reply("ok", usage={"prompt_tokens": -1, "completion_tokens": 1_000_000}))
    completion = _complete(fake_server, input_price=1.0, output_price=2.0)
    assert completion.cost_usd == pytest.approx(2.0)
    assert not completion.priced  # a price of counts the server got wrong is not a real price


# --- whole runs through the CLI ------------------------------------------------------------------

HOSTILE_USAGE: list[dict[str, Any] | str | list[Any]] = [
    {"prompt_tokens": 1.7e300, "completion_tokens": 10},
    {"prompt_tokens": -5, "completion_tokens": -7},
    {"prompt_tokens": 2**70, "completion_tokens_details": {"reasoning_tokens": "many"}},
    {"prompt_tokens": {"a": [1, {"b": 2}]}, "completion_tokens": [1]},
    {"prompt_tokens": 5, "completion_tokens": 5, "cost": -1.0},
    "junk",
]


def _traces(server: FakeServer, dataset: Path, name: str) -> subprocess.CompletedProcess[str]:
    args = traces_args(server.url, "-d", str(dataset), "--run-name", name, "-j", "3")
    return run_cli(*args, env=cli_env(ARCBENCH_RETRY_WAIT_INITIAL="0", ARCBENCH_RETRY_WAIT_MAX="0"))


def test_a_run_keeps_every_attempt_whatever_the_usage_says(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    dataset = write_json(tmp_path / "small.json", {"aaa": TASK_A, "bbb": TASK_B})
    answer = "```json\n[[7, 7]]\n```"
    fake_server.enqueue(*(reply(answer, usage=usage) for usage in HOSTILE_USAGE))
    fake_server.enqueue(  # numbers only a lenient parser reads, in the last two
        raw(
            '{"choices": [{"message": {"content": "[[1]]"}}], '
            '"usage": {"prompt_tokens": 1e999, "completion_tokens": NaN, "cost": Infinity}}'
        ),
    )
    result = _traces(fake_server, dataset, "junk")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    run = Path("runs/junk")
    records = read_records(run)
    assert len(records) == 6
    assert all(record["error"] is None for record in records)
    notes = [note for record in records for note in record["usage"].get("unusable", [])]
    assert any(note.startswith("prompt_tokens 1.7e+300") for note in notes)
    assert any(note.startswith("completion_tokens -7") for note in notes)
    assert any(
        note.startswith("completion_tokens_details.reasoning_tokens 'many'") for note in notes
    )
    assert any(note.startswith("usage is 'junk'") for note in notes)
    assert any(note.startswith("cost -1.0") for note in notes)
    for record in records:
        for key in ("prompt_tokens", "completion_tokens", "reasoning_tokens"):
            assert 0 <= record["usage"][key] <= MAX_TOKENS
        assert math.isfinite(record["cost_usd"])
    manifest = orjson.loads((run / "run.json").read_bytes())
    assert manifest["status"] == "completed"
    assert manifest["usage"]["prompt_tokens"] == sum(r["usage"]["prompt_tokens"] for r in records)

    again = _traces(fake_server, dataset, "junk")  # resume: nothing left, nothing crashes
    assert again.returncode == 0, again.stderr
    report = run_cli("report", "runs/junk", "--json")
    assert report.returncode == 0, report.stderr
    assert orjson.loads(report.stdout)["usage"] == manifest["usage"]
    assert 1 <= len(manifest["usage"]["unusable"]) <= 8  # the first notes, for a quick look


def test_a_damaged_record_is_refused_with_one_line(fake_server: FakeServer, tmp_path: Path) -> None:
    """A record whose usage is not an object (only a hand edit makes one now) stops a resume
    and a report with one line naming the file and line, never a traceback."""
    dataset = write_json(tmp_path / "small.json", {"aaa": TASK_A, "bbb": TASK_B})
    assert _traces(fake_server, dataset, "old").returncode == 0
    results = Path("runs/old/results.jsonl")
    lines = results.read_bytes().splitlines()
    record = orjson.loads(lines[2])
    record["usage"] = "junk"
    lines[2] = orjson.dumps(record)
    results.write_bytes(b"\n".join(lines) + b"\n")
    for result in (_traces(fake_server, dataset, "old"), run_cli("report", "runs/old")):
        assert result.returncode == 2
        assert result.stderr.startswith("arcbench: error: runs/old/results.jsonl, line 3: ")
        assert "Traceback" not in result.stderr
