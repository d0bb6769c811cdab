"""The datasets a long-running process offers, each loaded once and indexed by task id.

The web app reads tasks on every click; loading a bundled set costs 0.1-0.2 s and a directory
more, so each dataset is loaded on first use and kept. Only the specs the catalogue was built
with can be loaded through it: a client names a dataset, never a path.

A task's versions come from two places: the dataset itself (a variations file holds numbered
versions) and the variation store. `task_versions` merges them; where both hold the same version
number the dataset's wins, since it is what the user pointed the app at.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from arcbench.datasets import BUNDLED_SPECS, Dataset, load_dataset
from arcbench.errors import AnswerUnknownError, DatasetNotFoundError, TaskNotFoundError
from arcbench.tasks import Task, VariantEntry

Grid = list[list[int]]


@dataclass(frozen=True)
class IndexedDataset:
    """One loaded dataset: its task ids in dataset order, and each id's versions."""

    spec: str
    ids: list[str]
    versions: dict[str, list[Task]]

    @classmethod
    def of(cls, dataset: Dataset) -> IndexedDataset:
        versions: dict[str, list[Task]] = {}
        for task in dataset.tasks:
            versions.setdefault(task.id, []).append(task)
        for tasks in versions.values():
            tasks.sort(key=_version_order)
        return cls(dataset.spec, list(versions), versions)

    def first(self, task_id: str) -> Task:
        """The task's original, or its lowest version when the dataset has no original."""
        return self._versions_of(task_id)[0]

    def _versions_of(self, task_id: str) -> list[Task]:
        try:
            return self.versions[task_id]
        except KeyError:
            raise TaskNotFoundError(
                f"task {task_id} is not in dataset {self.spec}; the task list shows its ids"
            ) from None


def _version_order(task: Task) -> int:
    return -1 if task.version is None else task.version


@dataclass
class TaskCatalog:
    """The datasets on offer, by spec: the bundled sets and any the user added.

    `loader` loads a spec (a parameter for tests). Loading is serialised per catalogue, so two
    requests for a dataset not yet loaded load it once.
    """

    extra_specs: Sequence[str] = ()
    loader: Callable[[str], Dataset] = load_dataset
    _loaded: dict[str, IndexedDataset] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def specs(self) -> list[str]:
        """Every spec on offer: the user's first, then the bundled sets."""
        extra = [spec for spec in self.extra_specs if spec not in BUNDLED_SPECS]
        return [*extra, *BUNDLED_SPECS]

    def dataset(self, spec: str) -> IndexedDataset:
        """The dataset `spec` names, loaded on first use; only specs on offer are loaded."""
        loaded = self._loaded.get(spec)
        if loaded is not None:
            return loaded
        if spec not in self.specs:
            raise DatasetNotFoundError(
                f"dataset {spec!r} is not offered here; choose one of {', '.join(self.specs)}"
            )
        with self._lock:
            if spec not in self._loaded:
                self._loaded[spec] = IndexedDataset.of(self.loader(spec))
            return self._loaded[spec]


@dataclass(frozen=True)
class TaskVersion:
    """One version of a task and where it lives: the dataset, or the variation store."""

    task: Task
    stored: bool


def task_versions(
    dataset: IndexedDataset, task_id: str, stored: Sequence[VariantEntry]
) -> list[TaskVersion]:
    """Every version of a task, ordered by number (the original first): the dataset's own,
    then the stored variations whose numbers the dataset does not use."""
    own = dataset.versions.get(task_id)
    if own is None:
        raise TaskNotFoundError(
            f"task {task_id} is not in dataset {dataset.spec}; the task list shows its ids"
        )
    taken = {task.version for task in own}
    found = [TaskVersion(task, stored=False) for task in own] + [
        TaskVersion(entry.to_task(), stored=True) for entry in stored if entry.version not in taken
    ]
    return sorted(found, key=lambda found: _version_order(found.task))


def version_numbers(
    dataset: IndexedDataset, task_id: str, stored: Iterable[int]
) -> list[int | None]:
    """The version numbers `task_versions` lists, from the store's numbers alone (no grids)."""
    numbers = {task.version for task in dataset.versions[task_id]} | set(stored)
    return sorted(numbers, key=lambda v: -1 if v is None else v)


def find_version(
    dataset: IndexedDataset, task_id: str, version: int | None, stored: Sequence[VariantEntry]
) -> Task:
    """Version `version` of a task (None: the original), from the dataset or else the store."""
    for found in task_versions(dataset, task_id, stored):
        if found.task.version == version:
            return found.task
    label = "original" if version is None else f"version {version}"
    raise TaskNotFoundError(
        f"task {task_id} has no {label} in dataset {dataset.spec} or the variation store; "
        "the versions list shows which exist"
    )


def known_output(task: Task, test_index: int) -> Grid:
    """The known output of test input `test_index`; what checking and revealing compare with."""
    if not 0 <= test_index < len(task.test):
        raise TaskNotFoundError(
            f"task {task.label} has {len(task.test)} test input(s); "
            f"there is no test input {test_index}"
        )
    output = task.test[test_index].output
    if output is None:
        raise AnswerUnknownError(
            f"task {task.label}: the output of test input {test_index} is not in the data, "
            "so answers to it cannot be checked or revealed"
        )
    return output
