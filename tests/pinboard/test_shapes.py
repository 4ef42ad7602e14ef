"""Raw HTTP, as clients that parse Pinboard's XML (the default) or JSON see it: element
and attribute names, content types, form POSTs, HTTP Basic."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from lxml import etree

from tests.e2e.conftest import RunningSystem, unique

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


class Account:
    def __init__(self, system: RunningSystem) -> None:
        self.username = unique("xml")
        self.token = system.login(self.username)
        self.http = httpx.Client(base_url=f"{system.gateway}/pinboard/v1", timeout=10)

    def call(self, method: str, **params: Any) -> httpx.Response:
        response = self.http.get(method, params={"auth_token": f"{self.username}:{self.token}", **params})
        assert response.status_code == 200, response.text
        return response

    def xml(self, method: str, **params: Any) -> etree._Element:
        response = self.call(method, **params)
        assert response.headers["content-type"] == "text/xml; charset=utf-8"
        assert response.text.startswith('<?xml version="1.0" encoding="UTF-8" ?>')
        return etree.fromstring(response.content)

    def json(self, method: str, **params: Any) -> Any:
        response = self.call(method, format="json", **params)
        assert response.headers["content-type"] == "text/json; charset=utf-8"  # what Pinboard sends
        return response.json()


@pytest.fixture
def account(system: RunningSystem) -> Account:
    return Account(system)


def test_xml_answers_have_pinboards_elements_and_attributes(account: Account) -> None:
    url = "https://example.com/xml?a=1&b=2"
    done = account.xml("posts/add", url=url, description='Quotes " & <angles>', extended="line one\nline two",
                       tags="b a", dt="2020-09-02T03:59:55Z", shared="no", toread="yes")  # fmt: skip
    assert (done.tag, dict(done.attrib)) == ("result", {"code": "done"})

    posts = account.xml("posts/get", url=url, meta="yes")
    assert posts.tag == "posts"
    assert posts.attrib["user"] == account.username and posts.attrib["dt"] == "2020-09-02"
    [post] = posts
    assert post.tag == "post"
    assert post.attrib["href"] == url and post.attrib["time"] == "2020-09-02T03:59:55Z"
    assert post.attrib["description"] == 'Quotes " & <angles>'
    assert post.attrib["extended"] == "line one\nline two"
    assert post.attrib["tag"] == "a b toread"
    assert post.attrib["shared"] == "no" and post.attrib["toread"] == "yes"
    assert re.fullmatch(r"[0-9a-f]{32}", post.attrib["hash"]) and re.fullmatch(
        r"[0-9a-f]{32}", post.attrib["meta"]
    )
    assert "meta" not in account.xml("posts/get", url=url)[0].attrib  # only when asked for

    all_posts = account.xml("posts/all")
    assert all_posts.tag == "posts" and [p.attrib["href"] for p in all_posts] == [url]
    recent = account.xml("posts/recent", count=5)
    assert recent.tag == "posts" and TIME.match(recent.attrib["dt"]) and len(recent) == 1

    dates = account.xml("posts/dates")
    assert dates.tag == "dates" and dates.attrib["user"] == account.username
    assert [dict(d.attrib) for d in dates] == [{"count": "1", "date": "2020-09-02"}]

    tags = account.xml("tags/get")
    assert tags.tag == "tags"
    assert sorted((t.attrib["tag"], t.attrib["count"]) for t in tags) == [
        ("a", "1"),
        ("b", "1"),
        ("toread", "1"),
    ]

    update = account.xml("posts/update")
    assert update.tag == "update" and TIME.match(update.attrib["time"])

    renamed = account.xml("tags/rename", old="a", new="c")
    assert (renamed.tag, renamed.text) == ("result", "done")
    token = account.xml("user/api_token")
    assert (token.tag, token.text) == ("result", account.token)

    suggested = account.xml("posts/suggest", url=url)
    assert suggested.tag == "suggested"
    assert [e.text for e in suggested.iter("recommended")][:3] == ["b", "c", "toread"]

    missing = account.xml("posts/delete", url="https://example.com/nothing")
    assert (missing.tag, dict(missing.attrib)) == ("result", {"code": "item not found"})
    assert dict(account.xml("posts/delete", url=url).attrib) == {"code": "done"}


def test_json_answers_have_pinboards_shapes(account: Account) -> None:
    url = "https://example.com/json"
    assert account.json("posts/add", url=url, description="J", tags="j") == {"result_code": "done"}
    got = account.json("posts/get", url=url)
    assert set(got) == {"date", "user", "posts"} and TIME.match(got["date"])
    [post] = got["posts"]
    assert set(post) == {
        "href",
        "description",
        "extended",
        "meta",
        "hash",
        "time",
        "shared",
        "toread",
        "tags",
    }
    assert (post["shared"], post["toread"], post["tags"]) == ("yes", "no", "j")
    assert account.json("posts/all") == [post]
    assert account.json("posts/all", results=0) == []
    dates = account.json("posts/dates")
    assert set(dates) == {"user", "tag", "dates"} and list(dates["dates"].values()) == [1]
    assert account.json("tags/get") == {"j": 1}
    assert set(account.json("posts/update")) == {"update_time"}
    assert account.json("posts/suggest", url=url) == [{"popular": []}, {"recommended": ["j"]}]
    assert account.json("posts/add", url=url, description="J", replace="no") == {
        "result_code": "item already exists"
    }
    assert account.json("posts/recent", tag="a b c d") == {"result_code": "filter by at most 3 tags"}
    assert account.json("user/secret") == {"result": account.token}
    assert account.json("tags/rename", old="nope", new="x") == {"result": "item not found"}
    assert account.json("tags/delete", tag="nope") == {"result": "item not found"}
    assert account.json("tags/rename", old="j") == {"result": "missing new"}
    assert account.json("tags/delete", tag="j") == {"result": "done"}
    assert account.json("tags/get") == {}


def test_meta_changes_with_the_link_and_hash_does_not(system: RunningSystem, account: Account) -> None:
    url = "https://example.com/meta"
    account.json("posts/add", url=url, description="Before")
    [before] = account.json("posts/get", url=url)["posts"]
    with system.client(account.token) as c:
        assert c.put("/v1/links", json={"url": url, "title": "After"}).status_code == 200
    [after] = account.json("posts/get", url=url)["posts"]
    assert after["description"] == "After"
    assert after["meta"] != before["meta"] and after["hash"] == before["hash"]


def test_post_with_a_form_and_http_basic(system: RunningSystem, account: Account) -> None:
    url = "https://example.com/form"
    form = {
        "auth_token": f"{account.username}:{account.token}",
        "url": url,
        "description": "Form",
        "format": "json",
    }
    response = httpx.post(f"{system.gateway}/pinboard/v1/posts/add", data=form)
    assert response.json() == {"result_code": "done"}
    basic = httpx.get(
        f"{system.gateway}/pinboard/v1/posts/get",
        params={"url": url, "format": "json"},
        auth=(account.username, account.token),
    )
    assert basic.status_code == 200 and basic.json()["posts"][0]["description"] == "Form"
    wrong = httpx.get(f"{system.gateway}/pinboard/v1/posts/update", auth=(account.username, "wrong-token"))
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthenticated"
    anonymous = httpx.get(f"{system.gateway}/pinboard/v1/posts/update")
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Basic ")


def test_posts_update_moves_on_every_change_a_delete_included(account: Account) -> None:
    """Clients poll posts/update to know whether to download their bookmarks again;
    Pinboard's times have whole seconds, so the changes here are a second apart."""

    def update_time() -> str:
        answered: str = account.json("posts/update")["update_time"]
        assert TIME.match(answered)
        return answered

    assert update_time() == "1970-01-01T00:00:00Z"  # nothing saved yet
    url = "https://example.com/polled"
    account.call("posts/add", url=url, description="Polled")
    added = update_time()
    assert added > "1970-01-01T00:00:00Z"
    time.sleep(1.1)
    account.call("posts/delete", url=url)
    assert update_time() > added  # no bookmark is left, and yet it moved


@pytest.mark.parametrize("method", ["posts/get", "posts/recent", "posts/dates", "posts/all"])
@pytest.mark.parametrize("tag", ["a\x00b", "x" * 65])
def test_a_filter_tag_no_link_could_carry_is_a_bad_argument(account: Account, method: str, tag: str) -> None:
    """As posts/add answers for such a tag: Pinboard's result code, not a server error."""
    answer = account.json(method, tag=tag)
    assert answer["result_code"].startswith("tag: "), answer


def test_filter_tags_match_as_link_tags_do_whatever_their_case(account: Account) -> None:
    url = "https://example.com/filter-case"
    assert account.json("posts/add", url=url, tags="Mixed")["result_code"] == "done"
    assert [p["href"] for p in account.json("posts/get", url=url, tag=" MIXED ")["posts"]] == [url]
    assert [p["href"] for p in account.json("posts/recent", tag="mixed")["posts"]] == [url]


@pytest.mark.parametrize("url", ["http://[::1/", "http://a\x00b/", "https://example.com/\x00"])
@pytest.mark.parametrize("method", ["posts/suggest", "posts/get"])
def test_a_url_no_link_could_have_is_a_bad_argument(account: Account, method: str, url: str) -> None:
    assert account.json(method, url=url)["result_code"].startswith("url: ")
