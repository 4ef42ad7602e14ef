"""Netscape bookmark files, the format every browser and bookmark manager imports and
exports: reading them into import entries and writing links out as one."""

from delinkcious.bookmarks.entries import (
    MAX_IMPORT_FILE_BYTES,
    MAX_IMPORT_REQUEST_BYTES,
    MAX_LISTED_ERRORS,
    ImportEntry,
    ImportFailure,
    ImportRequest,
    ImportResult,
    read_entries,
)
from delinkcious.bookmarks.reader import MAX_ENTRIES, Bookmark, Folder, parse
from delinkcious.bookmarks.writer import ExportedLink, write

__all__ = [
    "MAX_ENTRIES",
    "MAX_IMPORT_FILE_BYTES",
    "MAX_IMPORT_REQUEST_BYTES",
    "MAX_LISTED_ERRORS",
    "Bookmark",
    "ExportedLink",
    "Folder",
    "ImportEntry",
    "ImportFailure",
    "ImportRequest",
    "ImportResult",
    "parse",
    "read_entries",
    "write",
]
