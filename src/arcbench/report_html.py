"""`arcbench report --html`: one self-contained HTML page of scored runs, the same per-task view
as the web app's runs page (`arcbench.runview` computes it; this module only draws it).

The page: the runs and their scores; an index of every task with its outcome; filters (all,
solved, unsolved, errors, parse errors) made of radio buttons and CSS alone; then each task with
its train pairs, each test input beside its expected output and the two attempts submitted
(differing cells dotted), and the attempts in full: every traces attempt with its reasoning,
every submitted program with its code, train results and reasoning.

One file, no scripts, nothing fetched: it opens offline and can be mailed. Grids are tiny PNG
images (`arcbench.gridimage`), a few hundred bytes each, so a 400-task run stays a few
megabytes. Every piece of text from a run, a dataset or a model is escaped: nothing they wrote
is ever interpreted as HTML.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any

from arcbench.gridimage import differing_cells, grid_data_uri
from arcbench.report import Report, summary_rows
from arcbench.runview import AttemptView, TaskView

Grid = list[list[int]]

GRID_SIDE = 150
"""About how many pixels a grid's longer side takes."""

_STYLE = (
    """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1f2328;background:#f3f4f6}
main{max-width:1200px;margin:0 auto;padding:20px 24px 60px}
h1{font-size:22px;margin:0 0 12px}h2{font-size:16px;margin:24px 0 8px}
table{border-collapse:collapse;background:#fff}
td,th{padding:3px 10px;text-align:left;border-bottom:1px solid #e5e7eb;font-size:13px}
th{color:#656d76;font-weight:600}
.mono,code,pre{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,monospace}
.notes{color:#7d4e00}
.filters{position:sticky;top:0;z-index:2;background:#f3f4f6;padding:8px 0;display:flex;gap:6px;
flex-wrap:wrap;align-items:center;border-bottom:1px solid #d8dee4}
.filters input{position:absolute;opacity:0}
.filters label{border:1px solid #d8dee4;border-radius:6px;padding:3px 10px;background:#fff;
cursor:pointer;font-size:13px}
.filters input:checked+label{background:#ddf4ff;border-color:#54aeff;color:#0550ae}
.filters input:focus-visible+label{outline:2px solid #0969da}
.index{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:4px;margin:10px 0}
.index a{display:flex;justify-content:space-between;gap:6px;padding:2px 8px;border-radius:5px;
text-decoration:none;color:inherit;font-size:12px;background:#fff;border:1px solid #e5e7eb}
.index a:hover{border-color:#54aeff}
.b{font-size:11px;font-weight:600;padding:0 7px;border-radius:9px;white-space:nowrap;
background:#eaeef2;color:#656d76}
.solved .b.st,.b.ok{background:#dafbe1;color:#1a7f37}.partly .b.st{background:#fff8c5;color:#7d4e00}
.failed .b.st,.b.no{background:#ffebe9;color:#cf222e}.b.warn{background:#fff8c5;color:#7d4e00}
.b.sub{background:#ddf4ff;color:#0550ae}
.task{background:#fff;border:1px solid #d8dee4;border-radius:8px;padding:10px 14px;margin:12px 0}
.task>header{display:flex;gap:10px;align-items:baseline;flex-wrap:wrap}
.task>header h3{margin:0;font-size:15px}.muted,figcaption i{color:#656d76;font-size:12px}
.row{display:flex;flex-wrap:wrap;gap:10px 16px;align-items:flex-start;margin:6px 0}
figure{margin:0}figcaption{font-size:11px;color:#656d76;font-weight:600;margin-bottom:2px;
display:flex;gap:5px;align-items:baseline}figcaption i{font-style:normal;font-weight:400}
.g{display:block;image-rendering:pixelated;background-image:var(--img);background-size:100% 100%;
width:calc(var(--w)*var(--c));height:calc(var(--h)*var(--c));border:1px solid #3b4048}
.g:not(.c3,.c4,.c5){background-image:linear-gradient(90deg,rgba(59,64,72,.85) 1px,transparent 1px),
linear-gradient(rgba(59,64,72,.85) 1px,transparent 1px),var(--img);
background-size:var(--c) var(--c),var(--c) var(--c),100% 100%}
"""
    + "".join(f".c{size}{{--c:{size}px}}" for size in range(3, 17))
    + """
.none{display:inline-block;padding:12px 8px;border:1px dashed #d8dee4;border-radius:4px;
color:#656d76;font-size:11px}
.test{background:#fafbfc;border:1px solid #eaeef2;border-radius:6px;padding:6px 10px;margin:8px 0}
details{margin:6px 0}summary{cursor:pointer;font-size:13px}
.att{border:1px solid #eaeef2;border-radius:6px;margin:6px 0}
.att>summary{padding:4px 10px;display:flex;gap:6px;align-items:center;flex-wrap:wrap}
.att[open]>summary{border-bottom:1px solid #eaeef2;background:#f6f8fa}
.att>div{padding:2px 12px 8px}
h4{font-size:11px;text-transform:uppercase;letter-spacing:.04em;color:#656d76;margin:10px 0 4px}
pre{font-size:12px;background:#f6f8fa;border:1px solid #eaeef2;border-radius:6px;padding:8px 10px;
overflow:auto;max-height:400px;margin:0}
.reasoning{white-space:pre-wrap;overflow-wrap:anywhere;font-size:13px;border-left:3px solid #d0d7de;
padding:4px 10px;max-height:420px;overflow:auto;background:#fbfbfc}
.err{color:#cf222e;font-size:13px;overflow-wrap:anywhere}
body:has(#f-solved:checked) .t:not(.solved),body:has(#f-unsolved:checked) .t.solved,
body:has(#f-errors:checked) .t:not(.e),body:has(#f-parse:checked) .t:not(.p){display:none}
"""
)


def _cell(grid: Grid, side: int = GRID_SIDE) -> int:
    return max(3, min(16, side // max(len(grid), len(grid[0]))))


def grid_html(
    grid: Grid | None,
    caption: str,
    *,
    expected: Grid | None = None,
    verdict: str = "",
    side: int = GRID_SIDE,
) -> str:
    """A captioned grid: one element whose background is the grid's PNG (cells dotted where
    they differ from `expected`), its cell size a class (`c3`-`c16`), with cell lines over it
    when the cells are big enough."""
    if not grid:
        return (
            f"<figure><figcaption>{escape(caption)}{verdict}</figcaption>"
            "<span class=none>no grid</span></figure>"
        )
    rows, cols = len(grid), len(grid[0])
    cell = _cell(grid, side)
    uri = grid_data_uri(grid, differing_cells(grid, expected) or None)
    return (
        f"<figure><figcaption>{escape(caption)} <i>{rows}x{cols}</i>{verdict}</figcaption>"
        f'<b class="g c{cell}" style="--w:{cols};--h:{rows};--img:url({uri})"></b></figure>'
    )


def _verdict(correct: bool | None, *, known: bool = True) -> str:
    if not known:
        return ""
    if correct is True:
        return " <span class='b ok'>✓ right</span>"
    if correct is False:
        return " <span class='b no'>✗ wrong</span>"
    return " <span class=b>? unknown</span>"


_OUTCOME = {
    "correct": "<span class='b ok'>right</span>",
    "answered": "<span class='b no'>wrong</span>",
    "parse_error": "<span class='b warn'>no grid in the reply</span>",
    "error": "<span class='b no'>failed</span>",
}
_STATUS_CLASS = {
    "solved": "solved",
    "partly solved": "partly",
    "unsolved": "unsolved",
    "failed": "failed",
    "pending": "pending",
}


def _anchor(label: str) -> str:
    return "t-" + "".join(ch if ch.isalnum() or ch in "-_" else f"_{ord(ch):x}" for ch in label)


def _classes(view: TaskView) -> str:
    outcome = view.outcome
    classes = ["t", _STATUS_CLASS.get(outcome.status, "unsolved")]
    if outcome.errors:
        classes.append("e")
    if outcome.parse_errors:
        classes.append("p")
    return " ".join(classes)


def render_html(report: Report, views: Iterable[TaskView], notes: Iterable[str] = ()) -> str:
    """The report as one HTML page: `views` are its tasks in full (`runview.report_views`)."""
    views = list(views)
    summary = report.as_dict()
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<meta name=viewport content='width=device-width,initial-scale=1'>",
        f"<title>arcbench report</title><style>{_STYLE}</style></head><body><main>",
        "<h1>arcbench report</h1>",
        _runs_table(summary),
        _scores_table(summary),
    ]
    notes = list(notes)
    if notes:
        parts.append("<ul class=notes>" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>")
    parts.append(_filters(views))
    parts.append("<h2>Tasks</h2><nav class=index>")
    for view in views:
        outcome = view.outcome
        solved = sum(outcome.solved)
        parts.append(
            f'<a class="{_classes(view)}" href="#{_anchor(outcome.label)}">'
            f"<span class=mono>{escape(outcome.label)}</span>"
            f"<span class='b st'>{solved}/{len(outcome.solved)}</span></a>"
        )
    parts.append("</nav>")
    parts.extend(_task_html(view) for view in views)
    parts.append("</main></body></html>")
    return "".join(parts)


def _runs_table(summary: dict[str, Any]) -> str:
    rows = [
        "<table><tr><th>run</th><th>command</th><th>model</th><th>dataset</th><th>status</th></tr>"
    ]
    for run in summary["runs"]:
        cells = (run["path"], run["command"], run["model"], run["dataset"], run["status"])
        rows.append("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>")
    return "".join(rows) + "</table>"


def _scores_table(summary: dict[str, Any]) -> str:
    rows = summary_rows(summary)
    body = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in rows)
    return f"<h2>Scores</h2><table>{body}</table>"


def _filters(views: list[TaskView]) -> str:
    counts = {
        "all": len(views),
        "solved": sum(1 for v in views if v.outcome.status == "solved"),
        "unsolved": sum(1 for v in views if v.outcome.status != "solved"),
        "errors": sum(1 for v in views if v.outcome.errors),
        "parse": sum(1 for v in views if v.outcome.parse_errors),
    }
    names = {
        "all": "All",
        "solved": "Solved",
        "unsolved": "Unsolved",
        "errors": "Errors",
        "parse": "Parse errors",
    }
    buttons = "".join(
        f"<input type=radio name=f id=f-{key}{' checked' if key == 'all' else ''}>"
        f"<label for=f-{key}>{names[key]} <span class=muted>{count}</span></label>"
        for key, count in counts.items()
    )
    return f"<div class=filters role=group aria-label='Show tasks'>Show {buttons}</div>"


def _task_html(view: TaskView) -> str:
    outcome = view.outcome
    solved = sum(outcome.solved)
    flags = ""
    if outcome.errors:
        flags += f" <span class='b no'>{outcome.errors} failed</span>"
    if outcome.parse_errors:
        flags += f" <span class='b warn'>{outcome.parse_errors} without a grid</span>"
    parts = [
        f'<section class="task {_classes(view)}" id="{_anchor(outcome.label)}"><header>'
        f"<h3 class=mono>{escape(outcome.label)}</h3><span class='b st'>{escape(outcome.status)}"
        f"</span><span class=muted>{solved} of {len(outcome.solved)} test outputs · "
        f"{outcome.attempts} attempts</span>{flags}</header>"
    ]
    if view.note:
        parts.append(f"<p class=muted>{escape(view.note)}</p>")
    if view.train:
        pairs = "".join(
            "<div class=row>"
            + grid_html(pair.input, f"pair {index + 1} input", side=110)
            + grid_html(pair.output, "output", side=110)
            + "</div>"
            for index, pair in enumerate(view.train)
        )
        summary = f"<summary>Train pairs ({len(view.train)})</summary>"
        parts.append(f"<details>{summary}{pairs}</details>")
    for test in view.tests:
        row = [f"<div class=test><h4>Test {test.index + 1}</h4><div class=row>"]
        if test.input is not None:
            row.append(grid_html(test.input, "input"))
        if test.expected is not None:
            row.append(grid_html(test.expected, "expected"))
        for submitted in test.submitted:
            row.append(
                grid_html(
                    submitted.prediction,
                    f"attempt {submitted.number}",
                    expected=test.expected,
                    verdict=_verdict(submitted.correct, known=submitted.record_id is not None),
                )
            )
        row.append("</div></div>")
        parts.append("".join(row))
    expected = {test.index: test.expected for test in view.tests}
    train_outputs = [pair.output for pair in view.train]
    if view.attempts:
        what = "Programs submitted" if view.command == "codegen" else "Attempts"
        parts.append(f"<h4>{what}</h4>")
        parts.extend(_attempt_html(a, expected, train_outputs) for a in view.attempts)
    parts.append("</section>")
    return "".join(parts)


def _attempt_html(
    attempt: AttemptView, expected: dict[int, Grid | None], train_outputs: list[Grid]
) -> str:
    title = f"attempt {attempt.attempt}"
    if attempt.round:
        title += f" · round {attempt.round}"
    if attempt.test_index is not None:
        title += f" · test {attempt.test_index + 1}"
    if attempt.rule:
        title += f" · {attempt.rule}"
    model = f" <span class='b mono'>{escape(attempt.model)}</span>" if attempt.model else ""
    submitted = " <span class='b sub'>submitted</span>" if attempt.submitted else ""
    body: list[str] = []
    if attempt.error:
        body.append(f"<p class=err>Failed: {escape(attempt.error)}</p>")
    if attempt.parse_error:
        body.append(f"<p class=err>No grid taken from the reply: {escape(attempt.parse_error)}</p>")
    if attempt.answers and attempt.test_index is not None:
        body.append("<div class=row>")
        for answer in attempt.answers:
            body.append(
                grid_html(
                    answer.prediction,
                    f"test {answer.test_index + 1} predicted",
                    expected=expected.get(answer.test_index),
                    verdict=_verdict(answer.correct),
                )
            )
        body.append("</div>")
    if attempt.train_results is not None:
        right = sum(1 for r in attempt.train_results if r.status == "correct")
        body.append(f"<h4>Train results: {right} of {len(attempt.train_results)} right</h4>")
        body.append("<div class=row>")
        for index, result in enumerate(attempt.train_results):
            ok = result.status == "correct"
            tag = f"<span class='b {'ok' if ok else 'no'}'>{escape(result.status)}</span>"
            want = train_outputs[index] if index < len(train_outputs) else None
            if result.output is not None:
                wrong = differing_cells(result.output, want)
                cells = "" if wrong is None else f" <i>{len(wrong)} cells differ</i>"
                body.append(grid_html(result.output, f"pair {index + 1}", verdict=f" {tag}{cells}"))
            else:
                detail = "" if ok or not result.detail else f" {escape(result.detail[:300])}"
                body.append(
                    f"<figure><figcaption>pair {index + 1} {tag}</figcaption>"
                    f"<span class=muted>{detail}</span></figure>"
                )
        body.append("</div>")
    if attempt.code:
        body.append(f"<h4>Code</h4><pre>{escape(attempt.code)}</pre>")
    if attempt.reasoning:
        body.append(f"<h4>Reasoning</h4><div class=reasoning>{escape(attempt.reasoning)}</div>")
    if attempt.response and attempt.parse_error:
        body.append(f"<h4>The reply</h4><pre>{escape(attempt.response)}</pre>")
    return (
        f"<details class=att><summary><b>{escape(title)}</b> {_OUTCOME[attempt.outcome]}"
        f"{submitted}{model}</summary><div>{''.join(body)}</div></details>"
    )
