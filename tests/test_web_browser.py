"""The web app in a real browser: Playwright driving Debian's Chromium against a real
`arcbench serve-ui` (see `browsing`): solving, the editor, navigation, transforms and variations.
Every test fails on any console error or uncaught exception in the page.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from arcbench.tasks import Task
from arcbench.transforms import apply_transforms, parse_chain
from browsing import click_cell, drag, grid_of, open_task, output, ready, sign_in
from taskdata import TASK_A
from webapp import ServeProcess

# -- solving ---------------------------------------------------------------------------------


def test_solve_a_task_wrong_then_right_watching_the_distance(
    app: ServeProcess, watched: Callable[..., Page], tmp_path: Path
) -> None:
    page = watched(open_task(app, "aaa"))
    assert page.locator("#train-pairs canvas").count() == 4
    assert grid_of(page, "#test-input") == [[3, 0], [0, 0]]
    assert output(page) == [[0, 0], [0, 0]]
    distance = page.locator("#distance-value")
    expect(distance).to_have_text("0.250 · 25.0% of cells differ")

    page.keyboard.press("5")
    click_cell(page, "#test-output", 0, 0)
    assert output(page) == [[5, 0], [0, 0]]
    expect(distance).to_have_text("0.500 · 50.0% of cells differ")
    page.click("#submit")
    expect(page.locator("#verdict")).to_have_text("✗ Not correct: 50.0% of cells differ")

    page.keyboard.press("Control+z")
    assert output(page) == [[0, 0], [0, 0]]
    expect(distance).to_have_text("0.250 · 25.0% of cells differ")
    page.keyboard.press("Control+y")
    assert output(page) == [[5, 0], [0, 0]]
    page.click("#undo")

    page.click("[data-colour='3']")
    click_cell(page, "#test-output", 0, 1)
    expect(distance).to_have_text("0.000 · 0.0% of cells differ")
    page.locator("body").press("Enter")
    expect(page.locator("#verdict")).to_have_text("✓ Correct")

    page.click("#toggle-distance")
    expect(page.locator("#distance")).to_be_hidden()
    page.click("#toggle-distance")
    expect(page.locator("#distance")).to_be_visible()

    page.click("#reveal")
    expect(page.locator("#answer canvas")).to_have_attribute("data-grid", "[[0,3],[0,0]]")
    screenshots = Path(os.environ.get("SCREENSHOT_DIR", tmp_path))
    screenshots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=screenshots / "solve-page.png")


def test_the_answer_is_not_in_the_page_until_revealed(
    app: ServeProcess, watched: Callable[..., Page]
) -> None:
    page = watched(open_task(app, "ccc"))
    html = page.content()
    assert "6,0,5" not in html
    assert page.locator("#answer canvas").count() == 0
    page.click("#next-test")
    expect(page.locator("#test-label")).to_have_text("Test 2 of 2")
    expect(page.locator("#reveal")).to_be_disabled()
    expect(page.locator("#submit")).to_be_disabled()
    expect(page.locator("#no-answer")).to_be_visible()
    expect(page.locator("#distance-value")).to_have_text("no answer known")


def test_editor_tools_select_fill_flood_copy_paste_resize(
    app: ServeProcess, watched: Callable[..., Page]
) -> None:
    page = watched(open_task(app, "aaa"))
    size = page.locator("#size")
    size.fill("3x4")
    size.press("Enter")
    assert output(page) == [[0] * 4] * 3
    for bad in ("31x2", "0x3", "3by4", "2x"):
        size.fill(bad)
        size.press("Enter")
        assert size.evaluate("e => e.validationMessage") != ""
        assert output(page) == [[0] * 4] * 3

    page.locator("#test-output").focus()  # keys typed in the size field stay there
    page.keyboard.press("s")
    drag(page, "#test-output", (0, 0), (1, 2))
    page.keyboard.press("4")  # a colour fills the selection
    assert output(page) == [[4, 4, 4, 0], [4, 4, 4, 0], [0, 0, 0, 0]]

    page.keyboard.press("Escape")
    page.keyboard.press("f")
    page.click("[data-colour='2']")
    click_cell(page, "#test-output", 2, 3)  # the 0 region around the block
    assert output(page) == [[4, 4, 4, 2], [4, 4, 4, 2], [2, 2, 2, 2]]

    page.keyboard.press("s")
    drag(page, "#test-input", (0, 0), (0, 1))  # copy [3, 0] from the input
    page.keyboard.press("c")
    drag(page, "#test-output", (2, 2), (2, 2))
    page.keyboard.press("v")
    assert output(page) == [[4, 4, 4, 2], [4, 4, 4, 2], [2, 2, 3, 0]]

    page.click("#copy-input")
    assert output(page) == [[3, 0], [0, 0]]
    page.click("#reset")
    assert output(page) == [[0, 0], [0, 0]]
    page.click("#numbers")
    expect(page.locator("#numbers")).to_have_attribute("aria-pressed", "true")
    page.click("#undo")
    page.click("#undo")
    assert output(page) == [[4, 4, 4, 2], [4, 4, 4, 2], [2, 2, 3, 0]]


def test_usable_from_the_keyboard_alone(app: ServeProcess, watched: Callable[..., Page]) -> None:
    page = watched(open_task(app, "aaa"))
    before = ready(page)
    page.keyboard.press("]")
    before = ready(page, before)
    expect(page.locator("#task-title")).to_have_text("bbb")
    page.keyboard.press("[")
    ready(page, before)
    expect(page.locator("#task-title")).to_have_text("aaa")
    page.locator("#test-output").focus()
    page.keyboard.press("3")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Space")
    assert output(page) == [[0, 3], [0, 0]]
    page.keyboard.press("Enter")
    expect(page.locator("#verdict")).to_have_text("✓ Correct")


def test_task_navigation_search_numbers_and_datasets(
    app: ServeProcess, watched: Callable[..., Page]
) -> None:
    page = watched(open_task(app, "aaa"))
    position = page.locator("#task-position")
    expect(position).to_have_text("1 / 3")
    view = ready(page)
    page.click("#next-task")
    view = ready(page, view)
    expect(position).to_have_text("2 / 3")
    page.click("#prev-task")
    view = ready(page, view)
    page.click("#prev-task")  # wraps around
    view = ready(page, view)
    expect(page.locator("#task-title")).to_have_text("ccc")
    page.fill("#task-query", "#2")
    page.press("#task-query", "Enter")
    view = ready(page, view)
    expect(page.locator("#task-title")).to_have_text("bbb")
    page.fill("#task-query", "cc")
    expect(page.locator("#task-list")).to_be_visible()
    expect(page.locator("#task-list-items li")).to_have_count(1)
    page.press("#task-query", "Enter")
    view = ready(page, view)
    expect(page.locator("#task-title")).to_have_text("ccc")
    page.click("#random-task")
    view = ready(page, view)
    expect(page.locator("#task-title")).not_to_have_text("ccc")

    shown = page.locator("#task-title").inner_text()
    other = "bbb" if shown == "aaa" else "aaa"
    page.evaluate(f"location.hash = location.hash.replace(/task=[^&]*/, 'task={other}')")
    view = ready(page, view)  # the address changed, the page followed without a reload
    expect(page.locator("#task-title")).to_have_text(other)
    page.go_back()
    view = ready(page, view)
    expect(page.locator("#task-title")).to_have_text(shown)

    page.select_option("#dataset", "arc-agi-1/training")
    view = ready(page, view)
    expect(position).to_have_text("1 / 400")
    page.fill("#task-query", "3631a71a")
    page.press("#task-query", "Enter")
    view = ready(page, view)
    expect(page.locator("#task-title")).to_have_text("3631a71a")
    assert "dataset=arc-agi-1%2Ftraining" in page.url
    assert "task=3631a71a" in page.url


@pytest.mark.parametrize(("width", "height"), [(1440, 900), (1280, 800)])
def test_a_30x30_task_fits_the_screen(
    app: ServeProcess, watched: Callable[..., Page], width: int, height: int
) -> None:
    page = watched(
        f"{app.url}/#dataset=arc-agi-1/training&task=3631a71a", width=width, height=height
    )
    for selector in ("#test-input", "#test-output"):
        box = page.locator(selector).bounding_box()
        assert box is not None
        assert box["width"] >= 30 * 6
        assert box["x"] + box["width"] <= width
        assert box["y"] + box["height"] <= height
    assert page.locator("#submit").bounding_box()["y"] < height  # type: ignore[index]


# -- transforms and variations ---------------------------------------------------------------


def test_transform_save_a_variation_and_see_it_live_in_a_second_browser(
    app: ServeProcess, watched: Callable[..., Page]
) -> None:
    ada = watched(open_task(app, "aaa"))
    bob = watched(open_task(app, "aaa"))
    expect(bob.locator("#versions li")).to_have_count(1)

    view = ready(ada)
    ada.click("[data-transform='rot90']")
    view = ready(ada, view)
    expect(ada.locator("#task-chain")).to_have_text("after rot90")
    original = Task.model_validate({"id": "aaa", **TASK_A})
    rotated = apply_transforms(original, parse_chain("rot90"))
    assert grid_of(ada, "#train-pairs figure:nth-child(1) canvas >> nth=0") == (
        rotated.train[0].input
    )
    assert grid_of(ada, "#test-input") == rotated.test[0].input

    for source, target in ((1, 2), (2, 1)):
        ada.select_option(f"#color-map select[data-from='{source}']", str(target))
    ada.click("#color-apply")
    view = ready(ada, view)
    chain = "rot90+color:0213456789"
    expected = apply_transforms(original, parse_chain(chain))
    assert grid_of(ada, "#train-pairs figure:nth-child(1) canvas >> nth=0") == (
        expected.train[0].input
    )
    expect(ada.locator("#chain li")).to_have_text(["rot90", "color:0213456789"])

    ada.click("#color-keep0")
    view = ready(ada, view)
    third = ada.locator("#chain li").nth(2).inner_text()
    assert re.fullmatch(r"color:0\d{9}", third)
    ada.click("#chain-undo")
    view = ready(ada, view)

    ada.click("#save-variation")  # not signed in yet: asks for a name, then saves
    expect(ada.locator("#sign-in-dialog")).to_be_visible()
    ada.fill("#sign-in-name", "ada")
    ada.click("#sign-in-form button[type=submit]")
    expect(ada.locator("#toast")).to_have_text("Saved as version 1.")
    expect(ada.locator("#user-name")).to_have_text("ada")
    ready(ada, view)
    expect(ada.locator("#task-title")).to_have_text("aaa · version 1")
    expect(ada.locator("#chain li")).to_have_text(["none: the task as stored"])
    assert grid_of(ada, "#test-input") == expected.test[0].input

    versions = bob.locator("#versions li")
    expect(versions).to_have_count(2, timeout=5000)  # no reload: the event stream told it
    expect(versions.nth(1)).to_contain_text("Version 1")
    expect(versions.nth(1)).to_contain_text(f"original → {chain.replace('+', ' + ')}")
    expect(versions.nth(1)).to_contain_text("by ada")
    expect(versions.nth(1).locator(".version-delete")).to_have_count(0)  # not bob's

    delete = ada.locator("#versions li").nth(1).locator(".version-delete")
    delete.click()
    expect(delete).to_have_text("Really delete?")
    delete.click()
    expect(ada.locator("#toast")).to_have_text("Deleted version 1.")
    expect(versions).to_have_count(1, timeout=5000)


def test_train_order_and_swap_apply_through_the_panel(
    app: ServeProcess, watched: Callable[..., Page]
) -> None:
    page = watched(open_task(app, "ccc"))
    view = ready(page)
    expect(page.locator("#train-order")).to_have_value("1,2,3")
    page.fill("#train-order", "3,1,2")
    page.click("#order-form button[type=submit]")
    view = ready(page, view)
    expect(page.locator("#chain li")).to_have_text(["reorder:2,0,1"])
    page.fill("#train-order", "1,1,2")
    page.click("#order-form button[type=submit]")
    expect(page.locator("#toast")).to_contain_text("Give an order of all 3 train pairs")
    expect(page.locator("#swap-test option[value='1']")).to_be_disabled()
    page.select_option("#swap-train", index=1)
    page.click("#swap-button")
    view = ready(page, view)
    expect(page.locator("#chain li")).to_have_text(["reorder:2,0,1", "swap:1,0"])
    assert grid_of(page, "#test-input") == [[1, 2, 0]]


def test_names_with_markup_show_as_text(app: ServeProcess, watched: Callable[..., Page]) -> None:
    name = "<img src=x onerror=alert(1)>"
    page = watched(open_task(app, "aaa"))
    sign_in(page, name)
    view = ready(page)
    page.click("[data-transform='flip_v']")
    view = ready(page, view)
    page.click("#save-variation")
    ready(page, view)
    expect(page.locator("#versions li").nth(1)).to_contain_text(f"by {name}")
    assert page.locator("#versions img, #user-name img").count() == 0
    other = watched(open_task(app, "aaa"))
    expect(other.locator("#versions li").nth(1)).to_contain_text(name)
    assert other.locator("img[src='x']").count() == 0
