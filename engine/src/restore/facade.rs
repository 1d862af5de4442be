//! The restore side of the [`Engine`] facade: table restores (as jobs the
//! dashboard polls, or awaited by the CLI), full restores, server rebuilds,
//! whole-backup restores into scratch for test-restores, scratch databases,
//! archive contents and artifact downloads.
//!
//! Roles are checked at the edge; `who` is recorded with each restore.

use std::time::Instant;

use chrono::Utc;
use sqlx::Connection;

use super::full::{self, Artifact};
use super::jobs::Restorer;
use super::{fetch, scratch, tools, RestoreError};
use crate::catalog::{NewScratch, Target as BackupTarget};
use crate::pipeline::stream::Program;
use crate::toc::TableRef;
use crate::{Engine, Error};
use model::restore::*;

/// The restore state an engine keeps: the `restorer` worker and settings.
#[derive(Debug, Clone)]
pub struct RestoreState {
    pub restorer: Restorer,
    /// `maintenance_work_mem` for a full restore's sessions, e.g. `1GB`.
    pub maintenance_work_mem: String,
}

impl RestoreState {
    pub fn new(maintenance_work_mem: &str) -> Self {
        RestoreState {
            restorer: Restorer::default(),
            maintenance_work_mem: maintenance_work_mem.to_owned(),
        }
    }
}

/// A whole backup restored into a new scratch database (a test-restore's
/// first half). Tolerant: what went wrong is in `errors`, and `tables`
/// holds whatever did get restored, counted.
#[derive(Debug, Clone)]
pub struct ScratchRestore {
    pub scratch: ScratchDatabase,
    /// Every user table in the scratch database with its row count
    /// (partitioned parents count their partitions).
    pub tables: Vec<(TableRef, i64)>,
    /// Damaged data and pg_restore errors: the database's restore is not whole.
    pub errors: Vec<String>,
    /// Globals that would not apply (none before the backup, a statement
    /// that failed): worth saying, but a separate artifact, so never a
    /// failure of the database's restore.
    pub globals_notes: Vec<String>,
    pub duration_ms: i64,
}

impl Engine {
    /// The `restorer` worker's status (also in [`Engine::workers`]).
    pub fn restorer_status(&self) -> model::worker::WorkerStatus {
        self.inner.restore.restorer.status()
    }

    /// What a backup holds, for the table picker (from its manifest).
    pub async fn archive_contents(&self, backup_id: i64) -> Result<ArchiveContents, Error> {
        let art = self.artifact(backup_id).await?;
        full::require_database(&art, "it holds no tables")?;
        Ok(ArchiveContents {
            backup_id,
            database: art.manifest.database.clone(),
            server_id: art.backup.server_id,
            tables: art
                .manifest
                .tables
                .iter()
                .map(|t| ArchiveTable {
                    schema: t.schema.clone(),
                    name: t.name.clone(),
                    kind: if t.kind.is_empty() {
                        "table".into()
                    } else {
                        t.kind.clone()
                    },
                    bytes: t.bytes,
                    rows: if t.data_excluded { None } else { t.rows },
                    rows_estimated: t.rows_estimated,
                    data_excluded: t.data_excluded,
                })
                .collect(),
            recipients: art.manifest.recipients().to_vec(),
        })
    }

    /// Starts a table restore in the `restorer` worker and returns its job
    /// id at once; poll [`Engine::restore_job`].
    pub async fn start_table_restore(
        &self,
        req: TableRestoreRequest,
        who: &str,
    ) -> Result<u64, Error> {
        self.start_table_restore_with(req, who, None).await
    }

    /// [`Engine::start_table_restore`] of a backup that may be encrypted:
    /// `identity` decrypts it (kept for this restore only).
    pub async fn start_table_restore_with(
        &self,
        req: TableRestoreRequest,
        who: &str,
        identity: Option<crate::crypt::Identity>,
    ) -> Result<u64, Error> {
        self.refuse_when_stopping()?;
        // Refuse what cannot start before a job exists.
        let art = self.artifact(req.backup_id).await?;
        full::require_database(&art, "a table restore takes a database backup")?;
        super::fetch::check_identity(&art.manifest, identity.as_ref())
            .map_err(RestoreError::from)?;
        let track = self
            .inner
            .restore
            .restorer
            .track(table_label(&req, None), true);
        let id = track.id();
        let engine = self.clone();
        let who = who.to_owned();
        tokio::spawn(async move {
            let r = super::tables::restore_tables(&engine, &req, &who, &track, identity).await;
            track.finish(r.map(Some).map_err(|e| e.to_string()));
        });
        Ok(id)
    }

    /// A table-restore job started by [`Engine::start_table_restore`].
    pub fn restore_job(&self, id: u64) -> Result<RestoreJob, Error> {
        self.inner
            .restore
            .restorer
            .job(id)
            .ok_or_else(|| RestoreError::NoSuchJob(id).into())
    }

    /// Restores tables into a scratch database, to the end (the CLI's way).
    pub async fn restore_tables(
        &self,
        req: &TableRestoreRequest,
        who: &str,
    ) -> Result<TableRestoreResult, Error> {
        self.restore_tables_with(req, who, None).await
    }

    /// [`Engine::restore_tables`] of a backup that may be encrypted:
    /// `identity` decrypts it (kept for this restore only).
    pub async fn restore_tables_with(
        &self,
        req: &TableRestoreRequest,
        who: &str,
        identity: Option<crate::crypt::Identity>,
    ) -> Result<TableRestoreResult, Error> {
        self.refuse_when_stopping()?;
        let track = self
            .inner
            .restore
            .restorer
            .track(table_label(req, None), false);
        let r = super::tables::restore_tables(self, req, who, &track, identity).await;
        track.finish(match &r {
            Ok(_) => Ok(None),
            Err(e) => Err(e.to_string()),
        });
        r
    }

    /// Restores a whole backup into a new database, or over an existing
    /// one with `clean` and `confirm` equal to its name. Recorded.
    pub async fn restore(&self, req: &RestoreRequest, who: &str) -> Result<RestoreResult, Error> {
        self.restore_with(req, who, None).await
    }

    /// [`Engine::restore`] of a backup that may be encrypted: `identity`
    /// decrypts it (kept for this restore only).
    pub async fn restore_with(
        &self,
        req: &RestoreRequest,
        who: &str,
        identity: Option<crate::crypt::Identity>,
    ) -> Result<RestoreResult, Error> {
        self.refuse_when_stopping()?;
        let art = self.artifact(req.backup_id).await?;
        full::require_database(&art, "a full restore takes a database backup")?;
        let art = art.with_identity(identity)?;
        let server_id = req
            .server_id
            .or(art.backup.server_id)
            .ok_or(RestoreError::NoServer(req.backup_id))?;
        let target = self.restore_target(server_id).await?;
        let track = self.inner.restore.restorer.track(
            format!(
                "restoring backup #{} into {} on {}",
                req.backup_id, req.into, target.row.name
            ),
            false,
        );
        let run = self
            .inner
            .catalog
            .start_restore_run("full", req.backup_id, server_id, &req.into, who)
            .await?;
        let r = full::restore_full(self, &art, &target, req, &track).await;
        self.end_run(run, &r).await;
        track.finish(r.as_ref().map(|_| None).map_err(|e| e.to_string()));
        r
    }

    /// Records the end of a restore run; a failure to record is logged.
    pub(crate) async fn end_run<T>(&self, run: i64, r: &Result<T, Error>) {
        let err = r.as_ref().err().map(|e| e.to_string());
        if let Err(e) = self
            .inner
            .catalog
            .finish_restore_run(run, err.as_deref())
            .await
        {
            tracing::warn!("cannot record the end of restore run {run}: {e}");
        }
    }

    /// The plan to rebuild `target` from `source`'s backups: the newest good
    /// globals backup, then each chosen database's newest good backup (all
    /// databases with one when `databases` is empty).
    pub async fn rebuild_plan(
        &self,
        source_server_id: i64,
        target_server_id: i64,
        databases: &[String],
    ) -> Result<RebuildPlan, Error> {
        let c = &self.inner.catalog;
        let source = c.server(source_server_id).await?;
        let target = c.server(target_server_id).await?;
        let mut steps = Vec::new();
        let mut missing = Vec::new();
        let step = |kind: &str, b: &crate::catalog::Backup| RebuildStep {
            kind: kind.into(),
            backup_id: b.id,
            database: b.target.database().unwrap_or("").to_owned(),
            taken_at: b.taken_at(),
            stored_bytes: b.stored_bytes,
        };
        match c
            .retained(source_server_id, &BackupTarget::Globals)
            .await?
            .first()
        {
            Some(g) => steps.push(step("globals", g)),
            None => missing.push("(globals)".to_owned()),
        }
        let names: Vec<String> = if databases.is_empty() {
            let mut all: Vec<String> = c
                .known_databases(source_server_id)
                .await?
                .into_iter()
                .map(|k| k.name)
                .collect();
            for b in c
                .backups(&crate::catalog::BackupFilter {
                    server_id: Some(source_server_id),
                    ..Default::default()
                })
                .await?
            {
                if let Some(d) = b.target.database() {
                    if !all.iter().any(|a| a == d) {
                        all.push(d.to_owned());
                    }
                }
            }
            all.sort();
            all
        } else {
            databases.to_vec()
        };
        for db in names {
            match c
                .retained(source_server_id, &BackupTarget::Database(db.clone()))
                .await?
                .first()
            {
                Some(b) => steps.push(step("database", b)),
                None if databases.is_empty() => {}
                None => missing.push(db),
            }
        }
        Ok(RebuildPlan {
            source_server_id,
            source_server: source.name,
            target_server_id,
            target_server: target.name,
            steps,
            missing,
        })
    }

    /// Carries out a rebuild plan: globals first (roles created only if
    /// missing), then each database into a new database of the same name.
    /// Every step is recorded; a failed step does not stop the next ones.
    /// `confirm` must be the target server's name, typed again.
    pub async fn rebuild(
        &self,
        plan: &RebuildPlan,
        confirm: &str,
        who: &str,
    ) -> Result<RebuildResult, Error> {
        self.refuse_when_stopping()?;
        let started = Instant::now();
        let target = self.restore_target(plan.target_server_id).await?;
        if confirm != target.row.name {
            return Err(RestoreError::RebuildNotConfirmed {
                target: target.row.name.clone(),
                typed: confirm.to_owned(),
            }
            .into());
        }
        let track = self.inner.restore.restorer.track(
            format!(
                "rebuilding {} from {}'s backups",
                target.row.name, plan.source_server
            ),
            false,
        );
        let mut out = Vec::new();
        // Globals first, whatever order the plan was given in.
        let mut steps: Vec<&RebuildStep> = plan.steps.iter().collect();
        steps.sort_by_key(|s| s.kind != "globals");
        for (i, s) in steps.into_iter().enumerate() {
            let t0 = Instant::now();
            track.step(format!(
                "step {} of {}: {}",
                i + 1,
                plan.steps.len(),
                if s.kind == "globals" {
                    "globals".to_owned()
                } else {
                    s.database.clone()
                }
            ));
            let db = if s.kind == "globals" {
                "(globals)".to_owned()
            } else {
                s.database.clone()
            };
            let run = self
                .inner
                .catalog
                .start_restore_run("rebuild-step", s.backup_id, plan.target_server_id, &db, who)
                .await?;
            let mut result = RebuildStepResult {
                step: s.clone(),
                status: "succeeded".into(),
                error: None,
                warnings: Vec::new(),
                expected_errors: 0,
                duration_ms: 0,
            };
            let r: Result<(), Error> = async {
                let art = self.artifact(s.backup_id).await?;
                if s.kind == "globals" {
                    let tools = tools::for_archive(&self.inner.ctx.tools, &art.manifest).await?;
                    let work = self.restore_workdir(s.backup_id)?;
                    let g = full::apply_globals(&art, &target, &tools, work.path()).await?;
                    result.expected_errors = g.expected_errors;
                    result.warnings = g.warnings;
                    if !g.kept_roles.is_empty() {
                        result.warnings.push(format!(
                            "kept {} role(s) the server had already, unchanged: {}",
                            g.kept_roles.len(),
                            g.kept_roles.join(", ")
                        ));
                    }
                } else {
                    let req = RestoreRequest {
                        backup_id: s.backup_id,
                        server_id: Some(plan.target_server_id),
                        into: s.database.clone(),
                        clean: false,
                        confirm: None,
                        jobs: 1,
                    };
                    let r = full::restore_full(self, &art, &target, &req, &track).await?;
                    result.warnings = r.warnings;
                }
                Ok(())
            }
            .await;
            self.end_run(run, &r).await;
            if let Err(e) = r {
                result.status = "failed".into();
                result.error = Some(e.to_string());
            }
            result.duration_ms = t0.elapsed().as_millis() as i64;
            out.push(result);
        }
        let result = RebuildResult {
            target_server: target.row.name.clone(),
            steps: out,
            duration_ms: started.elapsed().as_millis() as i64,
        };
        track.finish(if result.ok() {
            Ok(None)
        } else {
            Err("a rebuild step failed; see its result".into())
        });
        Ok(result)
    }

    /// Restores a whole backup into a new scratch database on `server_id`
    /// (the globals backup before it applied first when `with_globals`).
    /// Tolerant: damaged data and pg_restore errors are returned in
    /// `errors` with whatever did get restored counted; only what stops the
    /// restore from starting (no such backup, an older server, no
    /// pg_restore, the scratch database not created) is an `Err`.
    pub async fn restore_into_scratch(
        &self,
        backup_id: i64,
        server_id: i64,
        purpose: &str,
        with_globals: bool,
        created_by: &str,
    ) -> Result<ScratchRestore, Error> {
        self.restore_into_scratch_with(
            backup_id,
            server_id,
            purpose,
            with_globals,
            created_by,
            None,
        )
        .await
    }

    /// [`Engine::restore_into_scratch`] of a backup that may be encrypted:
    /// `identity` decrypts it (kept for this restore only).
    pub async fn restore_into_scratch_with(
        &self,
        backup_id: i64,
        server_id: i64,
        purpose: &str,
        with_globals: bool,
        created_by: &str,
        identity: Option<crate::crypt::Identity>,
    ) -> Result<ScratchRestore, Error> {
        self.refuse_when_stopping()?;
        let started = Instant::now();
        if !matches!(purpose, "table" | "test") {
            return Err(RestoreError::Invalid {
                field: "purpose",
                message: format!("{purpose:?} is not a scratch purpose. Fix: use table or test"),
            }
            .into());
        }
        let art = self.artifact(backup_id).await?;
        full::require_database(&art, "a scratch restore takes a database backup")?;
        let art = art.with_identity(identity)?;
        let target = self.restore_target(server_id).await?;
        tools::check_target(&target.row.name, &target.info, &art.manifest)?;
        let tools = tools::for_archive(&self.inner.ctx.tools, &art.manifest).await?;
        let track = self.inner.restore.restorer.track(
            format!(
                "restoring backup #{backup_id} into scratch on {}",
                target.row.name
            ),
            false,
        );
        let record = self
            .create_scratch(&target, &art, None, purpose, created_by, &[])
            .await?;
        track.label(format!(
            "restoring backup #{backup_id} into {} on {}",
            record.name, target.row.name
        ));
        let kind = if purpose == "test" { "test" } else { "table" };
        let run = self
            .inner
            .catalog
            .start_restore_run(kind, backup_id, server_id, &record.name, created_by)
            .await?;
        let mut errors = Vec::new();
        let mut globals_notes = Vec::new();
        let work = self.restore_workdir(backup_id)?;
        if with_globals {
            track.step("applying globals");
            let globals = match art.backup.server_id {
                Some(sid) => {
                    self.inner
                        .catalog
                        .globals_before(sid, art.backup.taken_at())
                        .await?
                }
                None => None,
            };
            match globals {
                None => globals_notes.push(format!(
                    "globals: no globals backup of {} taken before backup #{backup_id}. Fix: back up the server's globals, or restore without them",
                    art.backup.server_name
                )),
                Some(g) => {
                    let applied = async {
                        let ga = self.artifact(g.id).await?;
                        full::apply_globals(&ga, &target, &tools, work.path()).await
                    }
                    .await;
                    match applied {
                        Ok(o) => globals_notes
                            .extend(o.warnings.into_iter().map(|w| format!("globals: {w}"))),
                        Err(e) => globals_notes.push(format!("globals: {e}")),
                    }
                }
            }
        }
        track.step("fetching");
        let restored = async {
            let fetched = fetch::fetch_all(art.source(), work.path(), true).await?;
            errors.extend(fetched.errors.iter().cloned());
            track.step("restoring");
            let mut opts = vec!["--no-owner"];
            if !with_globals {
                opts.push("--no-acl");
            }
            let c = tools::ToolConn::new(&target.spec, &record.name, work.path())?;
            let program = Program {
                path: tools.pg_restore(),
                args: tools::pg_restore_args(&opts, &c.conninfo, &fetched.archive),
                label: format!("pg_restore {}", tools.version),
            };
            let maintenance = tools::maintenance_options(&self.inner.restore.maintenance_work_mem)?;
            let run = tools::run(&program, c.pass.as_ref(), &[maintenance]).await?;
            errors.extend(run.errors.iter().cloned());
            if run.error_count > run.errors.len() {
                errors.push(format!(
                    "... and {} more pg_restore errors",
                    run.error_count - run.errors.len()
                ));
            }
            if !run.success && run.errors.is_empty() {
                errors.push(format!("{} failed: {}", program.label, run.cause()));
            }
            Ok::<(), Error>(())
        }
        .await;
        if let Err(e) = restored {
            errors.push(e.to_string());
        }
        track.step("counting rows");
        let tables = match async {
            let mut conn = target.spec.connect(&record.name).await?;
            let t = full::count_tables(&target.spec, &mut conn).await;
            let _ = conn.close().await;
            Ok::<_, Error>(t?)
        }
        .await
        {
            Ok(t) => t,
            Err(e) => {
                errors.push(format!("counting rows: {e}"));
                Vec::new()
            }
        };
        let outcome: Result<(), Error> = if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Conflict(
                errors
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" | "),
            ))
        };
        self.end_run(run, &outcome).await;
        track.finish(outcome.map(|_| None).map_err(|e| e.to_string()));
        let server = self.inner.catalog.server(server_id).await.ok();
        Ok(ScratchRestore {
            scratch: scratch::view(&record, server.as_ref()),
            tables,
            errors,
            globals_notes,
            duration_ms: started.elapsed().as_millis() as i64,
        })
    }

    /// Creates and records a scratch database on `target` for `art`:
    /// `name`, or `scratch_<db>_<yyyymmdd_hhmm>` made unique.
    pub(crate) async fn create_scratch(
        &self,
        target: &full::Target,
        art: &Artifact,
        name: Option<&str>,
        purpose: &str,
        created_by: &str,
        tables: &[String],
    ) -> Result<crate::catalog::ScratchRecord, Error> {
        let mut conn = target.spec.connect(&target.row.maintenance_db).await?;
        let name = match name {
            Some(n) => n.to_owned(),
            None => {
                let taken: Vec<String> = self
                    .inner
                    .catalog
                    .scratches(false)
                    .await?
                    .into_iter()
                    .filter(|s| s.server_id == target.row.id)
                    .map(|s| s.name)
                    .collect();
                scratch::unique_name(
                    &target.spec,
                    &mut conn,
                    &art.manifest.database,
                    Utc::now(),
                    &taken,
                )
                .await?
            }
        };
        scratch::create_database(&target.spec, &mut conn, &name).await?;
        let _ = conn.close().await;
        Ok(self
            .inner
            .catalog
            .insert_scratch(&NewScratch {
                server_id: target.row.id,
                name: &name,
                database: &art.manifest.database,
                backup_id: art.backup.id,
                purpose,
                created_by,
                tables,
            })
            .await?)
    }

    /// Scratch databases pgshelf created, newest first (dropped ones too
    /// when asked).
    pub async fn scratch_databases(
        &self,
        with_dropped: bool,
    ) -> Result<Vec<ScratchDatabase>, Error> {
        let servers = self.inner.catalog.servers().await?;
        Ok(self
            .inner
            .catalog
            .scratches(with_dropped)
            .await?
            .iter()
            .map(|r| scratch::view(r, servers.iter().find(|s| s.id == r.server_id)))
            .collect())
    }

    /// Drops a scratch database pgshelf created (`DROP DATABASE ... WITH
    /// (FORCE)`); any other name is refused. `server_id` picks among
    /// servers when two have a scratch database of this name.
    pub async fn drop_scratch(
        &self,
        name: &str,
        server_id: Option<i64>,
    ) -> Result<ScratchDatabase, Error> {
        let c = &self.inner.catalog;
        let record = match server_id {
            Some(sid) => c
                .scratch_on(sid, name)
                .await?
                .ok_or_else(|| crate::catalog::CatalogError::NoSuchScratch(name.to_owned()))?,
            None => c.scratch_by_name(name).await?,
        };
        let (row, spec) = self.spec(record.server_id).await?;
        scratch::drop_database(&spec, &row.maintenance_db, &record.name).await?;
        c.mark_scratch_dropped(record.id).await?;
        Ok(scratch::view(&c.scratch(record.id).await?, Some(&row)))
    }

    /// Recorded restores, newest first.
    pub async fn restore_runs(&self, limit: i64) -> Result<Vec<RestoreRun>, Error> {
        Ok(self.inner.catalog.restore_runs(limit).await?)
    }

    /// The files of a backup's artifact (from its manifest, plus the
    /// manifest itself), for download.
    pub async fn artifact_files(&self, backup_id: i64) -> Result<Vec<ArtifactFile>, Error> {
        let art = self.artifact(backup_id).await?;
        let mut out: Vec<ArtifactFile> = art
            .manifest
            .files
            .iter()
            .map(|f| ArtifactFile {
                path: f.path.clone(),
                size: f.size,
                sha256: Some(f.sha256.clone()),
                encrypted: f.path.ends_with(crate::crypt::SUFFIX),
            })
            .collect();
        let dest = &art.destination;
        let manifest = format!("{}{}", art.dir, crate::storage::MANIFEST_FILE);
        if let Ok(meta) = dest.operator()?.stat(&manifest).await {
            out.push(ArtifactFile {
                path: crate::storage::MANIFEST_FILE.into(),
                size: meta.content_length(),
                sha256: None,
                encrypted: false,
            });
        }
        Ok(out)
    }

    /// Streams one file of a backup's artifact from storage (never read
    /// into memory). Only paths [`Engine::artifact_files`] lists are served.
    pub async fn open_artifact(
        &self,
        backup_id: i64,
        path: &str,
    ) -> Result<
        (
            u64,
            impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send + Unpin + 'static,
        ),
        Error,
    > {
        let files = self.artifact_files(backup_id).await?;
        if !files.iter().any(|f| f.path == path) {
            return Err(RestoreError::NotInArtifact {
                id: backup_id,
                path: path.to_owned(),
            }
            .into());
        }
        let art = self.artifact(backup_id).await?;
        let full = format!("{}{}", art.dir, path);
        let dest = &art.destination;
        let op = dest.operator()?;
        let size = op
            .stat(&full)
            .await
            .map_err(|e| dest.error(e))?
            .content_length();
        let stream = op
            .reader_with(&full)
            .chunk(1 << 20)
            .await
            .map_err(|e| dest.error(e))?
            .into_bytes_stream(..)
            .await
            .map_err(|e| dest.error(e))?;
        Ok((size, stream))
    }
}

impl Engine {
    /// Streams one encrypted (`.age`) file of a backup's artifact decrypted
    /// with `identity` (what remains is the zstd-compressed file, e.g.
    /// `dump.zst`): decrypted on a blocking thread as it streams, never
    /// read into memory. The identity is checked against the manifest's
    /// recipients first and used for this download only.
    pub async fn open_artifact_decrypted(
        &self,
        backup_id: i64,
        path: &str,
        identity: crate::crypt::Identity,
    ) -> Result<
        impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send + Unpin + 'static,
        Error,
    > {
        use futures::StreamExt;
        let art = self.artifact(backup_id).await?;
        super::fetch::check_identity(&art.manifest, Some(&identity)).map_err(RestoreError::from)?;
        let recipients = art.manifest.recipients().to_vec();
        let (_, mut stored) = self.open_artifact(backup_id, path).await?;
        let (in_tx, in_rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(4);
        let (out_tx, out_rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(4);
        tokio::spawn(async move {
            while let Some(chunk) = stored.next().await {
                let failed = chunk.is_err();
                if in_tx.send(chunk).await.is_err() || failed {
                    break;
                }
            }
        });
        let name = path.to_owned();
        tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let input = ResultChannelReader {
                rx: in_rx,
                current: bytes::Bytes::new(),
            };
            let mut d = match crate::crypt::Decryptor::new(input, &identity, &recipients, &name) {
                Ok(d) => d,
                Err(e) => {
                    let _ = out_tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                    return;
                }
            };
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                match d.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if out_tx
                            .blocking_send(Ok(bytes::Bytes::copy_from_slice(&buf[..n])))
                            .is_err()
                        {
                            break;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = out_tx.blocking_send(Err(e));
                        break;
                    }
                }
            }
        });
        Ok(Box::pin(futures::stream::unfold(
            out_rx,
            |mut rx| async move { rx.recv().await.map(|item| (item, rx)) },
        )))
    }
}

/// A blocking `Read` over storage chunks (or the storage's error) arriving
/// on a channel.
struct ResultChannelReader {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<bytes::Bytes>>,
    current: bytes::Bytes,
}

impl std::io::Read for ResultChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// The worker's label of a table restore.
pub(crate) fn table_label(req: &TableRestoreRequest, scratch: Option<(&str, &str)>) -> String {
    let n = req.tables.len();
    let what = if n == 1 {
        "1 table".to_owned()
    } else {
        format!("{n} tables")
    };
    match scratch {
        Some((name, server)) => format!(
            "restoring {what} of backup #{} into {name} on {server}",
            req.backup_id
        ),
        None => format!("restoring {what} of backup #{}", req.backup_id),
    }
}
