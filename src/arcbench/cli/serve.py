"""`arcbench serve-ui`: the web app for solving, transforming and curating tasks."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from arcbench.cli.options import RunDatasetOption


def serve_ui(
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            metavar="ADDRESS",
            help="Address to listen on (default 127.0.0.1: this machine only).",
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port", metavar="PORT", help="Port to listen on (default 8765; 0: any free)."
        ),
    ] = None,
    dataset: RunDatasetOption = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            metavar="DIR",
            help="Directory of the store, arcbench.db (default data; ARCBENCH_STORE names "
            "another file), and of the session key.",
        ),
    ] = None,
    runs: Annotated[
        Path | None,
        typer.Option(
            "--runs", metavar="DIR", help="Directory holding run directories (default runs)."
        ),
    ] = None,
    no_open: Annotated[
        bool, typer.Option("--no-open", help="Do not open the app in a browser.")
    ] = False,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            metavar="TOKEN",
            help="Access token every request must carry; required to listen beyond loopback "
            "(also ARCBENCH_TOKEN).",
        ),
    ] = None,
) -> None:
    """Start the web app: browse and solve tasks, transform them, save and share variations.

    It listens on 127.0.0.1 only, unless given --token; then every request must carry the
    token (open the printed address, which includes it). Ctrl+C stops it.

    Examples:

        arcbench serve-ui

        arcbench serve-ui --dataset arc-agi-1/training --no-open

        arcbench serve-ui --host 0.0.0.0 --token "$(openssl rand -hex 16)"
    """
    from arcbench.interrupts import INTERRUPTS
    from arcbench.settings import load_web_settings
    from arcbench.web.server import serve

    settings = load_web_settings(
        host=host, port=port, dataset=dataset, data_dir=data_dir, runs=runs, token=token
    )

    def announce(url: str) -> None:
        typer.echo(f"arcbench serve-ui: {url} (Ctrl+C stops it)")

    with contextlib.suppress(KeyboardInterrupt):
        serve(settings, open_browser=not no_open, announce=announce)
    INTERRUPTS.forget()  # Ctrl+C is how a server stops: a normal end, exit status 0
    typer.echo("arcbench serve-ui: stopped")
