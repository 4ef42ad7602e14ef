"""create_service_app: every failure leaves in api.md's error shape, with the right status."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import ClassVar

import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel

from delinkcious.app import MAX_BODY_BYTES, create_service_app
from delinkcious.callers import CALLER_TOKEN_HEADER, callers
from delinkcious.errors import (
    AlreadyExists,
    DelinkciousError,
    Internal,
    InvalidArgument,
    LimitExceeded,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
    Unavailable,
)
from delinkcious.observability import ReadinessCheck
from delinkcious.settings import ServiceSettings
from tests.conftest import CALLER_SECRETS

GATEWAY = {CALLER_TOKEN_HEADER: CALLER_SECRETS["api-gateway"]}
SECRET_DETAIL = "password=hunter2 at /srv/internal/db.py line 42"


class ProbeSettings(ServiceSettings):
    service_name: ClassVar[str] = "probe"
    accepted_callers: ClassVar[tuple[str, ...]] = ("api-gateway",)


class Body(BaseModel):
    count: int
    name: str


ERRORS: list[tuple[DelinkciousError, int, str]] = [
    (InvalidArgument("bad"), 400, "invalid_argument"),
    (Unauthenticated("who"), 401, "unauthenticated"),
    (PermissionDenied("no"), 403, "permission_denied"),
    (NotFound("gone"), 404, "not_found"),
    (AlreadyExists("twice"), 409, "already_exists"),
    (LimitExceeded("full"), 409, "limit_exceeded"),
    (PayloadTooLarge("big"), 413, "payload_too_large"),
    (RateLimited("slow down", retry_after=7), 429, "rate_limited"),
    (Unavailable("down"), 503, "unavailable"),
    (Internal("oops"), 500, "internal"),
]


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/raise/{index}")
    def raise_error(index: int) -> None:
        raise ERRORS[index][0]

    @router.get("/crash")
    def crash() -> None:
        raise RuntimeError(SECRET_DETAIL)

    @router.get("/crash-async")
    async def crash_async() -> None:
        raise KeyError(SECRET_DETAIL)

    @router.post("/model")
    def model(body: Body) -> dict[str, int]:
        return {"count": body.count}

    @router.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @router.get("/query")
    def query(n: int) -> dict[str, int]:
        return {"n": n}

    @router.get("/guarded", dependencies=[callers("api-gateway")])
    def guarded() -> dict[str, str]:
        return {"ok": "yes"}

    return router


@pytest.fixture
def client() -> Iterator[TestClient]:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield

    def readiness(_: FastAPI) -> dict[str, ReadinessCheck]:
        return {}

    settings = ProbeSettings.model_validate({"CALLER_TOKENS": {"api-gateway": CALLER_SECRETS["api-gateway"]}})
    app = create_service_app(
        title="probe", settings=settings, lifespan=lifespan, routers=[build_router()], readiness=readiness
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def error_of(response: object) -> tuple[int, str]:
    """(status, code), after checking the body is exactly api.md's error shape."""
    status: int = response.status_code  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return status, body["error"]["code"]


@pytest.mark.parametrize(
    ("index", "status", "code"),
    [(i, s, c) for i, (_, s, c) in enumerate(ERRORS)],
    ids=[c for _, _, c in ERRORS],
)
def test_domain_errors_map_to_their_status_and_code(
    client: TestClient, index: int, status: int, code: str
) -> None:
    response = client.get(f"/raise/{index}")
    assert error_of(response) == (status, code)
    assert response.json()["error"]["message"] == ERRORS[index][0].message


def test_rate_limited_carries_retry_after(client: TestClient) -> None:
    index = next(i for i, (exc, _, _) in enumerate(ERRORS) if isinstance(exc, RateLimited))
    response = client.get(f"/raise/{index}")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    other = client.get("/raise/0")
    assert "retry-after" not in other.headers


@pytest.mark.parametrize(
    ("path", "params"),
    [("/query", {"n": "x"}), ("/query", {}), ("/query", {"n": "1.5"}), ("/raise/notanint", {})],
)
def test_validation_errors_are_400_not_422(client: TestClient, path: str, params: dict[str, str]) -> None:
    assert error_of(client.get(path, params=params)) == (400, "invalid_argument")


@pytest.mark.parametrize(
    "content",
    [b"{", b"[]", b'{"count": "many", "name": "x"}', b'{"name": "x"}', b"null", b"", b'"x"'],
)
def test_bad_json_bodies_are_400(client: TestClient, content: bytes) -> None:
    response = client.post("/model", content=content, headers={"content-type": "application/json"})
    assert error_of(response) == (400, "invalid_argument")


@pytest.mark.parametrize("path", ["/crash", "/crash-async"])
def test_unexpected_errors_are_500_internal_without_internals(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "internal", "message": "internal error"}}
    for leak in ("hunter2", "Traceback", "RuntimeError", "KeyError", ".py"):
        assert leak not in response.text


def test_unknown_route_is_404_in_the_error_shape(client: TestClient) -> None:
    assert error_of(client.get("/no/such/route")) == (404, "not_found")


def test_wrong_method_is_405_in_the_error_shape(client: TestClient) -> None:
    response = client.delete("/query")
    assert error_of(response) == (405, "method_not_allowed")
    assert response.headers["allow"] == "GET"


def test_caller_checks_use_the_error_shape(client: TestClient) -> None:
    assert error_of(client.get("/guarded")) == (401, "unauthenticated")
    assert client.get("/guarded", headers=GATEWAY).json() == {"ok": "yes"}


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """A body streamed in chunks: httpx sends it chunked, with no Content-Length."""
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        sent += n
        yield b" " * n


@pytest.mark.parametrize("path", ["/raw", "/model"])
def test_a_body_over_1_mib_with_content_length_is_413(client: TestClient, path: str) -> None:
    response = client.post(
        path, content=b" " * (MAX_BODY_BYTES + 1), headers={"content-type": "application/json"}
    )
    assert error_of(response) == (413, "payload_too_large")


@pytest.mark.parametrize("path", ["/raw", "/model"])
def test_a_streamed_body_over_1_mib_without_content_length_is_413(client: TestClient, path: str) -> None:
    # /model is the common case: FastAPI parses the body for a pydantic parameter, and
    # must not turn the limit into its generic 400 "error parsing the body".
    response = client.post(
        path, content=_chunks(MAX_BODY_BYTES + 1), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert error_of(response) == (413, "payload_too_large")


def test_a_body_of_exactly_1_mib_is_accepted(client: TestClient) -> None:
    response = client.post("/raw", content=_chunks(MAX_BODY_BYTES))
    assert response.json() == {"bytes": MAX_BODY_BYTES}
    response = client.post("/raw", content=b" " * MAX_BODY_BYTES)
    assert response.json() == {"bytes": MAX_BODY_BYTES}


def test_a_lying_content_length_does_not_bypass_the_limit(client: TestClient) -> None:
    # A small declared length with a large chunked body is what a hostile client sends.
    headers = {"content-type": "application/json", "content-length": "10"}
    response = client.post("/raw", content=_chunks(MAX_BODY_BYTES + 1), headers=headers)
    assert error_of(response) == (413, "payload_too_large")


def test_operations_endpoints_are_served(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok", "checked": []}
    client.get("/query", params={"n": 1})
    metrics = client.get("/metrics").text
    assert 'http_server_requests_total{method="GET",route="/query",service="probe",status="200"}' in metrics
