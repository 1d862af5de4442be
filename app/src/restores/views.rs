//! Page bundles of the restore pages: one round trip per page.

use model::backup::Backup;
use model::destination::BackupCopy;
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
    /// One copy per destination it was written to; `Err` holds why they
    /// cannot be read.
    pub copies: Result<Vec<BackupCopy>, String>,
}

/// The database page's proof panel: the proof (last pass, flag) and the
/// latest test-restores, in one round trip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProofPanel {
    pub proof: model::proof::DatabaseProof,
    pub recent: Vec<TestRestore>,
}
