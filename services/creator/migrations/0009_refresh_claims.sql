-- A claim's lease is recorded apart from the next refresh time too, so that a replica deciding how many refreshes the
-- upstream budget allows can count the refreshes claimed and not yet finished by every replica (their requests may
-- not have left the budget yet). Cleared when the refresh is stored, fails or is given back; a crashed replica's
-- lease simply passes. Only rows with a lease are indexed: a handful, however many creators are tracked.
ALTER TABLE creator.refresh_schedule ADD COLUMN leased_until timestamptz;
CREATE INDEX refresh_schedule_leased ON creator.refresh_schedule (leased_until) WHERE leased_until IS NOT NULL;

-- One replica's claim of due refreshes, in one round trip. Replicas take turns (a transaction-scoped advisory lock,
-- 'trck'); each may claim at most the refreshes the shared upstream budget holds above its reserve (p_reserve x
-- capacity, p_requests requests per refresh), less the refreshes claimed and not yet finished on any replica, and at
-- most p_batch. Each statement of a plpgsql function reads what was committed before it started, so the reads after
-- the lock see every claim of the replica that held it before. Without a budget row for the source, only p_batch
-- limits. Returns the claimed rows, each with the room the claim had; when nothing was claimed, one row with the room
-- and no creator (room <= 0: the budget is at its reserve; room > 0: nothing is due).
CREATE FUNCTION creator.claim_refreshes(
    p_source text, p_batch integer, p_lease_s double precision, p_reserve double precision, p_requests integer
)
RETURNS TABLE (room integer, creator_id bigint, username text, post_limit integer, failures integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    level double precision;
    capacity double precision;
    in_flight bigint;
    allowed integer := p_batch;
BEGIN
    PERFORM pg_advisory_xact_lock(1953653611, 0);
    SELECT LEAST(b.capacity, b.tokens + extract(epoch FROM clock_timestamp() - b.updated_at) * b.refill_per_second),
           b.capacity
      INTO level, capacity
      FROM creator.request_budgets b WHERE b.source = p_source;
    IF FOUND THEN
        SELECT count(*) INTO in_flight FROM creator.refresh_schedule s WHERE s.leased_until > clock_timestamp();
        allowed := LEAST(p_batch, GREATEST(floor((level - p_reserve * capacity) / p_requests)::bigint - in_flight, 0));
    END IF;
    IF allowed > 0 THEN
        RETURN QUERY
        WITH due AS (
            SELECT s.creator_id FROM creator.refresh_schedule s
             WHERE s.next_refresh_at <= clock_timestamp()
             ORDER BY s.next_refresh_at
             LIMIT allowed
               FOR UPDATE SKIP LOCKED)
        UPDATE creator.refresh_schedule s
           SET next_refresh_at = clock_timestamp() + make_interval(secs => p_lease_s),
               leased_until = clock_timestamp() + make_interval(secs => p_lease_s)
          FROM due, creator.creators c
         WHERE s.creator_id = due.creator_id AND c.id = s.creator_id
        RETURNING allowed, s.creator_id, c.username, c.post_limit, s.failures;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;
    RETURN QUERY SELECT allowed, NULL::bigint, NULL::text, NULL::integer, NULL::integer;
END
$$;
