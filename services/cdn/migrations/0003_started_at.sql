-- When a worker started processing a RUNNING job; NULL while the job only waits in a worker's prefetch buffer.
-- The queue status counts the two apart (active_workers vs prefetched_jobs).
ALTER TABLE cdn.jobs ADD COLUMN started_at timestamptz;
