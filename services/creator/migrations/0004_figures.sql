-- Figures that say what they cover: each caption's model confidence and why a model skipped it; the unlocked list's
-- engagement figure absent (NULL) with its reason instead of 0; an index for the media settler.

ALTER TABLE creator.post_analyses
    ADD COLUMN sentiment_confidence double precision NOT NULL DEFAULT 0,
    ADD COLUMN sentiment_skipped    text NOT NULL DEFAULT '',
    ADD COLUMN category_skipped     text NOT NULL DEFAULT '';

-- Results stored before confidences were kept cannot be marked: analyse them again (the completer does, in batches).
UPDATE creator.post_analyses SET state = 'pending', attempts = 0, next_attempt_at = now() WHERE state = 'done';
UPDATE creator.creators SET analysis_pending = true
 WHERE id IN (SELECT creator_id FROM creator.post_analyses WHERE state = 'pending');

ALTER TABLE creator.creators
    ALTER COLUMN mean_engagement_rate DROP NOT NULL,
    ALTER COLUMN mean_engagement_rate DROP DEFAULT,
    ADD COLUMN engagement_posts_considered integer NOT NULL DEFAULT 0,
    ADD COLUMN engagement_absent_reason    text    NOT NULL DEFAULT '';

-- The media settler's pass: recently fetched creators whose report still shows images the CDN has not settled.
CREATE INDEX creators_media_pending ON creator.creators (fetched_at DESC) WHERE media_pending AND report IS NOT NULL;
