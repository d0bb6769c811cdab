"""Reliability of the store with real processes and a real database file: merges and app-style
writers at once lose and double nothing; a merge killed at any moment leaves all of it or none;
a writer killed mid-change leaves the database whole."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

import orjson

from arcbench.store import Store
from conftest import cli_env, run_cli
from rundata import legacy_store, record, stored_traces, traces_run, write_run

WORKER = Path(__file__).with_name("store_worker.py")


def worker(*args: str, out: IO[bytes] | int = subprocess.PIPE) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(WORKER), *args], stdout=out, env=cli_env())


def merge_chain(store: Path, runs: list[Path]) -> subprocess.Popen[bytes]:
    """One process that runs `arcbench merge` on each run in turn, as a user would."""
    commands = " && ".join(
        f"{sys.executable} -m arcbench merge {run} --store {store} >/dev/null" for run in runs
    )
    return subprocess.Popen(["sh", "-c", commands], env=cli_env())


def lines(path: Path) -> list[Any]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def wait_for_line(path: Path, expected: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and expected in lines(path):
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never said {expected!r}")


def all_traces(path: Path) -> list[dict[str, Any]]:
    return [t for ts in stored_traces(path).values() for t in ts]


def intact(path: Path) -> bool:
    with sqlite3.connect(path) as db:
        ok = db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    db.close()
    return ok


def seed(tmp_path: Path, store: Path) -> dict[str, list[dict[str, Any]]]:
    """A store holding an earlier traces_store.json of 100 traces, imported through the CLI."""
    seeded = legacy_store(tasks=10, per_task=10)
    legacy = tmp_path / "traces_store.json"
    legacy.write_bytes(orjson.dumps(seeded))
    result = run_cli("merge", str(legacy), "--store", str(store))
    assert result.returncode == 0, result.stderr
    return seeded


def test_merges_and_app_writers_at_once_lose_and_double_nothing(tmp_path: Path) -> None:
    store_path = tmp_path / "data" / "arcbench.db"
    seeded = seed(tmp_path, store_path)
    base_scores = {t["trace_id"]: t["score"] for ts in seeded.values() for t in ts}
    targets = [*base_scores][:30]
    runs = [traces_run(tmp_path / f"run{n}", f"r{n}", tasks=15) for n in range(8)]
    stop = tmp_path / "stop"
    votes_out, added_out = tmp_path / "votes.jsonl", tmp_path / "added.jsonl"

    with votes_out.open("wb") as v, added_out.open("wb") as a:
        voter = worker("vote", str(store_path), "voter", ",".join(targets), str(stop), out=v)
        adder = worker("add", str(store_path), "adder", str(stop), out=a)
        wait_for_line(votes_out, "ready")
        wait_for_line(added_out, "ready")
        merges = [merge_chain(store_path, runs[:4]), merge_chain(store_path, runs[4:])]
        for process in merges:
            assert process.wait(timeout=120) == 0
        stop.touch()  # the app-style writers started before the merges and stop after them
        assert voter.wait(timeout=60) == 0
        assert adder.wait(timeout=60) == 0

    votes = [tuple(v) for v in lines(votes_out)[1:]]
    added = lines(added_out)[1:]
    traces = all_traces(store_path)
    ids = Counter(t["trace_id"] for t in traces)
    assert max(ids.values()) == 1
    assert set(base_scores) <= set(ids)
    assert set(added) <= set(ids)
    merged = Counter(t["source"]["record_id"] for t in traces if "source" in t)
    assert len(merged) == 8 * 15 * 2
    assert max(merged.values()) == 1
    assert len(traces) == 100 + len(added) + 240
    by_id = {t["trace_id"]: t for t in traces}
    voted = Counter(trace_id for trace_id, _ in votes)
    assert len(votes) == len(set(votes))
    for trace_id, count in voted.items():
        assert by_id[trace_id]["score"] == base_scores[trace_id] + count
    assert all(by_id[trace_id]["voters"][user] == 1 for trace_id, user in votes)
    assert intact(store_path)


def big_run(run_dir: Path, run_id: str, records: int) -> Path:
    """A run whose merge takes a while (long reasoning), so kills can land inside it."""
    text = "The blue shape moves right until it meets the wall. " * 40
    rows = [
        record(run_id, f"task{n % 50:04d}", attempt=n // 50 + 1, reasoning=f"{n}: {text}")
        for n in range(records)
    ]
    return write_run(run_dir, rows)


def test_sigkill_inside_a_merge_leaves_none_of_it(tmp_path: Path) -> None:
    store_path = tmp_path / "arcbench.db"
    seed(tmp_path, store_path)
    before = stored_traces(store_path)
    with Store(store_path) as store:
        revision = store.revision()
    run = big_run(tmp_path / "big", "big", 2000)
    variations = tmp_path / "variations.json"
    made = run_cli(
        "tasks", "augment", "-d", "arc-agi-1/training", "--max-tasks", "5", "--out",
        str(variations),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr

    process = worker("hang-in-merge", str(store_path), str(run), str(variations))
    assert process.stdout is not None
    assert orjson.loads(process.stdout.readline()) == "in-merge"  # every row written, not committed
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=10)

    assert intact(store_path)
    assert stored_traces(store_path) == before
    with Store(store_path) as store:
        assert store.revision() == revision
        assert store.variations.list_variations() == []
    result = run_cli("merge", str(run), str(variations), "--store", str(store_path))
    assert result.returncode == 0, result.stderr
    assert len(all_traces(store_path)) == 100 + 2000
    with Store(store_path) as store:
        assert len(store.variations.list_variations()) == len(orjson.loads(variations.read_bytes()))


def test_sigkill_at_random_moments_leaves_all_or_none_of_each_merge(tmp_path: Path) -> None:
    store_path = tmp_path / "arcbench.db"
    seed(tmp_path, store_path)
    rng = random.Random(7)
    for trial in range(6):
        run = big_run(tmp_path / f"run{trial}", f"r{trial}", 1500)
        process = subprocess.Popen(
            [sys.executable, "-m", "arcbench", "merge", str(run), "--store", str(store_path)],
            stdout=subprocess.DEVNULL,
            env=cli_env(),
        )
        time.sleep(rng.uniform(0.3, 1.5))
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

        assert intact(store_path)
        from_run = [
            t for t in all_traces(store_path) if t.get("source", {}).get("run_id") == f"r{trial}"
        ]
        assert len(from_run) in (0, 1500)
    survivor = run_cli("merge", *(str(tmp_path / f"run{n}") for n in range(6)), "--store",
                       str(store_path))  # fmt: skip
    assert survivor.returncode == 0, survivor.stderr
    assert len(all_traces(store_path)) == 100 + 6 * 1500


def test_a_writer_killed_mid_change_loses_only_what_was_in_flight(tmp_path: Path) -> None:
    store_path = tmp_path / "arcbench.db"
    seed(tmp_path, store_path)
    confirmed: set[str] = set()
    rng = random.Random(5)
    for _ in range(6):
        process = worker("add-forever", str(store_path))
        assert process.stdout is not None
        first = process.stdout.readline()  # writing by now, however long start-up took
        time.sleep(rng.uniform(0.05, 0.5))
        os.kill(process.pid, signal.SIGKILL)
        out = first + process.stdout.read()  # the same buffered reader: no line is lost
        process.wait(10)
        process.stdout.close()
        confirmed |= {orjson.loads(line) for line in out.splitlines() if line.endswith(b'"')}

        assert intact(store_path)
        stored = {t["trace_id"] for t in stored_traces(store_path).get("big", [])}
        assert confirmed <= stored  # everything reported as committed survived
        assert len(stored - confirmed) <= 1  # plus at most the one in flight
        confirmed = stored
    assert len(confirmed) >= 6


def test_concurrent_variations_are_numbered_once_and_signed(tmp_path: Path) -> None:
    path = tmp_path / "arcbench.db"
    seeds = {"ann": range(0, 30), "ben": range(15, 45), "cat": range(0, 45, 3)}
    processes = {
        user: worker("variations", str(path), user, ",".join(map(str, s)))
        for user, s in seeds.items()
    }
    for process in processes.values():
        process.communicate(timeout=120)
        assert process.returncode == 0

    with Store(path) as store:
        entries = list(store.variations.export())
    assert sorted(e["version"] for e in entries) == list(range(1, 46))
    by_seed = {_seed(e): e for e in entries}
    assert len(by_seed) == 45
    for seed_value, entry in by_seed.items():
        assert set(entry["signed_by"]) == {u for u, s in seeds.items() if seed_value in s}
        assert len(entry["signed_by"]) == len(set(entry["signed_by"]))


def _seed(entry: dict[str, Any]) -> int:
    (a, b), c = entry["train"][0]["input"][0], entry["train"][0]["output"][0][0]
    return int(a + 10 * b + 100 * c)
