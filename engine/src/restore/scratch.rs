//! Scratch databases: a safe, unique name on the server, `CREATE DATABASE`,
//! `DROP DATABASE ... WITH (FORCE)`, and the connection string shown to
//! users (never with a password).
//!
//! pgshelf drops only databases it recorded as scratch and has not dropped
//! yet (the facade checks the catalog before [`drop_database`] runs).

use chrono::{DateTime, Utc};
use sqlx::{Connection, PgConnection};

use super::RestoreError;
use crate::catalog::{ScratchRecord, ServerRow};
use crate::pg::args::quote_ident;
use crate::pg::{ConnSpec, PgError};
use model::restore::{numbered, scratch_name, ScratchDatabase};

/// A query on `spec`'s server that failed, as a restore error.
pub(super) fn query_err(spec: &ConnSpec) -> impl Fn(sqlx::Error) -> RestoreError + '_ {
    move |e| {
        RestoreError::Pg(PgError::Query {
            addr: spec.addr(),
            detail: e.to_string(),
        })
    }
}

/// Whether a database of this exact name exists on the server.
pub async fn exists(
    spec: &ConnSpec,
    conn: &mut PgConnection,
    name: &str,
) -> Result<bool, RestoreError> {
    sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(conn)
        .await
        .map_err(query_err(spec))
}

/// `scratch_<db>_<yyyymmdd_hhmm>`, with `_2`, `_3`, ... when that name is
/// taken on the server (or by `taken`, the catalog's undropped scratch names).
pub async fn unique_name(
    spec: &ConnSpec,
    conn: &mut PgConnection,
    database: &str,
    at: DateTime<Utc>,
    taken: &[String],
) -> Result<String, RestoreError> {
    let base = scratch_name(database, at);
    for n in 1..10_000 {
        let name = numbered(&base, n);
        if !taken.contains(&name) && !exists(spec, conn, &name).await? {
            return Ok(name);
        }
    }
    Err(RestoreError::Invalid {
        field: "into",
        message: format!("every name like {base}_N is taken. Fix: drop old scratch databases"),
    })
}

/// `CREATE DATABASE "name" TEMPLATE template0` (empty, whatever template1 holds).
pub async fn create_database(
    spec: &ConnSpec,
    conn: &mut PgConnection,
    name: &str,
) -> Result<(), RestoreError> {
    check_name(name)?;
    sqlx::query(&format!(
        "CREATE DATABASE {} TEMPLATE template0",
        quote_ident(name)
    ))
    .execute(conn)
    .await
    .map_err(query_err(spec))?;
    Ok(())
}

/// `DROP DATABASE IF EXISTS "name" WITH (FORCE)`: sessions connected to it
/// are ended.
pub async fn drop_database(
    spec: &ConnSpec,
    maintenance_db: &str,
    name: &str,
) -> Result<(), RestoreError> {
    let mut conn = spec.connect(maintenance_db).await?;
    let r = sqlx::query(&format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_ident(name)
    ))
    .execute(&mut conn)
    .await
    .map_err(query_err(spec));
    let _ = conn.close().await;
    r.map(|_| ())
}

/// A database name PostgreSQL takes: 1 to 63 bytes, no NUL.
pub fn check_name(name: &str) -> Result<(), RestoreError> {
    if name.is_empty() || name.len() > 63 || name.contains('\0') {
        return Err(RestoreError::Invalid {
            field: "into",
            message: format!(
                "{name:?} is not a database name PostgreSQL accepts (1 to 63 bytes). Fix: choose a shorter name"
            ),
        });
    }
    Ok(())
}

/// `postgres://user@host:port/name`, never with a password.
pub fn connection_string(server: &ServerRow, name: &str) -> String {
    let host = if server.host.contains(':') {
        format!("[{}]", server.host)
    } else {
        server.host.clone()
    };
    format!(
        "postgres://{}@{host}:{}/{}",
        pct(&server.username),
        server.port,
        pct(name)
    )
}

/// Percent-encodes everything but unreserved URL characters.
fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A scratch record as shown, with its server's name and connection string.
pub fn view(r: &ScratchRecord, server: Option<&ServerRow>) -> ScratchDatabase {
    ScratchDatabase {
        id: r.id,
        server_id: r.server_id,
        server_name: server.map(|s| s.name.clone()).unwrap_or_default(),
        name: r.name.clone(),
        database: r.database.clone(),
        backup_id: r.backup_id,
        purpose: r.purpose.clone(),
        created_by: r.created_by.clone(),
        created_at: r.created_at,
        dropped_at: r.dropped_at,
        connection: server
            .map(|s| connection_string(s, &r.name))
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_strings_have_no_password() {
        let now = Utc::now();
        let s = ServerRow {
            id: 1,
            name: "prod".into(),
            host: "::1".into(),
            port: 5433,
            username: "o'brien@x".into(),
            password_enc: Some("sealed".into()),
            sslmode: "prefer".into(),
            maintenance_db: "postgres".into(),
            created_at: now,
            updated_at: now,
            ssl_root_cert: None,
            ssl_client_cert: None,
            ssl_client_key_enc: None,
        };
        assert_eq!(
            connection_string(&s, "scratch_a b"),
            "postgres://o%27brien%40x@[::1]:5433/scratch_a%20b"
        );
        assert!(check_name(&"x".repeat(64)).is_err());
        assert!(check_name("scratch_ok").is_ok());
    }
}
