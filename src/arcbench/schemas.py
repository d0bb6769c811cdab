"""JSON Schemas of the files a run and an export write, generated from the models that write and
read them.

`data/` holds them (`python -m arcbench.schemas data` regenerates them), for anyone writing tools
around run directories; a test checks that they match the models and that
`data/nature_of_data.md` documents every field they name, so code and documentation cannot drift.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel

from arcbench.export.rows import ChatRow
from arcbench.manifest import RunManifest
from arcbench.records import CodegenRecord, TracesRecord

SCHEMAS: dict[str, type[BaseModel]] = {
    "run-manifest.schema.json": RunManifest,
    "record-traces.schema.json": TracesRecord,
    "record-codegen.schema.json": CodegenRecord,
    "export-row.schema.json": ChatRow,
}
"""File name in `data/` → the model it describes."""

SECTIONS: dict[str, str] = {
    "run-manifest.schema.json": "## A run directory",
    "record-traces.schema.json": "## A run directory",
    "record-codegen.schema.json": "## A run directory",
    "export-row.schema.json": "## Training data",
}
"""File name in `data/` → the heading of the `nature_of_data.md` section that documents it."""


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema a reader validates against (what a record or manifest may hold)."""
    return model.model_json_schema(mode="validation")


def schema_text(model: type[BaseModel]) -> bytes:
    return orjson.dumps(schema_of(model), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def field_names(schema: dict[str, Any]) -> set[str]:
    """Every property name in a schema, nested definitions included."""
    names: set[str] = set()
    for definition in [schema, *schema.get("$defs", {}).values()]:
        names |= set(definition.get("properties", {}))
    return names


def write_schemas(directory: Path) -> list[Path]:
    """Write every schema into `directory`; the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in SCHEMAS.items():
        path = directory / name
        path.write_bytes(schema_text(model))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_schemas(Path(sys.argv[1] if len(sys.argv) > 1 else "data")):
        print(path)
