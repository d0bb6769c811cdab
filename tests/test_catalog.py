"""The task catalogue: datasets loaded once, only the offered ones, versions from the dataset
and the store merged."""

from __future__ import annotations

from pathlib import Path

import pytest

from arcbench.catalog import (
    IndexedDataset,
    TaskCatalog,
    find_version,
    known_output,
    task_versions,
    version_numbers,
)
from arcbench.datasets import BUNDLED_SPECS, Dataset, load_dataset
from arcbench.errors import AnswerUnknownError, DatasetNotFoundError, TaskNotFoundError
from arcbench.tasks import Task, VariantEntry
from taskdata import TASK_A, TASK_B, write_json


def entry(task_id: str, version: int, raw: dict[str, object], **fields: object) -> VariantEntry:
    return VariantEntry.model_validate({"task_id": task_id, "version": version, **raw, **fields})


def test_a_dataset_is_loaded_once_and_only_if_offered(tmp_path: Path) -> None:
    write_json(tmp_path / "tasks" / "aaa.json", TASK_A)
    loads: list[str] = []

    def loader(spec: str) -> Dataset:
        loads.append(spec)
        return load_dataset(spec)

    spec = str(tmp_path / "tasks")
    catalog = TaskCatalog(extra_specs=(spec,), loader=loader)
    assert catalog.specs == [spec, *BUNDLED_SPECS]
    assert catalog.dataset(spec) is catalog.dataset(spec)
    assert loads == [spec]
    with pytest.raises(DatasetNotFoundError, match="not offered here"):
        catalog.dataset(str(tmp_path))
    assert loads == [spec]


def test_a_bundled_spec_given_again_is_offered_once() -> None:
    assert TaskCatalog(extra_specs=("arc-agi-1/training",)).specs == list(BUNDLED_SPECS)


def variations_dataset(tmp_path: Path) -> IndexedDataset:
    """A dataset file holding task `aaa` (original and version 2) and `bbb` version 1 only."""
    path = write_json(
        tmp_path / "variations.json",
        [
            {"task_id": "aaa", "version": None, **TASK_A},
            {"task_id": "aaa", "version": 2, **TASK_B},
            {"task_id": "bbb", "version": 1, **TASK_B},
        ],
    )
    return IndexedDataset.of(load_dataset(str(path)))


def test_versions_merge_the_dataset_and_the_store_the_dataset_winning(tmp_path: Path) -> None:
    indexed = variations_dataset(tmp_path)
    stored = [
        entry("aaa", 1, TASK_B, created_by="ada"),
        entry("aaa", 2, TASK_A, created_by="bob"),  # the dataset's own version 2 wins
        entry("aaa", 3, TASK_B, created_by="cy"),
    ]
    found = task_versions(indexed, "aaa", stored)
    assert [(v.task.version, v.stored) for v in found] == [
        (None, False),
        (1, True),
        (2, False),
        (3, True),
    ]
    assert found[1].task.provenance is not None
    assert found[1].task.provenance.created_by == "ada"
    assert version_numbers(indexed, "aaa", [1, 2, 3]) == [None, 1, 2, 3]
    assert (
        find_version(indexed, "aaa", 2, stored).content()
        == Task.model_validate({"id": "aaa", **TASK_B}).content()
    )


def test_a_task_without_an_original_starts_at_its_first_version(tmp_path: Path) -> None:
    indexed = variations_dataset(tmp_path)
    assert indexed.first("bbb").version == 1
    with pytest.raises(TaskNotFoundError, match="has no original"):
        find_version(indexed, "bbb", None, [])


def test_unknown_tasks_and_versions_name_what_to_do(tmp_path: Path) -> None:
    indexed = variations_dataset(tmp_path)
    with pytest.raises(TaskNotFoundError, match="task zzz is not in dataset"):
        task_versions(indexed, "zzz", [])
    with pytest.raises(TaskNotFoundError, match="has no version 9"):
        find_version(indexed, "aaa", 9, [])


def test_known_output_refuses_missing_inputs_and_unknown_answers() -> None:
    task = Task.model_validate({"id": "bbb", **TASK_B})
    assert known_output(task, 0) == [[6, 6]]
    with pytest.raises(TaskNotFoundError, match="there is no test input 2"):
        known_output(task, 2)
    with pytest.raises(AnswerUnknownError, match="not in the data"):
        known_output(task, 1)
