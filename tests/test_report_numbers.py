"""Every number `arcbench report` prints, recomputed here from the records alone.

Real runs (the CLI against the fake server, codegen through the real sandbox) give records of
every kind: right, wrong, without a grid or program, failed and retried on resume, repaired,
overfitting. This module then scores them by ARC Prize rules in a few lines of its own, never
through arcbench's code, and checks `report --json` and the table against that: a single run,
shards reported together, and `--compare` (tokens and cost over the tasks both ran).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
import pytest

from conftest import cli_env, run_cli
from fakeserver import Action, FakeServer, Recorded, reply, status
from taskdata import write_json

FAST = {
    "ARCBENCH_RETRY_WAIT_INITIAL": "0",
    "ARCBENCH_RETRY_WAIT_MAX": "0",
    "ARCBENCH_RETRY_WAIT_JITTER": "0",
}

Grid = list[list[int]]


def _task(colour: int, tests: int) -> dict[str, Any]:
    """A task whose rule mirrors each row; `colour` marks it in the prompt."""
    inputs = [[[colour, 0, 0]], [[colour, 1], [2, 0]]]
    test_inputs = [[[0, colour, 3]], [[4, 0], [0, colour]]][:tests]
    return {
        "train": [{"input": grid, "output": _mirror(grid)} for grid in inputs],
        "test": [{"input": grid, "output": _mirror(grid)} for grid in test_inputs],
    }


def _mirror(grid: Grid) -> Grid:
    return [row[::-1] for row in grid]


TASKS = {f"t{colour}": _task(colour, 1 + colour % 2) for colour in range(5, 10)}
"""Five tasks (colours 5-9), seven test inputs."""


def _colour(request: Recorded) -> int:
    """Which task a request is about: the colour of its first example's first cell."""
    prompt = next(m["content"] for m in request.body["messages"] if m["role"] == "user")
    first = prompt.split("Example 1 input:\n", 1)[1].split("\n\n", 1)[0]
    return int(json.loads(first)[0][0])


def _test_input(request: Recorded) -> Grid:
    text = request.last_user_message.split("Test input:\n", 1)[1].split("\n\n", 1)[0]
    return list(json.loads(text))


def _fence(grid: Grid) -> str:
    return f"The rows are mirrored.\n```json\n{json.dumps(grid)}\n```"


class TracesScript:
    """Per task: 5 always right, 6 right on every other call, 7 never gives a grid, 8 fails
    (HTTP 400, billed) until `healed`, 9 wrong twice and then right (pass@k, not pass@2)."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.healed = False

    def __call__(self, request: Recorded) -> Action:
        colour, grid = _colour(request), _test_input(request)
        key = f"{colour}:{grid}"
        self.calls[key] = count = self.calls.get(key, 0) + 1
        cost = round(0.0001 * colour * count, 7)
        right, wrong = _fence(_mirror(grid)), _fence(grid)
        if colour == 6:
            return reply(right if count % 2 else wrong, cost=cost)
        if colour == 7:
            return reply("I cannot tell.", cost=cost)
        if colour == 8 and not self.healed:
            return status(400, usage={"prompt_tokens": 11, "completion_tokens": 0, "cost": cost})
        if colour == 9:
            return reply(right if count > 2 else wrong, cost=cost)
        return reply(right, cost=cost)


def _run(server: FakeServer, command: str, *args: str) -> None:
    result = run_cli(
        command,
        *("--model", "LOCAL_0", "--base-url", server.url, "--max-concurrent", "1"),
        *args,
        env=cli_env(**FAST),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr


def _report(*args: str, columns: int = 200) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """`report ARGS --json`, and the table's rows (label: values) at `columns`."""
    as_json = run_cli("report", *args, "--json")
    assert as_json.returncode == 0, as_json.stderr
    table = run_cli("report", *args, env=cli_env(COLUMNS=str(columns)))
    assert table.returncode == 0, table.stderr
    return orjson.loads(as_json.stdout), _rows(table.stdout)


def _rows(text: str) -> dict[str, list[str]]:
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if len(cells) >= 2 and cells[0]:
            rows[cells[0]] = cells[1:]
    return rows


# -- the independent scoring --------------------------------------------------------------------


def _lines(*runs: Path) -> list[dict[str, Any]]:
    return [
        orjson.loads(line)
        for run in runs
        for line in (run / "results.jsonl").read_bytes().splitlines()
        if line.strip()
    ]


def _latest(lines: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for line in lines:
        latest[line["record_id"]] = line
    return list(latest.values())


def _declared(*runs: Path) -> dict[str, int]:
    declared: dict[str, int] = {}
    for run in runs:
        declared.update(orjson.loads((run / "run.json").read_bytes())["dataset"]["test_inputs"])
    return declared


def _billed(lines: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "prompt_tokens": sum(line["usage"]["prompt_tokens"] for line in lines),
        "completion_tokens": sum(line["usage"]["completion_tokens"] for line in lines),
        "cost_usd": sum(line["cost_usd"] for line in lines),
    }


def _scores(declared: dict[str, int], solved: set[tuple[str, int]]) -> dict[str, float]:
    per_task = [sum((t, i) in solved for i in range(n)) / n for t, n in declared.items()]
    outputs = sum(declared.values())
    return {
        "score": sum(per_task) / len(per_task),
        "per_output": sum(1 for t, n in declared.items() for i in range(n) if (t, i) in solved)
        / outputs,
        "all_or_nothing": sum(1 for s in per_task if s == 1) / len(per_task),
        "tasks_solved": sum(1 for s in per_task if s == 1),
        "outputs_solved": len(solved),
    }


def traces_truth(*runs: Path, only: set[str] | None = None) -> dict[str, Any]:
    lines = [line for line in _lines(*runs) if only is None or line["task_id"] in only]
    latest = _latest(lines)
    declared = {t: n for t, n in _declared(*runs).items() if only is None or t in only}
    ok = [r for r in latest if r["error"] is None]
    pass2 = {
        (r["task_id"], r["test_index"]) for r in ok if r["correct"] is True and r["attempt"] <= 2
    }
    anyk = {(r["task_id"], r["test_index"]) for r in ok if r["correct"] is True}
    return {
        **_scores(declared, pass2),
        "pass_at_k": len(anyk) / sum(declared.values()),
        "records": len(latest),
        "errors": sum(1 for r in latest if r["error"] is not None),
        "parse_errors": sum(1 for r in ok if r["parse_error"] is not None),
        "outputs": sum(declared.values()),
        **_billed(lines),
    }


def codegen_truth(*runs: Path, only: set[str] | None = None) -> dict[str, Any]:
    lines = [line for line in _lines(*runs) if only is None or line["task_id"] in only]
    latest = _latest(lines)
    declared = {t: n for t, n in _declared(*runs).items() if only is None or t in only}
    finals: dict[tuple[str, int], dict[str, Any]] = {}
    for record in latest:
        if record["error"] is None:
            key = (record["task_id"], record["attempt"])
            if key not in finals or record["round"] >= finals[key]["round"]:
                finals[key] = record

    def accuracy(program: dict[str, Any]) -> float:
        results = program["train_results"] or []
        return sum(r["status"] == "correct" for r in results) / len(results) if results else 0.0

    pass2: set[tuple[str, int]] = set()
    anyk: set[tuple[str, int]] = set()
    selected: list[dict[str, Any]] = []
    for task in declared:
        mine = sorted(
            ((attempt, p) for (t, attempt), p in finals.items() if t == task),
            key=lambda item: (-accuracy(item[1]), item[0]),
        )
        chosen = [program for _, program in mine[:2]]
        selected += chosen
        for _, program in mine:
            anyk |= {(task, i) for i, c in enumerate(program["correct"] or []) if c is True}
        for program in chosen:
            pass2 |= {(task, i) for i, c in enumerate(program["correct"] or []) if c is True}
    fits = [p for p in finals.values() if accuracy(p) == 1.0]
    return {
        **_scores(declared, pass2),
        "pass_at_k": len(anyk) / sum(declared.values()),
        "records": len(latest),
        "errors": sum(1 for r in latest if r["error"] is not None),
        "parse_errors": sum(1 for r in latest if r["error"] is None and r["parse_error"]),
        "outputs": sum(declared.values()),
        "checked": sum(1 for r in latest if r["error"] is None),
        "final": len(finals),
        "fit_train": len(fits),
        "train_accuracy": sum(map(accuracy, finals.values())) / len(finals),
        "selected": len(selected),
        "selected_fit_train": sum(1 for p in selected if accuracy(p) == 1.0),
        "overfit": sum(1 for p in fits if False in (p["correct"] or [])),
        **_billed(lines),
    }


# -- checks -------------------------------------------------------------------------------------


def check_common(
    summary: dict[str, Any], rows: dict[str, list[str]], truth: dict[str, Any]
) -> None:
    for key in ("score", "per_output", "all_or_nothing", "pass_at_k"):
        assert summary[key] == pytest.approx(truth[key]), key
    counts = summary["counts"]
    assert counts["outputs"] == truth["outputs"]
    assert counts["outputs_solved"] == truth["outputs_solved"]
    assert summary["tasks_solved"] == truth["tasks_solved"]
    assert counts["records"] == truth["records"]
    assert counts["errors"] == truth["errors"]
    assert counts["parse_errors"] == truth["parse_errors"]
    assert summary["usage"]["prompt_tokens"] == truth["prompt_tokens"]
    assert summary["usage"]["completion_tokens"] == truth["completion_tokens"]
    assert summary["cost_usd"] == pytest.approx(truth["cost_usd"], abs=1e-6)

    assert rows["score (per task, pass@2)"] == [f"{truth['score']:.2%}"]
    assert rows["per test output"] == [f"{truth['per_output']:.2%}"]
    assert rows["all or nothing"] == [f"{truth['all_or_nothing']:.2%}"]
    assert rows["test outputs solved"] == [f"{truth['outputs_solved']:,} / {truth['outputs']:,}"]
    assert rows["tasks"] == [
        f"{len(summary['task_scores']):,} ({truth['tasks_solved']} fully solved)"
    ]
    assert rows["errors"] == [str(truth["errors"])]
    assert rows["tokens (prompt / completion)"] == [
        f"{truth['prompt_tokens']:,} / {truth['completion_tokens']:,}"
    ]
    assert rows["cost"] == [f"${truth['cost_usd']:.4f}"]


def check_traces(
    summary: dict[str, Any], rows: dict[str, list[str]], truth: dict[str, Any]
) -> None:
    check_common(summary, rows, truth)
    assert rows["pass@k (any attempt right)"] == [f"{truth['pass_at_k']:.2%}"]
    assert rows["attempts recorded"] == [f"{truth['records']:,}"]
    assert rows["replies without a grid"] == [str(truth["parse_errors"])]
    assert summary["programs"] is None


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return write_json(tmp_path / "five.json", TASKS)


def test_a_traces_report_counts_what_the_records_hold(
    fake_server: FakeServer, dataset: Path
) -> None:
    script = TracesScript()
    fake_server.responder = script
    _run(fake_server, "traces", "-d", str(dataset), "--attempts", "3", "--run-name", "t")
    script.healed = True  # the resume retries task 8's failures; their first calls stay billed
    _run(fake_server, "traces", "-d", str(dataset), "--attempts", "3", "--run-name", "t")
    run = Path("runs/t")
    truth = traces_truth(run)
    lines = _lines(run)
    assert len(lines) > truth["records"]  # superseded failures are in the file, and billed
    assert 0 < truth["score"] < 1
    assert truth["pass_at_k"] > truth["score"]
    assert truth["parse_errors"]
    assert truth["cost_usd"] > 0

    summary, rows = _report(str(run))
    check_traces(summary, rows, truth)
    manifest = orjson.loads((run / "run.json").read_bytes())
    assert manifest["usage"]["prompt_tokens"] == truth["prompt_tokens"]
    assert manifest["cost_usd"] == pytest.approx(truth["cost_usd"], abs=1e-6)
    assert manifest["score"]["score"] == pytest.approx(truth["score"])

    _, narrow = _report(str(run), columns=80)  # the same numbers at 80 columns, none cut
    assert narrow == rows


def test_shards_reported_together_add_up(fake_server: FakeServer, dataset: Path) -> None:
    script = TracesScript()
    fake_server.responder = script
    for shard in ("1/2", "2/2"):
        _run(
            fake_server,
            "traces",
            "-d",
            str(dataset),
            "--shard",
            shard,
            "--run-name",
            f"s{shard[0]}",
        )
    runs = (Path("runs/s1"), Path("runs/s2"))
    truth = traces_truth(*runs)
    assert truth["errors"] == 2  # task 8's two attempts, never healed
    summary, rows = _report(*map(str, runs))
    check_traces(summary, rows, truth)
    assert len(summary["task_scores"]) == len(TASKS)


def test_compare_counts_tokens_and_cost_over_the_tasks_both_ran(
    fake_server: FakeServer, dataset: Path, tmp_path: Path
) -> None:
    fake_server.responder = TracesScript()
    _run(fake_server, "traces", "-d", str(dataset), "--run-name", "a")
    fewer = {key: TASKS[key] for key in ("t5", "t6", "t8")} | {"t4": _task(4, 1)}
    _run(
        fake_server, "traces", "-d", str(write_json(tmp_path / "b.json", fewer)), "--run-name", "b"
    )
    common = {"t5", "t6", "t8"}
    truth_a = traces_truth(Path("runs/a"), only=common)
    truth_b = traces_truth(Path("runs/b"), only=common)
    assert truth_a["prompt_tokens"] < traces_truth(Path("runs/a"))["prompt_tokens"]

    compared, rows = _report("runs/a", "--compare", "runs/b")
    assert compared["common_tasks"] == 3
    assert compared["usage_over"] == "common_tasks"
    for side, truth in (("a", truth_a), ("b", truth_b)):
        assert compared[side]["score"] == pytest.approx(truth["score"])
        assert compared[side]["per_output"] == pytest.approx(truth["per_output"])
        assert compared[side]["usage"]["prompt_tokens"] == truth["prompt_tokens"] > 0
        assert compared[side]["usage"]["completion_tokens"] == truth["completion_tokens"]
        assert compared[side]["cost_usd"] == pytest.approx(truth["cost_usd"], abs=1e-6)
    assert compared["a"]["runs"][0]["path"] == "runs/a"
    assert rows["score (per task)"] == [f"{truth_a['score']:.2%}", f"{truth_b['score']:.2%}"]
    assert rows["tokens (prompt + completion)"] == [
        f"{t['prompt_tokens'] + t['completion_tokens']:,}" for t in (truth_a, truth_b)
    ]
    assert rows["cost"] == [f"${t['cost_usd']:.4f}" for t in (truth_a, truth_b)]
    text = run_cli("report", "runs/a", "--compare", "runs/b", env=cli_env(COLUMNS="80")).stdout
    assert "A: runs/a\n" in text
    assert "B: runs/b\n" in text
    assert "compared on the 3 tasks both ran (tokens and cost: on those only)" in text


# -- codegen --------------------------------------------------------------------------------------

GOOD = "```python\ndef transform(grid):\n    return [row[::-1] for row in grid]\n```"
IDENTITY = "```python\ndef transform(grid):\n    return grid\n```"
CRASH = "```python\ndef transform(grid):\n    return grid[99]\n```"


def _cheat(colour: int) -> str:
    """A program that looks the train pairs up: it fits them all and fails every test."""
    pairs = [(p["input"], p["output"]) for p in TASKS[f"t{colour}"]["train"]]
    return (
        "```python\ndef transform(grid):\n"
        f"    for given, wanted in {pairs!r}:\n"
        "        if grid == given:\n            return wanted\n"
        "    return grid\n```"
    )


class CodegenScript:
    """Per task: 5 right at once, 6 identity then repaired, 7 a cheat (overfits), 8 no program
    on attempt 1 and a crash on attempt 2, 9 fails (HTTP 400) on its first request only."""

    def __init__(self) -> None:
        self.calls: dict[int, int] = {}

    def __call__(self, request: Recorded) -> Action:
        colour = _colour(request)
        self.calls[colour] = count = self.calls.get(colour, 0) + 1
        repair = len(request.body["messages"]) > 1
        cost = round(0.0002 * colour * count, 7)
        answers: dict[int, Callable[[], Action]] = {
            5: lambda: reply(GOOD, cost=cost),
            6: lambda: reply(GOOD if repair else IDENTITY, cost=cost),
            7: lambda: reply(_cheat(7), cost=cost),
            8: lambda: reply("No idea." if count == 1 else CRASH, cost=cost),
            9: lambda: status(400) if count == 1 else reply(IDENTITY, cost=cost),
        }
        return answers[colour]()


def test_a_codegen_report_counts_programs_as_the_records_say(
    fake_server: FakeServer, dataset: Path
) -> None:
    fake_server.responder = CodegenScript()
    _run(
        fake_server,
        "codegen",
        "-d",
        str(dataset),
        "--attempts",
        "2",
        "--rounds",
        "1",
        "--run-name",
        "c",
    )
    run = Path("runs/c")
    truth = codegen_truth(run)
    assert truth["overfit"] >= 1
    assert truth["errors"] == 1
    assert truth["parse_errors"] >= 1
    assert truth["checked"] > truth["final"]  # repaired attempts have two rounds

    summary, rows = _report(str(run))
    check_common(summary, rows, truth)
    programs = summary["programs"]
    for key in ("final", "fit_train", "selected", "selected_fit_train", "overfit"):
        assert programs[key] == truth[key], key
    assert programs["train_accuracy"] == pytest.approx(truth["train_accuracy"])
    assert summary["overfit_programs"] == truth["overfit"]
    assert rows["pass@k (any program right)"] == [f"{truth['pass_at_k']:.2%}"]
    assert rows["programs checked (every round)"] == [f"{truth['checked']:,}"]
    assert rows["final programs (one per attempt)"] == [f"{truth['final']:,}"]
    assert rows["mean train accuracy"] == [f"{truth['train_accuracy']:.2%}"]
    assert rows["fit every train pair"] == [f"{truth['fit_train']:,} / {truth['final']:,}"]
    assert rows["selected programs (2 per task)"] == [
        f"{truth['selected']} ({truth['selected_fit_train']} fit train)"
    ]
    assert rows["overfitting (fit train, fail test)"] == [str(truth["overfit"])]
    assert rows["replies without a program"] == [str(truth["parse_errors"])]
    for traces_wording in (
        "attempts recorded",
        "replies without a grid",
        "pass@k (any attempt right)",
    ):
        assert traces_wording not in rows

    _, narrow = _report(str(run), columns=80)
    assert narrow == rows


def test_the_end_of_run_table_agrees_with_the_records(
    fake_server: FakeServer, dataset: Path
) -> None:
    fake_server.responder = CodegenScript()
    result = run_cli(
        "codegen", "--model", "LOCAL_0", "--base-url", fake_server.url, "-d", str(dataset),
        "--run-name", "e", "--max-concurrent", "1", env=cli_env(**FAST, COLUMNS="80"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    truth = codegen_truth(Path("runs/e"))
    rows = _rows(result.stdout)
    assert rows["score (per task, pass@2)"] == [f"{truth['score']:.2%}"]
    assert rows["pass@k (any program right)"] == [f"{truth['pass_at_k']:.2%}"]
    assert rows["programs checked (every round)"] == [f"{truth['checked']:,}"]
    assert rows["overfitting (fit train, fail test)"] == [str(truth["overfit"])]
    assert rows["errors"] == [str(truth["errors"])]
    assert rows["tokens (prompt / completion)"] == [
        f"{truth['prompt_tokens']:,} / {truth['completion_tokens']:,}"
    ]
    assert rows["cost"] == [f"${truth['cost_usd']:.4f}"]


def test_codegen_shards_add_up_and_compare_counts_the_common_tasks(
    fake_server: FakeServer, dataset: Path
) -> None:
    fake_server.responder = CodegenScript()
    for shard in ("1/2", "2/2"):
        _run(fake_server, "codegen", "-d", str(dataset), "--rounds", "1", "--shard", shard,
             "--run-name", f"s{shard[0]}")  # fmt: skip
    shards = (Path("runs/s1"), Path("runs/s2"))
    truth = codegen_truth(*shards)
    summary, rows = _report(*map(str, shards))
    check_common(summary, rows, truth)
    for key in ("final", "fit_train", "selected", "selected_fit_train", "overfit"):
        assert summary["programs"][key] == truth[key], key

    fake_server.responder = CodegenScript()
    _run(fake_server, "codegen", "-d", str(dataset), "--rounds", "1", "--run-name", "whole")
    common = set(orjson.loads(Path("runs/s1/run.json").read_bytes())["dataset"]["task_ids"])
    compared, table = _report("runs/whole", "--compare", "runs/s1")
    assert compared["common_tasks"] == len(common) == 3
    for side, run in (("a", Path("runs/whole")), ("b", Path("runs/s1"))):
        expected = codegen_truth(run, only=common)
        assert compared[side]["score"] == pytest.approx(expected["score"])
        assert compared[side]["usage"]["prompt_tokens"] == expected["prompt_tokens"] > 0
        assert compared[side]["usage"]["completion_tokens"] == expected["completion_tokens"]
        assert compared[side]["cost_usd"] == pytest.approx(expected["cost_usd"], abs=1e-6)
    whole = codegen_truth(Path("runs/whole"))
    assert compared["a"]["usage"]["prompt_tokens"] < whole["prompt_tokens"]
    assert table["cost"][1] == f"${codegen_truth(Path('runs/s1'))['cost_usd']:.4f}"
