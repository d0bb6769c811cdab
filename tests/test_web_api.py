"""The web app's JSON API over real HTTP: every route, and bad input to each."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from arcbench.datasets import load_dataset
from arcbench.tasks import Task
from arcbench.transforms import apply_transforms, parse_chain
from taskdata import TASK_A, TASK_B
from webapp import TASK_C, AppServer, EventListener, app_config, signed_in


@pytest.fixture
def server(tmp_path: Path) -> Iterator[AppServer]:
    with AppServer(app_config(tmp_path)) as running:
        yield running


@pytest.fixture
def client(server: AppServer) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


def dataset(server: AppServer) -> str:
    return server.config.default_dataset


def original(name: str, raw: dict[str, Any]) -> Task:
    return Task.model_validate({"id": name, **raw})


# -- datasets and tasks ----------------------------------------------------------------------


def test_datasets_offer_the_given_one_first_then_the_bundled_sets(
    server: AppServer, client: httpx.Client
) -> None:
    body = client.get("/api/datasets").json()
    assert body["default"] == dataset(server)
    specs = [d["spec"] for d in body["datasets"]]
    assert specs[0] == dataset(server)
    assert "arc-agi-1/training" in specs
    assert "arc-agi-2/evaluation" in specs
    assert [d["bundled"] for d in body["datasets"]] == [False, True, True, True, True]


def test_task_list_names_ids_pair_counts_and_versions(client: httpx.Client) -> None:
    tasks = client.get("/api/tasks").json()["tasks"]
    assert tasks == [
        {"id": "aaa", "versions": [None], "train": 2, "test": 1},
        {"id": "bbb", "versions": [None], "train": 1, "test": 2},
        {"id": "ccc", "versions": [None], "train": 3, "test": 2},
    ]


def test_a_bundled_dataset_lists_all_its_tasks(client: httpx.Client) -> None:
    body = client.get("/api/tasks", params={"dataset": "arc-agi-1/evaluation"}).json()
    assert len(body["tasks"]) == 400


@pytest.mark.parametrize("spec", ["nope", "/etc", "../data", "arc-agi-3/training"])
def test_only_offered_datasets_can_be_read(client: httpx.Client, spec: str) -> None:
    response = client.get("/api/tasks", params={"dataset": spec})
    assert response.status_code == 404
    assert "not offered here" in response.json()["detail"]


def test_a_task_comes_without_its_test_outputs(client: httpx.Client) -> None:
    body = client.get("/api/tasks/ccc").json()
    assert body["train"] == TASK_C["train"]
    assert body["test"] == [
        {"input": [[5, 0, 6]], "answer_known": True},
        {"input": [[7, 8, 0]], "answer_known": False},
    ]
    assert body["version"] is None
    assert body["transforms"] == []
    assert b"[[6,0,5]]" not in client.get("/api/tasks/ccc").content


@pytest.mark.parametrize(
    ("query", "chain"),
    [
        ("rot90", "rot90"),
        ("rot90+color:0312456789", "rot90+color:0312456789"),
        ("flip_h color:0987654321", "flip_h+color:0987654321"),  # '+' sent unescaped
        ("reorder:2,0,1+swap:1,0+transpose", "reorder:2,0,1+swap:1,0+transpose"),
    ],
)
def test_a_task_is_shown_as_the_transforms_make_it(
    client: httpx.Client, query: str, chain: str
) -> None:
    body = client.get("/api/tasks/ccc", params={"transforms": query}).json()
    expected = apply_transforms(original("ccc", TASK_C), parse_chain(chain))
    assert body["transforms"] == chain.split("+")
    assert body["train"] == [{"input": p.input, "output": p.output} for p in expected.train]
    assert [t["input"] for t in body["test"]] == [t.input for t in expected.test]


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("rot45", "unknown transform 'rot45'"),
        ("color:0123", "unknown transform"),
        ("color:1123456789", "not a permutation"),
        ("reorder:0,1", "not an order of its 3 train pairs"),
        ("swap:0,1", "unknown"),  # test input 1 of ccc has no output to swap in
        ("swap:5,0", "needs train pair 5"),
        ("+".join(["rot90"] * 33), "at most 32 transforms"),
    ],
)
def test_bad_transforms_are_refused_with_the_reason(
    client: httpx.Client, query: str, says: str
) -> None:
    response = client.get("/api/tasks/ccc", params={"transforms": query})
    assert response.status_code == 422
    assert says in response.json()["detail"]


def test_unknown_tasks_and_versions_are_404(client: httpx.Client) -> None:
    assert client.get("/api/tasks/zzz").status_code == 404
    missing = client.get("/api/tasks/aaa", params={"version": 7})
    assert missing.status_code == 404
    assert "no version 7" in missing.json()["detail"]
    assert client.get("/api/tasks/aaa", params={"version": 0}).status_code == 422
    assert client.get("/api/tasks/aaa", params={"version": "x"}).status_code == 422


def test_a_very_long_query_is_refused(client: httpx.Client) -> None:
    assert client.get("/api/tasks/aaa", params={"transforms": "rot90+" * 1000}).status_code == 422


# -- checking and revealing --------------------------------------------------------------------


def check(client: httpx.Client, task: str, body: Any, **params: Any) -> httpx.Response:
    return client.post(f"/api/tasks/{task}/check", json=body, params=params)


def test_checking_reports_correctness_and_the_share_of_differing_cells(
    client: httpx.Client,
) -> None:
    right = check(client, "aaa", {"test_index": 0, "grid": [[0, 3], [0, 0]]}).json()
    assert right == {"correct": True, "distance": 0.0, "shape_match": True}
    one_off = check(client, "aaa", {"test_index": 0, "grid": [[0, 3], [0, 1]]}).json()
    assert one_off == {"correct": False, "distance": 0.25, "shape_match": True}
    shape = check(client, "aaa", {"test_index": 0, "grid": [[0, 3]]}).json()
    assert shape == {"correct": False, "distance": 1.0, "shape_match": False}


def test_checking_compares_with_the_transformed_answer(client: httpx.Client) -> None:
    params = {"transforms": "rot90+color:0213456789"}
    answer = apply_transforms(original("aaa", TASK_A), parse_chain(params["transforms"]))
    output = answer.test[0].output
    assert output is not None
    assert check(client, "aaa", {"test_index": 0, "grid": output}, **params).json()["correct"]
    assert not check(client, "aaa", {"test_index": 0, "grid": [[0, 3], [0, 0]]}, **params).json()[
        "correct"
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"test_index": 0, "grid": [[0, 3], [0]]},  # ragged
        {"test_index": 0, "grid": [[0] * 31]},  # too wide
        {"test_index": 0, "grid": [[0]] * 31},  # too tall
        {"test_index": 0, "grid": []},
        {"test_index": 0, "grid": [[]]},
        {"test_index": 0, "grid": [[10, 0], [0, 0]]},
        {"test_index": 0, "grid": [[-1, 0], [0, 0]]},
        {"test_index": 0, "grid": [["1", 0], [0, 0]]},
        {"test_index": 0, "grid": [[1.0, 0], [0, 0]]},
        {"test_index": 0, "grid": [[True, 0], [0, 0]]},
        {"test_index": 0, "grid": [[None, 0], [0, 0]]},
        {"test_index": 0, "grid": "[[0]]"},
        {"test_index": "0", "grid": [[0]]},
        {"test_index": 0.0, "grid": [[0]]},
        {"test_index": -1, "grid": [[0]]},
        {"test_index": 0},
        {"grid": [[0]]},
        {"test_index": 0, "grid": [[0]], "extra": 1},
        [],
        "grid",
    ],
)
def test_invalid_check_bodies_are_422(client: httpx.Client, body: Any) -> None:
    response = check(client, "aaa", body)
    assert response.status_code == 422
    problems = response.json()["detail"]
    assert problems
    assert all({"loc", "msg", "type"} == set(p) for p in problems)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 422),
        (b"\xff\xfe", 422),
        (b'{"test_index": 0, "grid": [[1e999]]}', 422),
        (b"[" * 30_000 + b"]" * 30_000, 400),  # nested too deep for the parser
        (b'{"test_index": 0, "grid": ' + b"[" * 20_000 + b"]" * 20_000 + b"}", 400),
    ],
)
def test_a_body_that_is_not_json_is_refused_not_a_crash(
    client: httpx.Client, body: bytes, status: int
) -> None:
    response = client.post(
        "/api/tasks/aaa/check", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == status


def test_checking_a_missing_test_input_or_one_without_answer(client: httpx.Client) -> None:
    missing = check(client, "aaa", {"test_index": 3, "grid": [[0]]})
    assert missing.status_code == 404
    assert "no test input 3" in missing.json()["detail"]
    unknown = check(client, "ccc", {"test_index": 1, "grid": [[0]]})
    assert unknown.status_code == 409
    assert "not in the data" in unknown.json()["detail"]


def test_revealing_gives_the_answer_only_when_asked(client: httpx.Client) -> None:
    assert client.get("/api/tasks/aaa/answer").json() == {
        "test_index": 0,
        "output": [[0, 3], [0, 0]],
    }
    flipped = client.get("/api/tasks/bbb/answer", params={"test_index": 0, "transforms": "rot90"})
    assert flipped.json()["output"] == [[6], [6]]
    assert client.get("/api/tasks/ccc/answer", params={"test_index": 1}).status_code == 409
    assert client.get("/api/tasks/ccc/answer", params={"test_index": 2}).status_code == 404
    assert client.get("/api/tasks/ccc/answer", params={"test_index": -1}).status_code == 422


# -- the session -------------------------------------------------------------------------------


def test_a_session_is_a_signed_httponly_cookie(server: AppServer) -> None:
    with server.client() as http:
        assert http.get("/api/session").json() == {"name": None, "admin": False}
        response = http.post("/api/session", json={"name": "  Ada  "})
        assert response.json() == {"name": "Ada", "admin": False}
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert "path=/" in cookie
        assert http.get("/api/session").json() == {"name": "Ada", "admin": False}
        assert http.delete("/api/session").json() == {"name": None, "admin": False}
        assert http.get("/api/session").json()["name"] is None


def test_a_tampered_session_cookie_is_no_session(server: AppServer) -> None:
    with signed_in(server, "ada") as http:
        value = http.cookies["arcbench_session"]
        payload, mac = value.split(".")
        with server.client() as forged:
            other = "B" if mac[0] == "A" else "A"
            for bad in (f"{payload}.{other}{mac[1:]}", f"e30.{mac}", "garbage", ""):
                forged.cookies.set("arcbench_session", bad)
                assert forged.get("/api/session").json()["name"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 41},
        {"name": "bad\nname"},
        {"name": "tab\there"},
        {"name": 7},
        {"name": None},
        {},
        {"name": "ada", "role": "admin"},
        {"name": "ada", "admin_token": "t" * 201},
    ],
)
def test_invalid_names_are_422(client: httpx.Client, body: Any) -> None:
    assert client.post("/api/session", json=body).status_code == 422


def test_the_admin_token_makes_an_admin_and_a_wrong_one_is_403(tmp_path: Path) -> None:
    with (
        AppServer(app_config(tmp_path, admin_token="sesame-open")) as server,
        server.client() as http,
    ):
        wrong = http.post("/api/session", json={"name": "eve", "admin_token": "guess"})
        assert wrong.status_code == 403
        assert http.get("/api/session").json()["name"] is None
        right = http.post("/api/session", json={"name": "root", "admin_token": "sesame-open"})
        assert right.json() == {"name": "root", "admin": True}


def test_without_an_admin_token_configured_nobody_is_admin(client: httpx.Client) -> None:
    assert client.post("/api/session", json={"name": "x", "admin_token": ""}).status_code == 403


# -- variations ------------------------------------------------------------------------------


def save(http: httpx.Client, server: AppServer, **body: Any) -> httpx.Response:
    payload = {"task_id": "aaa", "dataset": dataset(server), "version": None, **body}
    return http.post("/api/variations", json=payload)


def test_saving_needs_a_session(server: AppServer, client: httpx.Client) -> None:
    response = save(client, server, transforms=["rot90"])
    assert response.status_code == 401
    assert "sign in first" in response.json()["detail"]


def test_a_saved_variation_is_the_transformed_task_with_its_provenance(
    server: AppServer,
) -> None:
    with signed_in(server, "ada") as http:
        response = save(http, server, transforms=["rot90", "color:0213456789"])
        assert response.status_code == 201
        saved = response.json()
        assert saved["added"] is True
        variation = saved["variation"]
        assert variation["version"] == 1
        assert variation["source"] == "store"
        assert variation["parent_version"] is None
        assert variation["transforms"] == ["rot90", "color:0213456789"]
        assert variation["color_map"] == [0, 2, 1, 3, 4, 5, 6, 7, 8, 9]
        assert variation["created_by"] == "ada"
        assert variation["signed_by"] == ["ada"]
        expected = apply_transforms(original("aaa", TASK_A), parse_chain("rot90+color:0213456789"))
        shown = http.get("/api/tasks/aaa", params={"version": 1}).json()
        assert shown["train"] == [{"input": p.input, "output": p.output} for p in expected.train]
        assert http.get("/api/tasks/aaa/answer", params={"version": 1}).json()["output"] == (
            expected.test[0].output
        )
        assert http.get("/api/tasks").json()["tasks"][0]["versions"] == [None, 1]


def test_an_identical_variation_is_signed_not_added(server: AppServer) -> None:
    with signed_in(server, "ada") as ada, signed_in(server, "bob") as bob:
        assert save(ada, server, transforms=["flip_h"]).status_code == 201
        again = save(bob, server, transforms=["flip_h", "identity"])
        assert again.status_code == 200
        assert again.json()["added"] is False
        assert again.json()["variation"]["signed_by"] == ["ada", "bob"]
        assert again.json()["variation"]["version"] == 1
        versions = ada.get("/api/variations", params={"task_id": "aaa"}).json()["versions"]
        assert [v["version"] for v in versions] == [None, 1]


def test_a_variation_of_a_variation_records_its_parent(server: AppServer) -> None:
    with signed_in(server, "ada") as http:
        save(http, server, transforms=["rot90"])
        child = save(http, server, version=1, transforms=["color:0213456789"]).json()
        assert child["variation"]["version"] == 2
        assert child["variation"]["parent_version"] == 1


@pytest.mark.parametrize(
    ("transforms", "says"),
    [
        (["identity"], "nothing new to save"),
        (["rot90", "rot90", "rot90", "rot90"], "nothing new to save"),
        (["rot45"], "unknown transform"),
    ],
)
def test_a_variation_that_changes_nothing_or_is_malformed_is_refused(
    server: AppServer, transforms: list[str], says: str
) -> None:
    with signed_in(server, "ada") as http:
        response = save(http, server, transforms=transforms)
        assert response.status_code == 422
        assert says in response.json()["detail"]


@pytest.mark.parametrize(
    "changes",
    [
        {"transforms": []},
        {"transforms": ["rot90"] * 33},
        {"transforms": "rot90"},
        {"transforms": [90]},
        {"version": 0},
        {"version": "1"},
        {"task_id": ""},
        {"task_id": "a/b"},
        {"dataset": ""},
        {"extra": True},
    ],
)
def test_invalid_variation_bodies_are_422(server: AppServer, changes: dict[str, Any]) -> None:
    with signed_in(server, "ada") as http:
        body: dict[str, Any] = {"task_id": "aaa", "dataset": dataset(server), "version": None}
        body.update({"transforms": ["rot90"], **changes})
        assert http.post("/api/variations", json=body).status_code == 422


def test_variations_of_unknown_tasks_datasets_and_versions_are_404(server: AppServer) -> None:
    with signed_in(server, "ada") as http:
        assert save(http, server, task_id="zzz", transforms=["rot90"]).status_code == 404
        assert save(http, server, dataset="/etc", transforms=["rot90"]).status_code == 404
        assert save(http, server, version=4, transforms=["rot90"]).status_code == 404


def test_only_the_creator_or_an_admin_deletes_and_the_number_is_never_reused(
    tmp_path: Path,
) -> None:
    with AppServer(app_config(tmp_path, admin_token="sesame-open")) as server:
        with signed_in(server, "ada") as ada, signed_in(server, "bob") as bob:
            save(ada, server, transforms=["rot90"])
            save(ada, server, transforms=["rot180"])
            refused = bob.delete("/api/variations/aaa/1")
            assert refused.status_code == 403
            assert "only 'ada'" in refused.json()["detail"]
            assert ada.delete("/api/variations/aaa/1").status_code == 204
            assert ada.delete("/api/variations/aaa/1").status_code == 404
            assert ada.delete("/api/variations/aaa/9").status_code == 404
            assert ada.delete("/api/variations/aaa/x").status_code == 422
            assert bob.get("/api/tasks/aaa", params={"version": 1}).status_code == 404
            listed = bob.get("/api/variations", params={"task_id": "aaa"}).json()["versions"]
            assert [v["version"] for v in listed] == [None, 2]
            assert save(bob, server, transforms=["flip_v"]).json()["variation"]["version"] == 3
            with signed_in(server, "root", admin_token="sesame-open") as root:
                assert root.delete("/api/variations/aaa/3").status_code == 204
        with server.client() as anonymous:
            assert anonymous.delete("/api/variations/aaa/2").status_code == 401


def test_listing_every_stored_variation_of_a_dataset(server: AppServer) -> None:
    with signed_in(server, "ada") as http:
        save(http, server, transforms=["rot90"])
        save(http, server, task_id="bbb", transforms=["rot90"])
        listed = http.get("/api/variations").json()["versions"]
        assert [(v["task_id"], v["version"]) for v in listed] == [("aaa", 1), ("bbb", 1)]
        other = http.get("/api/variations", params={"dataset": "arc-agi-1/training"}).json()
        assert other["versions"] == []


def test_the_export_is_a_dataset_the_cli_reads_back(server: AppServer, tmp_path: Path) -> None:
    with signed_in(server, "ada") as http:
        save(http, server, transforms=["rot90"])
        save(http, server, task_id="bbb", transforms=["rot90"])
        save(http, server, task_id="bbb", transforms=["color:0123465789"])
        assert http.delete("/api/variations/bbb/2").status_code == 204
        response = http.get("/api/export/variations")
        assert "attachment" in response.headers["content-disposition"]
        path = tmp_path / "exported.json"
        path.write_bytes(response.content)
        loaded = load_dataset(str(path))
        assert [t.label for t in loaded.tasks] == ["aaa@1", "bbb@1"]
        expected = apply_transforms(original("bbb", TASK_B), parse_chain("rot90"))
        assert loaded.tasks[1].content() == expected.content()


# -- live updates ------------------------------------------------------------------------------


def test_the_event_stream_announces_a_change_within_two_seconds(server: AppServer) -> None:
    listener = EventListener(server.url, "variations")
    listener.wait_first()
    with signed_in(server, "ada") as http:
        saved_at = time.monotonic()
        save(http, server, transforms=["rot90"])
    assert listener.wait_second() - saved_at < 2.0


# -- the schema --------------------------------------------------------------------------------


def test_the_api_is_documented_at_openapi_json(client: httpx.Client) -> None:
    schema = orjson.loads(client.get("/openapi.json").content)
    paths = set(schema["paths"])
    assert {
        "/api/datasets",
        "/api/tasks",
        "/api/tasks/{task_id}",
        "/api/tasks/{task_id}/check",
        "/api/tasks/{task_id}/answer",
        "/api/session",
        "/api/variations",
        "/api/variations/{task_id}/{version}",
        "/api/export/variations",
        "/api/traces/{task_id}",
        "/api/traces/{trace_id}",
        "/api/traces/{trace_id}/vote",
        "/api/export/traces",
        "/api/events",
    } <= paths
    assert client.get("/docs").status_code == 404  # its page would load scripts from a CDN
