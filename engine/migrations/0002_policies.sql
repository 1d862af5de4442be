-- Policies, server plans, the scheduler's memory, discovered databases,
-- and more facts per backup.

-- A policy per server (database = '' is the server default that databases
-- inherit) or per database (an override). body is the Policy as JSON.
-- declared = 1: it comes from pgshelf.toml and is read-only in the UI.
CREATE TABLE policies (
    server_id  INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
    database   TEXT    NOT NULL DEFAULT '',
    body       TEXT    NOT NULL,
    declared   INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (server_id, database)
);

-- Server-wide settings: coverage, globals schedule, standby (ServerPlan JSON).
CREATE TABLE server_plans (
    server_id  INTEGER PRIMARY KEY REFERENCES servers(id) ON DELETE CASCADE,
    body       TEXT    NOT NULL,
    declared   INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT    NOT NULL
);

-- The last schedule slot started per (server, database); database = '' for
-- the globals schedule. Survives restarts, so a missed slot runs once.
CREATE TABLE schedule_state (
    server_id  INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
    database   TEXT    NOT NULL,
    last_slot  TEXT    NOT NULL,
    PRIMARY KEY (server_id, database)
);

-- Databases seen on each server; gone_since is set when one disappears.
CREATE TABLE known_databases (
    server_id  INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    size_bytes INTEGER,
    first_seen TEXT    NOT NULL,
    last_seen  TEXT    NOT NULL,
    gone_since TEXT,
    PRIMARY KEY (server_id, name)
);

ALTER TABLE servers ADD COLUMN last_seen_version TEXT;

ALTER TABLE backups ADD COLUMN scheduled_for   TEXT;
ALTER TABLE backups ADD COLUMN late            INTEGER NOT NULL DEFAULT 0;
ALTER TABLE backups ADD COLUMN source_host     TEXT;
ALTER TABLE backups ADD COLUMN compression     TEXT;
ALTER TABLE backups ADD COLUMN warnings        TEXT;
ALTER TABLE backups ADD COLUMN version_changed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE backups ADD COLUMN tiers           TEXT;
ALTER TABLE backups ADD COLUMN pruned_at       TEXT;
ALTER TABLE backups ADD COLUMN prune_error     TEXT;

CREATE INDEX backups_by_kind ON backups (server_id, kind, id DESC);
