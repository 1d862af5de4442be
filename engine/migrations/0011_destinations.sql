-- Destinations beyond the built-in `local` one, and every backup's copy on
-- each destination it was written to.

CREATE TABLE destinations (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    kind          TEXT    NOT NULL,
    -- model::destination::DestinationSettings as JSON: never a secret.
    settings      TEXT    NOT NULL,
    root          TEXT    NOT NULL DEFAULT '',
    concurrency   INTEGER NOT NULL DEFAULT 4,
    -- The secret (key, password, service-account JSON), sealed with the
    -- instance key.
    secret_sealed TEXT,
    -- Declared in pgshelf.toml: replaced at every start, not edited in the UI.
    from_config   INTEGER NOT NULL DEFAULT 0,
    -- model::destination::ProbeReport as JSON.
    last_test     TEXT,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);

CREATE TABLE backup_copies (
    backup_id       INTEGER NOT NULL REFERENCES backups(id) ON DELETE CASCADE,
    destination     TEXT    NOT NULL,
    -- uploading, complete, failed, pruned
    status          TEXT    NOT NULL,
    -- The artifact's folder on that destination, ending in '/'.
    dir             TEXT    NOT NULL,
    bytes           INTEGER NOT NULL DEFAULT 0,
    error           TEXT,
    attempts        INTEGER NOT NULL DEFAULT 1,
    -- A failed copy is copied again from a complete one after this time
    -- (NULL: no further attempt).
    retry_at        TEXT,
    updated_at      TEXT    NOT NULL,
    PRIMARY KEY (backup_id, destination)
);

CREATE INDEX backup_copies_by_destination ON backup_copies (destination, status);
CREATE INDEX backup_copies_retry ON backup_copies (retry_at) WHERE retry_at IS NOT NULL;
