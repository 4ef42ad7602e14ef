"""Pinboard's answers, in its XML (the default) and its JSON (`format=json`).

The shapes are the ones Pinboard's API v1 documents and its client libraries parse:
element and attribute names, `yes`/`no`, space-separated tags, whole-second UTC times,
and JSON served as `text/json` (what Pinboard sends, and what aiopinboard insists on).
"""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from fastapi import Response

from delinkcious.models import Link
from delinkcious.timeutil import as_utc

XML_MEDIA_TYPE = "text/xml"
JSON_MEDIA_TYPE = "text/json"
TOREAD = "toread"  # Pinboard's unread flag is kept as this tag
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" ?>\n'
# Characters XML 1.0 cannot carry at all, not even as references.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)


def pinboard_time(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def url_hash(url: str) -> str:
    return hashlib.md5(url.encode("utf-8"), usedforsecurity=False).hexdigest()


def meta_hash(link: Link) -> str:
    """Changes whenever anything a client shows of the link changes."""
    state = json.dumps(
        [link.url, link.title, link.description, link.tags, link.private, link.updated_at.isoformat()]
    )
    return hashlib.md5(state.encode("utf-8"), usedforsecurity=False).hexdigest()


def post_fields(link: Link) -> dict[str, str]:
    """One bookmark as Pinboard's JSON names it (the XML calls `tags` `tag`)."""
    return {
        "href": link.url,
        "description": link.title,
        "extended": link.description,
        "meta": meta_hash(link),
        "hash": url_hash(link.url),
        "time": pinboard_time(link.created_at),
        "shared": "no" if link.private else "yes",
        "toread": "yes" if TOREAD in link.tags else "no",
        "tags": " ".join(link.tags),
    }


def _post_element(link: Link, with_meta: bool) -> ET.Element:
    fields = post_fields(link)
    attributes = {
        "href": fields["href"],
        "time": fields["time"],
        "description": fields["description"],
        "extended": fields["extended"],
        "tag": fields["tags"],
        "hash": fields["hash"],
        **({"meta": fields["meta"]} if with_meta else {}),
        "shared": fields["shared"],
        "toread": fields["toread"],
    }
    return ET.Element("post", {k: xml_text(v) for k, v in attributes.items()})


class Reply(Protocol):
    def xml(self) -> ET.Element: ...

    def json(self) -> Any: ...


@dataclass
class ResultCode:
    """posts/add, posts/delete, and every failure: `<result code="done" />`."""

    code: str

    def xml(self) -> ET.Element:
        return ET.Element("result", {"code": xml_text(self.code)})

    def json(self) -> Any:
        return {"result_code": self.code}


@dataclass
class ResultText:
    """tags/delete, tags/rename, user/secret, user/api_token: `<result>done</result>`."""

    text: str

    def xml(self) -> ET.Element:
        element = ET.Element("result")
        element.text = xml_text(self.text)
        return element

    def json(self) -> Any:
        return {"result": self.text}


@dataclass
class UpdateTime:
    time: datetime

    def xml(self) -> ET.Element:
        return ET.Element("update", {"time": pinboard_time(self.time)})

    def json(self) -> Any:
        return {"update_time": pinboard_time(self.time)}


@dataclass
class PostList:
    """posts/get and posts/recent: `<posts user dt tag>` or {"date", "user", "posts"}.
    `day` is set for posts/get, whose `dt` is the day it lists."""

    user: str
    tag: str
    time: datetime
    links: list[Link]
    with_meta: bool = False
    day: date | None = None

    def xml(self) -> ET.Element:
        dt = self.day.isoformat() if self.day is not None else pinboard_time(self.time)
        root = ET.Element("posts", {"user": self.user, "dt": dt, "tag": xml_text(self.tag)})
        root.extend(_post_element(link, self.with_meta) for link in self.links)
        return root

    def json(self) -> Any:
        return {
            "date": pinboard_time(self.time),
            "user": self.user,
            "posts": [post_fields(link) for link in self.links],
        }


@dataclass
class AllPosts:
    """posts/all: `<posts user tag>` in XML, a bare list in JSON."""

    user: str
    tag: str
    links: list[Link]
    with_meta: bool = False

    def xml(self) -> ET.Element:
        root = ET.Element("posts", {"user": self.user, "tag": xml_text(self.tag)})
        root.extend(_post_element(link, self.with_meta) for link in self.links)
        return root

    def json(self) -> Any:
        return [post_fields(link) for link in self.links]


@dataclass
class PostDates:
    user: str
    tag: str
    counts: dict[date, int]  # newest day first

    def xml(self) -> ET.Element:
        root = ET.Element("dates", {"user": self.user, "tag": xml_text(self.tag)})
        for day, count in self.counts.items():
            ET.SubElement(root, "date", {"count": str(count), "date": day.isoformat()})
        return root

    def json(self) -> Any:
        return {
            "user": self.user,
            "tag": self.tag,
            "dates": {day.isoformat(): count for day, count in self.counts.items()},
        }


@dataclass
class TagCounts:
    counts: dict[str, int]

    def xml(self) -> ET.Element:
        root = ET.Element("tags")
        for name, count in self.counts.items():
            ET.SubElement(root, "tag", {"count": str(count), "tag": xml_text(name)})
        return root

    def json(self) -> Any:
        return dict(self.counts)


@dataclass
class Suggestions:
    popular: list[str] = field(default_factory=list)
    recommended: list[str] = field(default_factory=list)

    def xml(self) -> ET.Element:
        root = ET.Element("suggested")
        for kind, tags in (("popular", self.popular), ("recommended", self.recommended)):
            for tag in tags:
                ET.SubElement(root, kind).text = xml_text(tag)
        return root

    def json(self) -> Any:
        return [{"popular": self.popular}, {"recommended": self.recommended}]


def render(reply: Reply, as_json: bool, status_code: int = 200) -> Response:
    if as_json:
        body = json.dumps(reply.json(), ensure_ascii=False)
        return Response(body, status_code=status_code, media_type=JSON_MEDIA_TYPE)
    text = _XML_DECLARATION + ET.tostring(reply.xml(), encoding="unicode")
    return Response(text, status_code=status_code, media_type=XML_MEDIA_TYPE)
