"""Rendering pages: the templates, the headers every page carries, and the route class
that checks CSRF on state-changing requests and turns errors into pages, not JSON."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from api_gateway.web import csrf
from api_gateway.web.session import settings_of
from delinkcious.errors import DelinkciousError, RateLimited

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
HTMX = "htmx-2.0.11.min.js"

# No inline script or style anywhere: everything the pages run or wear is a file of ours.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Saved links lead elsewhere: those sites learn nothing of the page they came from.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def linkable(url: str) -> bool:
    """Only http(s) URLs become clickable: never javascript:, data: or anything else."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def local_path(target: str | None, default: str = "/") -> str:
    """A `next` to go to after signing in, when it stays on this site: a path, not
    `//evil.example` or `/\\evil.example`, which browsers read as another host."""
    if not target or len(target) > 2048 or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ch in target for ch in "\r\n\t\\") or urlsplit(target).netloc:
        return default
    return target


templates = Jinja2Templates(directory=HERE / "templates")  # autoescape on for .html
templates.env.globals.update(linkable=linkable, htmx=HTMX)
templates.env.filters["q"] = lambda value: quote(str(value), safe="")


def is_partial(request: Request) -> bool:
    """An htmx request wants a fragment; a plain browser request the whole page."""
    return request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") != "true"


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    settings = settings_of(request)
    values = {
        "user": getattr(request.state, "username", None),
        "csrf_token": csrf.token_for(request),
        "dev_login": settings.dev_login,
        "github_login": settings.github_enabled,
        "oidc_login": settings.oidc_enabled,
        "public_url": settings.public_url,
        "path": request.url.path,
        **(context or {}),
    }
    response = templates.TemplateResponse(request, template, values, status_code=status_code)
    return response


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


class SignInRequired(Exception):
    """Raised by a page that needs a signed-in user; becomes a trip to the sign-in page."""


def _sign_in(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method not in csrf.SAFE_METHODS or is_partial(request):
        target = "/"  # a form's target or a fragment is no page to come back to
    url = f"/signin?next={quote(local_path(target), safe='')}"
    if is_partial(request):
        return Response(status_code=401, headers={"HX-Redirect": url})
    return see_other(url)


def _error_page(request: Request, exc: DelinkciousError) -> Response:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else {}
    template = "partials/error.html" if is_partial(request) else "error.html"
    response = render(request, template, {"error": exc}, status_code=exc.status)
    response.headers.update(headers)
    if is_partial(request):
        # htmx leaves error answers unswapped by default; this one is meant to be shown.
        response.headers["HX-Retarget"] = "#flash"
        response.headers["HX-Reswap"] = "innerHTML"
    return response


class WebRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                if request.method not in csrf.SAFE_METHODS:
                    await csrf.check(request)
                response = await handler(request)
            except SignInRequired:
                response = _sign_in(request)
            except DelinkciousError as exc:
                response = _error_page(request, exc)
            response.headers.update(SECURITY_HEADERS)
            response.headers.setdefault("Cache-Control", "no-store")
            response.headers["Vary"] = "HX-Request, Cookie"
            return response

        return page
