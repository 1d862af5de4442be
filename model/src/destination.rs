//! Destinations: where artifacts are stored (a local directory, S3 and
//! S3-compatible buckets, WebDAV, SFTP, Google Cloud Storage, Azure Blob),
//! as users enter them and as the dashboard shows them; the copies a backup
//! has on each; the result of testing one. No secret is ever part of a
//! shown type: [`DestinationInput::secret`] travels browser -> server once
//! and is sealed there.

use serde::{Deserialize, Serialize};

/// The name of the built-in destination: the local `backup_dir`.
pub const LOCAL: &str = "local";

/// The kind of storage, with its non-secret settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum DestinationSettings {
    /// A directory on pgshelf's own disk.
    Local { path: String },
    /// AWS S3 or an S3-compatible service (DigitalOcean Spaces, Backblaze
    /// B2's S3 API, Cloudflare R2, MinIO). Secret: the secret access key.
    S3 {
        /// `https://s3.eu-west-1.amazonaws.com`, `https://<account>.r2.cloudflarestorage.com`;
        /// empty: AWS's endpoint for the region.
        endpoint: String,
        region: String,
        bucket: String,
        /// Path-style (`endpoint/bucket/key`, MinIO and most self-hosted
        /// servers) rather than virtual-host (`bucket.endpoint/key`).
        path_style: bool,
        access_key_id: String,
        /// `STANDARD_IA`, `GLACIER_IR`, ...; empty: the bucket's default.
        storage_class: String,
    },
    /// WebDAV (Nextcloud and ownCloud URLs as pasted from their web UI).
    /// Secret: the password (or app password).
    #[serde(rename = "webdav")]
    WebDav { url: String, username: String },
    /// SFTP with key authentication. Secret: the private key (OpenSSH or
    /// PEM text). `host_key` is the server's public key as confirmed by the
    /// user on first use; a different key refuses the connection.
    Sftp {
        host: String,
        port: u16,
        username: String,
        host_key: String,
    },
    /// Google Cloud Storage. Secret: the service-account JSON.
    Gcs {
        bucket: String,
        /// Empty: Google's endpoint.
        endpoint: String,
    },
    /// Azure Blob Storage. Secret: the account key, or a SAS token when
    /// `sas` is set.
    Azblob {
        account: String,
        container: String,
        /// Empty: `https://<account>.blob.core.windows.net`.
        endpoint: String,
        sas: bool,
    },
}

impl DestinationSettings {
    /// `s3`, `webdav`, ... as stored and shown.
    pub fn kind(&self) -> &'static str {
        match self {
            DestinationSettings::Local { .. } => "local",
            DestinationSettings::S3 { .. } => "s3",
            DestinationSettings::WebDav { .. } => "webdav",
            DestinationSettings::Sftp { .. } => "sftp",
            DestinationSettings::Gcs { .. } => "gcs",
            DestinationSettings::Azblob { .. } => "azblob",
        }
    }

    /// Whether this kind needs a secret to work.
    pub fn needs_secret(&self) -> bool {
        !matches!(self, DestinationSettings::Local { .. })
    }

    /// What the secret is called for this kind, for forms and messages.
    pub fn secret_label(&self) -> &'static str {
        match self {
            DestinationSettings::Local { .. } => "",
            DestinationSettings::S3 { .. } => "secret access key",
            DestinationSettings::WebDav { .. } => "password",
            DestinationSettings::Sftp { .. } => "private key",
            DestinationSettings::Gcs { .. } => "service-account JSON",
            DestinationSettings::Azblob { sas: true, .. } => "SAS token",
            DestinationSettings::Azblob { .. } => "account key",
        }
    }

    /// Where it points, in words, never with a secret
    /// (`s3://bucket (https://endpoint)`).
    pub fn describe(&self, root: &str) -> String {
        let root = root.trim_matches('/');
        let tail = if root.is_empty() {
            String::new()
        } else {
            format!("/{root}")
        };
        match self {
            DestinationSettings::Local { path } => format!("local:{path}{tail}"),
            DestinationSettings::S3 {
                endpoint, bucket, ..
            } if endpoint.is_empty() => format!("s3://{bucket}{tail}"),
            DestinationSettings::S3 {
                endpoint, bucket, ..
            } => format!("s3://{bucket}{tail} ({endpoint})"),
            DestinationSettings::WebDav { url, .. } => {
                format!("{}{tail}", url.trim_end_matches('/'))
            }
            DestinationSettings::Sftp {
                host,
                port,
                username,
                ..
            } => format!("sftp://{username}@{host}:{port}{tail}"),
            DestinationSettings::Gcs { bucket, .. } => format!("gs://{bucket}{tail}"),
            DestinationSettings::Azblob {
                account, container, ..
            } => format!("azblob://{account}/{container}{tail}"),
        }
    }

    /// Whether changing from `old` to `self` moves where the secret is sent,
    /// so the secret must be entered again (an attacker who can edit a
    /// destination must not be able to redirect a stored key to their host).
    pub fn endpoint_changed(&self, old: &DestinationSettings) -> bool {
        use DestinationSettings::*;
        match (self, old) {
            (Local { .. }, Local { .. }) => false,
            (
                S3 {
                    endpoint: a,
                    access_key_id: ka,
                    ..
                },
                S3 {
                    endpoint: b,
                    access_key_id: kb,
                    ..
                },
            ) => a.trim() != b.trim() || ka != kb,
            (
                WebDav {
                    url: a,
                    username: ua,
                },
                WebDav {
                    url: b,
                    username: ub,
                },
            ) => origin(a) != origin(b) || ua != ub,
            (
                Sftp {
                    host: a,
                    port: pa,
                    username: ua,
                    ..
                },
                Sftp {
                    host: b,
                    port: pb,
                    username: ub,
                    ..
                },
            ) => a != b || pa != pb || ua != ub,
            (Gcs { endpoint: a, .. }, Gcs { endpoint: b, .. }) => a != b,
            (
                Azblob {
                    account: a,
                    endpoint: ea,
                    sas: sa,
                    ..
                },
                Azblob {
                    account: b,
                    endpoint: eb,
                    sas: sb,
                    ..
                },
            ) => a != b || ea != eb || sa != sb,
            _ => true,
        }
    }
}

/// `scheme://host:port` of a URL, lowercased (what a credential is sent to).
fn origin(url: &str) -> String {
    let url = url.trim().to_ascii_lowercase();
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split('/').next().unwrap_or("");
            format!("{scheme}://{host}")
        }
        None => url,
    }
}

/// A configured destination, as shown. Never holds the secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Destination {
    pub id: i64,
    /// Unique short name, used by policies and the CLI (`offsite-s3`).
    pub name: String,
    pub settings: DestinationSettings,
    /// Prefix inside the bucket/folder under which artifacts go.
    pub root: String,
    /// Parallel part uploads per file.
    pub concurrency: u32,
    /// A secret is stored (sealed); it is never sent back.
    pub has_secret: bool,
    /// `s3://bucket/root (endpoint)`.
    pub describe: String,
    /// Declared in `pgshelf.toml` (edited there, not in the browser).
    pub from_config: bool,
    /// Complete copies stored there and their bytes, from the catalog.
    pub copies: u64,
    pub stored_bytes: u64,
    /// When the last "Test" ran and what it said.
    pub last_test: Option<ProbeReport>,
}

/// What a user enters to add or edit a destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DestinationInput {
    pub name: String,
    pub settings: DestinationSettings,
    pub root: String,
    pub concurrency: u32,
    /// `None` or empty when editing: keep the stored one. Required when
    /// adding a kind that needs one, and when the endpoint changes.
    pub secret: Option<String>,
}

/// Most part uploads of one file in flight at once.
pub const MAX_CONCURRENCY: u32 = 16;

/// Why a destination's input is refused: the field and the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationError {
    pub field: String,
    pub message: String,
}

impl DestinationError {
    fn new(field: &str, message: impl Into<String>) -> Self {
        DestinationError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for DestinationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for DestinationError {}

/// Names: what a policy, the CLI and a folder on disk can all hold.
pub fn validate_name(name: &str) -> Result<(), DestinationError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(DestinationError::new(
            "name",
            format!("{name:?} is not a destination name. Fix: use 1 to 63 letters, digits, '-' or '_', starting with a letter or digit (e.g. offsite-s3)"),
        ))
    }
}

fn require(field: &str, value: &str, what: &str) -> Result<(), DestinationError> {
    if value.trim().is_empty() {
        Err(DestinationError::new(
            field,
            format!("is empty. Fix: enter {what}"),
        ))
    } else {
        Ok(())
    }
}

fn http_url(field: &str, value: &str, what: &str) -> Result<(), DestinationError> {
    let v = value.trim();
    if (v.starts_with("https://") || v.starts_with("http://"))
        && v.len() > "https://".len()
        && !v.contains(char::is_whitespace)
    {
        return Ok(());
    }
    Err(DestinationError::new(
        field,
        format!("{v:?} is not an http(s) URL. Fix: enter {what}"),
    ))
}

impl DestinationInput {
    /// Checks the input as a whole (`adding`: a secret is required where
    /// the kind needs one).
    pub fn validate(&self, adding: bool) -> Result<(), DestinationError> {
        validate_name(&self.name)?;
        if self.root.contains("..") || self.root.contains('\\') {
            return Err(DestinationError::new(
                "root",
                "must not contain '..' or '\\'. Fix: use a plain prefix such as pgshelf/prod",
            ));
        }
        if self.concurrency == 0 || self.concurrency > MAX_CONCURRENCY {
            return Err(DestinationError::new(
                "concurrency",
                format!(
                    "{} is outside 1..={MAX_CONCURRENCY}. Fix: 4 suits most links",
                    self.concurrency
                ),
            ));
        }
        match &self.settings {
            DestinationSettings::Local { path } => {
                if !path.starts_with('/') {
                    return Err(DestinationError::new(
                        "path",
                        format!("{path:?} is not an absolute path. Fix: enter a directory such as /var/backups/pgshelf"),
                    ));
                }
            }
            DestinationSettings::S3 {
                endpoint,
                region,
                bucket,
                access_key_id,
                ..
            } => {
                if !endpoint.trim().is_empty() {
                    http_url(
                        "endpoint",
                        endpoint,
                        "the service's URL, e.g. https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:9000",
                    )?;
                }
                require(
                    "region",
                    region,
                    "the bucket's region (us-east-1 where the service has none; auto for R2)",
                )?;
                require("bucket", bucket, "the bucket's name")?;
                require("access_key_id", access_key_id, "the access key id")?;
            }
            DestinationSettings::WebDav { url, username } => {
                http_url(
                    "url",
                    url,
                    "the folder's WebDAV URL, e.g. https://cloud.example.com/remote.php/dav/files/alice/backups",
                )?;
                require("username", username, "the user name")?;
            }
            DestinationSettings::Sftp {
                host,
                port,
                username,
                ..
            } => {
                require("host", host, "the SFTP server's host name")?;
                if *port == 0 {
                    return Err(DestinationError::new("port", "is 0. Fix: 22 is SSH's port"));
                }
                require("username", username, "the user to log in as")?;
            }
            DestinationSettings::Gcs { bucket, endpoint } => {
                require("bucket", bucket, "the bucket's name")?;
                if !endpoint.trim().is_empty() {
                    http_url(
                        "endpoint",
                        endpoint,
                        "the service's URL, or leave it empty for Google",
                    )?;
                }
            }
            DestinationSettings::Azblob {
                account,
                container,
                endpoint,
                ..
            } => {
                require("account", account, "the storage account's name")?;
                require("container", container, "the container's name")?;
                if !endpoint.trim().is_empty() {
                    http_url(
                        "endpoint",
                        endpoint,
                        "the blob service URL, or leave it empty for Azure",
                    )?;
                }
            }
        }
        let secret_given = self.secret.as_ref().is_some_and(|s| !s.trim().is_empty());
        if adding && self.settings.needs_secret() && !secret_given {
            return Err(DestinationError::new(
                "secret",
                format!("is empty. Fix: enter the {}", self.settings.secret_label()),
            ));
        }
        Ok(())
    }
}

/// One step of testing a destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeStep {
    /// `write`, `read back`, `list`, `delete`.
    pub step: String,
    pub ok: bool,
    pub millis: u64,
    /// The destination's own words when the step failed.
    pub detail: Option<String>,
}

/// The result of "Test": a probe object written, read back, listed and
/// deleted; the first failed step ends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub destination: String,
    pub steps: Vec<ProbeStep>,
    /// When it ran (RFC 3339).
    pub at: String,
}

impl ProbeReport {
    pub fn ok(&self) -> bool {
        !self.steps.is_empty() && self.steps.iter().all(|s| s.ok)
    }
    /// "write failed: ..." or "ok".
    pub fn summary(&self) -> String {
        match self.steps.iter().find(|s| !s.ok) {
            Some(s) => format!(
                "{} failed: {}",
                s.step,
                s.detail.as_deref().unwrap_or("no detail")
            ),
            None if self.steps.is_empty() => "not tested".into(),
            None => "ok".into(),
        }
    }
}

/// A host key as seen on first contact, for the user to confirm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostKey {
    /// `ssh-ed25519 AAAA...` as `ssh-keyscan` prints it (no host part).
    pub key: String,
    /// `SHA256:...` as `ssh-keygen -l` prints it.
    pub fingerprint: String,
}

/// Where a backup's copy on one destination stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CopyStatus {
    /// Being written.
    Uploading,
    /// Every file and the manifest are there: restorable from here.
    Complete,
    /// Writing failed; nothing of it is left there (or its removal is due).
    Failed,
    /// Removed by retention.
    Pruned,
}

impl CopyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CopyStatus::Uploading => "uploading",
            CopyStatus::Complete => "complete",
            CopyStatus::Failed => "failed",
            CopyStatus::Pruned => "pruned",
        }
    }
    pub fn parse(s: &str) -> Option<CopyStatus> {
        Some(match s {
            "uploading" => CopyStatus::Uploading,
            "complete" => CopyStatus::Complete,
            "failed" => CopyStatus::Failed,
            "pruned" => CopyStatus::Pruned,
            _ => return None,
        })
    }
}

/// One backup's copy on one destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupCopy {
    pub backup_id: i64,
    pub destination: String,
    pub status: CopyStatus,
    /// The artifact's folder there (`server/db/20261130T030000Z-42/`).
    pub dir: String,
    pub bytes: u64,
    /// Why it failed, in the destination's own words.
    pub error: Option<String>,
    /// Upload attempts so far (the first one included).
    pub attempts: u32,
    /// RFC 3339.
    pub updated_at: String,
}

/// A stored age identity as listed: never the secret key, only the public
/// key (recipient) it opens, who stored it and when. Stored only when a
/// user opts in, for scheduled test-restores of encrypted backups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredIdentity {
    /// The `age1...` public key the stored secret key opens.
    pub recipient: String,
    pub stored_by: String,
    pub stored_at: chrono::DateTime<chrono::Utc>,
}

/// What storing an identity risks, said wherever a user can do it.
pub const STORED_IDENTITY_RISK: &str = "pgshelf keeps the secret key sealed with its instance key. Anyone who gets pgshelf's data directory (the instance key and the catalog) can then decrypt every backup encrypted to it, and so can pgshelf itself whenever it runs. Store it only if scheduled test-restores of encrypted backups are worth that; otherwise give the identity at each restore.";

/// Result of importing a destination's manifests into the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ImportReport {
    pub destination: String,
    /// Manifests read.
    pub manifests: u64,
    /// Backups added to the catalog.
    pub imported: u64,
    /// Already known (a copy row added where it was missing).
    pub known: u64,
    /// Manifests that could not be read, with why.
    pub skipped: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(endpoint: &str, key: &str) -> DestinationSettings {
        DestinationSettings::S3 {
            endpoint: endpoint.into(),
            region: "us-east-1".into(),
            bucket: "b".into(),
            path_style: true,
            access_key_id: key.into(),
            storage_class: String::new(),
        }
    }

    fn input(settings: DestinationSettings, secret: Option<&str>) -> DestinationInput {
        DestinationInput {
            name: "offsite".into(),
            settings,
            root: "pgshelf".into(),
            concurrency: 4,
            secret: secret.map(Into::into),
        }
    }

    #[test]
    fn names() {
        assert!(validate_name("offsite-s3").is_ok());
        assert!(validate_name("a").is_ok());
        for bad in ["", "-x", "a b", "a/b", "ü", &"x".repeat(64)] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn adding_needs_a_secret_editing_does_not() {
        let i = input(s3("http://127.0.0.1:9000", "AK"), None);
        let e = i.validate(true).unwrap_err();
        assert_eq!(e.field, "secret");
        assert!(e.message.contains("secret access key"), "{e}");
        assert!(i.validate(false).is_ok());
        assert!(input(s3("", "AK"), Some("SK")).validate(true).is_ok());
    }

    #[test]
    fn bad_fields_are_named() {
        let e = input(s3("127.0.0.1:9000", "AK"), Some("x"))
            .validate(true)
            .unwrap_err();
        assert_eq!(e.field, "endpoint");
        let mut i = input(
            DestinationSettings::Local {
                path: "relative".into(),
            },
            None,
        );
        assert_eq!(i.validate(true).unwrap_err().field, "path");
        i.settings = DestinationSettings::Local { path: "/x".into() };
        i.root = "../etc".into();
        assert_eq!(i.validate(true).unwrap_err().field, "root");
        i.root = String::new();
        i.concurrency = 0;
        assert_eq!(i.validate(true).unwrap_err().field, "concurrency");
    }

    #[test]
    fn endpoint_changes_need_the_secret_again() {
        assert!(!s3("http://a", "AK").endpoint_changed(&s3("http://a", "AK")));
        assert!(s3("http://evil", "AK").endpoint_changed(&s3("http://a", "AK")));
        assert!(s3("http://a", "AK2").endpoint_changed(&s3("http://a", "AK")));
        let dav = |url: &str| DestinationSettings::WebDav {
            url: url.into(),
            username: "u".into(),
        };
        assert!(!dav("https://h/remote.php/dav/files/u/a")
            .endpoint_changed(&dav("https://h/remote.php/dav/files/u/b")));
        assert!(dav("https://evil/x").endpoint_changed(&dav("https://h/x")));
        assert!(dav("https://h/x").endpoint_changed(&s3("https://h", "u")));
    }

    #[test]
    fn describe_never_has_a_secret_and_shows_the_root() {
        assert_eq!(
            s3("http://127.0.0.1:9000", "AKID").describe("/prod/"),
            "s3://b/prod (http://127.0.0.1:9000)"
        );
        assert_eq!(s3("", "AKID").describe(""), "s3://b");
    }

    #[test]
    fn copy_status_round_trips() {
        for s in [
            CopyStatus::Uploading,
            CopyStatus::Complete,
            CopyStatus::Failed,
            CopyStatus::Pruned,
        ] {
            assert_eq!(CopyStatus::parse(s.as_str()), Some(s));
        }
    }
}
