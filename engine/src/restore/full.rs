//! Whole-backup restores: into a new database or over an existing one
//! (`--clean --if-exists`, only with the database name typed to confirm),
//! into a scratch database (test-restores), and a server rebuild (globals
//! first, then each database).
//!
//! Globals are applied with `psql -X -v ON_ERROR_STOP=0`; roles that exist
//! on the target already are left as they are: their `CREATE ROLE`,
//! `ALTER ROLE` and `COMMENT ON ROLE` lines are taken out of the script
//! first (so a rebuild never changes the password or attributes of a role
//! the target has), and an "already exists" error left over is counted as
//! expected, not as a failure.

use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::path::Path;
use std::time::Instant;

use sqlx::{Connection, PgConnection, Row};

use super::fetch::{self, Source, WorkDir};
use super::jobs::Track;
use super::scratch::query_err;
use super::tools::{self, ToolConn};
use super::{RestoreError, RestoreManifest};
use crate::catalog::{Backup, ServerRow};
use crate::pg::{ConnSpec, PgTools, ServerInfo};
use crate::pipeline::stream::Program;
use crate::toc::TableRef;
use crate::{Engine, Error};
use model::restore::{RestoreRequest, RestoreResult};

/// A backup with what a restore needs to read it.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub backup: Backup,
    pub manifest: RestoreManifest,
    /// Its directory on the destination, ending in `/`.
    pub dir: String,
    /// Where it is read from: its first complete copy.
    pub destination: crate::storage::Destination,
    /// The identity that decrypts it (encrypted artifacts), given for this
    /// restore only.
    pub identity: Option<crate::crypt::Identity>,
}

impl Artifact {
    pub fn source(&self) -> Source<'_> {
        Source {
            destination: &self.destination,
            dir: &self.dir,
            manifest: &self.manifest,
            identity: self.identity.as_ref(),
        }
    }

    /// Takes the identity for this restore: fails at once when the
    /// artifact is encrypted and it is missing or matches none of the
    /// manifest's recipients, before any work.
    pub fn with_identity(
        mut self,
        identity: Option<crate::crypt::Identity>,
    ) -> Result<Artifact, RestoreError> {
        fetch::check_identity(&self.manifest, identity.as_ref())?;
        self.identity = identity;
        Ok(self)
    }
}

/// A target server, connected to its maintenance database.
pub struct Target {
    pub row: ServerRow,
    pub spec: ConnSpec,
    pub info: ServerInfo,
}

impl Engine {
    /// A backup that can be restored: finished successfully, not pruned,
    /// with its manifest.
    pub(crate) async fn artifact(&self, backup_id: i64) -> Result<Artifact, Error> {
        let backup = self.inner.catalog.backup(backup_id).await?;
        if backup.status.is_active() || backup.status == crate::catalog::BackupStatus::Failed {
            return Err(RestoreError::NotRestorable {
                id: backup_id,
                status: backup.status.to_string(),
            }
            .into());
        }
        if backup.pruned_at.is_some() {
            return Err(RestoreError::Pruned(backup_id).into());
        }
        let text = self
            .inner
            .catalog
            .manifest(backup_id)
            .await?
            .ok_or(RestoreError::NoManifest(backup_id))?;
        let manifest: RestoreManifest =
            serde_json::from_str(&text).map_err(|e| RestoreError::Damaged {
                path: "manifest.json (in the catalog)".into(),
                detail: e.to_string(),
            })?;
        let (destination, dir) =
            self.inner
                .ctx
                .registry
                .source_of(&backup)
                .await
                .map_err(|detail| RestoreError::Unreachable {
                    id: backup_id,
                    detail,
                })?;
        let dir = if dir.ends_with('/') {
            dir
        } else {
            format!("{dir}/")
        };
        Ok(Artifact {
            backup,
            manifest,
            dir,
            destination,
            identity: None,
        })
    }

    /// Connects to a target server and reads its version.
    pub(crate) async fn restore_target(&self, server_id: i64) -> Result<Target, Error> {
        let (row, spec) = self.spec(server_id).await?;
        let mut conn = spec.connect(&row.maintenance_db).await?;
        let info = crate::pg::conn::server_info(&spec, &mut conn).await?;
        let _ = conn.close().await;
        Ok(Target { row, spec, info })
    }

    /// The work directory of a restore of `backup_id`.
    pub(crate) fn restore_workdir(&self, backup_id: i64) -> Result<WorkDir, RestoreError> {
        WorkDir::new(&self.inner.ctx.spool_dir, backup_id)
    }
}

/// Refuses a globals backup where a database is restored.
pub fn require_database(a: &Artifact, what: &'static str) -> Result<(), RestoreError> {
    if a.manifest.kind != "database" {
        return Err(RestoreError::WrongKind {
            id: a.backup.id,
            kind: a.manifest.kind.clone(),
            what,
        });
    }
    Ok(())
}

/// Every user table of the database behind `conn` with its row count
/// (partitioned parents counting their partitions, plain tables `ONLY`
/// themselves, as the manifest counts them).
pub async fn count_tables(
    spec: &ConnSpec,
    conn: &mut PgConnection,
) -> Result<Vec<(TableRef, i64)>, RestoreError> {
    let q = query_err(spec);
    let rows = sqlx::query(
        "SELECT n.nspname::text, c.relname::text, c.relkind::text
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p')
            AND n.nspname NOT IN ('pg_catalog', 'information_schema')
            AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
            AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
          ORDER BY 1, 2",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(&q)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let t = TableRef::new(r.get::<String, _>(0), r.get::<String, _>(1));
        let n = count_rows(conn, only(&r.get::<String, _>(2)), &t)
            .await
            .map_err(&q)?;
        out.push((t, n));
    }
    Ok(out)
}

/// pg_restore of `archive` with `opts` into database `db` of `target`: a
/// failure is an error unless pg_restore went on past errors ("errors
/// ignored on restore"), which the outcome then lists.
pub(super) async fn run_pg_restore(
    target: &Target,
    tools: &PgTools,
    db: &str,
    work: &Path,
    opts: &[&str],
    archive: &Path,
    extra_env: &[(OsString, OsString)],
) -> Result<tools::RunOutcome, RestoreError> {
    let c = ToolConn::new(&target.spec, db, work)?;
    let program = Program {
        path: tools.pg_restore(),
        args: tools::pg_restore_args(opts, &c.conninfo, archive),
        label: format!("pg_restore {}", tools.version),
    };
    let run = tools::run(&program, c.pass.as_ref(), extra_env).await?;
    if !run.success && !run.tail.contains("errors ignored on restore") {
        return Err(RestoreError::Program {
            program: program.label,
            cause: run.cause(),
        });
    }
    Ok(run)
}

/// `ONLY ` before a plain table (relkind `r`); nothing before a
/// partitioned one, so that its partitions' rows count too.
pub(super) fn only(relkind: &str) -> &'static str {
    if relkind == "r" {
        "ONLY "
    } else {
        ""
    }
}

/// `SELECT count(*) FROM {only}table`: a table's exact row count.
pub(super) async fn count_rows(
    conn: &mut PgConnection,
    only: &str,
    t: &TableRef,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {only}{}", t.sql()))
        .fetch_one(conn)
        .await
}

/// What applying a globals backup did.
#[derive(Debug, Clone, Default)]
pub struct GlobalsOutcome {
    /// Roles the target had already, left as they were.
    pub kept_roles: Vec<String>,
    /// Errors that were expected ("already exists").
    pub expected_errors: i64,
    /// Other errors psql reported and went past.
    pub warnings: Vec<String>,
}

/// Applies a globals backup to a server with psql: roles created only if
/// missing (see the module doc).
pub async fn apply_globals(
    globals: &Artifact,
    target: &Target,
    tools: &PgTools,
    work: &Path,
) -> Result<GlobalsOutcome, Error> {
    if globals.manifest.kind != "globals" {
        return Err(RestoreError::WrongKind {
            id: globals.backup.id,
            kind: globals.manifest.kind.clone(),
            what: "a rebuild applies a globals backup first",
        }
        .into());
    }
    let fetched = fetch::fetch_all(globals.source(), work, false).await?;
    let mut conn = target.spec.connect(&target.row.maintenance_db).await?;
    let existing: Vec<String> = sqlx::query_scalar("SELECT rolname::text FROM pg_roles")
        .fetch_all(&mut conn)
        .await
        .map_err(query_err(&target.spec))?;
    let _ = conn.close().await;
    let script = work.join("globals.filtered.sql");
    let kept_roles =
        filter_globals(&fetched.archive, &script, &existing).map_err(|e| RestoreError::Local {
            path: script.display().to_string(),
            detail: e.to_string(),
        })?;
    let c = ToolConn::new(&target.spec, &target.row.maintenance_db, work)?;
    let program = Program {
        path: tools.psql(),
        args: tools::psql_script_args(&c.conninfo, &script),
        label: format!("psql {}", tools.version),
    };
    let run = tools::run(&program, c.pass.as_ref(), &[]).await?;
    // psql exits 0 with ON_ERROR_STOP=0 unless it could not run at all.
    if !run.success {
        return Err(RestoreError::Program {
            program: program.label,
            cause: run.cause(),
        }
        .into());
    }
    let mut out = GlobalsOutcome {
        kept_roles,
        ..GlobalsOutcome::default()
    };
    for e in run.errors {
        if e.contains("already exists") {
            out.expected_errors += 1;
        } else {
            out.warnings.push(e);
        }
    }
    Ok(out)
}

/// Copies a pg_dumpall globals script, leaving out the `CREATE ROLE`,
/// `ALTER ROLE` and `COMMENT ON ROLE` lines of roles in `existing`.
/// Returns those roles. Reads and writes line by line.
pub fn filter_globals(from: &Path, to: &Path, existing: &[String]) -> std::io::Result<Vec<String>> {
    let mut input = std::io::BufReader::new(std::fs::File::open(from)?);
    let mut out = std::io::BufWriter::new(std::fs::File::create(to)?);
    let mut kept: Vec<String> = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        if let Some(role) = role_of(&text) {
            if existing.iter().any(|r| r == &role) {
                if !kept.contains(&role) {
                    kept.push(role);
                }
                continue;
            }
        }
        out.write_all(&line)?;
    }
    out.flush()?;
    Ok(kept)
}

/// The role a `CREATE ROLE`, `ALTER ROLE` or `COMMENT ON ROLE` line is about.
pub fn role_of(line: &str) -> Option<String> {
    let rest = ["CREATE ROLE ", "ALTER ROLE ", "COMMENT ON ROLE "]
        .iter()
        .find_map(|p| line.strip_prefix(p))?;
    if let Some(q) = rest.strip_prefix('"') {
        let mut name = String::new();
        let mut chars = q.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    name.push('"');
                } else {
                    return Some(name);
                }
            } else {
                name.push(c);
            }
        }
        None
    } else {
        let name: String = rest
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != ';')
            .collect();
        (!name.is_empty()).then_some(name)
    }
}

/// Restores a whole backup into `req.into` on `target` (created when
/// missing; replaced only with `clean` and the name confirmed).
pub async fn restore_full(
    engine: &Engine,
    art: &Artifact,
    target: &Target,
    req: &RestoreRequest,
    track: &Track,
) -> Result<RestoreResult, Error> {
    let started = Instant::now();
    require_database(art, "a full restore takes a database backup")?;
    tools::check_target(&target.row.name, &target.info, &art.manifest)?;
    let tools = tools::for_archive(&engine.inner.ctx.tools, &art.manifest).await?;
    let into = req.into.trim();
    super::scratch::check_name(into)?;
    let mut conn = target.spec.connect(&target.row.maintenance_db).await?;
    let exists = super::scratch::exists(&target.spec, &mut conn, into).await?;
    if exists {
        if !req.clean {
            return Err(RestoreError::DatabaseExists {
                database: into.to_owned(),
                server: target.row.name.clone(),
            }
            .into());
        }
        if req.confirm.as_deref() != Some(into) {
            return Err(RestoreError::ConfirmMismatch {
                database: into.to_owned(),
                typed: req.confirm.clone().unwrap_or_default(),
            }
            .into());
        }
    }
    let maintenance = tools::maintenance_options(&engine.inner.restore.maintenance_work_mem)?;
    track.step("fetching");
    let work = engine.restore_workdir(art.backup.id)?;
    let fetched = fetch::fetch_all(art.source(), work.path(), false).await?;
    if !exists {
        track.step("creating the database");
        super::scratch::create_database(&target.spec, &mut conn, into).await?;
    }
    let _ = conn.close().await;
    let fetched_in = started.elapsed();
    track.step("restoring");
    let jobs = format!("--jobs={}", req.jobs.max(1));
    let mut opts: Vec<&str> = Vec::new();
    if req.jobs > 1 {
        opts.push(&jobs);
    }
    if exists {
        opts.extend(["--clean", "--if-exists"]);
    }
    let run = run_pg_restore(
        target,
        &tools,
        into,
        work.path(),
        &opts,
        &fetched.archive,
        &[maintenance],
    )
    .await?;
    let restored_in = started.elapsed();
    track.step("counting rows");
    let mut conn = target.spec.connect(into).await?;
    let counted = count_tables(&target.spec, &mut conn).await?;
    let _ = conn.close().await;
    tracing::info!(
        backup = art.backup.id,
        database = into,
        fetch_ms = fetched_in.as_millis() as u64,
        pg_restore_ms = (restored_in - fetched_in).as_millis() as u64,
        count_ms = (started.elapsed() - restored_in).as_millis() as u64,
        bytes_read = fetched.bytes_read,
        "restored"
    );
    let missing: Vec<String> = art
        .manifest
        .tables
        .iter()
        .filter(|m| {
            !counted
                .iter()
                .any(|(t, _)| t.schema == m.schema && t.name == m.name)
        })
        .map(|m| TableRef::new(&m.schema, &m.name).display())
        .collect();
    if !missing.is_empty() {
        return Err(RestoreError::TablesMissing {
            tables: missing.join(", "),
            errors: run.errors,
        }
        .into());
    }
    let tables = art
        .manifest
        .tables
        .iter()
        .filter_map(|m| {
            counted
                .iter()
                .find(|(t, _)| t.schema == m.schema && t.name == m.name)
                .map(|(t, n)| (t.schema.clone(), t.name.clone(), *n))
        })
        .collect();
    Ok(RestoreResult {
        server_name: target.row.name.clone(),
        database: into.to_owned(),
        duration_ms: started.elapsed().as_millis() as i64,
        tables,
        warnings: run.errors,
        bytes_read: fetched.bytes_read,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_of_globals_lines() {
        assert_eq!(role_of("CREATE ROLE app;").as_deref(), Some("app"));
        assert_eq!(
            role_of("ALTER ROLE app WITH NOSUPERUSER INHERIT LOGIN PASSWORD 'SCRAM-SHA-256$x';")
                .as_deref(),
            Some("app")
        );
        assert_eq!(
            role_of("CREATE ROLE \"Odd \"\"Role\"\"\";").as_deref(),
            Some("Odd \"Role\"")
        );
        assert_eq!(
            role_of("ALTER ROLE \"Odd \"\"Role\"\"\" SET search_path TO x;").as_deref(),
            Some("Odd \"Role\"")
        );
        assert_eq!(
            role_of("COMMENT ON ROLE app IS 'x';").as_deref(),
            Some("app")
        );
        assert_eq!(role_of("GRANT app TO bob;"), None);
        assert_eq!(role_of("CREATE TABLESPACE t LOCATION '/x';"), None);
    }

    #[test]
    fn existing_roles_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("g.sql");
        let to = dir.path().join("f.sql");
        std::fs::write(
            &from,
            "SET default_transaction_read_only = off;\n\
             CREATE ROLE app;\n\
             ALTER ROLE app WITH LOGIN PASSWORD 'h1';\n\
             CREATE ROLE postgres;\n\
             ALTER ROLE postgres WITH SUPERUSER LOGIN PASSWORD 'h2';\n\
             GRANT app TO postgres;\n",
        )
        .unwrap();
        let kept = filter_globals(&from, &to, &["postgres".to_owned()]).unwrap();
        assert_eq!(kept, ["postgres"]);
        assert_eq!(
            std::fs::read_to_string(&to).unwrap(),
            "SET default_transaction_read_only = off;\n\
             CREATE ROLE app;\n\
             ALTER ROLE app WITH LOGIN PASSWORD 'h1';\n\
             GRANT app TO postgres;\n"
        );
    }
}
