//! Page bundles of the restore pages: one round trip per page.

use model::backup::Backup;
use model::proof::TestRestore;
use model::restore::{ArchiveContents, ArtifactFile};
use serde::{Deserialize, Serialize};

/// Everything `/backups/:id` shows: the record, its stored table of
/// contents (or why it cannot be read), its files for download, the manual
/// recipe, the servers a restore can go to, and its test-restores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupPage {
    pub backup: Backup,
    pub server_name: String,
    /// `Err` holds the reason the contents are not available.
    pub contents: Result<ArchiveContents, String>,
    pub files: Vec<ArtifactFile>,
    /// The steps to restore this backup without pgshelf.
    pub recipe: Vec<String>,
    /// Restore targets: `(id, name)`; the backup's own server first.
    pub servers: Vec<(i64, String)>,
    pub test_restores: Vec<TestRestore>,
}

/// The database page's proof panel: the proof (last pass, flag) and the
/// latest test-restores, in one round trip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProofPanel {
    pub proof: model::proof::DatabaseProof,
    pub recent: Vec<TestRestore>,
}

/// Quotes one part of a table name the way `schema.table` arguments are
/// parsed: bare when it is a plain lower-case identifier, else in double
/// quotes with quotes doubled.
pub fn quote_part(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        s.to_owned()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

/// `schema.table`, quoted where needed.
pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_part(schema), quote_part(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(qualified("public", "orders"), "public.orders");
        assert_eq!(qualified("Sales Dept", "a.b"), "\"Sales Dept\".\"a.b\"");
        assert_eq!(qualified("s", "say \"hi\""), "s.\"say \"\"hi\"\"\"");
        assert_eq!(qualified("s", "Ünïcode"), "s.\"Ünïcode\"");
    }
}
