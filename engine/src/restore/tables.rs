//! One or more tables restored whole into a scratch database.
//!
//! 1. The target server is checked (not older than the dump's source) and a
//!    pg_restore new enough for the archive is chosen.
//! 2. The archive's table of contents is fetched (custom format: the whole
//!    archive into a local file; directory format: `toc.dat` only), the
//!    chosen tables' entries are selected ([`toc::select_tables`]: the
//!    table, its types, functions, sequences, defaults, constraints,
//!    indexes, triggers, comments, grants, partitions; a table not in the
//!    backup is refused naming the closest matches), and for directory
//!    format only those tables' data files are fetched.
//! 3. A scratch database is created and recorded (or a recorded one named
//!    by `into` reused), and `pg_restore --no-owner -L <list>` replays the
//!    entries into it; its errors are collected.
//! 4. Each restored table must be there (else the restore fails, naming it
//!    and pg_restore's errors, and a scratch database it created is
//!    dropped); its rows are counted and its first 20 rows read as text,
//!    beside the count recorded at dump time.

use std::time::Instant;

use sqlx::{Connection, PgConnection, Row};

use super::fetch;
use super::full::{count_rows, only, require_database, run_pg_restore, Target};
use super::jobs::Track;
use super::scratch::{self, query_err};
use super::tools;
use super::RestoreError;
use crate::catalog::ScratchRecord;
use crate::pg::ConnSpec;
use crate::toc::{self, TableRef};
use crate::{Engine, Error};
use model::restore::{RestoredTable, SkippedObject, TableRestoreRequest, TableRestoreResult};

/// Rows shown per restored table.
pub const SAMPLE_ROWS: i64 = 20;

/// Restores the chosen tables into a scratch database; see the module doc.
pub(crate) async fn restore_tables(
    engine: &Engine,
    req: &TableRestoreRequest,
    who: &str,
    track: &Track,
    identity: Option<crate::crypt::Identity>,
) -> Result<TableRestoreResult, Error> {
    let started = Instant::now();
    let art = engine.artifact(req.backup_id).await?;
    require_database(&art, "a table restore takes a database backup")?;
    let art = art.with_identity(identity)?;
    if req.tables.is_empty() {
        return Err(RestoreError::Invalid {
            field: "tables",
            message: "no table chosen. Fix: pick at least one table (schema.table)".into(),
        }
        .into());
    }
    let wanted: Vec<TableRef> = req
        .tables
        .iter()
        .map(|t| TableRef::parse(t))
        .collect::<Result<_, _>>()
        .map_err(RestoreError::from)?;
    let server_id = req
        .server_id
        .or(art.backup.server_id)
        .ok_or(RestoreError::NoServer(req.backup_id))?;
    let target = engine.restore_target(server_id).await?;
    tools::check_target(&target.row.name, &target.info, &art.manifest)?;
    let tools = tools::for_archive(&engine.inner.ctx.tools, &art.manifest).await?;

    // Decide the target database before fetching anything: a name that is
    // neither free nor a recorded scratch database is refused at once.
    let into = match req.into.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Into::New(None),
        Some(name) => {
            scratch::check_name(name)?;
            match engine.inner.catalog.scratch_on(server_id, name).await? {
                Some(r) => Into::Existing(r),
                None => {
                    let mut conn = target.spec.connect(&target.row.maintenance_db).await?;
                    let taken = scratch::exists(&target.spec, &mut conn, name).await?;
                    let _ = conn.close().await;
                    if taken {
                        return Err(RestoreError::NotScratch {
                            database: name.to_owned(),
                            server: target.row.name.clone(),
                        }
                        .into());
                    }
                    Into::New(Some(name.to_owned()))
                }
            }
        }
    };

    track.step("fetching");
    let work = engine.restore_workdir(req.backup_id)?;
    let src = art.source();
    let (archive, mut fetched) = fetch::fetch_toc(src, work.path()).await?;
    let selection =
        toc::select_tables(&archive, &wanted, req.with_referenced).map_err(RestoreError::from)?;
    fetch::fetch_table_data(src, &selection, &mut fetched).await?;
    tracing::info!(
        backup = req.backup_id,
        "table restore read from storage: {}",
        fetched.read.join(", ")
    );
    let names: Vec<String> = selection.tables.iter().map(TableRef::display).collect();

    let (record, created) = match into {
        Into::Existing(r) => (r, false),
        Into::New(name) => {
            track.step("creating the scratch database");
            let r = engine
                .create_scratch(&target, &art, name.as_deref(), "table", who, &names)
                .await?;
            (r, true)
        }
    };
    track.label(super::facade::table_label(
        req,
        Some((&record.name, &target.row.name)),
    ));
    let run = engine
        .inner
        .catalog
        .start_restore_run("table", req.backup_id, server_id, &record.name, who)
        .await?;
    let result = replay(
        &art.manifest,
        &target,
        &tools,
        &record,
        &archive,
        &selection,
        &fetched,
        work.path(),
        track,
    )
    .await;
    engine.end_run(run, &result).await;
    let (tables, errors) = match result {
        Ok(v) => v,
        Err(e) => {
            if created {
                // Nothing half-done is left looking like a good restore.
                if let Err(d) =
                    scratch::drop_database(&target.spec, &target.row.maintenance_db, &record.name)
                        .await
                {
                    tracing::warn!(
                        "cannot drop the failed scratch database {}: {d}",
                        record.name
                    );
                } else {
                    let _ = engine.inner.catalog.mark_scratch_dropped(record.id).await;
                }
            }
            return Err(e);
        }
    };
    if !created {
        engine
            .inner
            .catalog
            .add_scratch_tables(record.id, &names)
            .await?;
    }
    let record = engine.inner.catalog.scratch(record.id).await?;
    Ok(TableRestoreResult {
        scratch: scratch::view(&record, Some(&target.row)),
        tables,
        skipped: selection
            .skipped
            .iter()
            .map(|s| SkippedObject {
                what: s.what.clone(),
                reason: s.reason.clone(),
            })
            .collect(),
        errors,
        duration_ms: started.elapsed().as_millis() as i64,
        bytes_read: fetched.bytes_read,
    })
}

enum Into {
    /// A new scratch database, named or not.
    New(Option<String>),
    /// A recorded scratch database to add tables to.
    Existing(ScratchRecord),
}

/// Runs pg_restore with the selection's list, then checks, counts and samples.
#[allow(clippy::too_many_arguments)]
async fn replay(
    manifest: &super::RestoreManifest,
    target: &Target,
    tools: &crate::pg::PgTools,
    record: &ScratchRecord,
    archive: &toc::Archive,
    selection: &toc::Selection,
    fetched: &fetch::Fetched,
    work: &std::path::Path,
    track: &Track,
) -> Result<(Vec<RestoredTable>, Vec<String>), Error> {
    track.step("restoring");
    let list = work.join("restore.list");
    std::fs::write(&list, toc::list_file(archive, selection)).map_err(|e| RestoreError::Local {
        path: list.display().to_string(),
        detail: e.to_string(),
    })?;
    let use_list = format!("--use-list={}", list.display());
    let run = run_pg_restore(
        target,
        tools,
        &record.name,
        work,
        &["--no-owner", &use_list],
        &fetched.archive,
        &[],
    )
    .await?;
    track.step("counting rows");
    let mut conn = target.spec.connect(&record.name).await?;
    let mut out = Vec::with_capacity(selection.tables.len());
    let mut missing = Vec::new();
    for t in &selection.tables {
        match inspect(&target.spec, &mut conn, t).await? {
            None => missing.push(t.display()),
            Some((rows, columns, sample)) => {
                let m = manifest.table(t);
                out.push(RestoredTable {
                    schema: t.schema.clone(),
                    name: t.name.clone(),
                    rows_restored: rows,
                    rows_recorded: m.filter(|m| !m.data_excluded).and_then(|m| m.rows),
                    recorded_estimate: m.is_some_and(|m| m.rows_estimated),
                    columns,
                    sample,
                });
            }
        }
    }
    let _ = conn.close().await;
    if !missing.is_empty() {
        return Err(RestoreError::TablesMissing {
            tables: missing.join(", "),
            errors: run.errors,
        }
        .into());
    }
    Ok((out, run.errors))
}

type Inspected = (i64, Vec<String>, Vec<Vec<Option<String>>>);

/// A restored table's row count, column names and first rows as text;
/// `None` when the table is not there.
async fn inspect(
    spec: &ConnSpec,
    conn: &mut PgConnection,
    t: &TableRef,
) -> Result<Option<Inspected>, RestoreError> {
    let q = query_err(spec);
    let Some(row) = sqlx::query(
        "SELECT c.oid::int8, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')",
    )
    .bind(&t.schema)
    .bind(&t.name)
    .fetch_optional(&mut *conn)
    .await
    .map_err(&q)?
    else {
        return Ok(None);
    };
    let oid: i64 = row.get(0);
    let only = only(&row.get::<String, _>(1));
    let rows = count_rows(conn, only, t).await.map_err(&q)?;
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT attname::text FROM pg_attribute
          WHERE attrelid = $1::int8::oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
    )
    .bind(oid)
    .fetch_all(&mut *conn)
    .await
    .map_err(&q)?;
    let select: Vec<String> = columns
        .iter()
        .map(|c| format!("{}::text", toc::quote_ident(c)))
        .collect();
    let sample = sqlx::query(&format!(
        "SELECT {} FROM {only}{} LIMIT {SAMPLE_ROWS}",
        select.join(", "),
        t.sql()
    ))
    .fetch_all(&mut *conn)
    .await
    .map_err(&q)?
    .iter()
    .map(|r| {
        (0..columns.len())
            .map(|i| r.try_get::<Option<String>, _>(i).unwrap_or(None))
            .collect()
    })
    .collect();
    Ok(Some((rows, columns, sample)))
}
