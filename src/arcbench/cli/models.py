"""`arcbench models list`: the model registry, and where each entry came from."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from arcbench.registry import ModelEntry

app = typer.Typer(help="Show the models arcbench can call.", no_args_is_help=True)


@app.command("list")
def list_models(
    models_file: Annotated[
        Path | None,
        typer.Option(
            "--models-file",
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

        arcbench models list --models-file ~/models.toml --json
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
    from rich.console import Console
    from rich.table import Table

    table = Table(title="models", title_justify="left")
    for column in ("name", "provider", "base URL", "model id", "key variable", "$/M in/out"):
        table.add_column(column)
    table.add_column("rpm", justify="right")
    table.add_column("source")
    for entry in entries:
        table.add_row(
            entry.name,
            entry.provider,
            entry.base_url or "(offline)",
            entry.model_id or ("(from /v1/models)" if entry.base_url else "-"),
            entry.api_key_env or "-",
            _prices(entry),
            f"{entry.rate_limit:g}" if entry.rate_limit else "-",
            entry.source,
        )
    Console(soft_wrap=False).print(table)


def _prices(entry: ModelEntry) -> str:
    if not entry.priced:
        return "reported" if entry.provider == "openrouter" else "-"
    return f"{entry.input_price or 0:g} / {entry.output_price or 0:g}"
