//! Where artifacts go: opendal operators built from destination settings,
//! streaming writers, the artifact layout.
//!
//! - `build`: settings -> opendal operator for every kind; part sizes.
//! - `dav`: WebDAV uploads streamed as one chunked PUT (opendal's WebDAV
//!   writer takes one write only, which would buffer a whole artifact).
//! - [`fanout`]: one stream written to several destinations at once.
//! - [`probe`]: "Test": write, read back, list, delete a probe object.
//! - [`ssh`]: SFTP host keys: scanned, shown, trusted.
//!
//! ```text
//! <root>/<server>/<database>/<UTC timestamp>-<backup id>/
//!     dump.zst        custom-format archive, zstd-compressed
//!     manifest.json   written last: without it the artifact is incomplete
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use opendal::{ErrorKind, Operator};

use crate::secrets::Secret;
use model::destination::DestinationSettings;

mod build;
mod dav;
pub mod fanout;
pub mod probe;
pub mod ssh;

pub use build::part_size;
pub use dav::DavWriter;

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
    #[error("destination {dest} refused the request: {detail}. Fix: check its credentials (key, secret, password or token) and that they may write, read, list and delete under its root; edit the destination to enter them again")]
    Denied { dest: String, detail: String },
    #[error("the SSH host key of {dest} changed: pgshelf trusts {expected}, the server now shows {actual}. Fix: if the server was rebuilt, check the new fingerprint with its administrator and trust it (Destinations page: Check host key; CLI: pgshelf destination host-key NAME --trust); otherwise someone may be intercepting the connection: do not trust it")]
    HostKeyChanged {
        dest: String,
        expected: String,
        actual: String,
    },
    #[error("every destination failed: {detail}")]
    AllCopiesFailed { detail: String },
}

impl StorageError {
    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            StorageError::NotWritable { .. }
            | StorageError::NoSpace { .. }
            | StorageError::Config { .. } => 507,
            StorageError::Io { .. }
            | StorageError::Denied { .. }
            | StorageError::HostKeyChanged { .. }
            | StorageError::AllCopiesFailed { .. } => 502,
        }
    }
}

/// A configured destination. Its operator is built on use, so a destination
/// that is missing or unwritable fails the run that needs it, with the cause,
/// instead of stopping pgshelf from starting.
#[derive(Clone)]
pub struct Destination {
    /// Short name recorded with each copy (`local`, `offsite-s3`).
    pub name: String,
    /// Human description (`local:/var/lib/pgshelf/backups`,
    /// `s3://bucket/prefix (endpoint)`), never with secrets.
    pub describe: String,
    place: Place,
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Destination")
            .field("name", &self.name)
            .field("describe", &self.describe)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
enum Place {
    /// A directory on this host: writes are fsynced and renamed into place.
    Local(PathBuf),
    /// Anything opendal reaches over the network.
    Remote(Arc<build::Remote>),
}

impl Destination {
    /// A directory on the local disk: the built-in `local` destination.
    pub fn local(root: &Path) -> Destination {
        Destination::local_named(model::destination::LOCAL, root)
    }

    /// A directory on the local disk under another name.
    pub fn local_named(name: &str, root: &Path) -> Destination {
        let root: PathBuf = if root.is_absolute() {
            root.to_owned()
        } else {
            std::env::current_dir()
                .map(|d| d.join(root))
                .unwrap_or_else(|_| root.to_owned())
        };
        Destination {
            name: name.into(),
            describe: format!("local:{}", root.display()),
            place: Place::Local(root),
        }
    }

    /// A destination from its stored settings and (opened) secret. `work`
    /// is a private directory for files a client needs on disk (an SSH key
    /// while connected).
    pub fn configured(
        name: &str,
        settings: &DestinationSettings,
        root: &str,
        concurrency: u32,
        secret: Option<Secret>,
        work: &Path,
    ) -> Destination {
        let describe = settings.describe(root);
        if let DestinationSettings::Local { path } = settings {
            let dir = Path::new(path).join(root.trim_matches('/'));
            return Destination {
                name: name.into(),
                describe,
                place: Place::Local(dir),
            };
        }
        Destination {
            name: name.into(),
            describe,
            place: Place::Remote(Arc::new(build::Remote::new(
                settings.clone(),
                root,
                concurrency,
                secret,
                work,
            ))),
        }
    }

    /// The opendal operator for this destination.
    pub fn operator(&self) -> Result<Operator, StorageError> {
        match &self.place {
            Place::Local(root) => {
                let builder = opendal::services::Fs::default().root(&root.to_string_lossy());
                Operator::new(builder).map_err(|e| self.error(e))
            }
            Place::Remote(r) => r.operator().map_err(|e| self.error(e)),
        }
    }

    /// Parallel part uploads per file.
    pub fn concurrency(&self) -> usize {
        match &self.place {
            Place::Local(_) => 1,
            Place::Remote(r) => r.concurrency(),
        }
    }

    /// Opens a streaming writer for `path`. `expected` (bytes, a guess from
    /// earlier backups) sizes multipart uploads so the largest artifact fits
    /// the service's part-count limit; memory stays at part size times
    /// concurrency whatever the size.
    pub async fn writer(&self, path: &str, expected: u64) -> Result<FileWriter, StorageError> {
        if let Place::Remote(r) = &self.place {
            if r.streams_put() {
                return r
                    .dav_writer(path)
                    .await
                    .map(FileWriter::Dav)
                    .map_err(|e| self.error(e));
            }
        }
        let op = self.operator()?;
        let part = build::part_size(expected);
        let mut w = op
            .writer_with(path)
            .chunk(part)
            .concurrent(self.concurrency());
        if matches!(&self.place, Place::Remote(r) if r.is_gcs()) {
            // GCS's resumable upload (the only chunked one) needs this.
            w = w.if_not_exists(true);
        }
        let w = w.await.map_err(|e| self.error(e))?;
        Ok(FileWriter::Opendal(w))
    }

    /// A directory on this host (writes fsynced and renamed into place).
    pub fn is_local(&self) -> bool {
        matches!(self.place, Place::Local(_))
    }

    /// Maps an opendal error to a cause.
    pub fn error(&self, e: opendal::Error) -> StorageError {
        let detail = match &self.place {
            Place::Local(_) => e.to_string(),
            Place::Remote(r) => r.scrub(&e.to_string()),
        };
        if detail.contains("No space left on device")
            || detail.contains("os error 28")
            || detail.contains("Disk quota exceeded")
        {
            return StorageError::NoSpace {
                dest: self.describe.clone(),
                detail,
            };
        }
        if !self.is_local() {
            let denied = e.kind() == ErrorKind::PermissionDenied
                || detail.contains("SignatureDoesNotMatch")
                || detail.contains("InvalidAccessKeyId")
                || detail.contains("AuthenticationFailed")
                || detail.contains("AccessDenied")
                || detail.contains("status: 401")
                || detail.contains("status: 403");
            return if denied {
                StorageError::Denied {
                    dest: self.describe.clone(),
                    detail,
                }
            } else if e.kind() == ErrorKind::ConfigInvalid {
                StorageError::Config {
                    dest: self.describe.clone(),
                    detail,
                }
            } else {
                StorageError::Io {
                    dest: self.describe.clone(),
                    detail,
                }
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
        // Unique per call: two runs starting together (a database and its
        // server's globals) must not delete each other's probe.
        let path = format!(
            ".pgshelf-probe-{}-{}",
            std::process::id(),
            crate::auth::random_hex(8)
        );
        op.write(&path, b"pgshelf".to_vec())
            .await
            .map_err(|e| self.error(e))?;
        op.delete(&path).await.map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Writes `path` whole or not at all: under a temporary name, then
    /// renamed; on local storage the file and its directory are fsynced, so
    /// the artifact survives a power cut once this returns.
    pub async fn write_atomic(&self, path: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        let op = self.operator()?;
        let Place::Local(root) = &self.place else {
            // Object stores make an object visible whole or not at all;
            // a WebDAV PUT and an SFTP upload of one small file are one
            // request. Renaming is not offered by every service.
            return op
                .write(path, bytes)
                .await
                .map(|_| ())
                .map_err(|e| self.error(e));
        };
        let tmp = format!("{path}.partial");
        op.write(&tmp, bytes).await.map_err(|e| self.error(e))?;
        let local = |p: &str| root.join(p.trim_start_matches('/'));
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

    /// Removes an artifact directory and everything under it.
    pub async fn remove_artifact(&self, dir: &str) -> Result<(), StorageError> {
        let dir = if dir.ends_with('/') {
            dir.to_owned()
        } else {
            format!("{dir}/")
        };
        let op = self.operator()?;
        if self.is_local() {
            return op
                .delete_with(&dir)
                .recursive(true)
                .await
                .map_err(|e| self.error(e));
        }
        // One object at a time: not every service (or emulator) takes
        // batch deletes, and an artifact has few files.
        let entries = match op.list_with(&dir).recursive(true).await {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(self.error(e)),
        };
        let mut paths: Vec<String> = entries.into_iter().map(|e| e.path().to_owned()).collect();
        // Files before their folders.
        paths.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in paths {
            match op.delete(&p).await {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(self.error(e)),
            }
        }
        match op.delete(&dir).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.error(e)),
        }
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

/// A streaming writer of one file on one destination.
pub enum FileWriter {
    Opendal(opendal::Writer),
    Dav(DavWriter),
}

impl FileWriter {
    pub async fn write(&mut self, chunk: bytes::Bytes) -> Result<(), opendal::Error> {
        match self {
            FileWriter::Opendal(w) => w.write(chunk).await,
            FileWriter::Dav(w) => w.write(chunk).await,
        }
    }
    /// Completes the file; only then may it be listed.
    pub async fn close(&mut self) -> Result<(), opendal::Error> {
        match self {
            FileWriter::Opendal(w) => w.close().await.map(|_| ()),
            FileWriter::Dav(w) => w.close().await,
        }
    }
    /// Gives up: a multipart upload is aborted, a partial file removed.
    pub async fn abort(&mut self) -> Result<(), opendal::Error> {
        match self {
            FileWriter::Opendal(w) => w.abort().await,
            FileWriter::Dav(w) => w.abort().await,
        }
    }
}

/// `text` with every URL query string replaced by `?[redacted]` (a SAS
/// token or a presigned signature travels there) .
pub(crate) fn redact_queries(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '}' | ')' | '>'))
            .unwrap_or(tail.len());
        let url = &tail[..end];
        match url.find('?') {
            Some(q) => {
                out.push_str(&url[..q]);
                out.push_str("?[redacted]");
            }
            None => out.push_str(url),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn query_strings_never_reach_a_message() {
        assert_eq!(
            redact_queries("PUT https://a.blob.core.windows.net/c/x?sv=1&sig=SECRET failed, uri: http://h/p?X-Amz-Signature=abc"),
            "PUT https://a.blob.core.windows.net/c/x?[redacted] failed, uri: http://h/p?[redacted]"
        );
        assert_eq!(redact_queries("no url here"), "no url here");
        assert_eq!(redact_queries("GET http://h/p done"), "GET http://h/p done");
    }

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
