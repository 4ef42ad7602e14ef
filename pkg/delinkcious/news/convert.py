"""Between the object model and news.v1 messages, in one place for server and client."""

from __future__ import annotations

from datetime import UTC

from delinkcious.models import EventType, NewsEvent, NewsPage
from delinkcious.news.v1 import news_pb2

_TO_PROTO: dict[EventType, news_pb2.EventType] = {
    EventType.LINK_ADDED: news_pb2.EVENT_TYPE_LINK_ADDED,
    EventType.LINK_UPDATED: news_pb2.EVENT_TYPE_LINK_UPDATED,
    EventType.LINK_DELETED: news_pb2.EVENT_TYPE_LINK_DELETED,
}
_FROM_PROTO = {value: key for key, value in _TO_PROTO.items()}


def event_to_proto(event: NewsEvent) -> news_pb2.Event:
    message = news_pb2.Event(
        event_type=_TO_PROTO[event.event_type],
        username=event.username,
        url=event.url,
        title=event.title,
    )
    message.timestamp.FromDatetime(event.timestamp)
    return message


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
        timestamp=message.timestamp.ToDatetime(tzinfo=UTC),
    )


def page_to_proto(page: NewsPage) -> news_pb2.GetNewsResponse:
    return news_pb2.GetNewsResponse(
        events=[event_to_proto(e) for e in page.events], next_page_token=page.next_page_token
    )


def page_from_proto(message: news_pb2.GetNewsResponse) -> NewsPage:
    """Events of a type added to the API after this code was built are left out, so an
    older client keeps working against a newer server."""
    known = [e for e in message.events if e.event_type in _FROM_PROTO]
    return NewsPage(events=[event_from_proto(e) for e in known], next_page_token=message.next_page_token)
