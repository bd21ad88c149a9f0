"""Username rules: what is accepted and normalised, and that every refusal says why."""

from __future__ import annotations

import pytest

from following.errors import InvalidArgument
from services.creator.usernames import normalise_username


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("fit.bayann", "fit.bayann"),
        ("Fit.Bayann", "fit.bayann"),
        ("@chef.marco", "chef.marco"),
        ("  gg_kenji  ", "gg_kenji"),
        ("https://www.instagram.com/Wander.Lena/", "wander.lena"),
        ("http://instagram.com/wander.lena", "wander.lena"),
        ("instagram.com/wander.lena/?hl=en", "wander.lena"),
        ("a", "a"),
        ("x" * 30, "x" * 30),
        ("_under_", "_under_"),
    ],
)
def test_valid_usernames_are_normalised_to_lower_case(raw: str, expected: str) -> None:
    assert normalise_username(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "must not be empty"),
        ("@", "must not be empty"),
        ("x" * 31, "at most 30 characters, got 31"),
        ("fit bayann", "only letters, digits, '.' and '_'"),
        ("fit-bayann", "'-'"),
        ("émile", "'\\xe9'"),
        (".dot", "must not start or end with '.'"),
        ("dot.", "must not start or end with '.'"),
        ("two..dots", "two '.' in a row"),
        ("https://example.com/fit.bayann", "Instagram profile URL"),
        ("https://www.instagram.com/p/Cabc123/", "exactly one path segment"),
    ],
)
def test_invalid_usernames_are_refused_with_the_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        normalise_username(raw)
    assert info.value.message.startswith("username: ")
    assert reason in info.value.message


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("https://[x]/abc", "Instagram profile URL"),  # urlsplit: not an IPv6 address
        ("http://[::1/x", "Instagram profile URL"),  # urlsplit: unclosed bracket
        ("https://www.insta\u2100gram.com/abc", "Instagram profile URL"),  # urlsplit: changes under NFKC
        ("https://a\u2100b@www.instagram.com/abc", "Instagram profile URL"),
        ("a" * 513, "at most 30 characters (a profile URL at most 512)"),
        ("https://www.instagram.com/" + "a" * 1_000_000, "at most 30 characters (a profile URL at most 512)"),
        ("@" * 100_000, "at most 30 characters"),
    ],
)
def test_hostile_and_over_long_inputs_are_invalid_arguments_not_crashes(raw: str, reason: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        normalise_username(raw)
    assert reason in info.value.message and info.value.message.isascii()
