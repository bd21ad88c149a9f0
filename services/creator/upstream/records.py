"""What a profile fetch returns: typed, immutable records of one Instagram profile and its recent posts.

These records are the upstream's own view (raw caption, raw counts). Hashtags, mentions, sponsorship markers in the
caption and every statistic are derived later by the creator domain, not here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class PostType(enum.Enum):
    IMAGE = "image"
    VIDEO = "video"
    # Several images or videos in one post (GraphSidecar, media_type 8).
    CAROUSEL = "carousel"
    # A video with product_type "clips".
    REEL = "reel"


@dataclass(frozen=True, slots=True)
class Location:
    id: str
    name: str
    slug: str | None = None


@dataclass(frozen=True, slots=True)
class CarouselItem:
    """One item of a carousel, in order."""

    image_url: str
    is_video: bool
    video_url: str | None = None


@dataclass(frozen=True, slots=True)
class Post:
    instagram_id: str
    shortcode: str
    type: PostType
    taken_at: datetime  # timezone-aware, UTC
    # The caption text, None when the post has none.
    caption: str | None
    # None when the creator hides like counts (Instagram reports -1 or leaves the field out).
    likes: int | None
    comments: int
    # Video views (plays for Reels when Instagram reports them); None for images and carousels.
    views: int | None
    # Pinned to the top of the grid: not necessarily recent.
    is_pinned: bool
    # Usernames from the paid-partnership (sponsor) edge; empty for organic posts.
    sponsors: tuple[str, ...]
    tagged_users: tuple[str, ...]
    location: Location | None
    # The largest display rendition (the cover for videos and carousels); None if Instagram sent no image at all.
    image_url: str | None
    # Every item of a carousel, in order; empty for other types.
    carousel: tuple[CarouselItem, ...] = ()
    video_duration_seconds: float | None = None
    accessibility_caption: str | None = None

    @property
    def permalink(self) -> str:
        return f"https://www.instagram.com/p/{self.shortcode}/"


@dataclass(frozen=True, slots=True)
class Profile:
    instagram_id: str
    # Lower-case.
    username: str
    full_name: str
    biography: str
    external_url: str | None
    bio_links: tuple[str, ...]
    is_private: bool
    is_verified: bool
    is_business: bool
    # Business or creator category ("Fitness Trainer"), None when the account has none.
    category: str | None
    followers: int
    following: int
    # Total posts on the account, not only those fetched.
    posts_count: int
    # The largest avatar Instagram offers (HD when available).
    avatar_url: str | None
    business_email: str | None = None
    business_phone: str | None = None


@dataclass(frozen=True, slots=True)
class ProfileFetch:
    """One profile with its most recent posts, newest first (pinned posts where Instagram puts them)."""

    profile: Profile
    posts: tuple[Post, ...] = field(default_factory=tuple)
    # Which source answered ("web" or "sample").
    source: str = "web"
    # Upstream HTTP requests this fetch needed, retries included.
    requests_made: int = 0
