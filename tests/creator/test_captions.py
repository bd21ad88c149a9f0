"""Hashtags, mentions and paid-partnership markers read from captions."""

from __future__ import annotations

from services.creator.captions import hashtags, is_sponsored, mentions


def test_hashtags_are_lower_case_unique_in_order_and_include_non_latin_scripts() -> None:
    caption = "Leg day! #Fitness #legday #fitness #日本 email a#b &#39; #café_time"
    assert hashtags(caption) == ["fitness", "legday", "日本", "café_time"]


def test_mentions_are_lower_case_unique_and_ignore_emails_and_trailing_dots() -> None:
    caption = "Thanks @Nike and @nike! Shot by @photo.guy. Mail me at me@example.com"
    assert mentions(caption) == ["nike", "photo.guy"]


def test_posts_without_captions_have_no_terms() -> None:
    assert hashtags(None) == [] and mentions(None) == [] and hashtags("") == []


def test_sponsorship_comes_from_the_sponsor_edge_tags_or_the_paid_partnership_phrase() -> None:
    assert is_sponsored(None, ("brand",))
    assert is_sponsored("new gear #AD", ())
    assert is_sponsored("thanks #sponsored", ())
    assert is_sponsored("with #partner", ())
    assert is_sponsored("Paid  Partnership with @brand", ())
    assert not is_sponsored("I had a great day #adventure #adidas", ())
    assert not is_sponsored(None, ())
