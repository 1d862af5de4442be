//! Schema changes between backups: a backup's stored table of contents
//! (kept by [`crate::verify`] after the upload) compared with the previous
//! good backup's of the same server and database. The comparison itself is
//! pure and lives in [`model::schema_diff`]; this module maps TOC entries
//! to [`SchemaObject`]s and picks the two backups.
//!
//! Nothing is stored: a comparison reads two TOCs from the catalog (no
//! storage, no PostgreSQL), so it is computed when a backup page asks.

use model::schema_diff::{diff, Basis, SchemaChanges, SchemaObject};

use crate::toc::Archive;

/// The schema objects of an archive: every TOC entry as kind, schema, tag
/// and definition ([`model::schema_diff::diff`] leaves out what is not schema).
pub fn objects_of(archive: &Archive) -> Vec<SchemaObject> {
    archive
        .entries
        .iter()
        .map(|e| SchemaObject {
            kind: e.desc.clone(),
            schema: e.namespace.clone(),
            name: e.tag.clone(),
            defn: e.defn.clone(),
        })
        .collect()
}

/// What `after` adds, drops and changes against `before`, as a backup's
/// [`SchemaChanges`] against backup `against`.
pub fn compare(backup_id: i64, against: i64, before: &Archive, after: &Archive) -> SchemaChanges {
    let d = diff(&objects_of(before), &objects_of(after));
    SchemaChanges {
        backup_id,
        against: Some(against),
        against_at: None,
        basis: Basis::Previous,
        pg_dump_changed: (before.pg_dump_version != after.pg_dump_version)
            .then(|| format!("{} → {}", before.pg_dump_version, after.pg_dump_version)),
        added: d.added,
        dropped: d.dropped,
        changed: d.changed,
    }
}

impl crate::Engine {
    /// What a backup's table of contents adds, drops or changes against
    /// the previous good backup (succeeded, verified or suspect; pruned
    /// ones too) of the same server and database. Without a readable TOC
    /// of its own, or with no good backup before it, or when that one has
    /// no readable TOC, [`SchemaChanges::basis`] says so and the lists are
    /// empty. Reads the catalog only.
    pub async fn schema_changes(&self, backup_id: i64) -> Result<SchemaChanges, crate::Error> {
        let catalog = &self.inner.catalog;
        let row = catalog.backup(backup_id).await?;
        let Some(after) = catalog
            .backup_toc(backup_id)
            .await?
            .and_then(|t| t.archive())
        else {
            return Ok(SchemaChanges::without(backup_id, Basis::NoToc));
        };
        let Some(server_id) = row.server_id else {
            // The server was deleted: its backups no longer form a series.
            return Ok(SchemaChanges::without(backup_id, Basis::First));
        };
        let Some(prev) = catalog
            .good_backups_before(server_id, &row.target, backup_id, 1)
            .await?
            .into_iter()
            .next()
        else {
            return Ok(SchemaChanges::without(backup_id, Basis::First));
        };
        let prev_row = catalog.backup(prev.id).await?;
        let against_at = Some(prev_row.started_at.unwrap_or(prev_row.queued_at));
        let Some(before) = catalog.backup_toc(prev.id).await?.and_then(|t| t.archive()) else {
            return Ok(SchemaChanges {
                against: Some(prev.id),
                against_at,
                ..SchemaChanges::without(backup_id, Basis::PreviousNoToc)
            });
        };
        Ok(SchemaChanges {
            against_at,
            ..compare(backup_id, prev.id, &before, &after)
        })
    }
}
