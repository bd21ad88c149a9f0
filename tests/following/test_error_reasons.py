"""The reasons the services send are the documented ones: every DomainError's reason is a name of
errors.v1.ErrorReason, and every gateway-made error's reason too."""

from __future__ import annotations

from errors.v1 import errors_pb2

from following import errors
from services.gateway.config import DETAIL_ERRORS, HINTS, STATUS_ERRORS

DOCUMENTED = set(errors_pb2.ErrorReason.keys())


def _subclasses(cls: type[errors.DomainError]) -> list[type[errors.DomainError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_subclasses(sub))
    return found


def test_every_domain_error_reason_is_documented_in_the_error_proto() -> None:
    reasons = {cls.reason for cls in _subclasses(errors.DomainError)}
    assert reasons - DOCUMENTED == set()
    assert {"INVALID_USERNAME", "CREATOR_NOT_FOUND", "NOT_UNLOCKED", "QUOTA_EXCEEDED"} <= reasons
    assert {"UPSTREAM_THROTTLED", "UPSTREAM_UNAVAILABLE", "SERVICE_UNAVAILABLE", "EMBEDDING_PENDING"} <= reasons


def test_every_gateway_reason_is_documented_in_the_error_proto() -> None:
    reasons = {e.reason for e in STATUS_ERRORS} | {e.reason for e in DETAIL_ERRORS} | {h.reason for h in HINTS}
    assert reasons - DOCUMENTED == set()
    assert {"TOKEN_MISSING", "TOKEN_INVALID", "TOKEN_EXPIRED", "WRONG_AUDIENCE", "FORBIDDEN_ROLE"} <= reasons
    assert {"ROUTE_NOT_FOUND", "METHOD_NOT_ALLOWED", "INVALID_ARGUMENT", "RATE_LIMITED"} <= reasons
