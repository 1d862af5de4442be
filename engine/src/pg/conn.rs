//! Connecting to a PostgreSQL server with sqlx: version, databases, tables,
//! and the exported snapshot a dump runs in.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::{Connection, PgConnection, Row};

use super::args::quote_ident;
use super::tools::major_of_num;
use super::PgError;
use crate::secrets::Secret;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How to reach a server (the password in memory only).
#[derive(Debug, Clone)]
pub struct ConnSpec {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<Secret>,
    pub sslmode: String,
}

impl ConnSpec {
    /// `host:port`, for messages.
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    fn options(&self, dbname: &str) -> PgConnectOptions {
        let mut o = PgConnectOptions::new_without_pgpass()
            .host(&self.host)
            .port(self.port)
            .username(&self.user)
            .database(dbname)
            .application_name("pgshelf")
            .ssl_mode(parse_sslmode(&self.sslmode));
        if let Some(p) = &self.password {
            o = o.password(p.expose());
        }
        o
    }

    /// Opens one connection to `dbname`, with failures turned into causes.
    pub async fn connect(&self, dbname: &str) -> Result<PgConnection, PgError> {
        match tokio::time::timeout(
            CONNECT_TIMEOUT,
            PgConnection::connect_with(&self.options(dbname)),
        )
        .await
        {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(classify(self, dbname, e)),
            Err(_) => Err(PgError::Unreachable {
                addr: self.addr(),
                detail: format!("no answer within {}s", CONNECT_TIMEOUT.as_secs()),
            }),
        }
    }
}

/// sslmode names as libpq takes them; unknown ones fall back to `prefer`.
pub fn parse_sslmode(s: &str) -> PgSslMode {
    match s {
        "disable" => PgSslMode::Disable,
        "allow" => PgSslMode::Allow,
        "require" => PgSslMode::Require,
        "verify-ca" => PgSslMode::VerifyCa,
        "verify-full" => PgSslMode::VerifyFull,
        _ => PgSslMode::Prefer,
    }
}

pub use model::server::SSLMODES;

/// Turns a connection error into a cause a person can act on.
pub fn classify(spec: &ConnSpec, dbname: &str, e: sqlx::Error) -> PgError {
    let addr = spec.addr();
    match &e {
        sqlx::Error::Database(d) => {
            let code = d.code().map(|c| c.to_string()).unwrap_or_default();
            match code.as_str() {
                "28P01" => PgError::WrongPassword {
                    user: spec.user.clone(),
                    addr,
                },
                "28000" => PgError::Rejected {
                    user: spec.user.clone(),
                    addr,
                    detail: d.message().to_owned(),
                },
                "3D000" => PgError::NoDatabase {
                    database: dbname.to_owned(),
                    addr,
                },
                _ => PgError::Query {
                    addr,
                    detail: d.message().to_owned(),
                },
            }
        }
        sqlx::Error::Io(io) => PgError::Unreachable {
            addr,
            detail: io.to_string(),
        },
        sqlx::Error::Tls(t) => PgError::Tls {
            addr,
            detail: t.to_string(),
        },
        sqlx::Error::PoolTimedOut => PgError::Unreachable {
            addr,
            detail: "timed out".into(),
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
                PgError::Query { addr, detail: msg }
            }
        }
    }
}

fn query_err(spec: &ConnSpec) -> impl Fn(sqlx::Error) -> PgError + '_ {
    move |e| match e {
        sqlx::Error::Database(ref d) if d.code().as_deref() == Some("3D000") => {
            classify(spec, "", e)
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
