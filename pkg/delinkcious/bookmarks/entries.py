"""What an import carries from the gateway to link-manager, and what it answers.

Entries are checked one by one in link-manager (a bad url fails that entry alone), so
their fields are loose here: link-manager's rules are the ones every surface shares.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from delinkcious.bookmarks.reader import Bookmark, parse
from delinkcious.models import Strict, Timestamp

MAX_LISTED_ERRORS = 100
MIB = 1024 * 1024
# The file a user uploads to the gateway.
MAX_IMPORT_FILE_BYTES = 20 * MIB
# Its entries as JSON, from the gateway to link-manager: more than any 20 MiB export
# needs (icons are dropped, markup goes), so only pathological files meet it.
MAX_IMPORT_REQUEST_BYTES = 64 * MIB


class ImportEntry(BaseModel):
    url: str = ""
    title: str = ""
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    private: bool | None = None  # None: public unless the import says otherwise
    created_at: Timestamp | None = None  # None: now


class ImportRequest(Strict):
    entries: list[ImportEntry]


class ImportFailure(BaseModel):
    url: str
    message: str


class ImportResult(BaseModel):
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[ImportFailure] = Field(
        default_factory=list, description=f"The first {MAX_LISTED_ERRORS} failures"
    )


def entry_of(bookmark: Bookmark) -> ImportEntry:
    return ImportEntry(
        url=bookmark.url or "",
        title=bookmark.title,
        description=bookmark.description,
        tags=bookmark.tags,
        private=bookmark.private,
        created_at=bookmark.created_at,
    )


def read_entries(data: bytes, folders_as_tags: bool = True) -> list[ImportEntry]:
    """A Netscape bookmark file as import entries (InvalidArgument if it is not one)."""
    return [entry_of(b) for b in parse(data, folders_as_tags)]
