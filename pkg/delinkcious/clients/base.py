"""What every internal HTTP client shares: pooled connections with timeouts, the
caller token on every request, a client span, metrics and the trace context and
request id on every attempt, and error bodies turned back into the exceptions the
called service raised.

The wire is aiohttp's client: scripts/bench_clients.py measured it at a small
fraction of httpx's CPU per request (httpcore walks every pooled connection, asking
each whether it expired, on every request). A caller may hand in an httpx transport
instead (tests serve an app in-process that way). An answer is an `Answer`: status,
headers and body, what callers read of an httpx.Response, without building one.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

import aiohttp
import httpx
from opentelemetry.trace import SpanKind
from pydantic import BaseModel
from yarl import URL

from delinkcious import tracing
from delinkcious.callers import CALLER_TOKEN_HEADER
from delinkcious.errors import ERRORS_BY_CODE, DelinkciousError, Internal, Unavailable
from delinkcious.metrics import HTTP_CLIENT_DURATION, HTTP_CLIENT_REQUESTS, labelled

M = TypeVar("M", bound=BaseModel)

DEFAULT_TIMEOUT = httpx.Timeout(5.0, connect=2.0)
MAX_CONNECTIONS = 100
# Below uvicorn's 5 s keep-alive: a connection the server is about to close is never
# reused, so a write (never retried) does not meet a connection closing under it.
KEEPALIVE_SECONDS = 4.0
# Each call records both; their children are looked up once per label set.
_calls_counted = labelled(HTTP_CLIENT_REQUESTS)
_calls_timed = labelled(HTTP_CLIENT_DURATION)

# The path segment after one of these is a value (a username), not part of the route.
_PARAMETER_AFTER = {
    "users": "{username}",
    "following": "{followed}",
    "api-tokens": "{token_id}",
    "tags": "{name}",
}


def route_template(path: str) -> str:
    """`/users/alice/following/bob` -> `/users/{username}/following/{followed}`: the
    route as the called service declares it, so metric labels stay few."""
    out: list[str] = []
    previous: str | None = None
    for part in path.split("/"):
        name = _PARAMETER_AFTER.get(previous or "") if part else None
        out.append(name or part)
        previous = None if name else part
    return "/".join(out)


class Answer:
    """A called service's answer, read whole: `status_code`, `headers`, `content`,
    `text` and `json()` as on an httpx.Response (which costs several times as much to
    build, headers parsed into a multi-dict that almost no caller reads)."""

    __slots__ = ("_raw_headers", "content", "status_code")

    def __init__(self, status_code: int, headers: list[tuple[bytes, bytes]], content: bytes) -> None:
        self.status_code = status_code
        self._raw_headers = headers
        self.content = content

    @property
    def headers(self) -> httpx.Headers:
        return httpx.Headers(self._raw_headers)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class _TimedOut(Exception):
    pass


class _Unreachable(Exception):
    pass


class _Answer(Protocol):
    status: int
    headers: list[tuple[bytes, bytes]]

    def chunks(self) -> AsyncIterator[bytes]: ...


class _Wire(Protocol):
    """One attempt on the network: raises _TimedOut or _Unreachable when no answer came."""

    @property
    def is_closed(self) -> bool: ...

    def open(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        phases: httpx.Timeout | None,
    ) -> Any:  # an async context manager yielding an _Answer
        ...

    async def aclose(self) -> None: ...


class _AiohttpAnswer:
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.status = response.status
        self.headers = list(response.raw_headers)
        self._response = response

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except TimeoutError:
            raise _TimedOut() from None
        except aiohttp.ClientError:
            raise _Unreachable() from None


class AiohttpWire:
    """A session made on first use, inside the event loop that uses it."""

    def __init__(self, timeout: httpx.Timeout) -> None:
        self._timeout = _aiohttp_timeout(timeout)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    @property
    def is_closed(self) -> bool:
        return self._closed

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=MAX_CONNECTIONS, ttl_dns_cache=60, keepalive_timeout=KEEPALIVE_SECONDS
                ),
                timeout=self._timeout,
                auto_decompress=True,
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    @asynccontextmanager
    async def open(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        phases: httpx.Timeout | None,
    ) -> AsyncIterator[_AiohttpAnswer]:
        session = self._get_session()
        per_request = _aiohttp_timeout(phases) if phases else None
        try:
            response = await session.request(
                method, URL(url, encoded=True), headers=headers, data=body, timeout=per_request
            )
        except TimeoutError:
            raise _TimedOut() from None
        except aiohttp.ClientError:
            raise _Unreachable() from None
        try:
            yield _AiohttpAnswer(response)
        finally:
            response.release()

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()


class _HttpxAnswer:
    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        self.headers = list(response.headers.raw)
        self._response = response

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_raw():
                yield chunk
        except httpx.TimeoutException:
            raise _TimedOut() from None
        except httpx.TransportError:
            raise _Unreachable() from None


class HttpxWire:
    """Over any httpx transport, e.g. httpx.ASGITransport to an in-process app."""

    def __init__(self, transport: httpx.AsyncBaseTransport, timeout: httpx.Timeout) -> None:
        self._client = httpx.AsyncClient(transport=transport, timeout=timeout)

    @property
    def is_closed(self) -> bool:
        return self._client.is_closed

    @asynccontextmanager
    async def open(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        phases: httpx.Timeout | None,
    ) -> AsyncIterator[_HttpxAnswer]:
        request = self._client.build_request(
            method, url, headers=headers, content=body, timeout=phases or httpx.USE_CLIENT_DEFAULT
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx.TimeoutException:
            raise _TimedOut() from None
        except httpx.TransportError:
            raise _Unreachable() from None
        try:
            yield _HttpxAnswer(response)
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()


class ServiceClient:
    """Only idempotent reads are retried: a retried write could apply twice. Each
    attempt (a retry included) is one client span and one metric sample, and carries
    the trace context and request id."""

    service = "service"

    def __init__(
        self,
        base_url: str,
        caller_token: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        read_retries: int = 1,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._host = httpx.URL(self._base_url).host
        self._caller_token = caller_token
        self._http: _Wire = HttpxWire(transport, timeout) if transport else AiohttpWire(timeout)
        self._read_retries = read_retries

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ServiceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def request(
        # httpx's per-phase timeouts for one call, not a deadline for the whole of it.
        self,
        method: str,
        path: str,
        *,
        timeout: httpx.Timeout | None = None,  # noqa: ASYNC109 (per-phase, as httpx takes it)
        **kwargs: Any,
    ) -> Answer:
        """kwargs: params, json, content, headers (as httpx takes them); `timeout`
        replaces the client's for this call."""
        url, headers, body = self._prepare(path, **kwargs)
        attempts = 1 + (self._read_retries if method == "GET" else 0)
        for attempt in range(attempts):
            try:
                status, response_headers, content = await self._attempt(
                    method, path, url, headers, body, timeout
                )
            except _TimedOut:
                if attempt + 1 < attempts:
                    continue
                raise Unavailable(f"{self.service} timed out") from None
            except _Unreachable:
                if attempt + 1 < attempts:
                    await asyncio.sleep(0.05)
                    continue
                raise Unavailable(f"{self.service} is unreachable") from None
            response = Answer(status, response_headers, content)
            if status < 400:
                return response
            raise _error_from(response, self.service)
        raise AssertionError("unreachable")

    async def stream_lines(
        self,
        method: str,
        path: str,
        *,
        timeout: httpx.Timeout | None = None,  # noqa: ASYNC109 (per-phase, as httpx takes it)
        **kwargs: Any,
    ) -> AsyncIterator[bytes]:
        """The answer's body line by line (without the newline), read as it arrives, e.g.
        NDJSON. Never retried (lines already handed out cannot be taken back); the span
        and metric sample cover the call up to the answer's headers."""
        url, headers, body = self._prepare(path, **kwargs)
        route = route_template(path)
        start = time.perf_counter()
        try:
            with tracing.span(f"{method} {route}", SpanKind.CLIENT, self._attributes(method, route)) as span:
                headers.update(tracing.inject({}))
                context = self._http.open(method, url, headers, body, timeout)
                answer = await context.__aenter__()
                self._finish(span, method, route, str(answer.status), start)
        except (_TimedOut, _Unreachable) as exc:
            self._record(method, route, "error", start)
            what = "timed out" if isinstance(exc, _TimedOut) else "is unreachable"
            raise Unavailable(f"{self.service} {what}") from None
        try:
            if answer.status >= 400:
                content = b"".join([chunk async for chunk in answer.chunks()])
                raise _error_from(Answer(answer.status, [], content), self.service)
            pending = b""
            async for chunk in answer.chunks():
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line
            if pending:
                yield pending
        except _TimedOut:
            raise Unavailable(f"{self.service} timed out") from None
        except _Unreachable:
            raise Unavailable(f"{self.service} is unreachable") from None
        finally:
            await context.__aexit__(None, None, None)

    async def get_json(self, path: str, **kwargs: Any) -> bytes:
        """A read's JSON body as the service sent it, for a caller that only forwards it
        (parsing and serialising it again would cost more than the rest of the hop)."""
        return (await self.request("GET", path, **kwargs)).content

    async def get_model(self, model: type[M], path: str, **kwargs: Any) -> M:
        return model.model_validate_json((await self.request("GET", path, **kwargs)).content)

    async def send_model(self, method: str, model: type[M], path: str, **kwargs: Any) -> M:
        return model.model_validate_json((await self.request(method, path, **kwargs)).content)

    def _prepare(
        self,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        content: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[str, dict[str, str], bytes | None]:
        url = self._base_url + path
        if params:
            query = str(httpx.QueryParams(params))  # httpx's encoding: lists repeat, True is "true"
            if query:
                url += "?" + query
        out = {CALLER_TOKEN_HEADER: self._caller_token}
        body: bytes | None = content.encode() if isinstance(content, str) else content
        if json is not None:
            body = _dumps(json)
            out["Content-Type"] = "application/json"
        out.update(headers or {})
        return url, out, body

    async def _attempt(
        self,
        method: str,
        path: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        phases: httpx.Timeout | None,
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        route = route_template(path)
        start = time.perf_counter()
        with tracing.span(f"{method} {route}", SpanKind.CLIENT, self._attributes(method, route)) as span:
            attempt_headers = tracing.inject(dict(headers))
            try:
                async with self._http.open(method, url, attempt_headers, body, phases) as answer:
                    content = b"".join([chunk async for chunk in answer.chunks()])
            except BaseException:  # no answer: timed out, refused, cancelled
                self._record(method, route, "error", start)
                raise
            self._finish(span, method, route, str(answer.status), start)
            return answer.status, answer.headers, content

    def _attributes(self, method: str, route: str) -> dict[str, str | int]:
        return {
            "http.request.method": method,
            "url.template": route,
            "server.address": self._host,
            "delinkcious.target": self.service,
        }

    def _finish(self, span: Any, method: str, route: str, status: str, start: float) -> None:
        self._record(method, route, status, start)
        span.set_attribute("http.response.status_code", int(status))
        if int(status) >= 500:
            tracing.mark_error(span, status)

    def _record(self, method: str, route: str, status: str, start: float) -> None:
        _calls_counted(self.service, method, route, status).inc()
        _calls_timed(self.service, method, route).observe(time.perf_counter() - start)


def _aiohttp_timeout(timeout: httpx.Timeout) -> aiohttp.ClientTimeout:
    """httpx's per-phase timeouts in aiohttp's terms (waiting for a pooled connection
    and connecting together count as connecting)."""
    return aiohttp.ClientTimeout(
        total=None,
        connect=(timeout.pool or 0) + (timeout.connect or 0) or None,
        sock_connect=timeout.connect,
        sock_read=timeout.read,
    )


def _dumps(value: Any) -> bytes:
    # What httpx sent for json=: compact, UTF-8, no NaN.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _error_from(response: Answer, service: str) -> DelinkciousError:
    try:
        err = response.json()["error"]
        code, message = str(err["code"]), str(err["message"])
    except (ValueError, KeyError, TypeError):
        code, message = "", ""
    if response.status_code >= 500:
        # The callee's internals are not ours to pass on; only say who failed.
        return Unavailable(f"{service} failed ({response.status_code})")
    cls = ERRORS_BY_CODE.get(code)
    if cls is None:
        return Internal(f"{service} answered {response.status_code} without an error body")
    return cls(message)
