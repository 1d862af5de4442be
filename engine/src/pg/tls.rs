//! TLS to PostgreSQL: libpq's `sslmode` rules applied to pgshelf's own
//! (sqlx) connections, the certificate files handed to `pg_dump`, and the
//! causes of failed handshakes.
//!
//! - [`attempts`]: the connection attempts libpq makes for an sslmode, as
//!   sqlx modes (pure).
//! - [`TlsFiles`]: the pasted PEMs written to a private directory for one
//!   run of a client tool, removed when dropped.
//! - [`check_cert_pem`], [`check_key_pem`]: what the settings accept.
//! - [`libpq_fix`]: the fix for a TLS failure that libpq reported on stderr.
//!
//! How each sslmode behaves (the same for sqlx and for libpq, except where
//! noted; DESIGN.md, Security, has the reasoning):
//!
//! | sslmode | pgshelf (sqlx) | pg_dump (libpq) |
//! |---|---|---|
//! | disable | plaintext | plaintext |
//! | allow | plaintext; if the server rejects it, TLS | same |
//! | prefer | TLS if the server offers it; plaintext if TLS fails or is rejected | same |
//! | require | TLS, certificate not checked; with a root certificate set, as verify-ca | same |
//! | verify-ca | TLS, chain checked against the root certificate (and, by sqlx 0.8.6, the host name too) | chain only |
//! | verify-full | TLS, chain and host name checked | same |
//!
//! With a root certificate set, every TLS attempt checks the chain (libpq
//! loads a root file whenever one exists). verify-ca and verify-full need a
//! root certificate: libpq would otherwise read `~/.postgresql/root.crt`,
//! sqlx would trust its built-in roots.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sqlx::postgres::PgSslMode;

use super::ConnSpec;
use crate::secrets::Secret;

/// Whether `sslmode` checks the server's certificate against a root certificate.
pub fn verifies(sslmode: &str) -> bool {
    matches!(sslmode, "verify-ca" | "verify-full")
}

/// One connection attempt of pgshelf's own (sqlx) connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// No TLS.
    Plain,
    /// TLS, the server's certificate not checked.
    Tls,
    /// TLS, the certificate chain checked against the root certificate.
    VerifyCa,
    /// TLS, chain and host name checked.
    VerifyFull,
}

impl Attempt {
    /// The sqlx mode of this attempt. `Tls` is sqlx's `Require`: a server
    /// that answers the SSL request with `N` fails it (`prefer` then retries
    /// in plaintext, as libpq does).
    pub fn sqlx_mode(self) -> PgSslMode {
        match self {
            Attempt::Plain => PgSslMode::Disable,
            Attempt::Tls => PgSslMode::Require,
            Attempt::VerifyCa => PgSslMode::VerifyCa,
            Attempt::VerifyFull => PgSslMode::VerifyFull,
        }
    }
}

/// The attempts to make, in order, for an sslmode (libpq's behaviour), and
/// whether a root certificate is set. Unknown modes are treated as `prefer`.
///
/// - `allow` tries plaintext first and TLS when the server rejects that;
/// - `prefer` tries TLS first and plaintext when TLS fails or is rejected;
/// - a TLS attempt with a root certificate checks the chain (`VerifyCa`),
///   as libpq does whenever a root certificate file is present.
pub fn attempts(sslmode: &str, has_root: bool) -> Vec<Attempt> {
    let tls = if has_root {
        Attempt::VerifyCa
    } else {
        Attempt::Tls
    };
    match sslmode {
        "disable" => vec![Attempt::Plain],
        "allow" => vec![Attempt::Plain, tls],
        "require" => vec![tls],
        "verify-ca" => vec![Attempt::VerifyCa],
        "verify-full" => vec![Attempt::VerifyFull],
        _ => vec![tls, Attempt::Plain],
    }
}

/// Whether a failed attempt should be followed by the next one (libpq
/// retries after the server rejected the startup, and after a failed TLS
/// negotiation in `prefer`; never after a network failure).
pub fn retry_after(attempt: Attempt, e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(_) => true,
        _ => attempt != Attempt::Plain && handshake_error(e).is_some(),
    }
}

/// What went wrong in a TLS negotiation, if `e` is such a failure.
#[derive(Debug, Clone, PartialEq)]
pub enum Handshake {
    /// The server answered the SSL request with `N`.
    Unsupported,
    /// A rustls error (certificate checks, alerts from the server).
    Rustls(rustls::Error),
    /// Anything else sqlx reported as a TLS failure.
    Other(String),
}

/// The TLS failure inside a sqlx error: rustls errors arrive wrapped in an
/// `io::Error` (from the handshake's I/O) or in `Error::Tls`.
pub fn handshake_error(e: &sqlx::Error) -> Option<Handshake> {
    match e {
        sqlx::Error::Io(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .map(|r| Handshake::Rustls(r.clone())),
        sqlx::Error::Tls(t) => {
            if let Some(r) = t.downcast_ref::<rustls::Error>() {
                return Some(Handshake::Rustls(r.clone()));
            }
            let msg = t.to_string();
            if msg.contains("server does not support TLS") {
                Some(Handshake::Unsupported)
            } else {
                Some(Handshake::Other(without_pem(&msg)))
            }
        }
        _ => None,
    }
}

/// A message with any PEM text cut out (sqlx quotes an unreadable root
/// certificate whole).
pub fn without_pem(msg: &str) -> String {
    match msg.find("-----BEGIN") {
        Some(i) => format!("{}(PEM text not shown)", &msg[..i]),
        None => msg.to_owned(),
    }
}

/// Checks pasted certificate PEM (a root bundle or a client certificate):
/// one or more `CERTIFICATE` blocks that parse, no private key.
pub fn check_cert_pem(pem: &str) -> Result<(), String> {
    let t = pem.trim();
    if !t.starts_with("-----BEGIN") {
        return Err("is not PEM text (it must start with -----BEGIN CERTIFICATE-----). Fix: paste the certificate file's contents, not its path".into());
    }
    if t.contains("PRIVATE KEY-----") {
        return Err("holds a private key. Fix: paste only the certificate; a client key goes in its own field".into());
    }
    let mut n = 0;
    for c in CertificateDer::pem_slice_iter(t.as_bytes()) {
        if c.is_err() {
            return Err("has a CERTIFICATE block that cannot be read (damaged when copied?). Fix: paste the file again, including the BEGIN and END lines".into());
        }
        n += 1;
    }
    if n == 0 {
        return Err("holds no -----BEGIN CERTIFICATE----- block. Fix: paste a PEM certificate (convert DER with `openssl x509 -inform der -in FILE`)".into());
    }
    Ok(())
}

/// Checks a pasted private key: one unencrypted PEM key that parses. Never
/// quotes the key.
pub fn check_key_pem(key: &Secret) -> Result<(), String> {
    let t = key.expose().trim();
    if !t.starts_with("-----BEGIN") {
        return Err("is not PEM text (it must start with -----BEGIN PRIVATE KEY-----). Fix: paste the key file's contents, not its path".into());
    }
    if t.contains("ENCRYPTED PRIVATE KEY") || t.contains("Proc-Type: 4,ENCRYPTED") {
        return Err("is encrypted with a passphrase. Fix: store it decrypted: `openssl pkey -in client.key -out plain.key`".into());
    }
    match PrivateKeyDer::from_pem_slice(t.as_bytes()) {
        Ok(_) => Ok(()),
        Err(_) => Err("holds no readable private key (PKCS#8, RSA or EC PEM). Fix: paste the key file that belongs to the client certificate".into()),
    }
}

/// Paths of the certificate files a libpq program reads; each absent
/// setting points at a file that does not exist in the private directory, so
/// libpq never falls back to `~/.postgresql/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPaths {
    pub root_cert: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub crl: PathBuf,
}

impl TlsPaths {
    /// The paths inside `dir`.
    pub fn in_dir(dir: &Path) -> TlsPaths {
        TlsPaths {
            root_cert: dir.join("root.crt"),
            client_cert: dir.join("client.crt"),
            client_key: dir.join("client.key"),
            crl: dir.join("none.crl"),
        }
    }
}

/// The certificate files of one run of a client tool: a private directory
/// (0700) holding the pasted root certificate, client certificate and key
/// (0600 each), removed with everything in it when dropped. A directory left
/// by a process that died is removed by [`sweep_stale`].
#[derive(Debug)]
pub struct TlsFiles {
    dir: Option<tempfile::TempDir>,
    paths: TlsPaths,
}

/// Name prefix of the run directories: `tls-<pid>-`.
const PREFIX: &str = "tls-";

impl TlsFiles {
    /// Writes `spec`'s certificates under `parent` for a client tool.
    /// `None` for `sslmode=disable`: nothing is read then.
    pub fn write(parent: &Path, spec: &ConnSpec) -> std::io::Result<Option<TlsFiles>> {
        if spec.sslmode == "disable" {
            return Ok(None);
        }
        fs::create_dir_all(parent)?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("{PREFIX}{}-", std::process::id()))
            .tempdir_in(parent)?;
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700))?;
        let paths = TlsPaths::in_dir(dir.path());
        if let Some(root) = &spec.ssl_root_cert {
            write_private(&paths.root_cert, root.as_bytes())?;
        }
        if let (Some(cert), Some(key)) = (&spec.ssl_client_cert, &spec.ssl_client_key) {
            write_private(&paths.client_cert, cert.as_bytes())?;
            write_private(&paths.client_key, key.expose().as_bytes())?;
        }
        Ok(Some(TlsFiles {
            dir: Some(dir),
            paths,
        }))
    }

    pub fn paths(&self) -> &TlsPaths {
        &self.paths
    }

    /// The private directory.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().map(|d| d.path()).unwrap_or(Path::new(""))
    }
}

impl Drop for TlsFiles {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            let path = dir.path().to_path_buf();
            if let Err(e) = dir.close() {
                tracing::warn!("cannot remove {}: {e}", path.display());
            }
        }
    }
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)?;
    if !data.ends_with(b"\n") {
        f.write_all(b"\n")?;
    }
    f.sync_all()
}

/// Removes the certificate directories under `parent` whose process is gone
/// (a crash or a kill skips [`TlsFiles`]' drop). Returns how many.
pub fn sweep_stale(parent: &Path) -> usize {
    sweep_dead(parent, PREFIX)
}

/// Removes every `<prefix><pid>-...` directory under `parent` whose process
/// is gone (a run cut off by a crash left it: TLS files, a restore's work
/// directory with a passfile and a decompressed dump); returns how many.
pub fn sweep_dead(parent: &Path, prefix: &str) -> usize {
    let Ok(entries) = fs::read_dir(parent) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(prefix)
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let alive = pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists();
        if !alive && fs::remove_dir_all(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// The fix for a TLS failure in a libpq program's stderr, if it is one.
pub fn libpq_fix(stderr: &str) -> Option<&'static str> {
    let s = stderr;
    if s.contains("certificate verify failed") {
        Some("the server's certificate is not signed by the root certificate set for this server (unknown CA). Fix: paste the CA certificate that issued the server's certificate (for Amazon RDS, the CA bundle of its region) into the server's root certificate")
    } else if s.contains("does not match host name") {
        Some("the server's certificate is not issued for the host name pgshelf connects to. Fix: set the host to a name the certificate lists")
    } else if s.contains("server does not support SSL") {
        Some("the server does not offer TLS, and this sslmode requires it. Fix: turn ssl on in the server's postgresql.conf, or set sslmode to prefer or disable if this network is trusted")
    } else if s.contains("no encryption") || s.contains("SSL off") {
        Some("the server accepts only TLS connections (pg_hba.conf has no entry without encryption). Fix: set sslmode to require, or verify-full with the server's root certificate")
    } else if s.contains("requires a valid client certificate") {
        Some("the server requires a client certificate. Fix: set the server's client certificate and key")
    } else if s.contains("certificate authentication failed") {
        Some("the client certificate does not name this user. Fix: use a certificate whose CN is the user name, or map it in the server's pg_ident.conf")
    } else if s.contains("alert unknown ca")
        || s.contains("alert bad certificate")
        || s.contains("alert certificate required")
    {
        Some("the server rejected pgshelf's client certificate. Fix: use a client certificate signed by a CA in the server's ssl_ca_file")
    } else if s.contains("SSL error") || s.contains("SSL SYSCALL") {
        Some("the TLS negotiation failed. Fix: check the server's sslmode and certificate settings against the server's TLS configuration")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBhTCCASugAwIBAgIUZ8l0Ww2zCQ2Q0S7E7Q1y3F8pJ7QwCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNcGdzaGVsZi10ZXN0MB4XDTI2MDEwMTAwMDAwMFoXDTM2MDEw
MTAwMDAwMFowGDEWMBQGA1UEAwwNcGdzaGVsZi10ZXN0MFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAE0Q==
-----END CERTIFICATE-----
";

    #[test]
    fn attempts_follow_libpq() {
        use Attempt::*;
        assert_eq!(attempts("disable", true), [Plain]);
        assert_eq!(attempts("allow", false), [Plain, Tls]);
        assert_eq!(attempts("allow", true), [Plain, VerifyCa]);
        assert_eq!(attempts("prefer", false), [Tls, Plain]);
        assert_eq!(attempts("prefer", true), [VerifyCa, Plain]);
        assert_eq!(attempts("", false), [Tls, Plain]);
        assert_eq!(attempts("require", false), [Tls]);
        // libpq: require with a root certificate behaves like verify-ca.
        assert_eq!(attempts("require", true), [VerifyCa]);
        assert_eq!(attempts("verify-ca", true), [VerifyCa]);
        assert_eq!(attempts("verify-full", true), [VerifyFull]);
    }

    #[test]
    fn retries_only_after_rejection_or_tls_failure() {
        let unreachable = sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "refused",
        ));
        assert!(!retry_after(Attempt::Tls, &unreachable));
        assert!(!retry_after(Attempt::Plain, &unreachable));
        let unknown_ca = sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        ));
        assert!(retry_after(Attempt::VerifyCa, &unknown_ca));
        assert_eq!(
            handshake_error(&unknown_ca),
            Some(Handshake::Rustls(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer
            )))
        );
        let no_tls = sqlx::Error::Tls("server does not support TLS".into());
        assert_eq!(handshake_error(&no_tls), Some(Handshake::Unsupported));
        assert!(retry_after(Attempt::Tls, &no_tls));
        assert!(!retry_after(Attempt::Plain, &no_tls));
        assert_eq!(handshake_error(&unreachable), None);
    }

    #[test]
    fn pem_is_checked_and_never_quoted() {
        assert!(check_cert_pem("/etc/ssl/rds.pem")
            .unwrap_err()
            .contains("not PEM"));
        assert!(
            check_cert_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .unwrap_err()
                .contains("private key")
        );
        assert!(
            check_cert_pem("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----")
                .unwrap_err()
                .contains("cannot be read")
        );
        assert!(
            check_cert_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")
                .unwrap_err()
                .contains("no -----BEGIN CERTIFICATE")
        );
        check_cert_pem(CERT).unwrap();
        check_cert_pem(&format!("\n{CERT}{CERT}")).unwrap();

        let secret =
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n";
        let enc = Secret::new(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----",
        );
        assert!(check_key_pem(&enc).unwrap_err().contains("passphrase"));
        assert!(check_key_pem(&Secret::new("key.pem"))
            .unwrap_err()
            .contains("not PEM"));
        check_key_pem(&Secret::new(secret)).unwrap();
        let garbage =
            Secret::new("-----BEGIN CERTIFICATE-----\nc2VjcmV0\n-----END CERTIFICATE-----");
        let e = check_key_pem(&garbage).unwrap_err();
        assert!(!e.contains("c2VjcmV0"), "{e}");
    }

    #[test]
    fn pem_is_cut_from_messages() {
        assert_eq!(
            without_pem("Invalid certificate -----BEGIN CERTIFICATE-----\nAAA"),
            "Invalid certificate (PEM text not shown)"
        );
        assert_eq!(without_pem("plain"), "plain");
    }

    fn spec(sslmode: &str) -> ConnSpec {
        ConnSpec {
            host: "h".into(),
            port: 5432,
            user: "u".into(),
            password: None,
            sslmode: sslmode.into(),
            ssl_root_cert: Some(CERT.into()),
            ssl_client_cert: Some(CERT.into()),
            ssl_client_key: Some(Secret::new(
                "-----BEGIN PRIVATE KEY-----\nk\n-----END PRIVATE KEY-----",
            )),
        }
    }

    #[test]
    fn files_are_private_and_removed() {
        let parent = tempfile::tempdir().unwrap();
        assert!(TlsFiles::write(parent.path(), &spec("disable"))
            .unwrap()
            .is_none());
        let files = TlsFiles::write(parent.path(), &spec("verify-full"))
            .unwrap()
            .unwrap();
        let dir = files.dir().to_path_buf();
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let p = files.paths().clone();
        for f in [&p.root_cert, &p.client_cert, &p.client_key] {
            assert_eq!(
                fs::metadata(f).unwrap().permissions().mode() & 0o777,
                0o600,
                "{}",
                f.display()
            );
        }
        assert!(!p.crl.exists());
        assert_eq!(fs::read_to_string(&p.root_cert).unwrap(), CERT);
        drop(files);
        assert!(!dir.exists());

        // Only the root certificate: the client files do not exist.
        let mut s = spec("require");
        s.ssl_client_cert = None;
        s.ssl_client_key = None;
        let files = TlsFiles::write(parent.path(), &s).unwrap().unwrap();
        assert!(files.paths().root_cert.exists());
        assert!(!files.paths().client_cert.exists());
        assert!(!files.paths().client_key.exists());
    }

    #[test]
    fn sweeps_directories_of_dead_processes() {
        let parent = tempfile::tempdir().unwrap();
        let dead = parent.path().join("tls-999999999-abc");
        fs::create_dir(&dead).unwrap();
        fs::write(dead.join("client.key"), "k").unwrap();
        let other = parent.path().join("keep-me");
        fs::create_dir(&other).unwrap();
        let live = TlsFiles::write(parent.path(), &spec("require"))
            .unwrap()
            .unwrap();
        assert_eq!(sweep_stale(parent.path()), 1);
        assert!(!dead.exists());
        assert!(other.exists());
        assert!(live.dir().exists());
    }

    #[test]
    fn libpq_failures_get_a_fix() {
        let f = |s: &str| libpq_fix(s).unwrap_or("");
        assert!(f("pg_dump: error: connection to server at \"127.0.0.1\", port 5432 failed: SSL error: certificate verify failed").contains("unknown CA"));
        assert!(f(
            "failed: server certificate for \"localhost\" does not match host name \"127.0.0.1\""
        )
        .contains("host name"));
        assert!(
            f("failed: server does not support SSL, but SSL was required")
                .contains("does not offer TLS")
        );
        assert!(f("FATAL:  no pg_hba.conf entry for host \"127.0.0.1\", user \"postgres\", database \"postgres\", no encryption").contains("sslmode to require"));
        assert!(f("FATAL:  connection requires a valid client certificate")
            .contains("client certificate and key"));
        assert_eq!(libpq_fix("ERROR:  permission denied for table t"), None);
    }
}
