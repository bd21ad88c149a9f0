-- The creator schema: creators with their rendered report, profile snapshots, posts, per-post analysis, unlocks,
-- the media outbox, mirrored-media states and the shared upstream request budget.

CREATE TABLE creator.creators (
    id                   bigserial PRIMARY KEY,
    username             text        NOT NULL UNIQUE,
    instagram_id         text        NOT NULL,
    full_name            text        NOT NULL DEFAULT '',
    biography            text        NOT NULL DEFAULT '',
    external_url         text        NOT NULL DEFAULT '',
    bio_links            text[]      NOT NULL DEFAULT '{}',
    is_private           boolean     NOT NULL DEFAULT false,
    is_verified          boolean     NOT NULL DEFAULT false,
    is_business          boolean     NOT NULL DEFAULT false,
    category             text        NOT NULL DEFAULT '',
    followers            bigint      NOT NULL DEFAULT 0,
    following            bigint      NOT NULL DEFAULT 0,
    posts_count          bigint      NOT NULL DEFAULT 0,
    avatar_url           text        NOT NULL DEFAULT '',
    source               text        NOT NULL,
    fetched_at           timestamptz NOT NULL,
    -- The posts of the latest fetch, in Instagram's order, and how many were asked for.
    recent_post_ids      text[]      NOT NULL DEFAULT '{}',
    post_limit           integer     NOT NULL,
    -- The serialised CreatorReport (without freshness and unlock time), rendered after every change.
    report               bytea,
    analysis_pending     boolean     NOT NULL DEFAULT true,
    media_pending        boolean     NOT NULL DEFAULT true,
    dominant_category    text        NOT NULL DEFAULT '',
    mean_engagement_rate double precision NOT NULL DEFAULT 0,
    created_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE creator.profile_snapshots (
    id          bigserial PRIMARY KEY,
    creator_id  bigint      NOT NULL REFERENCES creator.creators (id) ON DELETE CASCADE,
    captured_at timestamptz NOT NULL,
    followers   bigint      NOT NULL,
    following   bigint      NOT NULL,
    posts_count bigint      NOT NULL
);
CREATE INDEX profile_snapshots_by_creator ON creator.profile_snapshots (creator_id, captured_at DESC);

CREATE TABLE creator.posts (
    instagram_id  text PRIMARY KEY,
    creator_id    bigint      NOT NULL REFERENCES creator.creators (id) ON DELETE CASCADE,
    shortcode     text        NOT NULL,
    type          text        NOT NULL,
    taken_at      timestamptz NOT NULL,
    caption       text,
    likes         bigint,
    comments      bigint      NOT NULL,
    views         bigint,
    is_pinned     boolean     NOT NULL,
    is_sponsored  boolean     NOT NULL,
    sponsors      text[]      NOT NULL DEFAULT '{}',
    hashtags      text[]      NOT NULL DEFAULT '{}',
    mentions      text[]      NOT NULL DEFAULT '{}',
    tagged_users  text[]      NOT NULL DEFAULT '{}',
    location_name text        NOT NULL DEFAULT '',
    image_url     text        NOT NULL DEFAULT '',
    carousel_urls text[]      NOT NULL DEFAULT '{}',
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX posts_by_creator ON creator.posts (creator_id, taken_at DESC, instagram_id DESC);

-- Analysis states: pending --completed--> done; pending --inference failed--> pending (attempts + 1, backed off).
-- A changed caption moves a done row back to pending.
CREATE TABLE creator.post_analyses (
    post_id             text PRIMARY KEY REFERENCES creator.posts (instagram_id) ON DELETE CASCADE,
    creator_id          bigint      NOT NULL REFERENCES creator.creators (id) ON DELETE CASCADE,
    state               text        NOT NULL CHECK (state IN ('pending', 'done')),
    caption_md5         text        NOT NULL,
    attempts            integer     NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    last_error          text        NOT NULL DEFAULT '',
    status              text        NOT NULL DEFAULT '',
    sentiment           text        NOT NULL DEFAULT '',
    sentiment_score     double precision NOT NULL DEFAULT 0,
    language            text        NOT NULL DEFAULT '',
    language_confidence double precision NOT NULL DEFAULT 0,
    category            text        NOT NULL DEFAULT '',
    category_score      double precision NOT NULL DEFAULT 0,
    top_categories      jsonb       NOT NULL DEFAULT '[]',
    analysed_at         timestamptz
);
CREATE INDEX post_analyses_due ON creator.post_analyses (next_attempt_at) WHERE state = 'pending';

-- Row-level security: a user sees and writes only their own unlocks, whatever the query says.
CREATE TABLE creator.unlocks (
    user_id     text        NOT NULL,
    creator_id  bigint      NOT NULL REFERENCES creator.creators (id) ON DELETE CASCADE,
    unlocked_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (user_id, creator_id)
);
CREATE INDEX unlocks_newest_first ON creator.unlocks (user_id, unlocked_at DESC, creator_id DESC);
ALTER TABLE creator.unlocks ENABLE ROW LEVEL SECURITY;
ALTER TABLE creator.unlocks FORCE ROW LEVEL SECURITY;
CREATE POLICY unlocks_of_the_caller ON creator.unlocks
    USING (user_id = current_setting('app.user_id', true))
    WITH CHECK (user_id = current_setting('app.user_id', true));

-- Transactional outbox of CDN jobs: written with the posts, deleted once the CDN accepted them.
CREATE TABLE creator.media_outbox (
    id              bigserial PRIMARY KEY,
    creator_id      bigint      NOT NULL REFERENCES creator.creators (id) ON DELETE CASCADE,
    source_url      text        NOT NULL,
    kind            smallint    NOT NULL,
    priority        smallint    NOT NULL,
    owner           text        NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text        NOT NULL DEFAULT '',
    UNIQUE (source_url, kind)
);
CREATE INDEX media_outbox_due ON creator.media_outbox (next_attempt_at);

-- What the CDN last told us about an image.
CREATE TABLE creator.media (
    source_url text PRIMARY KEY,
    state      smallint    NOT NULL,
    renditions jsonb       NOT NULL DEFAULT '[]',
    checked_at timestamptz NOT NULL DEFAULT now()
);

-- One token bucket per upstream source, shared by every replica.
CREATE TABLE creator.request_budgets (
    source             text PRIMARY KEY,
    tokens             double precision NOT NULL,
    capacity           double precision NOT NULL,
    refill_per_second  double precision NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- The cached search in one round trip: set the caller for row-level security, unlock (no write when already
-- unlocked), and return the rendered report with what decides its freshness.
CREATE FUNCTION creator.open_report(p_user_id text, p_username text)
RETURNS TABLE (
    creator_id bigint,
    report bytea,
    fetched_at timestamptz,
    post_limit integer,
    recent_posts integer,
    posts_count bigint,
    analysis_pending boolean,
    media_pending boolean,
    unlocked_at timestamptz
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    found_creator creator.creators%ROWTYPE;
    unlock_time timestamptz;
BEGIN
    PERFORM set_config('app.user_id', p_user_id, true);
    SELECT * INTO found_creator FROM creator.creators c WHERE c.username = p_username;
    IF NOT FOUND OR found_creator.report IS NULL THEN
        RETURN;
    END IF;
    SELECT u.unlocked_at INTO unlock_time FROM creator.unlocks u
     WHERE u.user_id = p_user_id AND u.creator_id = found_creator.id;
    IF NOT FOUND THEN
        INSERT INTO creator.unlocks AS u (user_id, creator_id) VALUES (p_user_id, found_creator.id)
            ON CONFLICT (user_id, creator_id) DO UPDATE SET unlocked_at = u.unlocked_at
            RETURNING u.unlocked_at INTO unlock_time;
    END IF;
    RETURN QUERY SELECT found_creator.id, found_creator.report, found_creator.fetched_at, found_creator.post_limit,
        cardinality(found_creator.recent_post_ids), found_creator.posts_count, found_creator.analysis_pending,
        found_creator.media_pending, unlock_time;
END
$$;
