-- Tracking: each user's list of tracked creators (row-level security, like unlocks) and the refresh schedule of every
-- creator at least one user tracks (no user data: the scheduler of every replica reads it without a caller).

CREATE TABLE creator.tracking (
    user_id    text        NOT NULL,
    creator_id bigint      NOT NULL REFERENCES creator.creators (id) ON DELETE CASCADE,
    tracked_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (user_id, creator_id)
);
CREATE INDEX tracking_newest_first ON creator.tracking (user_id, tracked_at DESC, creator_id DESC);
ALTER TABLE creator.tracking ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tracking_of_the_caller ON creator.tracking
    USING (user_id = current_setting('app.user_id', true))
    WITH CHECK (user_id = current_setting('app.user_id', true));

-- Refresh states: due (next_refresh_at <= now) --claimed--> leased (next_refresh_at = now + lease, so a crashed
-- replica's claim comes back) --refreshed--> due again one interval later (with jitter); --failed--> due after an
-- exponential backoff (failures + 1). `trackers` counts the users tracking the creator (their rows are invisible here);
-- the row is deleted when it reaches 0, which ends the refreshes.
CREATE TABLE creator.refresh_schedule (
    creator_id        bigint      PRIMARY KEY REFERENCES creator.creators (id) ON DELETE CASCADE,
    trackers          integer     NOT NULL CHECK (trackers >= 0),
    next_refresh_at   timestamptz NOT NULL,
    last_refreshed_at timestamptz,
    failures          integer     NOT NULL DEFAULT 0,
    last_error        text        NOT NULL DEFAULT ''
);
CREATE INDEX refresh_schedule_due ON creator.refresh_schedule (next_refresh_at);

-- The engagement-rate trend: each snapshot keeps the mean engagement rate of the report rendered from its fetch. The
-- report is rendered after the snapshot is stored, so the creator's figure is copied onto its newest snapshot.
ALTER TABLE creator.profile_snapshots ADD COLUMN engagement_rate double precision;

CREATE FUNCTION creator.copy_engagement_to_snapshot() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE creator.profile_snapshots s SET engagement_rate = NEW.mean_engagement_rate
     WHERE s.id = (SELECT id FROM creator.profile_snapshots
                    WHERE creator_id = NEW.id ORDER BY captured_at DESC, id DESC LIMIT 1);
    RETURN NEW;
END
$$;
CREATE TRIGGER creators_engagement_to_snapshot
    AFTER UPDATE OF mean_engagement_rate ON creator.creators
    FOR EACH ROW
    EXECUTE FUNCTION creator.copy_engagement_to_snapshot();
