"""Domain errors. Handlers raise these; one interceptor maps them to gRPC status codes with their message, a stable
machine-readable reason (google.rpc.ErrorInfo) and, when retrying helps, a delay (google.rpc.RetryInfo).

The reasons are the contract a client branches on; protos/following/v1/errors.proto lists every one.
"""

from __future__ import annotations

from collections.abc import Mapping

import grpc
from google.protobuf import duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

DOMAIN = "following"


class DomainError(Exception):
    """An expected failure whose message is safe and useful to show to the caller."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    reason: str = "INTERNAL"

    def __init__(
        self,
        message: str,
        retry_after: float | None = None,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        # Seconds after which a retry may succeed: RetryInfo plus `retry-after` trailing metadata when set.
        self.retry_after = retry_after
        if reason is not None:
            self.reason = reason
        self.metadata: dict[str, str] = dict(metadata or {})


class InvalidArgument(DomainError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "INVALID_ARGUMENT"


class InvalidUsername(InvalidArgument):
    reason = "INVALID_USERNAME"


class NotFound(DomainError):
    code = grpc.StatusCode.NOT_FOUND
    reason = "NOT_FOUND"


class CreatorNotFound(NotFound):
    reason = "CREATOR_NOT_FOUND"


class AlreadyExists(DomainError):
    code = grpc.StatusCode.ALREADY_EXISTS
    reason = "ALREADY_EXISTS"


class PermissionDenied(DomainError):
    code = grpc.StatusCode.PERMISSION_DENIED
    reason = "PERMISSION_DENIED"


class NotUnlocked(PermissionDenied):
    reason = "NOT_UNLOCKED"


class Unauthenticated(DomainError):
    code = grpc.StatusCode.UNAUTHENTICATED
    reason = "TOKEN_MISSING"


class FailedPrecondition(DomainError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "FAILED_PRECONDITION"


class EmbeddingPending(FailedPrecondition):
    """A stored creator whose captions are not embedded yet: discovery cannot rank by it until they are."""

    reason = "EMBEDDING_PENDING"


class ResourceExhausted(DomainError):
    """The caller spent a quota or a queue is full."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "RESOURCE_EXHAUSTED"


class QuotaExceeded(ResourceExhausted):
    reason = "QUOTA_EXCEEDED"


class Unavailable(DomainError):
    """This service or a dependency of it (database, model workers) cannot answer now."""

    code = grpc.StatusCode.UNAVAILABLE
    reason = "SERVICE_UNAVAILABLE"


class UpstreamUnavailable(Unavailable):
    """Instagram failed and no stored report can stand in."""

    reason = "UPSTREAM_UNAVAILABLE"


class UpstreamThrottled(Unavailable):
    """Instagram (or our own request budget towards it) refuses more requests for now."""

    reason = "UPSTREAM_THROTTLED"


class DeadlineExceeded(DomainError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED
    reason = "DEADLINE_EXCEEDED"


def retry_after_seconds(error: DomainError) -> int | None:
    """The whole seconds a client should wait (at least 1), or None when retrying the same call will not help."""
    return None if error.retry_after is None else int(max(1, round(error.retry_after)))


def rich_status(error: DomainError) -> grpc.Status:
    """The status a client receives: code and message, ErrorInfo (+ RetryInfo) as `grpc-status-details-bin`, and the
    delay once more as `retry-after`, which the gateway passes on as the HTTP header of that name."""
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=DOMAIN, metadata=error.metadata)
    status = status_pb2.Status(code=getattr(code_pb2, error.code.name), message=error.message)
    status.details.add().Pack(info)
    delay = retry_after_seconds(error)
    if delay is not None:
        status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=delay)))
    converted = rpc_status.to_status(status)
    if delay is None:
        return converted
    return _Status(converted.code, converted.details, (*converted.trailing_metadata, ("retry-after", str(delay))))


class _Status(grpc.Status):
    def __init__(self, code: grpc.StatusCode, details: str, trailing_metadata: tuple[tuple[str, str | bytes], ...]):
        self.code = code
        self.details = details
        self.trailing_metadata = trailing_metadata
