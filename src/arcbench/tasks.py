"""Pydantic models of ARC tasks (not language models: those are `registry` entries): grid, pair,
task, and what a variant records about its making.

Validation happens in pydantic's core (constrained, strict types), so loading a thousand tasks
costs one pass of compiled code rather than Python loops over cells. The only Python-level check
is rectangularity, one `len` per row.

A grid is a plain `list[list[int]]`: it serialises as is, compares with `==`, and is what models
see and answer. Cells are JSON integers 0-9; strings, floats and booleans are refused (strict).
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

MAX_SIDE = 30
"""Largest grid side allowed by the ARC format."""

MAX_TEST_INPUTS = 1000
"""More test inputs than any ARC task has (they have 1 to 4). Run files that number test inputs
stay below it, so a hostile `results.jsonl` or `run.json` cannot make a reader allocate per
test input without end (a `test_index` of 10**9 once did)."""

PALETTE = (
    "#000000",
    "#0074D9",
    "#FF4136",
    "#2ECC40",
    "#FFDC00",
    "#AAAAAA",
    "#F012BE",
    "#FF851B",
    "#7FDBFF",
    "#870C25",
)
"""The standard ARC palette, colour 0 to 9: how the terminal, reports and the browser draw
cells (models are shown digits, never colours)."""


MAX_VERSION = 2**31 - 1
"""Largest task version number: versions are small counters, and this fits every store and JSON
reader (a bigger integer would not survive a round trip through JSON tools)."""

MAX_ID_LENGTH = 200
"""Longest task id accepted (ARC ids are 8 hex digits)."""


def task_id_problem(task_id: str) -> str | None:
    """Why `task_id` cannot name a task, or None when it can.

    A task id must survive every place it is written: `ID@VERSION` labels (so no `@`),
    `--task-ids A,B` (so no `,`), terminal lines and file names (so nothing invisible and no
    surrounding spaces).
    """
    if not task_id:
        return "is empty"
    if "@" in task_id:
        return "contains '@', which separates a task id from its version (ID@VERSION)"
    if "," in task_id:
        return "contains ',', which separates the ids given to --task-ids"
    if task_id != task_id.strip():
        return "starts or ends with a space"
    if not task_id.isprintable():
        return "contains a control or invisible character"
    if len(task_id) > MAX_ID_LENGTH:
        return f"is {len(task_id)} characters long; at most {MAX_ID_LENGTH} are allowed"
    return None


def _check_task_id(task_id: str) -> str:
    problem = task_id_problem(task_id)
    if problem is not None:
        raise ValueError(f"task id {_shown_id(task_id)} {problem}")
    return task_id


def _shown_id(task_id: str) -> str:
    """A task id quoted for a message, escaped and shortened so that it cannot garble the line."""
    shown = repr(task_id[:MAX_ID_LENGTH])
    return shown if len(task_id) <= MAX_ID_LENGTH else shown + "…"


def _check_color_map(mapping: list[int]) -> list[int]:
    if sorted(mapping) != list(range(10)):
        raise ValueError(
            f"color_map {mapping} is not a permutation of the colours 0-9 "
            "(ten entries, each colour once)"
        )
    return mapping


def _check_transform_id(transform_id: str) -> str:
    from arcbench.errors import TransformError
    from arcbench.transforms import parse_transform  # transforms builds on this module

    try:
        parse_transform(transform_id)
    except TransformError as exc:
        raise ValueError(str(exc)) from None
    return transform_id


TaskId = Annotated[str, AfterValidator(_check_task_id)]
"""A task id that can be written, selected and labelled unambiguously (`task_id_problem`)."""

Version = Annotated[int, Field(strict=True, ge=1, le=MAX_VERSION)]
"""A task version: a JSON integer from 1 (booleans, floats and strings are refused, not
coerced)."""

ColorMap = Annotated[list[Annotated[int, Field(strict=True)]], AfterValidator(_check_color_map)]
"""`color_map[c]` is the colour that colour `c` became: a permutation of 0-9."""

TransformId = Annotated[str, AfterValidator(_check_transform_id)]
"""The id of a transform `arcbench.transforms.parse_transform` knows."""

Cell = Annotated[int, Field(strict=True, ge=0, le=9)]
Row = Annotated[list[Cell], Field(min_length=1, max_length=MAX_SIDE)]


def _check_rectangular(grid: list[list[int]]) -> list[list[int]]:
    width = len(grid[0])
    for index, row in enumerate(grid):
        if len(row) != width:
            raise ValueError(f"ragged rows: row 0 has {width} cells but row {index} has {len(row)}")
    return grid


Grid = Annotated[
    list[Row],
    Field(min_length=1, max_length=MAX_SIDE),
    AfterValidator(_check_rectangular),
]
"""A rectangular grid of 1-30 rows by 1-30 columns, cells 0-9."""


class Pair(BaseModel):
    """A train pair: an input grid and the output the rule produces from it."""

    model_config = ConfigDict(frozen=True)

    input: Grid
    output: Grid


class TestPair(BaseModel):
    """A test pair; its output may be absent (then answers to it are unscored)."""

    model_config = ConfigDict(frozen=True)
    __test__ = False  # not a pytest test class, despite the name

    input: Grid
    output: Grid | None = None


class Provenance(BaseModel):
    """How a task version came to be: who made and signed it, from what, by which transforms.

    `transforms` lists transform ids in the order they were applied (see `arcbench.transforms`),
    so a prediction on the variant can be mapped back to its parent through their inverses.
    `color_map[c]` is the colour that colour `c` became, when a colour permutation was applied.
    """

    model_config = ConfigDict(frozen=True)

    signed_by: list[str] = Field(default_factory=list)
    parent_version: Version | None = None
    transforms: list[TransformId] = Field(default_factory=list)
    color_map: ColorMap | None = None
    created_by: str | None = None
    created_at: str | None = None


class Task(BaseModel):
    """One ARC task version. `(id, version)` identifies it; `version` is None for an original."""

    model_config = ConfigDict(frozen=True)

    id: TaskId
    version: Version | None = None
    train: Annotated[list[Pair], Field(min_length=1)]
    test: Annotated[list[TestPair], Field(min_length=1, max_length=MAX_TEST_INPUTS)]
    provenance: Provenance | None = None

    @property
    def key(self) -> tuple[str, int | None]:
        """The identity of a task version across datasets, runs and stores."""
        return (self.id, self.version)

    @property
    def label(self) -> str:
        """`id` for an original, `id@version` for a version, as users type it."""
        return self.id if self.version is None else f"{self.id}@{self.version}"

    @property
    def has_answers(self) -> bool:
        """Whether every test output is known, so every answer can be scored."""
        return all(pair.output is not None for pair in self.test)

    def summary(self) -> dict[str, Any]:
        """Identity, pair counts and grid shapes (`HxW`), what `tasks list` shows."""

        def shape(grid: list[list[int]] | None) -> str | None:
            return None if grid is None else f"{len(grid)}x{len(grid[0])}"

        return {
            "id": self.id,
            "version": self.version,
            "train": len(self.train),
            "test": len(self.test),
            "train_shapes": [[shape(p.input), shape(p.output)] for p in self.train],
            "test_shapes": [[shape(t.input), shape(t.output)] for t in self.test],
        }

    def grids(self) -> list[list[list[int]]]:
        """Every grid of the task in a fixed order (train in/out, then test in/out)."""
        out: list[list[list[int]]] = []
        for pair in self.train:
            out += [pair.input, pair.output]
        for test in self.test:
            out.append(test.input)
            if test.output is not None:
                out.append(test.output)
        return out

    def content(self) -> dict[str, Any]:
        """The task's grids as plain JSON data, the part that makes two versions identical."""
        return {
            "train": [{"input": p.input, "output": p.output} for p in self.train],
            "test": [
                {"input": t.input} if t.output is None else {"input": t.input, "output": t.output}
                for t in self.test
            ],
        }


class RawTask(BaseModel):
    """The ARC file format of one task (`{"train": [...], "test": [...]}`), before it has an id."""

    train: Annotated[list[Pair], Field(min_length=1)]
    test: Annotated[list[TestPair], Field(min_length=1, max_length=MAX_TEST_INPUTS)]


class VariantEntry(Provenance):
    """One entry of a `dataset.json`-style list of task versions (the variations format):
    a task's identity and grids beside its provenance fields."""

    task_id: TaskId
    version: Version | None = None
    train: Annotated[list[Pair], Field(min_length=1)]
    test: Annotated[list[TestPair], Field(min_length=1, max_length=MAX_TEST_INPUTS)]

    def to_task(self) -> Task:
        """The entry as a `Task`, its provenance fields kept."""
        provenance = {name: getattr(self, name) for name in Provenance.model_fields}
        return Task.model_construct(
            id=self.task_id,
            version=self.version,
            train=self.train,
            test=self.test,
            provenance=Provenance.model_construct(**provenance),
        )


def content_key(task: Task) -> str:
    """A digest of a task's grids: two versions with equal keys are the same task content.

    What `tasks augment` de-duplicates variants by and the variation store signs instead of
    adding, so both agree on what "the same variant" means."""
    return hashlib.sha256(orjson.dumps(task.content())).hexdigest()


def variant_entry(task: Task) -> dict[str, Any]:
    """A task version as a `dataset.json`-style entry (the variations format), every field
    written: what `tasks augment` and `arcbench store export --variations` produce."""
    provenance = task.provenance or Provenance()
    return {
        "task_id": task.id,
        "version": task.version,
        **task.content(),
        "signed_by": provenance.signed_by,
        "parent_version": provenance.parent_version,
        "transforms": provenance.transforms,
        "color_map": provenance.color_map,
        "created_by": provenance.created_by,
        "created_at": provenance.created_at,
    }


def task_from_raw(task_id: str, raw: RawTask) -> Task:
    """Give an already validated raw task its id, without validating its grids again."""
    return Task.model_construct(id=task_id, version=None, train=raw.train, test=raw.test)
