"""The JSON Schemas in data/ are those of the models that write and read run directories, and
data/nature_of_data.md documents every field they name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from arcbench.schemas import SCHEMAS, SECTIONS, field_names, schema_of, schema_text

DATA = Path(__file__).resolve().parents[1] / "data"


def _section(name: str) -> str:
    """The section of data/nature_of_data.md that documents the schema `name`."""
    text = (DATA / "nature_of_data.md").read_text(encoding="utf-8")
    start = text.index(SECTIONS[name])
    end = text.index("\n## ", start + 1)
    return text[start:end]


@pytest.mark.parametrize("name", SCHEMAS)
def test_the_schema_in_data_is_generated_from_its_model(name: str) -> None:
    assert (DATA / name).read_bytes() == schema_text(SCHEMAS[name]), (
        f"data/{name} is stale: run `python -m arcbench.schemas data`"
    )


@pytest.mark.parametrize("name", SCHEMAS)
def test_nature_of_data_names_every_field_of_the_schema(name: str) -> None:
    documented = set(re.findall(r"`([a-z_]+)`", _section(name)))
    fields = field_names(schema_of(SCHEMAS[name]))
    assert fields  # the schema has fields to check
    assert fields - documented == set()
    assert name in _section(name)
