"""Benchmark of the web app: `python bench/bench_web.py [--requests N] [--switches N]`.

Starts a real `arcbench serve-ui` on ARC-AGI-1 training and measures
- API latency, one request at a time over a kept-alive connection, for reading a task whose
  grids are all 30x30 (3631a71a: four train pairs and a test input, 9,000 cells), reading it
  through a chain of transforms, and checking a 30x30 answer (goal: p95 under 20 ms);
- in Chromium, switching between two 30x30 tasks (3631a71a and 264363fd) from the search box,
  measured in the page with performance.now(): `render` from the task's data arriving to the
  frame after it is drawn (goal: under 50 ms), and `switch` from the request to that frame.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from timing import latencies, percentile
from webapp import CHROMIUM, CHROMIUM_ARGS, ServeProcess

API_GOAL_MS = 20.0
RENDER_GOAL_MS = 50.0
GOALS = ("read a 30x30 task", "read it through 3 transforms", "check a 30x30 answer")
TASKS = ("3631a71a", "264363fd")


def measure_api(url: str, count: int) -> list[tuple[str, list[float]]]:
    with httpx.Client(base_url=url, headers={"origin": url}) as http:
        task = http.get(f"/api/tasks/{TASKS[0]}").json()
        grid = task["test"][0]["input"]
        chain = {"transforms": "rot90+color:0213456789+reorder:3,2,1,0"}
        return [
            ("read a 30x30 task", latencies(lambda: http.get(f"/api/tasks/{TASKS[0]}"), count)),
            (
                "read it through 3 transforms",
                latencies(lambda: http.get(f"/api/tasks/{TASKS[0]}", params=chain), count),
            ),
            (
                "check a 30x30 answer",
                latencies(
                    lambda: http.post(
                        f"/api/tasks/{TASKS[0]}/check", json={"test_index": 0, "grid": grid}
                    ),
                    count,
                ),
            ),
            ("list 400 tasks", latencies(lambda: http.get("/api/tasks"), count // 3)),
        ]


def measure_page(url: str, switches: int) -> tuple[list[float], list[float]]:
    render: list[float] = []
    switch: list[float] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(f"{url}/#dataset=arc-agi-1/training&task={TASKS[1]}")
        shown = wait_ready(page, 0)
        for n in range(switches + 4):
            page.fill("#task-query", TASKS[n % 2])
            page.press("#task-query", "Enter")
            shown = wait_ready(page, shown)
            measured = page.evaluate(
                "Object.fromEntries(performance.getEntriesByType('measure')"
                ".map(m => [m.name, m.duration]))"
            )
            if n >= 4:  # the first switches warm the page's code up
                render.append(measured["task-render"])
                switch.append(measured["task-switch"])
        browser.close()
    return render, switch


def wait_ready(page: object, after: int) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        shown = int(page.evaluate("Number(document.body.dataset.ready || 0)"))  # type: ignore[attr-defined]
        if shown > after:
            return shown
        time.sleep(0.01)
    raise RuntimeError("the page drew no new task")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per API row")
    parser.add_argument("--switches", type=int, default=40, help="task switches in the page")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        ServeProcess(
            "--dataset", "arc-agi-1/training", "--data-dir", str(Path(tmp) / "data"), cwd=Path(tmp)
        ) as app,
    ):
        api = measure_api(app.url, args.requests)
        render, switch = measure_page(app.url, args.switches)

    table = Table(title="web app (arcbench serve-ui), ARC-AGI-1 training", title_justify="left")
    for column in ("what", "n", "median ms", "p95 ms", "goal", ""):
        table.add_column(column, justify="left" if column == "what" else "right")
    for name, values in api:
        p95 = percentile(values, 0.95)
        goaled = name in GOALS  # the goal is for task reads and checks; the list is loaded once
        table.add_row(
            f"API: {name}",
            str(len(values)),
            f"{statistics.median(values):.1f}",
            f"{p95:.1f}",
            f"p95 < {API_GOAL_MS:g}" if goaled else "",
            ("ok" if p95 < API_GOAL_MS else "SLOW") if goaled else "",
        )
    for name, values, goal in (
        ("page: render a 30x30 task (data to frame)", render, RENDER_GOAL_MS),
        ("page: switch to it (request to frame)", switch, None),
    ):
        median = statistics.median(values)
        table.add_row(
            name,
            str(len(values)),
            f"{median:.1f}",
            f"{percentile(values, 0.95):.1f}",
            "" if goal is None else f"< {goal:g}",
            "" if goal is None else ("ok" if median < goal else "SLOW"),
        )
    Console().print(table)


if __name__ == "__main__":
    main()
