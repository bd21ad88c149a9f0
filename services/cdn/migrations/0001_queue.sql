-- The durable job queue: one row per (source_url, kind), which is also the asset record once DONE.
CREATE TABLE cdn.jobs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_url    text        NOT NULL,
    kind          smallint    NOT NULL CHECK (kind IN (1, 2)),
    priority      smallint    NOT NULL CHECK (priority BETWEEN 1 AND 4),
    owner         text        NOT NULL DEFAULT '',
    state         text        NOT NULL DEFAULT 'queued'
                              CHECK (state IN ('queued', 'running', 'retrying', 'done', 'dead')),
    attempts      integer     NOT NULL DEFAULT 0,
    max_attempts  integer     NOT NULL,
    run_at        timestamptz NOT NULL DEFAULT now(),
    lease_token   uuid,
    lease_until   timestamptz,
    worker_id     text,
    last_error    text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    failed_at     timestamptz,
    CONSTRAINT jobs_source_kind_key UNIQUE (source_url, kind)
);

-- The claim query walks this index: highest priority first, then enqueue order.
CREATE INDEX jobs_claim_idx ON cdn.jobs (priority DESC, id) WHERE state = 'queued';
CREATE INDEX jobs_running_lease_idx ON cdn.jobs (lease_until) WHERE state = 'running';
CREATE INDEX jobs_retrying_run_at_idx ON cdn.jobs (run_at) WHERE state = 'retrying';
CREATE INDEX jobs_dead_idx ON cdn.jobs (failed_at DESC, id DESC) WHERE state = 'dead';

-- Stored objects of DONE jobs; object keys are content addressed, so two jobs may share one.
CREATE TABLE cdn.renditions (
    job_id     bigint   NOT NULL REFERENCES cdn.jobs (id) ON DELETE CASCADE,
    width      integer  NOT NULL,
    height     integer  NOT NULL,
    format     text     NOT NULL CHECK (format IN ('webp', 'jpeg')),
    object_key text     NOT NULL,
    bytes      bigint   NOT NULL,
    PRIMARY KEY (job_id, width, format)
);

-- One row per finished attempt, so statistics hold across replicas and restarts.
CREATE TABLE cdn.attempts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id        bigint           NOT NULL REFERENCES cdn.jobs (id) ON DELETE CASCADE,
    outcome       text             NOT NULL CHECK (outcome IN ('done', 'retry', 'dead')),
    processing_ms double precision NOT NULL,
    bytes_in      bigint           NOT NULL DEFAULT 0,
    bytes_out     bigint           NOT NULL DEFAULT 0,
    error         text             NOT NULL DEFAULT '',
    finished_at   timestamptz      NOT NULL DEFAULT now()
);

CREATE INDEX attempts_finished_at_idx ON cdn.attempts (finished_at);
