"""The runs API over real HTTP: the run list, one run's tasks, a task in full, an attempt with its
text, merging a run's traces (the CLI's merge, the app's rules), the attempts panel (through
transforms), live updates, and a hostile runs directory from which nothing outside is read."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from arcbench.tasks import Task
from arcbench.transforms import apply_to_grid, parse_chain
from conftest import run_cli
from rundata import record, stored_traces, traces_run, write_run
from taskdata import TASK_A, TASK_B
from test_web_security import raw_request
from webapp import AppServer, EventListener, app_config, signed_in

MAIN_RUNS = Path(__file__).parent / "data" / "main-runs"
SECRET = "TOP-SECRET-OUTSIDE-THE-RUNS-DIRECTORY"


def copy_runs(runs: Path, *names: str) -> None:
    for name in names:
        shutil.copytree(MAIN_RUNS / name, runs / name)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[AppServer]:
    """The app over `tmp_path/runs` holding traces-main and codegen-main, offering their
    dataset (`small.json`, as their run.json names it, in the working directory)."""
    shutil.copy(MAIN_RUNS / "small.json", tmp_path / "small.json")
    copy_runs(tmp_path / "runs", "traces-main", "codegen-main")
    config = app_config(tmp_path, default_dataset="small.json", extra_datasets=("small.json",))
    with AppServer(config) as running:
        yield running


@pytest.fixture
def client(server: AppServer) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


def report_json(run: Path) -> dict[str, Any]:
    result = run_cli("report", str(run), "--json")
    assert result.returncode == 0, result.stderr
    return dict(orjson.loads(result.stdout))


# -- reading runs ------------------------------------------------------------------------------


def test_runs_are_listed_with_status_model_and_the_reports_scores(
    server: AppServer, client: httpx.Client
) -> None:
    runs = client.get("/api/runs").json()["runs"]
    assert [run["name"] for run in runs] == ["codegen-main", "traces-main"]
    for run in runs:
        reported = report_json(server.config.runs_dir / run["name"])
        assert run["status"] == "completed"
        assert run["command"] == run["name"].split("-")[0]
        assert run["model"] == reported["runs"][0]["model"]
        assert run["dataset"] == "small.json"
        assert run["totals"]["score"] == pytest.approx(reported["score"])
        assert run["totals"]["records"] == reported["counts"]["records"]
        assert run["totals"]["errors"] == reported["counts"]["errors"]
        assert run["totals"]["parse_errors"] == reported["counts"]["parse_errors"]
        assert run["problems"] == []


def test_a_run_has_every_tasks_outcome(client: httpx.Client) -> None:
    body = client.get("/api/runs/traces-main").json()
    assert body["run"]["name"] == "traces-main"
    assert [
        (t["label"], t["status"], t["solved"], t["attempts"], t["errors"], t["parse_errors"])
        for t in body["tasks"]
    ] == [
        ("aaa", "solved", [True], 2, 1, 0),
        ("bbb", "partly solved", [True, False], 4, 0, 1),
    ]


def test_a_task_in_full_with_its_grids(client: httpx.Client) -> None:
    view = client.get("/api/runs/codegen-main/tasks/aaa").json()
    assert view["note"] is None
    task = Task.model_validate({"id": "aaa", **TASK_A})
    assert [[p["input"], p["output"]] for p in view["train"]] == [
        [p.input, p.output] for p in task.train
    ]
    (test,) = view["tests"]
    assert test["input"] == TASK_A["test"][0]["input"]
    assert test["expected"] == TASK_A["test"][0]["output"]
    assert test["solved"] is True
    assert [s["prediction"] for s in test["submitted"]] == [[[0, 3], [0, 0]], None]
    attempts = view["attempts"]
    assert [(a["attempt"], a["round"], a["outcome"]) for a in attempts] == [
        (1, 0, "answered"),
        (1, 1, "correct"),
        (2, 0, "parse_error"),
        (2, 1, "error"),
    ]
    repaired = attempts[1]
    assert repaired["code"].startswith("def transform(grid):")
    assert repaired["submitted"]
    assert repaired["final"]
    assert [r["status"] for r in repaired["train_results"]] == ["correct", "correct"]
    assert attempts[0]["final"] is False
    assert attempts[0]["train_results"][0]["status"] == "wrong"
    assert attempts[0]["train_results"][0]["output"] is not None
    assert attempts[2]["parse_error"]
    assert attempts[2]["response"]
    assert attempts[3]["error"]


def test_a_traces_task_has_each_attempts_reasoning(client: httpx.Client) -> None:
    view = client.get("/api/runs/traces-main/tasks/bbb").json()
    assert [t["expected"] for t in view["tests"]] == [[[6, 6]], None]
    assert [a["test_index"] for a in view["attempts"]] == [0, 0, 1, 1]
    parsed = view["attempts"][0]
    assert parsed["outcome"] == "parse_error"
    assert parsed["reasoning"]
    assert parsed["answers"] == [{"test_index": 0, "prediction": None, "correct": False}]


def test_grids_come_only_from_a_dataset_the_app_offers(tmp_path: Path) -> None:
    copy_runs(tmp_path / "runs", "traces-main")
    shutil.copy(MAIN_RUNS / "small.json", tmp_path / "small.json")
    with AppServer(app_config(tmp_path)) as running, running.client() as http:
        view = http.get("/api/runs/traces-main/tasks/aaa").json()
    assert view["train"] == []
    assert view["tests"][0]["expected"] is None
    assert "does not offer the run's dataset small.json" in view["note"]
    assert view["attempts"][1]["answers"][0]["prediction"] == [[0, 3], [0, 0]]


def test_a_dataset_changed_since_the_run_shows_no_grids(tmp_path: Path) -> None:
    copy_runs(tmp_path / "runs", "traces-main")
    changed = {"aaa": TASK_A, "bbb": {**TASK_B, "train": TASK_A["train"]}}
    (tmp_path / "small.json").write_bytes(orjson.dumps(changed))
    config = app_config(tmp_path, default_dataset="small.json", extra_datasets=("small.json",))
    with AppServer(config) as running, running.client() as http:
        view = http.get("/api/runs/traces-main/tasks/aaa").json()
    assert view["note"] == "grids not shown (small.json changed since the run)"
    assert view["train"] == []


def test_an_attempt_with_its_text(client: httpx.Client) -> None:
    view = client.get("/api/runs/codegen-main/tasks/aaa").json()
    wanted = view["attempts"][1]
    attempt = client.get(f"/api/runs/codegen-main/records/{wanted['record_id']}").json()
    assert attempt == wanted


def test_unknown_runs_tasks_and_records_are_404(client: httpx.Client) -> None:
    assert client.get("/api/runs/nope").status_code == 404
    assert client.get("/api/runs/nope/tasks/aaa").status_code == 404
    assert client.get("/api/runs/traces-main/tasks/zzz").status_code == 404
    assert client.get("/api/runs/traces-main/tasks/aaa", params={"version": 3}).status_code == 404
    assert client.get("/api/runs/traces-main/records/0000").status_code == 404
    assert client.post("/api/runs/nope/merge").status_code in (401, 404)


@pytest.mark.parametrize(
    "path",
    [
        "/api/runs/..",
        "/api/runs/%2e%2e",
        "/api/runs/%2E%2E/tasks/aaa",
        "/api/runs/.",
        "/api/runs/..%2f..%2fetc",
        "/api/runs/%2e%2e%2fdata/records/x",
        "/api/runs/traces-main%2f..%2fcodegen-main",
    ],
)
def test_a_run_named_dot_dot_or_with_separators_is_never_read(server: AppServer, path: str) -> None:
    status, body = raw_request(server, "GET", path, {"host": "127.0.0.1"})
    assert status in (404, 422), (path, body)


# -- nothing outside the runs directory ----------------------------------------------------------


def test_nothing_outside_the_runs_directory_is_read(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    elsewhere = write_run(
        tmp_path / "elsewhere" / "run", [record("s", "aaa", reasoning=SECRET, correct=True)]
    )
    write_run(runs / "ok", [record("r", "aaa")])
    (runs / "linked").symlink_to(elsewhere)
    half = runs / "half"
    half.mkdir()
    (half / "results.jsonl").symlink_to(elsewhere / "results.jsonl")
    (half / "run.json").symlink_to(elsewhere / "run.json")
    with AppServer(app_config(tmp_path)) as running:
        with running.client() as http:
            listed = http.get("/api/runs")
            assert [r["name"] for r in listed.json()["runs"]] == ["half", "ok"]
            answers = [
                listed,
                http.get("/api/runs/linked"),
                http.get("/api/runs/half"),
                http.get("/api/runs/half/tasks/aaa"),
                http.get("/api/attempts/aaa"),
            ]
            assert http.get("/api/runs/linked").status_code == 404
        with signed_in(running, "eve") as eve:
            merged = eve.post("/api/runs/half/merge")
            assert merged.status_code == 409
            assert "not a regular file" in merged.json()["detail"]
            answers.append(eve.get("/api/traces/aaa"))
    for answer in answers:
        assert SECRET not in answer.text
    assert stored_traces(running.config.store) == {}


# -- merging -------------------------------------------------------------------------------------


def test_merging_a_run_adds_what_the_cli_merge_adds_once(server: AppServer, tmp_path: Path) -> None:
    other = tmp_path / "cli.db"
    result = run_cli("merge", str(server.config.runs_dir / "traces-main"), "--store", str(other))
    assert result.returncode == 0, result.stderr
    by_cli = stored_traces(other)
    with signed_in(server, "ada") as ada:
        first = ada.post("/api/runs/traces-main/merge")
        assert first.status_code == 200, first.text
        added = sum(len(traces) for traces in by_cli.values())
        assert first.json() == {
            "added": added,
            "duplicates": 0,
            "errors": 1,
            "empty": 3,
            "tasks": len(by_cli),
        }
        again = ada.post("/api/runs/traces-main/merge").json()
        assert (again["added"], again["duplicates"]) == (0, added)
        shown = ada.get("/api/traces/aaa").json()["traces"]
    stored = stored_traces(server.config.store)
    assert {t["source"]["record_id"] for ts in stored.values() for t in ts} == {
        t["source"]["record_id"] for ts in by_cli.values() for t in ts
    }
    assert shown[0]["source"]["run_id"] == "dbd52696492c4be9a9c8fe8a76f1f149"
    assert shown[0]["source"]["correct"] is True


def test_two_people_merging_one_run_at_once_add_each_trace_once(server: AppServer) -> None:
    run = traces_run(server.config.runs_dir / "wide", "wide", tasks=200, attempts=2)
    answers: list[httpx.Response] = []

    def merge(name: str) -> None:
        with signed_in(server, name) as http:
            answers.append(http.post(f"/api/runs/{run.name}/merge"))

    threads = [threading.Thread(target=merge, args=(name,)) for name in ("ada", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert [answer.status_code for answer in answers] == [200, 200], [a.text for a in answers]
    bodies = [answer.json() for answer in answers]
    assert sum(body["added"] for body in bodies) == 400
    assert all(body["added"] + body["duplicates"] == 400 for body in bodies)
    stored = stored_traces(server.config.store)
    assert sum(len(traces) for traces in stored.values()) == 400


def test_merging_needs_a_session_and_the_apps_own_page(server: AppServer) -> None:
    with server.client() as anonymous:
        assert anonymous.post("/api/runs/traces-main/merge").status_code == 401
    with signed_in(server, "ada") as ada:
        cookie = ada.cookies["arcbench_session"]
    with httpx.Client(
        base_url=server.url,
        headers={"origin": "http://evil.example"},
        cookies={"arcbench_session": cookie},
    ) as foreign:
        assert foreign.post("/api/runs/traces-main/merge").status_code == 403
    assert stored_traces(server.config.store) == {}


# -- the attempts panel ----------------------------------------------------------------------------


def test_every_runs_attempts_at_a_task(client: httpx.Client) -> None:
    body = client.get("/api/attempts/aaa").json()
    assert (body["task_id"], body["version"]) == ("aaa", None)
    runs = {run["name"]: run for run in body["runs"]}
    assert set(runs) == {"codegen-main", "traces-main"}
    traces = runs["traces-main"]
    assert (traces["command"], traces["model_id"], traces["status"]) == (
        "traces",
        "fake-model",
        "completed",
    )
    assert [(a["attempt"], a["outcome"], a["submitted"]) for a in traces["attempts"]] == [
        (1, "error", True),
        (2, "correct", True),
    ]
    assert traces["attempts"][1]["answers"] == [
        {"test_index": 0, "prediction": [[0, 3], [0, 0]], "correct": True}
    ]
    codegen = runs["codegen-main"]["attempts"]
    assert [(a["attempt"], a["round"], a["final"]) for a in codegen] == [
        (1, 0, False),
        (1, 1, True),
        (2, 0, False),
        (2, 1, True),
    ]
    assert client.get("/api/attempts/zzz").json()["runs"] == []
    assert client.get("/api/attempts/aaa", params={"version": 2}).json()["runs"] == []


def test_attempts_are_shown_as_the_transforms_show_the_task(client: httpx.Client) -> None:
    chain = "rot90+color:0312456789"
    body = client.get("/api/attempts/aaa", params={"transforms": chain, "tests": 1}).json()
    traces = next(run for run in body["runs"] if run["name"] == "traces-main")
    (answer,) = traces["attempts"][1]["answers"]
    assert answer["prediction"] == apply_to_grid([[0, 3], [0, 0]], parse_chain(chain))
    swapped = client.get("/api/attempts/bbb", params={"transforms": "swap:0,0", "tests": 2})
    answers = [
        answer["test_index"]
        for run in swapped.json()["runs"]
        for attempt in run["attempts"]
        for answer in attempt["answers"]
    ]
    assert answers == [1, 1]  # test 0 went into the train pairs; test 1 stays where it was


def test_bad_attempt_queries_are_refused(client: httpx.Client) -> None:
    assert client.get("/api/attempts/aaa", params={"transforms": "spin"}).status_code == 422
    assert client.get("/api/attempts/aaa", params={"tests": -1}).status_code == 422
    assert client.get("/api/attempts/aaa", params={"version": 0}).status_code == 422
    assert client.get("/api/attempts/aaa", params={"version": 10**20}).status_code == 422
    huge = {"version": 10**20}
    assert client.get("/api/runs/traces-main/tasks/aaa", params=huge).status_code == 422


# -- live -----------------------------------------------------------------------------------------


def test_a_growing_run_is_announced_within_two_seconds(server: AppServer) -> None:
    run = write_run(server.config.runs_dir / "live", [record("r", "aaa")], status="running")
    listener = EventListener(server.url, "runs")
    listener.wait_first()
    with server.client() as http:
        assert http.get("/api/runs/live").json()["run"]["totals"]["records"] == 1
        appended_at = time.monotonic()
        with (run / "results.jsonl").open("ab") as handle:
            handle.write(orjson.dumps(record("r", "aaa", attempt=2, correct=True)) + b"\n")
        assert listener.wait_second() - appended_at < 2.0
        body = http.get("/api/runs/live").json()
    assert body["run"]["status"] == "running"
    assert body["run"]["totals"]["records"] == 2
    assert body["tasks"][0]["status"] == "solved"


def test_a_run_read_while_it_is_written_shows_only_whole_records(server: AppServer) -> None:
    """Once three readers have each had a first answer, a writer appends 199 more records in
    pieces (each line split mid-way, flushed between the halves, as a busy disk can leave it)
    while they keep asking for the run, its task and the attempts panel: every answer is whole,
    counts only grow from 1, and the end has all 200."""
    total = 200
    run = write_run(server.config.runs_dir / "growing", [record("g", "aaa")], status="running")
    done = threading.Event()
    started = threading.Barrier(4, timeout=60)
    failures: list[str] = []
    seen: dict[str, list[int]] = {"run": [], "task": [], "attempts": []}

    def write() -> None:
        started.wait()
        with (run / "results.jsonl").open("ab") as handle:
            for attempt in range(2, total + 1):
                line = orjson.dumps(record("g", "aaa", attempt=attempt, correct=attempt % 7 == 0))
                handle.write(line[: len(line) // 2])
                handle.flush()
                time.sleep(0.005)
                handle.write(line[len(line) // 2 :] + b"\n")
                handle.flush()
        done.set()

    def read(path: str, count: Callable[[Any], int], into: list[int]) -> None:
        with server.client() as http:
            while True:
                finished = done.is_set()
                response = http.get(path)
                if response.status_code != 200:
                    failures.append(f"{path}: {response.status_code} {response.text[:200]}")
                    return
                into.append(count(response.json()))
                if len(into) == 1:
                    started.wait()
                if finished:
                    return

    readers = [
        threading.Thread(
            target=read,
            args=("/api/runs/growing", lambda b: b["run"]["totals"]["records"], seen["run"]),
        ),
        threading.Thread(
            target=read,
            args=("/api/runs/growing/tasks/aaa", lambda b: len(b["attempts"]), seen["task"]),
        ),
        threading.Thread(
            target=read,
            args=(
                "/api/attempts/aaa",
                lambda b: sum(len(r["attempts"]) for r in b["runs"] if r["name"] == "growing"),
                seen["attempts"],
            ),
        ),
    ]
    writer = threading.Thread(target=write)
    for thread in (*readers, writer):
        thread.start()
    for thread in (writer, *readers):
        thread.join(120)
    assert failures == []
    for name, counts in seen.items():
        assert counts[0] == 1, name
        assert counts == sorted(counts), f"{name} went back: {counts}"
        assert counts[-1] == total, name
    with server.client() as http:
        body = http.get("/api/runs/growing").json()
        assert body["run"]["totals"]["records"] == total
        assert body["run"]["problems"] == []  # no half line was ever taken for a bad one
        assert len(http.get("/api/runs/growing/tasks/aaa").json()["attempts"]) == total
