-- Restores: scratch databases pgshelf created, and every restore it ran.

-- A database pgshelf created on a server to restore into (a table restore
-- or a test-restore). Only a recorded, undropped scratch database may be
-- dropped by pgshelf. tables: JSON array of "schema.table" restored into it.
CREATE TABLE scratch_databases (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    server_id  INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    database   TEXT    NOT NULL,
    backup_id  INTEGER NOT NULL,
    purpose    TEXT    NOT NULL CHECK (purpose IN ('table', 'test')),
    created_by TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    dropped_at TEXT,
    tables     TEXT    NOT NULL DEFAULT '[]'
);

CREATE INDEX scratch_by_name ON scratch_databases (name, dropped_at);

-- One row per restore: kind full | rebuild-step | table | test.
CREATE TABLE restore_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT    NOT NULL,
    backup_id   INTEGER NOT NULL,
    server_id   INTEGER NOT NULL,
    database    TEXT    NOT NULL,
    started_at  TEXT    NOT NULL,
    finished_at TEXT,
    status      TEXT    NOT NULL,
    error       TEXT,
    who         TEXT    NOT NULL
);

CREATE INDEX restore_runs_by_backup ON restore_runs (backup_id, id DESC);
