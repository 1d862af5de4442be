-- Test-restores (a backup restored into a scratch database and compared
-- with its manifest), the test-restore scheduler's memory, and alertable
-- events.

-- One row per test-restore. Rows outlive their servers (ids set NULL, the
-- names kept) and their backups (backup_id kept as it was).
CREATE TABLE test_restores (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    server_id           INTEGER REFERENCES servers(id) ON DELETE SET NULL,
    server_name         TEXT    NOT NULL,
    database            TEXT    NOT NULL,
    backup_id           INTEGER,
    restore_server_id   INTEGER REFERENCES servers(id) ON DELETE SET NULL,
    restore_server_name TEXT,
    -- 'manual' or 'scheduled'
    trigger             TEXT    NOT NULL,
    started_at          TEXT    NOT NULL,
    finished_at         TEXT,
    duration_ms         INTEGER,
    -- 'running', 'passed' or 'failed'
    status              TEXT    NOT NULL,
    -- JSON arrays of Mismatch, notes (text) and TableCheck (model::proof)
    mismatches          TEXT    NOT NULL DEFAULT '[]',
    notes               TEXT    NOT NULL DEFAULT '[]',
    tables              TEXT    NOT NULL DEFAULT '[]',
    error               TEXT,
    scratch             TEXT,
    scratch_dropped     INTEGER NOT NULL DEFAULT 0,
    who                 TEXT    NOT NULL,
    -- The schedule slot, for scheduled ones.
    scheduled_for       TEXT,
    -- The pgshelf process running it and until when (unix ms) it promised
    -- to live; a running row whose lease expired is recovered as failed.
    runner              TEXT,
    lease_until         INTEGER
);

CREATE INDEX test_restores_by_database ON test_restores (server_id, database, id DESC);
CREATE INDEX test_restores_by_status ON test_restores (status, lease_until);

-- The last test-restore slot started per (server, database). Survives
-- restarts, so a missed slot runs once.
CREATE TABLE test_restore_state (
    server_id  INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
    database   TEXT    NOT NULL,
    last_slot  TEXT    NOT NULL,
    PRIMARY KEY (server_id, database)
);

-- Things alert channels fire on (a test-restore failed, ...).
CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    -- 'info', 'warning' or 'error'
    severity   TEXT    NOT NULL,
    server_id  INTEGER REFERENCES servers(id) ON DELETE SET NULL,
    database   TEXT,
    backup_id  INTEGER,
    message    TEXT    NOT NULL
);

CREATE INDEX events_by_kind ON events (kind, id DESC);
