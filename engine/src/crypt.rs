//! age encryption of stored artifacts (X25519 recipients only).
//!
//! A policy with recipients has every stored file compressed, then
//! encrypted with [`Encryptor`] (a streaming `Write`: one 64 KiB age chunk
//! in memory whatever the file size). pgshelf stores no private key: a
//! restore, test-restore or download decrypts with an [`Identity`] the user
//! gives for that operation, through [`Decryptor`] (a streaming `Read`).
//! The format is age v1, so the stock `age -d -i key.txt` reads what
//! pgshelf wrote, and pgshelf reads what `age -r age1...` wrote.
//!
//! No secret ever appears in an error, a log line or a `Debug` output:
//! identity text is never echoed, and a recipient entry that holds a secret
//! key is named by its position only.

use std::fmt;
use std::io::{Read, Write};
use std::str::FromStr;

use age::secrecy::ExposeSecret;

/// The method recorded in a manifest for age-encrypted artifacts.
pub const METHOD: &str = "age";
/// The suffix of an encrypted stored file (`dump.zst.age`).
pub const SUFFIX: &str = ".age";

/// Why encrypting or decrypting cannot go on. Messages never hold a secret.
#[derive(Debug, thiserror::Error)]
pub enum CryptError {
    #[error("encryption recipient {position} {shown} is not an age X25519 public key. Fix: paste the line that starts with age1 (`age-keygen -y key.txt` prints it); never the AGE-SECRET-KEY line")]
    BadRecipient { position: usize, shown: String },
    #[error("encryption recipient {position} is a secret key (AGE-SECRET-KEY-1...), which must never be given to pgshelf as a recipient. Fix: paste the public key instead, the line that starts with age1 (`age-keygen -y key.txt` prints it), and keep the secret key offline")]
    SecretAsRecipient { position: usize },
    #[error("encryption needs at least one recipient. Fix: paste one or more age1... public keys")]
    NoRecipients,
    #[error("the age identity is not usable: line {line} is not an X25519 secret key ({why}). Fix: give the key file as age-keygen wrote it (comment lines and AGE-SECRET-KEY-1... lines); passphrase-protected and plugin identities are not supported")]
    BadIdentity { line: usize, why: &'static str },
    #[error("the age identity holds no secret key. Fix: give the key file as age-keygen wrote it (it has a line that starts with AGE-SECRET-KEY-1)")]
    EmptyIdentity,
    #[error("this backup is encrypted to other keys (recipients: {}); the identity given matches none of them. Fix: give the identity (key file) of one of these recipients; `age-keygen -y key.txt` prints a key file's recipient", .recipients.join(", "))]
    WrongIdentity { recipients: Vec<String> },
    #[error("this backup is encrypted (age, recipients {}). Fix: give the identity (file or paste) of one of these recipients; for scheduled test-restores, store it sealed in pgshelf (opt-in: `pgshelf identity store --identity key.txt --i-understand-the-risk`)", .recipients.join(", "))]
    IdentityNeeded { recipients: Vec<String> },
    #[error("the stored file {path} is not a readable age file: {detail}. Fix: check the destination's health; if the file was replaced, take a new backup")]
    Unreadable { path: String, detail: String },
    #[error("cannot read the identity file {path}: {detail}. Fix: give the path of the key file age-keygen wrote, readable by pgshelf")]
    IdentityFile { path: String, detail: String },
    #[error("encrypting failed: {0}. Fix: check the recipients and the host's memory, then run the backup again")]
    Encrypt(String),
}

impl CryptError {
    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            CryptError::Unreadable { .. } | CryptError::Encrypt(_) => 500,
            CryptError::WrongIdentity { .. } => 403,
            _ => 400,
        }
    }
}

/// The X25519 recipients a policy encrypts to (public keys, not secret).
#[derive(Clone)]
pub struct Recipients {
    keys: Vec<age::x25519::Recipient>,
}

impl fmt::Debug for Recipients {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.to_strings()).finish()
    }
}

impl Recipients {
    /// Parses `age1...` public keys (whitespace around each is ignored).
    /// An entry that is not one is named by its position (1-based) and its
    /// first characters, unless it is a secret key: then by position only.
    pub fn parse(list: &[String]) -> Result<Recipients, CryptError> {
        let mut keys = Vec::with_capacity(list.len());
        for (i, entry) in list.iter().enumerate() {
            let s = entry.trim();
            if s.to_ascii_uppercase().starts_with("AGE-SECRET-KEY-") {
                return Err(CryptError::SecretAsRecipient { position: i + 1 });
            }
            match age::x25519::Recipient::from_str(s) {
                Ok(k) => keys.push(k),
                Err(_) => {
                    let head: String = s.chars().take(12).collect();
                    let shown = if s.chars().count() > 12 {
                        format!("({head:?}...)")
                    } else {
                        format!("({head:?})")
                    };
                    return Err(CryptError::BadRecipient {
                        position: i + 1,
                        shown,
                    });
                }
            }
        }
        if keys.is_empty() {
            return Err(CryptError::NoRecipients);
        }
        Ok(Recipients { keys })
    }

    /// The recipients as `age1...` strings, for the manifest.
    pub fn to_strings(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.to_string()).collect()
    }
}

/// One or more X25519 secret keys, as an identity file holds them. Never
/// printed: `Debug` shows only the matching recipients.
#[derive(Clone)]
pub struct Identity {
    keys: Vec<age::x25519::Identity>,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Identity(<redacted>, for {})",
            self.recipients().join(", ")
        )
    }
}

impl Identity {
    /// Parses an identity file as `age-keygen` writes it: `#` comments,
    /// blank lines and `AGE-SECRET-KEY-1...` lines. Errors name the line
    /// number only, never its text.
    pub fn parse(text: &str) -> Result<Identity, CryptError> {
        let mut keys = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line.starts_with("AGE-PLUGIN-") {
                return Err(CryptError::BadIdentity {
                    line: i + 1,
                    why: "a plugin identity",
                });
            }
            if line.starts_with("age1") {
                return Err(CryptError::BadIdentity {
                    line: i + 1,
                    why: "a public key (age1...), not the secret key",
                });
            }
            match age::x25519::Identity::from_str(line) {
                Ok(k) => keys.push(k),
                Err(_) => {
                    return Err(CryptError::BadIdentity {
                        line: i + 1,
                        why: "not an AGE-SECRET-KEY-1 line",
                    })
                }
            }
        }
        if keys.is_empty() {
            return Err(CryptError::EmptyIdentity);
        }
        Ok(Identity { keys })
    }

    /// Reads and parses an identity file (`--identity FILE`).
    pub fn read_file(path: &std::path::Path) -> Result<Identity, CryptError> {
        let text = std::fs::read_to_string(path).map_err(|e| CryptError::IdentityFile {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        Identity::parse(&text)
    }

    /// A fresh identity (tests, and users without `age-keygen`).
    pub fn generate() -> Identity {
        Identity {
            keys: vec![age::x25519::Identity::generate()],
        }
    }

    /// The `age1...` recipients this identity decrypts for.
    pub fn recipients(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| k.to_public().to_string())
            .collect()
    }

    /// The identity file text (`AGE-SECRET-KEY-1...` lines): a secret, to
    /// be sealed or written to a private file only.
    pub fn to_file_text(&self) -> String {
        let mut s = String::new();
        for k in &self.keys {
            s.push_str(&format!("# public key: {}\n", k.to_public()));
            s.push_str(k.to_string().expose_secret());
            s.push('\n');
        }
        s
    }
}

/// A streaming encrypting `Write`: what is written goes to the inner
/// writer as age v1, one 64 KiB chunk at a time. Call [`Encryptor::finish`]
/// to write the last chunk and get the inner writer back; dropping it
/// without `finish` leaves a truncated file that age refuses to decrypt.
pub struct Encryptor<W: Write> {
    inner: age::stream::StreamWriter<W>,
}

impl<W: Write> Encryptor<W> {
    /// Starts an age file to `recipients` on `out` (the header is written now).
    pub fn new(out: W, recipients: &Recipients) -> Result<Encryptor<W>, CryptError> {
        let enc = age::Encryptor::with_recipients(
            recipients.keys.iter().map(|k| k as &dyn age::Recipient),
        )
        .map_err(|e| CryptError::Encrypt(e.to_string()))?;
        let inner = enc
            .wrap_output(out)
            .map_err(|e| CryptError::Encrypt(e.to_string()))?;
        Ok(Encryptor { inner })
    }

    /// Writes the final chunk and returns the inner writer.
    pub fn finish(self) -> std::io::Result<W> {
        self.inner.finish()
    }
}

impl<W: Write> Write for Encryptor<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A streaming decrypting `Read` over an age file.
pub struct Decryptor<R: Read> {
    inner: age::stream::StreamReader<R>,
}

impl<R: Read> Decryptor<R> {
    /// Reads the age header from `input` and unlocks it with `identity`.
    /// `recipients` (from the manifest) name the keys in the wrong-identity
    /// message; `path` names the file when it is not an age file at all.
    pub fn new(
        input: R,
        identity: &Identity,
        recipients: &[String],
        path: &str,
    ) -> Result<Decryptor<R>, CryptError> {
        let d = age::Decryptor::new(input).map_err(|e| CryptError::Unreadable {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
        let inner = d
            .decrypt(identity.keys.iter().map(|k| k as &dyn age::Identity))
            .map_err(|e| match e {
                age::DecryptError::NoMatchingKeys => CryptError::WrongIdentity {
                    recipients: recipients.to_vec(),
                },
                other => CryptError::Unreadable {
                    path: path.to_owned(),
                    detail: other.to_string(),
                },
            })?;
        Ok(Decryptor { inner })
    }
}

impl<R: Read> Read for Decryptor<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

impl Identity {
    /// One identity holding the keys of all of `parts`.
    pub fn merge(parts: impl IntoIterator<Item = Identity>) -> Option<Identity> {
        let keys: Vec<_> = parts.into_iter().flat_map(|p| p.keys).collect();
        (!keys.is_empty()).then_some(Identity { keys })
    }

    /// Each key on its own, with the recipient it opens.
    fn split(&self) -> Vec<(String, Identity)> {
        self.keys
            .iter()
            .map(|k| {
                (
                    k.to_public().to_string(),
                    Identity {
                        keys: vec![k.clone()],
                    },
                )
            })
            .collect()
    }
}

/// The stored identities (sealed with the instance key) for any of
/// `recipients`, merged; `None` when none is stored. A stored key that no
/// longer opens (the instance key changed) is skipped with a warning.
pub(crate) async fn stored_identity(
    catalog: &crate::catalog::Catalog,
    key: &crate::secrets::InstanceKey,
    recipients: &[String],
) -> Result<Option<Identity>, crate::catalog::CatalogError> {
    if recipients.is_empty() {
        return Ok(None);
    }
    let mut parts = Vec::new();
    for sealed in catalog.sealed_age_identities(recipients).await? {
        match key.open(&sealed).map(|s| Identity::parse(s.expose())) {
            Ok(Ok(id)) => parts.push(id),
            _ => tracing::warn!(
                "a stored age identity cannot be opened with this instance key; store it again"
            ),
        }
    }
    Ok(Identity::merge(parts))
}

impl crate::Engine {
    /// Stores an identity sealed with the instance key, for scheduled
    /// test-restores and verification of encrypted backups (opt-in: the
    /// private key then lives on the pgshelf host, so whoever takes the
    /// host and its instance key can read the backups). One row per key,
    /// by the recipient it opens. Returns those recipients.
    pub async fn store_identity(
        &self,
        identity: &Identity,
        who: &str,
    ) -> Result<Vec<String>, crate::Error> {
        let mut stored = Vec::new();
        for (recipient, one) in identity.split() {
            let sealed = self
                .inner
                .key
                .seal(&crate::secrets::Secret::new(one.to_file_text()));
            self.inner
                .catalog
                .put_age_identity(&recipient, &sealed, who)
                .await?;
            stored.push(recipient);
        }
        Ok(stored)
    }

    /// The stored identities: recipients only, never a secret.
    pub async fn stored_identities(
        &self,
    ) -> Result<Vec<crate::catalog::StoredIdentity>, crate::Error> {
        Ok(self.inner.catalog.stored_age_identities().await?)
    }

    /// Stores the identity pasted as `text` (an `age-keygen` key file),
    /// sealed: see [`model::destination::STORED_IDENTITY_RISK`].
    pub async fn store_identity_text(
        &self,
        text: &str,
        who: &str,
    ) -> Result<Vec<String>, crate::Error> {
        let identity = Identity::parse(text)?;
        self.store_identity(&identity, who).await
    }

    /// Forgets the stored identity of `recipient`; whether one was stored.
    pub async fn forget_identity(&self, recipient: &str) -> Result<bool, crate::Error> {
        Ok(self
            .inner
            .catalog
            .delete_age_identity(recipient.trim())
            .await?)
    }

    /// The stored identity for a backup's recipients, if one was stored.
    pub(crate) async fn stored_identity_for(
        &self,
        recipients: &[String],
    ) -> Result<Option<Identity>, crate::Error> {
        Ok(stored_identity(&self.inner.catalog, &self.inner.key, recipients).await?)
    }
}

/// `IdentityNeeded` when `recipients` is non-empty and no identity is given.
pub fn require<'a>(
    identity: Option<&'a Identity>,
    recipients: &[String],
) -> Result<Option<&'a Identity>, CryptError> {
    match (identity, recipients.is_empty()) {
        (None, false) => Err(CryptError::IdentityNeeded {
            recipients: recipients.to_vec(),
        }),
        (id, _) => Ok(id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn data() -> Vec<u8> {
        (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect()
    }

    fn encrypt(plain: &[u8], r: &Recipients) -> Vec<u8> {
        let mut e = Encryptor::new(Vec::new(), r).unwrap();
        // Small writes: the encryptor buffers one age chunk at most.
        for c in plain.chunks(7_000) {
            e.write_all(c).unwrap();
        }
        e.finish().unwrap()
    }

    fn decrypt(stored: &[u8], id: &Identity, r: &[String]) -> Result<Vec<u8>, CryptError> {
        let mut d = Decryptor::new(stored, id, r, "dump.zst.age")?;
        let mut out = Vec::new();
        d.read_to_end(&mut out).unwrap();
        Ok(out)
    }

    #[test]
    fn round_trip_to_two_recipients() {
        let (a, b) = (Identity::generate(), Identity::generate());
        let list = [a.recipients(), b.recipients()].concat();
        let r = Recipients::parse(&list).unwrap();
        assert_eq!(r.to_strings(), list);
        let plain = data();
        let stored = encrypt(&plain, &r);
        assert_ne!(&stored[..plain.len().min(stored.len())], &plain[..]);
        assert_eq!(decrypt(&stored, &a, &list).unwrap(), plain);
        assert_eq!(decrypt(&stored, &b, &list).unwrap(), plain);
        // The identity file round-trips through its text.
        let again = Identity::parse(&a.to_file_text()).unwrap();
        assert_eq!(decrypt(&stored, &again, &list).unwrap(), plain);
    }

    #[test]
    fn wrong_identity_names_the_recipients_and_no_secret() {
        let (a, other) = (Identity::generate(), Identity::generate());
        let list = a.recipients();
        let stored = encrypt(b"secret rows", &Recipients::parse(&list).unwrap());
        let e = decrypt(&stored, &other, &list).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, CryptError::WrongIdentity { .. }), "{msg}");
        assert!(msg.contains(&list[0]) && msg.contains("Fix:"), "{msg}");
        assert!(!msg.contains("AGE-SECRET-KEY"), "{msg}");
        assert!(!format!("{other:?}").contains("AGE-SECRET-KEY"));
        // Not an age file at all.
        let e = decrypt(b"(zstd bytes)", &a, &list).unwrap_err();
        assert!(matches!(e, CryptError::Unreadable { .. }), "{e}");
        // A missing identity.
        let e = require(None, &list).unwrap_err();
        assert!(e.to_string().contains("give the identity (file or paste)"));
        assert!(require(None, &[]).unwrap().is_none());
    }

    #[test]
    fn bad_recipients_and_identities_are_named_not_echoed() {
        let id = Identity::generate();
        let secret = id.to_file_text();
        let secret_line = secret.lines().nth(1).unwrap().to_owned();
        let e = Recipients::parse(&[id.recipients()[0].clone(), secret_line.clone()]).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("recipient 2") && msg.contains("age1"), "{msg}");
        assert!(!msg.contains(&secret_line[15..]), "{msg}");
        let e = Recipients::parse(&["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA".into()]).unwrap_err();
        assert!(
            e.to_string()
                .contains("paste the line that starts with age1"),
            "{e}"
        );
        assert!(matches!(
            Recipients::parse(&[]),
            Err(CryptError::NoRecipients)
        ));
        // An identity file with a damaged key: the line number, not the text.
        let broken = format!(
            "# created: now\n{}x\n",
            &secret_line[..secret_line.len() - 1]
        );
        let e = Identity::parse(&broken).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("line 2"), "{msg}");
        assert!(!msg.contains(&secret_line[15..40]), "{msg}");
        assert!(matches!(
            Identity::parse("# only comments\n"),
            Err(CryptError::EmptyIdentity)
        ));
        let e = Identity::parse(&id.recipients()[0]).unwrap_err();
        assert!(e.to_string().contains("public key"), "{e}");
    }

    #[test]
    fn stored_bytes_are_not_zstd() {
        let id = Identity::generate();
        let r = Recipients::parse(&id.recipients()).unwrap();
        let plain = data();
        let z = zstd::encode_all(&plain[..], 3).unwrap();
        let stored = encrypt(&z, &r);
        assert!(zstd::decode_all(&stored[..]).is_err());
        let back = decrypt(&stored, &id, &id.recipients()).unwrap();
        assert_eq!(zstd::decode_all(&back[..]).unwrap(), plain);
    }

    #[test]
    fn interop_with_the_age_cli() {
        if Command::new("age").arg("--version").output().is_err() {
            panic!("the age CLI is missing. Fix: run scripts/setup --test (Debian package age)");
        }
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.txt");
        let out = Command::new("age-keygen")
            .arg("-o")
            .arg(&key)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let id = Identity::parse(&std::fs::read_to_string(&key).unwrap()).unwrap();
        let recipients = id.recipients();
        let plain = data();

        // pgshelf encrypts, age decrypts.
        let stored = encrypt(&plain, &Recipients::parse(&recipients).unwrap());
        let enc = dir.path().join("a.age");
        let dec = dir.path().join("a.out");
        std::fs::write(&enc, &stored).unwrap();
        let out = Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(&key)
            .arg("-o")
            .arg(&dec)
            .arg(&enc)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(std::fs::read(&dec).unwrap(), plain);

        // age encrypts, pgshelf decrypts.
        let src = dir.path().join("b.in");
        let enc = dir.path().join("b.age");
        std::fs::write(&src, &plain).unwrap();
        let out = Command::new("age")
            .arg("-r")
            .arg(&recipients[0])
            .arg("-o")
            .arg(&enc)
            .arg(&src)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let stored = std::fs::read(&enc).unwrap();
        assert_eq!(decrypt(&stored, &id, &recipients).unwrap(), plain);
    }
}
