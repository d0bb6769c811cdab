"""The runs page, the model attempts beside the editor and the HTML report in a real browser
(see `browsing`). Every test fails on any console error or uncaught exception in the page."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from playwright.sync_api import Browser, Page, expect

from browsing import click_cell, grid_of, output, ready
from conftest import run_cli
from rundata import record
from taskdata import TASK_A
from webapp import ServeProcess

MAIN_RUNS = Path(__file__).parent / "data" / "main-runs"
LIVE_MS = 2000


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServeProcess]:
    """serve-ui over runs traces-main and codegen-main, offering their dataset small.json. The
    codegen run's model is renamed `other-model`, so that the two runs' models differ."""
    shutil.copy(MAIN_RUNS / "small.json", tmp_path / "small.json")
    for name in ("traces-main", "codegen-main"):
        shutil.copytree(MAIN_RUNS / name, tmp_path / "runs" / name)
    for file in ("run.json", "results.jsonl"):
        path = tmp_path / "runs" / "codegen-main" / file
        path.write_bytes(path.read_bytes().replace(b'"fake-model"', b'"other-model"'))
    with ServeProcess("--dataset", "small.json", "--runs", "runs", cwd=tmp_path) as running:
        yield running


def runs_page(served: ServeProcess, fragment: str = "") -> str:
    return f"{served.url}/runs.html" + (f"#{fragment}" if fragment else "")


def test_open_a_run_a_task_an_attempt_and_its_grids(
    served: ServeProcess, watched: Callable[..., Page], tmp_path: Path
) -> None:
    page = watched(runs_page(served))
    cards = page.locator(".run-card")
    expect(cards).to_have_count(2)
    expect(cards.nth(0)).to_contain_text("codegen-main")
    expect(cards.nth(0)).to_contain_text("completed")
    expect(page.locator("#run-title")).to_have_text("codegen-main")
    view = ready(page)
    cards.nth(1).click()
    view = ready(page, view)
    expect(page.locator("#run-title")).to_have_text("traces-main")
    expect(page.locator("#run-stats")).to_contain_text("Errors")
    rows = page.locator(".task-row")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("solved")
    expect(rows.nth(1)).to_contain_text("partly solved")

    page.click("[data-filter='parse']")
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_contain_text("bbb")
    page.click("[data-filter='all']")

    cards.nth(0).click()
    view = ready(page, view)
    page.locator(".task-row", has_text="aaa").click()
    view = ready(page, view)
    detail = page.locator("#task-detail")
    expect(detail.locator("h3")).to_have_text("aaa")
    test = detail.locator(".test-view")
    figures = test.locator("figure")
    expect(figures).to_have_count(4)  # input, expected, attempt 1, attempt 2
    assert grid_of(page, "#task-detail .test-view figure:nth-child(1) canvas") == [[3, 0], [0, 0]]
    assert grid_of(page, "#task-detail .test-view figure:nth-child(2) canvas") == [[0, 3], [0, 0]]
    assert grid_of(page, "#task-detail .test-view figure:nth-child(3) canvas") == [[0, 3], [0, 0]]
    expect(figures.nth(2)).to_contain_text("right")

    attempts = detail.locator("details.attempt")
    expect(attempts).to_have_count(4)
    first = attempts.nth(0)
    first.locator("summary").click()
    expect(first.locator("pre.code")).to_contain_text("def transform(grid):")
    expect(first.locator(".train-results li")).to_have_count(2)
    expect(first).to_contain_text("pair 1: wrong")
    wrong_output = first.locator(".train-results li").nth(0).locator("canvas").nth(0)
    assert json.loads(wrong_output.get_attribute("data-grid") or "null") is not None
    expect(first.locator(".diff-note").first).to_contain_text("differ")
    assert "attempt=" in page.url

    page.reload()  # the fragment names the run, the task and the open attempt
    ready(page)
    expect(page.locator("#task-detail h3")).to_have_text("aaa")
    expect(page.locator("details.attempt[open]")).to_have_count(1)
    expect(page.locator("details.attempt[open] pre.code")).to_be_visible()
    page.screenshot(path=tmp_path / "runs-page.png")


def test_merge_a_run_from_the_page_and_see_its_traces(
    served: ServeProcess, watched: Callable[..., Page]
) -> None:
    page = watched(runs_page(served, "run=traces-main"))
    expect(page.locator("#run-title")).to_have_text("traces-main")
    page.click("#merge-run")
    expect(page.locator("#sign-in-dialog")).to_be_visible()
    page.fill("#sign-in-name", "ada")
    page.click("#sign-in-form button[type=submit]")
    result = page.locator("#merge-result")
    expect(result).to_have_text(
        "Added 2 traces to the store for 2 tasks; 1 failed attempts skipped; "
        "3 without reasoning skipped."
    )
    page.click("#merge-run")
    expect(result).to_have_text(
        "Added 0 traces to the store; 2 already there; 1 failed attempts skipped; "
        "3 without reasoning skipped."
    )
    solver = watched(f"{served.url}/#dataset=small.json&task=aaa")
    solver.click("#tab-traces")
    trace = solver.locator("#traces li")
    expect(trace).to_have_count(1)
    expect(trace.locator(".author")).to_have_text("fake-model")
    expect(trace.locator(".trace-source a")).to_have_text("from run traces-main")
    expect(trace.locator(".verdict-tag")).to_have_text("right")


def test_a_running_runs_status_and_results_update_live(
    served: ServeProcess, watched: Callable[..., Page], tmp_path: Path
) -> None:
    run = tmp_path / "runs" / "traces-main"  # the served runs directory
    manifest = orjson.loads((run / "run.json").read_bytes())
    (run / "run.json").write_bytes(orjson.dumps({**manifest, "status": "running"}))
    page = watched(runs_page(served, "run=traces-main&task=aaa"))
    expect(page.locator("#run-status")).to_have_text("running")
    attempts = page.locator(".stat", has_text="Attempts").locator("dd")
    expect(attempts).to_have_text("6")
    expect(page.locator("#task-detail details.attempt")).to_have_count(2)
    more = record(manifest["run_id"], "aaa", attempt=3, correct=True)
    with (run / "results.jsonl").open("ab") as handle:
        handle.write(orjson.dumps(more) + b"\n")
    expect(attempts).to_have_text("7", timeout=LIVE_MS)
    expect(page.locator("#task-detail details.attempt")).to_have_count(3, timeout=LIVE_MS)
    (run / "run.json").write_bytes(orjson.dumps({**manifest, "status": "completed"}))
    expect(page.locator("#run-status")).to_have_text("completed", timeout=LIVE_MS)


def test_model_attempts_stay_folded_until_solved_then_copy_into_the_editor(
    served: ServeProcess, watched: Callable[..., Page]
) -> None:
    page = watched(f"{served.url}/#dataset=small.json&task=aaa")
    page.click("#tab-attempts")
    expect(page.locator("#attempts-count")).to_have_text("6")
    expect(page.locator("#attempts-fold")).to_be_visible()
    expect(page.locator("#attempts li")).to_have_count(0)
    assert "0,3" not in page.locator("#pane-attempts").inner_html()

    page.keyboard.press("3")  # solve it: the answer is [[0, 3], [0, 0]]
    click_cell(page, "#test-output", 0, 1)
    page.click("#submit")
    expect(page.locator("#verdict")).to_have_text("✓ Correct")
    expect(page.locator("#attempts-fold")).to_be_hidden()
    cards = page.locator("#attempts li")
    expect(cards).to_have_count(6)

    page.select_option("#attempts-outcome", "correct")
    expect(cards).to_have_count(2)
    page.select_option("#attempts-model", "fake-model")
    expect(cards).to_have_count(1)
    page.select_option("#attempts-outcome", "")
    page.select_option("#attempts-model", "")
    expect(cards).to_have_count(6)

    page.click("#reset")
    assert output(page) == [[0, 0], [0, 0]]
    right = cards.filter(has_text="traces-main · attempt 2")
    right.locator("button.copy").click()
    assert output(page) == TASK_A["test"][0]["output"]
    expect(page.locator("#toast")).to_contain_text("Copied")

    program = cards.filter(has_text="codegen-main · attempt 1 · round 1")
    program.locator("details summary").click()
    expect(program.locator("pre.code")).to_contain_text("def transform(grid):")

    view = ready(page)
    page.click("#tab-versions")
    page.click("[data-transform='flip_h']")
    ready(page, view)
    page.click("#tab-attempts")
    expect(page.locator("#attempts-fold")).to_be_visible()  # a new view: solved nothing yet
    page.click("#attempts-reveal")
    flipped = cards.filter(has_text="traces-main · attempt 2").locator("canvas")
    expect(flipped).to_have_attribute("data-grid", "[[3,0],[0,0]]")  # as the view shows it


def test_model_attempts_open_after_revealing_the_answer(
    served: ServeProcess, watched: Callable[..., Page]
) -> None:
    page = watched(f"{served.url}/#dataset=small.json&task=bbb")
    page.click("#tab-attempts")
    expect(page.locator("#attempts-fold")).to_be_visible()
    page.click("#attempts-reveal")
    expect(page.locator("#answer canvas")).to_be_visible()
    expect(page.locator("#attempts li")).to_have_count(2)  # traces-main's two at test 1
    page.click("#next-test")
    expect(page.locator("#test-label")).to_have_text("Test 2 of 2")
    expect(page.locator("#attempts-fold")).to_be_hidden()  # no answer known: nothing to hide
    expect(page.locator("#attempts li")).to_have_count(2)


# -- the HTML report ---------------------------------------------------------------------------


def test_the_html_report_shows_every_task_and_filters_them(
    browser: Browser, tmp_path: Path
) -> None:
    shutil.copy(MAIN_RUNS / "small.json", tmp_path / "small.json")
    shutil.copytree(MAIN_RUNS / "traces-main", tmp_path / "runs" / "traces-main")
    html = tmp_path / "report.html"
    result = run_cli("report", str(tmp_path / "runs" / "traces-main"), "--html", str(html))
    assert result.returncode == 0, result.stderr
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(html.as_uri())
    sections = page.locator("section.task")
    expect(sections).to_have_count(2)
    for label in ("aaa", "bbb"):
        expect(page.locator(f"section#t-{label}")).to_be_visible()
        expect(page.locator(f"nav.index a[href='#t-{label}']")).to_be_visible()
    grids = page.locator("section#t-aaa .test b.g")
    expect(grids).to_have_count(3)  # input, expected, attempt 2 (attempt 1 failed: no grid)
    expect(page.locator("section#t-aaa .test .none")).to_have_text("no grid")
    assert all(grids.nth(i).bounding_box()["width"] > 10 for i in range(3))  # type: ignore[index]
    page.click("label[for=f-parse]")
    expect(page.locator("section#t-aaa")).to_be_hidden()
    expect(page.locator("section#t-bbb")).to_be_visible()
    page.click("label[for=f-solved]")
    expect(page.locator("section#t-aaa")).to_be_visible()
    expect(page.locator("section#t-bbb")).to_be_hidden()
    page.click("label[for=f-all]")
    section = page.locator("section#t-bbb")
    section.locator("details.att summary").first.click()
    expect(section.locator(".reasoning").first).to_be_visible()
    context.close()
    assert errors == []
    assert all(url.startswith(("file:", "data:")) for url in requests), requests


# -- what a model wrote is shown as text -------------------------------------------------------

HOSTILE = (
    "<img src=x onerror=\"window.pwned=1;console.error('ran')\"><script>window.pwned=1</script>"
)
"""Markup a model (or whoever wrote a run directory) might put in any text field of a run."""


def _hostile_run(runs: Path) -> None:
    """traces-main with every text a model or its server wrote replaced by markup."""
    shutil.copytree(MAIN_RUNS / "traces-main", runs / "hostile")
    manifest = orjson.loads((runs / "hostile" / "run.json").read_bytes())
    manifest["model"]["model_id"] = HOSTILE
    (runs / "hostile" / "run.json").write_bytes(orjson.dumps(manifest))
    lines = []
    for line in (runs / "hostile" / "results.jsonl").read_bytes().splitlines():
        answer = orjson.loads(line)
        answer["model"] = HOSTILE
        answer["reasoning"] = f"{HOSTILE} reasoning"
        answer["response"] = f"{HOSTILE} reply"
        if answer["parse_error"] is not None:
            answer["parse_error"] = f"{HOSTILE} parse"
        if answer["error"] is not None:
            answer["error"] = f"{HOSTILE} error"
        lines.append(orjson.dumps(answer))
    (runs / "hostile" / "results.jsonl").write_bytes(b"\n".join(lines) + b"\n")


def _ran_nothing(page: Page, root: str) -> None:
    assert page.evaluate("window.pwned") is None
    assert page.locator(f"{root} img[src=x], {root} script").count() == 0


def test_markup_a_model_wrote_runs_nothing_anywhere_it_is_shown(
    tmp_path: Path, watched: Callable[..., Page]
) -> None:
    shutil.copy(MAIN_RUNS / "small.json", tmp_path / "small.json")
    _hostile_run(tmp_path / "runs")
    with ServeProcess("--dataset", "small.json", "--runs", "runs", cwd=tmp_path) as served:
        page = watched(runs_page(served, "run=hostile&task=bbb"))
        expect(page.locator(".run-card")).to_contain_text(HOSTILE)
        attempts = page.locator("#task-detail details.attempt")
        expect(attempts).to_have_count(4)
        for index in range(4):
            attempts.nth(index).locator("summary").click()
        expect(page.locator("#task-detail")).to_contain_text(f"{HOSTILE} reasoning")
        expect(page.locator("#task-detail")).to_contain_text(f"{HOSTILE} parse")
        _ran_nothing(page, "body")
        page.locator(".task-row", has_text="aaa").click()
        expect(page.locator("#task-detail h3")).to_have_text("aaa")
        page.locator("#task-detail details.attempt summary").first.click()
        expect(page.locator("#task-detail")).to_contain_text(f"{HOSTILE} error")
        _ran_nothing(page, "body")

        page.click("#merge-run")
        page.fill("#sign-in-name", "ada")
        page.click("#sign-in-form button[type=submit]")
        expect(page.locator("#merge-result")).to_contain_text("Added 5 traces")

        solver = watched(f"{served.url}/#dataset=small.json&task=bbb")
        solver.click("#tab-traces")
        traces = solver.locator("#traces li")
        expect(traces).to_have_count(4)
        expect(traces.first.locator(".author")).to_have_text(HOSTILE)
        expect(traces.first.locator(".trace-text")).to_contain_text(HOSTILE)
        solver.click("#tab-attempts")
        solver.click("#attempts-reveal")
        cards = solver.locator("#attempts li")
        expect(cards).to_have_count(2)
        for index in range(2):
            cards.nth(index).locator("details summary").click()
        expect(solver.locator("#pane-attempts")).to_contain_text(f"{HOSTILE} reasoning")
        expect(solver.locator("#attempts-model option", has_text=HOSTILE)).to_have_count(1)
        _ran_nothing(solver, "body")
