"""The creator service's settings: defaults that work locally, and errors that name the variable."""

from __future__ import annotations

import pytest

from following.settings import EnvReader, SettingsError
from services.creator.settings import CreatorSettings


def test_defaults_match_the_documented_ones() -> None:
    settings = CreatorSettings.read(EnvReader({}))
    assert settings.cache_ttl_seconds == 86_400
    assert settings.default_post_limit == 12
    assert settings.inference_addr == "127.0.0.1:50052"
    assert settings.cdn_addr == "127.0.0.1:50053"
    assert settings.inference_deadline_s == 2.0
    assert (settings.min_sentiment_confidence, settings.min_category_confidence) == (0.5, 0.2)
    assert (settings.media_settle_poll_s, settings.media_settle_window_s) == (1.0, 3600)
    assert settings.report_rules.summary_window == settings.default_post_limit


def test_bad_values_are_reported_with_their_variable_names() -> None:
    env = EnvReader(
        {
            "CREATOR_CACHE_TTL_SECONDS": "a day",
            "CREATOR_DEFAULT_POST_LIMIT": "51",
            "INFERENCE_ADDR": "nowhere",
            "CREATOR_INFERENCE_DEADLINE_S": "0",
        }
    )
    CreatorSettings.read(env)
    with pytest.raises(SettingsError) as info:
        env.check()
    for name in (
        "CREATOR_CACHE_TTL_SECONDS",
        "CREATOR_DEFAULT_POST_LIMIT",
        "INFERENCE_ADDR",
        "CREATOR_INFERENCE_DEADLINE_S",
    ):
        assert name in str(info.value)


def test_fairness_defaults_are_sixty_fetches_an_hour_and_five_minutes_between_refreshes() -> None:
    settings = CreatorSettings.read(EnvReader({}))
    assert settings.user_fetches_per_hour == 60
    assert settings.min_refresh_s == 300


def test_bad_fairness_values_are_reported_with_their_variable_names() -> None:
    env = EnvReader({"CREATOR_USER_FETCHES_PER_HOUR": "0", "CREATOR_MIN_REFRESH_S": "-1"})
    CreatorSettings.read(env)
    with pytest.raises(SettingsError) as info:
        env.check()
    assert "CREATOR_USER_FETCHES_PER_HOUR" in str(info.value) and "CREATOR_MIN_REFRESH_S" in str(info.value)
