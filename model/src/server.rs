//! PostgreSQL servers as users see them: never a password, only whether one
//! is stored; the sslmodes pgshelf accepts; what a connection test found.

use serde::{Deserialize, Serialize};

/// The sslmode values accepted in settings, in libpq's order.
pub const SSLMODES: &[&str] = &[
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

/// A configured server as shown to users.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Server {
    pub id: i64,
    pub name: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    /// Whether a password is stored; the password itself never leaves the engine.
    pub has_password: bool,
    pub sslmode: String,
    pub maintenance_db: String,
    /// PEM of the root certificate(s) the server's certificate is checked against.
    pub ssl_root_cert: Option<String>,
    /// PEM of the client certificate.
    pub ssl_client_cert: Option<String>,
    /// Whether a client key is stored; the key itself never leaves the engine.
    pub has_client_key: bool,
}

impl Server {
    /// `host:port`, with brackets around IPv6 addresses.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// A database on a server, as discovered.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DatabaseInfo {
    pub name: String,
    /// `None` when pgshelf's role may not connect to it.
    pub size_bytes: Option<i64>,
}

/// The pg_dump chosen for a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PgDumpChoice {
    /// e.g. `18.1`.
    pub version: String,
    /// Full path of the pg_dump binary.
    pub path: String,
}

/// What a connection test found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionReport {
    /// e.g. `18.0` or `15.18 (Debian 15.18-0+deb12u1)`.
    pub server_version: String,
    pub major: u32,
    /// The server is a standby.
    pub in_recovery: bool,
    /// The pg_dump backups of this server would use, or why there is none
    /// (the message names the fix).
    pub pg_dump: Result<PgDumpChoice, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let mut s = Server {
            id: 1,
            name: "main".into(),
            host: "db.example".into(),
            port: 5432,
            user: "postgres".into(),
            has_password: false,
            sslmode: "prefer".into(),
            maintenance_db: "postgres".into(),
            ssl_root_cert: None,
            ssl_client_cert: None,
            has_client_key: false,
        };
        assert_eq!(s.address(), "db.example:5432");
        s.host = "::1".into();
        assert_eq!(s.address(), "[::1]:5432");
    }
}
