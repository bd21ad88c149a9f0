"""Media: the CDN job plan of a fetch (priorities, each URL once) and what a response shows for each CDN state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cdn.v1 import cdn_pb2
from creator.v1 import creator_pb2

from services.creator.cdn_client import media_info
from services.creator.media import plan_jobs
from services.creator.records import MediaInfo, Rendition
from services.creator.reports import media
from services.creator.upstream import CarouselItem, Post, PostType, Profile, ProfileFetch

NOW = datetime(2026, 11, 20, tzinfo=UTC)


def profile(avatar: str | None) -> Profile:
    return Profile("1", "kai", "Kai", "", None, (), False, False, False, None, 100, 10, 20, avatar_url=avatar)


def post(index: int, image: str | None, carousel: tuple[str, ...] = ()) -> Post:
    return Post(
        instagram_id=str(index),
        shortcode=f"s{index}",
        type=PostType.CAROUSEL if carousel else PostType.IMAGE,
        taken_at=NOW - timedelta(days=index),
        caption=None,
        likes=1,
        comments=0,
        views=None,
        is_pinned=False,
        sponsors=(),
        tagged_users=(),
        location=None,
        image_url=image,
        carousel=tuple(CarouselItem(url, False) for url in carousel),
    )


def test_jobs_go_avatar_first_then_newest_posts_then_the_rest_and_carousel_items_last() -> None:
    posts = [post(i, f"https://cdn.example/p{i}.jpg") for i in range(6)]
    posts.append(post(6, "https://cdn.example/p6.jpg", ("https://cdn.example/p6.jpg", "https://cdn.example/c1.jpg")))
    posts.append(post(7, None))
    jobs = plan_jobs(ProfileFetch(profile("https://cdn.example/avatar.jpg"), tuple(reversed(posts))))
    assert [(job.source_url.rsplit("/", 1)[-1], job.priority) for job in jobs] == [
        ("avatar.jpg", cdn_pb2.PRIORITY_CRITICAL),
        ("p0.jpg", cdn_pb2.PRIORITY_HIGH),
        ("p1.jpg", cdn_pb2.PRIORITY_HIGH),
        ("p2.jpg", cdn_pb2.PRIORITY_HIGH),
        ("p3.jpg", cdn_pb2.PRIORITY_HIGH),
        ("p4.jpg", cdn_pb2.PRIORITY_MEDIUM),
        ("p5.jpg", cdn_pb2.PRIORITY_MEDIUM),
        ("p6.jpg", cdn_pb2.PRIORITY_MEDIUM),
        ("c1.jpg", cdn_pb2.PRIORITY_LOW),
    ]
    assert jobs[0].kind == cdn_pb2.ASSET_KIND_AVATAR and all(j.kind == cdn_pb2.ASSET_KIND_POST_IMAGE for j in jobs[1:])
    assert {job.owner for job in jobs} == {"creator:kai"}


def test_no_avatar_and_non_http_urls_give_no_jobs() -> None:
    assert plan_jobs(ProfileFetch(profile(None), (post(0, "data:image/png;base64,xx"),))) == []


def test_a_response_shows_the_largest_rendition_when_mirrored_and_the_original_otherwise() -> None:
    url = "https://cdn.example/p.jpg"
    renditions = (
        Rendition(320, 320, "webp", "http://ours/320.webp"),
        Rendition(1080, 1080, "webp", "http://ours/1080.webp"),
    )
    mirrored = media(url, {url: MediaInfo(url, creator_pb2.MEDIA_STATE_MIRRORED, renditions)})
    assert (mirrored.url, mirrored.original_url, mirrored.state) == (
        "http://ours/1080.webp",
        url,
        creator_pb2.MEDIA_STATE_MIRRORED,
    )
    assert [r.width for r in mirrored.renditions] == [320, 1080]
    failed = media(url, {url: MediaInfo(url, creator_pb2.MEDIA_STATE_FAILED)})
    assert (failed.url, failed.state) == (url, creator_pb2.MEDIA_STATE_FAILED)
    unknown = media(url, {})
    assert (unknown.url, unknown.state) == (url, creator_pb2.MEDIA_STATE_PENDING)


def test_cdn_asset_states_map_to_media_states() -> None:
    done = cdn_pb2.Asset(source_url="u", state=cdn_pb2.JOB_STATE_DONE, renditions=[cdn_pb2.Rendition(url="x")])
    assert media_info(done).state == creator_pb2.MEDIA_STATE_MIRRORED
    assert media_info(cdn_pb2.Asset(source_url="u", state=cdn_pb2.JOB_STATE_DEAD)).state == (
        creator_pb2.MEDIA_STATE_FAILED
    )
    for state in (cdn_pb2.JOB_STATE_UNSPECIFIED, cdn_pb2.JOB_STATE_QUEUED, cdn_pb2.JOB_STATE_RETRYING):
        assert media_info(cdn_pb2.Asset(source_url="u", state=state)).state == creator_pb2.MEDIA_STATE_PENDING
