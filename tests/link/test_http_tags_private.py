"""link-manager's HTTP routes for tags, private links, dated creates and reading one
link, with the app's lifespan running, on Postgres and SQLite."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from delinkcious.pagination import PageTokenCodec
from tests.link.test_http import GATEWAY, LINKS, assert_error, client

__all__ = ["client"]  # the fixture, shared with test_http
TAGS = "/users/alice/tags"


def add(client: TestClient, url: str, **body: object) -> dict[str, Any]:
    response = client.post(LINKS, json={"url": url, **body}, headers=GATEWAY)
    assert response.status_code == 201, response.text
    return response.json()


def test_private_create_filter_update_and_read_one(client: TestClient) -> None:
    assert add(client, "https://e.com/a")["private"] is False
    assert add(client, "https://e.com/b", private=True)["private"] is True
    listed = client.get(LINKS, params={"private": "true"}, headers=GATEWAY).json()["links"]
    assert [x["url"] for x in listed] == ["https://e.com/b"]
    listed = client.get(LINKS, params={"private": "false"}, headers=GATEWAY).json()["links"]
    assert [x["url"] for x in listed] == ["https://e.com/a"]
    r = client.put(LINKS, json={"url": "https://e.com/b", "private": False}, headers=GATEWAY)
    assert r.status_code == 200 and r.json()["private"] is False
    one = client.get(LINKS + "/one", params={"url": "https://e.com/b"}, headers=GATEWAY)
    assert one.status_code == 200 and one.json() == r.json()
    assert_error(
        client.get(LINKS + "/one", params={"url": "https://e.com/zz"}, headers=GATEWAY), 404, "not_found"
    )
    assert_error(client.get(LINKS + "/one", params={"url": "nope"}, headers=GATEWAY), 400, "invalid_argument")
    assert_error(client.get(LINKS, params={"private": "maybe"}, headers=GATEWAY), 400, "invalid_argument")


def test_internal_create_takes_a_created_at_and_lists_by_it(client: TestClient) -> None:
    old = add(client, "https://e.com/old", created_at="2011-03-04T05:06:07Z")
    assert old["created_at"] == "2011-03-04T05:06:07.000000Z" and old["updated_at"] > old["created_at"]
    add(client, "https://e.com/new")
    add(client, "https://e.com/older", created_at="2009-01-01T00:00:00+02:00")
    listed = client.get(LINKS, headers=GATEWAY).json()["links"]
    assert [(x["url"], x["created_at"]) for x in listed][1:] == [
        ("https://e.com/old", "2011-03-04T05:06:07.000000Z"),
        ("https://e.com/older", "2008-12-31T22:00:00.000000Z"),
    ]
    r = client.post(LINKS, json={"url": "https://e.com/x", "created_at": "yesterday"}, headers=GATEWAY)
    assert_error(r, 400, "invalid_argument")


def test_tag_routes(client: TestClient) -> None:
    add(client, "https://e.com/1", tags=["py", "python"])
    add(client, "https://e.com/2", tags=["py", "a/b%c?d#e"])
    assert client.get(TAGS, headers=GATEWAY).json() == {
        "tags": [
            {"name": "a/b%c?d#e", "count": 1},
            {"name": "py", "count": 2},
            {"name": "python", "count": 1},
        ]
    }
    r = client.put(TAGS + "/PY", json={"name": "Python"}, headers=GATEWAY)
    assert r.status_code == 200 and r.json() == {"name": "python", "count": 2}
    odd = TAGS + "/" + quote("a/b%c?d#e", safe="")
    r = client.put(odd, json={"name": "odd"}, headers=GATEWAY)
    assert r.status_code == 200 and r.json() == {"name": "odd", "count": 1}
    r = client.delete(TAGS + "/odd", headers=GATEWAY)
    assert r.status_code == 204 and r.content == b""
    assert client.get(TAGS, headers=GATEWAY).json() == {"tags": [{"name": "python", "count": 2}]}
    assert_error(client.delete(TAGS + "/odd", headers=GATEWAY), 404, "not_found")
    assert_error(client.put(TAGS + "/gone", json={"name": "x"}, headers=GATEWAY), 404, "not_found")
    assert client.get("/users/bob/tags", headers=GATEWAY).json() == {"tags": []}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", TAGS + "/python", {"name": "a b"}),
        ("PUT", TAGS + "/python", {"name": ""}),
        ("PUT", TAGS + "/python", {"name": "t" * 65}),
        ("PUT", TAGS + "/python", {"name": ["x"]}),
        ("PUT", TAGS + "/python", {}),
        ("PUT", TAGS + "/python", {"name": "x", "extra": 1}),
        ("PUT", TAGS + "/a%20b", {"name": "x"}),
        ("PUT", TAGS + "/a,b", {"name": "x"}),
        ("DELETE", TAGS + "/" + "t" * 65, None),
        ("DELETE", TAGS + "/%20", None),
        ("GET", "/users/Alice/tags", None),
    ],
)
def test_bad_tag_input_is_invalid_argument(client: TestClient, method: str, path: str, body: object) -> None:
    add(client, "https://e.com/1", tags=["python"])
    assert_error(client.request(method, path, json=body, headers=GATEWAY), 400, "invalid_argument")
    assert client.get(TAGS, headers=GATEWAY).json() == {"tags": [{"name": "python", "count": 1}]}


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", TAGS), ("PUT", TAGS + "/x"), ("DELETE", TAGS + "/x"), ("GET", LINKS + "/one?url=https://e.com")],
)
def test_tag_routes_require_the_gateway(client: TestClient, method: str, path: str) -> None:
    assert_error(client.request(method, path, json={"name": "y"}), 401, "unauthenticated")
    checker = {"Delinkcious-Caller-Token": "test-checker-caller-secret"}
    assert_error(client.request(method, path, json={"name": "y"}, headers=checker), 403, "permission_denied")


@pytest.mark.parametrize("value", [0, 1, "true", "no", None, [], {}])
def test_private_in_a_body_is_a_json_boolean(client: TestClient, value: object) -> None:
    r = client.post(LINKS, json={"url": "https://e.com/p", "private": value}, headers=GATEWAY)
    assert_error(r, 400, "invalid_argument")
    if value is not None:  # on an update, null means "leave it"
        r = client.put(LINKS, json={"url": "https://e.com/p", "private": value}, headers=GATEWAY)
        assert_error(r, 400, "invalid_argument")


def test_a_page_token_issued_before_the_created_at_order_is_a_clean_400(client: TestClient) -> None:
    for i in range(3):
        add(client, f"https://e.com/{i}")
    # Signed with the service's own key, in the shape tokens had: the last link's id.
    old_query: dict[str, object] = {
        "owner": "alice",
        "url_regex": None,
        "title_regex": None,
        "description_regex": None,
        "tags": [],
    }
    old = PageTokenCodec(b"http-test-page-token-key").encode(2, old_query)
    assert_error(
        client.get(LINKS, params={"page_size": 2, "start_token": old}, headers=GATEWAY),
        400,
        "invalid_argument",
    )
