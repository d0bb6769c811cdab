"""The annotate panel in a real browser (see `browsing`): adding, editing, voting on and deleting
traces, each change seen live in a second browser without a reload, and markup shown as text.
Every test fails on any console error or uncaught exception in the page."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from playwright.sync_api import Browser, Page, expect

from browsing import Watched, open_task, ready, sign_in
from webapp import ServeProcess

LIVE_MS = 2000
"""Changes reach every other open browser within two seconds (the promise under test)."""

MARKUP = "<img src=x onerror=\"document.title='pwned';console.error('ran')\"><b>bold?</b>"


def traces_tab(page: Page) -> None:
    page.click("#tab-traces")
    expect(page.locator("#pane-traces")).to_be_visible()


def test_add_edit_vote_and_delete_a_trace_seen_live_in_a_second_browser(
    app: ServeProcess, watched: Callable[..., Page]
) -> None:
    ada = watched(open_task(app, "aaa"))
    bob = watched(open_task(app, "aaa"))
    for page in (ada, bob):
        traces_tab(page)
        expect(page.locator("#traces-empty")).to_be_visible()
    sign_in(bob, "bob")

    ada.fill("#trace-text", "Paint the top-right cell green.")
    ada.click("#trace-add")  # not signed in yet: asks for a name, then adds
    ada.fill("#sign-in-name", "ada")
    ada.click("#sign-in-form button[type=submit]")
    expect(ada.locator("#toast")).to_have_text("Trace added.")
    expect(ada.locator("#trace-text")).to_have_value("")
    mine = ada.locator("#traces li")
    expect(mine).to_have_count(1)
    expect(mine.locator(".author")).to_have_text("ada")
    expect(mine.locator(".trace-text")).to_have_text("Paint the top-right cell green.")
    expect(ada.locator("#traces-count")).to_have_text("1")

    seen = bob.locator("#traces li")
    expect(seen).to_have_count(1, timeout=LIVE_MS)
    expect(seen.locator(".trace-text")).to_have_text("Paint the top-right cell green.")
    expect(seen.get_by_role("button", name="Edit")).to_have_count(0)  # not bob's
    expect(seen.get_by_role("button", name="Delete")).to_have_count(0)

    seen.get_by_role("button", name="Vote up").click()
    expect(seen.locator(".score")).to_have_text("1")
    expect(seen.locator(".vote.up")).to_have_attribute("aria-pressed", "true")
    expect(mine.locator(".score")).to_have_text("1", timeout=LIVE_MS)
    expect(mine.locator(".vote.up")).to_have_attribute("aria-pressed", "false")
    seen.get_by_role("button", name="Withdraw your up vote").click()
    expect(seen.locator(".score")).to_have_text("0")
    expect(mine.locator(".score")).to_have_text("0", timeout=LIVE_MS)
    seen.get_by_role("button", name="Vote down").click()
    expect(mine.locator(".score")).to_have_text("-1", timeout=LIVE_MS)

    mine.get_by_role("button", name="Edit").click()
    editor = mine.locator("textarea")
    expect(editor).to_have_value("Paint the top-right cell green.")
    editor.fill("Paint the top-right cell green (colour 3).")
    mine.get_by_role("button", name="Save").click()
    expect(ada.locator("#toast")).to_have_text("Trace saved.")
    expect(mine.locator(".edited")).to_have_text("edited")
    expect(seen.locator(".trace-text")).to_have_text(
        "Paint the top-right cell green (colour 3).", timeout=LIVE_MS
    )

    delete = mine.get_by_role("button", name="Delete")
    delete.click()
    expect(delete).to_have_text("Really delete?")
    delete.click()
    expect(ada.locator("#toast")).to_have_text("Trace deleted.")
    expect(mine).to_have_count(0)
    expect(seen).to_have_count(0, timeout=LIVE_MS)
    expect(bob.locator("#traces-empty")).to_be_visible()


def test_an_edit_in_progress_survives_a_change_made_elsewhere(
    app: ServeProcess, watched: Callable[..., Page]
) -> None:
    ada = watched(open_task(app, "aaa"))
    traces_tab(ada)
    sign_in(ada, "ada")
    ada.fill("#trace-text", "first")
    ada.click("#trace-add")
    expect(ada.locator("#traces li")).to_have_count(1)
    ada.locator("#traces li").get_by_role("button", name="Edit").click()
    ada.locator("#traces li textarea").fill("a draft in progress")
    with httpx.Client(base_url=app.url, headers={"origin": app.url}) as bob:
        bob.post("/api/session", json={"name": "bob"})
        bob.post("/api/traces/aaa", json={"text": "bob's, meanwhile"}).raise_for_status()
    expect(ada.locator("#traces li")).to_have_count(2, timeout=LIVE_MS)
    expect(ada.locator("#traces li textarea")).to_have_value("a draft in progress")


def test_a_trace_with_markup_runs_nothing_and_shows_the_markup(
    app: ServeProcess, watched: Callable[..., Page]
) -> None:
    with httpx.Client(base_url=app.url, headers={"origin": app.url}) as eve:
        eve.post("/api/session", json={"name": "<script>eve</script>"})
        eve.post("/api/traces/aaa", json={"text": MARKUP}).raise_for_status()
    page = watched(open_task(app, "aaa"))
    traces_tab(page)
    trace = page.locator("#traces li")
    expect(trace).to_have_count(1)
    expect(trace.locator(".trace-text")).to_have_text(MARKUP)
    expect(trace.locator(".author")).to_have_text("<script>eve</script>")
    assert page.locator("#traces img, #traces b, #traces script").count() == 0
    assert page.title() != "pwned"


def test_eight_tabs_of_one_browser_all_load_and_all_see_a_change(
    app: ServeProcess, browser: Browser
) -> None:
    """A browser opens at most six connections to one server, and a live stream holds one for
    good: the tabs of one browser share one stream, so the seventh tab loads too."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        tabs = [Watched(context) for _ in range(8)]
        for tab in tabs:
            tab.page.goto(open_task(app, "aaa"))
            ready(tab.page)
            traces_tab(tab.page)
        sign_in(tabs[0].page, "ada")
        tabs[0].page.fill("#trace-text", "Seen in every tab.")
        tabs[0].page.click("#trace-add")
        for tab in tabs:
            expect(tab.page.locator("#traces li .trace-text")).to_have_text(
                "Seen in every tab.", timeout=LIVE_MS
            )
        tabs[3].page.close()  # a tab that goes away stops nobody else's updates
        with httpx.Client(base_url=app.url, headers={"origin": app.url}) as bob:
            bob.post("/api/session", json={"name": "bob"})
            bob.post("/api/traces/aaa", json={"text": "bob's"}).raise_for_status()
        for tab in (tabs[0], tabs[7]):
            expect(tab.page.locator("#traces li")).to_have_count(2, timeout=LIVE_MS)
        assert [error for tab in tabs for error in tab.errors] == []
    finally:
        context.close()
