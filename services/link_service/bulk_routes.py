"""link-manager's internal import and export routes (the gateway's /v1/import and
/v1/export): one request for a whole file, and a stream of every link."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from delinkcious.app import from_app_state
from delinkcious.bookmarks import ImportRequest, ImportResult
from delinkcious.callers import callers
from delinkcious.errors import InvalidArgument
from delinkcious.models import Username
from link_service.service import LinkService

GATEWAY = "api-gateway"
IMPORT_PATH = r"/users/[^/]+/links/import"
# The export stream's last line; a stream cut short lacks it, so the reader can tell.
EXPORT_END_KEY = "end"


ServiceDep = Annotated[LinkService, from_app_state("service")]

bulk_router = APIRouter()


@bulk_router.post(
    "/users/{username}/links/import",
    dependencies=[callers(GATEWAY)],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "object", "description": '{"entries": [ImportEntry, ...]}'}
                }
            },
        }
    },
)
async def import_links(
    username: Username,
    request: Request,
    service: ServiceDep,
    private: Annotated[bool | None, Query()] = None,
) -> ImportResult:
    body = await request.body()
    # Decoding tens of thousands of entries takes a while: not on the event loop.
    return await run_in_threadpool(_import, service, username, body, private)


def _import(service: LinkService, username: str, body: bytes, private: bool | None) -> ImportResult:
    try:
        entries = ImportRequest.model_validate_json(body).entries
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidArgument(f"import body: {where}: {first['msg']}" if where else first["msg"]) from None
    return service.import_links(username, entries, private)


@bulk_router.get(
    "/users/{username}/links/export",
    dependencies=[callers(GATEWAY)],
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}, "description": "One Link per line"}},
)
def export_links(username: Username, service: ServiceDep) -> StreamingResponse:
    """Every link, newest first, one JSON Link per line, then `{"end": <count>}`."""

    def lines() -> Iterator[str]:
        count = 0
        for link in service.export_links(username):
            count += 1
            yield link.model_dump_json() + "\n"
        yield json.dumps({EXPORT_END_KEY: count}) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")
