"""Keyset pagination shared by every service: the typed page-token codec and the page-size rule.

A page token is the position after which the next page starts: a moment (an aware datetime) and a tie-breaking key
(an int64 id or a short text id), tagged with the kind of list it belongs to. It travels as unpadded base64url of the
JSON `[kind, microseconds since the Unix epoch, key]`, so callers cannot read into it without effort and never need
to. Tokens come back from clients, so decoding trusts nothing: any token that this codec did not make (bad base64,
not JSON, wrong shape or types, another list's kind, a moment or key outside what the database can hold, NUL or
unprintable text) is an InvalidArgument with a message saying so, never an exception that would surface as a 5xx.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from following.errors import InvalidArgument

MAX_TOKEN_LENGTH = 512
MAX_TEXT_KEY_LENGTH = 128
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# What both Python and PostgreSQL can hold, a day inside Python's limits so no time zone arithmetic overflows.
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_MIN_MICROS = (EARLIEST - EPOCH) // _MICROSECOND
_MAX_MICROS = (LATEST - EPOCH) // _MICROSECOND
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")

Key = TypeVar("Key", int, str)


class PageTokenCodec(Generic[Key]):
    """The page tokens of one list (`kind`), whose tie-breaking key is an int64 (`int`) or a short text (`str`)."""

    def __init__(self, kind: str, key_type: type[Key]) -> None:
        self.kind = kind
        self.key_type: type[Key] = key_type

    def encode(self, at: datetime, key: Key) -> str:
        """The token of the position (`at`, `key`); `at` must be time-zone aware."""
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("page tokens hold aware datetimes only")
        micros = (at - EPOCH) // _MICROSECOND
        raw = json.dumps([self.kind, micros, key], separators=(",", ":"), ensure_ascii=True).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, token: str) -> tuple[datetime, Key] | None:
        """The position after which the next page starts; None for the first page (an empty token)."""
        if not token:
            return None
        found_kind, micros, key = _fields(token)
        if found_kind != self.kind:
            raise _refused("made for another list")
        if type(micros) is not int or not _MIN_MICROS <= micros <= _MAX_MICROS:
            raise _refused("its position is not a moment in the supported range")
        return EPOCH + micros * _MICROSECOND, self._key(key)

    def _key(self, key: object) -> Key:
        if self.key_type is int:
            if type(key) is not int or not INT64_MIN <= key <= INT64_MAX:
                raise _refused("its key is not a 64-bit integer")
            return key  # type: ignore[return-value]
        if type(key) is not str or not 0 < len(key) <= MAX_TEXT_KEY_LENGTH or not key.isprintable():
            raise _refused(f"its key is not printable text of 1-{MAX_TEXT_KEY_LENGTH} characters")
        return key  # type: ignore[return-value]


def page_size(requested: int, default: int, maximum: int, field: str = "page_size") -> int:
    """The number of items a page holds: the default for 0, else `requested` if it is at most `maximum`."""
    if requested == 0:
        return default
    if not 0 < requested <= maximum:
        raise InvalidArgument(f"{field}: must be between 1 and {maximum}, got {requested}")
    return requested


def _fields(token: str) -> list[Any]:
    if len(token) > MAX_TOKEN_LENGTH:
        raise _refused(f"longer than {MAX_TOKEN_LENGTH} characters")
    if not _BASE64URL.fullmatch(token) or len(token.rstrip("=")) % 4 == 1:
        raise _refused("not base64url text")
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
        fields = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
        raise _refused("not a JSON position") from None
    if type(fields) is not list or len(fields) != 3:
        raise _refused("not a position of three fields")
    return fields


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number a token holds")


def _refused(why: str) -> InvalidArgument:
    return InvalidArgument(f"page_token: not a token returned by this method ({why}); start again without one")
