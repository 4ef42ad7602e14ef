"""The error model: every failure a client can see, with its HTTP status and api.md code.

Business code raises these; the transport layer turns them into
`{"error": {"code": ..., "message": ...}}` with the matching status.
"""

from __future__ import annotations


class DelinkciousError(Exception):
    status: int = 500
    code: str = "internal"

    def __init__(self, message: str = "internal error") -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


class InvalidArgument(DelinkciousError):
    status, code = 400, "invalid_argument"


class Unauthenticated(DelinkciousError):
    status, code = 401, "unauthenticated"


class PermissionDenied(DelinkciousError):
    status, code = 403, "permission_denied"


class NotFound(DelinkciousError):
    status, code = 404, "not_found"


class AlreadyExists(DelinkciousError):
    status, code = 409, "already_exists"


class LimitExceeded(DelinkciousError):
    status, code = 409, "limit_exceeded"


class PayloadTooLarge(DelinkciousError):
    status, code = 413, "payload_too_large"


class RateLimited(DelinkciousError):
    status, code = 429, "rate_limited"

    def __init__(self, message: str = "too many requests", retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(DelinkciousError):
    status, code = 503, "unavailable"


class Internal(DelinkciousError):
    status, code = 500, "internal"


# Lets a client rebuild the right exception from an error body it received.
ERRORS_BY_CODE: dict[str, type[DelinkciousError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        Unauthenticated,
        PermissionDenied,
        NotFound,
        AlreadyExists,
        LimitExceeded,
        PayloadTooLarge,
        RateLimited,
        Unavailable,
        Internal,
    )
}

STATUS_CODES: dict[int, str] = {
    400: "invalid_argument",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "already_exists",
    413: "payload_too_large",
    415: "invalid_argument",
    429: "rate_limited",
    503: "unavailable",
}
