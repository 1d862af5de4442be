-- Rows put back from a scratch copy into a live table (issue 9, 3b): one row
-- per applied put-back script, who ran it, against what, and how it ended.
-- server_id is kept as a plain number (no foreign key) so the record
-- outlives the server's settings.
CREATE TABLE put_backs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    at            TEXT    NOT NULL,
    who           TEXT    NOT NULL,
    server_id     INTEGER NOT NULL,
    database      TEXT    NOT NULL,
    scratch       TEXT    NOT NULL,
    table_name    TEXT    NOT NULL,
    rows_inserted INTEGER NOT NULL DEFAULT 0,
    rows_updated  INTEGER NOT NULL DEFAULT 0,
    sha256        TEXT    NOT NULL,
    -- running, succeeded or failed
    status        TEXT    NOT NULL,
    error         TEXT
);

CREATE INDEX put_backs_by_database ON put_backs (server_id, database, id DESC);
