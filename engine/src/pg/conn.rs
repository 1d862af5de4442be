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

pub use model::tables::{RowsFrom, TableInfo};

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
    /// `(partition, its partitioned parent)` for every partition among the
    /// dumped tables, as `(schema, name)` pairs: [`roll_up_partitions`]
    /// sums leaves into their parents.
    pub partition_of: Vec<PartitionOf>,
}

/// `((schema, partition), (schema, partitioned parent))`.
pub type PartitionOf = ((String, String), (String, String));

/// How [`Snapshot::tables`] takes row counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// `count(*)` in the snapshot for tables whose data (heap and TOAST,
    /// `pg_table_size`) is at most this many bytes; `reltuples` estimates
    /// above it (marked as estimates).
    Sql { exact_max_bytes: u64 },
    /// No counting: the dump's own stream is counted instead. Rows hold the
    /// `reltuples` estimate (marked) until the pipeline fills them in.
    FromDump,
}

/// Sets each partitioned table's rows to the sum of its dumped leaf
/// partitions (each leaf counted once, nested partitioning included); the
/// sum is an estimate if any leaf's count is. Pure: the pipeline calls it
/// after counts are final (data-excluded tables zeroed, stream counts in).
pub fn roll_up_partitions(tables: &mut [TableInfo], partition_of: &[PartitionOf]) {
    use std::collections::HashMap;
    let parent: HashMap<(&str, &str), (&str, &str)> = partition_of
        .iter()
        .map(|(c, p)| ((c.0.as_str(), c.1.as_str()), (p.0.as_str(), p.1.as_str())))
        .collect();
    let mut sums: HashMap<(String, String), (i64, bool, Option<RowsFrom>)> = HashMap::new();
    for t in tables.iter().filter(|t| t.kind != "partitioned") {
        let mut at = (t.schema.as_str(), t.name.as_str());
        let mut hops = 0;
        while let Some(p) = parent.get(&at) {
            let e = sums
                .entry((p.0.to_owned(), p.1.to_owned()))
                .or_insert((0, false, None));
            e.0 += t.rows;
            e.1 |= t.rows_estimated;
            e.2 = Some(match (e.2, t.rows_from) {
                (Some(RowsFrom::Estimate), _) | (_, RowsFrom::Estimate) => RowsFrom::Estimate,
                (_, f) => f,
            });
            at = *p;
            hops += 1;
            if hops > 64 {
                break; // a cycle cannot happen in pg_inherits; never loop forever
            }
        }
    }
    for t in tables.iter_mut().filter(|t| t.kind == "partitioned") {
        let (rows, estimated, from) = sums
            .get(&(t.schema.clone(), t.name.clone()))
            .copied()
            .unwrap_or((0, false, None));
        t.rows = rows;
        t.rows_estimated = estimated;
        if let Some(f) = from {
            t.rows_from = f;
        }
    }
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
///
/// Made in two steps so that a run's watchdog can end it while it waits on
/// a lock: [`Snapshot::begin`] (knows its backend, for
/// [`Snapshot::abandon`]), then [`Snapshot::lock_and_export`].
pub struct Snapshot {
    conn: PgConnection,
    /// The exported snapshot's id (empty until exported).
    pub id: String,
    backend_pid: i32,
    /// Tables locked `ACCESS SHARE` in this transaction.
    locked: std::collections::HashSet<(String, String)>,
    lock_timeout_secs: Option<u32>,
}

/// Relations a dump may hold data of: tables and partitioned tables, not
/// in system schemas, not members of an extension.
const RELATIONS: &str = "SELECT n.nspname::text, c.relname::text, c.relkind::text,
        c.relpersistence = 'u', c.reltuples::float8, c.oid::int8
   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p')
    AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
    AND NOT EXISTS (SELECT 1 FROM pg_depend d
                     WHERE d.objid = c.oid AND d.deptype = 'e')
  ORDER BY 1, 2";

/// Names of the relations [`RELATIONS`] lists, read without touching the
/// relations themselves (no size functions: they would wait on the very
/// locks the lock step is to report, without its timeout).
const RELATION_NAMES: &str = "SELECT n.nspname::text, c.relname::text
   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p')
    AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
    AND NOT EXISTS (SELECT 1 FROM pg_depend d
                     WHERE d.objid = c.oid AND d.deptype = 'e')
  ORDER BY 1, 2";

/// Times a dropped table may make locking start over.
const LOCK_ATTEMPTS: usize = 3;

impl Snapshot {
    /// Takes over `conn` (no transaction yet) and learns its backend pid.
    pub async fn begin(spec: &ConnSpec, mut conn: PgConnection) -> Result<Snapshot, PgError> {
        let backend_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut conn)
            .await
            .map_err(query_err(spec))?;
        Ok(Snapshot {
            conn,
            id: String::new(),
            backend_pid,
            locked: Default::default(),
            lock_timeout_secs: None,
        })
    }

    /// Opens the transaction, locks every table `dumped(schema, name)`
    /// selects in `ACCESS SHARE` mode, and only then exports the snapshot
    /// (a transaction's snapshot is taken by its first query, and `LOCK`
    /// takes none), so no TRUNCATE or table rewrite can land between the
    /// snapshot and the end of counting: the counts and the dump see the
    /// same rows. Each lock waits at most `lock_timeout_secs` (the policy's
    /// lock wait timeout; none: as long as the run's watchdog allows); a
    /// lock not granted in time fails with [`PgError::LockTimeout`] naming
    /// the table.
    ///
    /// With `serializable_deferrable`, the transaction waits for a snapshot
    /// free of serialization anomalies (what `pg_dump --serializable-deferrable`
    /// does), and pg_dump imports that snapshot.
    pub async fn lock_and_export(
        &mut self,
        spec: &ConnSpec,
        serializable_deferrable: bool,
        lock_timeout_secs: Option<u32>,
        dumped: impl Fn(&str, &str) -> bool,
    ) -> Result<(), PgError> {
        let q = query_err(spec);
        self.lock_timeout_secs = lock_timeout_secs;
        let begin = if serializable_deferrable {
            "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE"
        } else {
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            // Listed outside the transaction, so its snapshot is not taken yet.
            let names: Vec<(String, String)> = sqlx::query(RELATION_NAMES)
                .fetch_all(&mut self.conn)
                .await
                .map_err(&q)?
                .into_iter()
                .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1)))
                .filter(|(s, n)| dumped(s, n))
                .collect();
            sqlx::query(begin)
                .execute(&mut self.conn)
                .await
                .map_err(&q)?;
            if let Some(secs) = lock_timeout_secs {
                sqlx::query(&format!("SET LOCAL lock_timeout = '{}s'", secs))
                    .execute(&mut self.conn)
                    .await
                    .map_err(&q)?;
            }
            self.locked.clear();
            match self.lock_all(spec, &names).await {
                Ok(()) => break,
                // Dropped between the listing and its lock: list again.
                Err(LockFailure::Gone) if attempt < LOCK_ATTEMPTS => {
                    let _ = sqlx::query("ROLLBACK").execute(&mut self.conn).await;
                    continue;
                }
                Err(LockFailure::Gone) => {
                    return Err(PgError::Query {
                        addr: spec.addr(),
                        detail: "tables kept being dropped while pgshelf locked them for the dump. Fix: run the backup when schema changes are done".into(),
                    })
                }
                Err(LockFailure::Failed(e)) => return Err(e),
            }
        }
        let (id,): (String,) = sqlx::query_as("SELECT pg_export_snapshot()")
            .fetch_one(&mut self.conn)
            .await
            .map_err(&q)?;
        self.id = id;
        Ok(())
    }

    /// Locks each table not locked yet, one statement each (so a timeout
    /// names its table).
    async fn lock_all(
        &mut self,
        spec: &ConnSpec,
        names: &[(String, String)],
    ) -> Result<(), LockFailure> {
        for (schema, name) in names {
            if self.locked.contains(&(schema.clone(), name.clone())) {
                continue;
            }
            let sql = format!(
                "LOCK TABLE ONLY {}.{} IN ACCESS SHARE MODE",
                quote_ident(schema),
                quote_ident(name)
            );
            match sqlx::query(&sql).execute(&mut self.conn).await {
                Ok(_) => {
                    self.locked.insert((schema.clone(), name.clone()));
                }
                Err(sqlx::Error::Database(d)) if d.code().as_deref() == Some("42P01") => {
                    return Err(LockFailure::Gone)
                }
                Err(sqlx::Error::Database(d)) if d.code().as_deref() == Some("55P03") => {
                    return Err(LockFailure::Failed(PgError::LockTimeout {
                        table: format!("{}.{}", quote_ident(schema), quote_ident(name)),
                        secs: self.lock_timeout_secs.unwrap_or(0),
                    }))
                }
                Err(e) => return Err(LockFailure::Failed(query_err(spec)(e))),
            }
        }
        Ok(())
    }

    /// Every user table that `dumped(schema, name)` selects, with its size
    /// and row count in this snapshot (see [`Counting`]); all schema and
    /// table names; and the number of large objects. A selected table the
    /// lock step did not see (created meanwhile) is locked first.
    ///
    /// Leaf tables are counted once each (`ONLY`); a partitioned table's
    /// rows are the sum of its dumped partitions ([`roll_up_partitions`]).
    /// A table whose data is larger than the limit gets `reltuples` as an
    /// estimate (exact anyway when it was never analyzed).
    ///
    /// On a standby (`in_recovery`), unlogged tables cannot be read: pg_dump
    /// leaves their data out, so they are listed as data-excluded with a
    /// warning instead of being counted (which would abort the snapshot).
    pub async fn tables(
        &mut self,
        spec: &ConnSpec,
        in_recovery: bool,
        counting: Counting,
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
        let late: Vec<(String, String)> = sqlx::query(RELATION_NAMES)
            .fetch_all(&mut self.conn)
            .await
            .map_err(&q)?
            .iter()
            .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1)))
            .filter(|(s, n)| dumped(s, n) && !self.locked.contains(&(s.clone(), n.clone())))
            .collect();
        match self.lock_all(spec, &late).await {
            Ok(()) => {}
            // Created and dropped again after the snapshot: pg_dump does not see it either.
            Err(LockFailure::Gone) => {
                return Err(PgError::Query {
                    addr: spec.addr(),
                    detail: "a table was dropped while pgshelf locked it for the dump. Fix: run the backup again".into(),
                })
            }
            Err(LockFailure::Failed(e)) => return Err(e),
        }
        let rows = sqlx::query(RELATIONS)
            .fetch_all(&mut self.conn)
            .await
            .map_err(&q)?;
        // Sizes of the dumped tables only, now that they are locked (the
        // size functions lock a relation too, and would wait on a table
        // another session holds that the dump does not even touch).
        let oids: Vec<i64> = rows
            .iter()
            .filter(|r| dumped(&r.get::<String, _>(0), &r.get::<String, _>(1)))
            .map(|r| r.get::<i64, _>(5))
            .collect();
        let sizes: std::collections::HashMap<i64, (i64, i64)> = sqlx::query_as(
            "SELECT o, pg_total_relation_size(o::oid), pg_table_size(o::oid)
               FROM unnest($1::int8[]) AS o",
        )
        .bind(&oids)
        .fetch_all(&mut self.conn)
        .await
        .map_err(&q)?
        .into_iter()
        .map(|(o, total, data): (i64, Option<i64>, Option<i64>)| {
            (o, (total.unwrap_or(0), data.unwrap_or(0)))
        })
        .collect();
        let edges: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT i.inhrelid::int8, i.inhparent::int8 FROM pg_inherits i
               JOIN pg_class p ON p.oid = i.inhparent WHERE p.relkind = 'p'",
        )
        .fetch_all(&mut self.conn)
        .await
        .map_err(&q)?;
        let by_oid: std::collections::HashMap<i64, (String, String)> = rows
            .iter()
            .map(|r| {
                (
                    r.get::<i64, _>(5),
                    (r.get::<String, _>(0), r.get::<String, _>(1)),
                )
            })
            .collect();
        let mut out = Vec::with_capacity(rows.len());
        let mut all_tables = Vec::with_capacity(rows.len());
        let mut warnings = Vec::new();
        for r in rows {
            let schema: String = r.get(0);
            let name: String = r.get(1);
            let kind: String = r.get(2);
            let oid: i64 = r.get(5);
            all_tables.push((schema.clone(), name.clone()));
            if !dumped(&schema, &name) {
                continue;
            }
            let kind_word = if kind == "p" { "partitioned" } else { "table" }.to_owned();
            let (bytes, data_bytes) = sizes.get(&oid).copied().unwrap_or((0, 0));
            let unlogged: bool = r.get(3);
            if in_recovery && unlogged {
                warnings.push(format!(
                    "unlogged table {}.{}: a standby cannot read its data, so this backup has its structure only; dump from the primary to include it",
                    quote_ident(&schema),
                    quote_ident(&name)
                ));
                out.push(TableInfo {
                    schema,
                    name,
                    kind: kind_word,
                    bytes,
                    rows: 0,
                    data_excluded: true,
                    rows_estimated: false,
                    rows_from: RowsFrom::Snapshot,
                });
                continue;
            }
            let reltuples: f64 = r.get(4);
            // A partitioned table has no rows of its own: its partitions are
            // counted (once each) and summed into it below.
            let (rows, from) = match (counting, kind.as_str()) {
                (_, "p") => (0, RowsFrom::Dump),
                // Replaced by the dump's own count once it has streamed; the
                // estimate stays (marked) only if that count fails.
                (Counting::FromDump, _) => (reltuples.max(0.0).round() as i64, RowsFrom::Estimate),
                (Counting::Sql { exact_max_bytes }, _)
                    if data_bytes as u64 > exact_max_bytes && reltuples >= 0.0 =>
                {
                    (reltuples.round() as i64, RowsFrom::Estimate)
                }
                (Counting::Sql { .. }, _) => {
                    // ONLY, so inheritance children are not counted twice.
                    let sql = format!(
                        "SELECT count(*) FROM ONLY {}.{}",
                        quote_ident(&schema),
                        quote_ident(&name)
                    );
                    let n: i64 = sqlx::query_scalar(&sql)
                        .fetch_one(&mut self.conn)
                        .await
                        .map_err(&q)?;
                    (n, RowsFrom::Snapshot)
                }
            };
            let from = match (counting, kind.as_str()) {
                (Counting::Sql { .. }, "p") => RowsFrom::Snapshot,
                _ => from,
            };
            out.push(TableInfo {
                schema,
                name,
                kind: kind_word,
                bytes,
                rows,
                data_excluded: false,
                rows_estimated: from == RowsFrom::Estimate,
                rows_from: from,
            });
        }
        let partition_of = edges
            .iter()
            .filter_map(|(c, p)| Some((by_oid.get(c)?.clone(), by_oid.get(p)?.clone())))
            .collect::<Vec<_>>();
        roll_up_partitions(&mut out, &partition_of);
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
            partition_of,
        })
    }

    /// Tears the session down after a failed dump: a query of ours may still
    /// be waiting on the server (on a lock, say), so the socket is dropped and
    /// the backend terminated from a fresh connection, best effort.
    pub async fn abandon(self, spec: &ConnSpec, dbname: &str) {
        let pid = self.backend_pid;
        drop(self.conn);
        terminate_backend(spec, dbname, pid).await;
    }

    /// The server process of this session (to end it after a watchdog
    /// dropped the session mid-query).
    pub fn backend_pid(&self) -> i32 {
        self.backend_pid
    }

    /// Ends the transaction.
    pub async fn close(mut self) {
        let _ = sqlx::query("COMMIT").execute(&mut self.conn).await;
        let _ = self.conn.close().await;
    }
}

/// Why locking stopped.
enum LockFailure {
    /// A listed table no longer exists (dropped meanwhile).
    Gone,
    Failed(PgError),
}

/// Terminates a backend of ours from a fresh connection, best effort, within
/// 5 s (a dropped session's query may still be waiting on the server).
pub async fn terminate_backend(spec: &ConnSpec, dbname: &str, pid: i32) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn t(schema: &str, name: &str, kind: &str, rows: i64, from: RowsFrom) -> TableInfo {
        TableInfo {
            schema: schema.into(),
            name: name.into(),
            kind: kind.into(),
            bytes: 0,
            rows,
            data_excluded: false,
            rows_estimated: from == RowsFrom::Estimate,
            rows_from: from,
        }
    }

    fn of(c: &str, p: &str) -> ((String, String), (String, String)) {
        (("s".into(), c.into()), ("s".into(), p.into()))
    }

    #[test]
    fn partitions_are_summed_once_into_every_ancestor() {
        use RowsFrom::*;
        // events -> (y2025 leaf, y2026 -> (q1 leaf, q2 leaf)); plain stays as is.
        let mut tables = vec![
            t("s", "events", "partitioned", 999, Snapshot),
            t("s", "y2025", "table", 10, Snapshot),
            t("s", "y2026", "partitioned", 999, Snapshot),
            t("s", "q1", "table", 5, Snapshot),
            t("s", "q2", "table", 7, Estimate),
            t("s", "plain", "table", 3, Snapshot),
        ];
        let edges = [
            of("y2025", "events"),
            of("y2026", "events"),
            of("q1", "y2026"),
            of("q2", "y2026"),
        ];
        roll_up_partitions(&mut tables, &edges);
        let get = |n: &str| tables.iter().find(|t| t.name == n).unwrap().clone();
        assert_eq!(get("events").rows, 22);
        assert!(
            get("events").rows_estimated,
            "an estimated leaf makes the sum one"
        );
        assert_eq!(get("events").rows_from, Estimate);
        assert_eq!(get("y2026").rows, 12);
        assert_eq!((get("y2025").rows, get("plain").rows), (10, 3));
        // A parent whose partitions are not dumped holds no rows.
        let mut lone = vec![t("s", "p", "partitioned", 5, Snapshot)];
        roll_up_partitions(&mut lone, &[]);
        assert_eq!(lone[0].rows, 0);
        // Idempotent: rolling up again changes nothing.
        let before = tables.clone();
        roll_up_partitions(&mut tables, &edges);
        assert_eq!(tables, before);
    }
}
