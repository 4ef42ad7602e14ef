"""The version of each user's news feed: a Redis counter that news-manager moves in the
same script that adds an event to the feed, and that the gateway reads (in its rate
limiter's round trip) to tell whether a news page it kept is still what the feed holds.

The counter lives next to the feeds, in news-manager's keys; the gateway's Redis user
may reach these counters and no other key of news-manager's (the chart's redisAcl)."""

from __future__ import annotations

NEWS_VERSION_KEY_PREFIX = "news:version:"
# Far longer than any page is kept (NEWS_CACHE_SECONDS is at most 60): a counter that
# expired and starts again cannot meet a page kept under its old value.
NEWS_VERSION_KEY_SECONDS = 86_400


def news_version_key(username: str) -> str:
    return NEWS_VERSION_KEY_PREFIX + username
