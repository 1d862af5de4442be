//! The destination form as typed (numbers as text, every kind's fields at
//! once so switching the kind loses nothing), turned into a
//! [`DestinationInput`] in the browser — checked there with the engine's own
//! validation so a bad field is named before anything is sent — and back
//! from a [`Destination`] for editing. The secret is never filled from the
//! server.

use model::destination::{Destination, DestinationInput, DestinationSettings};
use serde::{Deserialize, Serialize};

/// The kinds a user can add, as (value, label).
pub const KINDS: &[(&str, &str)] = &[
    ("s3", "S3 or S3-compatible (AWS, R2, Spaces, B2, MinIO)"),
    ("webdav", "WebDAV (Nextcloud, ownCloud)"),
    ("sftp", "SFTP"),
    ("gcs", "Google Cloud Storage"),
    ("azblob", "Azure Blob Storage"),
    ("local", "Local directory"),
];

/// Parallel part uploads when the field is blank.
pub const DEFAULT_CONCURRENCY: u32 = 4;

/// What the user typed into the destination form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationDraft {
    pub kind: String,
    pub name: String,
    pub root: String,
    pub concurrency: String,
    /// Never prefilled; empty when editing keeps the stored one.
    pub secret: String,
    // S3
    pub s3_endpoint: String,
    pub s3_region: String,
    pub s3_bucket: String,
    pub s3_path_style: bool,
    pub s3_access_key_id: String,
    pub s3_storage_class: String,
    // WebDAV
    pub dav_url: String,
    pub dav_username: String,
    // SFTP
    pub sftp_host: String,
    pub sftp_port: String,
    pub sftp_username: String,
    /// Kept as stored (confirmed by "Trust this key", not typed)...
    pub sftp_host_key: String,
    /// ...for this `host:port`; another host or port drops it, so the new
    /// server's key is checked and confirmed again.
    pub sftp_key_for: String,
    // GCS
    pub gcs_bucket: String,
    pub gcs_endpoint: String,
    // Azure
    pub az_account: String,
    pub az_container: String,
    pub az_endpoint: String,
    pub az_sas: bool,
    // local
    pub local_path: String,
}

impl DestinationDraft {
    /// A new S3 destination's form.
    pub fn initial() -> Self {
        DestinationDraft {
            kind: "s3".into(),
            concurrency: DEFAULT_CONCURRENCY.to_string(),
            s3_region: "us-east-1".into(),
            s3_path_style: true,
            sftp_port: "22".into(),
            ..Default::default()
        }
    }

    /// The form of an existing destination (the secret left empty).
    pub fn of(d: &Destination) -> Self {
        let mut f = DestinationDraft::initial();
        f.kind = d.settings.kind().into();
        f.name = d.name.clone();
        f.root = d.root.clone();
        f.concurrency = d.concurrency.to_string();
        match &d.settings {
            DestinationSettings::Local { path } => f.local_path = path.clone(),
            DestinationSettings::S3 {
                endpoint,
                region,
                bucket,
                path_style,
                access_key_id,
                storage_class,
            } => {
                f.s3_endpoint = endpoint.clone();
                f.s3_region = region.clone();
                f.s3_bucket = bucket.clone();
                f.s3_path_style = *path_style;
                f.s3_access_key_id = access_key_id.clone();
                f.s3_storage_class = storage_class.clone();
            }
            DestinationSettings::WebDav { url, username } => {
                f.dav_url = url.clone();
                f.dav_username = username.clone();
            }
            DestinationSettings::Sftp {
                host,
                port,
                username,
                host_key,
            } => {
                f.sftp_host = host.clone();
                f.sftp_port = port.to_string();
                f.sftp_username = username.clone();
                f.sftp_host_key = host_key.clone();
                f.sftp_key_for = format!("{host}:{port}");
            }
            DestinationSettings::Gcs { bucket, endpoint } => {
                f.gcs_bucket = bucket.clone();
                f.gcs_endpoint = endpoint.clone();
            }
            DestinationSettings::Azblob {
                account,
                container,
                endpoint,
                sas,
            } => {
                f.az_account = account.clone();
                f.az_container = container.clone();
                f.az_endpoint = endpoint.clone();
                f.az_sas = *sas;
            }
        }
        f
    }

    /// The settings of the chosen kind.
    pub fn settings(&self) -> Result<DestinationSettings, String> {
        let t = |s: &str| s.trim().to_owned();
        Ok(match self.kind.as_str() {
            "local" => DestinationSettings::Local {
                path: t(&self.local_path),
            },
            "s3" => DestinationSettings::S3 {
                endpoint: t(&self.s3_endpoint),
                region: t(&self.s3_region),
                bucket: t(&self.s3_bucket),
                path_style: self.s3_path_style,
                access_key_id: t(&self.s3_access_key_id),
                storage_class: t(&self.s3_storage_class),
            },
            "webdav" => DestinationSettings::WebDav {
                url: t(&self.dav_url),
                username: t(&self.dav_username),
            },
            "sftp" => {
                let port = match self.sftp_port.trim() {
                    "" => 22,
                    p => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                        format!("port: {p:?} is not a port number. Fix: enter a number from 1 to 65535 (SSH's is 22)")
                    })?,
                };
                let host = t(&self.sftp_host);
                let host_key = if self.sftp_key_for == format!("{host}:{port}") {
                    self.sftp_host_key.clone()
                } else {
                    String::new()
                };
                DestinationSettings::Sftp {
                    host,
                    port,
                    username: t(&self.sftp_username),
                    host_key,
                }
            }
            "gcs" => DestinationSettings::Gcs {
                bucket: t(&self.gcs_bucket),
                endpoint: t(&self.gcs_endpoint),
            },
            "azblob" => DestinationSettings::Azblob {
                account: t(&self.az_account),
                container: t(&self.az_container),
                endpoint: t(&self.az_endpoint),
                sas: self.az_sas,
            },
            other => {
                return Err(format!(
                    "kind: {other:?} is not a destination kind. Fix: choose one from the list"
                ))
            }
        })
    }

    /// The input the engine takes, checked as the engine checks it
    /// (`adding`: a secret is required where the kind needs one). Errors
    /// read `field: message. Fix: ...`.
    pub fn input(&self, adding: bool) -> Result<DestinationInput, String> {
        let concurrency = match self.concurrency.trim() {
            "" => DEFAULT_CONCURRENCY,
            c => c.parse::<u32>().map_err(|_| {
                format!("concurrency: {c:?} is not a whole number. Fix: enter digits only; 4 suits most links")
            })?,
        };
        let settings = self.settings()?;
        let secret = Some(self.secret.clone()).filter(|s| !s.trim().is_empty());
        let input = DestinationInput {
            name: self.name.trim().to_owned(),
            settings,
            root: self.root.trim().trim_matches('/').to_owned(),
            concurrency,
            secret,
        };
        input.validate(adding).map_err(|e| e.to_string())?;
        Ok(input)
    }
}

/// Fields an error can be shown beside; anything else shows below the form.
pub const FIELDS: &[&str] = &[
    "kind",
    "name",
    "root",
    "concurrency",
    "secret",
    "endpoint",
    "region",
    "bucket",
    "access_key_id",
    "storage_class",
    "url",
    "username",
    "host",
    "port",
    "account",
    "container",
    "path",
];

/// What the secret is called for `kind` (`sas`: Azure with a SAS token).
pub fn secret_label(kind: &str, sas: bool) -> &'static str {
    match kind {
        "s3" => "Secret access key",
        "webdav" => "Password (or app password)",
        "sftp" => "Private key (OpenSSH or PEM)",
        "gcs" => "Service-account JSON",
        "azblob" if sas => "SAS token",
        "azblob" => "Account key",
        _ => "",
    }
}

/// Whether the secret of `kind` is several lines (a textarea).
pub fn secret_is_multiline(kind: &str) -> bool {
    matches!(kind, "sftp" | "gcs")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3() -> DestinationDraft {
        DestinationDraft {
            name: "offsite".into(),
            s3_endpoint: "http://127.0.0.1:9000".into(),
            s3_bucket: "b".into(),
            s3_access_key_id: "AK".into(),
            secret: "SK".into(),
            ..DestinationDraft::initial()
        }
    }

    #[test]
    fn builds_and_round_trips_an_s3_destination() {
        let input = s3().input(true).unwrap();
        assert_eq!(input.concurrency, 4);
        assert_eq!(input.secret.as_deref(), Some("SK"));
        let shown = Destination {
            id: 1,
            name: input.name.clone(),
            describe: input.settings.describe(&input.root),
            settings: input.settings.clone(),
            root: input.root.clone(),
            concurrency: input.concurrency,
            has_secret: true,
            from_config: false,
            copies: 0,
            stored_bytes: 0,
            last_test: None,
        };
        let back = DestinationDraft::of(&shown);
        assert_eq!(
            back.secret, "",
            "the secret is never filled from the server"
        );
        assert_eq!(back.input(false).unwrap().settings, input.settings);
    }

    #[test]
    fn names_the_bad_field() {
        let mut f = s3();
        f.concurrency = "four".into();
        assert!(f.input(true).unwrap_err().starts_with("concurrency: "));
        f.concurrency = "0".into();
        assert!(f.input(true).unwrap_err().starts_with("concurrency: "));
        let mut f = s3();
        f.secret.clear();
        assert!(f.input(true).unwrap_err().starts_with("secret: "));
        assert!(f.input(false).is_ok(), "editing keeps the stored secret");
        let mut f = s3();
        f.kind = "sftp".into();
        f.sftp_host = "h".into();
        f.sftp_username = "u".into();
        f.sftp_port = "99999".into();
        assert!(f.input(true).unwrap_err().starts_with("port: "));
        let mut f = s3();
        f.kind = "webdav".into();
        f.dav_url = "cloud.example.com".into();
        f.dav_username = "alice".into();
        assert!(f.input(true).unwrap_err().starts_with("url: "));
    }

    #[test]
    fn a_trusted_host_key_stays_only_with_its_host() {
        let mut f = s3();
        f.kind = "sftp".into();
        f.sftp_host = "h".into();
        f.sftp_port = "22".into();
        f.sftp_username = "u".into();
        f.sftp_host_key = "ssh-ed25519 AAAA".into();
        f.sftp_key_for = "h:22".into();
        let key = |f: &DestinationDraft| match f.settings().unwrap() {
            DestinationSettings::Sftp { host_key, .. } => host_key,
            _ => unreachable!(),
        };
        assert_eq!(key(&f), "ssh-ed25519 AAAA");
        f.sftp_host = "elsewhere".into();
        assert_eq!(key(&f), "");
    }
}
