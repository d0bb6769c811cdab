"""The web app's safety rules, over real HTTP: host, token, origin, session, body size, what
can be read, and what never leaves the server."""

from __future__ import annotations

import http.client
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from arcbench.web.session import session_key
from arcbench.web.static import static_dir
from webapp import AppServer, app_config

GRID = {"test_index": 0, "grid": [[0, 3], [0, 0]]}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[AppServer]:
    with AppServer(app_config(tmp_path)) as running:
        yield running


def raw_request(
    server: AppServer, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, bytes]:
    """A request exactly as written: no client fixing up the path or the headers."""
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders(body or None)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# -- origin and session ----------------------------------------------------------------------


@pytest.mark.parametrize("origin", [None, "null", "http://evil.example", "http://127.0.0.1:1"])
def test_changes_from_another_origin_are_403(server: AppServer, origin: str | None) -> None:
    headers = {} if origin is None else {"origin": origin}
    with httpx.Client(base_url=server.url, headers=headers) as foreign:
        for method, path, body in [
            ("POST", "/api/session", {"name": "eve"}),
            ("POST", "/api/tasks/aaa/check", GRID),
            ("POST", "/api/variations", {}),
            ("DELETE", "/api/variations/aaa/1", None),
            ("DELETE", "/api/session", None),
        ]:
            response = foreign.request(method, path, json=body)
            assert response.status_code == 403, (method, path)
            assert "this app's own page" in response.json()["detail"]


def test_a_foreign_origin_cannot_change_anything_even_with_a_session(server: AppServer) -> None:
    with server.client() as own:
        own.post("/api/session", json={"name": "ada"})
        stolen = own.cookies["arcbench_session"]
    with httpx.Client(
        base_url=server.url,
        headers={"origin": "http://evil.example"},
        cookies={"arcbench_session": stolen},
    ) as foreign:
        body = {"task_id": "aaa", "dataset": server.config.default_dataset, "version": None}
        response = foreign.post("/api/variations", json={**body, "transforms": ["rot90"]})
        assert response.status_code == 403
    with server.client() as own:
        assert own.get("/api/variations", params={"task_id": "aaa"}).json()["versions"] == [
            {
                "task_id": "aaa",
                "version": None,
                "source": "dataset",
                "parent_version": None,
                "transforms": [],
                "color_map": None,
                "created_by": None,
                "created_at": None,
                "signed_by": [],
            }
        ]


def test_changes_need_a_session(server: AppServer) -> None:
    with server.client() as anonymous:
        body = {"task_id": "aaa", "dataset": server.config.default_dataset, "version": None}
        assert (
            anonymous.post("/api/variations", json={**body, "transforms": ["rot90"]}).status_code
            == 401
        )
        assert anonymous.delete("/api/variations/aaa/1").status_code == 401


def test_reads_need_no_origin(server: AppServer) -> None:
    with httpx.Client(base_url=server.url) as plain:
        assert plain.get("/api/tasks").status_code == 200


# -- host ------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "192.168.1.5:8765", ""])
def test_without_a_token_only_loopback_host_names_are_answered(
    server: AppServer, host: str
) -> None:
    status, body = raw_request(server, "GET", "/api/datasets", {"Host": host})
    assert status == 403
    assert b"loopback" in body


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost:8765", "[::1]:8765", "LOCALHOST"])
def test_loopback_host_names_are_answered(server: AppServer, host: str) -> None:
    status, _ = raw_request(server, "GET", "/api/datasets", {"Host": host})
    assert status == (403 if host == "LOCALHOST" else 200)


# -- body size -------------------------------------------------------------------------------


def test_a_huge_body_is_413_before_it_is_read(server: AppServer) -> None:
    with server.client() as http:
        big = {"test_index": 0, "grid": [[0] * 30] * 30, "pad": "x" * 70_000}
        response = http.post("/api/tasks/aaa/check", json=big)
        assert response.status_code == 413
        host = server.url.removeprefix("http://")
        headers = {"Host": host, "Origin": server.url, "Content-Length": str(10**9)}
        status, _ = raw_request(server, "POST", "/api/session", headers)
        assert status == 413


def test_a_streamed_body_over_the_limit_is_413(server: AppServer) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"x" * 1024

    with server.client() as http:
        response = http.post(
            "/api/session", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413


def test_a_largest_valid_grid_fits_the_limit(server: AppServer) -> None:
    with server.client() as http:
        body = {"test_index": 0, "grid": [[9] * 30] * 30}
        assert http.post("/api/tasks/aaa/check", json=body).status_code == 200


# -- the access token ------------------------------------------------------------------------


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[AppServer]:
    with AppServer(app_config(tmp_path, token="tok-3f9a1c77")) as running:
        yield running


@pytest.mark.parametrize("path", ["/", "/index.html", "/js/main.js", "/api/tasks", "/openapi.json"])
def test_with_a_token_every_request_must_carry_it(guarded: AppServer, path: str) -> None:
    with httpx.Client(base_url=guarded.url) as http:
        refused = http.get(path)
        assert refused.status_code == 401
        assert "access token" in refused.json()["detail"]
        assert http.get(path, headers={"authorization": "Bearer wrong"}).status_code == 401
        assert http.get(path, headers={"authorization": "Bearer tok-3f9a1c77"}).status_code == 200


def test_opening_the_printed_address_keeps_the_token_in_a_cookie(guarded: AppServer) -> None:
    with httpx.Client(base_url=guarded.url, headers={"origin": guarded.url}) as browser:
        entered = browser.get("/?token=tok-3f9a1c77")
        assert entered.status_code == 303
        assert entered.headers["location"] == "/"
        cookie = entered.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        assert "tok-3f9a1c77" not in cookie
        assert browser.get("/api/tasks").status_code == 200
        assert browser.post("/api/session", json={"name": "ada"}).status_code == 200
    with httpx.Client(base_url=guarded.url) as other:
        assert other.get("/?token=wrong").status_code == 401
        assert other.get("/api/tasks", params={"token": "tok-3f9a1c77"}).status_code == 200


def test_with_a_token_any_host_name_is_answered(guarded: AppServer) -> None:
    headers = {"Host": "lab-machine.local:8765", "Authorization": "Bearer tok-3f9a1c77"}
    status, _ = raw_request(guarded, "GET", "/api/datasets", headers)
    assert status == 200


# -- what can be read ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/../pyproject.toml",
        "/..%2fpyproject.toml",
        "/%2e%2e/pyproject.toml",
        "/%2e%2e%2fpyproject.toml",
        "/js/../../pyproject.toml",
        "/js/..%2f..%2fpyproject.toml",
        "/js/%2e%2e/%2e%2e/pyproject.toml",
        "//etc/passwd",
        "/..%5c..%5cpyproject.toml",
        "/%2fetc%2fpasswd",
        "/data/session_secret",
        "/../data/session_secret",
        "/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    ],
)
def test_nothing_outside_the_static_folder_is_served(server: AppServer, path: str) -> None:
    status, body = raw_request(server, "GET", path, {"Host": "127.0.0.1"})
    assert status in (400, 404), (path, status)
    assert b"[project]" not in body
    assert b"root:" not in body


def test_a_symlink_out_of_the_static_folder_is_not_followed(tmp_path: Path) -> None:
    static = tmp_path / "static"
    shutil.copytree(static_dir(), static)
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    (static / "leak.txt").symlink_to(secret)
    with AppServer(app_config(tmp_path, static_dir=static)) as server, server.client() as http:
        assert http.get("/index.html").status_code == 200
        assert http.get("/leak.txt").status_code == 404


def test_the_data_directory_is_never_served(tmp_path: Path) -> None:
    key = session_key(None, tmp_path / "data")
    with AppServer(app_config(tmp_path, session_key=key)) as server, server.client() as http:
        http.post("/api/session", json={"name": "ada"})
        secret = (server.config.data_dir / "session_secret").read_text().strip()
        assert secret.encode() == key
        for path in (
            "/session_secret",
            "/data/session_secret",
            "/arcbench.db",
            "/data/arcbench.db",
        ):
            response = http.get(path)
            assert response.status_code == 404
            assert secret not in response.text


# -- what never leaves the server --------------------------------------------------------------


def test_secrets_never_reach_the_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-topsecretkey")
    config = app_config(tmp_path, admin_token="admin-secret-77", token="access-secret-42")
    with (
        AppServer(config) as server,
        server.client(headers={"authorization": "Bearer access-secret-42"}) as http,
    ):
        http.post("/api/session", json={"name": "root", "admin_token": "admin-secret-77"})
        seen = []
        for path in [
            "/",
            "/js/main.js",
            "/js/api.js",
            "/openapi.json",
            "/api/datasets",
            "/api/tasks",
            "/api/tasks/aaa",
            "/api/session",
            "/api/variations",
            "/api/export/variations",
        ]:
            response = http.get(path)
            assert response.status_code == 200, path
            seen.append(str(response.headers) + response.text)
        everything = "\n".join(seen)
        for secret in (
            "sk-or-v1-topsecretkey",
            "admin-secret-77",
            "access-secret-42",
            config.session_key.decode(),
        ):
            assert secret not in everything


def test_security_headers_on_every_response(server: AppServer) -> None:
    with server.client() as http:
        for path in ("/", "/api/tasks", "/nope"):
            headers = http.get(path).headers
            policy = headers["content-security-policy"]
            assert "script-src 'self'" in policy
            assert "unsafe-inline" not in policy
            assert "frame-ancestors 'none'" in policy
            assert headers["x-content-type-options"] == "nosniff"
        assert http.get("/api/tasks").headers["cache-control"] == "no-store"
        page = http.get("/js/main.js")
        assert page.headers["cache-control"] == "no-cache"
        assert (
            http.get("/js/main.js", headers={"if-none-match": page.headers["etag"]}).status_code
            == 304
        )
