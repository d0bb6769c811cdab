"""The `arcbench` console entry point: the Typer app, global options and the error boundary.

Library errors (`ArcbenchError`) become one line on stderr and exit status 2; `--debug` shows
the traceback instead. Command modules import the library lazily, inside their functions, so
that `arcbench --version` and `--help` start fast.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from arcbench import __version__
from arcbench.cli import codegen, merge, models, report, serve, store, tasks, traces

app = typer.Typer(
    name="arcbench",
    help="Benchmark language models on ARC-AGI tasks and build synthetic data from them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("traces")(traces.traces)
app.command("codegen")(codegen.codegen)
app.command("report")(report.report)
app.add_typer(tasks.app, name="tasks")
app.add_typer(models.app, name="models")
app.command("merge")(merge.merge)
app.add_typer(store.app, name="store")
app.command("serve-ui")(serve.serve_ui)

_debug = False


def _version(value: bool) -> None:
    if value:
        typer.echo(f"arcbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks instead of one-line errors.")
    ] = False,
) -> None:
    """Benchmark language models on ARC-AGI tasks and build synthetic data from them."""
    global _debug
    _debug = debug


def _quiet_retry_library() -> None:
    """stamina logs every retry on its own logger; arcbench reports retries itself (progress and
    run.log), so those lines would only tear the progress display."""
    import stamina.instrumentation

    stamina.instrumentation.set_on_retry_hooks([])


def main() -> None:
    """Run the app behind the error boundary that turns user errors into one clear line."""
    from arcbench.errors import ArcbenchError

    _quiet_retry_library()
    try:
        app()
    except ArcbenchError as exc:
        if _debug:
            raise
        sys.stderr.write(f"arcbench: error: {exc}\n")
        sys.exit(2)
    except OSError as exc:  # a path the user gave cannot be read or written
        if _debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        sys.stderr.write(
            f"arcbench: error: {where}{exc.strerror or exc}; check the path and its permissions\n"
        )
        sys.exit(2)
    except KeyboardInterrupt:
        sys.stderr.write("arcbench: interrupted\n")
        sys.exit(130)
