"""`arcbench tasks …` and the error boundary, through the real console entry point."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from arcbench.datasets import load_dataset
from arcbench.transforms import invert_grid
from conftest import cli_env, run_cli
from taskdata import TASK_A, TASK_B, write_json
from terminal import run_in_terminal, screen_lines


def test_version_and_help_list_only_working_commands() -> None:
    from arcbench import __version__

    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"arcbench {__version__}"
    help_text = run_cli("--help").stdout
    assert "tasks" in help_text


def test_tasks_list_json_on_bundled_set() -> None:
    result = run_cli("tasks", "list", "--dataset", "arc-agi-2/evaluation", "--json")
    assert result.returncode == 0, result.stderr
    rows = orjson.loads(result.stdout)
    assert len(rows) == 120
    assert set(rows[0]) == {"id", "version", "train", "test", "train_shapes", "test_shapes"}


def test_tasks_list_and_augment_use_the_dataset_setting(tmp_path: Path) -> None:
    dataset = write_json(tmp_path / "mine.json", {"aaa": TASK_A, "bbb": TASK_B})
    env = cli_env(ARCBENCH_DATASET=str(dataset))
    listed = run_cli("tasks", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert [row["id"] for row in orjson.loads(listed.stdout)] == ["aaa", "bbb"]
    out = tmp_path / "variants.json"
    augmented = run_cli("tasks", "augment", "--transforms", "rot90", "--out", str(out), env=env)
    assert augmented.returncode == 0, augmented.stderr
    assert {entry["task_id"] for entry in orjson.loads(out.read_bytes())} == {"aaa", "bbb"}
    default = run_cli("tasks", "list", "--json")  # no setting: ARC-AGI-2 evaluation
    assert len(orjson.loads(default.stdout)) == 120


def test_tasks_list_table_with_selection() -> None:
    result = run_cli("tasks", "list", "-d", "arc-agi-1/training", "--tasks", "0:3")
    assert result.returncode == 0, result.stderr
    assert "007bbfb7" in result.stdout
    assert "3x3→9x9" in result.stdout
    assert "017c7c7b" in result.stdout
    assert "025d127b" not in result.stdout


def test_shards_partition_the_selection() -> None:
    seen: list[str] = []
    for index in (1, 2, 3):
        result = run_cli(
            "tasks", "list", "-d", "arc-agi-1/evaluation", "--shard", f"{index}/3", "--json"
        )
        assert result.returncode == 0, result.stderr
        seen += [row["id"] for row in orjson.loads(result.stdout)]
    assert sorted(seen) == [t.id for t in load_dataset("arc-agi-1/evaluation").tasks]


def test_show_prints_plain_digits_when_piped() -> None:
    result = run_cli("tasks", "show", "007bbfb7")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "007bbfb7 (arc-agi-1/training): 5 train, 1 test"
    assert lines[2].split() == ["train[0]", "input", "3x3", "output", "9x9"]
    assert lines[3].split() == ["077", "000077077"]
    assert "(output hidden; --reveal shows it)" in result.stdout
    assert all(len(line) <= 80 for line in lines)
    assert "\x1b[" not in result.stdout
    revealed = run_cli("tasks", "show", "007bbfb7", "--reveal").stdout
    assert "output 9x9" in revealed.split("test[0]")[1]


def test_show_in_a_terminal_uses_the_arc_palette() -> None:
    """Under a pseudo-terminal the grids are drawn in true colour, within 80 columns."""
    import os
    import pty
    import subprocess
    import sys

    from conftest import cli_env

    env = cli_env(COLORTERM="truecolor", TERM="xterm-256color", COLUMNS="80")
    env.pop("NO_COLOR")
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "arcbench", "tasks", "show", "3aa6fb7a"],
        stdout=follower,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait(timeout=60) == 0
    output = b"".join(chunks).decode()
    assert "48;2;127;219;255m8 " in output  # colour 8 is #7FDBFF
    assert "48;2;0;0;0m0 " in output  # colour 0 is #000000
    import re

    visible = re.sub(r"\x1b\[[0-9;]*m", "", output)
    assert max(len(line) for line in visible.splitlines()) <= 80


def test_show_a_version_from_a_variations_file(tmp_path: Path) -> None:
    write_json(tmp_path / "v.json", [{"task_id": "aaa", "version": 3, **TASK_B}])
    result = run_cli("tasks", "show", "aaa@3", "--dataset", str(tmp_path / "v.json"), "--reveal")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("aaa@3 (")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"{not json", "bad.json: not valid JSON"),
        (
            orjson.dumps(
                {"train": [{"input": [[1, 2], [3]], "output": [[1]]}], "test": TASK_A["test"]}
            ),
            "bad.json: task bad: train[0].input: ragged rows",
        ),
        (
            orjson.dumps({"train": TASK_A["train"], "test": [{"input": [[10]]}]}),
            "bad.json: task bad: test[0].input: cell [0][0] is 10; cells must be integers 0-9",
        ),
        (
            orjson.dumps({"train": TASK_A["train"], "test": [{"input": [[-1]]}]}),
            "cell [0][0] is -1",
        ),
        (
            orjson.dumps(
                {"train": [{"input": [[0] * 31], "output": [[1]]}], "test": TASK_A["test"]}
            ),
            "train[0].input: row 0 has 31 cells; at most 30 are allowed",
        ),
        (orjson.dumps({"train": TASK_A["train"], "test": []}), "task bad: has no test pair"),
        (orjson.dumps({"train": TASK_A["train"]}), "task bad: missing key 'test'"),
    ],
)
def test_bad_files_give_one_clear_line(tmp_path: Path, content: bytes, expected: str) -> None:
    (tmp_path / "bad.json").write_bytes(content)
    result = run_cli("tasks", "list", "--dataset", str(tmp_path / "bad.json"))
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("tasks", "list", "--dataset", "no/such/place"), "dataset 'no/such/place' not found"),
        (
            ("tasks", "list", "--task-ids", "deadbeef"),
            "unknown task id deadbeef in arc-agi-2/evaluation",
        ),
        (("tasks", "list", "--tasks", "abc"), "--tasks abc: expected START:END"),
        (("tasks", "list", "--shard", "0/4"), "--shard 0/4: I must be between 1 and N"),
        (("tasks", "show", "nosuchtask"), "task nosuchtask not found"),
    ],
)
def test_bad_options_give_one_clear_line(args: tuple[str, ...], expected: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_empty_directory_and_skip_invalid(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run_cli("tasks", "list", "--dataset", str(tmp_path / "empty"))
    assert result.returncode == 2
    assert "no <task_id>.json files" in result.stderr
    write_json(tmp_path / "mixed" / "good.json", TASK_A)
    (tmp_path / "mixed" / "bad.json").write_text("[")
    refused = run_cli("tasks", "list", "--dataset", str(tmp_path / "mixed"))
    assert refused.returncode == 2
    assert "--skip-invalid" in refused.stderr
    loaded = run_cli(
        "tasks", "list", "--dataset", str(tmp_path / "mixed"), "--skip-invalid", "--json"
    )
    assert loaded.returncode == 0, loaded.stderr
    assert [row["id"] for row in orjson.loads(loaded.stdout)] == ["good"]
    assert "skipped 1 invalid task(s)" in loaded.stderr


def test_debug_shows_the_traceback() -> None:
    result = run_cli("--debug", "tasks", "list", "--dataset", "no/such/place")
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_augment_d8_with_colours_writes_variants_only(tmp_path: Path) -> None:
    out = tmp_path / "variants.json"
    seeded: tuple[str, ...] = ("tasks", "augment", "-d", "arc-agi-1/training", "--max-tasks", "3")
    seeded += ("--colors", "keep0", "--per-task", "2", "--seed", "7")
    result = run_cli(*seeded, "--transforms", "d8", "--out", str(out))
    assert result.returncode == 0, result.stderr
    entries = orjson.loads(out.read_bytes())
    assert len(entries) == 3 * 7 * 2
    assert "wrote 42 variants of 3 tasks" in result.stderr
    keys = {
        "task_id",
        "version",
        "train",
        "test",
        "signed_by",
        "parent_version",
        "transforms",
        "color_map",
        "created_by",
        "created_at",
    }
    assert all(set(e) == keys for e in entries)
    contents = [orjson.dumps({"train": e["train"], "test": e["test"]}) for e in entries]
    assert len(set(contents)) == len(contents)
    by_task: dict[str, list[int]] = {}
    for entry in entries:
        by_task.setdefault(entry["task_id"], []).append(entry["version"])
        assert entry["color_map"][0] == 0
        assert entry["transforms"][-1] == "color:" + "".join(map(str, entry["color_map"]))
    assert all(sorted(v) == list(range(1, 15)) for v in by_task.values())

    # The file is a dataset, and each variant maps back to its parent through the inverse.
    variants = load_dataset(str(out))
    originals = {t.id: t for t in load_dataset("arc-agi-1/training").tasks}
    for variant in variants.tasks:
        assert variant.provenance is not None
        parent = originals[variant.id]
        for got, want in zip(variant.grids(), parent.grids(), strict=True):
            assert invert_grid(got, variant.provenance.transforms) == want

    # Same seed, same output (apart from the timestamp).
    again = tmp_path / "again.json"
    run_cli(*seeded, "--out", str(again))  # d8 is the default
    strip = lambda es: [{k: v for k, v in e.items() if k != "created_at"} for e in es]  # noqa: E731
    assert strip(orjson.loads(again.read_bytes())) == strip(entries)


def test_augment_skips_duplicates_and_numbers_after_existing_versions(tmp_path: Path) -> None:
    symmetric = {
        "train": [{"input": [[1, 1], [1, 1]], "output": [[2, 2], [2, 2]]}],
        "test": [{"input": [[3, 3], [3, 3]], "output": [[4, 4], [4, 4]]}],
    }
    write_json(tmp_path / "v.json", [{"task_id": "sym", "version": 4, **symmetric}])
    out = tmp_path / "out.json"
    result = run_cli(
        "tasks",
        "augment",
        "-d",
        str(tmp_path / "v.json"),
        "--transforms",
        "rot90,flip_h+transpose",
        "--color-map",
        "1=2,2=1",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    entries = orjson.loads(out.read_bytes())
    assert len(entries) == 1
    assert "(1 duplicates skipped)" in result.stderr
    assert entries[0]["version"] == 5
    assert entries[0]["parent_version"] == 4
    assert entries[0]["train"][0]["input"] == [[2, 2], [2, 2]]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--transforms", "spin"), "unknown transform 'spin'"),
        (("--colors", "rainbow"), "--colors rainbow: use one of none, keep0, all"),
        (("--color-map", "1=2"), "not a bijection"),
        (("--colors", "all", "--color-map", "1=2,2=1"), "not both"),
        (("--per-task", "0"), "--per-task 0"),
    ],
)
def test_augment_bad_options(tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    out = tmp_path / "out.json"
    result = run_cli("tasks", "augment", "--max-tasks", "1", "--out", str(out), *args)
    assert result.returncode == 2
    assert expected in result.stderr
    assert not out.exists()


def test_unwritable_output_paths_give_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    for out, expected in (
        (tmp_path / "afile" / "x.json", "cannot create its directory"),
        (tmp_path, "is a directory, not a file"),
    ):
        result = run_cli("tasks", "augment", "--max-tasks", "1", "--out", str(out))
        assert result.returncode == 2
        assert expected in result.stderr
        assert "Traceback" not in result.stderr


def test_show_looks_in_the_configured_dataset_first(tmp_path: Path) -> None:
    """`tasks show` ignored ARCBENCH_DATASET: a task of the configured dataset was not found,
    and an id shared with a bundled task showed the bundled one."""
    write_json(
        tmp_path / "own.json", [{"task_id": "007bbfb7", **TASK_B}, {"task_id": "mine", **TASK_A}]
    )
    env = cli_env(ARCBENCH_DATASET=str(tmp_path / "own.json"))
    for task_id in ("mine", "007bbfb7"):
        result = run_cli("tasks", "show", task_id, env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"{task_id} (")
        assert "own.json" in result.stdout.splitlines()[0]
    bundled = run_cli("tasks", "show", "007bbfb7")
    assert "own.json" not in bundled.stdout.splitlines()[0]


@pytest.mark.parametrize("columns", [60, 80, 120])
@pytest.mark.parametrize("terminal", [False, True])
def test_tasks_list_never_cuts_an_id_or_a_size(
    tmp_path: Path, columns: int, terminal: bool
) -> None:
    long_id = "a-very-long-task-identifier-from-my-lab-2024-v3"
    big = {
        "train": [
            {"input": [[1] * 30] * 30, "output": [[2]]},
            {"input": [[1] * 7] * 13, "output": [[2] * 9] * 11},
            {"input": [[1] * 17] * 23, "output": [[2] * 19] * 29},
        ],
        "test": [{"input": [[1] * 28] * 27}, {"input": [[1] * 26] * 25}],
    }
    folder = tmp_path / "tasks"
    for name in (long_id, "0934a4d8"):
        write_json(folder / f"{name}.json", big)
    if terminal:
        status, output = run_in_terminal(
            "tasks", "list", "-d", str(folder), columns=columns, env=cli_env()
        )
        assert status == 0, output
        lines = screen_lines(output)
    else:
        result = run_cli("tasks", "list", "-d", str(folder), env=cli_env(COLUMNS=str(columns)))
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
    text = "\n".join(lines)
    assert "…" not in text
    for whole in (long_id, "0934a4d8", "30x30→1x1", "13x7→11x9", "23x17→29x19", "27x28", "25x26"):
        assert whole in text, (columns, whole)
    assert all(len(line) <= columns for line in lines if "│" in line)


@pytest.mark.parametrize("columns", [50, 80, 120])
def test_tasks_show_never_wraps_a_row_of_a_grid(columns: int) -> None:
    status, output = run_in_terminal("tasks", "show", "0934a4d8", columns=columns, env=cli_env())
    assert status == 0, output
    lines = screen_lines(output)
    assert all(len(line) <= columns for line in lines)
    top = next(i for i, line in enumerate(lines) if line.startswith("╭"))
    bottom = next(i for i, line in enumerate(lines) if line.startswith("╰"))
    assert bottom - top - 1 == 30  # the 30 rows of train[0]'s input, one line each
