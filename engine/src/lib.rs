//! pgshelf's backup engine: a library with no web or UI code.
//!
//! # Layout
//!
//! - [`auth`]: users and roles, sessions and API tokens, the first-admin setup link, sign-in throttling.
//! - [`cancel`]: cancelling a queued or running backup on purpose (recorded `cancelled` by whom).
//! - [`catalog`]: the SQLite catalog (schema in `engine/migrations`) and every query.
//! - [`crypt`]: age encryption of stored files (X25519 recipients; streaming
//!   encryptor and decryptor; identities never printed).
//! - [`compare`]: a table restored into scratch compared with the live one (a streamed
//!   merge by key), the put-back script, applying it (recorded).
//! - [`live`]: live updates for the dashboard: a cheap snapshot of running work
//!   (bytes, throughput, time left) and notices when a run is queued, starts, ends.
//! - [`seekable`]: custom archives compressed in zstd frames aligned to their data
//!   blocks, with a block index (manifest + seek table) for restores that fetch by range.
//! - [`secrets`]: the instance key and sealed credentials; [`secrets::Secret`] never prints.
//! - [`servers`]: server settings as users enter them (validation, `postgres://` URLs).
//! - [`pg`]: client tools by major version, probing servers, argument vectors.
//! - [`storage`]: destinations (opendal operators of every kind, the streamed WebDAV
//!   PUT, the fan-out writer to several copies, probes, SSH host keys) and the artifact layout.
//! - [`destinations`]: destinations as users manage them (sealed secrets, tests, host
//!   keys, pgshelf.toml), resolving a policy's names, a backup's copies, the copier, import.
//! - [`pipeline`]: one backup run, dump -> zstd -> destination -> manifest -> record.
//! - [`schedule`]: the scheduler worker (ticks with a controllable clock), schedule status.
//! - [`schema_changes`]: what a backup's TOC adds, drops or changes against the
//!   previous good backup's (tables and their columns, indexes, functions, grants, ...).
//! - [`plans`]: the policy side of the facade (read, preview, save, declared in pgshelf.toml).
//! - [`overview`]: the landing page's read: every database's health, recent problems,
//!   running work, storage per destination and tier with a 30-day projection.
//! - [`history`]: a database's history for its page: sizes over a range (downsampled),
//!   its largest tables' growth (`backup_tables`), failed runs.
//! - [`notify`]: alerts (Slack, signed webhook, email): incidents, deliveries, the `notifier` worker.
//! - [`proof`]: test-restores (a backup restored into scratch and compared
//!   with its manifest), their schedule, proof status, alertable events.
//! - [`prune`]: acts on a retention plan after a successful run (storage first, then the catalog).
//! - [`recipe`]: the manual restore recipe of an artifact (stock tools, no pgshelf; pure).
//! - [`verify`]: step 6 of a run: the stored artifact read back (sha256, full
//!   decompression, `pg_restore --list`), its TOC kept, its size and tables
//!   judged against the backups before it (`verified` or `suspect`).
//! - [`workers`]: named background workers (the backup runner) and their status.
//! - [`policy`]: backup policies and server plans; the pg_dump arguments they imply (pure).
//! - [`restore`]: tables into scratch databases, full restores, rebuilds, downloads.
//! - [`retention`], [`cron`]: pure planning for retention tiers and schedules.
//! - [`run_now`]: "Back up now" (one run started by hand per target at a time); worker
//!   errors about a deleted server forgotten.
//! - [`toc`]: pg_dump archives (pure): header and TOC, streaming row counts
//!   from data blocks, the entries that restore chosen tables whole.
//!
//! [`Engine`] is the facade the dashboard and the CLI call: one method per
//! user action, errors as [`Error`], which knows its HTTP status.

pub mod auth;
pub mod cancel;
pub mod catalog;
pub mod compare;
pub mod crypt;
pub mod destinations;
/// Cron parsing and evaluation (pure; lives in `model` so the browser shares it).
pub use model::cron;
pub mod history;
pub mod live;
pub mod metrics;
pub mod notify;
pub mod overview;
pub mod pg;
pub mod pipeline;
pub mod plans;
pub mod policy;
pub mod proof;
pub mod prune;
pub mod recipe;
pub mod restore;
pub mod retention;
pub mod run_now;
pub mod schedule;
pub mod schema_changes;
pub mod secrets;
pub mod seekable;
pub mod servers;
pub mod storage;
pub mod toc;
pub mod verify;
pub mod workers;

use std::path::PathBuf;
use std::sync::Arc;

use catalog::{
    Backup, BackupFilter, BackupStatus, Catalog, CatalogError, NewBackup, ServerFields, ServerRow,
    Target,
};
pub use model::policy::PolicySource;
use model::server::{ConnectionReport, PgDumpChoice};
use pg::{ConnSpec, DatabaseInfo, PgError, PgTools, ToolFinder};
use pipeline::runner::{run_queued, spec_of};
use pipeline::{PipelineError, Progress, RunContext, ZstdSettings};
pub use plans::{effective_policy, server_plan};
use policy::PolicyError;
use secrets::{InstanceKey, Secret, SecretsError};
use servers::{InvalidInput, Server, ServerInput};
use storage::{Destination, StorageError};
use workers::{BackupRunner, Queued, RunFn, WorkerStatus};

/// Any engine failure, mapped once at the edge (HTTP status, CLI exit).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Pg(#[from] PgError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    #[error(transparent)]
    Proof(#[from] proof::ProofError),
    #[error(transparent)]
    Compare(#[from] compare::CompareError),
    #[error(transparent)]
    Restore(#[from] restore::RestoreError),
    #[error(transparent)]
    Destinations(#[from] destinations::DestinationsError),
    #[error(transparent)]
    Crypt(#[from] crypt::CryptError),
    #[error(transparent)]
    Notify(#[from] notify::NotifyError),
    #[error("{0}")]
    Conflict(String),
    #[error("cannot create {path}: {detail}. Fix: make the data directory writable, or set PGSHELF_DATA")]
    DataDir { path: String, detail: String },
}

impl Error {
    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            Error::Invalid(e) => e.status(),
            Error::Catalog(e) => e.status(),
            Error::Secrets(e) => e.status(),
            Error::Pg(e) => e.status(),
            Error::Storage(e) => e.status(),
            Error::Pipeline(e) => e.status(),
            Error::Policy(e) => e.status(),
            Error::Auth(e) => e.status(),
            Error::Proof(e) => e.status(),
            Error::Compare(e) => e.status(),
            Error::Restore(e) => e.status(),
            Error::Destinations(e) => e.status(),
            Error::Crypt(e) => e.status(),
            Error::Notify(e) => e.status(),
            Error::Conflict(_) => 409,
            Error::DataDir { .. } => 500,
        }
    }
}

/// `maintenance_work_mem` for a full restore's sessions unless configured.
pub const DEFAULT_RESTORE_MAINTENANCE_WORK_MEM: &str = "1GB";

/// Settings the engine runs with (the binary fills them from config).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Holds `pgshelf.db` and `instance.key`.
    pub data_dir: PathBuf,
    /// Root of the local destination.
    pub backup_dir: PathBuf,
    /// Where directory-format dumps are spooled before upload.
    pub spool_dir: PathBuf,
    /// Extra directories holding PostgreSQL client tools, searched first.
    pub pg_bin_dirs: Vec<PathBuf>,
    /// Also search `/usr/lib/postgresql/*/bin` and `$PATH`.
    pub search_system_tools: bool,
    pub zstd: ZstdSettings,
    pub runs_per_server: usize,
    pub max_runs: usize,
    /// The newest N successful backups of each database (and of each
    /// server's globals) are never pruned, whatever the retention tiers say.
    pub min_backups_kept: u32,
    /// How often the scheduler ticks; `None` starts no scheduler (tests tick by hand).
    /// A tick reads the catalog only.
    pub scheduler_interval: Option<std::time::Duration>,
    /// How often each server's database list is refreshed (names only, no
    /// sizes); `None` starts no discovery worker.
    pub discovery_interval: Option<std::time::Duration>,
    /// How long a run's owner promises to live without renewing its lease;
    /// after that, any pgshelf process sharing the catalog recovers the run.
    pub lease: std::time::Duration,
    /// How often this process renews its leases and looks for expired ones.
    pub lease_renew: std::time::Duration,
    /// `maintenance_work_mem` for the sessions of a full restore (index
    /// builds and foreign keys go faster), e.g. `1GB`.
    pub restore_maintenance_work_mem: String,
    /// Where row counts are taken by SQL (pg_dump compresses itself), tables
    /// whose data is larger than this get a `reltuples` estimate, marked as
    /// one, instead of a `count(*)` (default 1 GiB).
    pub exact_count_max_bytes: u64,
    /// A backup whose stored size is outside `1/r..r` times the median of
    /// the previous good backups (same database and policy shape; the last
    /// 5, at least 3) is `suspect` (default 2.0: 0.5x..2x).
    pub suspect_size_ratio: f64,
    /// How often the `notifier` worker evaluates alerts and delivers
    /// messages; `None` starts no notifier (tests call `notify_tick`).
    pub notify_interval: Option<std::time::Duration>,
    /// Alert links and the repeat interval.
    pub notify: notify::NotifySettings,
}

/// Default of [`EngineConfig::exact_count_max_bytes`]: 1 GiB.
pub const DEFAULT_EXACT_COUNT_MAX_BYTES: u64 = 1 << 30;

impl EngineConfig {
    /// Defaults for a data directory: backups in `<data>/backups`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        let data_dir = data_dir.into();
        EngineConfig {
            backup_dir: data_dir.join("backups"),
            spool_dir: data_dir.join("spool"),
            data_dir,
            pg_bin_dirs: Vec::new(),
            search_system_tools: true,
            zstd: ZstdSettings::default(),
            runs_per_server: 1,
            max_runs: 4,
            min_backups_kept: retention::DEFAULT_MIN_KEEP,
            scheduler_interval: Some(std::time::Duration::from_secs(30)),
            discovery_interval: Some(std::time::Duration::from_secs(600)),
            lease: catalog::DEFAULT_LEASE,
            lease_renew: std::time::Duration::from_secs(10),
            restore_maintenance_work_mem: DEFAULT_RESTORE_MAINTENANCE_WORK_MEM.into(),
            exact_count_max_bytes: DEFAULT_EXACT_COUNT_MAX_BYTES,
            suspect_size_ratio: verify::DEFAULT_SUSPECT_SIZE_RATIO,
            notify_interval: Some(std::time::Duration::from_secs(30)),
            notify: notify::NotifySettings::default(),
        }
    }
}

/// The engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    catalog: Catalog,
    key: InstanceKey,
    ctx: RunContext,
    runner: BackupRunner,
    scheduler: schedule::Scheduler,
    /// The first admin's one-time setup token (valid while no user exists).
    setup_token: String,
    throttle: auth::Throttle,
    discovery: schedule::Scheduler,
    /// Set by [`Engine::shutdown`]: no new runs are taken.
    stopping: std::sync::atomic::AtomicBool,
    /// The `test-restorer` worker (one test-restore at a time).
    proof: proof::TestRestorer,
    /// The `restorer` worker and restore settings.
    restore: restore::facade::RestoreState,
    /// The `copier` worker (failed copies copied again from a complete one).
    copier: destinations::Copier,
    /// The `notifier` worker (alerts) and its settings.
    notifier: notify::Notifier,
    /// The last overview read, reused while the catalog is unchanged.
    overview_cache: overview::Cache,
}

impl Engine {
    /// Opens the data directory (creating it, the key and the catalog on
    /// first start), recovers runs whose owner's lease has expired (marked
    /// failed, partial artifacts and spools removed), and starts the backup
    /// runner, the lease keeper (renews this process's leases and recovers
    /// expired ones every `lease_renew`), the scheduler and discovery.
    pub async fn open(cfg: EngineConfig) -> Result<Engine, Error> {
        std::fs::create_dir_all(&cfg.data_dir).map_err(|e| Error::DataDir {
            path: cfg.data_dir.display().to_string(),
            detail: e.to_string(),
        })?;
        // A destination that cannot be created now is reported by each run's
        // preflight, with the cause; the dashboard still starts.
        if let Err(e) = std::fs::create_dir_all(&cfg.backup_dir) {
            tracing::warn!(
                "cannot create the backup directory {}: {e}",
                cfg.backup_dir.display()
            );
        }
        // Certificate files of runs cut off by a crash (they may hold a client key).
        let swept = pg::tls::sweep_stale(&cfg.spool_dir);
        if swept > 0 {
            tracing::warn!("removed {swept} TLS certificate directories left by a stopped pgshelf");
        }
        let swept = pg::tls::sweep_dead(&cfg.spool_dir, restore::fetch::WORKDIR_PREFIX);
        if swept > 0 {
            tracing::warn!("removed {swept} restore work directories left by a stopped pgshelf");
        }
        let key = InstanceKey::load_or_create(&cfg.data_dir.join("instance.key"))?;
        let catalog = Catalog::open(&cfg.data_dir.join("pgshelf.db"))
            .await?
            .with_lease(cfg.lease);
        let destination = Destination::local(&cfg.backup_dir);
        // SFTP destinations: pgshelf's own known_hosts and ssh settings.
        if let Err(e) = storage::ssh::setup(&cfg.data_dir.join("ssh")) {
            tracing::warn!("cannot set up ssh for SFTP destinations: {e}");
        }
        let registry = destinations::Registry::new(
            catalog.clone(),
            key.clone(),
            destination.clone(),
            cfg.spool_dir.join("keys"),
        );
        let tools = ToolFinder {
            dirs: cfg.pg_bin_dirs.clone(),
            search_system: cfg.search_system_tools,
        };
        let ctx = RunContext {
            catalog: catalog.clone(),
            copies: Arc::new(storage::fanout::CopySet::new(vec![destination.clone()])),
            destination,
            registry,
            size_hint: 0,
            tools,
            zstd: cfg.zstd,
            spool_dir: cfg.spool_dir.clone(),
            retention: retention::Rules {
                min_keep: cfg.min_backups_kept,
            },
            exact_count_max_bytes: cfg.exact_count_max_bytes,
            suspect_size_ratio: cfg.suspect_size_ratio,
        };
        let run_ctx = ctx.clone();
        let run_key = key.clone();
        let run: RunFn = Arc::new(move |job: Queued, progress: Arc<Progress>| {
            let ctx = run_ctx.clone();
            let key = run_key.clone();
            Box::pin(async move {
                use futures::FutureExt;
                let id = job.backup_id;
                match std::panic::AssertUnwindSafe(run_queued(&ctx, &key, id, progress))
                    .catch_unwind()
                    .await
                {
                    Ok(r) => r.map(|_| ()).map_err(|e| e.to_string()),
                    Err(p) => {
                        let cause = format!(
                            "pgshelf hit a bug (a panic: {}) while running this backup; its partial artifact was removed. Fix: run the backup again, and report the bug with pgshelf's log",
                            workers::panic_text(&p)
                        );
                        pipeline::runner::fail_one(&ctx, id, &cause).await;
                        Err(cause)
                    }
                }
            })
        });
        let runner = BackupRunner::start(run, cfg.runs_per_server, cfg.max_runs);
        let engine = Engine {
            inner: Arc::new(Inner {
                catalog,
                key,
                ctx,
                runner,
                scheduler: schedule::Scheduler::default(),
                setup_token: auth::random_hex(16),
                throttle: auth::Throttle::default(),
                discovery: schedule::Scheduler::default(),
                stopping: std::sync::atomic::AtomicBool::new(false),
                proof: proof::TestRestorer::default(),
                restore: restore::facade::RestoreState::new(&cfg.restore_maintenance_work_mem),
                copier: destinations::Copier::default(),
                notifier: notify::Notifier::new(cfg.notify.clone()),
                overview_cache: overview::Cache::default(),
            }),
        };
        engine.recover_interrupted().await?;
        schedule::start_lease_keeper(Arc::downgrade(&engine.inner), cfg.lease_renew);
        if let Some(every) = cfg.discovery_interval {
            schedule::start_discovery(Arc::downgrade(&engine.inner), every);
        }
        if let Some(every) = cfg.scheduler_interval {
            schedule::start(Arc::downgrade(&engine.inner), every);
        }
        if let Some(every) = cfg.notify_interval {
            notify::start(Arc::downgrade(&engine.inner), every);
        }
        Ok(engine)
    }

    /// Recovers runs whose owner's lease has expired (its process died or
    /// hung): marked failed, partial artifacts and spools removed. Runs on
    /// open and every `lease_renew`; returns how many this call recovered.
    pub async fn recover_interrupted(&self) -> Result<usize, Error> {
        let now = chrono::Utc::now();
        let restores = self.inner.catalog.recover_restore_runs(now).await?;
        if restores > 0 {
            tracing::warn!(
                "{restores} restore(s) were cut off by a stopped pgshelf: recorded failed"
            );
        }
        pipeline::runner::recover(&self.inner.ctx, now).await
    }

    /// True once [`Engine::shutdown`] has begun.
    pub fn is_stopping(&self) -> bool {
        self.inner
            .stopping
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Stops gracefully: takes no new runs (queued ones are recorded failed),
    /// gives the running ones `grace` to finish, then stops their programs and
    /// records them failed with the cause "pgshelf was stopped ...", partial
    /// artifacts removed. Returns how many runs were stopped (or never started).
    pub async fn shutdown(&self, grace: std::time::Duration) -> Result<usize, Error> {
        use std::time::Instant;
        self.inner
            .stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let runner = &self.inner.runner;
        runner.drain();
        let deadline = Instant::now() + grace;
        while !runner.active().is_empty() && Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let cause = format!(
            "pgshelf was stopped (shutdown or restart) and this backup did not finish within the {}s grace period, so it was stopped and its partial artifact removed. Fix: none needed for a scheduled backup (its slot is retried); otherwise run it again, or give pgshelf a longer stop_grace_secs",
            grace.as_secs()
        );
        let active = runner.active();
        let mut stopped = active.len();
        for run in &active {
            let _ = run.progress.stop.set(cause.clone());
        }
        // The watchdog notices within a second; then the run cleans up and
        // records itself. Whatever is still going after that is aborted.
        let settle = Instant::now() + std::time::Duration::from_secs(15);
        while !runner.active().is_empty() && Instant::now() < settle {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        if !runner.active().is_empty() {
            runner.abort();
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        // Queued rows that never started, aborted runs, and runs of
        // `backup_now` in this process.
        let queued_cause = "pgshelf was stopped (shutdown or restart) before this queued backup started. Fix: none needed for a scheduled backup (its slot is retried); otherwise run it again";
        for run in self.inner.catalog.own_active_runs().await? {
            let c = if run.status == BackupStatus::Queued {
                queued_cause
            } else {
                cause.as_str()
            };
            pipeline::runner::fail_one(&self.inner.ctx, run.id, c).await;
            if run.status == BackupStatus::Queued {
                stopped += 1;
            }
        }
        Ok(stopped)
    }

    /// Where backups are written, for display.
    pub fn destination(&self) -> &str {
        &self.inner.ctx.destination.describe
    }

    // ---- servers -------------------------------------------------------

    pub async fn servers(&self) -> Result<Vec<Server>, Error> {
        Ok(self
            .inner
            .catalog
            .servers()
            .await?
            .iter()
            .map(Server::from)
            .collect())
    }

    pub async fn server(&self, id: i64) -> Result<Server, Error> {
        Ok(Server::from(&self.inner.catalog.server(id).await?))
    }

    pub async fn server_by_name(&self, name: &str) -> Result<Server, Error> {
        Ok(Server::from(
            &self.inner.catalog.server_by_name(name).await?,
        ))
    }

    pub async fn add_server(&self, input: ServerInput) -> Result<Server, Error> {
        let input = input.validated()?;
        let fields = self.fields(&input, None)?;
        Ok(Server::from(
            &self.inner.catalog.insert_server(&fields).await?,
        ))
    }

    /// Updates a server; a `None` password, certificate or key keeps the
    /// stored one, `Some("")` clears it.
    pub async fn update_server(&self, id: i64, input: ServerInput) -> Result<Server, Error> {
        let input = input.validated()?;
        let old = self.inner.catalog.server(id).await?;
        let moved = old.host != input.host
            || old.port != i64::from(input.port)
            || old.username != input.user;
        if moved && old.password_enc.is_some() && input.password.is_none() {
            // Otherwise one edit could send the stored password to any host.
            return Err(InvalidInput::new(
                "password",
                "is needed again because the host, port or user changed: the stored password is only ever sent where it was entered for. Fix: enter the password (or tick \"Clear the stored password\")",
            )
            .into());
        }
        let fields = self.fields(&input, Some(old))?;
        Ok(Server::from(
            &self.inner.catalog.update_server(id, &fields).await?,
        ))
    }

    /// Deletes a server; its backups stay listed and on storage.
    pub async fn delete_server(&self, id: i64) -> Result<(), Error> {
        let name = self.inner.catalog.server(id).await.ok().map(|s| s.name);
        self.inner.catalog.delete_server(id).await?;
        if let Some(name) = name {
            self.forget_errors_about(&name);
        }
        Ok(())
    }

    /// The fields to store: secrets sealed, `None` keeping what `old` has,
    /// and the resulting TLS settings checked as a whole.
    fn fields(&self, input: &ServerInput, old: Option<ServerRow>) -> Result<ServerFields, Error> {
        let (keep_pw, keep_root, keep_cert, keep_key) = match old {
            Some(o) => (
                o.password_enc,
                o.ssl_root_cert,
                o.ssl_client_cert,
                o.ssl_client_key_enc,
            ),
            None => (None, None, None, None),
        };
        let seal = |s: &Option<Secret>, keep: Option<String>| match s {
            Some(p) if p.is_empty() => None,
            Some(p) => Some(self.inner.key.seal(p)),
            None => keep,
        };
        let plain = |s: &Option<String>, keep: Option<String>| match s {
            Some(p) if p.is_empty() => None,
            Some(p) => Some(p.clone()),
            None => keep,
        };
        let fields = ServerFields {
            name: input.name.clone(),
            host: input.host.clone(),
            port: input.port,
            username: input.user.clone(),
            password_enc: seal(&input.password, keep_pw),
            sslmode: input.sslmode.clone(),
            maintenance_db: input.maintenance_db.clone(),
            ssl_root_cert: plain(&input.ssl_root_cert, keep_root),
            ssl_client_cert: plain(&input.ssl_client_cert, keep_cert),
            ssl_client_key_enc: seal(&input.ssl_client_key, keep_key),
        };
        servers::check_tls(
            &fields.sslmode,
            fields.ssl_root_cert.is_some(),
            fields.ssl_client_cert.is_some(),
            fields.ssl_client_key_enc.is_some(),
        )?;
        Ok(fields)
    }

    async fn spec(&self, id: i64) -> Result<(ServerRow, ConnSpec), Error> {
        let row = self.inner.catalog.server(id).await?;
        let spec = spec_of(&row, &self.inner.key)?;
        Ok((row, spec))
    }

    /// Connects to the maintenance database and reports the server's version and the pg_dump its runs
    /// would use. A connection that works also refreshes the server's
    /// database list, so a server tested as it is added shows its databases'
    /// schedules at once instead of after the next discovery.
    pub async fn test_connection(&self, id: i64) -> Result<ConnectionReport, Error> {
        let (info, tools) = self.probe_tools(id).await?;
        if let Err(e) = self.discover(id).await {
            tracing::warn!(server = id, "connected, but cannot list its databases: {e}");
        }
        Ok(ConnectionReport {
            server_version: info.version,
            major: info.major,
            in_recovery: info.in_recovery,
            pg_dump: tools.map(|t| PgDumpChoice {
                path: t.pg_dump().display().to_string(),
                version: t.version,
            }),
        })
    }

    /// The server's version and the client tools its backups would use (or
    /// why there are none).
    pub(crate) async fn probe_tools(
        &self,
        id: i64,
    ) -> Result<(pg::ServerInfo, Result<PgTools, String>), Error> {
        let (row, spec) = self.spec(id).await?;
        let mut conn = spec.connect(&row.maintenance_db).await?;
        let info = pg::conn::server_info(&spec, &mut conn).await?;
        let tools = self
            .inner
            .ctx
            .tools
            .for_server(&info.version, info.major)
            .await
            .map_err(|e| e.to_string());
        Ok((info, tools))
    }

    /// The databases on a server, with sizes; records what appeared or
    /// disappeared since the last look.
    pub async fn databases(&self, id: i64) -> Result<Vec<DatabaseInfo>, Error> {
        let dbs = self.databases_live(id).await?;
        let found: Vec<(String, Option<i64>)> =
            dbs.iter().map(|d| (d.name.clone(), d.size_bytes)).collect();
        self.inner.catalog.record_discovery(id, &found).await?;
        Ok(dbs)
    }

    /// Databases seen on a server, including those gone since (with when).
    pub async fn known_databases(&self, id: i64) -> Result<Vec<catalog::KnownDatabase>, Error> {
        Ok(self.inner.catalog.known_databases(id).await?)
    }

    pub(crate) async fn databases_live(&self, id: i64) -> Result<Vec<DatabaseInfo>, Error> {
        let (row, spec) = self.spec(id).await?;
        let mut conn = spec.connect(&row.maintenance_db).await?;
        Ok(pg::conn::databases(&spec, &mut conn).await?)
    }

    /// Client tools found on this host, lowest major first.
    pub async fn installed_tools(&self) -> Vec<PgTools> {
        self.inner.ctx.tools.find_all().await
    }

    // ---- backups -------------------------------------------------------

    async fn new_run(
        &self,
        server_id: i64,
        database: &str,
        trigger: &str,
    ) -> Result<Backup, Error> {
        self.refuse_when_stopping()?;
        let row = self.inner.catalog.server(server_id).await?;
        let database = database.trim();
        if database.is_empty() {
            return Err(InvalidInput::new(
                "database",
                "is empty. Fix: pick a database from the server's list",
            )
            .into());
        }
        Ok(self
            .inner
            .catalog
            .insert_backup(&NewBackup {
                server_id,
                server_name: row.name,
                target: Target::Database(database.to_owned()),
                scheduled_for: None,
                late: false,
                trigger: trigger.to_owned(),
                destination: self.inner.ctx.destination.describe.clone(),
                status: BackupStatus::Queued,
                attempt: 1,
                retry_of: None,
            })
            .await?)
    }

    pub(crate) fn refuse_when_stopping(&self) -> Result<(), Error> {
        if self.is_stopping() {
            return Err(Error::Conflict(
                "pgshelf is stopping and takes no new backups. Fix: start it again, then retry"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Queues a run of a database or of the server's globals for the runner
    /// and returns its row at once.
    pub async fn enqueue(
        &self,
        server_id: i64,
        target: &Target,
        trigger: &str,
    ) -> Result<Backup, Error> {
        match target {
            Target::Database(database) => self.enqueue_backup(server_id, database, trigger).await,
            Target::Globals => self.enqueue_globals(server_id, trigger).await,
        }
    }

    /// Queues a backup for the runner and returns its row at once.
    pub async fn enqueue_backup(
        &self,
        server_id: i64,
        database: &str,
        trigger: &str,
    ) -> Result<Backup, Error> {
        let database = database.trim();
        if database.is_empty() {
            return Err(InvalidInput::new(
                "database",
                "is empty. Fix: pick a database from the server's list",
            )
            .into());
        }
        self.enqueue_kind(
            server_id,
            &Target::Database(database.to_owned()),
            trigger,
            None,
            false,
            None,
        )
        .await
    }

    /// Runs a backup to the end in this task (the CLI's way).
    pub async fn backup_now(
        &self,
        server_id: i64,
        database: &str,
        trigger: &str,
    ) -> Result<Backup, Error> {
        let row = self.new_run(server_id, database, trigger).await?;
        let (progress, _listed) = self
            .inner
            .runner
            .track(row.id, format!("{}/{}", row.server_name, row.target));
        run_queued(&self.inner.ctx, &self.inner.key, row.id, progress).await
    }

    pub async fn backups(&self, filter: &BackupFilter) -> Result<Vec<Backup>, Error> {
        Ok(self.inner.catalog.backups(filter).await?)
    }

    pub async fn backup(&self, id: i64) -> Result<Backup, Error> {
        Ok(self.inner.catalog.backup(id).await?)
    }

    /// Live byte counters of a backup running in this process.
    pub fn progress(&self, id: i64) -> Option<(u64, u64)> {
        self.inner.runner.progress(id).map(|p| {
            (
                p.raw.load(std::sync::atomic::Ordering::Relaxed),
                p.stored.load(std::sync::atomic::Ordering::Relaxed),
            )
        })
    }

    /// Removes a finished backup from storage, then from the catalog.
    pub async fn delete_backup(&self, id: i64) -> Result<(), Error> {
        let row = self.inner.catalog.backup(id).await?;
        if row.status.is_active() {
            return Err(Error::Conflict(format!(
                "backup {id} is {}; wait for it to end before deleting it",
                row.status
            )));
        }
        destinations::remove_copies(&self.inner.ctx, &row)
            .await
            .map_err(|detail| StorageError::Io {
                dest: "storage".into(),
                detail,
            })?;
        Ok(self.inner.catalog.delete_backup(id).await?)
    }

    /// Status of every background worker.
    pub fn workers(&self) -> Vec<WorkerStatus> {
        vec![
            self.inner.runner.status(),
            self.inner.scheduler.status(),
            self.inner
                .discovery
                .status_named("discovery", "database(s) appeared or disappeared"),
            self.inner.proof.status(),
            self.inner.restore.restorer.status(),
            self.inner.copier.status(),
            self.inner.notifier.status(),
        ]
    }
}
