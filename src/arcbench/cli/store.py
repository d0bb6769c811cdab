"""`arcbench store info|export|backup`: the trace and variation store as a whole."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from arcbench.cli.helptext import ArcbenchTyper

if TYPE_CHECKING:
    from arcbench.store import Store, StoreInfo

app = ArcbenchTyper(
    help="The trace and variation store: counts, export to the original JSON files, backup.",
    no_args_is_help=True,
)

StoreOption = Annotated[
    Path | None,
    typer.Option(
        "--store",
        metavar="FILE",
        help="The store database (default data/arcbench.db; env: ARCBENCH_STORE).",
        show_default=False,
    ),
]


def store_location(store: Path | None) -> tuple[Path, float]:
    """The store `--store` (else `ARCBENCH_STORE`, else the default) names, and the busy
    timeout of the settings. A leading `~` is the home directory: no shell expands it in a
    `.env` file, and a directory named `~` would be made instead."""
    from arcbench.settings import load_settings
    from arcbench.store import DEFAULT_STORE, DEFAULT_TIMEOUT_S

    settings = load_settings(store=store)
    path = settings.store or DEFAULT_STORE
    return path, settings.store_timeout or DEFAULT_TIMEOUT_S


def open_store(store: Path | None) -> Store:
    """The store `store_location` names, which must exist (a missing one is refused with
    what to run instead)."""
    from arcbench.store import Store

    path, timeout = store_location(store)
    return Store(path, timeout=timeout, create=False)


@app.command("info")
def info(
    store: StoreOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object instead.")] = False,
) -> None:
    """Show the store: its file, schema version, counts of traces, votes and variations, size.

    Examples:

        arcbench store info

        arcbench store info --store backups/arcbench-monday.db --json
    """
    with open_store(store) as opened:
        facts = opened.info()
    if as_json:
        import orjson

        data = {k: str(v) if isinstance(v, Path) else v for k, v in vars(facts).items()}
        sys.stdout.buffer.write(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
        return
    _print_info(facts)


def _print_info(facts: StoreInfo) -> None:
    """Plain lines, never wrapped or cut: the paths are what a user copies next."""
    from arcbench.store.schema import SCHEMA_VERSION

    where = str(facts.path) + (f" -> {facts.file}" if facts.path.is_symlink() else "")
    rows = [
        ("store", where),
        ("schema", f"{facts.schema} (this arcbench: {SCHEMA_VERSION})"),
        ("traces", f"{facts.traces:,} ({facts.merged_traces:,} merged from runs)"),
        ("votes", f"{facts.votes:,}"),
        ("variations", f"{facts.variations:,} ({facts.deleted_variations:,} deleted)"),
        ("revision", f"{facts.revision:,}"),
        ("size", f"{_mb(facts.size_bytes)} (+ {_mb(facts.wal_bytes)} write-ahead log)"),
    ]
    for label, value in rows:
        typer.echo(f"{label:<12}{value}")


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


@app.command("export")
def export(
    traces: Annotated[
        Path | None,
        typer.Option(
            "--traces",
            metavar="FILE",
            help="Write the traces here, in the original traces_store.json format.",
        ),
    ] = None,
    variations: Annotated[
        Path | None,
        typer.Option(
            "--variations",
            metavar="FILE",
            help="Write the variations here, as a dataset.json list that --dataset reads.",
        ),
    ] = None,
    store: StoreOption = None,
) -> None:
    """Write the store back to the original JSON files (each written atomically).

    --traces writes the original traces_store.json: the traces of each task, scores and voters.

    --variations writes a dataset.json list of every version not deleted.

    `arcbench merge` imports both again. A pipe or /dev/stdout is written straight through.

    Examples:

        arcbench store export --traces traces_store.json --variations dataset.json

        arcbench store export --traces /dev/stdout | jq 'map_values(length)'

        arcbench tasks list --dataset dataset.json
    """
    from arcbench.errors import StoreError

    if traces is None and variations is None:
        raise StoreError("nothing to export: give --traces FILE, --variations FILE or both")
    with open_store(store) as opened:
        written = opened.export(traces=traces, variations=variations)
    from rich.console import Console

    from arcbench.atomic import is_stream

    # an export to standard output (`--traces /dev/stdout | jq`) keeps it for the data alone
    streamed = any(path is not None and is_stream(path) for path in (traces, variations))
    console = Console(highlight=False, soft_wrap=True, stderr=streamed, markup=False)
    if written.traces is not None:
        console.print(f"wrote {written.traces:,} traces to {traces}")
    if written.variations is not None:
        console.print(f"wrote {written.variations:,} variations to {variations}")


@app.command("backup")
def backup(
    target: Annotated[
        Path,
        typer.Argument(help="The backup file to write.", show_default=False, metavar="FILE"),
    ],
    store: StoreOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the backup file if it exists.")
    ] = False,
) -> None:
    """Copy the store to FILE with SQLite's online backup, safe while the web app runs.

    The copy is a consistent snapshot; it appears whole or not at all.

    Use it as --store, or copy it over the store (with nothing running) to restore.

    Examples:

        arcbench store backup backups/arcbench-monday.db

        arcbench store info --store backups/arcbench-monday.db
    """
    with open_store(store) as opened:
        opened.backup(target, overwrite=force)
        source = opened.path
    typer.echo(f"backed up {source} to {target}")
