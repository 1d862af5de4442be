//! PostgreSQL: client tools by major version, probing a server, and the
//! argument vectors handed to `pg_dump` and friends.
//!
//! - [`tools`] finds `pg_dump`/`pg_restore`/`pg_dumpall`/`psql` per major
//!   version and picks the one to use for a server.
//! - [`conn`] connects with sqlx, reads version, databases and tables, and
//!   turns connection failures into causes a person can act on.
//! - [`args`] builds conninfo strings and argument vectors (pure).
//! - [`tls`] applies libpq's sslmode rules to sqlx, writes certificate files
//!   for the client tools ([`tls::TlsFiles`]), and names handshake failures.

pub mod args;
pub mod conn;
pub mod passfile;
pub mod tls;
pub mod tools;

pub use conn::{ConnSpec, Counting, DatabaseInfo, Listing, RowsFrom, ServerInfo, TableInfo};
pub use tools::{PgTools, ToolFinder};

/// What can go wrong reaching a server or finding its tools.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("password authentication failed for user {user:?} at {addr}. Fix: correct the password in the server's settings (Edit), or check pg_hba.conf on the server")]
    WrongPassword { user: String, addr: String },
    #[error("{addr} refused user {user:?}: {detail}. Fix: check that the role exists and that pg_hba.conf allows it from this host")]
    Rejected {
        user: String,
        addr: String,
        detail: String,
    },
    #[error("cannot reach PostgreSQL at {addr}: {detail}. Fix: check host and port, that the server is running, and that listen_addresses and firewalls let pgshelf in")]
    Unreachable { addr: String, detail: String },
    #[error("database {database:?} does not exist on {addr} (dropped or renamed since it was listed?). Fix: refresh the server's database list")]
    NoDatabase { database: String, addr: String },
    #[error("TLS to {addr} failed: {detail}. Fix: {fix}")]
    Tls {
        addr: String,
        detail: String,
        fix: String,
    },
    #[error("the certificate of {addr} is not signed by the root certificate set for this server (unknown CA: {detail}). Fix: paste the CA certificate that issued the server's certificate (for Amazon RDS, the CA bundle of its region) into the server's root certificate")]
    TlsUnknownCa { addr: String, detail: String },
    #[error("the certificate of {addr} is not issued for the host name {host:?} ({detail}){note}. Fix: set the host to a name the certificate lists")]
    TlsHostname {
        addr: String,
        host: String,
        detail: String,
        note: &'static str,
    },
    #[error("{addr} does not support SSL, and sslmode {sslmode} requires it. Fix: turn ssl on in the server's postgresql.conf, or set sslmode to prefer or disable if this network is trusted")]
    TlsUnsupported { addr: String, sslmode: String },
    #[error("{addr} requires SSL: it has no pg_hba.conf entry for connections without encryption ({detail}), and sslmode is {sslmode}. Fix: set sslmode to require, or verify-full with the server's root certificate")]
    SslRequired {
        addr: String,
        sslmode: String,
        detail: String,
    },
    #[error("sslmode {sslmode} checks the certificate of {addr} against a root certificate, and none is set. Fix: paste the CA certificate (PEM) into the server's root certificate, or set sslmode to require")]
    NoRootCert { addr: String, sslmode: String },
    #[error("could not lock table {table} for the dump within {secs}s (the policy's lock wait timeout): another session holds or waits for a conflicting lock (ALTER TABLE, TRUNCATE, VACUUM FULL, REINDEX...). Fix: find it in pg_locks / pg_stat_activity and let it finish, run the backup when it is done, or raise the policy's lock wait timeout")]
    LockTimeout { table: String, secs: u32 },
    #[error("query on {addr} failed: {detail}")]
    Query { addr: String, detail: String },
    #[error("no usable pg_dump for PostgreSQL {server_version} (needs major {server_major} or newer; found: {found}). Fix: install the PostgreSQL {server_major} client tools (Debian/Ubuntu: postgresql-client-{server_major} from the PostgreSQL project's apt repository) or add their bin directory to `pg_bin_dirs` in pgshelf.toml")]
    NoSuitableDump {
        server_version: String,
        server_major: u32,
        found: String,
    },
}

impl PgError {
    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            PgError::WrongPassword { .. } | PgError::Rejected { .. } => 401,
            PgError::NoDatabase { .. } => 404,
            PgError::Unreachable { .. }
            | PgError::Tls { .. }
            | PgError::TlsUnknownCa { .. }
            | PgError::TlsHostname { .. }
            | PgError::TlsUnsupported { .. }
            | PgError::SslRequired { .. } => 502,
            PgError::NoRootCert { .. } => 422,
            PgError::NoSuitableDump { .. } => 424,
            PgError::LockTimeout { .. } => 409,
            PgError::Query { .. } => 500,
        }
    }
}
