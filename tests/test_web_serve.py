"""`arcbench serve-ui` as a user runs it: a real process, its address, its refusals, Ctrl+C."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
import orjson
import pytest

from arcbench.web.server import bind
from conftest import cli_env, run_cli
from webapp import EventListener, ServeProcess, write_tasks


def test_it_serves_the_page_the_api_and_the_chosen_dataset(tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path / "tasks")
    with ServeProcess("--dataset", str(tasks), "--data-dir", "store", cwd=tmp_path) as app:
        assert app.url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=app.url) as http:
            page = http.get("/")
            assert page.status_code == 200
            assert '<script type="module" src="js/main.js">' in page.text
            assert http.get("/favicon.svg").headers["content-type"].startswith("image/svg")
            assert http.get("/js/api.js").headers["content-type"].startswith("text/javascript")
            assert http.get("/api/datasets").json()["default"] == str(tasks)
            assert [t["id"] for t in http.get("/api/tasks").json()["tasks"]] == [
                "aaa",
                "bbb",
                "ccc",
            ]
    assert (tmp_path / "store" / "session_secret").stat().st_mode & 0o777 == 0o600


def test_ctrl_c_stops_it_promptly_even_with_a_live_stream_open(tmp_path: Path) -> None:
    app = ServeProcess("--dataset", str(write_tasks(tmp_path / "tasks")), cwd=tmp_path).start()
    opened = threading.Event()

    def listen() -> None:
        try:
            with httpx.stream("GET", f"{app.url}/api/events", timeout=30) as stream:
                for _ in stream.iter_lines():
                    opened.set()
        except httpx.HTTPError:
            pass

    threading.Thread(target=listen, daemon=True).start()
    assert opened.wait(20)
    stopped_at = time.monotonic()
    assert app.stop() == 0
    assert time.monotonic() - stopped_at < 10
    assert app.process.stdout is not None


def test_listening_beyond_loopback_without_a_token_is_refused(tmp_path: Path) -> None:
    result = run_cli("serve-ui", "--host", "0.0.0.0", "--no-open", "--port", "0")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "arcbench: error: refusing to listen on 0.0.0.0 without an access token: anyone who "
        "can reach it could read and change the store. Give --token TOKEN (or set "
        "ARCBENCH_TOKEN), or listen on 127.0.0.1"
    )


def test_with_a_token_it_listens_beyond_loopback_and_asks_for_it(tmp_path: Path) -> None:
    tasks = str(write_tasks(tmp_path / "tasks"))
    env = cli_env(ARCBENCH_TOKEN="t0k-e9")
    with ServeProcess("--host", "0.0.0.0", "--dataset", tasks, cwd=tmp_path, env=env) as app:
        assert app.address.endswith("/?token=t0k-e9")
        url = app.url.replace("0.0.0.0", "127.0.0.1")
        with httpx.Client(base_url=url) as http:
            assert http.get("/api/tasks").status_code == 401
            entered = http.get("/?token=t0k-e9", follow_redirects=True)
            assert entered.status_code == 200
            assert http.get("/api/tasks").status_code == 200


def test_a_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = run_cli("serve-ui", "--no-open", "--port", str(port))
    assert result.returncode == 2
    assert result.stderr.startswith(f"arcbench: error: cannot listen on 127.0.0.1:{port}")
    assert "give another --port" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--dataset", "no/such/place"], "dataset 'no/such/place' not found"),
        (["--port", "70000"], "--port / ARCBENCH_PORT"),
    ],
)
def test_bad_options_are_one_clear_line(args: list[str], says: str) -> None:
    result = run_cli("serve-ui", "--no-open", *args)
    assert result.returncode == 2
    assert says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_listening_socket_lets_asyncio_turn_nagle_off() -> None:
    """asyncio sets TCP_NODELAY only on connections of IPPROTO_TCP sockets; without it every
    keep-alive response waited ~40 ms for the client's delayed ACK (8x the API's own time)."""
    with bind("127.0.0.1", 0) as sock:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockname()[1] > 0


def test_the_app_and_merge_share_the_store_and_its_changes_reach_the_page_live(
    tmp_path: Path,
) -> None:
    """ARCBENCH_STORE names the database for both; a merge in another process is announced on
    the app's event stream, and the app's own saves are in the database `store export` reads."""
    tasks = str(write_tasks(tmp_path / "tasks"))
    database = tmp_path / "shared" / "lab.db"
    env = cli_env(ARCBENCH_STORE=str(database))
    imported = tmp_path / "variations.json"
    imported.write_bytes(
        orjson.dumps(
            [
                {
                    "task_id": "bbb",
                    "version": 1,
                    "train": [{"input": [[5]], "output": [[5], [5]]}],
                    "test": [{"input": [[6]], "output": [[6], [6]]}],
                    "signed_by": ["merge"],
                }
            ]
        )
    )
    with ServeProcess("--dataset", tasks, cwd=tmp_path, env=env) as app:
        listener = EventListener(app.url, "variations")
        listener.wait_first()
        merged = run_cli("merge", str(imported), env=env)
        assert merged.returncode == 0, merged.stderr
        listener.wait_second()  # the merge, announced
        with httpx.Client(base_url=app.url, headers={"origin": app.url}) as http:
            listed = http.get("/api/variations", params={"task_id": "bbb"}).json()["versions"]
            assert [(v["version"], v["signed_by"]) for v in listed] == [(None, []), (1, ["merge"])]
            http.post("/api/session", json={"name": "ada"})
            body = {"task_id": "aaa", "dataset": tasks, "version": None, "transforms": ["rot90"]}
            assert http.post("/api/variations", json=body).status_code == 201
    exported = tmp_path / "exported.json"
    result = run_cli("store", "export", "--variations", str(exported), env=env)
    assert result.returncode == 0, result.stderr
    assert [(e["task_id"], e["version"]) for e in orjson.loads(exported.read_bytes())] == [
        ("bbb", 1),
        ("aaa", 1),
    ]
    assert not (tmp_path / "data" / "arcbench.db").exists()


def test_a_home_relative_store_and_data_dir_mean_the_home_directory(tmp_path: Path) -> None:
    """`~` in ARCBENCH_STORE or ARCBENCH_DATA_DIR (a `.env` line, a quoted variable) was a
    directory named `~` in the working directory for the app, and the home for `merge`."""
    home = tmp_path / "home"
    home.mkdir()
    env = cli_env(HOME=str(home), ARCBENCH_STORE="~/lab.db", ARCBENCH_DATA_DIR="~/data")
    tasks = str(write_tasks(tmp_path / "tasks"))
    with ServeProcess("--dataset", tasks, cwd=tmp_path, env=env) as app:
        http = httpx.Client(base_url=app.url, headers={"origin": app.url})
        http.post("/api/session", json={"name": "ada"})
        body = {"task_id": "aaa", "dataset": tasks, "version": None, "transforms": ["rot90"]}
        assert http.post("/api/variations", json=body).status_code == 201
        http.close()
    assert (home / "data" / "session_secret").is_file()
    info = run_cli("store", "info", "--json", env=env)
    assert info.returncode == 0, info.stderr
    stored = orjson.loads(info.stdout)
    assert (stored["file"], stored["variations"]) == (str(home / "lab.db"), 1)
    assert not (tmp_path / "~").exists()
