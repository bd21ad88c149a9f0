"""The settings of tracked-creator refreshes (part of CreatorSettings), read once from CREATOR_TRACK_* variables."""

from __future__ import annotations

from dataclasses import dataclass

from following.settings import EnvReader


@dataclass(frozen=True, slots=True)
class TrackingSettings:
    # Every tracked creator is refreshed this often; each next refresh is spread by +/- `jitter` of it.
    interval_s: float = 86_400.0
    jitter: float = 0.1
    # Share of the shared upstream budget's capacity kept for user searches: refreshes run only above it.
    budget_reserve: float = 0.5
    # Creators claimed per pass, refreshed at most `concurrency` at a time; a claim is leased for `lease_s`.
    batch: int = 16
    concurrency: int = 8
    lease_s: float = 300.0
    # The longest idle wait between two looks at the schedule.
    poll_s: float = 5.0
    # Per-creator backoff after a failed refresh: base * 2^(failures - 1), at most max.
    backoff_s: float = 60.0
    backoff_max_s: float = 21_600.0

    @classmethod
    def read(cls, env: EnvReader) -> TrackingSettings:
        return cls(
            interval_s=env.number("CREATOR_TRACK_INTERVAL_S", 86_400, minimum=0.1, maximum=365 * 86_400),
            jitter=env.number("CREATOR_TRACK_JITTER", 0.1, minimum=0, maximum=0.5),
            budget_reserve=env.number("CREATOR_TRACK_BUDGET_RESERVE", 0.5, minimum=0, maximum=0.99),
            batch=env.integer("CREATOR_TRACK_BATCH", 16, minimum=1, maximum=1000),
            concurrency=env.integer("CREATOR_TRACK_CONCURRENCY", 8, minimum=1, maximum=256),
            lease_s=env.number("CREATOR_TRACK_LEASE_S", 300, minimum=1, maximum=86_400),
            poll_s=env.number("CREATOR_TRACK_POLL_S", 5, minimum=0.01, maximum=3600),
            backoff_s=env.number("CREATOR_TRACK_BACKOFF_S", 60, minimum=0.01, maximum=86_400),
            backoff_max_s=env.number("CREATOR_TRACK_BACKOFF_MAX_S", 21_600, minimum=0.01, maximum=30 * 86_400),
        )
