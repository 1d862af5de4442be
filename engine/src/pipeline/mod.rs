//! One backup run: probe -> snapshot -> dump -> compress -> destination ->
//! manifest -> record.
//!
//! - [`stream`]: run a program and stream its output, compressed, to the
//!   destination, under a stall watchdog and a run timeout.
//! - [`directory`]: `pg_dump -Fd -j N` into a spool directory, each file
//!   compressed and uploaded as soon as pg_dump closes it.
//!
//! The manifest is written last: an artifact without one is incomplete. On
//! any failure the partial artifact (and the spool) is removed and the run is
//! recorded `failed` with a cause and the tail of the program's stderr.

pub mod directory;
pub mod runner;
pub mod stream;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::{Backup, BackupKind, BackupStatus, Catalog, CatalogError, Outcome};
use crate::pg::{
    args, conn::Snapshot, tls::TlsFiles, ConnSpec, Counting, Listing, PgError, PgTools, TableInfo,
    ToolFinder,
};
use crate::policy::{self, DumpOutput, Format, Policy, PolicyError};
use crate::storage::{self, Destination, StorageError};
use model::destination::CopyStatus;
pub use stream::{dump_cause, Limits, Program};

/// What can end a run early.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Pg(#[from] PgError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("the policy cannot be used: {0}")]
    Policy(#[from] PolicyError),
    #[error("the standby in the server plan: {0}")]
    Standby(PgError),
    #[error("{program} failed: {cause}")]
    Dump { program: String, cause: String },
    /// Writing to the destination failed; the dump program was stopped
    /// because of it (its status is only the consequence).
    #[error("{source} ({program} was stopped because of it: {status})")]
    Write {
        source: StorageError,
        program: String,
        status: String,
    },
    #[error("{program} was killed by signal {signal} before it finished. Fix: check the host's OOM killer and whoever stops processes there, then run the backup again")]
    Killed { program: String, signal: i32 },
    #[error("stalled: no bytes moved for {secs}s, so the run was stopped. Fix: look for locks held on the database (pg_locks) or a hung destination, or raise the policy's stall limit")]
    Stalled { secs: u64 },
    /// pgshelf is stopping and the run did not end within the grace period.
    #[error("{0}")]
    Stopped(String),
    #[error("timed out after {secs}s, so the run was stopped. Fix: raise the policy's run timeout, or use directory format with more jobs")]
    TimedOut { secs: u64 },
    #[error("cannot start {program}: {detail}. Fix: check that the PostgreSQL client tools are installed and executable")]
    Spawn { program: String, detail: String },
    #[error("compression failed: {0}")]
    Compress(String),
    #[error("spool directory {path}: {detail}. Fix: make the data directory writable and give it room for one dump")]
    Spool { path: String, detail: String },
    #[error("the stored artifact is {stored} bytes but {written} were written. Fix: check the destination's free space and health")]
    SizeMismatch { written: u64, stored: u64 },
    /// Reading the stored artifact back found it wrong or unreadable.
    #[error(transparent)]
    Verify(crate::verify::VerifyError),
    /// The policy's age recipients cannot be used.
    #[error(transparent)]
    Crypt(#[from] crate::crypt::CryptError),
}

impl PipelineError {
    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            PipelineError::Pg(e) => e.status(),
            PipelineError::Storage(e) | PipelineError::Write { source: e, .. } => e.status(),
            PipelineError::Catalog(e) => e.status(),
            PipelineError::Policy(e) => e.status(),
            PipelineError::Standby(e) => e.status(),
            PipelineError::Verify(e) => e.status(),
            PipelineError::Crypt(e) => e.status(),
            PipelineError::Stalled { .. } | PipelineError::TimedOut { .. } => 504,
            _ => 500,
        }
    }
}

/// Rows per table (`(schema, name)`) counted in the dump's own data as it
/// streamed past, or why they could not be.
pub type DumpRows = Result<std::collections::HashMap<(String, String), u64>, String>;

/// Compression settings of pgshelf's own zstd stage.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct ZstdSettings {
    pub level: i32,
    pub threads: u32,
}

impl Default for ZstdSettings {
    fn default() -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        ZstdSettings {
            level: 3,
            threads: cores.clamp(1, 4) as u32,
        }
    }
}

/// Live counters of a running backup, for the dashboard and the catalog.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes read from the dump program.
    pub raw: AtomicU64,
    /// Bytes written to the destination.
    pub stored: AtomicU64,
    /// Bytes in the spool (directory format), for the stall watchdog.
    pub spooled: AtomicU64,
    /// Bytes re-read from the destination by verification, for the stall
    /// watchdog.
    pub checked: AtomicU64,
    /// Set (with the cause to record) when pgshelf stops this run: the
    /// watchdog ends the run, killing its program, as for a stall.
    pub stop: std::sync::OnceLock<String>,
    /// Set to the same text as `stop`, just before it, when someone cancels
    /// the run ([`crate::Engine::cancel_backup`]): the run then ends
    /// `cancelled` rather than `failed`.
    pub cancel: std::sync::OnceLock<String>,
    /// When the runner took the run (for the elapsed time shown live).
    pub taken_at: std::sync::OnceLock<std::time::Instant>,
    /// Bytes the previous good backup of the same target read from its
    /// dump program, when there is one (the live estimate of time left).
    pub previous_raw: std::sync::OnceLock<u64>,
    /// Set once the run's row is `running`.
    pub running: std::sync::atomic::AtomicBool,
    /// Where [`Progress::mark_running`] announces the start (the runner's
    /// live notices, [`crate::live`]).
    pub(crate) notices: std::sync::OnceLock<tokio::sync::broadcast::Sender<model::live::Notice>>,
}

impl Progress {
    /// How a run stopped by `e` is recorded: `cancelled` when `e` is the
    /// stop a cancel asked for, `failed` otherwise.
    pub fn status_for(&self, e: &PipelineError) -> BackupStatus {
        match e {
            PipelineError::Stopped(cause) if self.cancel.get() == Some(cause) => {
                BackupStatus::Cancelled
            }
            _ => BackupStatus::Failed,
        }
    }

    /// Records that run `id`'s row is now `running` and says so to live
    /// listeners.
    pub fn mark_running(&self, id: i64) {
        self.running.store(true, Ordering::Relaxed);
        if let Some(tx) = self.notices.get() {
            let _ = tx.send(model::live::Notice {
                kind: model::live::NoticeKind::Started,
                backup_id: Some(id),
            });
        }
    }

    /// `(raw, stored)` so far.
    pub fn totals(&self) -> (u64, u64) {
        (
            self.raw.load(Ordering::Relaxed),
            self.stored.load(Ordering::Relaxed),
        )
    }
}

/// Everything a run needs from its surroundings.
#[derive(Clone)]
pub struct RunContext {
    pub catalog: Catalog,
    /// The built-in destination; during a run, the run's first live copy.
    pub destination: Destination,
    /// Every configured destination, by name.
    pub registry: crate::destinations::Registry,
    /// The destinations of this run and which have failed (one run's
    /// context is a clone with its own set).
    pub copies: Arc<crate::storage::fanout::CopySet>,
    /// Expected stored size of this run's largest file (the last good
    /// backup's size), for multipart part sizes; 0: unknown.
    pub size_hint: u64,
    pub tools: ToolFinder,
    pub zstd: ZstdSettings,
    /// Where directory-format dumps are spooled.
    pub spool_dir: PathBuf,
    /// Retention rules that hold whatever a policy says (minimum kept).
    pub retention: crate::retention::Rules,
    /// Tables whose data (`pg_table_size`) is larger get a `reltuples`
    /// estimate instead of an exact count, where counts are taken by SQL.
    pub exact_count_max_bytes: u64,
    /// A backup whose stored size is outside `1/r..r` times the trailing
    /// median of its predecessors is `suspect`.
    pub suspect_size_ratio: f64,
}

/// What a run dumps.
#[derive(Debug, Clone)]
pub enum JobKind {
    /// One database with `pg_dump`, under a policy.
    Database {
        database: String,
        policy: Box<Policy>,
    },
    /// Roles, memberships, tablespaces and grants with `pg_dumpall --globals-only`.
    Globals { no_role_passwords: bool },
}

/// One backup to take; the catalog row already exists (`queued`).
pub struct BackupJob {
    pub backup_id: i64,
    pub server_name: String,
    /// Where to connect: the server, or its standby.
    pub spec: ConnSpec,
    pub maintenance_db: String,
    pub kind: JobKind,
    /// `spec` is the server plan's standby, not the server itself.
    pub via_standby: bool,
    /// A stored age identity for the policy's recipients (opt-in): then
    /// verification decrypts and checks in full.
    pub verify_identity: Option<crate::crypt::Identity>,
}

/// One file of an artifact.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestFile {
    pub path: String,
    pub size: u64,
    pub sha256: String,
    /// Bytes before compression.
    pub raw_size: u64,
    /// A custom archive compressed by pgshelf (not encrypted): where its
    /// zstd frames and data blocks start ([`crate::seekable`]), so one
    /// table's data can be fetched by range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<crate::seekable::BlockIndex>,
}

/// A manifest's record of encryption: enough to know which key opens it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestEncryption {
    /// Always `age` (age v1, X25519 recipients).
    pub method: String,
    /// The `age1...` public keys the files are encrypted to.
    pub recipients: Vec<String>,
}

impl Manifest {
    /// The recipients of an encrypted artifact; empty when not encrypted.
    pub fn recipients(&self) -> &[String] {
        self.encryption
            .as_ref()
            .map(|e| e.recipients.as_slice())
            .unwrap_or(&[])
    }
}

/// `manifest.json`: self-describing, enough to restore without pgshelf.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub pgshelf_manifest: u32,
    pub backup_id: i64,
    /// `database` or `globals`.
    pub kind: BackupKind,
    pub server: String,
    pub database: String,
    /// The host the dump was read from (a standby when one was used).
    pub source: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// `custom`, `directory` or `sql`.
    pub format: String,
    pub compression: String,
    /// How the stored files are encrypted (their names end in `.age`);
    /// `None`: not encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<ManifestEncryption>,
    pub server_version: String,
    pub pg_dump_version: String,
    pub snapshot: Option<String>,
    pub files: Vec<ManifestFile>,
    pub tables: Vec<TableInfo>,
    pub large_objects: i64,
    pub warnings: Vec<String>,
    pub policy: Option<Policy>,
    pub restore: String,
}

/// Runs the backup and records its outcome. The returned error has been
/// recorded on the run already.
pub async fn run(
    ctx: &RunContext,
    job: &BackupJob,
    progress: Arc<Progress>,
) -> Result<Backup, PipelineError> {
    let mut facts = Outcome {
        source_host: Some(job.spec.addr()),
        ..Outcome::default()
    };
    let started_at = Utc::now();
    let dir = match &job.kind {
        JobKind::Database { database, .. } => {
            storage::artifact_dir(&job.server_name, database, started_at, job.backup_id)
        }
        JobKind::Globals { .. } => {
            storage::globals_dir(&job.server_name, started_at, job.backup_id)
        }
    };
    let spool = ctx.spool_dir.join(job.backup_id.to_string());
    let clock = std::time::Instant::now();
    let result = match &job.kind {
        JobKind::Database { database, policy } => {
            take_database(
                ctx, job, database, policy, &dir, &spool, started_at, &progress, &mut facts,
            )
            .await
        }
        JobKind::Globals { no_role_passwords } => {
            take_globals(
                ctx,
                job,
                *no_role_passwords,
                &dir,
                started_at,
                &progress,
                &mut facts,
            )
            .await
        }
    };
    // Step 6: read the stored artifact back and judge it.
    let result = match result {
        Ok(taken) => {
            let limits = match &job.kind {
                JobKind::Database { policy, .. } => limits(policy),
                JobKind::Globals { .. } => GLOBALS_LIMITS,
            };
            let rest = Limits {
                stall: limits.stall,
                timeout: limits.timeout.map(|t| t.saturating_sub(clock.elapsed())),
            };
            let dumped_in = clock.elapsed();
            let verified = tokio::select! {
                v = verify_stored(ctx, job, &dir, &spool, &taken, facts.manifest.as_deref(), &progress) => v,
                e = stream::watchdog(progress.clone(), rest) => Err(e),
            };
            tracing::info!(
                backup = job.backup_id,
                dump_ms = dumped_in.as_millis() as u64,
                verify_ms = (clock.elapsed() - dumped_in).as_millis() as u64,
                "dumped and stored, then read back"
            );
            verified
        }
        Err(e) => Err(e),
    };
    if spool.exists() {
        if let Err(e) = std::fs::remove_dir_all(&spool) {
            tracing::warn!(
                backup = job.backup_id,
                "cannot remove spool {}: {e}",
                spool.display()
            );
        }
    }
    (facts.raw_bytes, facts.stored_bytes) = {
        let (r, s) = progress.totals();
        (r as i64, s as i64)
    };
    match result {
        Ok(verdict) => {
            // Copies first: a reader that sees the row finished sees its copies.
            copies_done(ctx, job.backup_id, &dir, facts.stored_bytes.max(0) as u64).await;
            let finished = ctx
                .catalog
                .finish(
                    job.backup_id,
                    verdict.status,
                    &Outcome {
                        verification: {
                            let all: Vec<&String> =
                                verdict.reasons.iter().chain(&verdict.notes).collect();
                            (!all.is_empty()).then(|| {
                                all.iter()
                                    .map(|s| s.as_str())
                                    .collect::<Vec<_>>()
                                    .join("\n")
                            })
                        },
                        ..facts
                    },
                )
                .await;
            match finished {
                Ok(row) => Ok(row),
                Err(e) => {
                    // Recovered by another process meanwhile (lease lost): the
                    // row says failed, so the artifact must not stay either.
                    copies_failed(ctx, job.backup_id, &dir, &e.to_string()).await;
                    Err(e.into())
                }
            }
        }
        Err(e) => {
            copies_failed(ctx, job.backup_id, &dir, &e.to_string()).await;
            facts.cause = Some(e.to_string());
            facts.manifest = None;
            if let Err(lost) = ctx
                .catalog
                .finish(job.backup_id, progress.status_for(&e), &facts)
                .await
            {
                tracing::warn!(backup = job.backup_id, "cannot record the failure: {lost}");
            }
            Err(e)
        }
    }
}

/// The server's certificates as files for libpq, in a private directory
/// under the spool that goes when the returned guard is dropped.
fn tls_files(ctx: &RunContext, spec: &ConnSpec) -> Result<Option<TlsFiles>, PipelineError> {
    TlsFiles::write(&ctx.spool_dir, spec).map_err(|e| PipelineError::Spool {
        path: ctx.spool_dir.display().to_string(),
        detail: format!("cannot write the TLS certificate files: {e}"),
    })
}

fn limits(policy: &Policy) -> Limits {
    Limits {
        stall: Duration::from_secs(u64::from(policy.stall_timeout_secs)),
        timeout: policy
            .run_timeout_secs
            .map(|s| Duration::from_secs(u64::from(s))),
    }
}

/// Whether the policy's selection dumps this table (pg_dump's rules: `-t`
/// patterns override `-n`/`-N`; `-T` always excludes).
fn selected(policy: &Policy, schema: &str, name: &str) -> bool {
    use policy::NamePattern;
    let s = &policy.selection;
    let any = |list: &[String]| {
        list.iter()
            .any(|p| NamePattern::parse(p).matches(schema, name))
    };
    let any_schema = |list: &[String]| {
        list.iter()
            .any(|p| NamePattern::parse(p).matches_schema(schema))
    };
    if any(&s.exclude_tables) {
        return false;
    }
    if !s.include_tables.is_empty() {
        return any(&s.include_tables);
    }
    (s.include_schemas.is_empty() || any_schema(&s.include_schemas))
        && !any_schema(&s.exclude_schemas)
}

#[allow(clippy::too_many_arguments)]
async fn take_database(
    ctx: &RunContext,
    job: &BackupJob,
    database: &str,
    policy: &Policy,
    dir: &str,
    spool: &std::path::Path,
    started_at: DateTime<Utc>,
    progress: &Arc<Progress>,
    facts: &mut Outcome,
) -> Result<Taken, PipelineError> {
    let clock = std::time::Instant::now();
    // Recipients first: a policy that cannot encrypt must not dump.
    let recipients = if policy.encryption.enabled() {
        Some(crate::crypt::Recipients::parse(
            &policy.encryption.recipients,
        )?)
    } else {
        None
    };
    let age_suffix = if recipients.is_some() {
        crate::crypt::SUFFIX
    } else {
        ""
    };
    crate::storage::fanout::preflight(&ctx.copies).await?;
    let conn = job.spec.connect(database).await.map_err(|e| {
        if job.via_standby {
            PipelineError::Standby(e)
        } else {
            e.into()
        }
    })?;
    let mut conn = conn;
    let info = crate::pg::conn::server_info(&job.spec, &mut conn).await?;
    facts.server_version = Some(info.version.clone());
    if info.in_recovery && policy.serializable_deferrable {
        return Err(PolicyError {
            field: "serializable_deferrable".into(),
            message: format!(
                "{} is a standby, and serializable transactions cannot run on a hot standby. Fix: turn off serializable-deferrable for this database, or remove the standby from the server plan",
                job.spec.addr()
            ),
        }
        .into());
    }
    let tools = ctx.tools.for_server(&info.version, info.major).await?;
    facts.pg_dump_version = Some(tools.version.clone());
    facts.pg_dump_path = Some(tools.pg_dump().display().to_string());
    facts.compression = Some(policy.compression_label());
    facts.format = Some(
        match policy.format {
            Format::Custom => "custom",
            Format::Directory { .. } => "directory",
        }
        .into(),
    );
    let caps = match policy.compression {
        policy::Compression::PgDump { .. } => crate::pg::tools::probe_capabilities(&tools).await,
        _ => policy::DumpCapabilities::default(),
    };
    let location = format!("{}/{dir}", ctx.destination.describe);
    ctx.catalog.mark_running(job.backup_id, &location).await?;
    progress.mark_running(job.backup_id);
    copies_started(ctx, job.backup_id, dir).await?;
    facts.location = Some(location);

    // The snapshot, with every selected table locked before it is taken
    // (see Snapshot::lock_and_export), under the run's watchdog: a lock
    // that never comes fails the run as stalled or timed out.
    let mut snapshot = Snapshot::begin(&job.spec, conn).await?;
    let locked = tokio::select! {
        r = snapshot.lock_and_export(
            &job.spec,
            policy.serializable_deferrable,
            policy.lock_wait_timeout_secs,
            |s, n| selected(policy, s, n),
        ) => r.map_err(PipelineError::from),
        e = stream::watchdog(progress.clone(), limits(policy)) => Err(e),
    };
    if let Err(e) = locked {
        snapshot.abandon(&job.spec, database).await;
        return Err(e);
    }
    let snapshot_id = snapshot.id.clone();
    // Kept until pg_dump has ended: its parallel workers connect later.
    let tls = tls_files(ctx, &job.spec)?;
    let conninfo = args::conninfo(&job.spec, database, tls.as_ref().map(|t| t.paths()));
    let (output, format) = match policy.format {
        Format::Custom => (DumpOutput::Stdout, "custom"),
        Format::Directory { .. } => (DumpOutput::Directory(spool.join("dump")), "directory"),
    };
    let argv = policy::pg_dump_args(policy, &caps, &conninfo, Some(&snapshot_id), &output)?;
    let program = Program {
        path: tools.pg_dump(),
        args: argv,
        label: format!("pg_dump {}", tools.version),
    };
    // When pg_dump does not compress, its data is COPY text, counted on
    // the way to the compressor; only where pg_dump compresses itself are
    // rows counted by SQL in the snapshot.
    let from_dump = matches!(
        policy.compression,
        policy::Compression::Pgshelf { .. } | policy::Compression::None
    );
    let counting_mode = if from_dump {
        Counting::FromDump
    } else {
        Counting::Sql {
            exact_max_bytes: ctx.exact_count_max_bytes,
        }
    };

    // Listing and counting in the snapshot run beside the dump, with the
    // tables locked, so a count cannot see rows the dump does not. If the
    // dump fails, counting is abandoned; if counting outlasts the dump, it
    // runs on under the watchdog with what is left of the run's time.
    let (tables, dumped) = {
        let counting = snapshot.tables(&job.spec, info.in_recovery, counting_mode, |s, n| {
            selected(policy, s, n)
        });
        let dumping = async {
            match &output {
                DumpOutput::Stdout => {
                    let path = format!("{dir}{}{age_suffix}", policy.custom_file_name());
                    stream::run_to_counting(
                        ctx,
                        &program,
                        &job.spec,
                        &path,
                        policy.pgshelf_zstd_level(),
                        recipients.as_ref(),
                        limits(policy),
                        progress,
                        job.backup_id,
                        from_dump.then(stream::RowTap::custom),
                    )
                    .await
                    .map(|(f, tap, e)| (vec![f], e, tap.map(custom_rows)))
                }
                DumpOutput::Directory(out) => {
                    directory::run(
                        ctx,
                        &program,
                        &job.spec,
                        out,
                        dir,
                        policy.pgshelf_zstd_level(),
                        recipients.as_ref(),
                        limits(policy),
                        progress,
                        job.backup_id,
                        from_dump,
                    )
                    .await
                }
            }
        };
        tokio::pin!(counting, dumping);
        let mut tables: Option<Result<Listing, PipelineError>> = None;
        let dumped = loop {
            tokio::select! {
                t = &mut counting, if tables.is_none() => tables = Some(t.map_err(PipelineError::from)),
                d = &mut dumping => break d,
            }
        };
        if tables.is_none() && dumped.is_ok() {
            let rest = Limits {
                stall: limits(policy).stall,
                timeout: limits(policy)
                    .timeout
                    .map(|t| t.saturating_sub(clock.elapsed())),
            };
            tables = Some(tokio::select! {
                t = &mut counting => t.map_err(PipelineError::from),
                e = stream::watchdog(progress.clone(), rest) => Err(e),
            });
        }
        (tables, dumped)
    };
    // A count still running (or cut off) may hold the session: end it hard.
    if matches!(tables, Some(Ok(_))) {
        snapshot.close().await;
    } else {
        snapshot.abandon(&job.spec, database).await;
    }
    let (files, stderr, dump_rows) = match dumped {
        Ok(v) => v,
        Err((e, stderr)) => {
            facts.stderr_tail = (!stderr.is_empty()).then_some(stderr);
            return Err(e);
        }
    };
    facts.stderr_tail = (!stderr.is_empty()).then_some(stderr);
    let listing = tables.expect("counted when the dump succeeded")?;
    let partition_of = listing.partition_of.clone();
    let mut warnings =
        policy::unmatched_patterns(&policy.selection, &listing.schemas, &listing.all_tables);
    warnings.extend(listing.warnings.iter().cloned());
    for w in &warnings {
        tracing::warn!(backup = job.backup_id, "{w}");
    }
    facts.warnings = (!warnings.is_empty()).then(|| warnings.join("\n"));
    let mut tables = listing.tables;
    match dump_rows {
        Some(Ok(rows)) => {
            for t in tables.iter_mut().filter(|t| t.kind != "partitioned") {
                // A table with no data in the dump (excluded, or unreadable on
                // a standby) holds no rows.
                t.rows = rows
                    .get(&(t.schema.clone(), t.name.clone()))
                    .map_or(0, |n| *n as i64);
                t.rows_estimated = false;
                t.rows_from = crate::pg::RowsFrom::Dump;
            }
        }
        Some(Err(why)) => {
            let w = format!(
                "row counts are the planner's estimates (reltuples): the dump's data could not be counted as it streamed ({why})"
            );
            tracing::warn!(backup = job.backup_id, "{w}");
            warnings.push(w);
            facts.warnings = Some(warnings.join("\n"));
        }
        None => {}
    }
    for t in &mut tables {
        let np = |p: &String| policy::NamePattern::parse(p).matches(&t.schema, &t.name);
        if policy.selection.exclude_table_data.iter().any(np) {
            t.data_excluded = true;
            t.rows = 0;
            t.rows_estimated = false;
        }
    }
    crate::pg::conn::roll_up_partitions(&mut tables, &partition_of);

    let restore = match (policy.format, &recipients) {
        (Format::Custom, Some(_)) => {
            let name = policy.custom_file_name();
            let unzip = match policy.compression {
                policy::Compression::Pgshelf { .. } => {
                    " && zstd -d dump.zst -o dump.custom".to_owned()
                }
                _ => String::new(),
            };
            format!(
                "age -d -i key.txt -o {name} {name}.age{unzip} && pg_restore --dbname=TARGET dump.custom   (pg_restore {} or newer)",
                tools.major
            )
        }
        (Format::Directory { .. }, Some(_)) => format!(
            "mkdir d && for f in dump/*; do n=$(basename \"$f\" .age); age -d -i key.txt -o \"d/$n\" \"$f\"; case $n in *.zst) zstd -dq --rm \"d/$n\" -o \"d/${{n%.zst}}\";; esac; done && pg_restore -j 4 --dbname=TARGET d   (pg_restore {} or newer)",
            tools.major
        ),
        (Format::Custom, None) => match policy.compression {
            policy::Compression::Pgshelf { .. } => format!(
                "zstd -dc dump.zst | pg_restore --dbname=TARGET   (pg_restore {} or newer)",
                tools.major
            ),
            _ => format!("pg_restore --dbname=TARGET dump.custom   (pg_restore {} or newer)", tools.major),
        },
        (Format::Directory { .. }, None) => format!(
            "mkdir d && for f in dump/*; do n=$(basename \"$f\"); case $n in *.zst) zstd -dq \"$f\" -o \"d/${{n%.zst}}\";; *) cp \"$f\" d/;; esac; done && pg_restore -j 4 --dbname=TARGET d   (pg_restore {} or newer)",
            tools.major
        ),
    };
    let manifest = Manifest {
        pgshelf_manifest: 1,
        backup_id: job.backup_id,
        kind: BackupKind::Database,
        server: job.server_name.clone(),
        database: database.to_owned(),
        source: job.spec.addr(),
        started_at,
        finished_at: Utc::now(),
        format: format.into(),
        compression: policy.compression_label(),
        encryption: recipients.as_ref().map(|r| ManifestEncryption {
            method: crate::crypt::METHOD.into(),
            recipients: r.to_strings(),
        }),
        server_version: info.version.clone(),
        pg_dump_version: tools.version.clone(),
        snapshot: Some(snapshot_id),
        files,
        tables,
        large_objects: listing.large_objects,
        warnings,
        policy: Some(policy.clone()),
        restore,
    };
    write_manifest(ctx, dir, &manifest, facts).await?;
    Ok(Taken {
        manifest,
        pg_restore: Some(tools.pg_restore()),
    })
}

async fn take_globals(
    ctx: &RunContext,
    job: &BackupJob,
    no_role_passwords: bool,
    dir: &str,
    started_at: DateTime<Utc>,
    progress: &Arc<Progress>,
    facts: &mut Outcome,
) -> Result<Taken, PipelineError> {
    crate::storage::fanout::preflight(&ctx.copies).await?;
    let mut conn = job.spec.connect(&job.maintenance_db).await?;
    let info = crate::pg::conn::server_info(&job.spec, &mut conn).await?;
    drop(conn);
    facts.server_version = Some(info.version.clone());
    let tools: PgTools = ctx.tools.for_server(&info.version, info.major).await?;
    facts.pg_dump_version = Some(tools.version.clone());
    facts.pg_dump_path = Some(tools.pg_dumpall().display().to_string());
    facts.compression = Some(format!("zstd:{} (pgshelf)", ctx.zstd.level));
    facts.format = Some("sql".into());
    let location = format!("{}/{dir}", ctx.destination.describe);
    ctx.catalog.mark_running(job.backup_id, &location).await?;
    progress.mark_running(job.backup_id);
    copies_started(ctx, job.backup_id, dir).await?;
    facts.location = Some(location);
    let tls = tls_files(ctx, &job.spec)?;
    let program = Program {
        path: tools.pg_dumpall(),
        args: args::pg_dumpall_globals(
            &args::conninfo(
                &job.spec,
                &job.maintenance_db,
                tls.as_ref().map(|t| t.paths()),
            ),
            no_role_passwords,
        ),
        label: format!("pg_dumpall {}", tools.version),
    };
    let path = format!("{dir}{}", storage::GLOBALS_FILE);
    let limits = GLOBALS_LIMITS;
    let (file, stderr) = match stream::run_to(
        ctx,
        &program,
        &job.spec,
        &path,
        Some(ctx.zstd.level),
        // Globals have no policy, so no recipients: stored unencrypted.
        None,
        limits,
        progress,
        job.backup_id,
    )
    .await
    {
        Ok(v) => v,
        Err((e, stderr)) => {
            facts.stderr_tail = (!stderr.is_empty()).then_some(stderr);
            return Err(e);
        }
    };
    facts.stderr_tail = (!stderr.is_empty()).then_some(stderr);
    let manifest = Manifest {
        pgshelf_manifest: 1,
        backup_id: job.backup_id,
        kind: BackupKind::Globals,
        server: job.server_name.clone(),
        database: String::new(),
        source: job.spec.addr(),
        started_at,
        finished_at: Utc::now(),
        format: "sql".into(),
        compression: format!("zstd:{} (pgshelf)", ctx.zstd.level),
        encryption: None,
        server_version: info.version,
        pg_dump_version: tools.version.clone(),
        snapshot: None,
        files: vec![file],
        tables: Vec::new(),
        large_objects: 0,
        warnings: if no_role_passwords {
            vec!["dumped with --no-role-passwords: roles are restored without passwords; set them again after a rebuild".into()]
        } else {
            Vec::new()
        },
        policy: None,
        restore: format!(
            "zstd -dc {} | psql -X -v ON_ERROR_STOP=0 --dbname=postgres   (apply before restoring databases; roles that exist already report an error and are kept)",
            storage::GLOBALS_FILE
        ),
    };
    facts.warnings = (!manifest.warnings.is_empty()).then(|| manifest.warnings.join("\n"));
    write_manifest(ctx, dir, &manifest, facts).await?;
    Ok(Taken {
        manifest,
        pg_restore: None,
    })
}

/// The rows a custom archive's tap counted.
fn custom_rows(tap: stream::RowTap) -> DumpRows {
    match tap {
        stream::RowTap::Custom(_, Some(err)) => Err(err),
        stream::RowTap::Custom(counter, None) => Ok(counter
            .finish()
            .map_err(|e| e.to_string())?
            .by_table
            .into_iter()
            .map(|(t, n)| ((t.schema, t.name), n))
            .collect()),
        _ => Err("not a custom archive's counter".into()),
    }
}

/// Limits of a globals run (they have no policy).
const GLOBALS_LIMITS: Limits = Limits {
    stall: Duration::from_secs(600),
    timeout: Some(Duration::from_secs(3600)),
};

/// What a run stored, for its verification.
struct Taken {
    manifest: Manifest,
    /// The `pg_restore` beside the `pg_dump` that wrote it (database backups).
    pg_restore: Option<PathBuf>,
}

/// How verification ended for a readable artifact.
struct Verdict {
    status: BackupStatus,
    reasons: Vec<String>,
    /// What verification did not check, and why (not a reason for suspicion).
    notes: Vec<String>,
}

/// Step 6: reads the stored artifact back (a mismatch or an unreadable
/// archive fails the run), keeps its table of contents, and judges it
/// against the backups before it: `verified`, or `suspect` with reasons.
#[allow(clippy::too_many_arguments)]
async fn verify_stored(
    ctx: &RunContext,
    job: &BackupJob,
    dir: &str,
    spool: &std::path::Path,
    taken: &Taken,
    manifest_json: Option<&str>,
    progress: &Arc<Progress>,
) -> Result<Verdict, PipelineError> {
    let primary = ctx
        .copies
        .primary()
        .unwrap_or_else(|| ctx.destination.clone());
    let back = crate::verify::read_back(
        &primary,
        dir,
        &taken.manifest,
        manifest_json,
        taken.pg_restore.as_deref(),
        spool,
        progress,
        // Without a stored identity, an encrypted artifact is checked by
        // size and sha256, and the notes say so.
        job.verify_identity.as_ref(),
        // pgshelf's zstd, unencrypted: decoded in full as it was written
        // (stream::upload_counting).
        taken.manifest.encryption.is_none() && taken.manifest.compression.ends_with("(pgshelf)"),
    )
    .await?;
    let row = ctx.catalog.backup(job.backup_id).await?;
    let reasons = match row.server_id {
        Some(server_id) => {
            crate::verify::judge(
                &ctx.catalog,
                server_id,
                &row.target,
                job.backup_id,
                &taken.manifest,
                ctx.suspect_size_ratio,
            )
            .await?
        }
        None => Vec::new(),
    };
    for r in &reasons {
        tracing::warn!(backup = job.backup_id, "suspect: {r}");
    }
    if let Some(listing) = &back.listing {
        let archive = match crate::toc::read_archive(&back.toc_bytes) {
            Ok(a) => Some(serde_json::to_string(&a).expect("an archive serializes")),
            Err(e) => {
                tracing::warn!(
                    backup = job.backup_id,
                    "the archive's TOC was listed by pg_restore but not parsed: {e}"
                );
                None
            }
        };
        ctx.catalog
            .put_backup_toc(job.backup_id, listing, archive.as_deref())
            .await?;
    }
    Ok(Verdict {
        status: crate::verify::status_for(&reasons),
        reasons,
        notes: back.notes,
    })
}

/// Records a copy row per destination of the run as it starts (a crash
/// leaves them `uploading`, and recovery removes what they hold).
async fn copies_started(ctx: &RunContext, id: i64, dir: &str) -> Result<(), PipelineError> {
    for d in ctx.copies.all() {
        ctx.catalog
            .put_copy(id, &d.name, dir, CopyStatus::Uploading, 0, None)
            .await?;
    }
    Ok(())
}

/// A run ended well: live copies are complete; a failed one has its
/// partial files removed and is copied again later from a complete one.
async fn copies_done(ctx: &RunContext, id: i64, dir: &str, bytes: u64) {
    let failures = ctx.copies.failures();
    let now = Utc::now();
    for d in ctx.copies.all() {
        let r = match failures.iter().find(|(n, _)| n == &d.name) {
            None => {
                ctx.catalog
                    .put_copy(id, &d.name, dir, CopyStatus::Complete, bytes, None)
                    .await
            }
            Some((_, why)) => {
                if let Err(rm) = d.remove_artifact(dir).await {
                    tracing::warn!(backup = id, destination = %d.name, "cannot remove partial copy {dir}: {rm}");
                }
                ctx.catalog
                    .fail_copy(id, &d.name, why, crate::destinations::copy_retry_at(now, 1))
                    .await
            }
        };
        if let Err(e) = r {
            tracing::warn!(backup = id, destination = %d.name, "cannot record the copy: {e}");
        }
    }
}

/// A run failed: nothing of it stays on any destination.
async fn copies_failed(ctx: &RunContext, id: i64, dir: &str, cause: &str) {
    let failures = ctx.copies.failures();
    for d in ctx.copies.all() {
        if let Err(rm) = d.remove_artifact(dir).await {
            tracing::warn!(backup = id, destination = %d.name, "cannot remove partial artifact {dir}: {rm}");
        }
        let why = failures
            .iter()
            .find(|(n, _)| n == &d.name)
            .map(|(_, w)| w.as_str())
            .unwrap_or(cause);
        let _ = ctx.catalog.fail_copy(id, &d.name, why, None).await;
    }
}

async fn write_manifest(
    ctx: &RunContext,
    dir: &str,
    manifest: &Manifest,
    facts: &mut Outcome,
) -> Result<(), PipelineError> {
    let json = serde_json::to_vec_pretty(manifest).expect("manifest serializes");
    // Written under a temporary name and renamed, so a manifest — the mark
    // of a whole artifact — is never seen half-written.
    crate::storage::fanout::write_all(
        &ctx.copies,
        &format!("{dir}{}", storage::MANIFEST_FILE),
        json.clone(),
    )
    .await?;
    facts.manifest = Some(String::from_utf8(json).expect("json is utf-8"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Selection;

    #[test]
    fn selection_follows_pg_dump_rules() {
        let mut p = Policy::default();
        assert!(selected(&p, "public", "t"));
        p.selection = Selection {
            include_schemas: vec!["sales".into()],
            exclude_tables: vec!["sales.secret".into()],
            ..Default::default()
        };
        assert!(selected(&p, "sales", "orders"));
        assert!(!selected(&p, "public", "t"));
        assert!(!selected(&p, "sales", "secret"));
        p.selection.include_tables = vec!["public.t".into()];
        assert!(selected(&p, "public", "t"), "-t overrides -n");
        assert!(!selected(&p, "sales", "orders"));
        p.selection = Selection {
            exclude_schemas: vec!["tmp*".into()],
            ..Default::default()
        };
        assert!(!selected(&p, "tmp_1", "x"));
        assert!(selected(&p, "public", "x"));
    }
}
