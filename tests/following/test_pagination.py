"""The shared page-token codec: what it makes comes back unchanged, and every token it did not make (hostile or just
wrong) is an InvalidArgument that names the field, never another exception."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from following.errors import InvalidArgument
from following.pagination import INT64_MAX, INT64_MIN, MAX_TOKEN_LENGTH, PageTokenCodec, page_size

IDS = PageTokenCodec("unlocked", int)
TEXTS = PageTokenCodec("posts", str)
AT = datetime(2026, 11, 29, 23, 59, 58, 123456, tzinfo=UTC)


def forge(value: object) -> str:
    """A token of any JSON value, made the way the codec makes its own."""
    return raw_token(json.dumps(value).encode())


def raw_token(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    ("codec", "key"),
    [(IDS, 1), (IDS, 0), (IDS, INT64_MAX), (IDS, INT64_MIN), (TEXTS, "3141592653589793238"), (TEXTS, "é ü 名")],
)
def test_a_token_it_made_decodes_to_the_same_position(codec: PageTokenCodec, key: int | str) -> None:  # type: ignore[type-arg]
    assert codec.decode(codec.encode(AT, key)) == (AT, key)


def test_an_aware_datetime_in_another_zone_decodes_to_the_same_instant_in_utc() -> None:
    at = datetime(2026, 1, 1, 9, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    decoded = IDS.decode(IDS.encode(at, 7))
    assert decoded is not None and decoded[0] == at and decoded[0].tzinfo is UTC


def test_an_empty_token_means_the_first_page() -> None:
    assert IDS.decode("") is None


def test_a_naive_datetime_is_refused_when_encoding() -> None:
    with pytest.raises(ValueError, match="aware"):
        IDS.encode(datetime(2026, 1, 1), 1)


def test_tokens_are_unpadded_base64url() -> None:
    token = TEXTS.encode(AT, "a/b+c?")
    assert "=" not in token and "+" not in token and "/" not in token


LATE = (datetime(9999, 12, 30, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
GOOD_MICROS = (AT - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)

HOSTILE_IDS: list[tuple[str, str]] = [
    # Not base64url text.
    ("%00", "percent sign"),
    ("\x00", "NUL"),
    ("abc\x00def", "NUL inside"),
    ("ab cd", "space"),
    ("ab+cd/ef", "standard base64 alphabet"),
    ("a", "one character"),
    ("abcde", "length 1 mod 4"),
    ("ab===", "three padding characters"),
    ("=abc", "padding first"),
    ("ab=c", "padding inside"),
    ("é" * 8, "non-ASCII"),
    ("\ud800abc", "lone surrogate"),
    ("A" * (MAX_TOKEN_LENGTH + 1), "too long"),
    ("garbage!", "punctuation"),
    # Base64 of something that is not JSON, or not UTF-8.
    (raw_token(b"\xff\xfe\xfd"), "not UTF-8"),
    (raw_token(b"\xc0\xaf"), "overlong UTF-8"),
    (raw_token(b"not json"), "not JSON"),
    (raw_token(b'["unlocked", 1, 2'), "truncated JSON"),
    (raw_token(b" "), "blank JSON"),
    (raw_token(b'["unlocked", NaN, 1]'), "NaN"),
    (raw_token(b'["unlocked", Infinity, 1]'), "Infinity"),
    (raw_token(b"[" * 150 + b"]" * 150), "deep nesting"),
    (raw_token(b"1" * 300), "a huge bare number"),
    # JSON of the wrong shape.
    (forge({"kind": "unlocked"}), "an object"),
    (forge("unlocked"), "a string"),
    (forge(None), "null"),
    (forge([]), "empty list"),
    (forge(["unlocked", GOOD_MICROS]), "two fields"),
    (forge(["unlocked", GOOD_MICROS, 1, 2]), "four fields"),
    # Another list's token.
    (TEXTS.encode(AT, "abc"), "another list's token"),
    (forge(["UNLOCKED", GOOD_MICROS, 1]), "kind in another case"),
    (forge([None, GOOD_MICROS, 1]), "kind null"),
    (forge([["unlocked"], GOOD_MICROS, 1]), "kind a list"),
    # The moment: wrong type or out of range.
    (forge(["unlocked", "2026-11-29T00:00:00", 1]), "an ISO string"),
    (forge(["unlocked", "2026-11-29T00:00:00+00:00", 1]), "an aware ISO string"),
    (forge(["unlocked", 1.5, 1]), "a float"),
    (forge(["unlocked", 1e300, 1]), "a huge float"),
    (forge(["unlocked", True, 1]), "a boolean"),
    (forge(["unlocked", None, 1]), "null moment"),
    (forge(["unlocked", LATE + 1, 1]), "after year 9999"),
    (forge(["unlocked", -(10**17), 1]), "before year 1"),
    (forge(["unlocked", 10**30, 1]), "beyond any datetime"),
    (forge(["unlocked", 2**63, 1]), "past int64"),
    # The key: wrong type or outside int64.
    (forge(["unlocked", GOOD_MICROS, INT64_MAX + 1]), "key past int64"),
    (forge(["unlocked", GOOD_MICROS, INT64_MIN - 1]), "key below int64"),
    (forge(["unlocked", GOOD_MICROS, 10**100]), "key far past int64"),
    (forge(["unlocked", GOOD_MICROS, "1"]), "key a string"),
    (forge(["unlocked", GOOD_MICROS, 1.0]), "key a float"),
    (forge(["unlocked", GOOD_MICROS, True]), "key a boolean"),
    (forge(["unlocked", GOOD_MICROS, None]), "key null"),
    (forge(["unlocked", GOOD_MICROS, [1]]), "key a list"),
    (forge(["unlocked", GOOD_MICROS, {"id": 1}]), "key an object"),
]

HOSTILE_TEXTS: list[tuple[str, str]] = [
    (forge(["posts", GOOD_MICROS, "abc\x00def"]), "NUL in the key"),
    (forge(["posts", GOOD_MICROS, "\x00"]), "only NUL"),
    (forge(["posts", GOOD_MICROS, "\ud800"]), "lone surrogate in the key"),
    (forge(["posts", GOOD_MICROS, "line\nbreak"]), "control character"),
    (forge(["posts", GOOD_MICROS, ""]), "empty key"),
    (forge(["posts", GOOD_MICROS, "x" * 129]), "key too long"),
    (forge(["posts", GOOD_MICROS, 12]), "key an int"),
    (forge(["posts", GOOD_MICROS, None]), "key null"),
    (IDS.encode(AT, 3), "another list's token"),
]


@pytest.mark.parametrize(("token", "why"), HOSTILE_IDS)
def test_a_hostile_token_for_an_int64_key_is_invalid_argument(token: str, why: str) -> None:
    with pytest.raises(InvalidArgument, match=r"^page_token: not a token returned by this method") as caught:
        IDS.decode(token)
    assert "start again without one" in caught.value.message, why


@pytest.mark.parametrize(("token", "why"), HOSTILE_TEXTS)
def test_a_hostile_token_for_a_text_key_is_invalid_argument(token: str, why: str) -> None:
    with pytest.raises(InvalidArgument, match=r"^page_token: ") as caught:
        TEXTS.decode(token)
    assert caught.value.message.isascii(), "the message travels in HTTP/2 trailers"


def test_there_are_at_least_forty_hostile_cases() -> None:
    assert len(HOSTILE_IDS) + len(HOSTILE_TEXTS) >= 40


def test_the_message_says_why_without_echoing_the_token() -> None:
    with pytest.raises(InvalidArgument) as caught:
        IDS.decode(forge(["unlocked", GOOD_MICROS, INT64_MAX + 1]))
    assert "64-bit integer" in caught.value.message
    assert str(INT64_MAX + 1) not in caught.value.message


def test_the_edges_of_the_supported_range_still_decode() -> None:
    decoded = IDS.decode(forge(["unlocked", LATE, 1]))
    assert decoded is not None and decoded[0] == datetime(9999, 12, 30, tzinfo=UTC)


@pytest.mark.parametrize(("requested", "expected"), [(0, 20), (1, 1), (100, 100)])
def test_page_size_is_the_default_for_zero_and_the_request_up_to_the_maximum(requested: int, expected: int) -> None:
    assert page_size(requested, 20, 100) == expected


@pytest.mark.parametrize("requested", [101, 2**32 - 1, -1])
def test_page_size_outside_the_range_is_invalid_argument(requested: int) -> None:
    with pytest.raises(InvalidArgument, match="page_size: must be between 1 and 100"):
        page_size(requested, 20, 100)
