"""/v1/import and /v1/export: Netscape bookmark files in and out.

The gateway only translates: it parses the file (off the event loop) and sends every
entry to link-manager in one request; link-manager checks, merges and writes them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api_gateway.deps import Links, User
from api_gateway.docs import ErrorBody, errors
from delinkcious.bookmarks import MAX_IMPORT_FILE_BYTES, ImportResult, read_entries
from delinkcious.bookmarks import writer as netscape
from delinkcious.models import Link

log = logging.getLogger("api_gateway.bookmarks")

router = APIRouter(prefix="/v1", tags=["import and export"])

IMPORT_PATH = "/v1/import"
_LINKS_PER_CHUNK = 100

_FILE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A Netscape bookmark file, as browsers and bookmark managers export it",
        "content": {"text/html": {"schema": {"type": "string", "format": "binary"}}},
    }
}
_IMPORT_ERRORS: dict[int | str, dict[str, Any]] = {
    **errors(401, 429, 503),
    400: {
        "model": ErrorBody,
        "description": "Invalid argument: not a bookmark file, over 100000 entries, a bad query parameter",
    },
    413: {
        "model": ErrorBody,
        "description": f"Payload too large: the file is over {MAX_IMPORT_FILE_BYTES // 2**20} MiB",
    },
}


@router.post(
    "/import",
    summary="Import a Netscape bookmark file",
    openapi_extra=_FILE_BODY,
    responses=_IMPORT_ERRORS,
)
async def import_bookmarks(
    user: User,
    request: Request,
    links: Links,
    folders_as_tags: Annotated[
        bool, Query(description="The names of the folders a bookmark sits in become its tags")
    ] = True,
    private: Annotated[
        bool | None,
        Query(description="`true` makes every imported link private; default: each entry's PRIVATE"),
    ] = None,
) -> ImportResult:
    """The exports of every browser, Pinboard, Delicious, linkding and the like. Each
    entry imports or fails alone (`errors` lists the first 100 failures): an entry
    whose url you already have is merged (its tags added, an empty title or
    description filled), so importing the same file again creates nothing."""
    body = await request.body()
    entries = await run_in_threadpool(read_entries, body, folders_as_tags)
    return await links.import_links(user, entries, private)


@router.get(
    "/export",
    summary="Export your links as a Netscape bookmark file",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "A Netscape bookmark file of all your links, newest first",
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
        **errors(401, 429, 503),
    },
)
async def export_bookmarks(user: User, links: Links) -> StreamingResponse:
    """Every link with `HREF`, `ADD_DATE` and `LAST_MODIFIED` (seconds), `TAGS`,
    `PRIVATE` (1/0), its title and its description as `<DD>`. Streamed: the file is
    never whole in memory."""
    stream = links.export_links(user)
    # The first read happens before the answer starts, so link-manager being down is
    # a 503, not a 200 with an empty file.
    first = await anext(stream, None)
    return StreamingResponse(
        _file(first, stream, user),
        media_type="text/html; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="delinkcious-{user}.html"'},
    )


async def _file(first: Link | None, rest: AsyncIterator[Link], user: str) -> AsyncIterator[str]:
    yield netscape.HEADER
    chunk: list[str] = []
    if first is not None:
        chunk.append(netscape.entry(first))
        try:
            async for link in rest:
                chunk.append(netscape.entry(link))
                if len(chunk) >= _LINKS_PER_CHUNK:
                    yield "".join(chunk)
                    chunk.clear()
        except Exception:
            # The status line is long gone: all that is left is to stop, the file
            # visibly unfinished (no closing </DL>).
            log.exception("export broke off", extra={"username": user})
            yield "".join(chunk)
            return
    yield "".join(chunk) + netscape.FOOTER
