-- Alerts: channels (Slack, signed webhook, email; the secret sealed with the
-- instance key), incidents (one per kind, server and database or
-- destination while it lasts) and deliveries (one per message and channel,
-- with the channel's answer and retries).

CREATE TABLE alert_channels (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    -- 'slack', 'webhook' or 'email'
    kind          TEXT    NOT NULL,
    -- model::alert::ChannelSettings as JSON (never a secret)
    settings      TEXT    NOT NULL,
    -- Slack: the webhook URL; webhook: the HMAC secret; email: the SMTP password
    secret_sealed TEXT,
    -- JSON lists; empty: every event kind, every server
    events        TEXT    NOT NULL DEFAULT '[]',
    servers       TEXT    NOT NULL DEFAULT '[]',
    created_at    TEXT    NOT NULL
);

CREATE TABLE incidents (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    -- model::alert::AlertKind
    kind          TEXT    NOT NULL,
    -- kind|server id|subject: what makes two problems the same incident
    key           TEXT    NOT NULL,
    server_name   TEXT    NOT NULL,
    -- the database ('globals' for a server's globals) or the destination
    subject       TEXT    NOT NULL,
    cause         TEXT    NOT NULL,
    link          TEXT,
    opened_at     TEXT    NOT NULL,
    last_alert_at TEXT    NOT NULL,
    closed_at     TEXT
);

CREATE UNIQUE INDEX incidents_open ON incidents (key) WHERE closed_at IS NULL;

CREATE TABLE alert_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id      INTEGER REFERENCES alert_channels(id) ON DELETE SET NULL,
    channel_name    TEXT    NOT NULL,
    incident_id     INTEGER REFERENCES incidents(id) ON DELETE SET NULL,
    kind            TEXT,
    -- 'opened', 'repeat', 'recovered' or 'test'
    state           TEXT    NOT NULL,
    server_name     TEXT    NOT NULL DEFAULT '',
    subject         TEXT    NOT NULL DEFAULT '',
    title           TEXT    NOT NULL,
    text            TEXT    NOT NULL,
    link            TEXT,
    -- 'pending', 'sent' or 'failed'
    status          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    answer          TEXT,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
);

CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE status = 'pending';
