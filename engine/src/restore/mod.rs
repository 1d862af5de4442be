//! Restores: tables into a scratch database, a whole backup into a new or
//! existing database, a server rebuild, test-restores' scratch copies, and
//! artifact downloads.
//!
//! # Layout
//!
//! - [`fetch`]: a local, seekable copy of what a restore needs, in a private
//!   work directory under the spool (`restore-<backup>-<random>/`, 0700,
//!   removed when the restore ends): a custom archive streamed from storage
//!   through the zstd decoder into a file (pg_restore never reads a custom
//!   archive from a pipe: it skips unselected data through it at a few
//!   MB/s); for directory format `toc.dat` and only the data files chosen.
//!   Every file's size and sha256 are checked against the manifest.
//! - [`tools`]: the `pg_restore`/`psql` to use (at least the dump's pg_dump
//!   major), the refusal of a target older than the source, and running
//!   pg_restore/psql as children (argument vectors, passfile, TLS files,
//!   `PR_SET_PDEATHSIG`) with their errors collected.
//! - [`scratch`]: scratch databases: safe unique names, `CREATE DATABASE`,
//!   `DROP DATABASE ... WITH (FORCE)` of recorded ones only, connection
//!   strings without a password.
//! - [`tables`]: one or more tables restored whole into scratch
//!   (`pg_restore -L` with the entries [`crate::toc::select_tables`] picks),
//!   then each table's rows counted and sampled.
//! - [`full`]: a whole backup into a new database or over an existing one
//!   (typed confirmation), into a scratch database for test-restores, and a
//!   server rebuild (globals first, roles created only if missing).
//! - [`jobs`]: the `restorer` worker: its status line and the table-restore
//!   jobs the dashboard polls.
//! - [`facade`]: the `impl Engine` block the dashboard and CLI call.
//!
//! Every restore is recorded in the catalog (`restore_runs`), and every
//! scratch database (`scratch_databases`).

pub mod facade;
pub mod fetch;
pub mod full;
pub mod jobs;
pub mod scratch;
pub mod tables;
pub mod tools;

use serde::Deserialize;

use crate::catalog::CatalogError;
use crate::pg::PgError;
use crate::pipeline::ManifestFile;
use crate::storage::StorageError;
use crate::toc::{TableRef, TocError};

pub use facade::ScratchRestore;
pub use model::restore::*;

/// What can stop a restore.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(transparent)]
    Pg(#[from] PgError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Toc(#[from] TocError),
    #[error("backup {id} is {status}: only a finished, successful backup can be restored. Fix: pick a succeeded backup of this database")]
    NotRestorable { id: i64, status: String },
    #[error(
        "backup {0} was pruned: its artifact is no longer on storage. Fix: pick a newer backup"
    )]
    Pruned(i64),
    #[error("backup {0} has no manifest in the catalog, so pgshelf does not know its files. Fix: pick another backup")]
    NoManifest(i64),
    #[error("backup {id} cannot be read from storage: {detail}. Fix: check the destinations on the Destinations page (Test), or restore from another backup")]
    Unreachable { id: i64, detail: String },
    #[error("backup {id} is a {kind} backup; {what}. Fix: pick a database backup (globals are applied by a rebuild or with --with-globals)")]
    WrongKind {
        id: i64,
        kind: String,
        what: &'static str,
    },
    #[error(transparent)]
    Crypt(#[from] crate::crypt::CryptError),
    #[error("backup {0} belongs to a server that was removed from pgshelf, so there is no default target. Fix: choose the target server")]
    NoServer(i64),
    #[error("{target} runs PostgreSQL {target_version}, older than the PostgreSQL {source_version} this backup was dumped from; pg_restore cannot restore a dump onto an older major version. Fix: restore onto a server of PostgreSQL {source_major} or newer")]
    OlderTarget {
        target: String,
        target_version: String,
        source_version: String,
        source_major: u32,
    },
    #[error("no pg_restore {needed} or newer to read this backup (written by pg_dump {pg_dump}; found: {found}). Fix: install the PostgreSQL {needed} client tools (Debian/Ubuntu: postgresql-client-{needed}) or add their bin directory to `pg_bin_dirs` in pgshelf.toml")]
    NoPgRestore {
        needed: u32,
        pg_dump: String,
        found: String,
    },
    #[error("cannot read {path} from storage: {detail}. Fix: check the destination, and restore from another backup if this artifact is damaged")]
    Fetch { path: String, detail: String },
    #[error("{path} on storage does not match its manifest ({detail}): the artifact is damaged or was changed. Fix: restore from another backup")]
    Damaged { path: String, detail: String },
    #[error("the restore's work directory {path}: {detail}. Fix: make the spool directory writable and give it room for the archive")]
    Local { path: String, detail: String },
    #[error("cannot start {program}: {detail}. Fix: check that the PostgreSQL client tools are installed and executable")]
    Spawn { program: String, detail: String },
    #[error("{program} failed: {cause}")]
    Program { program: String, cause: String },
    #[error("pg_restore did not restore {tables}{}. Fix: read the errors; a missing role or extension on the target server is the usual cause", errors_hint(.errors))]
    TablesMissing { tables: String, errors: Vec<String> },
    #[error("database {database:?} exists on {server}. Fix: to replace its contents, restore with --clean --confirm {database} (the database name typed again), or choose a new database name")]
    DatabaseExists { database: String, server: String },
    #[error("the confirmation {typed:?} is not the database name {database:?}. Fix: type the name of the database to overwrite exactly")]
    ConfirmMismatch { database: String, typed: String },
    #[error("the confirmation {typed:?} does not name the target server {target:?}. Fix: pass --confirm {target} (in the dashboard, type {target})")]
    RebuildNotConfirmed { target: String, typed: String },
    #[error("database {database:?} exists on {server} and is not a scratch database pgshelf created, so a table restore will not write into it. Fix: leave --into empty for a new scratch database, or name a new one")]
    NotScratch { database: String, server: String },
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("no restore job {0} (jobs are kept in memory while pgshelf runs). Fix: start the restore again")]
    NoSuchJob(u64),
    #[error("{path:?} is not a file of backup {id}. Fix: pick a file the backup's manifest lists")]
    NotInArtifact { id: i64, path: String },
}

fn errors_hint(errors: &[String]) -> String {
    if errors.is_empty() {
        String::new()
    } else {
        let shown: Vec<&str> = errors.iter().take(5).map(String::as_str).collect();
        format!("; pg_restore said: {}", shown.join(" | "))
    }
}

impl RestoreError {
    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        use RestoreError as E;
        match self {
            E::Pg(e) => e.status(),
            E::Storage(e) => e.status(),
            E::Catalog(e) => e.status(),
            E::Toc(e) => e.status(),
            E::NotRestorable { .. } | E::WrongKind { .. } | E::Invalid { .. } => 400,
            E::Pruned(_) => 410,
            E::NoManifest(_) | E::Damaged { .. } => 422,
            E::Crypt(e) => e.status(),
            E::NoServer(_) => 400,
            E::OlderTarget { .. } => 409,
            E::NoPgRestore { .. } => 424,
            E::Fetch { .. } | E::Unreachable { .. } => 502,
            E::Local { .. } | E::Spawn { .. } | E::Program { .. } | E::TablesMissing { .. } => 500,
            E::DatabaseExists { .. }
            | E::ConfirmMismatch { .. }
            | E::RebuildNotConfirmed { .. }
            | E::NotScratch { .. } => 409,
            E::NoSuchJob(_) | E::NotInArtifact { .. } => 404,
        }
    }
}

/// The parts of `manifest.json` a restore reads (leniently: fields other
/// parts of pgshelf add later are ignored, and missing optional ones default).
#[derive(Debug, Clone, Deserialize)]
pub struct RestoreManifest {
    pub backup_id: i64,
    /// `database` or `globals`.
    pub kind: String,
    pub server: String,
    #[serde(default)]
    pub database: String,
    /// `custom`, `directory` or `sql`.
    pub format: String,
    #[serde(default)]
    pub compression: String,
    #[serde(default)]
    pub encryption: Option<crate::pipeline::ManifestEncryption>,
    pub server_version: String,
    pub pg_dump_version: String,
    pub files: Vec<ManifestFile>,
    #[serde(default)]
    pub tables: Vec<ManifestTable>,
}

/// A table as the manifest records it.
#[derive(Debug, Clone, Deserialize)]
pub struct ManifestTable {
    pub schema: String,
    pub name: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub bytes: Option<i64>,
    #[serde(default)]
    pub rows: Option<i64>,
    #[serde(default)]
    pub rows_estimated: bool,
    #[serde(default)]
    pub data_excluded: bool,
}

impl RestoreManifest {
    /// The manifest's entry of a table.
    pub fn table(&self, t: &TableRef) -> Option<&ManifestTable> {
        self.tables
            .iter()
            .find(|m| m.schema == t.schema && m.name == t.name)
    }

    /// The recipients of an encrypted artifact; empty when not encrypted.
    pub fn recipients(&self) -> &[String] {
        self.encryption
            .as_ref()
            .map(|e| e.recipients.as_slice())
            .unwrap_or(&[])
    }

    /// Major version of the server the dump was taken from.
    pub fn source_major(&self) -> u32 {
        crate::pg::tools::major_of(&self.server_version).unwrap_or(0)
    }

    /// Major version of the pg_dump that wrote the archive.
    pub fn pg_dump_major(&self) -> u32 {
        crate::pg::tools::major_of(&self.pg_dump_version).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_reads_leniently() {
        let m: RestoreManifest = serde_json::from_str(
            r#"{"pgshelf_manifest":1,"backup_id":3,"kind":"database","server":"s","database":"d",
                "format":"custom","compression":"zstd:3 (pgshelf)","encryption":null,
                "server_version":"15.8","pg_dump_version":"18.1","files":[{"path":"dump.zst","size":9,"sha256":"ab","raw_size":20}],
                "tables":[{"schema":"public","name":"t","kind":"table","bytes":8192,"rows":5},
                          {"schema":"public","name":"big","kind":"table","bytes":1,"rows":900,"rows_estimated":true,"extra":1}],
                "something_new": {"x": 1}}"#,
        )
        .unwrap();
        assert_eq!((m.source_major(), m.pg_dump_major()), (15, 18));
        assert_eq!(
            m.table(&TableRef::new("public", "t")).unwrap().rows,
            Some(5)
        );
        assert!(
            m.table(&TableRef::new("public", "big"))
                .unwrap()
                .rows_estimated
        );
        assert!(m.table(&TableRef::new("public", "x")).is_none());
    }

    #[test]
    fn errors_name_a_fix() {
        let e = RestoreError::OlderTarget {
            target: "old".into(),
            target_version: "15.8".into(),
            source_version: "18.1".into(),
            source_major: 18,
        };
        assert!(e
            .to_string()
            .contains("Fix: restore onto a server of PostgreSQL 18"));
        let e = RestoreError::TablesMissing {
            tables: "public.t".into(),
            errors: vec!["role \"x\" does not exist".into()],
        };
        assert!(e.to_string().contains("pg_restore said: role"), "{e}");
    }
}
