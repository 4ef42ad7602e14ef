"""The object model shared by every service, shaped as api.md describes it.

Validation lives here once, so the gateway and the services reject the same input
with the same words.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
)

from delinkcious.errors import InvalidArgument
from delinkcious.timeutil import as_utc, rfc3339

MAX_URL_LENGTH = 2048
MAX_TITLE_LENGTH = 500
MAX_DESCRIPTION_LENGTH = 10_000
MAX_TAG_LENGTH = 64
MAX_TAGS = 50
MAX_REGEX_LENGTH = 256
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,38}$")
_TAG_FORBIDDEN = re.compile(r"[\s,]")

Timestamp = Annotated[
    datetime,
    AfterValidator(as_utc),
    PlainSerializer(rfc3339, return_type=str, when_used="json"),
]


def check_username(value: str) -> str:
    if not USERNAME_PATTERN.fullmatch(value):
        raise ValueError("a username is 1-39 characters of a-z, 0-9 and '-', not starting with '-'")
    return value


def require_username(value: str, field: str = "username") -> str:
    """check_username for business code: a bad name is an InvalidArgument naming the field."""
    try:
        return check_username(value)
    except ValueError as exc:
        raise InvalidArgument(f"{field}: {exc}") from None


def normalize_username(value: str) -> str:
    """Usernames from identity providers arrive in any case; ours are lowercase."""
    return check_username(value.strip().lower())


def check_url(value: str) -> str:
    value = no_nul(value.strip())
    if not value:
        raise ValueError("url must not be empty")
    if len(value) > MAX_URL_LENGTH:
        raise ValueError(f"url is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ValueError(f"url is malformed: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("url must be an absolute http or https URL")
    if not host:
        raise ValueError("url must have a host")
    if any(ch.isspace() for ch in value):
        raise ValueError("url must not contain whitespace")
    return value


def normalize_tag(value: str) -> str:
    tag = no_nul(value).strip().lower()
    if not tag:
        raise ValueError("a tag must not be empty")
    if len(tag) > MAX_TAG_LENGTH:
        raise ValueError(f"a tag is at most {MAX_TAG_LENGTH} characters")
    if _TAG_FORBIDDEN.search(tag):
        raise ValueError("a tag must not contain whitespace or commas")
    return tag


def normalize_tags(values: list[str]) -> list[str]:
    tags = sorted({normalize_tag(v) for v in values})
    if len(tags) > MAX_TAGS:
        raise ValueError(f"a link has at most {MAX_TAGS} tags")
    return tags


def no_nul(value: str) -> str:
    """Postgres cannot store NUL in text, and no database can store a lone surrogate
    (JSON may carry `"\\ud800"`): refuse both for every stored or queried string."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return _encodable(value)


def _encodable(value: str) -> str:
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


def _no_nul_optional(value: str | None) -> str | None:
    return None if value is None else no_nul(value)


def _strip(value: str) -> str:
    return value.strip()


def _not_blank(value: str) -> str:
    if not value:
        raise ValueError("must not be blank")
    return value


Username = Annotated[str, AfterValidator(check_username)]
# What the public API accepts: any case, lowercased on the way in (as GitHub logins).
AnyCaseUsername = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}$"), AfterValidator(normalize_username)
]
# The pattern documents the shape in OpenAPI; check_url has the last word.
Url = Annotated[str, Field(pattern=r"^\s*[Hh][Tt][Tt][Pp][Ss]?://\S"), AfterValidator(check_url)]
# Lengths are of the text as sent, as the schema says; the surrounding whitespace is
# trimmed after.
Title = Annotated[str, Field(max_length=MAX_TITLE_LENGTH), AfterValidator(_strip), AfterValidator(no_nul)]
Description = Annotated[str, Field(max_length=MAX_DESCRIPTION_LENGTH), AfterValidator(no_nul)]
Tags = Annotated[list[str], AfterValidator(normalize_tags)]
# The pattern only documents the shape (normalize_tag has the last word, and lowercasing
# may lengthen a tag): 1-64 characters once trimmed, no whitespace, comma or NUL inside.
TAG_PATTERN = rf"^\s*[^\s,\x00]{{1,{MAX_TAG_LENGTH}}}\s*$"
Tag = Annotated[
    str,
    Field(
        json_schema_extra={"pattern": TAG_PATTERN},
        description=f"Trimmed and lowercased; at most {MAX_TAG_LENGTH} characters, no whitespace or commas",
    ),
    AfterValidator(normalize_tag),
]
Regex = Annotated[str, Field(max_length=MAX_REGEX_LENGTH), AfterValidator(no_nul)]
PageSize = Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)]


class Strict(BaseModel):
    """Request bodies: unknown fields are a client mistake worth a clear 400."""

    model_config = ConfigDict(extra="forbid")


class LinkStatus(StrEnum):
    PENDING = "pending"
    VALID = "valid"
    INVALID = "invalid"


class EventType(StrEnum):
    LINK_ADDED = "link_added"
    LINK_UPDATED = "link_updated"
    LINK_DELETED = "link_deleted"


# ---------------------------------------------------------------- links


class Link(BaseModel):
    url: str
    title: str
    description: str
    tags: list[str]
    private: bool = False
    status: LinkStatus
    created_at: Timestamp
    updated_at: Timestamp
    checked_at: Timestamp | None = None


class NewLink(Strict):
    url: Url
    title: Title = ""
    description: Description = ""
    tags: Tags = Field(default_factory=list)
    private: StrictBool = False


class DatedNewLink(NewLink):
    """link-manager's internal create body: an import or a Pinboard client may say when
    the link was saved. The public API keeps NewLink, where `created_at` is unknown."""

    created_at: Timestamp | None = None


class LinkUpdate(Strict):
    url: Url
    title: Title | None = None
    description: Description | None = None
    add_tags: Tags = Field(default_factory=list)
    remove_tags: Tags = Field(default_factory=list)
    private: StrictBool | None = None


class LinkFilter(Strict):
    url_regex: Regex | None = None
    title_regex: Regex | None = None
    description_regex: Regex | None = None
    tags: Tags = Field(default_factory=list)
    private: bool | None = None


class LinkListQuery(BaseModel):
    """The query string of a link listing (`tag` repeats: every given tag must match)."""

    url_regex: Regex | None = None
    title_regex: Regex | None = None
    description_regex: Regex | None = None
    tag: Tags = Field(default_factory=list)
    private: bool | None = None
    page_size: PageSize = DEFAULT_PAGE_SIZE
    start_token: Annotated[str, Field(max_length=1024)] = ""

    def cache_key(self) -> tuple[object, ...]:
        """Every field, hashable: two queries share a key only if they ask for the same
        page. Taken from the model, so a field added later is part of it."""
        values = (getattr(self, name) for name in type(self).model_fields)
        return tuple(tuple(value) if isinstance(value, list) else value for value in values)

    def filters(self) -> LinkFilter:
        return LinkFilter(
            url_regex=self.url_regex,
            title_regex=self.title_regex,
            description_regex=self.description_regex,
            tags=self.tag,
            private=self.private,
        )


class LinkPage(BaseModel):
    links: list[Link]
    next_page_token: str = ""


class TagCount(BaseModel):
    name: str
    count: int


class TagList(BaseModel):
    tags: list[TagCount]


class LastChange(BaseModel):
    """When a user's links were last added, changed or deleted; None if never."""

    changed_at: Timestamp | None


class TagRename(Strict):
    name: Tag


class LinkCheckResult(Strict):
    """What the link checker found; applied by link-manager to the link it was made for."""

    link_id: int
    username: Username
    url: str
    status: LinkStatus
    title: str | None = None
    checked_at: Timestamp


class CheckRequest(Strict):
    """Asks the link checker to check one link (an incarnation of it, by id)."""

    link_id: int
    username: Username
    url: Url


class LinkEvent(BaseModel):
    """One create/update/delete of a link, as written to the outbox and sent on the bus."""

    event_id: str
    event_type: EventType
    link_id: int
    username: str
    url: str
    title: str
    timestamp: Timestamp
    # Whether the link was private after the change: such events reach nobody's news.
    # Defaults to False so rows and messages written before the field existed decode.
    private: bool = False


class NewsEvent(BaseModel):
    """A link event as a follower's news shows it."""

    event_type: EventType
    username: str
    url: str
    title: str
    timestamp: Timestamp


class NewsPage(BaseModel):
    events: list[NewsEvent]
    next_page_token: str = ""


# ---------------------------------------------------------------- users


class User(BaseModel):
    username: str
    name: str | None = None
    email: str | None = None
    created_at: Timestamp


class Identity(Strict):
    """A login as an identity provider reported it: who (provider, subject) and their profile."""

    provider: Annotated[str, Field(min_length=1, max_length=64), AfterValidator(no_nul)]
    subject: Annotated[str, Field(min_length=1, max_length=255), AfterValidator(no_nul)]
    username: Annotated[str, AfterValidator(normalize_username)]
    name: Annotated[str | None, Field(max_length=255), AfterValidator(_no_nul_optional)] = None
    email: Annotated[str | None, Field(max_length=320), AfterValidator(_no_nul_optional)] = None


class IssuedToken(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class TokenOwner(BaseModel):
    """Who a valid token belongs to, and what kind of token it is: `login` (from a login
    route, expires), or a personal API token's scope, `full` or `feeds` (never expires,
    `token_id` names it so a deletion can be applied to caches)."""

    username: str
    # The default keeps answers of a user-manager that knows only login tokens readable.
    scope: str = "login"
    token_id: str | None = None
    expires_at: Timestamp | None = None


# ---------------------------------------------------------------- personal API tokens

MAX_API_TOKEN_NAME_LENGTH = 100


class ApiTokenScope(StrEnum):
    FULL = "full"  # wherever a login token works
    FEEDS = "feeds"  # the Atom feeds only


ApiTokenName = Annotated[
    str,
    Field(min_length=1, max_length=MAX_API_TOKEN_NAME_LENGTH),
    AfterValidator(_strip),
    AfterValidator(_not_blank),
    AfterValidator(no_nul),
    AfterValidator(_encodable),
]


class NewApiToken(Strict):
    name: ApiTokenName
    scope: ApiTokenScope = ApiTokenScope.FULL


class ApiToken(BaseModel):
    id: str
    name: str
    scope: ApiTokenScope
    created_at: Timestamp
    last_used_at: Timestamp | None = None


class CreatedApiToken(BaseModel):
    """A new token with its secret, which is shown this once: only its hash is kept."""

    id: str
    name: str
    scope: ApiTokenScope
    token: str
    created_at: Timestamp
    last_used_at: Timestamp | None = None


class ApiTokenList(BaseModel):
    tokens: list[ApiToken]


# ---------------------------------------------------------------- social graph


class Follow(Strict):
    follower: Username
    followed: Username


class Following(BaseModel):
    following: list[str]


class Followers(BaseModel):
    followers: list[str]


class FollowersPage(BaseModel):
    followers: list[str]
    next_page_token: str = ""
