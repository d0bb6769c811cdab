"""A self-contained HTML report of scored runs: the scores, then every task with its grids.

One file, no scripts, no external resources (it opens offline and can be attached to a mail).
Every piece of text that comes from a run (task ids, model names, paths) is escaped: nothing a
model or a dataset wrote is ever interpreted as HTML.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from arcbench.records import TaskKey
from arcbench.report import Report, augmentation_rows
from arcbench.tasks import PALETTE, Task

Grid = list[list[int]]

_STYLE = (
    "body{font:14px system-ui,sans-serif;margin:2em;color:#222;background:#fafafa}"
    "h1{font-size:1.4em}h2{font-size:1.1em;margin:1.5em 0 .4em}"
    "table.scores td,table.scores th{padding:.2em .8em;text-align:left;"
    "border-bottom:1px solid #ddd}"
    ".task{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6em 1em;margin:.8em 0}"
    ".row{display:flex;flex-wrap:wrap;gap:1.2em;align-items:flex-start;margin:.4em 0}"
    "figure{margin:0}figcaption{font-size:.85em;color:#555;margin-bottom:.2em}"
    ".g{display:grid;grid-template-columns:repeat(var(--w),10px);gap:1px;background:#555;"
    "border:1px solid #555;width:max-content}"
    ".g i{width:10px;height:10px;display:block}"
    ".ok{color:#1a7f37;font-weight:600}.no{color:#b42318;font-weight:600}.na{color:#777}"
    "details summary{cursor:pointer;color:#555}"
    + "".join(f".c{index}{{background:{colour}}}" for index, colour in enumerate(PALETTE))
)


def grid_html(grid: Grid | None, caption: str) -> str:
    """A grid as coloured cells (CSS grid), with a caption; a dash when there is no grid."""
    if not grid:
        return f"<figure><figcaption>{escape(caption)}</figcaption><span class=na>—</span></figure>"
    cells = "".join(f"<i class=c{cell}></i>" for row in grid for cell in row)
    shape = f"{len(grid)}x{len(grid[0])}"
    return (
        f"<figure><figcaption>{escape(caption)} {shape}</figcaption>"
        f'<div class=g style="--w:{len(grid[0])}">{cells}</div></figure>'
    )


def _verdict(correct: Any) -> str:
    if correct is True:
        return "<span class=ok>✓</span>"
    if correct is False:
        return "<span class=no>✗</span>"
    return "<span class=na>?</span>"


def _label(key: TaskKey) -> str:
    return key[0] if key[1] is None else f"{key[0]}@{key[1]}"


def render_html(report: Report, tasks: Mapping[TaskKey, Task] | None = None) -> str:
    """The report as one HTML page. `tasks` (when the datasets could be loaded) adds the train
    pairs, test inputs and expected outputs beside the submitted attempts."""
    summary = report.as_dict()
    tasks = tasks or {}
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<meta name=viewport content='width=device-width,initial-scale=1'>",
        f"<title>arcbench report</title><style>{_STYLE}</style></head><body>",
        "<h1>arcbench report</h1>",
        "<table class=scores><tr><th>run</th><th>command</th><th>model</th><th>dataset</th>"
        "<th>status</th></tr>",
    ]
    for run in summary["runs"]:
        cells = (run["path"], run["command"], run["model"], run["dataset"], run["status"])
        parts.append("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>")
    parts.append("</table><h2>Scores</h2><table class=scores>")
    augmentation = augmentation_rows(summary)
    rows = [
        (f"score (per task, pass@2{', voted' if augmentation else ''})", f"{summary['score']:.2%}"),
        ("per test output", f"{summary['per_output']:.2%}"),
        ("all or nothing", f"{summary['all_or_nothing']:.2%}"),
        *(augmentation or [("pass@k (any attempt)", f"{summary['pass_at_k']:.2%}")]),
        ("tasks (fully solved)", f"{summary['counts']['tasks']} ({summary['tasks_solved']})"),
        (
            "tokens (prompt / completion)",
            f"{summary['usage']['prompt_tokens']:,} / {summary['usage']['completion_tokens']:,}",
        ),
        ("cost", f"${summary['cost_usd']:.4f}"),
    ]
    parts += [f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in rows]
    parts.append("</table><h2>Tasks</h2>")
    for key, task_score in zip(report.test_inputs, report.score.tasks, strict=True):
        parts.append(_task_html(report, key, task_score.score, tasks.get(key)))
    parts.append("</body></html>")
    return "".join(parts)


def _task_html(report: Report, key: TaskKey, score: float, task: Task | None) -> str:
    parts = [f"<section class=task><b>{escape(_label(key))}</b> — score {score:.2f}"]
    if task is not None:
        train = "".join(
            "<div class=row>"
            + grid_html(pair.input, f"train {index} input")
            + grid_html(pair.output, "output")
            + "</div>"
            for index, pair in enumerate(task.train)
        )
        parts.append(
            f"<details><summary>train pairs ({len(task.train)})</summary>{train}</details>"
        )
    for index in range(report.test_inputs[key]):
        attempts = report.attempts.get((key[0], key[1], index), {})
        row = ["<div class=row>"]
        if task is not None and index < len(task.test):
            row.append(grid_html(task.test[index].input, f"test {index} input"))
            row.append(grid_html(task.test[index].output, "expected"))
        for number in (1, 2):
            outcome = attempts.get(number)
            prediction = outcome.prediction if outcome else None
            verdict = _verdict(outcome.correct if outcome else None)
            row.append(
                grid_html(prediction, f"attempt {number}").replace(
                    "</figcaption>", f" {verdict}</figcaption>", 1
                )
            )
        row.append("</div>")
        parts.append("".join(row))
    parts.append("</section>")
    return "".join(parts)
