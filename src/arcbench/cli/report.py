"""`arcbench report RUN [RUN…]`: score runs, print tables or JSON, write a Kaggle submission."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer


def report(
    runs: Annotated[
        list[Path], typer.Argument(help="Run directories or results.jsonl files (e.g. shards).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    submission: Annotated[
        Path | None,
        typer.Option("--submission", help="Write the ARC Prize (Kaggle) submission JSON here."),
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Write one self-contained HTML page: an index of the tasks with filters, every "
            "task's grids, attempts, reasoning and (codegen) submitted programs.",
        ),
    ] = None,
    compare_with: Annotated[
        list[Path] | None,
        typer.Option("--compare", help="Another run to compare with on the tasks both cover."),
    ] = None,
) -> None:
    """Score runs by ARC Prize rules: pass@2 per test input, averaged per task.

    Several runs (the shards of one run) are reported together. Tasks without an answer count
    as 0. Also shows per-output and all-or-nothing scores, tokens and cost.

    Examples:

        arcbench report runs/traces-LOCAL_0-arc-agi-2-evaluation-20261122-101500

        arcbench report runs/shard-1 runs/shard-2 --json

        arcbench report runs/a --compare runs/b

        arcbench report runs/a --submission submission.json

        arcbench report runs/a --html report.html
    """
    import orjson
    from rich.console import Console
    from rich.table import Table

    from arcbench.atomic import write_output
    from arcbench.report import augmentation_rows, build_report, compare, read_run

    data = [read_run(path) for path in runs]
    built = build_report(data)
    console = Console(highlight=False)
    if submission is not None:
        write_output(submission, orjson.dumps(built.submission()))
        Console(stderr=True).print(
            f"wrote a submission for {len(built.test_inputs)} tasks to {submission}"
        )
    if html is not None:
        from arcbench.report import load_run_tasks
        from arcbench.report_html import render_html
        from arcbench.runview import report_views

        tasks, notes = load_run_tasks(built.runs)
        write_output(html, render_html(built, report_views(built, tasks), notes).encode())
        err = Console(stderr=True)
        for note in notes:
            err.print(note, style="yellow")
        err.print(f"wrote an HTML report of {len(built.test_inputs)} tasks to {html}")
    if any(path is not None and _is_standard_output(path) for path in (submission, html)):
        return  # the document went to standard output: a table after it would corrupt it
    if compare_with:
        other = [read_run(path) for path in compare_with]
        comparison = compare(data, other)
        if as_json:
            sys.stdout.buffer.write(
                orjson.dumps(comparison.as_dict(), option=orjson.OPT_INDENT_2) + b"\n"
            )
            return
        a, b = comparison.as_dict()["a"], comparison.as_dict()["b"]
        table = Table(
            title=f"comparison on {len(comparison.common)} common tasks", title_justify="left"
        )
        table.add_column("")
        table.add_column(", ".join(run.label for run in data), justify="right")
        table.add_column(", ".join(run.label for run in other), justify="right")
        table.add_row("score (per task)", f"{a['score']:.2%}", f"{b['score']:.2%}")
        table.add_row("per test output", f"{a['per_output']:.2%}", f"{b['per_output']:.2%}")
        table.add_row(
            "solved by this one only", str(len(comparison.only_a)), str(len(comparison.only_b))
        )
        table.add_row(
            "tokens",
            f"{a['usage']['prompt_tokens'] + a['usage']['completion_tokens']:,}",
            f"{b['usage']['prompt_tokens'] + b['usage']['completion_tokens']:,}",
        )
        table.add_row("cost", f"${a['cost_usd']:.4f}", f"${b['cost_usd']:.4f}")
        console.print(table)
        for name, keys in (("first", comparison.only_a), ("second", comparison.only_b)):
            if keys:
                shown = ", ".join(k[0] if k[1] is None else f"{k[0]}@{k[1]}" for k in keys[:20])
                console.print(f"solved by the {name} only: {shown}")
        return
    summary = built.as_dict()
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(summary, option=orjson.OPT_INDENT_2) + b"\n")
        return
    table = Table(title="report", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    for run in summary["runs"]:
        table.add_row("run", f"{run['path']} ({run['command']}, {run['model']}, {run['status']})")
    augmentation = augmentation_rows(summary)
    voted = ", voted" if augmentation else ""
    table.add_row(f"score (per task, pass@2{voted})", f"{summary['score']:.2%}")
    table.add_row("per test output", f"{summary['per_output']:.2%}")
    table.add_row("all or nothing", f"{summary['all_or_nothing']:.2%}")
    for label, value in augmentation or [("pass@k (any attempt)", f"{summary['pass_at_k']:.2%}")]:
        table.add_row(label, value)
    counts = summary["counts"]
    table.add_row("tasks", f"{counts['tasks']} ({summary['tasks_solved']} fully solved)")
    table.add_row("test outputs solved", f"{counts['outputs_solved']} / {counts['outputs']}")
    table.add_row("attempts recorded", str(counts["records"]))
    table.add_row("errors", str(counts["errors"]))
    table.add_row("replies without a grid", str(counts["parse_errors"]))
    usage = summary["usage"]
    table.add_row(
        "tokens (prompt / completion)",
        f"{usage['prompt_tokens']:,} / {usage['completion_tokens']:,}",
    )
    table.add_row("cost", f"${summary['cost_usd']:.4f}")
    console.print(table)


def _is_standard_output(path: Path) -> bool:
    """Whether `path` is the file this process's standard output writes to (`/dev/stdout`,
    or the file it was redirected to)."""
    try:
        return os.path.samestat(os.stat(path), os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError):  # no such file, or no standard output
        return False
