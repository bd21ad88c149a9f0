"""CREATOR_TRACK_* settings: daily refreshes by default, and errors that name the variable."""

from __future__ import annotations

import pytest

from following.settings import EnvReader, SettingsError
from services.creator.settings import CreatorSettings


def test_tracked_creators_are_refreshed_daily_by_default() -> None:
    tracking = CreatorSettings.read(EnvReader({})).tracking
    assert tracking.interval_s == 86_400
    assert 0 < tracking.budget_reserve < 1


@pytest.mark.parametrize(
    ("name", "value"),
    [("CREATOR_TRACK_INTERVAL_S", "0"), ("CREATOR_TRACK_BUDGET_RESERVE", "1.5"), ("CREATOR_TRACK_BATCH", "x")],
)
def test_a_bad_tracking_setting_names_its_variable(name: str, value: str) -> None:
    reader = EnvReader({name: value})
    CreatorSettings.read(reader)
    with pytest.raises(SettingsError, match=name):
        reader.check()
