-- Each backup's tables (name, size, rows) as its manifest records them, one
-- row per table, so the database page can chart how the largest tables grew
-- without reading every manifest's JSON. Kept by triggers: filled whenever a
-- backup row is inserted or its manifest written (a run's end, a catalog
-- import), removed with the backup. Existing manifests are read once here.

CREATE TABLE backup_tables (
    backup_id   INTEGER NOT NULL REFERENCES backups(id) ON DELETE CASCADE,
    schema_name TEXT    NOT NULL,
    table_name  TEXT    NOT NULL,
    bytes       INTEGER NOT NULL,
    rows        INTEGER NOT NULL,
    PRIMARY KEY (backup_id, schema_name, table_name)
) WITHOUT ROWID;

-- A manifest that is not JSON (never written by pgshelf) reads as no tables
-- rather than failing the write that carries it.
INSERT OR REPLACE INTO backup_tables (backup_id, schema_name, table_name, bytes, rows)
SELECT b.id, json_extract(t.value, '$.schema'), json_extract(t.value, '$.name'),
       COALESCE(json_extract(t.value, '$.bytes'), 0), COALESCE(json_extract(t.value, '$.rows'), 0)
  FROM backups b,
       json_each(CASE WHEN json_valid(b.manifest) THEN b.manifest ELSE '{}' END, '$.tables') t
 WHERE b.manifest IS NOT NULL
   AND json_type(t.value) = 'object'
   AND json_extract(t.value, '$.schema') IS NOT NULL
   AND json_extract(t.value, '$.name') IS NOT NULL;

CREATE TRIGGER backup_tables_on_insert AFTER INSERT ON backups
WHEN NEW.manifest IS NOT NULL
BEGIN
    INSERT OR REPLACE INTO backup_tables (backup_id, schema_name, table_name, bytes, rows)
    SELECT NEW.id, json_extract(t.value, '$.schema'), json_extract(t.value, '$.name'),
           COALESCE(json_extract(t.value, '$.bytes'), 0), COALESCE(json_extract(t.value, '$.rows'), 0)
      FROM json_each(CASE WHEN json_valid(NEW.manifest) THEN NEW.manifest ELSE '{}' END, '$.tables') t
     WHERE json_type(t.value) = 'object'
       AND json_extract(t.value, '$.schema') IS NOT NULL
       AND json_extract(t.value, '$.name') IS NOT NULL;
END;

CREATE TRIGGER backup_tables_on_manifest AFTER UPDATE OF manifest ON backups
BEGIN
    DELETE FROM backup_tables WHERE backup_id = NEW.id;
    INSERT OR REPLACE INTO backup_tables (backup_id, schema_name, table_name, bytes, rows)
    SELECT NEW.id, json_extract(t.value, '$.schema'), json_extract(t.value, '$.name'),
           COALESCE(json_extract(t.value, '$.bytes'), 0), COALESCE(json_extract(t.value, '$.rows'), 0)
      FROM json_each(CASE WHEN json_valid(NEW.manifest) THEN NEW.manifest ELSE '{}' END, '$.tables') t
     WHERE NEW.manifest IS NOT NULL
       AND json_type(t.value) = 'object'
       AND json_extract(t.value, '$.schema') IS NOT NULL
       AND json_extract(t.value, '$.name') IS NOT NULL;
END;

-- A database's backups by the time they were taken (the size history).
CREATE INDEX backups_by_taken ON backups (server_id, kind, database, COALESCE(started_at, queued_at));
