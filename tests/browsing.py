"""Playwright driving Debian's Chromium against a real `arcbench serve-ui`, for the browser
tests: the browser, pages whose console errors fail the test, and small helpers.

Without /usr/bin/chromium the tests skip, unless ARCBENCH_REQUIRE_BROWSER=1 (as `.ci/run` sets).
The page keeps Content-Security-Policy without 'unsafe-eval', so the tests wait on selectors and
read state with `evaluate` (which the policy allows), never with `wait_for_function`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

    from webapp import ServeProcess

Grid = list[list[int]]


REQUIRED = os.environ.get("ARCBENCH_REQUIRE_BROWSER") == "1"
"""Read at import: the tests' own fixtures remove every ARCBENCH_* variable."""

# `conftest` imports the fixtures below, so any test module may ask for them; playwright is
# imported only when a browser test runs.


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium; the tests skip where it is missing, unless ARCBENCH_REQUIRE_BROWSER=1
    (as `.ci/run` sets), so that CI can never pass them by skipping."""
    from webapp import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).is_file():
        if REQUIRED:
            pytest.fail(f"ARCBENCH_REQUIRE_BROWSER=1 but {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[ServeProcess]:
    """`arcbench serve-ui` on the test tasks, its runs directory `tmp_path / "runs"`."""
    from webapp import ServeProcess, write_tasks

    tasks = write_tasks(tmp_path / "tasks")
    runs = tmp_path / "runs"
    runs.mkdir(exist_ok=True)
    with ServeProcess("--dataset", str(tasks), "--runs", str(runs), cwd=tmp_path) as running:
        running.dataset = str(tasks)  # type: ignore[attr-defined]
        yield running


class Watched:
    """A page whose console errors and uncaught exceptions are collected."""

    def __init__(self, context: BrowserContext) -> None:
        self.page = context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: self.errors.append(f"dialog opened: {d.message}"))


@pytest.fixture
def watched(browser: Browser) -> Iterator[Callable[..., Page]]:
    """Opens pages (each in its own browser context: separate cookies, like two people) and
    checks, after the test, that none logged an error."""
    opened: list[tuple[BrowserContext, Watched]] = []

    def open_page(url: str, width: int = 1440, height: int = 900) -> Page:
        context = browser.new_context(viewport={"width": width, "height": height})
        page = Watched(context)
        opened.append((context, page))
        page.page.goto(url)
        ready(page.page)
        return page.page

    yield open_page
    errors = [error for _, page in opened for error in page.errors]
    for context, _ in opened:
        context.close()
    assert errors == []


def ready(page: Page, after: int = 0) -> int:
    """Wait until the page has drawn a task view newer than `after`; the view's number."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        shown = page.evaluate("Number(document.body.dataset.ready || 0)")
        if shown > after:
            return int(shown)
        page.wait_for_timeout(25)
    raise AssertionError("the page drew no new task view")


def eventually(read: Callable[[], Any], expected: Any, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while (value := read()) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert value == expected


def grid_of(page: Page, selector: str) -> Grid:
    return json.loads(page.locator(selector).get_attribute("data-grid") or "null")


def output(page: Page) -> Grid:
    return grid_of(page, "#test-output")


def click_cell(page: Page, selector: str, row: int, col: int) -> None:
    canvas = page.locator(selector)
    cell = float(canvas.get_attribute("data-cell") or 0)
    canvas.click(position={"x": 1 + col * cell + cell / 2, "y": 1 + row * cell + cell / 2})


def drag(page: Page, selector: str, start: tuple[int, int], end: tuple[int, int]) -> None:
    canvas = page.locator(selector)
    box = canvas.bounding_box()
    assert box is not None
    cell = float(canvas.get_attribute("data-cell") or 0)

    def at(rc: tuple[int, int]) -> tuple[float, float]:
        return box["x"] + 1 + rc[1] * cell + cell / 2, box["y"] + 1 + rc[0] * cell + cell / 2

    page.mouse.move(*at(start))
    page.mouse.down()
    page.mouse.move(*at(end), steps=4)
    page.mouse.up()


def open_task(app: ServeProcess, task: str, **more: str) -> str:
    fragment = "&".join(f"{k}={v}" for k, v in {"task": task, **more}.items())
    return f"{app.url}/#dataset={app.dataset}&{fragment}"  # type: ignore[attr-defined]


def sign_in(page: Page, name: str) -> None:
    from playwright.sync_api import expect

    page.click("#sign-in")
    page.fill("#sign-in-name", name)
    page.click("#sign-in-form button[type=submit]")
    expect(page.locator("#user-name")).to_have_text(name)
