"""The traces API over real HTTP: every route and every rule (author-only edits, author-or-admin
deletes, one vote per user, withdrawal, ordering, text kept as text, export), bad input, and
`arcbench merge` writing to the same store at the same time."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from conftest import run_cli
from rundata import stored_traces, traces_run
from webapp import AppServer, EventListener, app_config, signed_in

ADMIN = "admin-token-0123456789"
MARKUP = "<img src=x onerror=\"document.title='pwned'\"><script>alert(1)</script> &amp; </textarea>"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[AppServer]:
    with AppServer(app_config(tmp_path, admin_token=ADMIN)) as running:
        yield running


def add(http: httpx.Client, text: str, task: str = "aaa", version: int | None = None) -> Any:
    response = http.post(f"/api/traces/{task}", json={"text": text, "version": version})
    assert response.status_code == 201, response.text
    return response.json()


def listed(http: httpx.Client, task: str = "aaa", **params: Any) -> list[dict[str, Any]]:
    response = http.get(f"/api/traces/{task}", params=params)
    assert response.status_code == 200, response.text
    traces: list[dict[str, Any]] = response.json()["traces"]
    return traces


# -- writing and reading -----------------------------------------------------------------------


def test_a_new_trace_is_returned_with_its_id_and_listed_for_its_task(server: AppServer) -> None:
    with signed_in(server, "ada") as ada:
        before = time.time()
        trace = add(ada, "Each row is mirrored left to right.")
        assert trace["trace_id"].startswith("aaa_")
        assert trace["username"] == "ada"
        assert trace["text"] == "Each row is mirrored left to right."
        assert (trace["score"], trace["votes"], trace["my_vote"]) == (0, 0, 0)
        assert (trace["version"], trace["source"], trace["edited_at"]) == (None, None, None)
        assert before - 1 <= trace["timestamp"] <= time.time() + 1
        assert (trace["can_edit"], trace["can_delete"]) == (True, True)
        assert listed(ada) == [trace]
        assert listed(ada, task="bbb") == []


def test_traces_belong_to_one_version_of_a_task(server: AppServer) -> None:
    with signed_in(server, "ada") as ada:
        original = add(ada, "the original")
        second = add(ada, "version two", version=2)
        assert [t["trace_id"] for t in listed(ada)] == [original["trace_id"]]
        assert [t["trace_id"] for t in listed(ada, version=2)] == [second["trace_id"]]
        assert listed(ada, version=3) == []


def test_reading_needs_no_session_and_shows_nothing_as_editable(server: AppServer) -> None:
    with signed_in(server, "ada") as ada:
        add(ada, "a rule")
    with httpx.Client(base_url=server.url) as anonymous:
        (trace,) = anonymous.get("/api/traces/aaa").json()["traces"]
    assert (trace["can_edit"], trace["can_delete"], trace["my_vote"]) == (False, False, 0)


def test_traces_are_sorted_by_score_then_oldest_first(server: AppServer) -> None:
    with signed_in(server, "ada") as ada, signed_in(server, "bob") as bob:
        first = add(ada, "first")["trace_id"]
        second = add(ada, "second")["trace_id"]
        third = add(bob, "third")["trace_id"]
        fourth = add(bob, "fourth")["trace_id"]
        assert [t["trace_id"] for t in listed(ada)] == [first, second, third, fourth]
        bob.post(f"/api/traces/{third}/vote", json={"vote": 1})
        ada.post(f"/api/traces/{third}/vote", json={"vote": 1})
        ada.post(f"/api/traces/{fourth}/vote", json={"vote": 1})
        bob.post(f"/api/traces/{first}/vote", json={"vote": -1})
        assert [(t["trace_id"], t["score"]) for t in listed(bob)] == [
            (third, 2),
            (fourth, 1),
            (second, 0),
            (first, -1),
        ]


def test_markup_in_a_trace_is_kept_as_the_characters_written(server: AppServer) -> None:
    with signed_in(server, "ada") as ada:
        trace = add(ada, MARKUP)
        response = ada.get("/api/traces/aaa")
        assert response.headers["content-type"] == "application/json"
        assert response.json()["traces"][0]["text"] == MARKUP
        assert trace["text"] == MARKUP
        edited = ada.patch(f"/api/traces/{trace['trace_id']}", json={"text": MARKUP + "!"})
        assert edited.json()["text"] == MARKUP + "!"


def test_text_keeps_newlines_tabs_and_any_script(server: AppServer) -> None:
    text = "Step 1:\tfind the blue cell\nStep 2: 右へ移動 ✓ 😀\r\n"
    with signed_in(server, "ada") as ada:
        assert add(ada, text)["text"] == text


# -- editing ---------------------------------------------------------------------------------


def test_only_the_author_edits_a_trace(server: AppServer) -> None:
    with signed_in(server, "ada") as ada, signed_in(server, "bob") as bob:
        trace = add(ada, "draft")
        path = f"/api/traces/{trace['trace_id']}"
        refused = bob.patch(path, json={"text": "bob was here"})
        assert refused.status_code == 403
        assert "only 'ada'" in refused.json()["detail"]
        edited = ada.patch(path, json={"text": "final"})
        assert edited.status_code == 200
        assert edited.json()["text"] == "final"
        assert edited.json()["edited_at"] is not None
        assert [t["text"] for t in listed(bob)] == ["final"]
        assert listed(bob)[0]["can_edit"] is False


def test_an_admin_may_delete_but_not_edit_another_persons_trace(server: AppServer) -> None:
    with signed_in(server, "ada") as ada, signed_in(server, "root", ADMIN) as root:
        trace = add(ada, "ada's rule")
        path = f"/api/traces/{trace['trace_id']}"
        assert listed(root)[0]["can_delete"] is True
        assert listed(root)[0]["can_edit"] is False
        assert root.patch(path, json={"text": "rewritten"}).status_code == 403
        assert root.delete(path).status_code == 204
        assert listed(ada) == []


# -- deleting ----------------------------------------------------------------------------------


def test_the_author_deletes_a_trace_and_nobody_else_may(server: AppServer) -> None:
    with signed_in(server, "ada") as ada, signed_in(server, "bob") as bob:
        trace = add(ada, "to go")
        path = f"/api/traces/{trace['trace_id']}"
        bob.post(f"{path}/vote", json={"vote": 1})
        assert bob.delete(path).status_code == 403
        assert len(listed(ada)) == 1
        assert ada.delete(path).status_code == 204
        assert listed(ada) == []
        assert ada.delete(path).status_code == 404
        assert bob.post(f"{path}/vote", json={"vote": 1}).status_code == 404


# -- voting ------------------------------------------------------------------------------------


def test_one_vote_per_user_a_second_vote_replaces_the_first(server: AppServer) -> None:
    with signed_in(server, "ada") as ada, signed_in(server, "bob") as bob:
        path = f"/api/traces/{add(ada, 'rule')['trace_id']}/vote"
        first = bob.post(path, json={"vote": 1}).json()
        assert (first["score"], first["votes"], first["my_vote"]) == (1, 1, 1)
        again = bob.post(path, json={"vote": 1}).json()
        assert (again["score"], again["votes"], again["my_vote"]) == (1, 1, 1)
        down = bob.post(path, json={"vote": -1}).json()
        assert (down["score"], down["votes"], down["my_vote"]) == (-1, 1, -1)
        mine = ada.post(path, json={"vote": 1}).json()
        assert (mine["score"], mine["votes"], mine["my_vote"]) == (0, 2, 1)
        assert listed(bob)[0]["my_vote"] == -1
        assert listed(ada)[0]["my_vote"] == 1


def test_a_zero_vote_withdraws_and_withdrawing_twice_changes_nothing(server: AppServer) -> None:
    with signed_in(server, "ada") as ada, signed_in(server, "bob") as bob:
        path = f"/api/traces/{add(ada, 'rule')['trace_id']}/vote"
        bob.post(path, json={"vote": -1})
        ada.post(path, json={"vote": 1})
        withdrawn = bob.post(path, json={"vote": 0}).json()
        assert (withdrawn["score"], withdrawn["votes"], withdrawn["my_vote"]) == (1, 1, 0)
        again = bob.post(path, json={"vote": 0}).json()
        assert (again["score"], again["votes"]) == (1, 1)
        assert listed(bob)[0]["score"] == 1


def test_votes_from_many_threads_at_once_count_once_each(server: AppServer) -> None:
    with signed_in(server, "ada") as ada:
        path = f"/api/traces/{add(ada, 'rule')['trace_id']}/vote"
    names = [f"voter{n}" for n in range(8)]

    def vote_often(name: str) -> None:
        with signed_in(server, name) as http:
            for _ in range(5):
                assert http.post(path, json={"vote": 1}).status_code == 200

    threads = [threading.Thread(target=vote_often, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    with server.client() as http:
        (trace,) = http.get("/api/traces/aaa").json()["traces"]
    assert (trace["score"], trace["votes"]) == (8, 8)


# -- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"text": ""},
        {"text": "   \n\t"},
        {"text": "x" * 16_001},
        {"text": "a\x00b"},
        {"text": "bell \x07"},
        {"text": 12},
        {"text": None},
        {"text": ["a"]},
        {"text": "ok", "version": 0},
        {"text": "ok", "version": "2"},
        {"text": "ok", "version": True},
        {"text": "ok", "version": 1.5},
        {"text": "ok", "version": 2**53},
        {"text": "ok", "version": 10**20},
        {"text": "ok", "author": "mallory"},
        {"text": "ok", "score": 100},
    ],
)
def test_invalid_trace_bodies_are_422(server: AppServer, body: dict[str, Any]) -> None:
    with signed_in(server, "ada") as ada:
        assert ada.post("/api/traces/aaa", json=body).status_code == 422
        trace = add(ada, "kept")
        edit = {k: v for k, v in body.items() if k != "version"} if "text" in body else body
        if edit.get("text") == "ok":
            edit["unknown"] = 1
        assert ada.patch(f"/api/traces/{trace['trace_id']}", json=edit).status_code == 422
        assert [t["text"] for t in listed(ada)] == ["kept"]


@pytest.mark.parametrize("vote", [2, -2, True, False, 1.0, "1", None, [1]])
def test_invalid_votes_are_422(server: AppServer, vote: Any) -> None:
    with signed_in(server, "ada") as ada:
        path = f"/api/traces/{add(ada, 'rule')['trace_id']}/vote"
        assert ada.post(path, json={"vote": vote}).status_code == 422
        assert ada.post(path, json={}).status_code == 422
        assert listed(ada)[0]["score"] == 0


def test_a_trace_of_the_longest_length_is_accepted(server: AppServer) -> None:
    with signed_in(server, "ada") as ada:
        assert len(add(ada, "é" * 16_000)["text"]) == 16_000


def test_unknown_trace_ids_are_404(server: AppServer) -> None:
    with signed_in(server, "ada") as ada:
        for method, path, body in [
            ("PATCH", "/api/traces/aaa_0000", {"text": "x"}),
            ("DELETE", "/api/traces/aaa_0000", None),
            ("POST", "/api/traces/aaa_0000/vote", {"vote": 1}),
        ]:
            response = ada.request(method, path, json=body)
            assert response.status_code == 404, (method, path)
            assert "no trace 'aaa_0000'" in response.json()["detail"]


def test_malformed_task_and_trace_ids_are_refused(server: AppServer) -> None:
    with signed_in(server, "ada") as ada:
        for version in ("0", "-1", "x", str(2**53), str(10**20)):
            assert ada.get(f"/api/traces/aaa?version={version}").status_code == 422
            assert ada.get(f"/api/tasks/aaa?version={version}").status_code == 422
            assert ada.delete(f"/api/variations/aaa/{version}").status_code == 422
        assert ada.post(f"/api/traces/{'t' * 101}", json={"text": "x"}).status_code == 422
        assert ada.post("/api/traces/a%01b", json={"text": "x"}).status_code == 422
        assert ada.get("/api/traces/a%5Cb").status_code == 422
        assert ada.patch(f"/api/traces/{'t' * 301}", json={"text": "x"}).status_code == 422


def test_changes_need_a_session(server: AppServer) -> None:
    with signed_in(server, "ada") as ada:
        trace_id = add(ada, "rule")["trace_id"]
    with server.client() as anonymous:
        for method, path, body in [
            ("POST", "/api/traces/aaa", {"text": "x"}),
            ("PATCH", f"/api/traces/{trace_id}", {"text": "x"}),
            ("DELETE", f"/api/traces/{trace_id}", None),
            ("POST", f"/api/traces/{trace_id}/vote", {"vote": 1}),
        ]:
            assert anonymous.request(method, path, json=body).status_code == 401, (method, path)
        assert [(t["text"], t["score"]) for t in listed(anonymous)] == [("rule", 0)]


@pytest.mark.parametrize("origin", [None, "null", "http://evil.example"])
def test_changes_from_a_foreign_origin_are_403_even_with_a_session(
    server: AppServer, origin: str | None
) -> None:
    with signed_in(server, "ada") as ada:
        trace_id = add(ada, "rule")["trace_id"]
        cookie = ada.cookies["arcbench_session"]
    headers = {} if origin is None else {"origin": origin}
    with httpx.Client(
        base_url=server.url, headers=headers, cookies={"arcbench_session": cookie}
    ) as foreign:
        for method, path, body in [
            ("POST", "/api/traces/aaa", {"text": "x"}),
            ("PATCH", f"/api/traces/{trace_id}", {"text": "x"}),
            ("DELETE", f"/api/traces/{trace_id}", None),
            ("POST", f"/api/traces/{trace_id}/vote", {"vote": 1}),
        ]:
            assert foreign.request(method, path, json=body).status_code == 403, (method, path)
    with server.client() as http:
        assert [(t["text"], t["score"]) for t in listed(http)] == [("rule", 0)]


def test_a_huge_trace_is_413_before_it_is_read(server: AppServer) -> None:
    with signed_in(server, "ada") as ada:
        response = ada.post("/api/traces/aaa", json={"text": "x" * 100_000})
        assert response.status_code == 413
        assert listed(ada) == []


# -- export and merge ----------------------------------------------------------------------------


def test_the_export_is_what_store_export_writes(server: AppServer, tmp_path: Path) -> None:
    with signed_in(server, "ada") as ada, signed_in(server, "bob") as bob:
        trace = add(ada, MARKUP)
        add(bob, "another", task="bbb", version=2)
        bob.post(f"/api/traces/{trace['trace_id']}/vote", json={"vote": 1})
        response = ada.get("/api/export/traces")
    assert response.status_code == 200
    assert 'filename="traces_store.json"' in response.headers["content-disposition"]
    written = tmp_path / "export.json"
    store = str(server.config.store)
    result = run_cli("store", "export", "--traces", str(written), "--store", store)
    assert result.returncode == 0, result.stderr
    assert response.content == written.read_bytes()
    document = orjson.loads(response.content)
    assert [t["text"] for t in document["aaa"]] == [MARKUP]
    assert document["aaa"][0]["voters"] == {"bob": 1}
    assert document["bbb"][0]["version"] == 2


def test_an_empty_store_exports_an_empty_document(server: AppServer) -> None:
    with server.client() as http:
        assert orjson.loads(http.get("/api/export/traces").content) == {}


def test_a_merge_running_meanwhile_loses_nothing_and_neither_does_the_app(
    server: AppServer, tmp_path: Path
) -> None:
    run = traces_run(tmp_path / "runs" / "big", "run-big", tasks=1500)
    with signed_in(server, "ada") as ada:
        target = add(ada, "voted on during the merge")["trace_id"]
    merged: list[Any] = []
    merge = threading.Thread(
        target=lambda: merged.append(
            run_cli("merge", str(run), "--store", str(server.config.store))
        )
    )
    merge.start()
    written: list[str] = []
    voters = [f"v{n}" for n in range(20)]
    with signed_in(server, "ada") as ada:
        for n, name in enumerate(voters):
            written.append(add(ada, f"written during the merge {n}", task="bbb")["trace_id"])
            with signed_in(server, name) as voter:
                assert voter.post(f"/api/traces/{target}/vote", json={"vote": 1}).status_code == 200
    merge.join(120)
    assert merged[0].returncode == 0, merged[0].stderr
    everything = stored_traces(server.config.store)
    assert sum(len(traces) for traces in everything.values()) == 1 + 20 + 3000
    assert [t["trace_id"] for t in everything["bbb"]] == written
    assert everything["aaa"][0]["voters"] == dict.fromkeys(voters, 1)
    assert everything["aaa"][0]["score"] == 20


# -- live ----------------------------------------------------------------------------------------


def test_the_event_stream_announces_a_new_trace_within_two_seconds(server: AppServer) -> None:
    listener = EventListener(server.url, "traces")
    listener.wait_first()
    with signed_in(server, "ada") as ada:
        written_at = time.monotonic()
        add(ada, "live")
    assert listener.wait_second() - written_at < 2.0
