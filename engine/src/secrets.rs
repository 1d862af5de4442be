//! Stored credentials, encrypted with the instance key.
//!
//! The instance key is 32 random bytes in `data/instance.key`, created with
//! mode 0600 on first start. Passwords are sealed with XChaCha20-Poly1305 and
//! stored as `v1:<hex nonce><hex ciphertext>`. [`Secret`] wraps a plaintext
//! in memory so that `Debug` and `Display` never print it.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

/// What can go wrong with the instance key or a sealed value.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("cannot read or create the instance key at {path}: {source}. Fix: make the data directory writable by the user running pgshelf")]
    KeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the instance key at {path} is {len} bytes, expected 32. Fix: restore the original key file; without it stored passwords cannot be read and must be entered again")]
    KeyLength { path: PathBuf, len: usize },
    #[error("a stored password cannot be decrypted with this instance key (was data/instance.key replaced?). Fix: enter the password again on the server's page")]
    Undecryptable,
}

impl SecretsError {
    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        500
    }
}

/// A secret in memory. Never printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The plaintext, for handing to a connection or a child's environment.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(\"[redacted]\")")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The instance key that seals stored credentials.
#[derive(Clone)]
pub struct InstanceKey {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for InstanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InstanceKey([redacted])")
    }
}

impl InstanceKey {
    /// Loads the key at `path`, creating it (mode 0600) if it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, SecretsError> {
        let err = |source| SecretsError::KeyFile {
            path: path.to_owned(),
            source,
        };
        match std::fs::read(path) {
            Ok(bytes) => {
                if bytes.len() != 32 {
                    return Err(SecretsError::KeyLength {
                        path: path.to_owned(),
                        len: bytes.len(),
                    });
                }
                Ok(Self::from_bytes(&bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(err)?;
                }
                // Never a half-written key: written whole (0600) under a
                // private name, fsynced, then linked to its name — which
                // fails if another process created the key meanwhile, and
                // then that key is used.
                let key = XChaCha20Poly1305::generate_key(&mut OsRng);
                let tmp = path.with_extension(format!("tmp-{}", random_id()));
                let written = (|| {
                    let mut opts = std::fs::OpenOptions::new();
                    opts.write(true).create_new(true);
                    #[cfg(unix)]
                    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
                    let mut f = opts.open(&tmp)?;
                    f.write_all(key.as_slice())?;
                    f.sync_all()?;
                    std::fs::hard_link(&tmp, path)
                })();
                let _ = std::fs::remove_file(&tmp);
                match written {
                    Ok(()) => {
                        if let Some(dir) = path.parent() {
                            std::fs::File::open(dir)
                                .and_then(|d| d.sync_all())
                                .map_err(err)?;
                        }
                        Ok(Self::from_bytes(key.as_slice()))
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::load_or_create(path)
                    }
                    Err(e) => Err(err(e)),
                }
            }
            Err(e) => Err(err(e)),
        }
    }

    fn from_bytes(bytes: &[u8]) -> Self {
        InstanceKey {
            cipher: XChaCha20Poly1305::new_from_slice(bytes).expect("32-byte key"),
        }
    }

    /// Seals a secret for storage.
    pub fn seal(&self, secret: &Secret) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ct = self
            .cipher
            .encrypt(&nonce, secret.expose().as_bytes())
            .expect("encryption of an in-memory buffer cannot fail");
        format!("v1:{}{}", hex::encode(nonce), hex::encode(ct))
    }

    /// Opens a value made by [`InstanceKey::seal`].
    pub fn open(&self, sealed: &str) -> Result<Secret, SecretsError> {
        let body = sealed
            .strip_prefix("v1:")
            .ok_or(SecretsError::Undecryptable)?;
        let raw = hex::decode(body).map_err(|_| SecretsError::Undecryptable)?;
        if raw.len() < 24 {
            return Err(SecretsError::Undecryptable);
        }
        let (nonce, ct) = raw.split_at(24);
        let pt = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), ct)
            .map_err(|_| SecretsError::Undecryptable)?;
        String::from_utf8(pt)
            .map(Secret)
            .map_err(|_| SecretsError::Undecryptable)
    }
}

/// 128 random bits as hex, from the operating system's generator (ids of
/// pgshelf processes, private file names).
pub fn random_id() -> String {
    use chacha20poly1305::aead::rand_core::RngCore;
    let mut b = [0u8; 16];
    OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_creation_agrees_on_one_whole_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("instance.key");
        let keys: Vec<InstanceKey> = (0..8)
            .map(|_| {
                let p = path.clone();
                std::thread::spawn(move || InstanceKey::load_or_create(&p).unwrap())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        let sealed = keys[0].seal(&Secret::new("x"));
        for k in &keys {
            assert_eq!(k.open(&sealed).unwrap().expose(), "x");
        }
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "no temporary files left");
        assert_eq!(std::fs::read(&path).unwrap().len(), 32);
    }

    #[test]
    fn key_is_created_0600_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/instance.key");
        let key = InstanceKey::load_or_create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let sealed = key.seal(&Secret::new("hunter2"));
        assert!(!sealed.contains("hunter2"));
        let again = InstanceKey::load_or_create(&path).unwrap();
        assert_eq!(again.open(&sealed).unwrap().expose(), "hunter2");
    }

    #[test]
    fn another_key_cannot_open() {
        let dir = tempfile::tempdir().unwrap();
        let a = InstanceKey::load_or_create(&dir.path().join("a")).unwrap();
        let b = InstanceKey::load_or_create(&dir.path().join("b")).unwrap();
        let sealed = a.seal(&Secret::new("x"));
        assert!(matches!(b.open(&sealed), Err(SecretsError::Undecryptable)));
        assert!(matches!(
            a.open("garbage"),
            Err(SecretsError::Undecryptable)
        ));
    }

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("topsecret");
        assert!(!format!("{s:?} {s}").contains("topsecret"));
    }

    #[test]
    fn short_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, b"short").unwrap();
        assert!(matches!(
            InstanceKey::load_or_create(&path),
            Err(SecretsError::KeyLength { len: 5, .. })
        ));
    }
}
