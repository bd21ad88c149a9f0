"""Domain errors. Handlers raise these; one interceptor maps them to gRPC status codes with their message."""

from __future__ import annotations

import grpc


class DomainError(Exception):
    """An expected failure whose message is safe and useful to show to the caller."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    # Seconds after which a retry may succeed, sent as `retry-after` trailing metadata when set.
    retry_after: float | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(DomainError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(DomainError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(DomainError):
    code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(DomainError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(DomainError):
    code = grpc.StatusCode.UNAUTHENTICATED


class FailedPrecondition(DomainError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhausted(DomainError):
    """The caller spent a quota. `retry_after` (seconds) is sent as `retry-after` trailing metadata."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(DomainError):
    """A dependency is down or throttled. `retry_after` (seconds) is sent as `retry-after` trailing metadata."""

    code = grpc.StatusCode.UNAVAILABLE

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeadlineExceeded(DomainError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED
