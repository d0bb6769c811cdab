"""Every --dataset spec of DESIGN.md loads, and every bad input gets one clear error."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from arcbench.datasets import load_dataset
from arcbench.errors import DatasetNotFoundError, TaskFileError, TaskValidationError
from taskdata import TASK_A, TASK_B, write_json


@pytest.mark.parametrize(
    ("spec", "count"),
    [
        ("arc-agi-1/training", 400),
        ("arc-agi-1/evaluation", 400),
        ("arc-agi-2/training", 1000),
        ("arc-agi-2/evaluation", 120),
    ],
)
def test_bundled_sets_have_their_published_sizes(spec: str, count: int) -> None:
    dataset = load_dataset(spec)
    assert len(dataset) == count
    ids = [task.id for task in dataset.tasks]
    assert ids == sorted(ids)
    assert len(set(ids)) == count
    assert all(task.has_answers for task in dataset.tasks)


def test_bundled_task_matches_the_published_grid() -> None:
    task = next(t for t in load_dataset("arc-agi-1/training").tasks if t.id == "007bbfb7")
    assert task.train[0].input == [[0, 7, 7], [7, 7, 7], [0, 7, 7]]
    assert len(task.train) == 5
    assert task.test[0].output is not None
    assert len(task.test[0].output) == 9


def test_directory_of_task_files(tmp_path: Path) -> None:
    write_json(tmp_path / "tasks" / "bbb.json", TASK_B)
    write_json(tmp_path / "tasks" / "aaa.json", TASK_A)
    (tmp_path / "tasks" / "notes.txt").write_text("not a task")
    dataset = load_dataset(str(tmp_path / "tasks"))
    assert [t.id for t in dataset.tasks] == ["aaa", "bbb"]
    assert dataset.tasks[1].test[1].output is None


def test_single_task_file_takes_its_id_from_the_name(tmp_path: Path) -> None:
    dataset = load_dataset(str(write_json(tmp_path / "abc123.json", TASK_A)))
    assert [t.label for t in dataset.tasks] == ["abc123"]


def test_variations_list_keeps_versions_and_provenance(tmp_path: Path) -> None:
    entries = [
        {"task_id": "aaa", "version": 2, **TASK_A, "signed_by": ["ann", "bob"]},
        {"task_id": "aaa", "version": 1, **TASK_B, "signed_by": [], "transforms": ["rot90"]},
    ]
    dataset = load_dataset(str(write_json(tmp_path / "dataset.json", entries)))
    assert [t.label for t in dataset.tasks] == ["aaa@2", "aaa@1"]
    first = dataset.tasks[0]
    assert first.provenance is not None
    assert first.provenance.signed_by == ["ann", "bob"]
    assert dataset.tasks[1].provenance is not None
    assert dataset.tasks[1].provenance.transforms == ["rot90"]


def test_variations_list_refuses_a_repeated_version(tmp_path: Path) -> None:
    entries = [{"task_id": "aaa", "version": 1, **TASK_A}] * 2
    with pytest.raises(TaskValidationError, match=r"task aaa@1 appears twice"):
        load_dataset(str(write_json(tmp_path / "dataset.json", entries)))


def test_kaggle_challenges_pair_their_solutions(tmp_path: Path) -> None:
    challenges = {
        "t1": {"train": TASK_A["train"], "test": [{"input": [[3, 0], [0, 0]]}]},
        "t2": {"train": TASK_B["train"], "test": [{"input": [[6]]}, {"input": [[7]]}]},
    }
    write_json(tmp_path / "arc-agi_test_challenges.json", challenges)
    alone = load_dataset(str(tmp_path / "arc-agi_test_challenges.json"))
    assert [t.has_answers for t in alone.tasks] == [False, False]

    write_json(
        tmp_path / "arc-agi_test_solutions.json",
        {"t1": [[[0, 3], [0, 0]]], "t2": [[[6, 6]], [[7, 7]]]},
    )
    paired = load_dataset(str(tmp_path / "arc-agi_test_challenges.json"))
    assert [t.id for t in paired.tasks] == ["t1", "t2"]
    assert paired.tasks[1].test[1].output == [[7, 7]]


def test_kaggle_solutions_with_wrong_count_are_refused(tmp_path: Path) -> None:
    write_json(tmp_path / "x_challenges.json", {"t2": TASK_B})
    write_json(tmp_path / "x_solutions.json", {"t2": [[[6, 6]]]})
    with pytest.raises(TaskFileError, match=r"task t2 has 1 solutions but .* has 2 test inputs"):
        load_dataset(str(tmp_path / "x_challenges.json"))


def test_train_eval_bundle(tmp_path: Path) -> None:
    bundle = {"train": {"aaa": TASK_A}, "eval": {"bbb": TASK_B}}
    dataset = load_dataset(str(write_json(tmp_path / "bundle.json", bundle)))
    assert [t.id for t in dataset.tasks] == ["aaa", "bbb"]


def test_content_hash_follows_the_grids(tmp_path: Path) -> None:
    one = load_dataset(str(write_json(tmp_path / "a" / "t.json", TASK_A)))
    same = load_dataset(str(write_json(tmp_path / "b" / "t.json", TASK_A)))
    other = load_dataset(str(write_json(tmp_path / "c" / "t.json", TASK_B)))
    assert one.content_hash() == same.content_hash() != other.content_hash()


# --- bad input ----------------------------------------------------------------------------------


def test_missing_path_and_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match=r"dataset 'nope/where' not found"):
        load_dataset("nope/where")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match=r"empty: no <task_id>.json files"):
        load_dataset(str(tmp_path / "empty"))


def test_non_json_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"train": [')
    with pytest.raises(TaskFileError, match=r"broken.json: not valid JSON \(.*line 1"):
        load_dataset(str(path))


def test_unrecognised_shape(tmp_path: Path) -> None:
    with pytest.raises(TaskFileError, match=r"odd.json: not a recognised task file"):
        load_dataset(str(write_json(tmp_path / "odd.json", {"hello": 1})))


def test_bad_task_in_kaggle_file_names_task_and_pair(tmp_path: Path) -> None:
    bad = {"train": [{"input": [[1]], "output": [[1, 2], [3]]}], "test": TASK_A["test"]}
    path = write_json(tmp_path / "c.json", {"good": TASK_A, "bad1": bad})
    with pytest.raises(TaskValidationError) as info:
        load_dataset(str(path))
    assert str(info.value).startswith(
        f"{path}: task bad1: train[0].output: ragged rows: row 0 has 2 cells but row 1 has 1"
    )
    assert "--skip-invalid" in str(info.value)
    dataset = load_dataset(str(path), skip_invalid=True)
    assert [t.id for t in dataset.tasks] == ["good"]
    assert len(dataset.skipped) == 1


def test_bad_entry_in_variations_names_task_version(tmp_path: Path) -> None:
    entries = [
        {"task_id": "aaa", "version": 1, **TASK_A},
        {"task_id": "aaa", "version": 2, "train": TASK_A["train"], "test": []},
    ]
    path = write_json(tmp_path / "dataset.json", entries)
    with pytest.raises(TaskValidationError, match=r"task aaa@2 \(entry 1\): has no test pair"):
        load_dataset(str(path))
    assert [t.label for t in load_dataset(str(path), skip_invalid=True).tasks] == ["aaa@1"]


def test_directory_with_bad_files_needs_skip_invalid(tmp_path: Path) -> None:
    folder = tmp_path / "tasks"
    write_json(folder / "good.json", TASK_A)
    (folder / "garbage.json").write_text("not json at all")
    write_json(
        folder / "wide.json",
        {"train": [{"input": [[0] * 31], "output": [[0]]}], "test": TASK_A["test"]},
    )
    with pytest.raises(TaskValidationError) as info:
        load_dataset(str(folder))
    message = str(info.value)
    assert "garbage.json: not valid JSON" in message
    assert "and 1 more invalid files" in message
    dataset = load_dataset(str(folder), skip_invalid=True)
    assert [t.id for t in dataset.tasks] == ["good"]
    assert any(
        "wide.json: task wide: train[0].input: row 0 has 31 cells" in s for s in dataset.skipped
    )


def test_valid_json_that_is_a_list_of_garbage(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_bytes(orjson.dumps([1, 2]))
    with pytest.raises(TaskValidationError, match=r"task #0 \(entry 0\)"):
        load_dataset(str(path))
