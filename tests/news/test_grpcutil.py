"""The shared gRPC error mapping: server-side status for each domain error, and the
client-side error rebuilt from it."""

from __future__ import annotations

import grpc
import pytest

from delinkcious.errors import (
    AlreadyExists,
    DelinkciousError,
    Internal,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
    Unavailable,
)
from delinkcious.grpcutil import error_from_rpc, status_for


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidArgument("bad page size"), grpc.StatusCode.INVALID_ARGUMENT),
        (NotFound("no such user"), grpc.StatusCode.NOT_FOUND),
        (Unavailable("redis is away"), grpc.StatusCode.UNAVAILABLE),
        (Unauthenticated("who are you"), grpc.StatusCode.UNAUTHENTICATED),
        (PermissionDenied("not you"), grpc.StatusCode.PERMISSION_DENIED),
        (AlreadyExists("taken"), grpc.StatusCode.ALREADY_EXISTS),
        (RateLimited("slow down"), grpc.StatusCode.RESOURCE_EXHAUSTED),
    ],
)
def test_domain_errors_travel_as_their_status_and_back(
    error: DelinkciousError, code: grpc.StatusCode
) -> None:
    assert status_for(error) == (code, error.message)
    rebuilt = error_from_rpc(FakeRpcError(code, error.message), "news-manager")
    assert type(rebuilt) is type(error)
    if code != grpc.StatusCode.UNAVAILABLE:
        assert rebuilt.message == error.message


@pytest.mark.parametrize(
    "error", [Internal("db password is hunter2"), RuntimeError("stack trace"), KeyError("k")]
)
def test_anything_else_is_internal_and_says_nothing(error: Exception) -> None:
    assert status_for(error) == (grpc.StatusCode.INTERNAL, "internal error")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (grpc.StatusCode.DEADLINE_EXCEEDED, Unavailable),
        (grpc.StatusCode.UNAVAILABLE, Unavailable),
        (grpc.StatusCode.INTERNAL, Unavailable),
        (grpc.StatusCode.UNKNOWN, Unavailable),
        (grpc.StatusCode.UNIMPLEMENTED, Internal),
    ],
)
def test_client_side_failures(code: grpc.StatusCode, expected: type[DelinkciousError]) -> None:
    rebuilt = error_from_rpc(FakeRpcError(code, "secret internals"), "news-manager")
    assert type(rebuilt) is expected
    assert "secret" not in rebuilt.message
    assert "news-manager" in rebuilt.message
