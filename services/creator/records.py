"""The creator service's own records of what it stored: a profile, a post with its analysis, an image's mirror state,
a rendered report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.creator.analytics import CaptionAnalysis


@dataclass(frozen=True, slots=True)
class Rendition:
    width: int
    height: int
    format: str
    url: str


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What the CDN said about one source image. `state` is a creator.v1 MediaState value."""

    source_url: str
    state: int
    renditions: tuple[Rendition, ...] = ()


@dataclass(frozen=True, slots=True)
class StoredProfile:
    creator_id: int
    instagram_id: str
    username: str
    full_name: str
    biography: str
    external_url: str
    bio_links: tuple[str, ...]
    is_private: bool
    is_verified: bool
    is_business: bool
    category: str
    followers: int
    following: int
    posts_count: int
    avatar_url: str
    fetched_at: datetime


@dataclass(frozen=True, slots=True)
class StoredPost:
    instagram_id: str
    shortcode: str
    type: str  # an upstream PostType value: image, video, carousel, reel
    taken_at: datetime
    caption: str | None
    likes: int | None
    comments: int
    views: int | None
    is_pinned: bool
    is_sponsored: bool
    hashtags: tuple[str, ...]
    mentions: tuple[str, ...]
    tagged_users: tuple[str, ...]
    location_name: str
    image_url: str
    carousel_urls: tuple[str, ...]
    # None while pending or when the post has no caption.
    analysis: CaptionAnalysis | None
    # Follower count the engagement rate is computed against (the creator's at the latest fetch).
    followers: int = 0


@dataclass(frozen=True, slots=True)
class RenderedReport:
    """A report as stored on its creator's row: the serialised CreatorReport and the figures the unlocked list shows
    (computed over the summary window, see reports.ReportRules)."""

    report: bytes
    analysis_pending: bool
    media_pending: bool
    dominant_category: str
    # None when no post qualifies (engagement_absent_reason says why).
    mean_engagement_rate: float | None
    engagement_posts_considered: int
    engagement_absent_reason: str
