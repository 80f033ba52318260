-- Messaging channels: every inbound message is stored before the platform is told it arrived,
-- every outbound message before it is sent; pairing requests and approved senders.

CREATE TABLE channel_inbound (
    id          TEXT PRIMARY KEY,
    channel     TEXT NOT NULL,
    account     TEXT NOT NULL,
    chat_id     TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    sender_id   TEXT NOT NULL,
    -- The whole envelope as JSON.
    envelope    TEXT NOT NULL,
    -- pending (not answered yet), done, failed.
    status      TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    done_at     INTEGER,
    error       TEXT,
    -- A redelivered message is recognised and not answered twice.
    UNIQUE (channel, account, chat_id, message_id)
);
CREATE INDEX channel_inbound_pending ON channel_inbound (received_at) WHERE status = 'pending';

CREATE TABLE channel_outbound (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    channel     TEXT NOT NULL,
    account     TEXT NOT NULL,
    -- Messages of one chat (and thread) are sent in order.
    chat_key    TEXT NOT NULL,
    inbound_id  TEXT,
    -- The outbound message as JSON.
    payload     TEXT NOT NULL,
    -- pending, sent, failed.
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL,
    last_error  TEXT,
    created_at  INTEGER NOT NULL,
    sent_at     INTEGER,
    platform_id TEXT
);
CREATE INDEX channel_outbound_pending ON channel_outbound (channel, account, chat_key, seq)
    WHERE status = 'pending';

CREATE TABLE channel_pairing (
    channel     TEXT NOT NULL,
    account     TEXT NOT NULL,
    sender_id   TEXT NOT NULL,
    sender_name TEXT,
    chat_id     TEXT NOT NULL,
    code        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (channel, account, sender_id)
);

CREATE TABLE channel_approved (
    channel     TEXT NOT NULL,
    account     TEXT NOT NULL,
    sender_id   TEXT NOT NULL,
    sender_name TEXT,
    approved_at INTEGER NOT NULL,
    PRIMARY KEY (channel, account, sender_id)
);
