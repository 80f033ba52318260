-- What started a fire, the session its run used and where its answer went.
ALTER TABLE cron_fires ADD COLUMN trigger TEXT NOT NULL DEFAULT 'schedule';
ALTER TABLE cron_fires ADD COLUMN session_key TEXT;
ALTER TABLE cron_fires ADD COLUMN delivered_to TEXT;

-- Job names are unique whatever their case (`Briefing` and `briefing` would be one to a user).
CREATE UNIQUE INDEX cron_jobs_name_nocase ON cron_jobs (name COLLATE NOCASE);

-- Webhook calls, recorded when accepted (before the 202), so each can be polled by its id and a
-- call the gateway stopped in the middle of is reported, not lost.
CREATE TABLE hook_runs (
    id           TEXT    PRIMARY KEY NOT NULL,
    hook         TEXT    NOT NULL,
    status       TEXT    NOT NULL
        CHECK (status IN ('queued', 'running', 'completed', 'failed', 'interrupted')),
    instance     TEXT    NOT NULL,
    received_at  INTEGER NOT NULL,
    ended_at     INTEGER,
    run_id       TEXT,
    session_key  TEXT,
    output       TEXT,
    error        TEXT,
    delivered_to TEXT
);

CREATE INDEX hook_runs_received ON hook_runs (received_at);
