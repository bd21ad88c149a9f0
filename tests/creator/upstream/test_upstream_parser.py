"""The parser on recorded-shape answers: the GraphQL `edge_*` shape, the v1 `pk`/`*_count` shape, and every edge
case Instagram produces (absent or null fields, carousels, reels, hidden likes, no caption, pinned, sponsored)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.creator.upstream import Post, PostType, UpstreamProtocolError, UserNotFound
from services.creator.upstream.parser import parse_feed_response, parse_post, parse_profile_response

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def graphql_posts() -> tuple[Post, ...]:
    page = parse_profile_response(load("graphql_profile.json"), "fit.bayann").first_page
    assert page is not None
    return page.posts


def test_graphql_profile_maps_every_profile_field() -> None:
    page = parse_profile_response(load("graphql_profile.json"), "fit.bayann")
    profile = page.profile
    assert profile.instagram_id == "1789012345"
    assert profile.username == "fit.bayann"  # lower-cased
    assert profile.full_name == "Bayan N. | Fitness Coach"
    assert profile.followers == 1_412_388
    assert profile.following == 612
    assert profile.posts_count == 1443
    assert profile.is_verified and profile.is_business and not profile.is_private
    assert profile.category == "Fitness Trainer"  # the specific category wins over the broad business group
    assert profile.avatar_url is not None and profile.avatar_url.endswith("s320x320")
    assert profile.bio_links == ("https://bayann.fit", "https://l.instagram.com/?u=https%3A%2F%2Fshop.bayann.fit")
    assert profile.business_email == "hello@bayann.fit"
    assert profile.business_phone is None


def test_graphql_profile_embeds_the_first_page_with_its_cursor() -> None:
    page = parse_profile_response(load("graphql_profile.json"), "fit.bayann")
    assert page.first_page is not None
    assert page.first_page.next_cursor == "QVFEcl9yZWNvcmRlZF9jdXJzb3I="
    assert [post.type for post in page.first_page.posts] == [
        PostType.IMAGE,
        PostType.REEL,
        PostType.VIDEO,
        PostType.CAROUSEL,
    ]


def test_graphql_pinned_image_with_location_tags_and_largest_rendition() -> None:
    pinned = graphql_posts()[0]
    assert pinned.is_pinned
    assert pinned.instagram_id == "3467059717812711808"
    assert pinned.permalink == "https://www.instagram.com/p/DAdeHGvSvGA/"
    assert pinned.taken_at == datetime.fromtimestamp(1727174685, tz=UTC)
    assert pinned.likes == 51377 and pinned.comments == 1924
    assert pinned.views is None
    assert pinned.caption == "Full-body HIIT circuit 🔥 #fitness #hiit @sam.runs"
    assert pinned.image_url == "https://scontent.cdninstagram.com/v/p/pinned_1080.jpg"  # largest, not the last listed
    assert pinned.tagged_users == ("sam.runs",)
    assert pinned.location is not None and pinned.location.name == "Venice Beach"
    assert pinned.sponsors == ()
    assert pinned.accessibility_caption is not None


def test_graphql_reel_without_caption_reads_plays_sponsor_and_falls_back_to_display_url() -> None:
    reel = graphql_posts()[1]
    assert reel.type is PostType.REEL
    assert reel.caption is None
    assert reel.views == 829783  # plays for Reels
    assert reel.video_duration_seconds == 31.5
    assert reel.sponsors == ("myproteinuk",)
    assert reel.location is None
    assert reel.image_url == "https://scontent.cdninstagram.com/v/p/reel_cover.jpg"


def test_graphql_hidden_likes_become_none_and_comments_fall_back_to_parent_edge() -> None:
    video = graphql_posts()[2]
    assert video.type is PostType.VIDEO
    assert video.likes is None
    assert video.comments == 77
    assert video.views == 120345
    assert video.image_url == "https://scontent.cdninstagram.com/v/p/video_thumb.jpg"  # thumbnail_src as last resort
    assert not video.is_pinned


def test_graphql_carousel_lists_items_in_order_and_reads_fallback_counts() -> None:
    carousel = graphql_posts()[3]
    assert carousel.type is PostType.CAROUSEL
    assert carousel.caption is None  # an empty caption is no caption
    assert carousel.likes == 4410  # edge_liked_by when the preview edge is missing
    assert carousel.comments == 12  # edge_media_preview_comment as the last fallback
    assert [item.image_url for item in carousel.carousel] == [
        "https://scontent.cdninstagram.com/v/p/c1_1440.jpg",
        "https://scontent.cdninstagram.com/v/p/c2.jpg",
    ]
    assert [item.is_video for item in carousel.carousel] == [False, True]
    assert carousel.carousel[1].video_url == "https://scontent.cdninstagram.com/v/p/c2.mp4"
    assert carousel.views is None


def test_v1_profile_maps_counts_pk_category_and_largest_hd_avatar() -> None:
    page = parse_profile_response(load("v1_profile.json"), "wander.lena")
    profile = page.profile
    assert page.first_page is None  # the v1 shape embeds no posts: they come from the feed
    assert profile.instagram_id == "2233445566"
    assert (profile.followers, profile.following, profile.posts_count) == (312775, 1204, 642)
    assert profile.is_business and profile.category == "Travel Blogger"
    assert profile.avatar_url == "https://scontent.cdninstagram.com/v/t51.2885-19/lena_640.jpg"
    assert profile.external_url is None and profile.bio_links == ()
    assert profile.business_email is None  # "" is no email
    assert profile.business_phone == "+49 30 1234567"


def test_v1_feed_page_reads_cursor_and_every_media_type() -> None:
    page = parse_feed_response(load("v1_feed.json"))
    assert page.next_cursor == "3480700000000000013_2233445566"
    image, reel, carousel, video = page.posts
    assert image.type is PostType.IMAGE and image.is_pinned
    assert image.image_url == "https://scontent.cdninstagram.com/v/p/fjord_1080.jpg"
    assert image.likes == 9120 and image.comments == 143
    assert image.tagged_users == ("nora.snaps",)
    assert image.location is not None and image.location.id == "213385402"
    assert reel.type is PostType.REEL and reel.likes is None and reel.caption is None
    assert reel.views == 250000 and reel.sponsors == ("osprey",)
    assert reel.instagram_id == "3480900000000000011"
    assert carousel.type is PostType.CAROUSEL
    assert carousel.instagram_id == "3480800000000000012"  # from "<pk>_<user id>" when pk is absent
    assert carousel.sponsors == ("booking.com",)
    assert [item.is_video for item in carousel.carousel] == [False, True]
    assert carousel.carousel[1].video_url == "https://scontent.cdninstagram.com/v/p/lx2.mp4"
    assert video.type is PostType.VIDEO and video.views == 60000
    assert video.image_url == "https://scontent.cdninstagram.com/v/p/camp_thumb.jpg"


def test_feed_page_in_graphql_shape_is_accepted_and_ends_without_cursor() -> None:
    page = parse_feed_response(load("graphql_timeline_page.json"))
    assert page.next_cursor is None  # has_next_page false wins over a present end_cursor
    assert [post.shortcode for post in page.posts] == ["C8AAAAAAAAB"]


def test_private_profile_is_flagged_and_has_no_posts() -> None:
    page = parse_profile_response(load("graphql_private.json"), "private.pia")
    assert page.profile.is_private
    assert page.profile.posts_count == 214
    assert page.first_page is not None and page.first_page.posts == ()
    assert page.profile.category is None


def test_profile_with_nulls_everywhere_gets_defaults() -> None:
    page = parse_profile_response(load("minimal_profile.json"), "bare.bones")
    profile = page.profile
    assert profile.instagram_id == "4455"
    assert (profile.full_name, profile.biography, profile.bio_links) == ("", "", ())
    assert (profile.followers, profile.following, profile.posts_count) == (0, 0, 0)
    assert profile.avatar_url is None and profile.category is None
    assert not profile.is_private and not profile.is_verified
    assert page.first_page is None


def test_null_user_means_no_such_account() -> None:
    with pytest.raises(UserNotFound, match=r"nobody\.here"):
        parse_profile_response(load("user_null.json"), "nobody.here")


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "oops",
        {"data": {"user": {"username": "no.id"}}},
        {"data": {"user": {"id": "1"}}},
    ],
)
def test_profile_without_ids_is_a_protocol_error(payload: object) -> None:
    with pytest.raises(UpstreamProtocolError):
        parse_profile_response(payload, "x")


def test_feed_without_items_or_timeline_is_a_protocol_error() -> None:
    with pytest.raises(UpstreamProtocolError):
        parse_feed_response({"status": "ok"})


@pytest.mark.parametrize(
    "node",
    [
        {"shortcode": "AAA", "taken_at_timestamp": 1},
        {"id": "1", "taken_at_timestamp": 1},
        {"id": "1", "shortcode": "AAA"},
        {"code": "AAA", "taken_at": 1, "media_type": 1},
    ],
)
def test_post_without_id_shortcode_or_time_is_a_protocol_error(node: dict[str, Any]) -> None:
    with pytest.raises(UpstreamProtocolError):
        parse_post(node)


def test_negative_like_count_in_v1_shape_is_hidden() -> None:
    post = parse_post({"pk": 7, "code": "AAB", "taken_at": 1_700_000_000, "media_type": 1, "like_count": -1})
    assert post.likes is None
    assert post.comments == 0
    assert post.image_url is None
