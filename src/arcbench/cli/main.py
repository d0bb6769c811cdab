"""The `arcbench` console entry point: the Typer app, global options and the error boundary.

Every user error ends the same way: one line, `arcbench: error: …`, on stderr and exit status 2,
whether the library refused something (`ArcbenchError`), a path could not be used (`OSError`) or
the command line itself was wrong (Click's usage errors, which Typer would draw as a box).
`--debug` (before the command) shows the traceback instead. Command modules import the library
lazily, inside their functions, so that `arcbench --version` and `--help` start fast.

SIGINT and SIGTERM are handled from the entry module's first line (`arcbench.__main__`, which
installs `arcbench.interrupts` before importing this module): a command stopped by one exits
with 128 + its number (130, 143), never by the signal itself.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer

from arcbench import __version__
from arcbench.cli import codegen, export, merge, models, report, serve, store, tasks, traces
from arcbench.cli.helptext import ArcbenchTyper
from arcbench.interrupts import INTERRUPTS

app = ArcbenchTyper(
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
app.command("export")(export.export)
app.command("serve-ui")(serve.serve_ui)

_debug = False

GLOBAL_OPTIONS = ("--debug", "--version")
"""Options of `arcbench` itself, which go before the command."""


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


def _warnings_on_stderr() -> None:
    """Warnings the library logs outside a run (a partial solutions file) as one line each; a
    run's own log lines go to its run.log instead (`arcbench.runlog`)."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("arcbench: warning: %(message)s"))
    handler.setLevel(logging.WARNING)
    handler.addFilter(lambda record: record.name.startswith("arcbench"))
    logging.getLogger().addHandler(handler)


def _refuse_meaningless_values(command: Any) -> None:
    """Make every option and argument of every command refuse a value that means nothing.

    An empty or blank value (`--dataset ""`, `--out ""`) would otherwise read as the current
    directory or the default, and run something the user did not ask for; `inf` and `nan`
    parse as numbers but no timeout, temperature or rate is infinite.
    """
    for param in command.params:
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            continue
        param.process_value = _checked(param, param.process_value)
    for sub in getattr(command, "commands", {}).values():
        _refuse_meaningless_values(sub)


def _checked(param: Any, process: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def check(ctx: Any, value: Any) -> Any:
        values = value if isinstance(value, tuple | list) else (value,)
        if any(isinstance(v, str) and not v.strip() for v in values):
            raise typer.BadParameter("the value is empty; give one, or leave it out", ctx, param)
        converted = process(ctx, value)
        if isinstance(converted, float) and not math.isfinite(converted):
            raise typer.BadParameter(f"{converted} is not a finite number", ctx, param)
        return converted

    return check


def _usage_line(exc: typer.TyperException, args: list[str]) -> str:
    """A usage error (a Click exception, as Typer vendors Click) as one line, with the way to
    the right usage."""
    message = " ".join(exc.format_message().split())
    option = getattr(exc, "option_name", None)
    if option in GLOBAL_OPTIONS:
        command = next((a for a in args if not a.startswith("-")), "COMMAND")
        return (
            f"{message}; {option} is an option of arcbench itself and goes before the "
            f"command: arcbench {option} {command} …"
        )
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else "arcbench"
    return f"{message} (see {path} --help)"


def _run(args: list[str]) -> int:
    """Run the command line `args`; the exit status. User errors are one line on stderr."""
    from arcbench.errors import ArcbenchError

    _quiet_retry_library()
    _warnings_on_stderr()
    command = typer.main.get_command(app)
    _refuse_meaningless_values(command)
    try:
        result = command.main(args=args, prog_name="arcbench", standalone_mode=False)
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `arcbench` alone: the help
            sys.stderr.write(exc.format_message() + "\n")
            return 2
        sys.stderr.write(f"arcbench: error: {_usage_line(exc, args)}\n")
        return 2
    except typer.Abort:  # end of input at a prompt
        sys.stderr.write("arcbench: aborted\n")
        return 1
    except ArcbenchError as exc:
        if _debug:
            raise
        sys.stderr.write(f"arcbench: error: {exc}\n")
        return 2
    except OSError as exc:  # a path the user gave cannot be read or written
        if _debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        sys.stderr.write(
            f"arcbench: error: {where}{exc.strerror or exc}; check the path and its permissions\n"
        )
        return 2
    return result if isinstance(result, int) else 0


def main() -> None:
    """Run the app behind the error boundary that turns user errors into one clear line."""
    INTERRUPTS.install()  # done already when started as `arcbench` or `python -m arcbench`
    try:
        INTERRUPTS.started()
        code = _run(sys.argv[1:])
        INTERRUPTS.ignore()  # inside the `try`: a first signal up to here is caught below
    except KeyboardInterrupt:  # raised by the first signal: later ones cannot raise again
        code = INTERRUPTS.exit_code
    INTERRUPTS.ignore()
    if INTERRUPTS.received:
        code = INTERRUPTS.exit_code
        sys.stderr.write(f"arcbench: interrupted ({_signal_name()})\n")
    with contextlib.suppress(OSError):  # a closed pipe has nothing left to say
        sys.stdout.flush()
        sys.stderr.flush()
    if INTERRUPTS.raised:
        # Everything was closed while the interrupt unwound. Exit here rather than through the
        # interpreter's shutdown: when a KeyboardInterrupt passed through code that Python ran
        # from a string (dataclasses and typing build methods that way), `python -m` remembers
        # it and kills itself with SIGINT at the very end, however it was handled.
        os._exit(code)
    sys.exit(code)


def _signal_name() -> str:
    import signal

    return signal.Signals(INTERRUPTS.exit_code - 128).name
