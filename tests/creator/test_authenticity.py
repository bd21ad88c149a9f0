"""The authenticity score: each signal against its benchmark, explained, and absent when the data is too thin."""

from __future__ import annotations

from services.creator import authenticity
from services.creator.authenticity import PostEngagement


def organic(count: int = 12, followers: int = 100_000, sponsored: bool = True) -> list[PostEngagement]:
    """Posts with a tier-typical (1.5 %) engagement that varies like organic posts do."""
    rates = [0.008, 0.012, 0.025, 0.015, 0.010, 0.020]
    return [
        PostEngagement(
            likes=int(followers * rates[i % len(rates)] * 0.98),
            comments=int(followers * rates[i % len(rates)] * 0.02),
            is_pinned=False,
            is_sponsored=sponsored and i % 6 == 0,
        )
        for i in range(count)
    ]


def signal(assessment: authenticity.Assessment, name: str) -> authenticity.Signal:
    return next(s for s in assessment.signals if s.name == name)


def test_an_organic_creator_scores_high_with_every_signal_explained() -> None:
    result = authenticity.assess(100_000, organic(), [98_000, 99_000, 100_000])
    assert result.score is not None and result.score >= 80
    assert result.band == "high"
    assert [s.name for s in result.signals] == [
        "engagement_rate_vs_tier",
        "comments_to_likes",
        "engagement_variation",
        "follower_jumps",
        "sponsored_share",
        "sponsored_vs_organic",
    ]
    assert all(s.explanation for s in result.signals)
    assert signal(result, "engagement_rate_vs_tier").benchmark == 0.015  # mid tier


def test_a_bought_follower_spike_and_a_silent_audience_score_low() -> None:
    followers = 400_000
    posts = [PostEngagement(likes=800 + 40 * i, comments=10, is_pinned=False, is_sponsored=False) for i in range(12)]
    result = authenticity.assess(followers, posts, [150_000, 152_000, 400_000])
    jumps = signal(result, "follower_jumps")
    assert jumps.value is not None and jumps.value > 1.0
    assert jumps.contribution == -authenticity.SPIKE_PENALTY
    assert signal(result, "engagement_rate_vs_tier").contribution < 0
    assert result.score is not None and result.score < 50
    assert result.band == "low"


def test_engagement_pods_show_as_uniform_engagement_and_many_comments() -> None:
    followers = 20_000
    posts = [PostEngagement(likes=1500, comments=300, is_pinned=False, is_sponsored=False) for _ in range(12)]
    result = authenticity.assess(followers, posts, [])
    assert signal(result, "engagement_variation").contribution == -authenticity.VARIATION_PENALTY
    assert signal(result, "comments_to_likes").contribution < 0
    assert signal(result, "engagement_rate_vs_tier").contribution < 0  # 9 % against 2.4 %
    assert signal(result, "follower_jumps").absent_reason == "history_too_short"
    assert result.score is not None and result.score < 60


def test_the_score_is_absent_with_its_reason_when_the_data_is_too_thin() -> None:
    hidden = [PostEngagement(likes=None, comments=5, is_pinned=False, is_sponsored=False) for _ in range(12)]
    result = authenticity.assess(50_000, hidden, [])
    assert result.score is None
    assert result.absent_reason == "too_few_posts"
    assert result.band == ""
    message = authenticity.message(result)
    assert not message.HasField("score")
    assert [s.absent_reason for s in message.signals[:3]] == ["likes_hidden"] * 3  # the posts are there, likes not
    few = authenticity.assess(50_000, organic(3), [])
    assert (few.absent_reason, few.signals[0].absent_reason) == ("too_few_posts", "too_few_posts")
    assert authenticity.assess(0, organic(), []).absent_reason == "no_followers"


def test_pinned_posts_stay_out_of_the_like_based_signals() -> None:
    posts = organic(4) + [PostEngagement(likes=10**6, comments=10**5, is_pinned=True, is_sponsored=False)] * 3
    result = authenticity.assess(100_000, posts, [])
    assert result.posts_considered == 4
    assert result.score is None


def test_sponsored_posts_ignored_by_the_audience_cost_points() -> None:
    posts = organic(12, sponsored=False)
    posts += [PostEngagement(likes=100, comments=1, is_pinned=False, is_sponsored=True)] * 4
    result = authenticity.assess(100_000, posts, [])
    ratio = signal(result, "sponsored_vs_organic")
    assert ratio.value is not None and ratio.value < 0.1
    assert ratio.contribution < -8
