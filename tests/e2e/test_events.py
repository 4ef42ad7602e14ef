"""Events end to end, through the gateway's public API with every process running:
the outbox relay, JetStream, the news fan-out into Redis, and their faults."""

from __future__ import annotations

import signal
import time
from collections import Counter

from tests.e2e.conftest import RunningSystem, unique
from tests.e2e.helpers import eventually, news


def test_a_followed_users_link_reaches_followers_within_a_second(system: RunningSystem) -> None:
    author, reader, stranger = unique("author"), unique("reader"), unique("stranger")
    tokens = {name: system.login(name) for name in (author, reader, stranger)}
    with system.client(tokens[reader]) as c:
        assert c.post("/v1/following", json={"followed": author}).status_code == 204
    with system.client(tokens[author]) as c:
        assert (
            c.post("/v1/links", json={"url": "https://example.com/fast", "title": "Fast"}).status_code == 201
        )
    added_at = time.monotonic()
    with system.client(tokens[reader]) as c:
        events = eventually(lambda: news(c), lambda e: len(e) == 1, within=1.0)
    arrived_after = time.monotonic() - added_at
    assert arrived_after < 1.0
    assert events[0]["event_type"] == "link_added"
    assert events[0]["username"] == author
    assert events[0]["url"] == "https://example.com/fast"
    assert events[0]["title"] == "Fast"
    assert events[0]["timestamp"].endswith("Z")
    with system.client(tokens[stranger]) as c:
        assert news(c) == []


def test_updates_and_deletes_arrive_and_unfollowing_stops_news(system: RunningSystem) -> None:
    author, reader = unique("author"), unique("reader")
    a, r = system.login(author), system.login(reader)
    with system.client(r) as c:
        assert c.post("/v1/following", json={"followed": author}).status_code == 204
    with system.client(a) as c:
        assert c.post("/v1/links", json={"url": "https://example.com/x"}).status_code == 201
        assert (
            c.put("/v1/links", json={"url": "https://example.com/x", "title": "Renamed"}).status_code == 200
        )
        assert c.delete("/v1/links", params={"url": "https://example.com/x"}).status_code == 204
    with system.client(r) as c:
        events = eventually(lambda: news(c), lambda e: len(e) == 3, within=5)
        assert [e["event_type"] for e in events] == ["link_deleted", "link_updated", "link_added"]
        assert events[1]["title"] == "Renamed"
        assert c.delete("/v1/following", params={"followed": author}).status_code == 204
    with system.client(a) as c:
        assert c.post("/v1/links", json={"url": "https://example.com/after-unfollow"}).status_code == 201
    # A later event for a still-following user proves the pipeline moved past it.
    witness = unique("witness")
    w = system.login(witness)
    with system.client(w) as c:
        assert c.post("/v1/following", json={"followed": author}).status_code == 204
    with system.client(a) as c:
        assert c.post("/v1/links", json={"url": "https://example.com/witnessed"}).status_code == 201
    with system.client(w) as c:
        eventually(lambda: news(c), lambda e: any(x["url"].endswith("witnessed") for x in e), within=5)
    with system.client(r) as c:
        assert len(news(c)) == 3


def _exactly_once(system: RunningSystem, token: str, urls: set[str], within: float) -> None:
    with system.client(token) as c:
        events = eventually(
            lambda: news(c), lambda e: urls <= {x["url"] for x in e}, within=within, every=0.2
        )
    counts = Counter(x["url"] for x in events if x["event_type"] == "link_added")
    assert {u: counts[u] for u in urls} == dict.fromkeys(urls, 1)


def test_links_added_while_nats_is_down_reach_every_follower_exactly_once(system: RunningSystem) -> None:
    author = unique("author")
    readers = [unique("reader") for _ in range(3)]
    a = system.login(author)
    reader_tokens = [system.login(r) for r in readers]
    for token in reader_tokens:
        with system.client(token) as c:
            assert c.post("/v1/following", json={"followed": author}).status_code == 204
    urls = {f"https://example.com/outage/{i}" for i in range(50)}
    system.nats.stop()
    try:
        with system.client(a) as c:
            for url in sorted(urls):
                response = c.post("/v1/links", json={"url": url})
                assert response.status_code == 201, response.text  # accepted into the outbox
    finally:
        system.nats.start()
    for token in reader_tokens:
        _exactly_once(system, token, urls, within=30)


def test_news_manager_killed_mid_stream_loses_and_duplicates_nothing(system: RunningSystem) -> None:
    author, reader = unique("author"), unique("reader")
    a, r = system.login(author), system.login(reader)
    with system.client(r) as c:
        assert c.post("/v1/following", json={"followed": author}).status_code == 204
    urls = [f"https://example.com/crash/{i}" for i in range(50)]
    with system.client(a) as c:
        for i, url in enumerate(urls):
            if i == 20:
                system.local.kill("news-manager", signal.SIGKILL)
            assert c.post("/v1/links", json={"url": url}).status_code == 201
    system.local.restart("news-manager")
    # Messages the killed instance had pulled but not acknowledged come back after the
    # consumer's ack wait (15 s).
    _exactly_once(system, r, set(urls), within=60)


def test_news_holds_only_events_from_after_the_follow(system: RunningSystem) -> None:
    author, reader = unique("author"), unique("reader")
    a, r = system.login(author), system.login(reader)
    with system.client(a) as c:
        assert c.post("/v1/links", json={"url": "https://example.com/before-follow"}).status_code == 201
    with system.client(r) as c:
        assert c.post("/v1/following", json={"followed": author}).status_code == 204
    with system.client(a) as c:
        assert c.post("/v1/links", json={"url": "https://example.com/after-follow"}).status_code == 201
    with system.client(r) as c:
        eventually(lambda: news(c), lambda e: len(e) >= 1, within=5)
        time.sleep(0.5)  # give a wrongly delivered earlier event the time to show up
        assert [e["url"] for e in news(c)] == ["https://example.com/after-follow"]
