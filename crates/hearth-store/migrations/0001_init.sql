-- Sessions: a key (e.g. `agent:main:main`) names at most one active session; `reset` archives it
-- and the next message under the key starts a new one.
CREATE TABLE sessions (
    id                 TEXT    PRIMARY KEY NOT NULL,
    key                TEXT    NOT NULL,
    agent_id           TEXT    NOT NULL,
    channel            TEXT    NOT NULL,
    sender             TEXT,
    title              TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    archived           INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
    message_count      INTEGER NOT NULL DEFAULT 0,
    input_tokens       INTEGER NOT NULL DEFAULT 0,
    output_tokens      INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens  INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    cost               REAL
);

-- The hot lookup (key -> active session) and the guarantee that a key has one active session.
CREATE UNIQUE INDEX sessions_active_key ON sessions (key) WHERE archived = 0;
-- Deleting a key removes its archived sessions too.
CREATE INDEX sessions_key ON sessions (key);
CREATE INDEX sessions_updated_at ON sessions (updated_at);

CREATE TABLE messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id   TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    run_id       TEXT    NOT NULL,
    seq          INTEGER NOT NULL,
    role         TEXT    NOT NULL,
    content_json TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);

-- Serves the transcript read (last N by seq), the next-seq lookup and the cascade on delete.
CREATE UNIQUE INDEX messages_session_seq ON messages (session_id, seq);

CREATE TABLE runs (
    id                 TEXT    PRIMARY KEY NOT NULL,
    session_id         TEXT    REFERENCES sessions (id) ON DELETE SET NULL,
    session_key        TEXT    NOT NULL,
    agent_id           TEXT    NOT NULL,
    model              TEXT,
    status             TEXT    NOT NULL
        CHECK (status IN ('completed', 'failed', 'aborted', 'interrupted')),
    input              TEXT    NOT NULL,
    error              TEXT,
    input_tokens       INTEGER NOT NULL DEFAULT 0,
    output_tokens      INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens  INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    cost               REAL,
    started_at         INTEGER NOT NULL,
    ended_at           INTEGER NOT NULL
);

CREATE INDEX runs_session ON runs (session_id);
CREATE INDEX runs_started_at ON runs (started_at);
