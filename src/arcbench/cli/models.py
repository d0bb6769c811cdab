"""`arcbench models list`: the model registry, and where each entry came from."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from arcbench.cli.helptext import ArcbenchTyper

if TYPE_CHECKING:
    from arcbench.registry import ModelEntry

app = ArcbenchTyper(help="Show the models arcbench can call.", no_args_is_help=True)


@app.command("list")
def list_models(
    models_file: Annotated[
        Path | None,
        typer.Option(
            "--models-file",
            metavar="FILE",
            help="models.toml to read instead of ./models.toml (env: ARCBENCH_MODELS_FILE).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead.")] = False,
) -> None:
    """List registry entries: name, provider, endpoint, model id, key variable, prices, source.

    Built in: LOCAL_0/1/2 (OpenAI-compatible servers on 127.0.0.1:8000-8002) and
    openrouter/<vendor>/<model>. A models.toml in the working directory adds or overrides
    entries. Key variables are shown by name only, never their values.

    Examples:

        arcbench models list

        arcbench models list --json
    """
    from arcbench.registry import load_registry
    from arcbench.settings import load_settings

    settings = load_settings(models_file=models_file)
    entries = load_registry(settings.models_file).listing()
    if as_json:
        import orjson

        rows = [entry.describe() for entry in entries]
        sys.stdout.buffer.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2) + b"\n")
        return
    _print_entries([_cells(entry) for entry in entries])


COLUMNS = (
    "name",
    "provider",
    "base URL",
    "model id",
    "key variable",
    "$/M in/out",
    "rpm",
    "source",
)


def _cells(entry: ModelEntry) -> dict[str, str]:
    return {
        "name": entry.name,
        "provider": entry.provider,
        "base URL": entry.base_url or "(offline)",
        "model id": entry.model_id or ("(from /v1/models)" if entry.base_url else "-"),
        "key variable": entry.api_key_env or "-",
        "$/M in/out": _prices(entry),
        "rpm": f"{entry.rate_limit:g}" if entry.rate_limit else "-",
        "source": entry.source,
    }


def _print_entries(rows: list[dict[str, str]]) -> None:
    """A table when it fits the terminal (all columns; else without those that say nothing;
    else without the provider too, which the base URL shows), or else one block per entry: a
    name or a URL is never cut, whatever the width."""
    from rich.console import Console
    from rich.measure import Measurement
    from rich.table import Table

    console = Console(highlight=False)
    informative = [c for c in COLUMNS if c == "name" or any(row[c] != "-" for row in rows)]
    shorter = [c for c in informative if c != "provider"]
    for columns in (COLUMNS, informative, shorter):
        table = Table(title="models", title_justify="left")
        for column in columns:
            table.add_column(column, no_wrap=True, justify="right" if column == "rpm" else "left")
        for row in rows:
            table.add_row(*(row[column] for column in columns))
        unbounded = console.options.update_width(1 << 16)
        if Measurement.get(console, unbounded, table).maximum <= console.width:
            console.print(table)
            return
    for row in rows:
        console.print(row["name"], style="bold", soft_wrap=True)
        for column in COLUMNS[1:]:
            if row[column] != "-":
                console.print(f"  {column + ':':<14}{row[column]}", soft_wrap=True, markup=False)


def _prices(entry: ModelEntry) -> str:
    if not entry.priced:
        return "reported" if entry.provider == "openrouter" else "-"
    return f"{entry.input_price or 0:g} / {entry.output_price or 0:g}"
