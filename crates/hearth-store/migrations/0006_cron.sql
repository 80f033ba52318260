-- Scheduled jobs. The job's whole definition is JSON (`spec_json`, owned by hearth-core), so it
-- can grow without a migration; the columns are what the scheduler looks up.
CREATE TABLE cron_jobs (
    id                   TEXT    PRIMARY KEY NOT NULL,
    name                 TEXT    NOT NULL UNIQUE,
    spec_json            TEXT    NOT NULL,
    enabled              INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    -- The next scheduled instant (ms), NULL when the job will not fire again.
    next_at              INTEGER,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);

CREATE INDEX cron_jobs_due ON cron_jobs (enabled, next_at);

-- One row per fire: its identity is (job, scheduled instant). A fire is claimed by inserting its
-- row before it runs, so a restart or a second gateway on the same file never runs it twice.
-- `lease_until` is renewed while the run goes; a `running` fire whose lease ran out belonged to a
-- gateway that died, and is reported `interrupted`.
CREATE TABLE cron_fires (
    id                 TEXT    PRIMARY KEY NOT NULL,
    job_id             TEXT    NOT NULL REFERENCES cron_jobs (id) ON DELETE CASCADE,
    scheduled_at       INTEGER NOT NULL,
    instance           TEXT    NOT NULL,
    status             TEXT    NOT NULL
        CHECK (status IN ('running', 'completed', 'failed', 'interrupted', 'skipped')),
    claimed_at         INTEGER NOT NULL,
    lease_until        INTEGER NOT NULL,
    ended_at           INTEGER,
    run_id             TEXT,
    input_tokens       INTEGER NOT NULL DEFAULT 0,
    output_tokens      INTEGER NOT NULL DEFAULT 0,
    cost               REAL,
    output             TEXT,
    error              TEXT,
    UNIQUE (job_id, scheduled_at)
);

CREATE INDEX cron_fires_running ON cron_fires (status, lease_until);
CREATE INDEX cron_fires_history ON cron_fires (job_id, scheduled_at);
