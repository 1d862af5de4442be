-- pgshelf catalog, first schema.
CREATE TABLE servers (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT    NOT NULL UNIQUE,
    host           TEXT    NOT NULL,
    port           INTEGER NOT NULL,
    username       TEXT    NOT NULL,
    password_enc   TEXT,
    sslmode        TEXT    NOT NULL DEFAULT 'prefer',
    maintenance_db TEXT    NOT NULL DEFAULT 'postgres',
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL
);

-- One row per backup run. Rows outlive their server (server_id set NULL),
-- so an artifact on storage is never orphaned from the catalog.
CREATE TABLE backups (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    server_id       INTEGER REFERENCES servers(id) ON DELETE SET NULL,
    server_name     TEXT    NOT NULL,
    database        TEXT    NOT NULL,
    kind            TEXT    NOT NULL DEFAULT 'database',
    status          TEXT    NOT NULL,
    trigger         TEXT    NOT NULL,
    queued_at       TEXT    NOT NULL,
    started_at      TEXT,
    finished_at     TEXT,
    duration_ms     INTEGER,
    raw_bytes       INTEGER NOT NULL DEFAULT 0,
    stored_bytes    INTEGER NOT NULL DEFAULT 0,
    format          TEXT    NOT NULL DEFAULT 'custom',
    destination     TEXT    NOT NULL,
    location        TEXT,
    pg_dump_version TEXT,
    pg_dump_path    TEXT,
    server_version  TEXT,
    cause           TEXT,
    stderr_tail     TEXT,
    runner_pid      INTEGER,
    manifest        TEXT
);

CREATE INDEX backups_by_database ON backups (server_id, database, id DESC);
CREATE INDEX backups_by_status ON backups (status);
