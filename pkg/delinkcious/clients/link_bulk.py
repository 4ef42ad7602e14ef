"""link-manager's bulk routes, as part of LinkClient: one request for a whole import,
and an export read as a stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import httpx

from delinkcious.bookmarks import MAX_IMPORT_REQUEST_BYTES, ImportEntry, ImportRequest, ImportResult
from delinkcious.clients.base import ServiceClient
from delinkcious.errors import PayloadTooLarge, Unavailable
from delinkcious.models import Link

# An import of many thousands of entries takes seconds, not the usual fraction of one.
IMPORT_TIMEOUT = httpx.Timeout(300.0, connect=2.0)
_END = b'{"end"'


def _encode(entries: Sequence[ImportEntry]) -> bytes:
    body = ImportRequest(entries=list(entries)).model_dump_json(exclude_defaults=True).encode()
    if len(body) > MAX_IMPORT_REQUEST_BYTES:
        raise PayloadTooLarge(
            f"the file's bookmarks are more than one import takes ({len(body)} bytes as JSON, at most"
            f" {MAX_IMPORT_REQUEST_BYTES}); split the file"
        )
    return body


class LinkBulk(ServiceClient):
    async def import_links(
        self, username: str, entries: Sequence[ImportEntry], private: bool | None = None
    ) -> ImportResult:
        """Imports every entry in one request. `private` True or False overrides each
        entry's own flag. Not retried: a second attempt would only merge, but the caller
        should decide."""
        body = await asyncio.to_thread(_encode, entries)  # large: not on the event loop
        params = {} if private is None else {"private": "true" if private else "false"}
        response = await self.request(
            "POST",
            f"/users/{username}/links/import",
            content=body,
            params=params,
            headers={"content-type": "application/json"},
            timeout=IMPORT_TIMEOUT,
        )
        return await asyncio.to_thread(ImportResult.model_validate_json, response.content)

    async def export_links(self, username: str) -> AsyncIterator[Link]:
        """Every link of the user, newest first, read incrementally from link-manager's
        stream. Unavailable if the stream breaks off before its end."""
        try:
            async for line in self.stream_lines("GET", f"/users/{username}/links/export"):
                if line.startswith(_END):
                    return
                if line:
                    yield Link.model_validate_json(line)
        except Unavailable as exc:
            what = "timed out during" if "timed out" in exc.message else "broke off"
            raise Unavailable(f"{self.service} {what} an export") from None
        raise Unavailable(f"{self.service} ended an export early")
