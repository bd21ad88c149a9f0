-- Indexes for Discover's exact filters, so that the store can tell cheaply how many creators pass a selective filter
-- and rank those few exactly (bitmap scans over these instead of reading every row of creator.creators).

-- Topics are labels like "Fitness & Health" and match whatever their case: the filter compares this lower-cased
-- copy of them, and the GIN index below is on the same expression. IMMUTABLE so that an index may use it.
CREATE FUNCTION creator.lower_labels(labels text[]) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT COALESCE(array_agg(lower(label)), '{}') FROM unnest(labels) AS label $$;

CREATE INDEX creators_followers ON creator.creators (followers);
CREATE INDEX creators_mean_engagement_rate ON creator.creators (mean_engagement_rate);
-- Without GIN's pending list (fastupdate): a creator's topics and languages change rarely, and a search through a
-- long unmerged list (a bulk load before autovacuum reaches it) is slower than the index it would have been.
CREATE INDEX creators_topics_lower ON creator.creators USING gin (creator.lower_labels(topics)) WITH (fastupdate = off);
CREATE INDEX creators_languages ON creator.creators USING gin (languages) WITH (fastupdate = off);
