//! Where artifacts go: opendal operators built from destination settings,
//! and the artifact layout.
//!
//! ```text
//! <root>/<server>/<database>/<UTC timestamp>-<backup id>/
//!     dump.zst        custom-format archive, zstd-compressed
//!     manifest.json   written last: without it the artifact is incomplete
//! ```

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use opendal::{ErrorKind, Operator};

/// What can go wrong with a destination.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("destination {dest} is not writable: {detail}. Fix: make {dest} writable by the user running pgshelf, or choose another destination")]
    NotWritable { dest: String, detail: String },
    #[error("no space left on device writing to {dest}: {detail}. Fix: free space on the destination (remove or prune old backups, or move backup_dir to a larger disk), then run the backup again")]
    NoSpace { dest: String, detail: String },
    #[error("destination {dest}: {detail}")]
    Io { dest: String, detail: String },
    #[error("destination {dest} is misconfigured: {detail}")]
    Config { dest: String, detail: String },
}

impl StorageError {
    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            StorageError::NotWritable { .. }
            | StorageError::NoSpace { .. }
            | StorageError::Config { .. } => 507,
            StorageError::Io { .. } => 502,
        }
    }
}

/// A configured destination. Its operator is built on use, so a destination
/// that is missing or unwritable fails the run that needs it, with the cause,
/// instead of stopping pgshelf from starting.
#[derive(Clone, Debug)]
pub struct Destination {
    /// Short name recorded with each backup (`local`).
    pub name: String,
    /// Human description (`local:/var/lib/pgshelf/backups`), never with secrets.
    pub describe: String,
    root: PathBuf,
}

impl Destination {
    /// A directory on the local disk.
    pub fn local(root: &Path) -> Destination {
        let root: PathBuf = if root.is_absolute() {
            root.to_owned()
        } else {
            std::env::current_dir()
                .map(|d| d.join(root))
                .unwrap_or_else(|_| root.to_owned())
        };
        Destination {
            name: "local".into(),
            describe: format!("local:{}", root.display()),
            root,
        }
    }

    /// The opendal operator for this destination.
    pub fn operator(&self) -> Result<Operator, StorageError> {
        let builder = opendal::services::Fs::default().root(&self.root.to_string_lossy());
        Operator::new(builder).map_err(|e| self.error(e))
    }

    /// Maps an opendal error to a cause.
    pub fn error(&self, e: opendal::Error) -> StorageError {
        let detail = e.to_string();
        if detail.contains("No space left on device")
            || detail.contains("os error 28")
            || detail.contains("Disk quota exceeded")
        {
            return StorageError::NoSpace {
                dest: self.describe.clone(),
                detail,
            };
        }
        match e.kind() {
            ErrorKind::PermissionDenied | ErrorKind::NotADirectory | ErrorKind::IsADirectory => {
                StorageError::NotWritable {
                    dest: self.describe.clone(),
                    detail,
                }
            }
            _ if detail.contains("Read-only file system")
                || detail.contains("Not a directory")
                || detail.contains("Permission denied")
                || detail.contains("File exists") =>
            {
                StorageError::NotWritable {
                    dest: self.describe.clone(),
                    detail,
                }
            }
            _ => StorageError::Io {
                dest: self.describe.clone(),
                detail,
            },
        }
    }

    /// Writes and removes a small object, so a run fails before dumping
    /// anything when the destination cannot take it.
    pub async fn preflight(&self) -> Result<(), StorageError> {
        let op = self.operator()?;
        let path = format!(".pgshelf-probe-{}", std::process::id());
        op.write(&path, b"pgshelf".to_vec())
            .await
            .map_err(|e| self.error(e))?;
        op.delete(&path).await.map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Removes an artifact directory and everything under it.
    /// Writes `path` whole or not at all: under a temporary name, then
    /// renamed; on local storage the file and its directory are fsynced, so
    /// the artifact survives a power cut once this returns.
    pub async fn write_atomic(&self, path: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        let op = self.operator()?;
        let tmp = format!("{path}.partial");
        op.write(&tmp, bytes).await.map_err(|e| self.error(e))?;
        let local = |p: &str| self.root.join(p.trim_start_matches('/'));
        let io = |e: std::io::Error| StorageError::Io {
            dest: self.describe.clone(),
            detail: format!("{path}: {e}"),
        };
        std::fs::File::open(local(&tmp))
            .and_then(|f| f.sync_all())
            .map_err(io)?;
        op.rename(&tmp, path).await.map_err(|e| self.error(e))?;
        if let Some(parent) = local(path).parent() {
            std::fs::File::open(parent)
                .and_then(|d| d.sync_all())
                .map_err(io)?;
        }
        Ok(())
    }

    pub async fn remove_artifact(&self, dir: &str) -> Result<(), StorageError> {
        let dir = if dir.ends_with('/') {
            dir.to_owned()
        } else {
            format!("{dir}/")
        };
        self.operator()?
            .delete_with(&dir)
            .recursive(true)
            .await
            .map_err(|e| self.error(e))
    }

    /// True if the object exists.
    pub async fn exists(&self, path: &str) -> Result<bool, StorageError> {
        self.operator()?
            .exists(path)
            .await
            .map_err(|e| self.error(e))
    }
}

/// Encodes a name as one path segment: keeps `[A-Za-z0-9._-]`, percent-encodes
/// everything else (so `/`, spaces and `..` can never leave the artifact tree).
pub fn path_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' => out.push(b as char),
            b'.' if !out.is_empty() => out.push('.'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    if out.is_empty() {
        out.push_str("%00");
    }
    out
}

/// `<server>/<database>/<UTC timestamp>-<id>/`
pub fn artifact_dir(server: &str, database: &str, at: DateTime<Utc>, id: i64) -> String {
    format!(
        "{}/{}/{}-{}/",
        path_component(server),
        path_component(database),
        at.format("%Y%m%dT%H%M%SZ"),
        id
    )
}

/// `<server>/_globals/<UTC timestamp>-<id>/`. A database named `_globals`
/// would share the folder, but directories never collide (each carries its
/// backup id) and the catalog row's `kind` tells them apart.
pub fn globals_dir(server: &str, at: DateTime<Utc>, id: i64) -> String {
    format!(
        "{}/_globals/{}-{}/",
        path_component(server),
        at.format("%Y%m%dT%H%M%SZ"),
        id
    )
}

/// The SQL of a globals dump inside its artifact directory.
pub const GLOBALS_FILE: &str = "globals.sql.zst";
/// The manifest inside an artifact directory.
pub const MANIFEST_FILE: &str = "manifest.json";

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn components_cannot_escape() {
        assert_eq!(path_component("prod-1"), "prod-1");
        assert_eq!(path_component("my db/../x"), "my%20db%2F..%2Fx");
        assert_eq!(path_component(".."), "%2E.");
        assert_eq!(path_component(""), "%00");
        assert_eq!(path_component("Ünï"), "%C3%9Cn%C3%AF");
    }

    #[test]
    fn artifact_dir_layout() {
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 3, 4, 5).unwrap();
        assert_eq!(
            artifact_dir("prod", "app", at, 42),
            "prod/app/20261125T030405Z-42/"
        );
    }

    #[tokio::test]
    async fn local_preflight_and_unwritable() {
        let dir = tempfile::tempdir().unwrap();
        let d = Destination::local(&dir.path().join("b"));
        d.preflight().await.unwrap();
        // A root below a regular file cannot be written, even by root.
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let bad = Destination::local(&file.join("backups"));
        let err = bad.preflight().await.unwrap_err();
        assert!(matches!(err, StorageError::NotWritable { .. }), "{err}");
        assert!(err.to_string().contains("Fix:"));
    }
}
