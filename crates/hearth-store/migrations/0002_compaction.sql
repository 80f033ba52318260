-- Compaction: a summary of a session's older messages stands in for them in the model's context.
-- The messages themselves stay; a summary covers every message with `seq <= through_seq`, and a
-- turn loads the latest summary plus the messages after it.
CREATE TABLE compactions (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id          TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    through_seq         INTEGER NOT NULL,
    summary             TEXT    NOT NULL,
    messages_summarised INTEGER NOT NULL,
    tokens_before       INTEGER NOT NULL,
    tokens_after        INTEGER NOT NULL,
    model               TEXT,
    created_at          INTEGER NOT NULL
);

-- Serves "the latest summary of a session" (per turn) and the cascade on delete.
CREATE INDEX compactions_session ON compactions (session_id, through_seq);

-- `/model`: a session's own primary model, instead of its agent's.
ALTER TABLE sessions ADD COLUMN model_override TEXT;
-- The compaction point (a `seq`) whose memory flush already ran, so it never runs twice.
ALTER TABLE sessions ADD COLUMN memory_flushed_seq INTEGER NOT NULL DEFAULT 0;
