"""Instagram JSON to records: the profile (`data.user`) and posts in both shapes Instagram serves.

The GraphQL shape uses `edge_*` objects (`edge_followed_by.count`, `edge_media_preview_like.count`, ...); the v1
(mobile) shape uses `pk`, `*_count` and `image_versions2`. Every field except the ids may be absent or null: Instagram
drops fields without notice, so the parser falls back field by field and only fails when an id is missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.creator.upstream.errors import UpstreamProtocolError, UserNotFound
from services.creator.upstream.records import CarouselItem, Location, Post, PostType, Profile

Json = dict[str, Any]

_CAROUSEL_TYPENAMES = {"GraphSidecar", "XDTGraphSidecar"}
_VIDEO_TYPENAMES = {"GraphVideo", "XDTGraphVideo"}


@dataclass(frozen=True, slots=True)
class PostPage:
    posts: tuple[Post, ...]
    # Pass to the feed endpoint for the next page; None when there is none.
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class ProfilePage:
    profile: Profile
    # The first page of posts when the profile response embeds one (GraphQL shape), else None.
    first_page: PostPage | None


def parse_profile_response(payload: object, username: str) -> ProfilePage:
    """Parse a `web_profile_info` answer. `data.user: null` means there is no such account."""
    root = _require_dict(payload, "response")
    data = root.get("data")
    user = data.get("user") if isinstance(data, dict) else root.get("user")
    if user is None and isinstance(data, dict):
        raise UserNotFound(username)
    user = _require_dict(user, "data.user")
    profile = parse_profile(user)
    timeline = user.get("edge_owner_to_timeline_media")
    first_page = None
    if isinstance(timeline, dict) and isinstance(timeline.get("edges"), list):
        first_page = _graphql_page(timeline)
    return ProfilePage(profile=profile, first_page=first_page)


def parse_feed_response(payload: object) -> PostPage:
    """Parse one page of posts: the v1 feed (`items`, `next_max_id`) or a GraphQL timeline page."""
    root = _require_dict(payload, "response")
    if isinstance(root.get("items"), list):
        posts = tuple(parse_post(item) for item in root["items"] if isinstance(item, dict))
        cursor = _str(root.get("next_max_id")) if root.get("more_available") else None
        return PostPage(posts=posts, next_cursor=cursor)
    user = _dict(_dict(root.get("data")).get("user")) or _dict(root.get("user"))
    timeline = user.get("edge_owner_to_timeline_media")
    if isinstance(timeline, dict):
        return _graphql_page(timeline)
    raise UpstreamProtocolError("feed response has neither `items` nor `edge_owner_to_timeline_media`")


def parse_profile(user: Json) -> Profile:
    instagram_id = _str(user.get("id")) or _str(user.get("pk")) or _str(user.get("pk_id"))
    username = _str(user.get("username"))
    if not instagram_id or not username:
        raise UpstreamProtocolError("profile lacks `id`/`pk` or `username`")
    return Profile(
        instagram_id=instagram_id,
        username=username.lower(),
        full_name=_str(user.get("full_name")) or "",
        biography=_str(user.get("biography")) or "",
        external_url=_str(user.get("external_url")),
        bio_links=tuple(_bio_links(user.get("bio_links"))),
        is_private=bool(user.get("is_private")),
        is_verified=bool(user.get("is_verified")),
        is_business=bool(user.get("is_business_account") or user.get("is_business")),
        category=_first_str(user, "category_name", "category", "business_category_name"),
        followers=_count(user, ("edge_followed_by", "count"), ("follower_count",)) or 0,
        following=_count(user, ("edge_follow", "count"), ("following_count",)) or 0,
        posts_count=_count(user, ("edge_owner_to_timeline_media", "count"), ("media_count",)) or 0,
        avatar_url=_avatar(user),
        business_email=_first_str(user, "business_email", "public_email"),
        business_phone=_first_str(user, "business_phone_number", "public_phone_number", "contact_phone_number"),
    )


def parse_post(node: Json) -> Post:
    """One post in either shape: v1 items carry `media_type`/`code`, GraphQL nodes `__typename`/`shortcode`."""
    if "media_type" in node or "code" in node or "image_versions2" in node:
        return _v1_post(node)
    return _graphql_post(node)


def _graphql_page(timeline: Json) -> PostPage:
    edges = timeline.get("edges") or []
    posts = tuple(parse_post(_dict(edge.get("node"))) for edge in edges if isinstance(edge, dict))
    page_info = _dict(timeline.get("page_info"))
    cursor = _str(page_info.get("end_cursor")) if page_info.get("has_next_page") else None
    return PostPage(posts=posts, next_cursor=cursor)


def _graphql_post(node: Json) -> Post:
    instagram_id, shortcode = _str(node.get("id")), _str(node.get("shortcode"))
    if not instagram_id or not shortcode:
        raise UpstreamProtocolError("post lacks `id` or `shortcode`")
    typename = _str(node.get("__typename")) or ""
    is_video = bool(node.get("is_video")) or typename in _VIDEO_TYPENAMES
    if typename in _CAROUSEL_TYPENAMES or "edge_sidecar_to_children" in node:
        post_type = PostType.CAROUSEL
    elif is_video:
        post_type = PostType.REEL if node.get("product_type") == "clips" else PostType.VIDEO
    else:
        post_type = PostType.IMAGE
    likes = _count(node, ("edge_media_preview_like", "count"), ("edge_liked_by", "count"))
    if node.get("like_and_view_counts_disabled"):
        likes = None
    comments = _count(
        node,
        ("edge_media_to_comment", "count"),
        ("edge_media_to_parent_comment", "count"),
        ("edge_media_preview_comment", "count"),
    )
    views = None
    if post_type in (PostType.VIDEO, PostType.REEL):
        plays, view_count = _int(node.get("video_play_count")), _int(node.get("video_view_count"))
        views = plays if post_type is PostType.REEL and plays is not None else view_count
    caption_edges = _dict(node.get("edge_media_to_caption")).get("edges") or []
    caption = _str(_dict(_dict(caption_edges[0]).get("node")).get("text")) if caption_edges else None
    children = _dict(node.get("edge_sidecar_to_children")).get("edges") or []
    return Post(
        instagram_id=instagram_id,
        shortcode=shortcode,
        type=post_type,
        taken_at=_timestamp(node.get("taken_at_timestamp") or node.get("taken_at")),
        caption=caption or None,
        likes=_visible(likes),
        comments=max(comments or 0, 0),
        views=_visible(views),
        is_pinned=bool(node.get("pinned_for_users")),
        sponsors=tuple(_usernames(_edge_nodes(node, "edge_media_to_sponsor_user"), "sponsor")),
        tagged_users=tuple(_usernames(_edge_nodes(node, "edge_media_to_tagged_user"), "user")),
        location=_location(node.get("location")),
        image_url=_graphql_image(node),
        carousel=tuple(_graphql_child(_dict(_dict(edge).get("node"))) for edge in children),
        video_duration_seconds=_float(node.get("video_duration")),
        accessibility_caption=_str(node.get("accessibility_caption")),
    )


def _v1_post(item: Json) -> Post:
    pk = _str(item.get("pk")) or (_str(item.get("id")) or "").split("_")[0]
    shortcode = _str(item.get("code"))
    if not pk or not shortcode:
        raise UpstreamProtocolError("post lacks `pk` or `code`")
    media_type = _int(item.get("media_type"))
    if media_type == 8 or item.get("carousel_media"):
        post_type = PostType.CAROUSEL
    elif media_type == 2:
        post_type = PostType.REEL if item.get("product_type") == "clips" else PostType.VIDEO
    else:
        post_type = PostType.IMAGE
    likes = None if item.get("like_and_view_counts_disabled") else _int(item.get("like_count"))
    views = None
    if post_type in (PostType.VIDEO, PostType.REEL):
        plays = _int(item.get("play_count")) or _int(item.get("ig_play_count"))
        view_count = _int(item.get("view_count"))
        views = plays if post_type is PostType.REEL and plays is not None else (view_count or plays)
    usertags = _dict(item.get("usertags")).get("in") or []
    return Post(
        instagram_id=pk,
        shortcode=shortcode,
        type=post_type,
        taken_at=_timestamp(item.get("taken_at")),
        caption=_str(_dict(item.get("caption")).get("text")) or None,
        likes=_visible(likes),
        comments=max(_int(item.get("comment_count")) or 0, 0),
        views=_visible(views),
        is_pinned=bool(item.get("timeline_pinned_user_ids")),
        sponsors=tuple(_usernames(item.get("sponsor_tags") or [], "sponsor")),
        tagged_users=tuple(_usernames(usertags, "user")),
        location=_location(item.get("location")),
        image_url=_largest_candidate(item),
        carousel=tuple(_v1_child(_dict(child)) for child in item.get("carousel_media") or []),
        video_duration_seconds=_float(item.get("video_duration")),
        accessibility_caption=_str(item.get("accessibility_caption")),
    )


def _graphql_image(node: Json) -> str | None:
    best, best_area = None, -1
    for resource in node.get("display_resources") or []:
        resource = _dict(resource)
        src = _str(resource.get("src"))
        area = (_int(resource.get("config_width")) or 0) * (_int(resource.get("config_height")) or 0)
        if src and area > best_area:
            best, best_area = src, area
    return best or _str(node.get("display_url")) or _str(node.get("thumbnail_src"))


def _largest_candidate(item: Json) -> str | None:
    best, best_area = None, -1
    for candidate in _dict(item.get("image_versions2")).get("candidates") or []:
        candidate = _dict(candidate)
        url = _str(candidate.get("url"))
        area = (_int(candidate.get("width")) or 0) * (_int(candidate.get("height")) or 0)
        if url and area > best_area:
            best, best_area = url, area
    return best or _str(item.get("thumbnail_url")) or _str(item.get("display_uri"))


def _graphql_child(node: Json) -> CarouselItem:
    return CarouselItem(
        image_url=_graphql_image(node) or "",
        is_video=bool(node.get("is_video")),
        video_url=_str(node.get("video_url")),
    )


def _v1_child(item: Json) -> CarouselItem:
    videos = item.get("video_versions") or []
    return CarouselItem(
        image_url=_largest_candidate(item) or "",
        is_video=_int(item.get("media_type")) == 2,
        video_url=_str(_dict(videos[0]).get("url")) if videos else None,
    )


def _avatar(user: Json) -> str | None:
    hd_info = _str(_dict(user.get("hd_profile_pic_url_info")).get("url"))
    if hd_info:
        return hd_info
    hd = _str(user.get("profile_pic_url_hd"))
    if hd:
        return hd
    best, best_width = None, -1
    for version in user.get("hd_profile_pic_versions") or []:
        version = _dict(version)
        url, width = _str(version.get("url")), _int(version.get("width")) or 0
        if url and width > best_width:
            best, best_width = url, width
    return best or _str(user.get("profile_pic_url"))


def _bio_links(value: object) -> Iterable[str]:
    for link in value if isinstance(value, list) else []:
        url = _str(_dict(link).get("url")) or _str(_dict(link).get("lynx_url"))
        if url:
            yield url


def _location(value: object) -> Location | None:
    location = _dict(value)
    location_id = _str(location.get("id")) or _str(location.get("pk"))
    name = _str(location.get("name"))
    if not location_id or not name:
        return None
    return Location(id=location_id, name=name, slug=_str(location.get("slug")))


def _edge_nodes(node: Json, edge: str) -> list[Json]:
    return [_dict(_dict(e).get("node")) for e in _dict(node.get(edge)).get("edges") or []]


def _usernames(entries: Iterable[object], key: str) -> Iterable[str]:
    """Usernames from `[{key: {username}}]` or `[{username}]` entries, lower-case, in order."""
    for entry in entries:
        entry = _dict(entry)
        name = _str(_dict(entry.get(key)).get("username")) or _str(entry.get("username"))
        if name:
            yield name.lower()


def _count(obj: Json, *paths: tuple[str, ...]) -> int | None:
    """The first path that leads to an integer: ("edge_followed_by", "count") or ("follower_count",)."""
    for path in paths:
        value: object = obj
        for key in path:
            value = _dict(value).get(key)
        number = _int(value)
        if number is not None:
            return number
    return None


def _visible(count: int | None) -> int | None:
    """Instagram reports hidden counts as -1 or leaves them out."""
    return count if count is not None and count >= 0 else None


def _timestamp(value: object) -> datetime:
    seconds = _float(value)
    if seconds is None:
        raise UpstreamProtocolError("post lacks `taken_at_timestamp`/`taken_at`")
    return datetime.fromtimestamp(seconds, tz=UTC)


def _first_str(obj: Json, *keys: str) -> str | None:
    for key in keys:
        value = _str(obj.get(key))
        if value:
            return value
    return None


def _require_dict(value: object, what: str) -> Json:
    if not isinstance(value, dict):
        raise UpstreamProtocolError(f"{what} is not a JSON object")
    return value


def _dict(value: object) -> Json:
    return value if isinstance(value, dict) else {}


def _str(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def _float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return None
