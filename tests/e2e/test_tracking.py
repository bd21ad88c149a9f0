"""Tracking end to end through Envoy: a tracked creator's history grows with no further request, with growth and
authenticity figures; another user sees none of it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from client.api import ApiError
from tests.e2e.conftest import E2E
from tests.e2e.polling import eventually
from tests.processes import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture
def fast_refreshes(e2e: E2E) -> Iterator[None]:
    """The creator restarted with a refresh interval of one second, and back to its defaults afterwards."""
    e2e.stack.stop("creator")
    e2e.stack.start("creator", {"CREATOR_TRACK_INTERVAL_S": "1", "CREATOR_TRACK_POLL_S": "0.1"})
    try:
        yield
    finally:
        e2e.stack.stop("creator")
        e2e.stack.start("creator")


def test_a_tracked_creator_grows_its_history_on_its_own_and_only_for_its_tracker(
    e2e: E2E, fast_refreshes: None
) -> None:
    owner, other = e2e.client("tracker-1"), e2e.client("tracker-2")
    with pytest.raises(ApiError) as refused:
        owner.track("chef.marco")
    assert (refused.value.status, refused.value.reason) == (403, "NOT_UNLOCKED")
    report = owner.search("chef.marco")
    authenticity = report["authenticity"]
    assert 0 <= authenticity["score"] <= 100
    assert {s["name"] for s in authenticity["signals"]} >= {"engagement_rate_vs_tier", "comments_to_likes"}

    tracked = owner.track("chef.marco")["creator"]
    assert tracked["username"] == "chef.marco"
    first = len(owner.history("chef.marco")["snapshots"])
    history = eventually(
        lambda: owner.history("chef.marco"),
        lambda h: len(h["snapshots"]) >= first + 2,
        60,
        "two scheduled refreshes of chef.marco",
    )
    growth = history["growth"]
    assert [w["days"] for w in growth["windows"]] == [7, 30, 90]
    assert growth["windows"][0]["absent_reason"] == "history_too_short"
    assert growth["snapshots_considered"] >= 3
    assert [c["username"] for c in owner.tracked()["creators"]] == ["chef.marco"]

    assert other.tracked()["creators"] == []
    with pytest.raises(ApiError) as hidden:
        other.history("chef.marco")
    assert hidden.value.status == 403
    assert owner.untrack("chef.marco")["was_tracked"] is True
    assert owner.tracked()["creators"] == []


def test_the_demo_shows_growth_from_scheduled_refreshes_and_a_low_authenticity_creator(
    e2e: E2E, capsys: pytest.CaptureFixture[str]
) -> None:
    from scripts import demo_tracking

    user = "demo-tracker"
    try:
        demo_tracking.run(e2e.client(user), e2e.upstream)
    finally:
        demo_tracking.advance_clock(e2e.upstream, -demo_tracking.DAYS)
    shown = capsys.readouterr().out
    vetting = shown.split("vetting after the spike ===")[1]
    assert "(low), public data only" in vetting
    assert "follower_jumps" in vetting
    history = e2e.client(user).history("boost.brandon")
    counts = [int(s["followers_count"]) for s in history["snapshots"]]
    assert counts[-1] - counts[0] > 130_000  # the bought followers, seen by scheduled refreshes alone

    listed = subprocess.run(
        [sys.executable, "-m", "client", "--gateway", e2e.gateway, "--token", e2e.token(user), "tracked"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert "boost.brandon" in listed.stdout and "chef.marco" in listed.stdout
    for name in demo_tracking.TRACKED:
        e2e.client(user).untrack(name)
