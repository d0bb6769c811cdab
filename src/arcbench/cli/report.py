"""`arcbench report RUN [RUN…]`: score runs, print tables or JSON, write a Kaggle submission."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from arcbench.report import Comparison, Report


def report(
    runs: Annotated[
        list[Path],
        typer.Argument(
            help="Run directories or results.jsonl files (e.g. shards).",
            metavar="RUN...",
            show_default=False,
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    submission: Annotated[
        Path | None,
        typer.Option(
            "--submission",
            metavar="FILE",
            help="Write the ARC Prize (Kaggle) submission JSON here.",
        ),
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            metavar="FILE",
            help="Write one self-contained HTML page: an index of the tasks with filters, every "
            "task's grids, attempts, reasoning and (codegen) submitted programs.",
        ),
    ] = None,
    compare_with: Annotated[
        list[Path] | None,
        typer.Option(
            "--compare", metavar="RUN", help="Another run to compare with on the tasks both cover."
        ),
    ] = None,
) -> None:
    """Score runs by ARC Prize rules: pass@2 per test input, averaged per task.

    Several runs (the shards of one run) are reported together. Tasks without an answer count
    as 0. Also shows per-output and all-or-nothing scores, tokens and cost.

    Examples:

        arcbench report runs/gpt4o-mini-20

        arcbench report runs/shard-* --json

        arcbench report runs/gpt4o-mini-20 --compare runs/shard-1

        arcbench report runs/gpt4o-mini-20 --submission submission.json

        arcbench report runs/gpt4o-mini-20 --html report.html
    """
    import orjson
    from rich.console import Console

    from arcbench.atomic import is_standard_output, write_output
    from arcbench.report import build_report, compare, read_run

    data = [read_run(path) for path in runs]
    built = build_report(data)
    # Paths, model names and task ids are printed as they are: never read as markup.
    console = Console(highlight=False, markup=False)
    notes = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)
    if submission is not None:
        write_output(submission, orjson.dumps(built.submission()))
        notes.print(
            f"wrote a submission for {len(built.test_inputs)} tasks to {submission}", markup=False
        )
    if html is not None:
        from arcbench.report import load_run_tasks
        from arcbench.report_html import render_html
        from arcbench.runview import report_views

        tasks, problems = load_run_tasks(built.runs)
        write_output(html, render_html(built, report_views(built, tasks), problems).encode())
        for problem in problems:
            notes.print(problem, style="yellow", markup=False)
        notes.print(
            f"wrote an HTML report of {len(built.test_inputs)} tasks to {html}", markup=False
        )
    if any(path is not None and is_standard_output(path) for path in (submission, html)):
        return  # the document went to standard output: a table after it would corrupt it
    if compare_with:
        comparison = compare(data, [read_run(path) for path in compare_with])
        if as_json:
            sys.stdout.buffer.write(
                orjson.dumps(comparison.as_dict(), option=orjson.OPT_INDENT_2) + b"\n"
            )
            return
        _print_comparison(console, comparison)
        return
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(built.as_dict(), option=orjson.OPT_INDENT_2) + b"\n")
        return
    _print_report(console, built)


def _print_runs(console: Console, runs: list[dict[str, Any]], prefix: str = "") -> None:
    """Each run's path whole on its own line (what a user copies next), its facts below."""
    for run in runs:
        console.print(f"{prefix}{run['path']}", soft_wrap=True)
        facts = [run["command"], run["model"] and f"model {run['model']}", run["dataset"]]
        facts.append(run["status"])
        console.print("  " + ", ".join(str(f) for f in facts if f), soft_wrap=True)


def _print_report(console: Console, built: Report) -> None:
    from rich.table import Table

    from arcbench.report import summary_rows

    summary = built.as_dict()
    _print_runs(console, summary["runs"])
    table = Table(show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    for label, value in summary_rows(summary):
        table.add_row(label, value)
    console.print(table)


def _print_comparison(console: Console, comparison: Comparison) -> None:
    """A and B named by their paths, each whole on its own line, then the table."""
    from rich.table import Table

    shown = comparison.as_dict()
    a, b = shown["a"], shown["b"]
    for name, side in (("A", a), ("B", b)):
        _print_runs(console, side["runs"], prefix=f"{name}: ")
    common = len(comparison.common)
    console.print(
        f"compared on the {common} tasks both ran (tokens and cost: on those only)", soft_wrap=True
    )
    table = Table()
    table.add_column("")
    table.add_column("A", justify="right")
    table.add_column("B", justify="right")
    table.add_row("score (per task)", f"{a['score']:.2%}", f"{b['score']:.2%}")
    table.add_row("per test output", f"{a['per_output']:.2%}", f"{b['per_output']:.2%}")
    table.add_row(
        "solved by this one only", str(len(comparison.only_a)), str(len(comparison.only_b))
    )
    table.add_row(
        "tokens (prompt + completion)",
        f"{a['usage']['prompt_tokens'] + a['usage']['completion_tokens']:,}",
        f"{b['usage']['prompt_tokens'] + b['usage']['completion_tokens']:,}",
    )
    table.add_row("cost", f"${a['cost_usd']:.4f}", f"${b['cost_usd']:.4f}")
    console.print(table)
    for name, keys in (("A", shown["solved_only_by_a"]), ("B", shown["solved_only_by_b"])):
        if keys:
            more = f" and {len(keys) - 20} more" if len(keys) > 20 else ""
            console.print(f"solved by {name} only: {', '.join(keys[:20])}{more}")
