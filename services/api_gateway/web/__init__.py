"""The web pages: server-rendered HTML at `/` over the same internal clients as the
REST routes, with a cookie session, CSRF protection and a strict CSP."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from api_gateway.web.pages import SECURITY_HEADERS, STATIC_DIR
from delinkcious.bookmarks import MAX_IMPORT_FILE_BYTES

IMPORT_PATH = "/import"
# A bookmarks file as big as POST /v1/import takes, plus the form's other fields.
MAX_IMPORT_FORM_BYTES = MAX_IMPORT_FILE_BYTES + 64 * 1024


class _StaticWithHeaders:
    """Static files with the pages' security headers and a day of caching (the htmx
    file's name carries its version, so an upgrade is a new URL)."""

    def __init__(self) -> None:
        self._files = StaticFiles(directory=STATIC_DIR)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                headers.append((b"cache-control", b"public, max-age=86400"))
                message["headers"] = headers
            await send(message)

        await self._files(scope, receive, with_headers)


def install(app: FastAPI) -> None:
    # Imported here: the pages use the API's routes, and the API's logout uses this package.
    from api_gateway.web.routes import account, links, people, tags, tokens, transfer

    routers = (account.router, links.router, people.router, tags.router, tokens.router, transfer.router)
    for router in routers:
        app.include_router(router)
    app.mount("/static", _StaticWithHeaders(), name="static")
