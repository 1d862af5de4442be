-- Verification after the upload (issue 9, section 1).

-- Why a backup is 'suspect' (one reason per line); NULL or empty when it
-- verified clean. Statuses 'verified' and 'suspect' join 'succeeded' (runs
-- from before verification existed) as the good ones.
ALTER TABLE backups ADD COLUMN verification TEXT;

-- The archive's table of contents as read back from storage after the
-- upload, so a restore dialog needs no download: pg_restore --list's text,
-- and the header and entries engine::toc parsed (engine::toc::Archive as
-- JSON; NULL when the archive could not be parsed, e.g. a TOC larger than
-- the prefix kept).
CREATE TABLE backup_toc (
    backup_id  INTEGER PRIMARY KEY REFERENCES backups(id) ON DELETE CASCADE,
    listing    TEXT    NOT NULL,
    archive    TEXT,
    created_at TEXT    NOT NULL
);
