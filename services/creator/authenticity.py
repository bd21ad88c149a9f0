"""The authenticity score: whether a creator's audience and engagement look genuine, from public data only (pure).

The definition is `Authenticity` in creator.proto: 100 plus each signal's contribution (0 or negative), clamped to
[0, 100]. Each signal compares one public figure with a benchmark; the constants below say where each comes from.
They are deliberately coarse: the score flags accounts worth a closer look, it does not prove fraud, and it cannot
see who the followers are (that needs data Instagram does not publish).
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from creator.v1 import creator_pb2

# The score needs this many non-pinned posts with visible likes; fewer make every ratio noise.
MIN_POSTS = 5
# The follower-jump signal needs this many snapshots (two steps to compare).
MIN_SNAPSHOTS = 3

# Typical engagement rate ((likes + comments) / followers) by follower tier: rounded medians of the Instagram tiers in
# public industry reports (HypeAuditor's and Influencer Marketing Hub's yearly benchmark reports give nano 3-5 %,
# micro 1.5-3 %, mid 1-2 %, macro and mega about 1 %). Rates fall as audiences grow, so each tier has its own.
ER_TIERS: tuple[tuple[int, float], ...] = (
    (10_000, 0.04),  # nano: under 10k followers
    (50_000, 0.024),  # micro
    (500_000, 0.015),  # mid
    (1_000_000, 0.012),  # macro
)
ER_MEGA = 0.01  # 1M followers and more
# An engagement rate under half its tier's suggests followers who never engage (bought or inactive): up to 30 points,
# all of them at 0. Over three times the tier's suggests bought likes or an engagement pod: up to 20 points, all at 5x.
ER_LOW_RATIO, ER_LOW_PENALTY = 0.5, 30.0
ER_HIGH_RATIO, ER_HIGH_SPAN, ER_HIGH_PENALTY = 3.0, 2.0, 20.0

# Comments per like: organic posts get roughly 1-5 comments per 100 likes. Under 0.5 per 100 suggests bought likes
# (up to 10 points, all at 0); over 10 per 100 suggests comment pods or bots (up to 20 points, all at 25 per 100).
CTL_BENCHMARK = 0.02
CTL_LOW, CTL_LOW_PENALTY = 0.005, 10.0
CTL_HIGH, CTL_HIGH_TOP, CTL_HIGH_PENALTY = 0.10, 0.25, 20.0

# Variation of engagement across posts (coefficient of variation of the per-post rates): organic posts differ a lot
# (a hit, a flop), typically 0.3-1.0. Under 0.15 every post gets nearly the same engagement, the mark of a pod or an
# engagement service: up to 20 points, all at 0.
VARIATION_BENCHMARK = 0.15
VARIATION_PENALTY = 20.0

# Follower jumps between consecutive snapshots (at most one per refresh, daily for tracked creators): organic growth
# rarely adds more than 5 % between two refreshes; a jump of 20 % or more takes all 35 points (bought followers). A drop
# of more than 2 % (a purge of fake followers by Instagram) takes up to 10 points, all at 10 %.
SPIKE_BENCHMARK, SPIKE_TOP, SPIKE_PENALTY = 0.05, 0.20, 35.0
DROP_BENCHMARK, DROP_TOP, DROP_PENALTY = 0.02, 0.10, 10.0

# Sponsored share: a feed where more than 30 % of posts are ads tends to lose its audience's trust (up to 10 points,
# all at 70 %). Sponsored posts usually earn somewhat less than organic ones; under half of the organic rate means the
# audience ignores the ads (up to 10 points, all at 0).
SPONSORED_SHARE_BENCHMARK, SPONSORED_SHARE_TOP, SPONSORED_SHARE_PENALTY = 0.30, 0.70, 10.0
SPONSORED_RATIO_BENCHMARK, SPONSORED_RATIO_PENALTY = 0.5, 10.0

BANDS = ((80.0, "high"), (50.0, "medium"), (0.0, "low"))


@dataclass(frozen=True, slots=True)
class PostEngagement:
    likes: int | None  # None when hidden
    comments: int
    is_pinned: bool
    is_sponsored: bool


@dataclass(frozen=True, slots=True)
class Signal:
    name: str
    value: float | None
    benchmark: float
    contribution: float
    explanation: str
    absent_reason: str = ""


@dataclass(frozen=True, slots=True)
class Assessment:
    score: float | None
    absent_reason: str
    signals: tuple[Signal, ...]
    posts_considered: int
    snapshots_considered: int

    @property
    def band(self) -> str:
        if self.score is None:
            return ""
        return next(name for floor, name in BANDS if self.score >= floor)


def tier_benchmark(followers: int) -> float:
    return next((rate for ceiling, rate in ER_TIERS if followers < ceiling), ER_MEGA)


def _ramp(value: float, start: float, end: float) -> float:
    """0 at `start`, 1 at `end` (either direction), clamped."""
    if end == start:
        return 0.0
    return min(max((value - start) / (end - start), 0.0), 1.0)


def assess(followers: int, posts: Sequence[PostEngagement], follower_history: Sequence[int]) -> Assessment:
    """The score of a creator from its follower count, the posts of its window and its follower counts, oldest first."""
    visible = [p for p in posts if not p.is_pinned and p.likes is not None]
    # Enough posts whose likes are hidden is not the same as too few posts: the reader is told which.
    thin = "likes_hidden" if sum(not p.is_pinned for p in posts) >= MIN_POSTS else "too_few_posts"
    signals = (
        _engagement_rate(followers, visible, thin),
        _comments_to_likes(visible, thin),
        _variation(followers, visible, thin),
        _jumps(follower_history),
        _sponsored_share(posts),
        _sponsored_vs_organic(followers, visible),
    )
    snapshots = len(follower_history)
    if followers <= 0:
        return Assessment(None, "no_followers", signals, len(visible), snapshots)
    if len(visible) < MIN_POSTS:
        return Assessment(None, "too_few_posts", signals, len(visible), snapshots)
    score = min(max(100.0 + sum(s.contribution for s in signals), 0.0), 100.0)
    return Assessment(round(score, 1), "", signals, len(visible), snapshots)


def _rate(post: PostEngagement, followers: int) -> float:
    return ((post.likes or 0) + post.comments) / followers


def _engagement_rate(followers: int, visible: Sequence[PostEngagement], thin: str) -> Signal:
    benchmark = tier_benchmark(followers)
    name = "engagement_rate_vs_tier"
    if followers <= 0 or len(visible) < MIN_POSTS:
        reason = "no_followers" if followers <= 0 else thin
        return Signal(name, None, benchmark, 0.0, "mean engagement rate against the follower tier's", reason)
    rate = statistics.fmean(_rate(p, followers) for p in visible)
    ratio = rate / benchmark
    low = ER_LOW_PENALTY * _ramp(ratio, ER_LOW_RATIO, 0.0)
    high = ER_HIGH_PENALTY * _ramp(ratio, ER_HIGH_RATIO, ER_HIGH_RATIO + ER_HIGH_SPAN)
    verdict = (
        "far below the tier: many followers never engage"
        if low
        else "far above the tier: engagement may be bought or arranged"
        if high
        else "within the tier's usual range"
    )
    text = f"mean engagement rate {rate:.2%} against {benchmark:.1%} typical for {followers:,} followers: {verdict}"
    return Signal(name, rate, benchmark, -round(low + high, 2), text)


def _comments_to_likes(visible: Sequence[PostEngagement], thin: str) -> Signal:
    name = "comments_to_likes"
    likes = sum(p.likes or 0 for p in visible)
    if len(visible) < MIN_POSTS or likes <= 0:
        reason = thin if len(visible) < MIN_POSTS else "too_few_posts"  # visible likes, all 0: nothing to divide by
        return Signal(name, None, CTL_BENCHMARK, 0.0, "comments per like over the posts", reason)
    ratio = sum(p.comments for p in visible) / likes
    low = CTL_LOW_PENALTY * _ramp(ratio, CTL_LOW, 0.0)
    high = CTL_HIGH_PENALTY * _ramp(ratio, CTL_HIGH, CTL_HIGH_TOP)
    verdict = (
        "very few comments for the likes: likes may be bought"
        if low
        else "unusually many comments: comment pods or bots"
        if high
        else "usual"
    )
    text = f"{ratio * 100:.1f} comments per 100 likes against about {CTL_BENCHMARK * 100:.0f} typically: {verdict}"
    return Signal(name, ratio, CTL_BENCHMARK, -round(low + high, 2), text)


def _variation(followers: int, visible: Sequence[PostEngagement], thin: str) -> Signal:
    name = "engagement_variation"
    if followers <= 0 or len(visible) < MIN_POSTS:
        return Signal(name, None, VARIATION_BENCHMARK, 0.0, "variation of engagement across posts", thin)
    rates = [_rate(p, followers) for p in visible]
    mean = statistics.fmean(rates)
    cv = statistics.pstdev(rates) / mean if mean > 0 else 0.0
    penalty = VARIATION_PENALTY * _ramp(cv, VARIATION_BENCHMARK, 0.0)
    verdict = "every post gets nearly the same engagement: a pod or a service" if penalty else "varies like organic"
    text = f"engagement varies by {cv:.2f} (coefficient of variation) across posts, under {VARIATION_BENCHMARK} is "
    text += f"suspicious: {verdict}"
    return Signal(name, cv, VARIATION_BENCHMARK, -round(penalty, 2), text)


def _jumps(history: Sequence[int]) -> Signal:
    name = "follower_jumps"
    if len(history) < MIN_SNAPSHOTS:
        return Signal(
            name, None, SPIKE_BENCHMARK, 0.0, "largest follower change between refreshes", "history_too_short"
        )
    steps = [(b - a) / a for a, b in itertools.pairwise(history) if a > 0]
    if not steps:
        return Signal(name, None, SPIKE_BENCHMARK, 0.0, "largest follower change between refreshes", "no_followers")
    spike, drop = max(steps), min(steps)
    spike_penalty = SPIKE_PENALTY * _ramp(spike, SPIKE_BENCHMARK, SPIKE_TOP)
    drop_penalty = DROP_PENALTY * _ramp(-drop, DROP_BENCHMARK, DROP_TOP)
    value = spike if spike >= -drop else drop
    parts = []
    if spike_penalty:
        parts.append(f"a jump of {spike:+.1%} between two refreshes (bought followers?)")
    if drop_penalty:
        parts.append(f"a drop of {drop:+.1%} (a purge of fake followers?)")
    text = f"largest change between refreshes {value:+.1%}, against at most {SPIKE_BENCHMARK:+.0%} organically: "
    text += "; ".join(parts) if parts else "steady"
    return Signal(name, value, SPIKE_BENCHMARK, -round(spike_penalty + drop_penalty, 2), text)


def _sponsored_share(posts: Sequence[PostEngagement]) -> Signal:
    name = "sponsored_share"
    if not posts:
        return Signal(name, None, SPONSORED_SHARE_BENCHMARK, 0.0, "share of sponsored posts", "too_few_posts")
    share = sum(p.is_sponsored for p in posts) / len(posts)
    penalty = SPONSORED_SHARE_PENALTY * _ramp(share, SPONSORED_SHARE_BENCHMARK, SPONSORED_SHARE_TOP)
    verdict = "an ad-heavy feed" if penalty else "usual"
    text = f"{share:.0%} of the posts are sponsored, against at most {SPONSORED_SHARE_BENCHMARK:.0%}: {verdict}"
    return Signal(name, share, SPONSORED_SHARE_BENCHMARK, -round(penalty, 2), text)


def _sponsored_vs_organic(followers: int, visible: Sequence[PostEngagement]) -> Signal:
    name = "sponsored_vs_organic"
    sponsored = [_rate(p, followers) for p in visible if p.is_sponsored] if followers > 0 else []
    organic = [_rate(p, followers) for p in visible if not p.is_sponsored] if followers > 0 else []
    about = "sponsored posts' engagement rate over organic posts'"
    if not sponsored:
        return Signal(name, None, SPONSORED_RATIO_BENCHMARK, 0.0, about, "no_sponsored_posts")
    if not organic or statistics.fmean(organic) <= 0:
        return Signal(name, None, SPONSORED_RATIO_BENCHMARK, 0.0, about, "no_organic_posts")
    ratio = statistics.fmean(sponsored) / statistics.fmean(organic)
    penalty = SPONSORED_RATIO_PENALTY * _ramp(ratio, SPONSORED_RATIO_BENCHMARK, 0.0)
    verdict = "the audience ignores the ads" if penalty else "usual"
    text = (
        f"sponsored posts earn {ratio:.2f}x the organic engagement rate, under {SPONSORED_RATIO_BENCHMARK}x is weak: "
    )
    return Signal(name, ratio, SPONSORED_RATIO_BENCHMARK, -round(penalty, 2), text + verdict)


def message(assessment: Assessment) -> creator_pb2.Authenticity:
    result = creator_pb2.Authenticity(
        absent_reason=assessment.absent_reason,
        posts_considered=assessment.posts_considered,
        snapshots_considered=assessment.snapshots_considered,
        band=assessment.band,
    )
    if assessment.score is not None:
        result.score = assessment.score
    for signal in assessment.signals:
        entry = result.signals.add(
            name=signal.name,
            benchmark=signal.benchmark,
            contribution=signal.contribution,
            explanation=signal.explanation,
            absent_reason=signal.absent_reason,
        )
        if signal.value is not None:
            entry.value = signal.value
    return result


def from_report(report: creator_pb2.CreatorReport, follower_history: Sequence[int]) -> creator_pb2.Authenticity:
    """The authenticity block of a rendered report, with the creator's follower counts oldest first."""
    posts = [
        PostEngagement(
            likes=None if post.likes_hidden else post.likes_count,
            comments=post.comments_count,
            is_pinned=post.is_pinned,
            is_sponsored=post.is_sponsored,
        )
        for post in report.recent_posts
    ]
    return message(assess(report.profile.followers_count, posts, follower_history))
