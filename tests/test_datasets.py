"""Every --dataset spec of DESIGN.md loads, and every bad input gets one clear error."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from arcbench.datasets import find_task, load_dataset
from arcbench.errors import (
    DatasetNotFoundError,
    SelectionError,
    TaskFileError,
    TaskValidationError,
)
from arcbench.selection import Selection
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
    with pytest.raises(TaskFileError, match=r"task t2: 1 solution grid\(s\) but .* 2 test input"):
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


# --- identity: one (id, version) is one task, and every id can be written unambiguously ---------


def test_same_id_in_both_halves_of_a_bundle_is_refused(tmp_path: Path) -> None:
    bundle = {"train": {"aaa": TASK_A, "ccc": TASK_A}, "eval": {"aaa": TASK_B, "ccc": TASK_B}}
    path = write_json(tmp_path / "bundle.json", bundle)
    with pytest.raises(TaskValidationError, match=r"2 tasks \(aaa, ccc\) in both the train and"):
        load_dataset(str(path))
    with pytest.raises(TaskValidationError, match=r"both the train and the eval half"):
        load_dataset(str(path), skip_invalid=True)  # not a bad task to skip: two tasks, one id


@pytest.mark.parametrize(
    ("task_id", "why"),
    [
        ("abc@1", "contains '@'"),
        ("abc@", "contains '@'"),
        ("@1", "contains '@'"),
        ("a,b", "contains ','"),
        (" abc", "starts or ends with a space"),
        ("abc\t", "starts or ends with a space"),
        ("ab\ncd", "control or invisible"),
        ("ab\u200bcd", "control or invisible"),
        ("", "is empty"),
        ("x" * 201, "at most 200"),
    ],
)
def test_unusable_task_ids_are_refused_in_every_shape(
    tmp_path: Path, task_id: str, why: str
) -> None:
    kaggle = write_json(tmp_path / "k.json", {task_id: TASK_A, "good": TASK_B})
    with pytest.raises(TaskValidationError, match=why):
        load_dataset(str(kaggle))
    assert [t.id for t in load_dataset(str(kaggle), skip_invalid=True).tasks] == ["good"]
    bundle = write_json(tmp_path / "b.json", {"train": {task_id: TASK_A}, "eval": {"e": TASK_B}})
    with pytest.raises(TaskValidationError, match=why):
        load_dataset(str(bundle))
    variants = write_json(tmp_path / "v.json", [{"task_id": task_id, "version": 1, **TASK_A}])
    with pytest.raises(TaskValidationError, match=why):
        load_dataset(str(variants))


@pytest.mark.parametrize("name", ["abc@1", "abc@", " abc", "a,b"])
def test_a_file_name_that_cannot_be_a_task_id_is_refused(tmp_path: Path, name: str) -> None:
    single = write_json(tmp_path / "one" / f"{name}.json", TASK_A)
    with pytest.raises(TaskValidationError, match="rename the file"):
        load_dataset(str(single))
    write_json(tmp_path / "one" / "abc.json", TASK_B)
    with pytest.raises(TaskValidationError, match="rename the file"):
        load_dataset(str(tmp_path / "one"))
    kept = load_dataset(str(tmp_path / "one"), skip_invalid=True)
    assert [t.label for t in kept.tasks] == ["abc"]


def test_a_variation_id_that_looks_like_a_label_cannot_shadow_a_version(tmp_path: Path) -> None:
    entries = [
        {"task_id": "a", "version": 1, **TASK_A},
        {"task_id": "a@1", "version": None, **TASK_B},
    ]
    with pytest.raises(TaskValidationError, match=r"task id 'a@1' contains '@'"):
        load_dataset(str(write_json(tmp_path / "dataset.json", entries)))


def test_original_and_versions_select_separately(tmp_path: Path) -> None:
    entries = [
        {"task_id": "a", "version": None, **TASK_A},
        {"task_id": "a", "version": 1, **TASK_B},
        {"task_id": "a", "version": 12, **TASK_B},
    ]
    tasks = load_dataset(str(write_json(tmp_path / "dataset.json", entries))).tasks
    assert [t.label for t in Selection.parse("a@1").apply(tasks)] == ["a@1"]
    assert [t.label for t in Selection.parse("a").apply(tasks)] == ["a", "a@1", "a@12"]
    for wrong in ("a@01", "a@2", "a@", "a@-1", "a@1.0", "A"):
        with pytest.raises(SelectionError, match="unknown task id"):
            Selection.parse(wrong).apply(tasks)
    assert find_task("a@12", str(tmp_path / "dataset.json"))[0].version == 12


@pytest.mark.parametrize(
    ("version", "why"),
    [
        (True, "valid integer"),
        ("2", "valid integer"),
        (1.0, "valid integer"),
        (0, "greater than or equal to 1"),
        (-3, "greater than or equal to 1"),
        (2**31, "less than or equal to"),
        ([1], "valid integer"),
    ],
)
def test_a_version_is_a_strict_positive_integer(tmp_path: Path, version: object, why: str) -> None:
    entries = [{"task_id": "aaa", "version": version, **TASK_A}]
    with pytest.raises(TaskValidationError, match=why):
        load_dataset(str(write_json(tmp_path / "dataset.json", entries)))
    parent = [{"task_id": "aaa", "version": 3, "parent_version": version, **TASK_A}]
    with pytest.raises(TaskValidationError, match=why):
        load_dataset(str(write_json(tmp_path / "parent.json", parent)))


@pytest.mark.parametrize(
    ("provenance", "why"),
    [
        ({"color_map": [0, 2, 1]}, "not a permutation of the colours 0-9"),
        ({"color_map": [0, 1, 2, 3, 4, 5, 6, 7, 8, 8]}, "not a permutation"),
        ({"color_map": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}, "not a permutation"),
        ({"color_map": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0]}, "not a permutation"),
        ({"color_map": [True, 0, 2, 3, 4, 5, 6, 7, 8, 9]}, "valid integer"),
        ({"color_map": [0.0, 1, 2, 3, 4, 5, 6, 7, 8, 9]}, "valid integer"),
        ({"transforms": ["bogus"]}, "unknown transform 'bogus'"),
        ({"transforms": ["rot90", "color:012"]}, "unknown transform 'color:012'"),
        ({"transforms": ["swap:1"]}, "unknown transform 'swap:1'"),
        ({"transforms": ["color:1123456789"]}, "not a permutation"),
        ({"transforms": ["reorder:a,b"]}, "expected comma-separated integers"),
    ],
)
def test_a_variant_s_provenance_is_checked(
    tmp_path: Path, provenance: dict[str, object], why: str
) -> None:
    entries = [{"task_id": "aaa", "version": 1, **TASK_A, **provenance}]
    path = write_json(tmp_path / "dataset.json", entries)
    with pytest.raises(TaskValidationError, match=why) as info:
        load_dataset(str(path))
    assert str(info.value).startswith(f"{path}: task aaa@1 (entry 0): ")


# --- inputs that would be silently wrong ---------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{"aaa": %(a)s, "aaa": %(b)s}',
        '{"aaa": {"train": %(train)s, "train": %(train)s, "test": %(test)s}}',
        '{"aaa": {"train": [{"input": [[1]], "output": [[1]], "input": [[2]]}], "test": %(test)s}}',
        '{"train": {"aaa": %(a)s}, "eval": {"bbb": %(b)s}, "eval": {"ccc": %(b)s}}',
        '[{"task_id": "aaa", "version": 1, "version": 2, "train": %(train)s, "test": %(test)s}]',
        '{"aaa": %(a)s, "a\\u0061a": %(b)s}',
    ],
)
def test_a_repeated_key_anywhere_is_refused(tmp_path: Path, text: str) -> None:
    fields = {
        "a": orjson.dumps(TASK_A).decode(),
        "b": orjson.dumps(TASK_B).decode(),
        "train": orjson.dumps(TASK_A["train"]).decode(),
        "test": orjson.dumps(TASK_A["test"]).decode(),
    }
    path = tmp_path / "dup.json"
    path.write_text(text % fields)
    with pytest.raises(TaskFileError, match=r"dup.json: the key .* appears twice") as info:
        load_dataset(str(path))
    assert "line 1, column" in str(info.value)
    with pytest.raises(TaskFileError, match="appears twice"):
        load_dataset(str(path), skip_invalid=True)  # a file we cannot read right, not a bad task


def test_a_repeated_key_in_a_directory_file_names_the_file(tmp_path: Path) -> None:
    write_json(tmp_path / "d" / "good.json", TASK_A)
    text = orjson.dumps(TASK_A).decode().replace('"test"', '"train":[],"test"')
    (tmp_path / "d" / "twice.json").write_text(text)
    with pytest.raises(TaskValidationError, match=r"twice.json: the key \"train\" appears twice"):
        load_dataset(str(tmp_path / "d"))
    assert [t.id for t in load_dataset(str(tmp_path / "d"), skip_invalid=True).tasks] == ["good"]


@pytest.mark.parametrize("spec", ["", " ", "\t"])
def test_an_empty_dataset_spec_is_refused(spec: str) -> None:
    with pytest.raises(DatasetNotFoundError, match="the dataset is empty"):
        load_dataset(spec)


def _kaggle(tmp_path: Path, solutions: object) -> Path:
    challenges = {
        "t1": {"train": TASK_A["train"], "test": [{"input": [[3, 0], [0, 0]]}]},
        "t2": {"train": TASK_B["train"], "test": [{"input": [[6]]}, {"input": [[7]]}]},
    }
    write_json(tmp_path / "k_solutions.json", solutions)
    return write_json(tmp_path / "k_challenges.json", challenges)


@pytest.mark.parametrize(
    ("solutions", "why"),
    [
        ({"x1": [[[1]]], "x2": [[[1]], [[2]]]}, r"none of its 2 task ids is in k_challenges.json"),
        ({"t1": [None]}, r"task t1: solution 0 is null"),
        ({"t1": None}, r"task t1: expected a list of output grids, one per test input, not null"),
        ({"t1": [[[0, 3], [0, 0]]], "t2": [[[6, 6]], None]}, r"task t2: solution 1 is null"),
        ({"t1": [[0, 3], [0, 0]]}, r"task t1: this is one grid"),
        ({"t1": [[[0, 3], [0, 0]], [[1]]]}, r"task t1: 2 solution grid\(s\) but"),
        ({"t1": [[[0, 10]]]}, r"task t1: solution 0: cell \[0\]\[1\] is 10"),
        ({"t1": [[["0"]]]}, r"task t1: solution 0: cell \[0\]\[0\] is a string"),
        ({"t1": [[[0], [0, 0]]]}, r"task t1: solution 0: ragged rows"),
        ({"t1": [[]]}, r"task t1: solution 0: grid has no rows"),
        (None, "not a Kaggle solutions file"),
        ({}, "not a Kaggle solutions file"),
        ([[[1]]], "not a Kaggle solutions file"),
    ],
)
def test_a_solutions_file_that_contradicts_its_challenges_is_refused(
    tmp_path: Path, solutions: object, why: str
) -> None:
    with pytest.raises((TaskFileError, TaskValidationError), match=why) as info:
        load_dataset(str(_kaggle(tmp_path, solutions)))
    assert "k_solutions.json" in str(info.value)


def test_a_solution_that_differs_from_a_given_output_is_refused(tmp_path: Path) -> None:
    challenges = {"t1": TASK_A}  # TASK_A's test pair already has its output
    write_json(tmp_path / "z_challenges.json", challenges)
    write_json(tmp_path / "z_solutions.json", {"t1": [[[9, 9], [9, 9]]]})
    with pytest.raises(TaskFileError, match=r"task t1: solution 0 differs from the output"):
        load_dataset(str(tmp_path / "z_challenges.json"))
    write_json(tmp_path / "z_solutions.json", {"t1": [TASK_A["test"][0]["output"]]})
    assert load_dataset(str(tmp_path / "z_challenges.json")).tasks[0].has_answers


def test_a_partial_solutions_file_loads_and_names_what_did_not_match(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _kaggle(tmp_path, {"t1": [[[0, 3], [0, 0]]], "zz": [[[1]]]})
    dataset = load_dataset(str(path))
    assert [t.has_answers for t in dataset.tasks] == [True, False]
    assert len(dataset.warnings) == 2
    assert "no solutions for 1 task (t2) of k_challenges.json" in dataset.warnings[0]
    assert "solutions for 1 task (zz) that k_challenges.json does not have" in dataset.warnings[1]
    assert [r.getMessage() for r in caplog.records] == dataset.warnings


def test_a_deeply_nested_cell_is_a_clear_error(tmp_path: Path) -> None:
    cell = "[" * 1000 + "0" + "]" * 1000
    path = tmp_path / "deep.json"
    text = '{"train": [{"input": [[CELL]], "output": [[1]]}], "test": [{"input": [[1]]}]}'
    path.write_text(text.replace("CELL", cell))
    with pytest.raises(TaskValidationError, match=r"train\[0\].input: cell \[0\]\[0\] is a list"):
        load_dataset(str(path))
    deeper = "[" * 5000 + "]" * 5000
    path.write_text(
        '{"train": [{"input": DEEP, "output": [[1]]}], "test": []}'.replace("DEEP", deeper)
    )
    with pytest.raises(TaskFileError, match=r"deep.json: not valid JSON \(depth limit"):
        load_dataset(str(path))


@pytest.mark.parametrize(
    "where",
    [
        '{"train": [{"input": [[1]], "output": [[1]]}], "test": [{"input": [[1]]}], "x": %s}',
        '[{"task_id": "t", "signed_by": %s, "train": [{"input": [[1]], "output": [[1]]}], '
        '"test": [{"input": [[1]]}]}]',
        '[{"task_id": "t", "color_map": %s, "train": [{"input": [[1]], "output": [[1]]}], '
        '"test": [{"input": [[1]]}]}]',
        '{"train": [{"input": [[1]], "output": [[1]]}], "test": [{"input": [%s]}]}',
    ],
)
def test_deep_nesting_anywhere_never_overflows_the_stack(tmp_path: Path, where: str) -> None:
    path = tmp_path / "deep.json"
    path.write_text(where % ("[" * 1000 + '{"k": 1, "k": 2}' + "]" * 1000))
    with pytest.raises(TaskFileError, match=r"appears twice in one object at \[.*…"):
        load_dataset(str(path))
    path.write_text(where % ("[" * 1000 + "1" + "]" * 1000))
    message = ""
    try:
        load_dataset(str(path))  # an ignored extra key loads; anything else is refused
    except (TaskFileError, TaskValidationError) as exc:
        message = str(exc)
    assert len(message) < 400


def test_a_solutions_path_that_is_not_a_file_is_refused(tmp_path: Path) -> None:
    path = _kaggle(tmp_path, {"t1": [[[0, 3], [0, 0]]]})
    (tmp_path / "k_solutions.json").unlink()
    (tmp_path / "k_solutions.json").mkdir()
    with pytest.raises(TaskFileError, match=r"k_solutions.json: the solutions of .* not a file"):
        load_dataset(str(path))
