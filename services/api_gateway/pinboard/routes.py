"""/pinboard/v1/...: Pinboard's API v1, method for method, on GET and on POST (form).

A call the service refused (bad argument, no such link, already there, over the limit)
is answered as Pinboard answers it: `200` with its wording in the result, which is where
every client library looks for it. Authentication (401), the rate limit (429) and an
unavailable back end (503) keep their HTTP statuses and the gateway's error body.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Response

from api_gateway.docs import errors
from api_gateway.pinboard import account, posts
from api_gateway.pinboard.auth import Call, PinboardCall
from api_gateway.pinboard.formats import (
    JSON_MEDIA_TYPE,
    XML_MEDIA_TYPE,
    Reply,
    ResultCode,
    ResultText,
    render,
)
from delinkcious.errors import (
    AlreadyExists,
    DelinkciousError,
    InvalidArgument,
    LimitExceeded,
    NotFound,
    PermissionDenied,
)

PREFIX = "/pinboard/v1"
router = APIRouter(prefix=PREFIX, tags=["pinboard"])

# Failures Pinboard reports in its answer, and the words it uses.
_REFUSALS = (InvalidArgument, NotFound, AlreadyExists, LimitExceeded, PermissionDenied)
_WORDING: dict[type[DelinkciousError], str] = {
    NotFound: "item not found",
    AlreadyExists: "item already exists",
}

_COMMON = {
    "auth_token": "`<username>:<token>` (or HTTP Basic: the username, a token as the password)",
    "format": "`json` for JSON; XML otherwise",
}
_FILTER = "Filter by up to three tags, space-separated (all must be on the bookmark)"

Handler = Callable[[Call], Awaitable[Reply]]


def _responses() -> dict[int | str, dict[str, Any]]:
    ok = {
        "description": "Pinboard's answer; a refused call carries Pinboard's wording in its result "
        '(`<result code="item not found" />`, `{"result_code": "item not found"}`)',
        "content": {XML_MEDIA_TYPE: {"schema": {"type": "string"}}, JSON_MEDIA_TYPE: {"schema": {}}},
    }
    return {200: ok, **errors(401, 413, 429, 503)}


def _parameters(arguments: dict[str, str]) -> dict[str, Any]:
    # Optional in the schema even where Pinboard requires them: a missing one is
    # answered in Pinboard's words ("missing url"), not with an HTTP error.
    documented = {**arguments, **_COMMON}
    return {
        "parameters": [
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": text,
            }
            for name, text in documented.items()
        ]
    }


def _method(path: str, handler: Handler, summary: str, arguments: dict[str, str], result_text: bool) -> None:
    async def endpoint(call: PinboardCall) -> Response:
        try:
            reply = await handler(call)
        except _REFUSALS as exc:
            wording = _WORDING.get(type(exc), exc.message)
            reply = ResultText(wording) if result_text else ResultCode(wording)
        return render(reply, call.as_json)

    name = "pinboard_" + path.replace("/", "_")
    endpoint.__name__ = name
    for method in ("GET", "POST"):
        router.add_api_route(
            "/" + path,
            endpoint,
            methods=[method],
            operation_id=f"{name}_{method.lower()}",
            summary=summary,
            description="The same arguments work as a query string or, on POST, as a form "
            "(`application/x-www-form-urlencoded`).",
            response_class=Response,
            responses=_responses(),
            openapi_extra=_parameters(arguments),
        )


_method("posts/update", posts.update, "Time of the newest change to a bookmark", {}, False)
_method(
    "posts/add",
    posts.add,
    "Add a bookmark (or replace the one with this URL)",
    {
        "url": "Required. The bookmark's URL",
        "description": "Its title",
        "extended": "Its description",
        "tags": "Up to 50 tags, space-separated",
        "dt": "When it was saved, like 2010-12-11T19:48:02Z (default now)",
        "replace": "`yes` (default) replaces a bookmark with this URL; `no` answers `item already exists`",
        "shared": "`no` makes it private",
        "toread": "`yes` adds the tag `toread`",
    },
    False,
)
_method("posts/delete", posts.delete, "Delete a bookmark", {"url": "Required. The bookmark's URL"}, False)
_method(
    "posts/get",
    posts.get,
    "Bookmarks of one day, or the one with a URL",
    {
        "tag": _FILTER,
        "dt": "The day, like 2010-12-11 (default: the day of the newest bookmark)",
        "url": "The bookmark with this URL",
        "meta": "`yes` adds the change signature `meta` to each post (JSON always has it)",
    },
    False,
)
_method(
    "posts/recent",
    posts.recent,
    "The newest bookmarks",
    {"tag": _FILTER, "count": "How many: default 15, at most 100"},
    False,
)
_method("posts/dates", posts.dates, "How many bookmarks were saved each day", {"tag": _FILTER}, False)
_method(
    "posts/all",
    posts.all_posts,
    "All bookmarks, newest first",
    {
        "tag": _FILTER,
        "start": "Skip this many (default 0)",
        "results": "Return at most this many (default all)",
        "fromdt": "Only those saved at or after this time",
        "todt": "Only those saved at or before this time",
        "meta": "`yes` adds the change signature `meta` to each post (JSON always has it)",
    },
    False,
)
_method(
    "posts/suggest",
    posts.suggest,
    "Tags for a URL: the bookmark's own, then the ones most used on the same site",
    {"url": "Required. The URL"},
    False,
)
_method("tags/get", account.tags_get, "Your tags and how many bookmarks carry each", {}, True)
_method("tags/delete", account.tags_delete, "Remove a tag from every bookmark", {"tag": "Required"}, True)
_method(
    "tags/rename",
    account.tags_rename,
    "Rename a tag on every bookmark (merging into an existing one)",
    {"old": "Required. The tag now", "new": "Required. Its new name"},
    True,
)
_method("user/secret", account.secret, "A token for the feeds (the one this call used)", {}, True)
_method("user/api_token", account.api_token, "The API token (the one this call used)", {}, True)
