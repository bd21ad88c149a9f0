"""The creator service's own settings (besides the runtime's and the upstream's INSTAGRAM_* ones), read once."""

from __future__ import annotations

from dataclasses import dataclass, field

from following.settings import EnvReader
from services.creator.analytics import Thresholds
from services.creator.reports import ReportRules
from services.creator.tracking_settings import TrackingSettings


@dataclass(frozen=True)
class CreatorSettings:
    # A stored report younger than this is served without asking Instagram.
    cache_ttl_seconds: float
    default_post_limit: int
    inference_addr: str
    inference_deadline_s: float
    cdn_addr: str
    cdn_enqueue_deadline_s: float
    cdn_assets_deadline_s: float
    # How often one replica asks the CDN again about a report whose images are still being copied.
    cdn_assets_recheck_s: float
    health_timeout_s: float
    # The shared upstream request budget: a token bucket per source.
    budget_capacity: float
    budget_refill_per_minute: float
    # How long a search waits for another replica's fetch of the same creator.
    fetch_wait_s: float
    # Fairness: upstream fetches one user may cause per hour (a bucket per user, shared by every replica), and how
    # old a report must be before a `refresh` fetches it again (younger: the stored report, marked refresh_skipped).
    user_fetches_per_hour: int
    min_refresh_s: float
    # Background components.
    worker_poll_s: float
    worker_batch: int
    retry_backoff_max_s: float
    # The database circuit breaker.
    db_acquire_timeout_s: float
    db_breaker_threshold: int
    db_breaker_cooldown_s: float
    # Below these a model's reading is marked and left out of the creator's summaries (counted as left out).
    min_sentiment_confidence: float = 0.5
    min_category_confidence: float = 0.2
    # The media settler: how often it asks the CDN about pending images of creators fetched within the window.
    media_settle_poll_s: float = 1.0
    media_settle_window_s: float = 3600.0
    # The JSON of the most recently answered stored reports, for REST searches (report_json.py): at most this many MiB.
    json_cache_mb: int = 32
    # Scheduled refreshes of tracked creators (CREATOR_TRACK_*).
    tracking: TrackingSettings = field(default_factory=TrackingSettings)

    @property
    def report_rules(self) -> ReportRules:
        return ReportRules(
            Thresholds(self.min_sentiment_confidence, self.min_category_confidence), self.default_post_limit
        )

    @classmethod
    def read(cls, env: EnvReader) -> CreatorSettings:
        return cls(
            cache_ttl_seconds=env.number("CREATOR_CACHE_TTL_SECONDS", 86_400, minimum=0, maximum=30 * 86_400),
            default_post_limit=env.integer("CREATOR_DEFAULT_POST_LIMIT", 12, minimum=1, maximum=50),
            inference_addr=_address(env, "INFERENCE_ADDR", "127.0.0.1:50052"),
            inference_deadline_s=env.number("CREATOR_INFERENCE_DEADLINE_S", 2.0, minimum=0.05, maximum=60),
            cdn_addr=_address(env, "CDN_ADDR", "127.0.0.1:50053"),
            cdn_enqueue_deadline_s=env.number("CREATOR_CDN_ENQUEUE_DEADLINE_S", 1.0, minimum=0.05, maximum=30),
            cdn_assets_deadline_s=env.number("CREATOR_CDN_ASSETS_DEADLINE_S", 0.25, minimum=0.01, maximum=10),
            cdn_assets_recheck_s=env.number("CREATOR_CDN_ASSETS_RECHECK_S", 2.0, minimum=0, maximum=3600),
            health_timeout_s=env.number("CREATOR_HEALTH_TIMEOUT_S", 0.5, minimum=0.05, maximum=10),
            budget_capacity=env.number("CREATOR_UPSTREAM_BUDGET_CAPACITY", 200, minimum=1, maximum=1_000_000),
            budget_refill_per_minute=env.number(
                "CREATOR_UPSTREAM_BUDGET_PER_MINUTE", 18, minimum=0.01, maximum=1_000_000
            ),
            fetch_wait_s=env.number("CREATOR_FETCH_WAIT_S", 30, minimum=0.1, maximum=600),
            user_fetches_per_hour=env.integer("CREATOR_USER_FETCHES_PER_HOUR", 60, minimum=1, maximum=1_000_000),
            min_refresh_s=env.number("CREATOR_MIN_REFRESH_S", 300, minimum=0, maximum=30 * 86_400),
            worker_poll_s=env.number("CREATOR_WORKER_POLL_S", 2.0, minimum=0.01, maximum=600),
            worker_batch=env.integer("CREATOR_WORKER_BATCH", 64, minimum=1, maximum=64),
            retry_backoff_max_s=env.number("CREATOR_RETRY_BACKOFF_MAX_S", 60, minimum=0.01, maximum=3600),
            db_acquire_timeout_s=env.number("CREATOR_DB_ACQUIRE_TIMEOUT_S", 2.0, minimum=0.05, maximum=60),
            db_breaker_threshold=env.integer("CREATOR_DB_BREAKER_THRESHOLD", 2, minimum=1, maximum=100),
            db_breaker_cooldown_s=env.number("CREATOR_DB_BREAKER_COOLDOWN_S", 1.0, minimum=0.01, maximum=300),
            min_sentiment_confidence=env.number("CREATOR_MIN_SENTIMENT_CONFIDENCE", 0.5, minimum=0, maximum=1),
            min_category_confidence=env.number("CREATOR_MIN_CATEGORY_CONFIDENCE", 0.2, minimum=0, maximum=1),
            media_settle_poll_s=env.number("CREATOR_MEDIA_SETTLE_POLL_S", 1.0, minimum=0.01, maximum=600),
            media_settle_window_s=env.number("CREATOR_MEDIA_SETTLE_WINDOW_S", 3600, minimum=1, maximum=30 * 86_400),
            json_cache_mb=env.integer("CREATOR_JSON_CACHE_MB", 32, minimum=0, maximum=16_384),
            tracking=TrackingSettings.read(env),
        )


def _address(env: EnvReader, name: str, default: str) -> str:
    return str(env.host_port(name, default))
