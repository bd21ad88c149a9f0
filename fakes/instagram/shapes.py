"""Instagram's JSON, rendered for a sample creator: the web profile answer in the GraphQL (`edge_*`) or the v1
(`pk`, `*_count`) shape, and pages of the v1 user feed. Field names and nesting follow Instagram's answers as
instaloader and instagrapi read them; image URLs point back at this server.
"""

from __future__ import annotations

from typing import Any

from fakes.instagram.catalogue import Catalogue, SamplePost
from fakes.instagram.creators import CreatorSpec

Json = dict[str, Any]
POST_SIZE = (1080, 1350)
POST_RENDITIONS = ((640, 800), (750, 937), (1080, 1350))
AVATAR_SMALL, AVATAR_HD = 150, 320
FIRST_PAGE = 12
FEED_MAX_COUNT = 33


def image_url(base: str, username: str, key: str, width: int, height: int) -> str:
    return f"{base}/media/{username}/{key}_{width}x{height}.jpg"


def profile_answer(catalogue: Catalogue, spec: CreatorSpec, base: str) -> Json:
    user = _graphql_user(catalogue, spec, base) if spec.shape == "graphql" else _v1_user(catalogue, spec, base)
    return {"data": {"user": user}, "status": "ok"}


def feed_answer(catalogue: Catalogue, spec: CreatorSpec, base: str, count: int, after: str | None) -> Json:
    """One page of the v1 feed: `count` posts after the post named by the cursor (`<media id>_<user id>`)."""
    posts = catalogue.posts(spec)
    start = 0
    if after:
        ids = [post.id for post in posts]
        media_id = after.split("_")[0]
        if media_id not in ids:
            raise ValueError(f"unknown max_id {after!r}")
        start = ids.index(media_id) + 1
    page = posts[start : start + max(1, min(count, FEED_MAX_COUNT))]
    uid = catalogue.user_id(spec)
    more = start + len(page) < len(posts)
    return {
        "items": [_v1_item(spec, uid, post, base) for post in page],
        "num_results": len(page),
        "more_available": more,
        "next_max_id": f"{page[-1].id}_{uid}" if more and page else None,
        "user": {"pk": int(uid), "username": spec.username},
        "status": "ok",
    }


def _graphql_user(catalogue: Catalogue, spec: CreatorSpec, base: str) -> Json:
    uid = catalogue.user_id(spec)
    posts = () if spec.private else catalogue.posts(spec)
    first = posts[:FIRST_PAGE]
    has_next = len(posts) > FIRST_PAGE
    return {
        "id": uid,
        "fbid": str(17841400000000000 + int(uid)),
        "username": spec.username,
        "full_name": spec.full_name,
        "biography": spec.biography,
        "external_url": spec.external_url,
        "bio_links": [{"title": "", "url": spec.external_url, "link_type": "external"}] if spec.external_url else [],
        "is_private": spec.private,
        "is_verified": spec.verified,
        "is_business_account": spec.business,
        "is_professional_account": spec.business,
        "business_category_name": "Creators & Celebrities" if spec.business else None,
        "category_name": spec.category,
        "business_email": f"hello@{spec.username.replace('.', '')}.example" if spec.business else None,
        "business_phone_number": None,
        "profile_pic_url": image_url(base, spec.username, "avatar", AVATAR_SMALL, AVATAR_SMALL),
        "profile_pic_url_hd": image_url(base, spec.username, "avatar", AVATAR_HD, AVATAR_HD),
        "edge_followed_by": {"count": spec.followers},
        "edge_follow": {"count": spec.following},
        "highlight_reel_count": 4,
        "edge_owner_to_timeline_media": {
            "count": spec.media_count,
            "page_info": {
                "has_next_page": has_next,
                "end_cursor": f"{first[-1].id}_{uid}" if has_next else None,
            },
            "edges": [{"node": _graphql_node(spec, uid, post, base)} for post in first],
        },
    }


def _v1_user(catalogue: Catalogue, spec: CreatorSpec, base: str) -> Json:
    uid = catalogue.user_id(spec)
    return {
        "pk": int(uid),
        "pk_id": uid,
        "username": spec.username,
        "full_name": spec.full_name,
        "biography": spec.biography,
        "external_url": spec.external_url,
        "bio_links": [{"url": spec.external_url, "lynx_url": spec.external_url}] if spec.external_url else [],
        "is_private": spec.private,
        "is_verified": spec.verified,
        "is_business": spec.business,
        "category": spec.category,
        "public_email": f"hello@{spec.username.replace('.', '')}.example" if spec.business else "",
        "follower_count": spec.followers,
        "following_count": spec.following,
        "media_count": spec.media_count,
        "profile_pic_url": image_url(base, spec.username, "avatar", AVATAR_SMALL, AVATAR_SMALL),
        "hd_profile_pic_url_info": {
            "url": image_url(base, spec.username, "avatar", AVATAR_HD, AVATAR_HD),
            "width": AVATAR_HD,
            "height": AVATAR_HD,
        },
    }


def _graphql_node(spec: CreatorSpec, uid: str, post: SamplePost, base: str) -> Json:
    is_video = post.kind in ("video", "reel")
    typename = {"carousel": "GraphSidecar", "video": "GraphVideo", "reel": "GraphVideo"}.get(post.kind, "GraphImage")
    likes = -1 if post.likes_hidden else post.likes
    # Instagram moves the comment count between edges; older posts use the parent-comment edge.
    comment_edge = "edge_media_to_comment" if int(post.id) % 3 else "edge_media_to_parent_comment"
    node: Json = {
        "__typename": typename,
        "id": post.id,
        "shortcode": post.shortcode,
        "dimensions": {"width": POST_SIZE[0], "height": POST_SIZE[1]},
        "display_url": image_url(base, spec.username, post.id, *POST_SIZE),
        "display_resources": _resources(base, spec.username, post.id),
        "thumbnail_src": image_url(base, spec.username, post.id, 640, 640),
        "is_video": is_video,
        "taken_at_timestamp": int(post.taken_at.timestamp()),
        "edge_media_to_caption": {"edges": [{"node": {"text": post.caption}}] if post.caption else []},
        comment_edge: {"count": post.comments},
        "comments_disabled": False,
        "edge_media_preview_like": {"count": likes},
        "like_and_view_counts_disabled": post.likes_hidden,
        "owner": {"id": uid, "username": spec.username},
        "location": _location(post),
        "pinned_for_users": [{"id": uid, "username": spec.username}] if post.pinned else [],
        "edge_media_to_tagged_user": {
            "edges": [{"node": {"user": {"username": name}, "x": 0.5, "y": 0.5}} for name in post.tagged]
        },
        "edge_media_to_sponsor_user": {
            "edges": [{"node": {"sponsor": {"id": "1", "username": post.sponsor}}}] if post.sponsor else []
        },
    }
    if not post.likes_hidden:
        node["edge_liked_by"] = {"count": post.likes}
    if is_video:
        node["product_type"] = "clips" if post.kind == "reel" else "feed"
        node["video_view_count"] = post.views
        node["video_duration"] = post.video_duration
        if post.kind == "reel":
            node["video_play_count"] = int(post.views * 1.3)
    else:
        node["accessibility_caption"] = f"Photo by {spec.full_name}. May be an image of {spec.niche}."
    if post.children:
        node["edge_sidecar_to_children"] = {
            "edges": [
                {
                    "node": {
                        "__typename": "GraphVideo" if kind == "video" else "GraphImage",
                        "id": f"{post.id}{index}",
                        "is_video": kind == "video",
                        "display_url": image_url(base, spec.username, f"{post.id}-{index}", *POST_SIZE),
                        "display_resources": _resources(base, spec.username, f"{post.id}-{index}"),
                    }
                }
                for index, kind in enumerate(post.children)
            ]
        }
    return node


def _v1_item(spec: CreatorSpec, uid: str, post: SamplePost, base: str) -> Json:
    media_type = {"carousel": 8, "video": 2, "reel": 2}.get(post.kind, 1)
    item: Json = {
        "pk": int(post.id),
        "id": f"{post.id}_{uid}",
        "code": post.shortcode,
        "taken_at": int(post.taken_at.timestamp()),
        "media_type": media_type,
        "product_type": {"carousel": "carousel_container", "reel": "clips"}.get(post.kind, "feed"),
        "user": {"pk": int(uid), "username": spec.username},
        "caption": {"text": post.caption, "pk": str(int(post.id) + 1)} if post.caption else None,
        "comment_count": post.comments,
        "like_and_view_counts_disabled": post.likes_hidden,
        "original_width": POST_SIZE[0],
        "original_height": POST_SIZE[1],
        "image_versions2": {"candidates": _candidates(base, spec.username, post.id)},
        "usertags": {"in": [{"user": {"username": name}, "position": [0.5, 0.5]} for name in post.tagged]},
        "sponsor_tags": [{"sponsor": {"pk": 1, "username": post.sponsor}}] if post.sponsor else [],
        "location": _v1_location(post),
    }
    if not post.likes_hidden:
        item["like_count"] = post.likes
    if post.pinned:
        item["timeline_pinned_user_ids"] = [int(uid)]
    if post.kind == "reel":
        item["play_count"] = int(post.views * 1.3)
        item["ig_play_count"] = int(post.views * 1.3)
        item["video_duration"] = post.video_duration
    elif post.kind == "video":
        item["view_count"] = post.views
        item["video_duration"] = post.video_duration
    else:
        item["accessibility_caption"] = f"Photo by {spec.full_name}. May be an image of {spec.niche}."
    if post.children:
        item["carousel_media_count"] = len(post.children)
        item["carousel_media"] = [
            {
                "id": f"{post.id}{index}_{uid}",
                "media_type": 2 if kind == "video" else 1,
                "image_versions2": {"candidates": _candidates(base, spec.username, f"{post.id}-{index}")},
            }
            for index, kind in enumerate(post.children)
        ]
    return item


def _resources(base: str, username: str, key: str) -> list[Json]:
    return [
        {"src": image_url(base, username, key, w, h), "config_width": w, "config_height": h} for w, h in POST_RENDITIONS
    ]


def _candidates(base: str, username: str, key: str) -> list[Json]:
    # The v1 API lists the largest candidate first.
    return [
        {"url": image_url(base, username, key, w, h), "width": w, "height": h} for w, h in reversed(POST_RENDITIONS)
    ]


def _location(post: SamplePost) -> Json | None:
    if post.location is None:
        return None
    location_id, name, slug = post.location
    return {"id": location_id, "has_public_page": True, "name": name, "slug": slug}


def _v1_location(post: SamplePost) -> Json | None:
    if post.location is None:
        return None
    location_id, name, slug = post.location
    return {"pk": int(location_id), "name": name, "slug": slug, "short_name": name.split(",")[0]}
