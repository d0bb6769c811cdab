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
    """A table where it fits (all columns; else without those that say nothing; else without
    the provider too, which the base URL shows), else one block per entry: a name or a URL is
    never cut, whatever the width."""
    from rich.console import Console

    from arcbench.cli.listing import EMPTY, Column, print_listing

    names = ["name", "provider", "base URL", "model id", "key variable", "$/M in/out"]
    columns = [*map(Column, names), Column("rpm", right=True), Column("source")]
    informative = [
        c.name for c in columns if c.name == "name" or any(r[c.name] != EMPTY for r in rows)
    ]
    shorter = [name for name in informative if name != "provider"]
    print_listing(
        Console(highlight=False, markup=False), "models", columns, rows, (informative, shorter)
    )


def _prices(entry: ModelEntry) -> str:
    if not entry.priced:
        return "reported" if entry.provider == "openrouter" else "-"
    return f"{entry.input_price or 0:g} / {entry.output_price or 0:g}"
