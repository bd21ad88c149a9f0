-- The per-user quota of upstream fetches: one token bucket per user, shared by every replica. A row is made on the
-- user's first fetch; `tokens` is the level at `updated_at` (it refills with time up to the configured capacity).
CREATE TABLE creator.user_fetch_quotas (
    user_id    text PRIMARY KEY,
    tokens     double precision NOT NULL,
    updated_at timestamptz      NOT NULL DEFAULT clock_timestamp()
);
