//! Stored settings -> opendal operator, for every kind of destination; part
//! sizes for multipart uploads.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use opendal::layers::RetryLayer;
use opendal::{Error, ErrorKind, Operator};

use crate::secrets::Secret;
use model::destination::DestinationSettings;

/// The smallest part pgshelf uploads (S3's minimum is 5 MiB).
pub const MIN_PART: usize = 8 << 20;
/// S3's largest part.
pub const MAX_PART: u64 = 5 << 30;

/// The part size for a file expected to be `expected` bytes: at least
/// [`MIN_PART`], and large enough that 1.5 times the expected size still
/// fits in 9,000 parts (headroom under S3's 10,000 for a database that
/// grew since the estimate). A 5 TB dump gets ~834 MB parts.
pub fn part_size(expected: u64) -> usize {
    let needed = expected.saturating_mul(3) / 2 / 9_000 + 1;
    let mib = 1u64 << 20;
    let rounded = needed.div_ceil(mib) * mib;
    rounded.clamp(MIN_PART as u64, MAX_PART) as usize
}

/// A network destination: settings, the opened secret, and what a client
/// needs on disk while connected.
pub(crate) struct Remote {
    settings: DestinationSettings,
    root: String,
    concurrency: u32,
    secret: Option<Secret>,
    work: PathBuf,
    /// The SSH private key written for `ssh` (0600), removed on drop.
    key_file: OnceLock<Result<Arc<tempfile::TempPath>, String>>,
    http: OnceLock<reqwest::Client>,
}

impl Remote {
    pub(crate) fn new(
        settings: DestinationSettings,
        root: &str,
        concurrency: u32,
        secret: Option<Secret>,
        work: &Path,
    ) -> Remote {
        Remote {
            settings,
            root: root.trim_matches('/').to_owned(),
            concurrency: concurrency.max(1),
            secret,
            work: work.to_owned(),
            key_file: OnceLock::new(),
            http: OnceLock::new(),
        }
    }

    pub(crate) fn concurrency(&self) -> usize {
        self.concurrency as usize
    }

    pub(crate) fn is_gcs(&self) -> bool {
        matches!(self.settings, DestinationSettings::Gcs { .. })
    }

    /// WebDAV: uploads go as one streamed PUT (see `dav`).
    pub(crate) fn streams_put(&self) -> bool {
        matches!(self.settings, DestinationSettings::WebDav { .. })
    }

    /// An error text fit to show: URL query strings (SAS tokens,
    /// signatures) and the secret itself, wherever it appears, removed.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = super::redact_queries(text);
        if let Some(s) = &self.secret {
            for part in [s.expose().trim(), s.expose().trim().trim_start_matches('?')] {
                if part.len() >= 8 {
                    out = out.replace(part, "[redacted]");
                }
            }
        }
        out
    }

    fn secret(&self) -> Result<&str, Error> {
        match &self.secret {
            Some(s) if !s.is_empty() => Ok(s.expose()),
            _ => Err(Error::new(
                ErrorKind::ConfigInvalid,
                format!(
                    "no {} is stored. Fix: edit the destination and enter it",
                    self.settings.secret_label()
                ),
            )),
        }
    }

    /// `/root/` as opendal wants it.
    fn op_root(&self) -> String {
        format!("/{}/", self.root).replace("//", "/")
    }

    pub(crate) fn operator(&self) -> Result<Operator, Error> {
        super::ssh::ensure_http_transport();
        let root = self.op_root();
        let op = match &self.settings {
            DestinationSettings::Local { path } => {
                Operator::new(opendal::services::Fs::default().root(&format!("{path}{root}")))?
            }
            DestinationSettings::S3 {
                endpoint,
                region,
                bucket,
                path_style,
                access_key_id,
                storage_class,
            } => {
                let mut b = opendal::services::S3::default()
                    .root(&root)
                    .bucket(bucket)
                    .region(region)
                    .access_key_id(access_key_id)
                    .secret_access_key(self.secret()?)
                    .disable_config_load()
                    .disable_ec2_metadata();
                if !endpoint.trim().is_empty() {
                    b = b.endpoint(endpoint.trim());
                }
                if !path_style {
                    b = b.enable_virtual_host_style();
                }
                if !storage_class.trim().is_empty() {
                    b = b.default_storage_class(storage_class.trim());
                }
                Operator::new(b)?
            }
            DestinationSettings::WebDav { url, username } => Operator::new(
                opendal::services::Webdav::default()
                    .endpoint(url.trim())
                    .username(username)
                    .password(self.secret()?)
                    .root(&root),
            )?,
            DestinationSettings::Sftp {
                host,
                port,
                username,
                host_key,
            } => {
                if host_key.trim().is_empty() {
                    return Err(Error::new(
                        ErrorKind::ConfigInvalid,
                        "its SSH host key has not been confirmed. Fix: compare the fingerprint the server shows (Destinations page: Check host key; CLI: pgshelf destination host-key NAME) with the one its administrator gives you, then trust it",
                    ));
                }
                super::ssh::trust(host, *port, host_key)
                    .map_err(|e| Error::new(ErrorKind::Unexpected, format!("known_hosts: {e}")))?;
                let key = self.key_file()?;
                // SFTP paths are the server's own: the root is absolute there.
                Operator::new(
                    opendal::services::Sftp::default()
                        .endpoint(&format!("ssh://{host}:{port}"))
                        .user(username)
                        .key(&key.to_string_lossy())
                        .known_hosts_strategy("strict")
                        .root(&root),
                )?
            }
            DestinationSettings::Gcs { bucket, endpoint } => {
                let mut b = opendal::services::Gcs::default()
                    .root(&root)
                    .bucket(bucket)
                    .disable_vm_metadata()
                    .disable_config_load();
                let secret = self.secret()?;
                if secret.trim() == "anonymous" {
                    // Emulators and public test buckets only.
                    b = b.skip_signature();
                } else {
                    b = b.credential(&base64_encode(secret.trim().as_bytes()));
                }
                if !endpoint.trim().is_empty() {
                    b = b.endpoint(endpoint.trim());
                }
                Operator::new(b)?
            }
            DestinationSettings::Azblob {
                account,
                container,
                endpoint,
                sas,
            } => {
                let endpoint = if endpoint.trim().is_empty() {
                    format!("https://{account}.blob.core.windows.net")
                } else {
                    endpoint.trim().to_owned()
                };
                let mut b = opendal::services::Azblob::default()
                    .root(&root)
                    .container(container)
                    .endpoint(&endpoint)
                    .account_name(account);
                b = if *sas {
                    b.sas_token(self.secret()?.trim_start_matches('?'))
                } else {
                    b.account_key(self.secret()?)
                };
                Operator::new(b)?
            }
        };
        // Transient failures (a reset connection, a 503, a throttled part)
        // are retried with jittered backoff before the copy fails.
        Ok(op.layer(
            RetryLayer::new()
                .with_max_times(4)
                .with_min_delay(std::time::Duration::from_millis(200))
                .with_max_delay(std::time::Duration::from_secs(10))
                .with_jitter(),
        ))
    }

    fn key_file(&self) -> Result<PathBuf, Error> {
        let secret = self.secret()?.to_owned();
        let made = self.key_file.get_or_init(|| {
            std::fs::create_dir_all(&self.work).map_err(|e| e.to_string())?;
            let mut f = tempfile::Builder::new()
                .prefix("sftp-key-")
                .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .tempfile_in(&self.work)
                .map_err(|e| e.to_string())?;
            let mut text = secret.replace("\r\n", "\n");
            if !text.ends_with('\n') {
                text.push('\n');
            }
            std::io::Write::write_all(&mut f, text.as_bytes()).map_err(|e| e.to_string())?;
            Ok(Arc::new(f.into_temp_path()))
        });
        match made {
            Ok(p) => Ok(p.to_path_buf()),
            Err(e) => Err(Error::new(
                ErrorKind::Unexpected,
                format!("cannot write the SSH key file for ssh: {e}"),
            )),
        }
    }

    /// The streaming WebDAV writer for `path` (parents created first).
    pub(crate) async fn dav_writer(&self, path: &str) -> Result<super::DavWriter, Error> {
        let DestinationSettings::WebDav { url, username } = &self.settings else {
            unreachable!("dav_writer is only used for WebDAV");
        };
        if let Some((parent, _)) = path.rsplit_once('/') {
            self.operator()?.create_dir(&format!("{parent}/")).await?;
        }
        let client = self
            .http
            .get_or_init(|| {
                super::ssh::ensure_http_transport();
                reqwest::Client::builder()
                    .connect_timeout(std::time::Duration::from_secs(30))
                    .build()
                    .expect("an HTTP client builds")
            })
            .clone();
        let full = if self.root.is_empty() {
            format!("/{path}")
        } else {
            format!("/{}/{path}", self.root)
        };
        Ok(super::DavWriter::start(
            client,
            format!(
                "{}{}",
                url.trim().trim_end_matches('/'),
                super::dav::encode_path(&full)
            ),
            username.clone(),
            Secret::new(self.secret()?),
        ))
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if c.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_sizes_fit_the_part_limit() {
        assert_eq!(part_size(0), MIN_PART);
        assert_eq!(part_size(1 << 30), MIN_PART);
        for size in [10u64 << 30, 100 << 30, 1 << 40, 5_000_000_000_000, 5 << 40] {
            let part = part_size(size) as u64;
            assert!(part.is_multiple_of(1 << 20));
            // 1.5 times the expected size still fits.
            assert!(
                (size * 3 / 2).div_ceil(part) <= 9_000,
                "{size}: {part} gives {} parts",
                (size * 3 / 2).div_ceil(part)
            );
            assert!(part <= MAX_PART);
        }
        assert!(part_size(5_000_000_000_000) < 1 << 30);
        assert_eq!(part_size(u64::MAX) as u64, MAX_PART);
    }

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foo"), "Zm9v");
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
    }
}
