"""`--max-cost`: the plan printed before a paid run, the cap kept against a fake server that
reports a cost per request (as OpenRouter does), and resuming with a higher cap."""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from arcbench.budget import Budget, BudgetExhausted
from arcbench.registry import ModelEntry
from conftest import cli_env, run_cli
from fakeserver import Action, FakeServer, Recorded, drop, hang, reply, status
from taskdata import write_json

COST = 0.001
"""What the fake server reports each request cost."""

MAX_TOKENS = 500
OUTPUT_PRICE = 2.0
"""USD per million completion tokens: a request's worst case, 500 x 2 / 1e6, is exactly COST
(prompts are free here), so the cap can be checked to the request."""

FLIP: dict[str, Any] = {
    "train": [{"input": [[1, 0]], "output": [[0, 1]]}],
    "test": [{"input": [[2, 0]], "output": [[0, 2]]}],
}
WRONG = "Maybe nothing changes.\n```python\ndef transform(grid):\n    return grid\n```"


def _priced(server: FakeServer, *, input_price: float = 0.0) -> None:
    Path("models.toml").write_text(
        f'[models.paid]\nbase_url = "{server.url}"\nmodel_id = "m"\n'
        f"input_price = {input_price}\noutput_price = {OUTPUT_PRICE}\n"
    )


ANSWER = "The rule.\n```json\n[[0, 2]]\n```"


def _costly(request: Recorded) -> dict[str, Any]:
    return reply(ANSWER, cost=COST)


def _run(command: str, *args: str) -> subprocess.CompletedProcess[str]:
    base = ("--model", "paid", "--max-tokens", str(MAX_TOKENS))
    fast = {f"ARCBENCH_RETRY_WAIT_{part}": "0" for part in ("INITIAL", "MAX", "JITTER")}
    return run_cli(command, *base, *args, env=cli_env(**fast), timeout=300)


def _manifest(name: str) -> dict[str, Any]:
    return dict(orjson.loads(Path(f"runs/{name}/run.json").read_bytes()))


def _records(name: str) -> list[dict[str, Any]]:
    lines = Path(f"runs/{name}/results.jsonl").read_bytes().splitlines()
    return [orjson.loads(line) for line in lines]


@pytest.fixture
def six_tasks(tmp_path: Path) -> Path:
    tasks = {
        f"t{i}": {
            "train": [{"input": [[i, 0]], "output": [[0, i]]}],
            "test": [{"input": [[0, i]], "output": [[i, 0]]}],
        }
        for i in range(1, 7)
    }
    return write_json(tmp_path / "six.json", tasks)


def test_a_run_stops_at_its_cap_and_a_higher_cap_finishes_it(
    fake_server: FakeServer, six_tasks: Path
) -> None:
    _priced(fake_server)
    fake_server.responder = _costly
    args = ("-d", str(six_tasks), "--run-name", "b", "-j", "1")
    first = _run("traces", *args, "--max-cost", "0.0055")
    assert first.returncode == 0, first.stderr
    assert "plan: 6 tasks, 6 test inputs, 2 attempts each: 12 requests" in first.stderr
    assert "cap: $0.0055 (--max-cost)" in first.stderr
    manifest = _manifest("b")
    assert (manifest["status"], manifest["stop_reason"]) == ("stopped", "budget")
    spent = manifest["budget"]["spent_usd"]
    assert manifest["budget"]["max_cost_usd"] == 0.0055
    assert spent == manifest["cost_usd"] == pytest.approx(5 * COST)
    assert 0.0055 - COST < spent <= 0.0055  # at the cap, within one request's cost
    assert len(fake_server.chat_requests) == len(_records("b")) == 5
    assert "stopped: budget" in first.stdout + first.stderr
    assert "higher --max-cost" in first.stdout + first.stderr
    # The command to go on is printed whole, with a higher cap in place of the one that stopped it.
    [command] = [line.strip() for line in first.stderr.splitlines() if "--run-name b" in line]
    assert command.startswith("arcbench traces ")
    assert command.endswith("--run-name b -j 1 --max-cost 0.011")
    assert "0.0055" not in command

    again = _run("traces", *args, "--max-cost", "1")
    assert again.returncode == 0, again.stderr
    manifest = _manifest("b")
    assert manifest["status"] == "completed"
    assert "stop_reason" not in manifest
    assert manifest["budget"] == {"max_cost_usd": 1.0, "spent_usd": pytest.approx(12 * COST)}
    # Every request was sent once: the server saw the 12 the run planned, no more.
    assert len(fake_server.chat_requests) == 12
    assert len({r["record_id"] for r in _records("b")}) == len(_records("b")) == 12
    prompts = [request.last_user_message for request in fake_server.chat_requests]
    assert len(set(prompts)) == 6  # each test input's prompt, asked for its two attempts


def test_an_augmented_run_stops_at_its_cap_across_its_views(
    fake_server: FakeServer, six_tasks: Path
) -> None:
    """With `--augment`, every view's requests are admitted by the one budget: the plan and its
    cost count every view, the run stops at the cap with requests of every view asked, and a
    higher cap finishes it without asking any view's prompt twice."""
    _priced(fake_server)
    fake_server.responder = _costly
    args = ("-d", str(six_tasks), "--augment", "d8", "--views", "4", "--run-name", "v", "-j", "1")
    first = _run("traces", *args, "--max-cost", "0.0105")
    assert first.returncode == 0, first.stderr
    assert "2 attempts each: 48 requests" in first.stderr
    assert "--augment d8: 4 views of every task, 4x" in first.stderr
    # Replies of up to --max-tokens for every request of every view (prompts are free here).
    assert f"cost: $0.0000 to ${48 * COST:.4f}" in first.stderr
    manifest = _manifest("v")
    assert (manifest["status"], manifest["stop_reason"]) == ("stopped", "budget")
    assert 0.0105 - COST < manifest["budget"]["spent_usd"] <= 0.0105
    records = _records("v")
    assert len(fake_server.chat_requests) == len(records) == 10
    assert len({"+".join(r["view"]) for r in records}) == 4  # every view was charged

    again = _run("traces", *args, "--max-cost", "1")
    assert again.returncode == 0, again.stderr
    manifest = _manifest("v")
    assert manifest["status"] == "completed"
    assert manifest["budget"]["spent_usd"] == pytest.approx(48 * COST)
    assert len(fake_server.chat_requests) == 48
    records = _records("v")
    assert len({r["record_id"] for r in records}) == len(records) == 48
    asked = {(r["task_id"], "+".join(r["view"]), r["attempt"]) for r in records}
    assert len(asked) == 48  # 6 tasks x 4 views x 2 attempts, each once


def test_with_requests_in_flight_the_cap_still_holds(
    fake_server: FakeServer, six_tasks: Path
) -> None:
    _priced(fake_server)
    fake_server.responder = _costly
    fake_server.latency = 0.05
    result = _run(
        "traces", "-d", str(six_tasks), "--run-name", "c", "-j", "4", "--max-cost", "0.0075"
    )
    assert result.returncode == 0, result.stderr
    manifest = _manifest("c")
    assert manifest["status"] == "stopped"
    assert manifest["cost_usd"] <= 0.0075
    assert len(fake_server.chat_requests) == len(_records("c")) == 7

    uncapped = _run("traces", "-d", str(six_tasks), "--run-name", "c", "-j", "4")
    assert uncapped.returncode == 0, uncapped.stderr
    manifest = _manifest("c")
    assert manifest["status"] == "completed"
    assert "budget" not in manifest  # this session had no cap: none is shown
    assert len(fake_server.chat_requests) == 12


def test_a_repairing_program_is_stopped_between_rounds_and_resumed_there(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    dataset = write_json(
        tmp_path / "flip.json", {"a": FLIP, "b": FLIP | {"test": FLIP["test"] * 2}}
    )
    _priced(fake_server)
    fake_server.responder = lambda request: reply(WRONG, cost=COST)
    args = ("-d", str(dataset), "--run-name", "r", "-j", "1", "--attempts", "1", "--rounds", "2")
    first = _run("codegen", *args, "--max-cost", "0.0045")
    assert first.returncode == 0, first.stderr
    assert "1 attempt each: 2 to 6 requests (repair rounds)" in first.stderr
    assert _manifest("r")["status"] == "stopped"
    assert [(r["task_id"], r["round"]) for r in _records("r")] == [
        ("a", 0),
        ("a", 1),
        ("a", 2),
        ("b", 0),
    ]
    again = _run("codegen", *args, "--max-cost", "1")
    assert again.returncode == 0, again.stderr
    assert _manifest("r")["status"] == "completed"
    assert [(r["task_id"], r["round"]) for r in _records("r")][4:] == [("b", 1), ("b", 2)]
    assert len(fake_server.chat_requests) == 6
    resumed = fake_server.chat_requests[4].body["messages"]
    assert [m["role"] for m in resumed] == ["user", "assistant", "user"]  # round 1 of b


def test_the_plan_estimates_the_cost_from_the_prompts(
    fake_server: FakeServer, six_tasks: Path
) -> None:
    _priced(fake_server, input_price=1.0)
    fake_server.responder = _costly
    result = _run("traces", "-d", str(six_tasks), "--run-name", "p", "--attempts", "1")
    assert result.returncode == 0, result.stderr
    chars = sum(len(r.body["messages"][0]["content"]) for r in fake_server.chat_requests)
    tokens = -(-chars // 4)
    low = tokens * 1.0 / 1e6
    high = low + 6 * MAX_TOKENS * OUTPUT_PRICE / 1e6
    assert f"prompts: {chars:,} characters, about {tokens:,} tokens (characters/4)" in result.stderr
    assert f"cost: ${low:.4f} to ${high:.4f} at $1 in / $2 out per million tokens" in result.stderr
    assert "replies: 0 to 500 tokens each (--max-tokens)" in result.stderr


@pytest.mark.parametrize(
    ("toml", "args", "message"),
    [
        ("", ("--max-tokens", "100"), "--max-cost needs the prices of unpriced: add input_price"),
        ("input_price = 1.0\n", (), "--max-cost needs --max-tokens"),
    ],
)
def test_a_cap_that_cannot_be_kept_is_refused_before_anything_starts(
    fake_server: FakeServer, six_tasks: Path, toml: str, args: tuple[str, ...], message: str
) -> None:
    Path("models.toml").write_text(
        f'[models.unpriced]\nbase_url = "{fake_server.url}"\nmodel_id = "m"\n{toml}'
    )
    result = run_cli(
        "traces",
        "--model",
        "unpriced",
        "-d",
        str(six_tasks),
        "--max-cost",
        "5",
        *args,
        env=cli_env(),
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"arcbench: error: {message}")
    assert len(result.stderr.strip().splitlines()) == 1
    assert fake_server.chat_requests == []
    assert not Path("runs").exists()


def _budget(cap: float) -> Budget:
    entry = ModelEntry(
        name="m",
        provider="x",
        base_url="http://h/v1",
        input_price=0.0,
        output_price=2.0,
        source="test",
    )
    return Budget.for_model(cap, entry, MAX_TOKENS)


def test_requests_in_flight_hold_their_worst_case_until_they_end() -> None:
    budget = _budget(0.0025)
    first, second = budget.admit(["a"]), budget.admit(["b"])
    with pytest.raises(BudgetExhausted):
        budget.admit(["c"])  # 2 in flight at their worst case leave room for no third
    assert budget.closed
    budget.settle(first, 0.0001)
    with pytest.raises(BudgetExhausted):
        budget.admit(["d"])  # closed: once refused, nothing more starts
    budget.settle(second, 0.0001)
    assert budget.spent_usd == pytest.approx(0.0002)
    assert budget.reserved_usd == 0


@pytest.mark.parametrize(
    ("scripted", "why"),
    [
        (lambda: reply(ANSWER, usage={}), "no usage at all"),
        (lambda: reply(ANSWER, cost=-1.0), "a negative cost"),
        (lambda: reply(ANSWER, cost=float("nan")), "a cost that is not a number"),
        (lambda: reply(ANSWER, usage={"prompt_tokens": -7, "completion_tokens": "9"}), "nonsense"),
        (lambda: drop(), "no reply: the connection dropped"),
    ],
)
def test_a_request_whose_cost_is_not_known_is_charged_its_worst_case(
    fake_server: FakeServer, six_tasks: Path, scripted: Callable[[], Action], why: str
) -> None:
    """A server that reports nothing usable (or nothing at all) cannot spend past the cap:
    each such request counts as its worst case, COST here (plus, where its token counts were
    usable, their price, a few hundredths of it), so the run stops after five."""
    _priced(fake_server)
    fake_server.responder = lambda request: scripted()
    args = ("-d", str(six_tasks), "--run-name", "h", "-j", "3", "--retries", "0")
    result = _run("traces", *args, "--max-cost", "0.0055")
    assert result.returncode == 0, result.stderr
    manifest = _manifest("h")
    assert (manifest["status"], manifest["stop_reason"]) == ("stopped", "budget"), why
    assert 5 * COST <= manifest["budget"]["spent_usd"] <= 0.0055, why
    assert len(fake_server.chat_requests) == 5, why

    # Resuming with a higher cap counts the five as spent, not as the $0 their records say.
    fake_server.responder = _costly
    again = _run("traces", *args, "--max-cost", "0.0085")
    assert again.returncode == 0, again.stderr
    assert 8 * COST <= _manifest("h")["budget"]["spent_usd"] <= 0.0085, why
    assert len(fake_server.chat_requests) == 8, why


def test_an_absurd_reported_cost_stops_the_run_at_once(
    fake_server: FakeServer, six_tasks: Path
) -> None:
    _priced(fake_server)
    fake_server.responder = lambda request: reply(ANSWER, cost=5000.0)
    result = _run("traces", "-d", str(six_tasks), "--run-name", "x", "-j", "1", "--max-cost", "1")
    assert result.returncode == 0, result.stderr
    manifest = _manifest("x")
    assert manifest["status"] == "stopped"
    assert len(fake_server.chat_requests) == 1  # what the provider says it billed is believed


def test_retries_and_concurrency_keep_the_cap(fake_server: FakeServer, six_tasks: Path) -> None:
    """Refused requests (429, 500) are retried free; a timed-out one is charged its worst case;
    eight workers racing for the cap admit no more than it holds."""
    _priced(fake_server)
    seen: Counter[str] = Counter()

    def flaky(request: Recorded) -> Action:
        seen[request.last_user_message] += 1
        if seen[request.last_user_message] == 1:
            return status(429, retry_after="0")
        if seen[request.last_user_message] == 2:
            return status(500)
        return reply(ANSWER, cost=COST, delay=0.05)

    fake_server.responder = flaky
    args = ("-d", str(six_tasks), "--run-name", "f", "-j", "8", "--attempts", "1")
    result = _run("traces", *args, "--max-cost", "0.0045", "--retries", "5")
    assert result.returncode == 0, result.stderr
    manifest = _manifest("f")
    assert manifest["status"] == "stopped"
    assert manifest["budget"]["spent_usd"] == pytest.approx(4 * COST)
    assert [r["error"] for r in _records("f")] == [None] * 4
    assert len(fake_server.chat_requests) == 4 * 3  # each answer after a 429 and a 500

    fake_server.responder = lambda request: hang(5)
    more = ("--max-cost", "0.0055", "--timeout", "1", "--retries", "0")
    timed_out = _run("traces", *args, *more)
    assert timed_out.returncode == 0, timed_out.stderr
    manifest = _manifest("f")
    assert manifest["status"] == "stopped"
    assert manifest["budget"]["spent_usd"] == pytest.approx(5 * COST)  # the record says $0
    assert manifest["cost_usd"] == pytest.approx(4 * COST)
    assert len(fake_server.chat_requests) == 4 * 3 + 1
