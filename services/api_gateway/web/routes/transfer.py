"""Import a Netscape bookmark file from the browser, and download an export: the same
parser, link-manager calls and writer as POST /v1/import and GET /v1/export."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api_gateway.deps import Links
from api_gateway.routes import bookmarks
from api_gateway.web import IMPORT_PATH
from api_gateway.web.deps import PageUser
from api_gateway.web.forms import form_of, text
from api_gateway.web.pages import WebRoute, is_partial, render
from delinkcious.bookmarks import MAX_IMPORT_FILE_BYTES, read_entries
from delinkcious.errors import InvalidArgument, LimitExceeded, PayloadTooLarge

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get(IMPORT_PATH)
async def import_page(request: Request, user: PageUser) -> Response:
    return render(request, "import.html")


@router.post(IMPORT_PATH)
async def import_file(request: Request, user: PageUser, links: Links) -> Response:
    form = await form_of(request)
    upload = form.get("file")
    template = "partials/import_result.html" if is_partial(request) else "import.html"
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidArgument("choose a bookmarks file to import")
        data = await upload.read(MAX_IMPORT_FILE_BYTES + 1)
        if len(data) > MAX_IMPORT_FILE_BYTES:
            raise PayloadTooLarge(f"the file is over {MAX_IMPORT_FILE_BYTES // 2**20} MiB")
        entries = await run_in_threadpool(read_entries, data, bool(text(form, "folders_as_tags")))
        result = await links.import_links(user, entries, True if text(form, "private") else None)
    except (InvalidArgument, LimitExceeded, PayloadTooLarge) as exc:
        return render(request, template, {"form_error": exc.message}, status_code=exc.status)
    return render(request, template, {"result": result})


@router.get("/export")
async def export_file(user: PageUser, links: Links) -> Response:
    """The very answer of GET /v1/export, for the signed-in browser."""
    return await bookmarks.export_bookmarks(user, links)
