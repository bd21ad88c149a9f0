"""INSTAGRAM_* settings, read through the services' one reader: defaults per source, overrides, and errors that name
the variable (all of them at once, with the rest of the creator's settings)."""

from __future__ import annotations

import pytest

from following.settings import EnvReader, SettingsError
from services.creator.server import build
from services.creator.upstream import UpstreamSettings


def read(env: dict[str, str]) -> UpstreamSettings:
    reader = EnvReader(env)
    settings = UpstreamSettings.read(reader)
    reader.check()
    return settings


def test_sample_is_the_default_source_on_loopback() -> None:
    settings = read({})
    assert settings.source == "sample"
    assert settings.base_url == "http://127.0.0.1:8090"
    assert settings.app_id == "936619743392459"
    assert settings.post_limit == 12 and settings.proxy_url is None


def test_web_source_defaults_to_instagram_and_takes_overrides() -> None:
    settings = read(
        {
            "INSTAGRAM_SOURCE": "web",
            "INSTAGRAM_PROXY_URL": "http://proxy.internal:3128",
            "INSTAGRAM_POST_LIMIT": "50",
            "INSTAGRAM_USER_AGENT": "Mozilla/5.0 test",
            "INSTAGRAM_EXTRA_HEADERS": '{"Cookie": "sessionid=abc"}',
            "INSTAGRAM_BREAKER_THRESHOLD": "2",
        }
    )
    assert settings.base_url == "https://www.instagram.com"
    assert settings.proxy_url == "http://proxy.internal:3128"
    assert settings.post_limit == 50 and settings.breaker_threshold == 2
    assert settings.user_agent == "Mozilla/5.0 test"
    assert settings.extra_headers == {"Cookie": "sessionid=abc"}


def test_base_url_override_applies_to_the_sample_source() -> None:
    settings = read({"INSTAGRAM_BASE_URL": "http://127.0.0.1:9911/"})
    assert settings.base_url == "http://127.0.0.1:9911"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"INSTAGRAM_SOURCE": "tiktok"}, "INSTAGRAM_SOURCE"),
        ({"INSTAGRAM_BASE_URL": "www.instagram.com"}, "INSTAGRAM_BASE_URL"),
        ({"INSTAGRAM_PROXY_URL": "socks5://proxy:1080"}, "INSTAGRAM_PROXY_URL"),
        ({"INSTAGRAM_POST_LIMIT": "51"}, "INSTAGRAM_POST_LIMIT"),
        ({"INSTAGRAM_POST_LIMIT": "twelve"}, "INSTAGRAM_POST_LIMIT"),
        ({"INSTAGRAM_TIMEOUT_S": "0"}, "INSTAGRAM_TIMEOUT_S"),
        ({"INSTAGRAM_MAX_ATTEMPTS": "0"}, "INSTAGRAM_MAX_ATTEMPTS"),
        ({"INSTAGRAM_EXTRA_HEADERS": "Cookie: x"}, "INSTAGRAM_EXTRA_HEADERS"),
        ({"INSTAGRAM_EXTRA_HEADERS": '{"X-N": 1}'}, "INSTAGRAM_EXTRA_HEADERS"),
        ({"INSTAGRAM_BREAKER_COOLDOWN_S": "soon"}, "INSTAGRAM_BREAKER_COOLDOWN_S"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=f"\n  {variable}: "):
        read(env)


def test_the_creator_reports_every_bad_instagram_variable_with_its_other_settings() -> None:
    env = {
        "DATABASE_URL": "postgresql://creator@127.0.0.1/following",
        "INSTAGRAM_POST_LIMIT": "twelve",
        "INSTAGRAM_PROXY_URL": "socks5://proxy:1080",
        "CREATOR_MIN_REFRESH_S": "soon",
    }
    reader = EnvReader(env)
    build(reader)
    with pytest.raises(SettingsError) as raised:
        reader.check()
    named = {line.split(":")[0].strip() for line in str(raised.value).splitlines()[1:]}
    assert named == {"INSTAGRAM_POST_LIMIT", "INSTAGRAM_PROXY_URL", "CREATOR_MIN_REFRESH_S"}
