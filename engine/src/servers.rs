//! Server settings as users enter them: validation and `postgres://` URLs.
//! Pure functions; the catalog stores the result with the password sealed.

use crate::catalog::ServerRow;
use crate::pg::conn::SSLMODES;
use crate::pg::tls;
use crate::secrets::Secret;

/// Bad settings, each naming the field and the fix.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{field}: {message}")]
pub struct InvalidInput {
    pub field: &'static str,
    pub message: String,
}

impl InvalidInput {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        InvalidInput {
            field,
            message: message.into(),
        }
    }
    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        422
    }

    /// Several problems as one error: the first one's field, its message
    /// going on with one `field: message` line per further problem, so the
    /// text is one `field: message` line each and a form shows every line
    /// beside its field. `None` when there are none.
    pub fn combine(errors: Vec<InvalidInput>) -> Option<InvalidInput> {
        let mut it = errors.into_iter();
        let mut first = it.next()?;
        for e in it {
            first.message.push('\n');
            first.message.push_str(&e.to_string());
        }
        Some(first)
    }
}

/// A server as the user describes it.
#[derive(Debug, Clone, Default)]
pub struct ServerInput {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    /// `None` on update keeps the stored password; `Some("")` clears it.
    pub password: Option<Secret>,
    pub sslmode: String,
    pub maintenance_db: String,
    /// PEM of the CA certificate(s) that issued the server's certificate
    /// (e.g. the Amazon RDS bundle). `None` on update keeps the stored one;
    /// `Some("")` clears it.
    pub ssl_root_cert: Option<String>,
    /// PEM of a client certificate, for servers that ask for one. Same rule.
    pub ssl_client_cert: Option<String>,
    /// PEM of the client certificate's private key: sealed when stored, never
    /// shown again. Same rule.
    pub ssl_client_key: Option<Secret>,
}

impl ServerInput {
    /// Trims fields, fills defaults, and checks every field; every problem
    /// is reported at once (see [`InvalidInput::combine`]).
    pub fn validated(mut self) -> Result<ServerInput, InvalidInput> {
        self.name = self.name.trim().to_owned();
        self.host = self.host.trim().to_owned();
        self.user = self.user.trim().to_owned();
        self.sslmode = self.sslmode.trim().to_owned();
        self.maintenance_db = self.maintenance_db.trim().to_owned();
        let mut errs = Vec::new();
        if self.name.is_empty() {
            errs.push(InvalidInput::new(
                "name",
                "is empty. Fix: give the server a short name such as prod-main",
            ));
        } else if self.name.len() > 64
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            errs.push(InvalidInput::new(
                "name",
                format!("{:?} may hold only letters, digits, '-', '_' and '.', up to 64 characters. Fix: rename it, e.g. prod-main", self.name),
            ));
        }
        if self.host.is_empty() {
            errs.push(InvalidInput::new(
                "host",
                "is empty. Fix: enter a host name or IP address",
            ));
        } else if self.host.chars().any(|c| c.is_whitespace() || c == '/') {
            errs.push(InvalidInput::new(
                "host",
                format!("{:?} is not a host name or address. Fix: enter a name such as db.example.com or an address such as 10.0.0.5, without a scheme or path", self.host),
            ));
        }
        if self.port == 0 {
            self.port = 5432;
        }
        if self.user.is_empty() {
            errs.push(InvalidInput::new(
                "user",
                "is empty. Fix: enter the role pgshelf connects as",
            ));
        }
        if self.sslmode.is_empty() {
            self.sslmode = "prefer".into();
        }
        if !SSLMODES.contains(&self.sslmode.as_str()) {
            errs.push(InvalidInput::new(
                "sslmode",
                format!(
                    "{:?} is not one of {}. Fix: choose one of them (prefer when unsure)",
                    self.sslmode,
                    SSLMODES.join(", ")
                ),
            ));
        }
        if self.maintenance_db.is_empty() {
            self.maintenance_db = "postgres".into();
        }
        for (field, pem) in [
            ("ssl_root_cert", &mut self.ssl_root_cert),
            ("ssl_client_cert", &mut self.ssl_client_cert),
        ] {
            if let Some(p) = pem {
                *p = normalize_pem(p);
                if !p.is_empty() {
                    if let Err(m) = tls::check_cert_pem(p) {
                        errs.push(InvalidInput::new(field, m));
                    }
                }
            }
        }
        if let Some(k) = &mut self.ssl_client_key {
            *k = Secret::new(normalize_pem(k.expose()));
            if !k.is_empty() {
                if let Err(m) = tls::check_key_pem(k) {
                    errs.push(InvalidInput::new("ssl_client_key", m));
                }
            }
        }
        match InvalidInput::combine(errs) {
            Some(e) => Err(e),
            None => Ok(self),
        }
    }

    /// Parses `postgres://USER@HOST:PORT/DBNAME[?sslmode=MODE]`. A password in
    /// the URL is refused: it would be visible in the process list and history.
    pub fn from_url(name: &str, url: &str) -> Result<ServerInput, InvalidInput> {
        let u = url::Url::parse(url).map_err(|e| {
            InvalidInput::new(
                "url",
                format!("{url:?} is not a URL ({e}). Fix: write postgres://USER@HOST:PORT/DBNAME"),
            )
        })?;
        if !matches!(u.scheme(), "postgres" | "postgresql") {
            return Err(InvalidInput::new(
                "url",
                format!("scheme {:?} is not postgres://", u.scheme()),
            ));
        }
        if u.password().is_some() {
            return Err(InvalidInput::new(
                "url",
                "holds a password. Fix: remove it from the URL and pass it in PGPASSWORD or with --password-stdin",
            ));
        }
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let mut input = ServerInput {
            name: name.to_owned(),
            host: u
                .host_str()
                .unwrap_or_default()
                .trim_matches(['[', ']'])
                .to_owned(),
            port: u.port().unwrap_or(5432),
            user: decode(u.username()),
            password: None,
            sslmode: String::new(),
            maintenance_db: decode(u.path().trim_start_matches('/')),
            ..Default::default()
        };
        for (k, v) in u.query_pairs() {
            match &*k {
                "sslmode" => input.sslmode = v.into_owned(),
                "sslrootcert" | "sslcert" | "sslkey" => {
                    return Err(InvalidInput::new(
                        "url",
                        format!("parameter {k:?} names a file; pgshelf stores the certificate itself. Fix: remove it from the URL and pass --ssl-root-cert, --ssl-client-cert and --ssl-client-key FILE (or paste the PEM in the dashboard)"),
                    ))
                }
                other => {
                    return Err(InvalidInput::new(
                        "url",
                        format!("parameter {other:?} is not supported; only sslmode is"),
                    ))
                }
            }
        }
        if input.user.is_empty() {
            return Err(InvalidInput::new(
                "url",
                "names no user. Fix: postgres://USER@HOST:PORT/DBNAME",
            ));
        }
        input.validated()
    }
}

/// PEM text trimmed, ending in one newline; blank text is `""` (clears).
fn normalize_pem(s: &str) -> String {
    let t = s.trim();
    if t.is_empty() {
        String::new()
    } else {
        format!("{t}\n")
    }
}

/// Checks the TLS settings a server ends up with (after an update has kept
/// the stored ones): verify-ca and verify-full need a root certificate, and
/// a client certificate and its key come together.
pub fn check_tls(
    sslmode: &str,
    has_root_cert: bool,
    has_client_cert: bool,
    has_client_key: bool,
) -> Result<(), InvalidInput> {
    if tls::verifies(sslmode) && !has_root_cert {
        return Err(InvalidInput::new(
            "ssl_root_cert",
            format!("is required by sslmode {sslmode}: pgshelf and pg_dump check the server's certificate against it. Fix: paste the CA certificate (PEM) that issued the server's certificate (for Amazon RDS, the bundle of its region), or set sslmode to require"),
        ));
    }
    match (has_client_cert, has_client_key) {
        (true, false) => Err(InvalidInput::new(
            "ssl_client_key",
            "is missing: a client certificate is used with its private key. Fix: paste the key too, or clear the client certificate",
        )),
        (false, true) => Err(InvalidInput::new(
            "ssl_client_cert",
            "is missing: a client key is used with its certificate. Fix: paste the certificate too, or clear the key",
        )),
        _ => Ok(()),
    }
}

pub use model::server::Server;

impl From<&ServerRow> for Server {
    fn from(r: &ServerRow) -> Self {
        Server {
            id: r.id,
            name: r.name.clone(),
            host: r.host.clone(),
            port: r.port as u16,
            user: r.username.clone(),
            has_password: r.password_enc.is_some(),
            sslmode: r.sslmode.clone(),
            maintenance_db: r.maintenance_db.clone(),
            ssl_root_cert: r.ssl_root_cert.clone(),
            ssl_client_cert: r.ssl_client_cert.clone(),
            has_client_key: r.ssl_client_key_enc.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let s = ServerInput::from_url(
            "prod",
            "postgres://app%40corp@db.internal:6543/main?sslmode=require",
        )
        .unwrap();
        assert_eq!(s.host, "db.internal");
        assert_eq!(s.port, 6543);
        assert_eq!(s.user, "app@corp");
        assert_eq!(s.maintenance_db, "main");
        assert_eq!(s.sslmode, "require");
        let d = ServerInput::from_url("x", "postgresql://postgres@[::1]/").unwrap();
        assert_eq!(
            (
                d.host.as_str(),
                d.port,
                d.maintenance_db.as_str(),
                d.sslmode.as_str()
            ),
            ("::1", 5432, "postgres", "prefer")
        );
    }

    #[test]
    fn refuses_bad_urls() {
        let e = ServerInput::from_url("x", "postgres://u:pw@h/db").unwrap_err();
        assert!(e.message.contains("PGPASSWORD"));
        assert_eq!(
            ServerInput::from_url("x", "mysql://u@h/db")
                .unwrap_err()
                .field,
            "url"
        );
        assert_eq!(
            ServerInput::from_url("x", "postgres://h/db")
                .unwrap_err()
                .field,
            "url"
        );
        assert_eq!(
            ServerInput::from_url("x", "not a url").unwrap_err().field,
            "url"
        );
        assert_eq!(
            ServerInput::from_url("x", "postgres://u@h/db?sslmode=bogus")
                .unwrap_err()
                .field,
            "sslmode"
        );
        assert_eq!(
            ServerInput::from_url("x", "postgres://u@h/db?options=1")
                .unwrap_err()
                .field,
            "url"
        );
    }

    #[test]
    fn validates_fields() {
        let ok = ServerInput {
            name: " prod ".into(),
            host: "h".into(),
            user: "u".into(),
            ..Default::default()
        };
        let v = ok.clone().validated().unwrap();
        assert_eq!(
            (v.name.as_str(), v.port, v.sslmode.as_str()),
            ("prod", 5432, "prefer")
        );
        for (field, bad) in [
            (
                "name",
                ServerInput {
                    name: "".into(),
                    ..ok.clone()
                },
            ),
            (
                "name",
                ServerInput {
                    name: "a/b".into(),
                    ..ok.clone()
                },
            ),
            (
                "host",
                ServerInput {
                    host: " ".into(),
                    ..ok.clone()
                },
            ),
            (
                "user",
                ServerInput {
                    user: "".into(),
                    ..ok.clone()
                },
            ),
        ] {
            assert_eq!(bad.validated().unwrap_err().field, field);
        }
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let bad = ServerInput {
            name: "a b".into(),
            host: "".into(),
            user: " ".into(),
            sslmode: "sometimes".into(),
            ..Default::default()
        };
        let e = bad.validated().unwrap_err();
        assert_eq!(e.field, "name");
        let text = e.to_string();
        let fields: Vec<&str> = text
            .lines()
            .map(|l| l.split_once(": ").unwrap().0)
            .collect();
        assert_eq!(fields, ["name", "host", "user", "sslmode"], "{text}");
        assert!(text.lines().all(|l| l.contains("Fix:")), "{text}");
        assert!(InvalidInput::combine(Vec::new()).is_none());
    }

    const CERT: &str =
        "-----BEGIN CERTIFICATE-----\nMIIBhTCCASugAwIBAgIU\n-----END CERTIFICATE-----";
    const KEY: &str =
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----";

    #[test]
    fn tls_settings_are_pem_and_checked_together() {
        let ok = ServerInput {
            name: "prod".into(),
            host: "h".into(),
            user: "u".into(),
            sslmode: "verify-full".into(),
            ssl_root_cert: Some(format!("\n  {CERT}\n\n")),
            ssl_client_cert: Some(CERT.into()),
            ssl_client_key: Some(Secret::new(KEY)),
            ..Default::default()
        };
        let v = ok.clone().validated().unwrap();
        assert_eq!(
            v.ssl_root_cert.as_deref(),
            Some(format!("{CERT}\n").as_str())
        );
        // Blank text clears.
        let blank = ServerInput {
            ssl_root_cert: Some("  \n".into()),
            ..ok.clone()
        }
        .validated()
        .unwrap();
        assert_eq!(blank.ssl_root_cert.as_deref(), Some(""));

        for (field, bad) in [
            (
                "ssl_root_cert",
                ServerInput {
                    ssl_root_cert: Some("/etc/ssl/rds-ca.pem".into()),
                    ..ok.clone()
                },
            ),
            (
                "ssl_client_cert",
                ServerInput {
                    ssl_client_cert: Some(KEY.into()),
                    ..ok.clone()
                },
            ),
            (
                "ssl_client_key",
                ServerInput {
                    ssl_client_key: Some(Secret::new("not a key")),
                    ..ok.clone()
                },
            ),
        ] {
            let e = bad.validated().unwrap_err();
            assert_eq!(e.field, field, "{e}");
            assert!(e.message.contains("Fix:"), "{e}");
            assert!(!e.message.contains("c2VjcmV0"), "never quote a key: {e}");
        }

        assert!(check_tls("verify-full", true, true, true).is_ok());
        assert!(check_tls("require", false, false, false).is_ok());
        let e = check_tls("verify-ca", false, false, false).unwrap_err();
        assert_eq!(e.field, "ssl_root_cert");
        assert!(e.message.contains("verify-ca") && e.message.contains("Fix:"));
        assert_eq!(
            check_tls("require", false, true, false).unwrap_err().field,
            "ssl_client_key"
        );
        assert_eq!(
            check_tls("require", false, false, true).unwrap_err().field,
            "ssl_client_cert"
        );
    }

    #[test]
    fn urls_refuse_certificate_paths() {
        let e = ServerInput::from_url(
            "x",
            "postgres://u@h/db?sslmode=verify-full&sslrootcert=/ca.pem",
        )
        .unwrap_err();
        assert_eq!(e.field, "url");
        assert!(e.message.contains("--ssl-root-cert"), "{e}");
        // verify-full without a certificate parses: the engine checks the
        // whole (the CLI adds the certificate after parsing the URL).
        let v = ServerInput::from_url("x", "postgres://u@h/db?sslmode=verify-full").unwrap();
        assert_eq!(v.sslmode, "verify-full");
    }
}
