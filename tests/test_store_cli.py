"""`arcbench store` and the store's edges through the real CLI: the original files import and
export field for field, every bad store file is refused in one line and left untouched, and
what the commands write in a checkout's `data/` is ignored by git."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arcbench.store import Store
from arcbench.store.schema import APPLICATION_ID
from conftest import cli_env, in_sandbox, run_cli
from rundata import legacy_store, stored_traces, traces_run
from webapp import ServeProcess

STORE = Path("data/arcbench.db")
REPOSITORY = Path(__file__).resolve().parents[1]


def ok(*args: str, env: dict[str, str] | None = None) -> str:
    result = run_cli(*args, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def refused(*args: str, env: dict[str, str] | None = None) -> str:
    """Run a command that must fail with one clear line; return that line."""
    result = run_cli(*args, env=env)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("arcbench: error: ")
    return lines[0]


# ---- the original formats, in and out ---------------------------------------------------------


def original_store() -> dict[str, list[dict[str, Any]]]:
    """A traces_store.json with everything an earlier store may hold: unknown fields, a source
    with fields of its own, versions, edits, a text timestamp, scores no voter explains."""
    data = legacy_store(tasks=3, per_task=4)
    first = data["task0000"]
    first[0]["flagged"] = {"by": "carol", "why": "typo"}
    first[1]["voters"], first[1]["score"] = {"a": 1, "b": -1, "c": 1}, 1
    first[2]["timestamp"] = "2024-05-04 12:00:00"
    first[3].update(version=2, edited_at=1714900000.5, score=-1, voters={"d": -1})
    data["task0001"][0].update(
        username="Qwen/Qwen3-8B",
        source={"record_id": "abc", "model": "Qwen/Qwen3-8B", "temperature": 0.7},
    )
    return data


def test_an_export_of_an_imported_store_equals_it_byte_for_byte(tmp_path: Path) -> None:
    source = tmp_path / "traces_store.json"
    source.write_bytes(orjson.dumps(original_store(), option=orjson.OPT_INDENT_2))

    out = ok("merge", str(source))
    assert "added 12 traces" in out
    ok("store", "export", "--traces", str(tmp_path / "out.json"))

    assert (tmp_path / "out.json").read_bytes() == source.read_bytes()


def test_imported_scores_and_voters_keep_counting(tmp_path: Path) -> None:
    source = tmp_path / "traces_store.json"
    source.write_bytes(orjson.dumps(original_store()))
    ok("merge", str(source))

    with Store(STORE) as store:
        unexplained = store.traces.get_trace("task0000_alice_00000002")  # score 2, no voters
        assert store.traces.vote(unexplained.trace_id, "erin", 1).score == 3
        assert store.traces.vote(unexplained.trace_id, "erin", -1).score == 1
        assert store.traces.vote(unexplained.trace_id, "erin", 0).score == 2
        mixed = store.traces.vote("task0000_alice_00000001", "b", 0)
        assert (mixed.score, mixed.voters) == (2, {"a": 1, "c": 1})


def test_importing_a_store_twice_adds_nothing(tmp_path: Path) -> None:
    source = tmp_path / "traces_store.json"
    source.write_bytes(orjson.dumps(original_store()))
    ok("merge", str(source))
    once = stored_traces(STORE)

    out = ok("merge", str(source), str(source))

    assert "added 0 traces" in out
    assert stored_traces(STORE) == once


def variations_file(tmp_path: Path) -> Path:
    """`tasks augment` output, plus an entry with fields of its own and a gap in the numbers."""
    path = tmp_path / "dataset.json"
    ok("tasks", "augment", "-d", "arc-agi-1/training", "--max-tasks", "2", "--transforms",
       "rot90,flip_h", "--out", str(path))  # fmt: skip
    entries = orjson.loads(path.read_bytes())
    extra = {**entries[0], "version": 9, "signed_by": ["ann", "bob"], "note": "hand-made"}
    extra["train"] = [{**extra["train"][0], "comment": "kept"}, *extra["train"][1:]]
    extra["train"][0]["input"] = [[5]]
    path.write_bytes(orjson.dumps([*entries, extra]))
    return path


def test_variations_round_trip_and_read_back_as_a_dataset(tmp_path: Path) -> None:
    source = variations_file(tmp_path)

    out = ok("merge", str(source))
    assert "variations added" in out
    ok("store", "export", "--variations", str(tmp_path / "out.json"))

    assert (tmp_path / "out.json").read_bytes() == source.read_bytes()
    listed = orjson.loads(ok("tasks", "list", "--dataset", str(tmp_path / "out.json"), "--json"))
    entries = orjson.loads(source.read_bytes())
    assert [(row["id"], row["version"]) for row in listed] == [
        (e["task_id"], e["version"]) for e in entries
    ]


def test_importing_variations_again_signs_or_keeps(tmp_path: Path) -> None:
    source = variations_file(tmp_path)
    ok("merge", str(source))
    entries = orjson.loads(source.read_bytes())
    resigned = [{**e, "signed_by": ["zoe"]} for e in entries[:2]]
    (tmp_path / "again.json").write_bytes(orjson.dumps(resigned))

    out = ok("merge", str(source), str(tmp_path / "again.json"))

    assert _count(out, "variations already stored") == len(entries)
    assert _count(out, "variations signed") == 2
    with Store(STORE) as store:
        stored = list(store.variations.export())
    assert [e["signed_by"][-1] for e in stored[:2]] == ["zoe", "zoe"]
    assert len(stored) == len(entries)


def _count(out: str, label: str) -> int:
    line = next(line for line in out.splitlines() if label in line)
    return int(line.split()[-1])


# ---- arcbench store ---------------------------------------------------------------------------


def test_info_counts_what_the_store_holds(tmp_path: Path) -> None:
    source = tmp_path / "traces_store.json"
    source.write_bytes(orjson.dumps(original_store()))
    ok("merge", str(source), str(traces_run(tmp_path / "run", "r1", tasks=2)))

    facts = orjson.loads(ok("store", "info", "--json"))
    text = ok("store", "info")

    assert (facts["traces"], facts["merged_traces"], facts["votes"]) == (16, 5, 7)
    assert (facts["schema"], facts["variations"], facts["path"]) == (2, 0, str(STORE))
    assert facts["size_bytes"] == STORE.stat().st_size
    assert "traces      16 (5 merged from runs)" in text.splitlines()


def test_backup_is_a_whole_store_and_refuses_to_overwrite(tmp_path: Path) -> None:
    ok("merge", str(traces_run(tmp_path / "run", "r1", tasks=3)))
    target = tmp_path / "backups" / "monday.db"

    out = ok("store", "backup", str(target))

    assert f"to {target}" in out
    assert stored_traces(target) == stored_traces(STORE)
    assert not list(target.parent.glob("*.tmp"))
    assert "exists" in refused("store", "backup", str(target))
    ok("merge", str(traces_run(tmp_path / "more", "r2", tasks=1)))
    ok("store", "backup", str(target), "--force")
    assert len([t for ts in stored_traces(target).values() for t in ts]) == 8
    assert "is the store itself" in refused("store", "backup", str(STORE), "--force")


def test_backup_while_another_process_writes(tmp_path: Path) -> None:
    ok("merge", str(traces_run(tmp_path / "run", "r1", tasks=3)))
    writer = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("store_worker.py")), "add-forever",
         str(STORE)],
        stdout=subprocess.DEVNULL,
        env=cli_env(),
    )  # fmt: skip
    try:
        for n in range(3):
            ok("store", "backup", str(tmp_path / f"b{n}.db"))
            with sqlite3.connect(tmp_path / f"b{n}.db") as db:
                assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
                (count,) = db.execute("SELECT count(*) FROM traces").fetchone()
            db.close()
            assert count >= 6
    finally:
        writer.kill()
        writer.wait()


def test_export_needs_a_file_and_an_existing_store(tmp_path: Path) -> None:
    assert "give --traces FILE, --variations FILE or both" in refused("store", "export")
    line = refused("store", "export", "--traces", "t.json")
    assert "no store at data/arcbench.db yet" in line
    assert not Path("data").exists()


@pytest.mark.parametrize("command", [["store", "info"], ["store", "backup", "b.db"]])
def test_a_first_run_beside_the_old_json_store_names_the_import(
    tmp_path: Path, command: list[str]
) -> None:
    Path("data").mkdir()
    Path("data/traces_store.json").write_bytes(orjson.dumps(legacy_store(1, 1)))
    Path("data/variations.json").write_bytes(b"[]")

    line = refused(*command)

    assert "import it with `arcbench merge data/traces_store.json data/variations.json`" in line
    assert not STORE.exists()


def test_a_merge_that_creates_the_store_names_the_old_json_store(tmp_path: Path) -> None:
    Path("data").mkdir()
    Path("data/traces_store.json").write_bytes(orjson.dumps(legacy_store(1, 1)))

    result = run_cli("merge", str(traces_run(tmp_path / "run", "r1", tasks=1)))

    assert result.returncode == 0, result.stderr
    assert "arcbench merge data/traces_store.json" in result.stderr
    again = run_cli("merge", "data/traces_store.json")
    assert "note:" not in again.stderr
    assert "task0000" in stored_traces(STORE)


def test_the_store_setting_and_flag_choose_the_file(tmp_path: Path) -> None:
    run = str(traces_run(tmp_path / "run", "r1", tasks=1))
    ok("merge", run, env=cli_env(ARCBENCH_STORE="elsewhere.db"))
    ok("merge", run, "--store", "flag.db", env=cli_env(ARCBENCH_STORE="elsewhere.db"))

    assert Path("elsewhere.db").is_file()
    assert Path("flag.db").is_file()
    assert not STORE.exists()
    assert "elsewhere.db" in ok("store", "info", env=cli_env(ARCBENCH_STORE="elsewhere.db"))

    home = tmp_path / "home"  # `ARCBENCH_STORE=~/…` in a .env file, which no shell expands
    ok("merge", run, env=cli_env(ARCBENCH_STORE="~/stores/arcbench.db", HOME=str(home)))
    assert (home / "stores" / "arcbench.db").is_file()
    assert not Path("~").exists()


# ---- bad store files --------------------------------------------------------------------------


def _sqlite(path: Path, *statements: str) -> None:
    with sqlite3.connect(path) as db:
        for statement in statements:
            db.execute(statement)
    db.close()


def _damaged(path: Path) -> None:
    """A real store whose every page after the first has a broken b-tree header."""
    with Store(path) as store:
        for _ in range(20):
            store.traces.add_trace("t", "alice", "x" * 3000)
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for offset in range(page, len(data), page):
        data[offset] = 0xFF
    path.write_bytes(bytes(data))


def _without(kind: str, name: str) -> Callable[[Path], None]:
    """A real store from which another tool dropped one table or index."""

    def make(path: Path) -> None:
        with Store(path) as store:
            store.traces.add_trace("t", "alice", "x")
        _sqlite(path, f"DROP {kind} {name}")

    return make


BAD_STORES: dict[str, tuple[Callable[[Path], object], str]] = {
    "json": (
        lambda p: p.write_bytes(b'{"t1": []}'),
        "is not an arcbench database (not a SQLite file); it was left untouched: it looks like "
        "a JSON file: import it with `arcbench merge",
    ),
    "bytes": (lambda p: p.write_bytes(b"\x00\x01garbage" * 50), "not a SQLite file"),
    "foreign": (
        lambda p: _sqlite(p, "CREATE TABLE notes (x)", "INSERT INTO notes VALUES (1)"),
        "is a SQLite database of another application, not an arcbench store",
    ),
    "newer": (
        lambda p: _sqlite(
            p,
            "CREATE TABLE future (x)",
            f"PRAGMA application_id = {APPLICATION_ID}",
            "PRAGMA user_version = 99",
        ),
        "was written by a newer arcbench (schema 99;",
    ),
    "damaged": (_damaged, "is damaged"),
    "no votes table": (_without("TABLE", "votes"), "is damaged (its table votes is missing)"),
    "no content index": (
        _without("INDEX", "variations_by_content"),
        "is damaged (its index variations_by_content is missing)",
    ),
}


@pytest.mark.parametrize("kind", BAD_STORES)
def test_a_bad_store_file_is_refused_and_left_untouched(tmp_path: Path, kind: str) -> None:
    make, message = BAD_STORES[kind]
    store = tmp_path / "bad.db"
    make(store)
    before = store.read_bytes()
    run = str(traces_run(tmp_path / "run", "r1", tasks=2))

    for command in (
        ["merge", run, "--store", str(store)],
        ["merge", run, "--store", str(store), "--dry-run"],
        ["store", "info", "--store", str(store)],
        ["store", "export", "--traces", "out.json", "--store", str(store)],
    ):
        line = refused(*command)
        assert str(store) in line
        assert message in line

    assert store.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.db", "run"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.symlink_to(p.name), "cannot follow {p}: its symbolic links lead in a loop"),
        (lambda p: os.mkfifo(p), "{p} is not a regular file (a device, pipe or socket)"),
        (lambda p: None, "{p} is not a regular file (a device, pipe or socket)"),
    ],
    ids=["symlink loop", "fifo", "/dev/null"],
)
def test_a_store_path_that_loops_or_is_no_file_is_refused(
    tmp_path: Path, make: Callable[[Path], None], message: str
) -> None:
    """A FIFO once made every command wait forever; a loop gave a traceback."""
    store = tmp_path / "store.db"
    make(store)
    name = str(store) if store.is_symlink() or store.exists() else "/dev/null"
    run = str(traces_run(tmp_path / "run", "r1", tasks=1))

    for command in (
        ["merge", run, "--store", name],
        ["store", "info", "--store", name],
        ["store", "backup", str(tmp_path / "b.db"), "--store", name],
    ):
        assert message.format(p=name) in refused(*command)
    assert not (tmp_path / "b.db").exists()


def test_export_and_backup_never_write_over_the_store(tmp_path: Path) -> None:
    """An export to the store's own path once replaced the database with JSON, and a backup
    onto its write-ahead log made the live store unreadable."""
    ok("merge", str(traces_run(tmp_path / "run", "r1", tasks=2)))
    before = stored_traces(STORE)
    Path("link.db").symlink_to(STORE.resolve())
    with Store(STORE) as running:  # a running web app: the side files exist
        running.traces.count()
        for target in (
            "data/arcbench.db",
            "link.db",
            "data/arcbench.db-wal",
            "data/../data/arcbench.db-shm",
        ):
            for command in (
                ["store", "export", "--traces", target],
                ["store", "export", "--variations", target],
                ["store", "backup", target, "--force"],
            ):
                line = refused(*command)
                assert f"{target} is the store itself" in line or f"{target} is a file of" in line

        line = refused("store", "export", "--traces", "both.json", "--variations", "./both.json")
        assert "--traces and --variations both name both.json" in line

    assert not Path("both.json").exists()
    assert Path("link.db").is_symlink()
    assert stored_traces(STORE) == before
    with sqlite3.connect(STORE) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    db.close()


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap for a private /dev")
def test_an_export_to_standard_output_or_a_device_writes_through(tmp_path: Path) -> None:
    """Exports replaced what they were given by a rename: `--traces /dev/stdout` put a regular
    file where /dev/stdout was, and printed nothing."""
    source = tmp_path / "traces_store.json"
    source.write_bytes(orjson.dumps(original_store(), option=orjson.OPT_INDENT_2))
    ok("merge", str(source))

    piped = in_sandbox(
        '"$PY" -m arcbench store export --traces /dev/stdout | cat > piped.json && '
        '"$PY" -m arcbench store export --traces /dev/stdout > redirected.json && '
        "test -L /dev/stdout && test -c /dev/full && echo devices-intact && "
        '"$PY" -m arcbench store backup /dev/shm/b.db >/dev/null && test -f /dev/shm/b.db && '
        "echo files-in-dev-shm-are-files"
    )
    full = in_sandbox('"$PY" -m arcbench store export --traces /dev/full; test -c /dev/full')

    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == "devices-intact\nfiles-in-dev-shm-are-files\n"
    assert piped.stderr.count("wrote 12 traces to /dev/stdout") == 2
    assert Path("piped.json").read_bytes() == source.read_bytes()
    assert Path("redirected.json").read_bytes() == source.read_bytes()
    assert full.returncode == 0, full.stderr  # /dev/full is still a device
    assert (
        full.stderr
        == "arcbench: error: cannot write /dev/full: the disk is full; free space and retry\n"
    )


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap for a small tmpfs")
def test_a_full_disk_names_the_file_and_leaves_nothing_behind(tmp_path: Path) -> None:
    """A backup onto a full disk was reported as the store's disk being full, and an export
    as "No space left on device; check the path and its permissions", naming no file."""
    run = traces_run(tmp_path / "run", "r1", tasks=400)
    ok("merge", str(run))  # about 370 KB
    small = tmp_path / "small"
    small.mkdir()

    result = in_sandbox(
        '"$PY" -m arcbench store backup small/b.db; '
        '"$PY" -m arcbench store export --traces small/t.json; '
        '"$PY" -m arcbench merge "$RUN" --store small/new.db >/dev/null; '
        "ls -A small",
        "--size", "131072", "--tmpfs", str(small), "--setenv", "RUN", str(run),
    )  # fmt: skip

    assert result.stderr.splitlines() == [
        "arcbench: error: cannot write the backup small/b.db: the disk is full; nothing was "
        "written, free space or give another file",
        "arcbench: error: cannot write small/t.json: the disk is full; free space and retry",
        "arcbench: error: cannot write small/new.db: the disk is full; free space and retry",
    ]
    left = result.stdout.split()
    assert "b.db" not in left
    assert "t.json" not in left
    assert not [name for name in left if name.startswith(".")]  # no temporary file


def test_a_backup_of_a_damaged_store_is_refused(tmp_path: Path) -> None:
    """The online backup copies pages as they are: a damaged store gave a damaged backup that
    looked like a good one."""
    with Store(STORE) as store:
        for n in range(200):
            store.traces.add_trace(f"t{n % 7}", "alice", "x" * 300)
    data = bytearray(STORE.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page * (len(data) // page // 2)] = 0xFF  # one b-tree page in the middle
    STORE.write_bytes(bytes(data))
    assert "traces      200" in ok("store", "info")  # it opens: the damage is deeper

    line = refused("store", "backup", "b.db")

    assert "data/arcbench.db is damaged (" in line
    assert "no backup was written" in line
    assert sorted(p.name for p in Path().iterdir()) == ["data"]


def test_a_directory_as_the_store_is_named(tmp_path: Path) -> None:
    Path("data").mkdir()
    line = refused("merge", str(traces_run(tmp_path / "run", "r1", tasks=1)), "--store", "data")
    assert line == (
        "arcbench: error: data is a directory, not a database file: give a file path such as "
        "data/arcbench.db"
    )


def test_a_locked_store_waits_then_names_the_file(tmp_path: Path) -> None:
    ok("merge", str(traces_run(tmp_path / "run", "r1", tasks=1)))
    before = stored_traces(STORE)
    holder = sqlite3.connect(STORE, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process in the middle of a long write
    try:
        line = refused(
            "merge", str(traces_run(tmp_path / "more", "r2", tasks=1)),
            env=cli_env(ARCBENCH_STORE_TIMEOUT="0.5"),
        )  # fmt: skip
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert line.startswith(
        "arcbench: error: data/arcbench.db stayed locked by another process for 0.5 s"
    )
    assert stored_traces(STORE) == before
    ok("merge", str(tmp_path / "more"), env=cli_env(ARCBENCH_STORE_TIMEOUT="0.5"))


def in_read_only(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `arcbench ARGS` with `directory` mounted read-only (for root too)."""
    return subprocess.run(
        ["bwrap", "--dev-bind", "/", "/", "--ro-bind", str(directory), str(directory),
         sys.executable, "-m", "arcbench", *args],
        capture_output=True, text=True, env=cli_env(), check=False,
    )  # fmt: skip


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap for a read-only mount")
def test_a_read_only_location_says_so(tmp_path: Path) -> None:
    ok("merge", str(traces_run(tmp_path / "run", "r1", tasks=1)))
    data = Path("data").resolve()
    before = STORE.read_bytes()
    run = str(traces_run(tmp_path / "more", "r2", tasks=1))

    existing = in_read_only(data, "merge", run)
    missing = in_read_only(data, "merge", run, "--store", "data/new.db")

    for result in (existing, missing):
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert f"cannot write data/arcbench.db: its directory {data} is read-only" in existing.stderr
    assert f"cannot write data/new.db: its directory {data} is read-only" in missing.stderr
    assert STORE.read_bytes() == before
    assert sorted(p.name for p in data.iterdir()) == ["arcbench.db"]


def test_a_symlinked_store_is_written_through_the_link(tmp_path: Path) -> None:
    real = tmp_path / "disk" / "real.db"
    real.parent.mkdir()
    Path("data").mkdir()
    STORE.symlink_to(real)

    ok("merge", str(traces_run(tmp_path / "run", "r1", tasks=2)))
    ok("merge", str(traces_run(tmp_path / "more", "r2", tasks=1)))

    assert STORE.is_symlink()
    assert len([t for ts in stored_traces(real).values() for t in ts]) == 6
    assert sorted(p.name for p in Path("data").iterdir()) == ["arcbench.db"]
    assert f"-> {real}" in ok("store", "info")


# ---- files on disk ----------------------------------------------------------------------------


@pytest.mark.parametrize(("umask", "mode"), [("077", 0o600), ("027", 0o640), ("002", 0o644)])
def test_a_new_store_follows_the_umask(tmp_path: Path, umask: str, mode: int) -> None:
    """SQLite creates a database 0644 less the umask, whatever the umask of the machine."""
    run = traces_run(tmp_path / "run", "r1", tasks=1)
    subprocess.run(
        ["sh", "-c", f'umask {umask} && "$0" -m arcbench merge "$1"', sys.executable, str(run)],
        check=True, env=cli_env(), capture_output=True,
    )  # fmt: skip
    assert stat.S_IMODE(STORE.stat().st_mode) == mode


def test_the_permissions_of_a_store_are_kept(tmp_path: Path) -> None:
    ok("merge", str(traces_run(tmp_path / "run", "r1", tasks=1)))
    os.chmod(STORE, 0o640)
    with Store(STORE) as open_elsewhere:  # keeps the write-ahead log alive between commands
        open_elsewhere.traces.count()
        ok("merge", str(traces_run(tmp_path / "more", "r2", tasks=1)))
        wal = STORE.with_name("arcbench.db-wal")
        assert stat.S_IMODE(wal.stat().st_mode) == 0o640
    assert stat.S_IMODE(STORE.stat().st_mode) == 0o640


def test_what_commands_write_in_a_checkouts_data_is_ignored_by_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "data").mkdir(parents=True)
    shutil.copy(REPOSITORY / ".gitignore", checkout / ".gitignore")
    shutil.copy(REPOSITORY / "data" / "nature_of_data.md", checkout / "data" / "nature_of_data.md")

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=checkout, check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip

    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "checkout")
    monkeypatch.chdir(checkout)
    (checkout / "data" / "traces_store.json").write_bytes(orjson.dumps(legacy_store(1, 1)))
    ok("merge", str(traces_run(tmp_path / "run", "r1", tasks=1)), "data/traces_store.json")
    ok("store", "backup", "data/arcbench-backup.db")
    with Store(STORE) as store:  # a running web app: its -wal and -shm files exist
        store.traces.add_trace("t1", "alice", "Text.")
        assert STORE.with_name("arcbench.db-wal").exists()
        assert git("status", "--porcelain", "--untracked-files=all") == ""
    assert git("ls-files", "data") == "data/nature_of_data.md\n"
    with ServeProcess(cwd=checkout):  # the web app keeps its session key in data/
        assert (checkout / "data" / "session_secret").exists()
    assert git("status", "--porcelain", "--untracked-files=all") == ""
    (checkout / "data" / "formats.md").write_text("A new document.\n")
    assert git("status", "--porcelain") == "?? data/formats.md\n"  # docs are not ignored


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
_NUMBER = st.integers(-(2**53) + 1, 2**53 - 1)
_TRACE = st.fixed_dictionaries(
    {
        "username": st.text(),
        "text": st.text(),
        "score": _NUMBER,
        "timestamp": st.floats(allow_nan=False, allow_infinity=False) | st.text() | _NUMBER,
        "voters": st.dictionaries(st.text(), st.sampled_from([1, -1]), max_size=4),
    },
    optional={
        "version": st.integers(1, 2**53 - 1),
        "source": st.fixed_dictionaries(
            {"record_id": st.text()},
            optional={"model": st.text(), "correct": st.booleans() | st.none(), "t": _JSON},
        ),
        "edited_at": st.floats(allow_nan=False, allow_infinity=False),
        "flagged": _JSON,
        "": _JSON,
        "zz": _JSON,
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(min_size=1), st.lists(_TRACE, max_size=3), max_size=4))
def test_any_original_store_comes_back_field_for_field(
    tmp_path_factory: pytest.TempPathFactory, tasks: dict[str, list[dict[str, Any]]]
) -> None:
    """Import then export, through the files: every field of every trace comes back equal,
    unknown ones (any JSON) included, whatever the text holds (NUL, control characters)."""
    from arcbench.store.files import export_traces, traces_of_document

    document: dict[str, list[dict[str, Any]]] = {}
    for t, (task_id, traces) in enumerate(tasks.items()):
        document[task_id] = [
            {"trace_id": f"{t}_{n}", "task_id": task_id, **trace} for n, trace in enumerate(traces)
        ]
        for n, trace in enumerate(document[task_id]):
            if "source" in trace:  # a merged trace's identity: one per trace
                trace["source"]["record_id"] = f"{t}_{n}_{trace['source']['record_id']}"
    document = {task_id: traces for task_id, traces in document.items() if traces}
    directory = tmp_path_factory.mktemp("round")
    source = directory / "traces_store.json"
    source.write_bytes(orjson.dumps(document))

    with Store(directory / "store.db") as store:
        store.traces.merge(traces_of_document(source, orjson.loads(source.read_bytes()), {}))
        export_traces(store.traces, directory / "out.json")

    assert orjson.loads((directory / "out.json").read_bytes()) == document
