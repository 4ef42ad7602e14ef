"""Atom 1.0 (RFC 4287) documents of news events and links.

Ids are `urn:uuid:` URNs derived from what identifies the thing (the event, or the link
and when it was saved), so they stay the same from one poll to the next; a link saved
again after a deletion is a new entry.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime

from api_gateway.pinboard.formats import xml_text
from delinkcious.models import EventType, Link, NewsEvent
from delinkcious.timeutil import rfc3339

ATOM_NS = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # `updated` of a feed with no entry yet
_VERBS = {EventType.LINK_ADDED: "saved", EventType.LINK_UPDATED: "updated", EventType.LINK_DELETED: "deleted"}


def stable_id(*parts: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, "\n".join(parts)).urn


@dataclass
class Entry:
    id: str
    title: str
    href: str
    author: str
    updated: datetime
    published: datetime | None = None
    summary: str = ""
    categories: list[str] = field(default_factory=list)


@dataclass
class Feed:
    id: str
    title: str
    self_href: str
    author: str
    entries: list[Entry]

    @property
    def updated(self) -> datetime:
        return max((entry.updated for entry in self.entries), default=EPOCH)

    def to_xml(self) -> bytes:
        feed = ET.Element("feed", {"xmlns": ATOM_NS})
        _text(feed, "id", self.id)
        _text(feed, "title", self.title)
        _text(feed, "updated", rfc3339(self.updated))
        _text(ET.SubElement(feed, "author"), "name", self.author)
        ET.SubElement(feed, "link", {"rel": "self", "type": MEDIA_TYPE, "href": self.self_href})
        _text(feed, "generator", "Delinkcious")
        for entry in self.entries:
            feed.append(_entry(entry))
        return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = xml_text(text)
    return element


def _entry(entry: Entry) -> ET.Element:
    element = ET.Element("entry")
    _text(element, "id", entry.id)
    _text(element, "title", entry.title)
    ET.SubElement(element, "link", {"rel": "alternate", "href": xml_text(entry.href)})
    _text(ET.SubElement(element, "author"), "name", entry.author)
    _text(element, "updated", rfc3339(entry.updated))
    if entry.published is not None:
        _text(element, "published", rfc3339(entry.published))
    for term in entry.categories:
        ET.SubElement(element, "category", {"term": xml_text(term)})
    if entry.summary:
        _text(element, "summary", entry.summary)
    return element


def news_feed(base_url: str, username: str, events: list[NewsEvent]) -> Feed:
    entries = [
        Entry(
            id=stable_id(
                base_url, "news", event.username, event.event_type, event.url, rfc3339(event.timestamp)
            ),
            title=event.title or event.url,
            href=event.url,
            author=event.username,
            updated=event.timestamp,
            summary=f"{event.username} {_VERBS.get(event.event_type, 'changed')} {event.url}",
            categories=[str(event.event_type)],
        )
        for event in events
    ]
    return Feed(
        id=stable_id(base_url, "feeds/news", username),
        title=f"Delinkcious news for {username}",
        self_href=f"{base_url}/feeds/news.atom",
        author="Delinkcious",
        entries=entries,
    )


def links_feed(base_url: str, username: str, links: list[Link]) -> Feed:
    entries = [
        Entry(
            id=stable_id(base_url, "link", username, link.url, rfc3339(link.created_at)),
            title=link.title or link.url,
            href=link.url,
            author=username,
            updated=link.updated_at,
            published=link.created_at,
            summary=link.description,
            categories=list(link.tags),
        )
        for link in links
    ]
    return Feed(
        id=stable_id(base_url, "feeds/links", username),
        title=f"Delinkcious links of {username}",
        self_href=f"{base_url}/feeds/links.atom",
        author=username,
        entries=entries,
    )
