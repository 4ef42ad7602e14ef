"""Cross-site request forgery protection for every state-changing request from a page.

Two independent checks, both must pass:
- where the request comes from: `Sec-Fetch-Site` (when the browser sends it) must say
  same-origin, and `Origin` (when sent) must be this gateway's own origin;
- a synchronizer token in the form (`csrf_token`) or the `X-CSRF-Token` header: an
  HMAC of the session's token, so it is bound to that session, changes with every
  sign-in, and cannot be computed without the session cookie, which pages never see.
  Before sign-in the same is done over a random pre-session cookie (login CSRF).
"""

from __future__ import annotations

import base64
import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request, Response

from api_gateway.web.session import is_secure, session_token, settings_of, signing_key
from delinkcious.errors import PermissionDenied

FORM_FIELD = "csrf_token"
HEADER = "x-csrf-token"
PRE_SESSION_COOKIE = "dlk_presession"
_PURPOSE = b"delinkcious web csrf v1"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _mac(request: Request, message: str) -> str:
    key = signing_key(settings_of(request), _PURPOSE)
    digest = hmac.new(key, message.encode(), "sha256").digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token_for(request: Request) -> str:
    """The token pages put in their forms: bound to the session, or before sign-in to
    the pre-session cookie (see `ensure_pre_session`)."""
    session = session_token(request)
    if session is not None:
        return _mac(request, f"session:{session}")
    pre = getattr(request.state, "pre_session", None) or request.cookies.get(PRE_SESSION_COOKIE)
    return _mac(request, f"pre:{pre}") if pre else ""


def start_pre_session(request: Request) -> str | None:
    """A new random value for a browser without a session or pre-session cookie, which
    its sign-in form's token is then bound to (None when it already has one)."""
    if session_token(request) is not None or request.cookies.get(PRE_SESSION_COOKIE):
        return None
    value = secrets.token_urlsafe(32)
    request.state.pre_session = value
    return value


def set_pre_session(request: Request, response: Response, value: str | None) -> None:
    if value is None:
        return
    response.set_cookie(
        PRE_SESSION_COOKIE,
        value,
        max_age=24 * 3600,
        path="/",
        secure=is_secure(settings_of(request)),
        httponly=True,  # no page script reads it either
        samesite="lax",
    )


def allowed_origins(request: Request) -> set[str]:
    """PUBLIC_URL's origin, and the one the browser addressed (Host), which a
    cross-site page cannot choose for its victim's request."""
    public = urlsplit(settings_of(request).public_url)
    origins = {f"{public.scheme}://{public.netloc}".lower()}
    host = request.headers.get("host")
    if host:
        origins.add(f"{request.url.scheme}://{host}".lower())
    return origins


def check_origin(request: Request) -> None:
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise PermissionDenied(f"cross-site request refused (Sec-Fetch-Site: {site[:20]})")
    origin = request.headers.get("origin")
    if origin is not None and origin.lower() not in allowed_origins(request):
        raise PermissionDenied("cross-site request refused: it comes from another origin")


async def check(request: Request) -> None:
    """Refuses (403) a state-changing request that did not come from one of our pages."""
    check_origin(request)
    submitted = request.headers.get(HEADER)
    if submitted is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get(FORM_FIELD)
            submitted = value if isinstance(value, str) else None
    expected = token_for(request)
    if not submitted or not expected or not hmac.compare_digest(submitted.encode(), expected.encode()):
        raise PermissionDenied("the form's security token is missing or stale: reload the page and try again")
