"""`run.json`, the manifest of a run directory, as pydantic models with DESIGN.md's keys.

The manifest is written when a run starts (status `running`), rewritten atomically when a session
ends (`completed`, `interrupted`, `stopped`, `failed`), and validated whenever it is read back: a
resume compares its identity (`command`, `model`, `dataset`, `prompt_version`, `augmentation`)
with the run it is asked to continue, and `report` takes the selected tasks from it. Run
directories written by earlier versions read unchanged; `data/manifest.schema.json` is generated
from `RunManifest`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from arcbench.datasets import Dataset
from arcbench.tasks import MAX_TEST_INPUTS, Task
from arcbench.usage import Usage

Status = Literal["running", "completed", "interrupted", "stopped", "failed"]


class ModelInfo(BaseModel):
    """The model a run asked: its registry `name` and `provider`, the endpoint (`base_url`,
    credentials stripped; null offline), the served `model_id` and where the entry came from."""

    model_config = ConfigDict(extra="ignore")

    name: str
    provider: str
    base_url: str | None = None
    model_id: str | None = None
    source: str


class DatasetInfo(BaseModel):
    """The tasks a run covers: the `--dataset` spec, the selected task labels (`ID` or
    `ID@VERSION`), each one's number of test inputs, and a hash of their grids."""

    model_config = ConfigDict(extra="ignore")

    spec: str
    task_ids: list[str]
    test_inputs: dict[str, Annotated[int, Field(ge=0, le=MAX_TEST_INPUTS)]]
    content_hash: str

    def describe(self) -> str:
        """`arc-agi-1/training, 400 tasks`: the dataset as a person names it."""
        count = len(self.task_ids)
        return f"{self.spec}, {count} task{'' if count == 1 else 's'}"

    @classmethod
    def of(cls, dataset: Dataset, tasks: Sequence[Task]) -> DatasetInfo:
        """The identity of `tasks`, selected from `dataset`."""
        return cls(
            spec=dataset.spec,
            task_ids=[task.label for task in tasks],
            test_inputs={task.label: len(task.test) for task in tasks},
            content_hash=Dataset(dataset.spec, list(tasks)).content_hash(),
        )


class AugmentationInfo(BaseModel):
    """Test-time augmentation (`arcbench.views`): the `--augment` SPEC and the `views` it asked
    every task in (their labels, the identity first). A run without it has none."""

    model_config = ConfigDict(extra="ignore")

    spec: str
    views: list[str]

    def describe(self) -> str:
        return f"--augment {self.spec}, {len(self.views)} views"


class SandboxInfo(BaseModel):
    """The isolation programs ran under: the weakest of every session's (`sessions`, in order),
    so a run that was ever resumed with `--sandbox weak` says so."""

    model_config = ConfigDict(extra="ignore")

    isolation: str
    exec_timeout_s: float
    sessions: list[str] = Field(default_factory=list)

    def resumed_with(self, isolation: str, exec_timeout_s: float) -> SandboxInfo:
        """This history with one more session."""
        sessions = [*(self.sessions or [self.isolation]), isolation]
        weakest = "weak" if "weak" in sessions else isolation
        return SandboxInfo(isolation=weakest, exec_timeout_s=exec_timeout_s, sessions=sessions)


class TracesCounts(BaseModel):
    """A `traces` run's totals over the latest record of every attempt."""

    model_config = ConfigDict(extra="ignore")

    tasks: int
    test_inputs: int
    attempts_planned: int | None
    attempts_done: int
    errors: int
    parse_errors: int
    correct: int


class CodegenCounts(BaseModel):
    """A `codegen` run's totals: programs checked (every round of every attempt), failures,
    replies without a program, and programs that fit every train pair but fail a test output."""

    model_config = ConfigDict(extra="ignore")

    tasks: int
    test_inputs: int
    attempts_planned: int | None
    programs: int
    errors: int
    parse_errors: int
    overfit_programs: int


class ScoreSummary(BaseModel):
    """ARC Prize scores (see `arcbench.scoring`); `score` is the headline, the per-task average.
    `pass_at_k` (codegen: any program right) is null for traces runs, whose report computes it.

    With test-time augmentation `score` is the voted one, and the per-task scores of the identity
    view alone (`identity_view`), the best single view (`best_view`, named by `best_view_name`)
    and any view right (`oracle`) say what voting bought."""

    model_config = ConfigDict(extra="ignore")

    score: float
    per_task: float
    per_output: float
    all_or_nothing: float
    tasks_solved: int
    tasks: int | None = None
    outputs: int | None = None
    outputs_solved: int | None = None
    outputs_without_answer: int | None = None
    pass_at_k: float | None = None
    identity_view: float | None = None
    best_view: float | None = None
    best_view_name: str | None = None
    oracle: float | None = None


class BudgetInfo(BaseModel):
    """A run's cap (`--max-cost`) and what it has spent in all, earlier sessions included."""

    model_config = ConfigDict(extra="ignore")

    max_cost_usd: float = Field(
        description="The cap, US dollars, every session of the run included."
    )
    spent_usd: float = Field(
        description="What the budget counts as spent: the records' costs, plus the worst case of "
        "each request whose cost was not known (no usable usage, no reply), so it can exceed "
        "cost_usd."
    )


class RunSummary(BaseModel):
    """What a session adds to the manifest when it ends."""

    counts: TracesCounts | CodegenCounts
    score: ScoreSummary
    usage: Usage
    cost_usd: float


class RunIdentity(BaseModel):
    """What a resumed run must share with the run it continues (see `same_run`)."""

    command: str
    model: ModelInfo
    dataset: DatasetInfo
    prompt_version: str
    augmentation: AugmentationInfo | None = None


_WRITTEN_WHEN_SET = (
    "augmentation",
    "sandbox",
    "stop_reason",
    "budget",
    "counts",
    "score",
    "usage",
    "cost_usd",
    "session_seconds",
    "error",
)


class RunManifest(RunIdentity):
    """`run.json`. `config` holds every option of the last session (the settings, `dataset`,
    `selection`, `run_name`), never a key; `error` says what stopped a `failed` run,
    `stop_reason` why a `stopped` one stopped (`budget`: its `--max-cost`, in `budget`)."""

    model_config = ConfigDict(extra="ignore")

    run_id: str
    config: dict[str, Any] = Field(default_factory=dict)
    status: Status
    arcbench_version: str
    started_at: str
    finished_at: str | None = None
    sandbox: SandboxInfo | None = None
    counts: TracesCounts | CodegenCounts | None = None
    score: ScoreSummary | None = None
    usage: Usage | None = None
    cost_usd: float | None = None
    session_seconds: float | None = None
    error: str | None = None
    stop_reason: str | None = None
    budget: BudgetInfo | None = None

    def to_json(self) -> bytes:
        """The file's bytes, indented. Entries a run does not have yet (a summary while it
        runs) or at all (`sandbox` of a traces run) are left out rather than written as null."""
        data = self.model_dump(mode="json")
        for key in _WRITTEN_WHEN_SET:
            if data.get(key) is None:
                data.pop(key, None)
        if isinstance(data.get("score"), dict):
            data["score"] = {k: v for k, v in data["score"].items() if v is not None}
        return orjson.dumps(data, option=orjson.OPT_INDENT_2)

    @property
    def run_name(self) -> str | None:
        name = self.config.get("run_name")
        return name if isinstance(name, str) else None

    def differences(self, identity: RunIdentity) -> list[tuple[str, str, str]]:
        """Where `identity` is another run than this one: `(what, here, there)` for each of
        command, model (name and model id), dataset (compared by content hash, described by spec
        and task count), prompt version and augmentation (its SPEC and views). A moved server or
        a copied dataset file is still the same model or data."""
        pairs = [
            ("command", self.command, identity.command),
            (
                "model",
                f"{self.model.name}, {self.model.model_id}",
                f"{identity.model.name}, {identity.model.model_id}",
            ),
            ("prompt version", self.prompt_version, identity.prompt_version),
            ("augmentation", _augmentation(self), _augmentation(identity)),
        ]
        found = [(what, here, there) for what, here, there in pairs if here != there]
        if self.dataset.content_hash != identity.dataset.content_hash:
            here, there = self.dataset.describe(), identity.dataset.describe()
            if here == there:  # the same spec and count: other tasks, or the grids changed
                here += f", content {self.dataset.content_hash[:8]}"
                there += f", content {identity.dataset.content_hash[:8]}"
            found.insert(2, ("dataset", here, there))
        return found


def _augmentation(identity: RunIdentity) -> str:
    info = identity.augmentation
    return "none" if info is None else info.describe()
