//! Connecting to a PostgreSQL server with sqlx: version, databases, tables,
//! and the exported snapshot a dump runs in.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, Row};

use super::args::quote_ident;
use super::tls;
use super::tools::major_of_num;
use super::PgError;
use crate::secrets::Secret;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How to reach a server (the password and client key in memory only).
#[derive(Debug, Clone)]
pub struct ConnSpec {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<Secret>,
    pub sslmode: String,
    /// PEM of the CA certificate(s) the server's certificate must chain to.
    pub ssl_root_cert: Option<String>,
    /// PEM of the client certificate (always with [`ConnSpec::ssl_client_key`]).
    pub ssl_client_cert: Option<String>,
    /// PEM of the client certificate's private key.
    pub ssl_client_key: Option<Secret>,
}

impl ConnSpec {
    /// A spec without certificates.
    pub fn new(host: &str, port: u16, user: &str, password: Option<Secret>, sslmode: &str) -> Self {
        ConnSpec {
            host: host.to_owned(),
            port,
            user: user.to_owned(),
            password,
            sslmode: sslmode.to_owned(),
            ssl_root_cert: None,
            ssl_client_cert: None,
            ssl_client_key: None,
        }
    }

    /// `host:port`, for messages.
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// sqlx options for one attempt (see [`tls::attempts`]).
    fn options(&self, dbname: &str, attempt: tls::Attempt) -> PgConnectOptions {
        let mut o = PgConnectOptions::new_without_pgpass()
            .host(&self.host)
            .port(self.port)
            .username(&self.user)
            .database(dbname)
            .application_name("pgshelf")
            .ssl_mode(attempt.sqlx_mode());
        if let Some(p) = &self.password {
            o = o.password(p.expose());
        }
        if attempt != tls::Attempt::Plain {
            if let Some(root) = &self.ssl_root_cert {
                o = o.ssl_root_cert_from_pem(root.as_bytes().to_vec());
            }
            if let (Some(cert), Some(key)) = (&self.ssl_client_cert, &self.ssl_client_key) {
                o = o
                    .ssl_client_cert_from_pem(cert.as_bytes())
                    .ssl_client_key_from_pem(key.expose().as_bytes());
            }
        }
        o
    }

    /// Opens one connection to `dbname`, trying plaintext and TLS in the
    /// order libpq would for the sslmode; failures turned into causes.
    pub async fn connect(&self, dbname: &str) -> Result<PgConnection, PgError> {
        if tls::verifies(&self.sslmode) && self.ssl_root_cert.is_none() {
            return Err(PgError::NoRootCert {
                addr: self.addr(),
                sslmode: self.sslmode.clone(),
            });
        }
        let plan = tls::attempts(&self.sslmode, self.ssl_root_cert.is_some());
        let mut errors = Vec::new();
        for (i, attempt) in plan.iter().copied().enumerate() {
            let e = match tokio::time::timeout(
                CONNECT_TIMEOUT,
                PgConnection::connect_with(&self.options(dbname, attempt)),
            )
            .await
            {
                Ok(Ok(c)) => return Ok(c),
                Ok(Err(e)) => e,
                Err(_) => {
                    return Err(PgError::Unreachable {
                        addr: self.addr(),
                        detail: format!("no answer within {}s", CONNECT_TIMEOUT.as_secs()),
                    })
                }
            };
            let again = i + 1 < plan.len() && tls::retry_after(attempt, &e);
            errors.push(classify(self, dbname, attempt, e));
            if !again {
                break;
            }
        }
        // After allow's or prefer's two attempts, "plaintext refused" says
        // less than why the TLS attempt failed.
        let keep = errors
            .iter()
            .rposition(|e| !matches!(e, PgError::SslRequired { .. }))
            .unwrap_or(errors.len() - 1);
        Err(errors.swap_remove(keep))
    }
}

pub use model::server::SSLMODES;

/// Turns a connection error of an attempt into a cause a person can act
/// on. Never quotes the password or a key.
pub fn classify(spec: &ConnSpec, dbname: &str, attempt: tls::Attempt, e: sqlx::Error) -> PgError {
    let addr = spec.addr();
    if let Some(h) = tls::handshake_error(&e) {
        return tls_cause(spec, h);
    }
    match &e {
        sqlx::Error::Database(d) => {
            let code = d.code().map(|c| c.to_string()).unwrap_or_default();
            let msg = d.message();
            match code.as_str() {
                "28P01" => PgError::WrongPassword {
                    user: spec.user.clone(),
                    addr,
                },
                "28000"
                    if attempt == tls::Attempt::Plain
                        && (msg.contains("no encryption") || msg.contains("SSL off")) =>
                {
                    PgError::SslRequired {
                        addr,
                        sslmode: spec.sslmode.clone(),
                        detail: msg.to_owned(),
                    }
                }
                "28000" if msg.contains("requires a valid client certificate") => PgError::Tls {
                    addr,
                    detail: msg.to_owned(),
                    fix: "the server authenticates this user by client certificate; set the server's client certificate and key in pgshelf".into(),
                },
                "28000" if msg.contains("certificate authentication failed") => PgError::Tls {
                    addr,
                    detail: msg.to_owned(),
                    fix: format!(
                        "use a client certificate whose CN is {:?}, or map its CN to that user in the server's pg_ident.conf",
                        spec.user
                    ),
                },
                "28000" => PgError::Rejected {
                    user: spec.user.clone(),
                    addr,
                    detail: msg.to_owned(),
                },
                "3D000" => PgError::NoDatabase {
                    database: dbname.to_owned(),
                    addr,
                },
                _ => PgError::Query {
                    addr,
                    detail: msg.to_owned(),
                },
            }
        }
        sqlx::Error::Io(io) => PgError::Unreachable {
            addr,
            detail: io.to_string(),
        },
        sqlx::Error::PoolTimedOut => PgError::Unreachable {
            addr,
            detail: "timed out".into(),
        },
        sqlx::Error::Configuration(c) if attempt != tls::Attempt::Plain => PgError::Tls {
            addr,
            detail: tls::without_pem(&c.to_string()),
            fix: "check the server's client certificate and key in pgshelf (PEM, the key belonging to the certificate)".into(),
        },
        other => {
            let msg = other.to_string();
            // sqlx reports a missing password as a configuration/protocol error.
            if msg.contains("password") {
                PgError::WrongPassword {
                    user: spec.user.clone(),
                    addr,
                }
            } else {
                PgError::Query {
                    addr,
                    detail: tls::without_pem(&msg),
                }
            }
        }
    }
}

/// The cause of a failed TLS negotiation.
fn tls_cause(spec: &ConnSpec, h: tls::Handshake) -> PgError {
    use rustls::{AlertDescription as A, CertificateError as C, Error as R};
    let addr = spec.addr();
    let generic = |detail: String, fix: &str| PgError::Tls {
        addr: addr.clone(),
        detail,
        fix: fix.to_owned(),
    };
    match h {
        tls::Handshake::Unsupported => PgError::TlsUnsupported {
            addr,
            sslmode: spec.sslmode.clone(),
        },
        tls::Handshake::Other(detail) => generic(
            detail,
            "check the server's sslmode and certificates in pgshelf against the server's TLS settings",
        ),
        tls::Handshake::Rustls(r) => {
            let detail = r.to_string();
            match &r {
                R::InvalidCertificate(C::UnknownIssuer) => PgError::TlsUnknownCa { addr, detail },
                R::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
                    PgError::TlsHostname {
                        addr,
                        host: spec.host.clone(),
                        detail,
                        note: if spec.sslmode == "verify-full" {
                            ""
                        } else {
                            " (pgshelf checks the name under verify-ca, and under require with a root certificate, too: a limit of sqlx 0.8)"
                        },
                    }
                }
                R::InvalidCertificate(
                    C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. },
                ) => generic(
                    detail,
                    "renew the server's certificate (or correct the clock of the server or of pgshelf's host)",
                ),
                R::InvalidCertificate(_) => generic(
                    detail,
                    "the server's certificate is not acceptable to the root certificate set in pgshelf; check that it is the CA that issued it",
                ),
                R::AlertReceived(A::UnknownCA | A::BadCertificate | A::CertificateRequired | A::CertificateUnknown | A::UnsupportedCertificate) => generic(
                    format!("the server rejected pgshelf's client certificate ({detail})"),
                    "use a client certificate signed by a CA in the server's ssl_ca_file, or remove the client certificate if the server does not want one",
                ),
                R::AlertReceived(A::HandshakeFailure | A::ProtocolVersion | A::InsufficientSecurity) => generic(
                    detail,
                    "the server must accept TLS 1.2 or 1.3 with a modern cipher (ssl_min_protocol_version, ssl_ciphers)",
                ),
                R::InconsistentKeys(_) | R::NoCertificatesPresented => generic(
                    detail,
                    "the client key does not belong to the client certificate; paste the matching pair",
                ),
                _ => generic(
                    detail,
                    "check the server's sslmode and certificates in pgshelf against the server's TLS settings",
                ),
            }
        }
    }
}

fn query_err(spec: &ConnSpec) -> impl Fn(sqlx::Error) -> PgError + '_ {
    move |e| match e {
        sqlx::Error::Database(ref d) if d.code().as_deref() == Some("3D000") => {
            classify(spec, "", tls::Attempt::Plain, e)
        }
        other => PgError::Query {
            addr: spec.addr(),
            detail: other.to_string(),
        },
    }
}

/// What a server says about itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ServerInfo {
    /// `SHOW server_version`, e.g. `18.0` or `15.18 (Debian 15.18-0+deb12u1)`.
    pub version: String,
    pub version_num: u32,
    pub major: u32,
    pub in_recovery: bool,
}

pub use model::server::DatabaseInfo;

/// A table in a dump's snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TableInfo {
    pub schema: String,
    pub name: String,
    /// `table` or `partitioned`.
    pub kind: String,
    pub bytes: i64,
    pub rows: i64,
    /// Structure dumped, data left out by the policy.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub data_excluded: bool,
}

/// What a snapshot holds: the dumped tables with counts, and every schema
/// and table name (to check the policy's patterns against).
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub tables: Vec<TableInfo>,
    pub schemas: Vec<String>,
    pub all_tables: Vec<(String, String)>,
    pub large_objects: i64,
    /// Things the user should know about this snapshot (e.g. unlogged data
    /// that a standby cannot read).
    pub warnings: Vec<String>,
}

/// Version and role of the server behind `conn`.
pub async fn server_info(spec: &ConnSpec, conn: &mut PgConnection) -> Result<ServerInfo, PgError> {
    let row = sqlx::query(
        "SELECT current_setting('server_version'), current_setting('server_version_num')::int4, pg_is_in_recovery()",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(query_err(spec))?;
    let version: String = row.get(0);
    let num: i32 = row.get(1);
    Ok(ServerInfo {
        version: version
            .split_whitespace()
            .next()
            .unwrap_or(&version)
            .to_owned(),
        version_num: num as u32,
        major: major_of_num(num as u32),
        in_recovery: row.get(2),
    })
}

/// Databases a backup can be taken of: not templates, accepting connections.
pub async fn databases(
    spec: &ConnSpec,
    conn: &mut PgConnection,
) -> Result<Vec<DatabaseInfo>, PgError> {
    let rows = sqlx::query(
        "SELECT datname::text,
                CASE WHEN has_database_privilege(datname, 'CONNECT') THEN pg_database_size(oid) END
           FROM pg_database
          WHERE NOT datistemplate AND datallowconn
          ORDER BY datname",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(query_err(spec))?;
    Ok(rows
        .into_iter()
        .map(|r| DatabaseInfo {
            name: r.get(0),
            size_bytes: r.get(1),
        })
        .collect())
}

/// The names of the databases one can connect to (no sizes: cheap enough
/// for periodic discovery).
pub async fn database_names(
    spec: &ConnSpec,
    conn: &mut PgConnection,
) -> Result<Vec<String>, PgError> {
    let rows = sqlx::query(
        "SELECT datname::text FROM pg_database WHERE NOT datistemplate AND datallowconn ORDER BY datname",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(query_err(spec))?;
    Ok(rows.into_iter().map(|r| r.get(0)).collect())
}

/// A repeatable-read transaction whose snapshot a `pg_dump --snapshot` imports.
/// Keep it alive until the dump has finished.
pub struct Snapshot {
    conn: PgConnection,
    pub id: String,
    backend_pid: i32,
}

impl Snapshot {
    /// Opens the transaction and exports its snapshot.
    /// With `serializable_deferrable`, the transaction waits for a snapshot
    /// free of serialization anomalies (what `pg_dump --serializable-deferrable`
    /// does), and pg_dump imports that snapshot.
    pub async fn export(
        spec: &ConnSpec,
        mut conn: PgConnection,
        serializable_deferrable: bool,
    ) -> Result<Snapshot, PgError> {
        let q = query_err(spec);
        let begin = if serializable_deferrable {
            "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE"
        } else {
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        };
        sqlx::query(begin).execute(&mut conn).await.map_err(&q)?;
        let (id, backend_pid): (String, i32) =
            sqlx::query_as("SELECT pg_export_snapshot(), pg_backend_pid()")
                .fetch_one(&mut conn)
                .await
                .map_err(&q)?;
        Ok(Snapshot {
            conn,
            id,
            backend_pid,
        })
    }

    /// Every user table that `dumped(schema, name)` selects, with its size and
    /// exact row count in this snapshot; all schema and table names; and the
    /// number of large objects.
    ///
    /// On a standby (`in_recovery`), unlogged tables cannot be read: pg_dump
    /// leaves their data out, so they are listed as data-excluded with a
    /// warning instead of being counted (which would abort the snapshot).
    pub async fn tables(
        &mut self,
        spec: &ConnSpec,
        in_recovery: bool,
        dumped: impl Fn(&str, &str) -> bool,
    ) -> Result<Listing, PgError> {
        let q = query_err(spec);
        let schemas: Vec<String> = sqlx::query_scalar(
            "SELECT nspname::text FROM pg_namespace
              WHERE nspname NOT IN ('pg_catalog', 'information_schema')
                AND nspname NOT LIKE 'pg\\_toast%' AND nspname NOT LIKE 'pg\\_temp%'
              ORDER BY 1",
        )
        .fetch_all(&mut self.conn)
        .await
        .map_err(&q)?;
        let rows = sqlx::query(
            "SELECT n.nspname::text, c.relname::text, c.relkind::text,
                    pg_total_relation_size(c.oid), c.relpersistence = 'u'
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p')
                AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
                AND NOT EXISTS (SELECT 1 FROM pg_depend d
                                 WHERE d.objid = c.oid AND d.deptype = 'e')
              ORDER BY 1, 2",
        )
        .fetch_all(&mut self.conn)
        .await
        .map_err(&q)?;
        let mut out = Vec::with_capacity(rows.len());
        let mut all_tables = Vec::with_capacity(rows.len());
        let mut warnings = Vec::new();
        for r in rows {
            let schema: String = r.get(0);
            let name: String = r.get(1);
            let kind: String = r.get(2);
            let bytes: i64 = r.get(3);
            all_tables.push((schema.clone(), name.clone()));
            if !dumped(&schema, &name) {
                continue;
            }
            let unlogged: bool = r.get(4);
            if in_recovery && unlogged {
                warnings.push(format!(
                    "unlogged table {}.{}: a standby cannot read its data, so this backup has its structure only; dump from the primary to include it",
                    quote_ident(&schema),
                    quote_ident(&name)
                ));
                out.push(TableInfo {
                    schema,
                    name,
                    kind: if kind == "p" { "partitioned" } else { "table" }.to_owned(),
                    bytes,
                    rows: 0,
                    data_excluded: true,
                });
                continue;
            }
            // ONLY for plain tables, so inheritance children are not counted twice;
            // a partitioned parent counts its partitions.
            let only = if kind == "r" { "ONLY " } else { "" };
            let sql = format!(
                "SELECT count(*) FROM {only}{}.{}",
                quote_ident(&schema),
                quote_ident(&name)
            );
            let rows: i64 = sqlx::query_scalar(&sql)
                .fetch_one(&mut self.conn)
                .await
                .map_err(&q)?;
            out.push(TableInfo {
                schema,
                name,
                kind: if kind == "p" { "partitioned" } else { "table" }.to_owned(),
                bytes,
                rows,
                data_excluded: false,
            });
        }
        let large_objects: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_largeobject_metadata")
            .fetch_one(&mut self.conn)
            .await
            .map_err(&q)?;
        Ok(Listing {
            tables: out,
            schemas,
            all_tables,
            large_objects,
            warnings,
        })
    }

    /// Tears the session down after a failed dump: a query of ours may still
    /// be waiting on the server (on a lock, say), so the socket is dropped and
    /// the backend terminated from a fresh connection, best effort.
    pub async fn abandon(self, spec: &ConnSpec, dbname: &str) {
        let pid = self.backend_pid;
        drop(self.conn);
        let terminate = async {
            if let Ok(mut c) = spec.connect(dbname).await {
                let _ = sqlx::query("SELECT pg_terminate_backend($1)")
                    .bind(pid)
                    .execute(&mut c)
                    .await;
                let _ = c.close().await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), terminate).await;
    }

    /// Ends the transaction.
    pub async fn close(mut self) {
        let _ = sqlx::query("COMMIT").execute(&mut self.conn).await;
        let _ = self.conn.close().await;
    }
}
