"""Opaque page tokens: a keyset position (a timestamp and a tie-breaking id) encoded so callers cannot read into it."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from following.errors import InvalidArgument


def encode(kind: str, at: datetime, key: str | int) -> str:
    raw = json.dumps([kind, at.isoformat(), key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, kind: str) -> tuple[datetime, str | int] | None:
    """The position after which the next page starts; None for the first page; InvalidArgument if malformed."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        found_kind, at, key = json.loads(raw)
        if found_kind != kind or not isinstance(key, str | int):
            raise ValueError(kind)
        return datetime.fromisoformat(at), key
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InvalidArgument("page_token: not a token returned by this method; start again without one") from None


def page_size(requested: int, default: int, maximum: int, field: str = "page_size") -> int:
    if requested == 0:
        return default
    if requested > maximum:
        raise InvalidArgument(f"{field}: must be between 1 and {maximum}, got {requested}")
    return requested
