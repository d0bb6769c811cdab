"""Training data out of runs and the store: `arcbench export`.

Verified reasoning traces and programs become fine-tuning rows (`rows`: chat JSONL or ShareGPT)
with metadata saying where each came from; verified programs can be multiplied by augmented
copies, each checked in the sandbox before it is written (`augmenting`). `sources` reads runs and
the store, `output` writes one file or a train/validation split by task, and `pipeline` puts
them together:

    summary = await export_training_data(
        ExportRequest(out=Path("train.jsonl"), runs=[Path("runs/codegen-x")],
                      augment=parse_augment("d8")),
        sandbox=sandbox,
    )
"""

from arcbench.export.augmenting import AugmentSpec, conjugate, parse_augment
from arcbench.export.output import WrittenFile, validation_tasks
from arcbench.export.pipeline import (
    ExportRequest,
    ExportSummary,
    default_system_message,
    export_training_data,
)
from arcbench.export.rows import FORMATS, ROW_MODELS, RowFormat, RowMetadata, TrainingRow
from arcbench.export.sources import SourceCounts

__all__ = [
    "FORMATS",
    "ROW_MODELS",
    "AugmentSpec",
    "ExportRequest",
    "ExportSummary",
    "RowFormat",
    "RowMetadata",
    "SourceCounts",
    "TrainingRow",
    "WrittenFile",
    "conjugate",
    "default_system_message",
    "export_training_data",
    "parse_augment",
    "validation_tasks",
]
