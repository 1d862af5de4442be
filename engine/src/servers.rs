//! Server settings as users enter them: validation and `postgres://` URLs.
//! Pure functions; the catalog stores the result with the password sealed.

use crate::catalog::ServerRow;
use crate::pg::conn::SSLMODES;
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
}

impl ServerInput {
    /// Trims fields, fills defaults, and checks every field.
    pub fn validated(mut self) -> Result<ServerInput, InvalidInput> {
        self.name = self.name.trim().to_owned();
        self.host = self.host.trim().to_owned();
        self.user = self.user.trim().to_owned();
        self.sslmode = self.sslmode.trim().to_owned();
        self.maintenance_db = self.maintenance_db.trim().to_owned();
        if self.name.is_empty() {
            return Err(InvalidInput::new(
                "name",
                "is empty. Fix: give the server a short name such as prod-main",
            ));
        }
        if self.name.len() > 64
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(InvalidInput::new(
                "name",
                format!("{:?} may hold only letters, digits, '-', '_' and '.', up to 64 characters. Fix: rename it, e.g. prod-main", self.name),
            ));
        }
        if self.host.is_empty() {
            return Err(InvalidInput::new(
                "host",
                "is empty. Fix: enter a host name or IP address",
            ));
        }
        if self.host.chars().any(|c| c.is_whitespace() || c == '/') {
            return Err(InvalidInput::new(
                "host",
                format!("{:?} is not a host name or address", self.host),
            ));
        }
        if self.port == 0 {
            self.port = 5432;
        }
        if self.user.is_empty() {
            return Err(InvalidInput::new(
                "user",
                "is empty. Fix: enter the role pgshelf connects as",
            ));
        }
        if self.sslmode.is_empty() {
            self.sslmode = "prefer".into();
        }
        if !SSLMODES.contains(&self.sslmode.as_str()) {
            return Err(InvalidInput::new(
                "sslmode",
                format!("{:?} is not one of {}", self.sslmode, SSLMODES.join(", ")),
            ));
        }
        if self.maintenance_db.is_empty() {
            self.maintenance_db = "postgres".into();
        }
        Ok(self)
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
        };
        for (k, v) in u.query_pairs() {
            match &*k {
                "sslmode" => input.sslmode = v.into_owned(),
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
}
