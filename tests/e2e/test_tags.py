"""/v1/tags through the gateway with every process running: counts, rename with merge,
delete, the documented errors, and one link_updated in followers' news per changed link."""

from __future__ import annotations

from collections import Counter
from urllib.parse import quote

import httpx

from tests.e2e.conftest import RunningSystem, unique
from tests.e2e.helpers import eventually, news


def error_code(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    code: str = response.json()["error"]["code"]
    return code


def test_list_rename_merge_and_delete(system: RunningSystem) -> None:
    with system.client(system.login(unique("tagger"))) as c:
        assert c.get("/v1/tags").json() == {"tags": []}
        for n, tags in enumerate([["py", "web"], ["py", "python"], ["python"], [], ["c/c++"]]):
            assert (
                c.post("/v1/links", json={"url": f"https://example.com/{n}", "tags": tags}).status_code == 201
            )
        assert c.get("/v1/tags").json() == {
            "tags": [
                {"name": "c/c++", "count": 1},
                {"name": "py", "count": 2},
                {"name": "python", "count": 2},
                {"name": "web", "count": 1},
            ]
        }
        r = c.put("/v1/tags/%20PY%20", json={"name": "Python"})  # trimmed and lowercased
        assert r.status_code == 200 and r.json() == {"name": "python", "count": 3}
        r = c.put("/v1/tags/" + quote("c/c++", safe=""), json={"name": "cpp"})
        assert r.status_code == 200 and r.json() == {"name": "cpp", "count": 1}
        by_tag = c.get("/v1/links", params={"tag": "python"}).json()["links"]
        assert sorted(x["url"] for x in by_tag) == [f"https://example.com/{n}" for n in (0, 1, 2)]
        assert c.delete("/v1/tags/WEB").status_code == 204
        assert c.get("/v1/tags").json() == {
            "tags": [{"name": "cpp", "count": 1}, {"name": "python", "count": 3}]
        }
        r = c.put("/v1/tags/python", json={"name": "python"})
        assert r.status_code == 200 and r.json() == {"name": "python", "count": 3}


def test_documented_errors(system: RunningSystem) -> None:
    with system.client(system.login(unique("tagerr"))) as c:
        assert c.post("/v1/links", json={"url": "https://example.com/a", "tags": ["x"]}).status_code == 201
        assert error_code(c.put("/v1/tags/nope", json={"name": "y"}), 404) == "not_found"
        assert error_code(c.delete("/v1/tags/nope"), 404) == "not_found"
        assert error_code(c.put("/v1/tags/x", json={"name": "a b"}), 400) == "invalid_argument"
        assert error_code(c.put("/v1/tags/x", json={"name": "t" * 65}), 400) == "invalid_argument"
        assert error_code(c.put("/v1/tags/x", json={}), 400) == "invalid_argument"
        assert error_code(
            c.put("/v1/tags/x", content=b"{", headers={"Content-Type": "application/json"}), 400
        )
        assert error_code(c.put("/v1/tags/a,b", json={"name": "y"}), 400) == "invalid_argument"
        assert error_code(c.delete("/v1/tags/%20"), 400) == "invalid_argument"
        assert c.get("/v1/tags").json() == {"tags": [{"name": "x", "count": 1}]}
    with system.client() as anonymous:
        assert error_code(anonymous.get("/v1/tags"), 401) == "unauthenticated"
        assert error_code(anonymous.put("/v1/tags/x", json={"name": "y"}), 401) == "unauthenticated"
        assert error_code(anonymous.delete("/v1/tags/x"), 401) == "unauthenticated"


def test_each_changed_link_reaches_followers_once(system: RunningSystem) -> None:
    author, reader = unique("tagauthor"), unique("tagreader")
    a, r = system.login(author), system.login(reader)
    with system.client(r) as c:
        assert c.post("/v1/following", json={"followed": author}).status_code == 204
    with system.client(a) as c:
        for n in range(3):
            assert (
                c.post("/v1/links", json={"url": f"https://example.com/t{n}", "tags": ["old"]}).status_code
                == 201
            )
        assert c.post("/v1/links", json={"url": "https://example.com/untagged"}).status_code == 201
        assert c.put("/v1/tags/old", json={"name": "new"}).json() == {"name": "new", "count": 3}
        assert c.delete("/v1/tags/new").status_code == 204
    with system.client(r) as c:
        events = eventually(lambda: news(c), lambda e: len(e) >= 10, within=10)
        kinds = Counter((e["event_type"], e["url"]) for e in events)
        for n in range(3):
            assert kinds[("link_updated", f"https://example.com/t{n}")] == 2  # rename, then delete
        assert ("link_updated", "https://example.com/untagged") not in kinds
        assert len(events) == 10


def test_openapi_documents_the_tag_routes(system: RunningSystem) -> None:
    paths = httpx.get(f"{system.gateway}/openapi.json").json()["paths"]
    assert set(paths["/v1/tags"]) == {"get"}
    assert set(paths["/v1/tags/{name}"]) == {"put", "delete"}
    for method, path in (("get", "/v1/tags"), ("put", "/v1/tags/{name}"), ("delete", "/v1/tags/{name}")):
        operation = paths[path][method]
        assert operation["summary"]
        assert {"400", "401", "429", "503"} <= set(operation["responses"]), (method, path)
        if path.endswith("{name}"):
            assert "404" in operation["responses"]
    private = [p for p in paths["/v1/links"]["get"]["parameters"] if p["name"] == "private"]
    assert len(private) == 1
