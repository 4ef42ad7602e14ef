"""From news.v1 messages to the object model or the API's JSON (the client side; the
server writes its messages from feed entries, in news_service.transport).

These run on every news read: timestamps are converted with plain arithmetic
(protobuf's datetime helpers cost more than the rest of an event), and the gateway can
have the API's JSON written straight from the message.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from google.protobuf.timestamp_pb2 import Timestamp

from delinkcious.models import EventType, NewsEvent, NewsPage
from delinkcious.news.v1 import news_pb2

EVENT_TYPE_TO_PROTO: dict[EventType, news_pb2.EventType] = {
    EventType.LINK_ADDED: news_pb2.EVENT_TYPE_LINK_ADDED,
    EventType.LINK_UPDATED: news_pb2.EVENT_TYPE_LINK_UPDATED,
    EventType.LINK_DELETED: news_pb2.EVENT_TYPE_LINK_DELETED,
}
_FROM_PROTO = {value: key for key, value in EVENT_TYPE_TO_PROTO.items()}
# The API's spelling of each type, for answers written straight from a message.
_NAME_FROM_PROTO = {value: key.value for key, value in EVENT_TYPE_TO_PROTO.items()}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)


def _moment(timestamp: Timestamp) -> datetime:
    return _EPOCH + timedelta(0, timestamp.seconds, timestamp.nanos // 1000)


def _rfc3339(timestamp: Timestamp) -> str:
    """What the API's Timestamp serialiser (delinkcious.timeutil.rfc3339) writes."""
    naive = _NAIVE_EPOCH + timedelta(0, timestamp.seconds, timestamp.nanos // 1000)
    return naive.isoformat(timespec="microseconds") + "Z"


def event_from_proto(message: news_pb2.Event) -> NewsEvent:
    """ValueError for an event type this side does not know (a newer server)."""
    event_type = _FROM_PROTO.get(message.event_type)
    if event_type is None:
        raise ValueError(f"unknown news event type {message.event_type}")
    return NewsEvent(
        event_type=event_type,
        username=message.username,
        url=message.url,
        title=message.title,
        timestamp=_moment(message.timestamp),
    )


def page_from_proto(message: news_pb2.GetNewsResponse) -> NewsPage:
    """Events of a type added to the API after this code was built are left out, so an
    older client keeps working against a newer server."""
    known = [e for e in message.events if e.event_type in _FROM_PROTO]
    return NewsPage(events=[event_from_proto(e) for e in known], next_page_token=message.next_page_token)


def page_json_from_proto(message: news_pb2.GetNewsResponse) -> bytes:
    """The API's JSON for the page (what NewsPage serialises to), written from the
    message without building models on the way; unknown event types are left out."""
    events = [
        {
            "event_type": _NAME_FROM_PROTO[e.event_type],
            "username": e.username,
            "url": e.url,
            "title": e.title,
            "timestamp": _rfc3339(e.timestamp),
        }
        for e in message.events
        if e.event_type in _NAME_FROM_PROTO
    ]
    return orjson.dumps({"events": events, "next_page_token": message.next_page_token})
