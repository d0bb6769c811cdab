"""The arcbench web app on a free loopback port, for tests.

`AppServer` runs the app `arcbench serve-ui` serves (`create_app`) under real uvicorn in a
background thread, so API tests speak real HTTP to it. `ServeProcess` runs the real command in a
subprocess (what the browser tests and the command's own tests use) and reads the address it
prints.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from arcbench.store import DATABASE_FILE
from arcbench.web.app import AppConfig, create_app
from arcbench.web.server import bind
from arcbench.web.static import static_dir
from conftest import cli_env
from taskdata import TASK_A, TASK_B, write_json

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
"""Debian's Chromium, as Playwright drives it here (never a downloaded browser)."""

TASK_C: dict[str, Any] = {
    "train": [
        {"input": [[1, 2, 0]], "output": [[0, 2, 1]]},
        {"input": [[3, 0, 0]], "output": [[0, 0, 3]]},
        {"input": [[4, 4, 0]], "output": [[0, 4, 4]]},
    ],
    "test": [{"input": [[5, 0, 6]], "output": [[6, 0, 5]]}, {"input": [[7, 8, 0]]}],
}
"""Reverse each row: three train pairs (for reordering) and a test input without an answer."""


def write_tasks(directory: Path) -> Path:
    """A dataset directory with tasks `aaa` (A), `bbb` (B) and `ccc` (C)."""
    for name, task in (("aaa", TASK_A), ("bbb", TASK_B), ("ccc", TASK_C)):
        write_json(directory / f"{name}.json", task)
    return directory


def app_config(tmp_path: Path, **changes: Any) -> AppConfig:
    """A config over `write_tasks(tmp_path / 'tasks')`, with its data directory in `tmp_path`."""
    tasks = write_tasks(tmp_path / "tasks")
    fields: dict[str, Any] = {
        "default_dataset": str(tasks),
        "extra_datasets": (str(tasks),),
        "data_dir": tmp_path / "data",
        "store": tmp_path / "data" / DATABASE_FILE,
        "runs_dir": tmp_path / "runs",
        "static_dir": static_dir(),
        "session_key": b"test-session-key-0123456789",
    }
    fields.update(changes)
    return AppConfig(**fields)


class AppServer:
    """`create_app(config)` served by uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, config: AppConfig) -> None:
        self.config = config
        self.app: FastAPI = create_app(config)
        self._socket = bind("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._server = uvicorn.Server(
            uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        )
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def __enter__(self) -> AppServer:
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the web app did not start")
            threading.Event().wait(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.app.state.feed.stopping = True
        self._server.should_exit = True
        self._thread.join(15)
        self._socket.close()

    def client(self, **kwargs: Any) -> httpx.Client:
        """A client that acts like the app's own page: same origin on every request."""
        headers = {"origin": self.url, **kwargs.pop("headers", {})}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)


@contextmanager
def signed_in(
    server: AppServer, name: str, admin_token: str | None = None
) -> Iterator[httpx.Client]:
    """A client of the app's own page with a session as `name` (an admin with the admin token)."""
    with server.client() as http:
        body = {"name": name} if admin_token is None else {"name": name, "admin_token": admin_token}
        assert http.post("/api/session", json=body).status_code == 200
        yield http


class EventListener:
    """Listens to `GET /api/events` in a thread and notes when each `topic` event arrives.

    The stream sends every topic's counter once on connecting; `wait_first` waits for that,
    `wait_second` for the next one: the change being tested.
    """

    def __init__(self, url: str, topic: str) -> None:
        self.url = url
        self.topic = topic
        self.times: list[float] = []
        self._first = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        with (
            httpx.Client(base_url=self.url, timeout=60) as http,  # a slow change, under load
            http.stream("GET", "/api/events") as stream,
        ):
            for line in stream.iter_lines():
                if line == f"event: {self.topic}":
                    self.times.append(time.monotonic())
                    self._first.set()
                    if len(self.times) == 2:
                        return

    def wait_first(self) -> None:
        assert self._first.wait(10), f"no first {self.topic} event"

    def wait_second(self) -> float:
        """When the second event arrived (monotonic seconds)."""
        self._thread.join(10)
        assert len(self.times) == 2, f"no {self.topic} event after the change"
        return self.times[1]


class ServeProcess:
    """`arcbench serve-ui --port 0 --no-open ARGS…` in a subprocess; `url` is what it printed."""

    def __init__(
        self,
        *args: str,
        cwd: Path,
        env: dict[str, str] | None = None,
        command: list[str] | None = None,
    ) -> None:
        """`command` runs instead of `python -m arcbench` (an installed console script)."""
        self.process = subprocess.Popen(
            [
                *(command or [sys.executable, "-m", "arcbench"]),
                *("serve-ui", "--port", "0", "--no-open", *args),
            ],
            cwd=cwd,
            env=env or cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None
        stdout = self.process.stdout

        def read() -> None:
            for line in stdout:
                lines.put(line)

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        self.lines = lines
        self.url = ""

    def start(self, timeout: float = 60) -> ServeProcess:
        """Wait for the address line; raise with the command's stderr if it exits first."""
        try:
            first = self.lines.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            raise RuntimeError("serve-ui printed no address") from None
        found = re.search(r"http://\S+", first)
        if found is None:
            self.stop()
            raise RuntimeError(f"serve-ui said {first!r}; stderr: {self.stderr()}")
        self.address = found.group()
        self.url = self.address.split("?")[0].rstrip("/")
        return self

    def stderr(self) -> str:
        """What the command wrote to stderr (once it has exited)."""
        self.process.wait(30)
        assert self.process.stderr is not None
        return self.process.stderr.read()

    def stop(self) -> int:
        """Ctrl+C, as a person stops it; its exit status."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(30)
        self._reader.join(5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        return self.process.returncode

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
