-- The queue gauges count the unfinished jobs only, from this index: its size follows the backlog, not the history.
CREATE INDEX jobs_unfinished_idx ON cdn.jobs (state, priority) INCLUDE (started_at)
    WHERE state IN ('queued', 'running', 'retrying');

-- A job that becomes QUEUED (enqueued, promoted from RETRYING, retried from DEAD, rescued) wakes every listening
-- replica's claimer at commit; PostgreSQL folds the identical notifications of one transaction into one.
CREATE FUNCTION cdn.notify_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('cdn_jobs_queued', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_queued_insert AFTER INSERT ON cdn.jobs
    FOR EACH ROW WHEN (NEW.state = 'queued') EXECUTE FUNCTION cdn.notify_queued();
CREATE TRIGGER jobs_queued_update AFTER UPDATE OF state ON cdn.jobs
    FOR EACH ROW WHEN (NEW.state = 'queued' AND OLD.state <> 'queued') EXECUTE FUNCTION cdn.notify_queued();
