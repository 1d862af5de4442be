//! Destinations as users manage them: added, edited, tested and removed
//! (sealed secrets, never returned), declared in `pgshelf.toml`, resolved
//! for a run; a backup's copies; failed copies copied again from a
//! complete one (the `copier` worker); the catalog rebuilt from a
//! destination's manifests (`import`).

use std::path::PathBuf;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use model::destination::{
    self as dm, BackupCopy, CopyStatus, DestinationError, DestinationInput, DestinationSettings,
    HostKey, ImportReport, ProbeReport,
};

use crate::catalog::{Catalog, CatalogError, DestinationRow, NewDestination};
use crate::secrets::{InstanceKey, Secret, SecretsError};
use crate::storage::fanout::{CopySet, FanOut};
use crate::storage::{self, Destination, StorageError};

/// What can go wrong managing destinations.
#[derive(Debug, thiserror::Error)]
pub enum DestinationsError {
    #[error("{0}")]
    Invalid(DestinationError),
    #[error("{name} is the built-in destination (backup_dir). Fix: change backup_dir in pgshelf.toml or PGSHELF_BACKUP_DIR to move it")]
    BuiltIn { name: String },
    #[error(
        "{name} is declared in pgshelf.toml. Fix: edit or remove it there and restart pgshelf"
    )]
    FromConfig { name: String },
    #[error("{name} is still named by {users}. Fix: remove it from those policies first")]
    InUse { name: String, users: String },
    #[error("{count} backup(s) have their only complete copy on {name}; removing it would lose them. Fix: add another destination to their policies and let the copies be made, or let retention prune them first")]
    OnlyCopy { name: String, count: i64 },
    #[error("changing where {name} connects needs its {what} again. Fix: enter the {what} (it is never shown, so it must be typed again when the endpoint, account or user changes)")]
    SecretNeeded { name: String, what: String },
    #[error("no destination named {0:?}. Fix: pick one from the Destinations page or `pgshelf destination list`")]
    Unknown(String),
    #[error("SSH host key of {host}:{port}: {detail}")]
    HostKey {
        host: String,
        port: u16,
        detail: String,
    },
    #[error("{0} is not an SFTP destination: only SFTP servers have a host key")]
    NotSftp(String),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl DestinationsError {
    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            DestinationsError::Invalid(_) | DestinationsError::SecretNeeded { .. } => 422,
            DestinationsError::BuiltIn { .. }
            | DestinationsError::FromConfig { .. }
            | DestinationsError::InUse { .. }
            | DestinationsError::OnlyCopy { .. }
            | DestinationsError::NotSftp(_) => 409,
            DestinationsError::Unknown(_) => 404,
            DestinationsError::HostKey { .. } => 502,
            DestinationsError::Catalog(e) => e.status(),
            DestinationsError::Secrets(e) => e.status(),
            DestinationsError::Storage(e) => e.status(),
        }
    }
}

/// Resolves destination names to [`Destination`]s (secrets opened).
#[derive(Clone)]
pub struct Registry {
    catalog: Catalog,
    key: InstanceKey,
    local: Destination,
    /// Private files clients need while connected (SSH keys).
    work: PathBuf,
}

impl Registry {
    pub fn new(catalog: Catalog, key: InstanceKey, local: Destination, work: PathBuf) -> Self {
        Registry {
            catalog,
            key,
            local,
            work,
        }
    }

    /// The built-in `local` destination (backup_dir).
    pub fn local(&self) -> &Destination {
        &self.local
    }

    fn build(&self, row: &DestinationRow) -> Result<Destination, DestinationsError> {
        let secret = match &row.secret_sealed {
            Some(s) => Some(self.key.open(s)?),
            None => None,
        };
        Ok(Destination::configured(
            &row.name,
            &row.settings,
            &row.root,
            row.concurrency,
            secret,
            &self.work,
        ))
    }

    pub async fn get(&self, name: &str) -> Result<Destination, DestinationsError> {
        if name == dm::LOCAL {
            return Ok(self.local.clone());
        }
        match self.catalog.destination(name).await {
            Ok(row) => self.build(&row),
            Err(CatalogError::NoSuchDestination(n)) => Err(DestinationsError::Unknown(n)),
            Err(e) => Err(e.into()),
        }
    }

    /// The destinations a policy names (empty: `local`).
    pub async fn resolve(&self, names: &[String]) -> Result<Vec<Destination>, DestinationsError> {
        if names.is_empty() {
            return Ok(vec![self.local.clone()]);
        }
        let mut out = Vec::with_capacity(names.len());
        for n in names {
            out.push(self.get(n).await?);
        }
        Ok(out)
    }

    /// The folder a location recorded before copies existed names on the
    /// local destination (`local:/root/` + folder), if it names one there.
    pub fn local_dir<'a>(&self, location: &'a str) -> Option<&'a str> {
        location
            .strip_prefix(self.local.describe.as_str())?
            .strip_prefix('/')
    }

    /// Where a backup can be read from: its first complete copy on a
    /// destination that still exists; for backups from before copies were
    /// recorded, the local destination its location names.
    pub async fn source_of(
        &self,
        backup: &crate::catalog::Backup,
    ) -> Result<(Destination, String), String> {
        let copies = self
            .catalog
            .copies(backup.id)
            .await
            .map_err(|e| e.to_string())?;
        let mut why = Vec::new();
        for c in copies.iter().filter(|c| c.status == CopyStatus::Complete) {
            match self.get(&c.destination).await {
                Ok(d) => return Ok((d, c.dir.clone())),
                Err(e) => why.push(format!("{}: {e}", c.destination)),
            }
        }
        if copies.is_empty() {
            let loc = backup.location.as_deref().unwrap_or("");
            if let Some(dir) = self.local_dir(loc) {
                return Ok((self.local.clone(), dir.to_owned()));
            }
            return Err(format!(
                "its artifact is at {loc:?}, not on the current local destination {}",
                self.local.describe
            ));
        }
        if why.is_empty() {
            why.push(
                copies
                    .iter()
                    .map(|c| format!("{}: {}", c.destination, c.status.as_str()))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        }
        Err(format!("no complete copy can be read ({})", why.join("; ")))
    }
}

/// Attempts of one copy, the first upload included.
pub const MAX_COPY_ATTEMPTS: u32 = 3;

/// When a failed copy is tried again after `attempts` attempts.
pub fn copy_retry_at(now: DateTime<Utc>, attempts: u32) -> Option<DateTime<Utc>> {
    match attempts {
        0 | 1 => Some(now + ChronoDuration::minutes(2)),
        n if n < MAX_COPY_ATTEMPTS => Some(now + ChronoDuration::minutes(10)),
        _ => None,
    }
}

impl crate::Engine {
    fn registry(&self) -> &Registry {
        &self.inner.ctx.registry
    }

    fn shown(&self, row: &DestinationRow, usage: &[(String, i64, i64)]) -> dm::Destination {
        let (copies, bytes) = usage
            .iter()
            .find(|(n, _, _)| n == &row.name)
            .map(|(_, c, b)| (*c, *b))
            .unwrap_or((0, 0));
        dm::Destination {
            id: row.id,
            name: row.name.clone(),
            describe: row.settings.describe(&row.root),
            settings: row.settings.clone(),
            root: row.root.clone(),
            concurrency: row.concurrency,
            has_secret: row.secret_sealed.is_some(),
            from_config: row.from_config,
            copies: copies.max(0) as u64,
            stored_bytes: bytes.max(0) as u64,
            last_test: row.last_test.clone(),
        }
    }

    /// Every destination, the built-in `local` first, with what is stored
    /// on each.
    pub async fn destinations(&self) -> Result<Vec<dm::Destination>, DestinationsError> {
        let usage = self.inner.catalog.copy_usage().await?;
        let local = self.registry().local();
        let path = local.describe.trim_start_matches("local:").to_owned();
        let builtin = DestinationRow {
            id: 0,
            name: dm::LOCAL.into(),
            settings: DestinationSettings::Local { path },
            root: String::new(),
            concurrency: 1,
            secret_sealed: None,
            from_config: true,
            last_test: None,
        };
        let mut out = vec![self.shown(&builtin, &usage)];
        for row in self.inner.catalog.destinations().await? {
            out.push(self.shown(&row, &usage));
        }
        Ok(out)
    }

    pub async fn destination_named(
        &self,
        name: &str,
    ) -> Result<dm::Destination, DestinationsError> {
        self.destinations()
            .await?
            .into_iter()
            .find(|d| d.name == name)
            .ok_or_else(|| DestinationsError::Unknown(name.to_owned()))
    }

    fn sealed(&self, secret: &Option<String>) -> Option<String> {
        secret
            .as_ref()
            .map(|s| s.trim_end_matches(['\r', '\n']))
            .filter(|s| !s.trim().is_empty())
            .map(|s| self.inner.key.seal(&Secret::new(s)))
    }

    /// Adds a destination (its secret sealed). Test it before naming it in
    /// a policy.
    pub async fn add_destination(
        &self,
        input: DestinationInput,
    ) -> Result<dm::Destination, DestinationsError> {
        self.put_destination(None, input, false).await
    }

    /// Replaces a destination's settings; an empty secret keeps the stored
    /// one unless where it is sent changes.
    pub async fn update_destination(
        &self,
        name: &str,
        input: DestinationInput,
    ) -> Result<dm::Destination, DestinationsError> {
        self.put_destination(Some(name), input, false).await
    }

    async fn put_destination(
        &self,
        existing: Option<&str>,
        input: DestinationInput,
        from_config: bool,
    ) -> Result<dm::Destination, DestinationsError> {
        let mut input = input;
        input.root = input.root.trim().trim_matches('/').to_owned();
        input
            .validate(existing.is_none())
            .map_err(DestinationsError::Invalid)?;
        if input.name == dm::LOCAL || existing == Some(dm::LOCAL) {
            return Err(DestinationsError::BuiltIn {
                name: dm::LOCAL.into(),
            });
        }
        let given = self.sealed(&input.secret);
        let secret_sealed = match existing {
            None => given,
            Some(old_name) => {
                let old = match self.inner.catalog.destination(old_name).await {
                    Ok(r) => r,
                    Err(CatalogError::NoSuchDestination(n)) => {
                        return Err(DestinationsError::Unknown(n))
                    }
                    Err(e) => return Err(e.into()),
                };
                if old.from_config && !from_config {
                    return Err(DestinationsError::FromConfig {
                        name: old.name.clone(),
                    });
                }
                match given {
                    Some(s) => Some(s),
                    None if input.settings.endpoint_changed(&old.settings)
                        && input.settings.needs_secret() =>
                    {
                        return Err(DestinationsError::SecretNeeded {
                            name: old.name.clone(),
                            what: input.settings.secret_label().into(),
                        })
                    }
                    None => old.secret_sealed.clone(),
                }
            }
        };
        let row = NewDestination {
            name: input.name.clone(),
            settings: input.settings.clone(),
            root: input.root.clone(),
            concurrency: input.concurrency,
            secret_sealed,
            from_config,
        };
        match existing {
            None => self.inner.catalog.insert_destination(&row).await?,
            Some(old) => self.inner.catalog.update_destination(old, &row).await?,
        }
        self.destination_named(&input.name).await
    }

    /// Destinations declared in `pgshelf.toml`: added or replaced at start
    /// (secrets from the file or `PGSHELF_*` variables).
    pub async fn declare_destinations(
        &self,
        declared: Vec<DestinationInput>,
    ) -> Result<(), DestinationsError> {
        // Taken out of the file: kept (backups may depend on it), but now
        // managed in the dashboard and the CLI.
        let names: Vec<String> = declared.iter().map(|d| d.name.clone()).collect();
        self.inner.catalog.release_destinations(&names).await?;
        for input in declared {
            let exists = match self.inner.catalog.destination(&input.name).await {
                Ok(_) => true,
                Err(CatalogError::NoSuchDestination(_)) => false,
                Err(e) => return Err(e.into()),
            };
            let name = input.name.clone();
            self.put_destination(exists.then_some(name.as_str()), input, true)
                .await?;
        }
        Ok(())
    }

    /// Removes a destination no policy names and no backup depends on.
    /// Its stored files are left where they are.
    pub async fn remove_destination(&self, name: &str) -> Result<(), DestinationsError> {
        if name == dm::LOCAL {
            return Err(DestinationsError::BuiltIn { name: name.into() });
        }
        let row = match self.inner.catalog.destination(name).await {
            Ok(r) => r,
            Err(CatalogError::NoSuchDestination(n)) => return Err(DestinationsError::Unknown(n)),
            Err(e) => return Err(e.into()),
        };
        if row.from_config {
            return Err(DestinationsError::FromConfig { name: row.name });
        }
        let users = self.inner.catalog.destination_users(name).await?;
        if !users.is_empty() {
            return Err(DestinationsError::InUse {
                name: name.into(),
                users: users.join(", "),
            });
        }
        let only = self.inner.catalog.only_on(name).await?;
        if only > 0 {
            return Err(DestinationsError::OnlyCopy {
                name: name.into(),
                count: only,
            });
        }
        self.inner.catalog.delete_destination(name).await?;
        Ok(())
    }

    /// "Test": a probe object written, read back, listed and deleted. The
    /// report is kept with the destination.
    pub async fn test_destination(&self, name: &str) -> Result<ProbeReport, DestinationsError> {
        let dest = self.registry().get(name).await?;
        let mut report = storage::probe::probe(&dest).await;
        if !report.ok() {
            if let Ok(row) = self.inner.catalog.destination(name).await {
                if let DestinationSettings::Sftp {
                    host,
                    port,
                    host_key,
                    ..
                } = &row.settings
                {
                    // ssh says only "failed to connect": find out whether
                    // the host key is why.
                    if !host_key.trim().is_empty() {
                        if let Ok(seen) = storage::ssh::scan(host, *port).await {
                            if !same_key(&seen.key, host_key) {
                                let expected = storage::ssh::fingerprint(host_key)
                                    .await
                                    .unwrap_or_else(|_| host_key.clone());
                                let e = StorageError::HostKeyChanged {
                                    dest: dest.describe.clone(),
                                    expected,
                                    actual: seen.fingerprint,
                                };
                                if let Some(step) = report.steps.iter_mut().find(|s| !s.ok) {
                                    step.detail = Some(e.to_string());
                                }
                            }
                        }
                    }
                }
            }
        }
        if name != dm::LOCAL {
            self.inner
                .catalog
                .set_destination_test(name, &report)
                .await?;
        }
        Ok(report)
    }

    /// The host key an SFTP server shows now, with its fingerprint, for
    /// the user to compare and confirm.
    pub async fn scan_host_key(&self, host: &str, port: u16) -> Result<HostKey, DestinationsError> {
        storage::ssh::scan(host, port)
            .await
            .map_err(|detail| DestinationsError::HostKey {
                host: host.into(),
                port,
                detail,
            })
    }

    /// Trusts `key` (as shown by [`Engine::scan_host_key`]) for an SFTP
    /// destination.
    pub async fn trust_host_key(
        &self,
        name: &str,
        key: &str,
    ) -> Result<dm::Destination, DestinationsError> {
        let row = match self.inner.catalog.destination(name).await {
            Ok(r) => r,
            Err(CatalogError::NoSuchDestination(n)) => return Err(DestinationsError::Unknown(n)),
            Err(e) => return Err(e.into()),
        };
        let DestinationSettings::Sftp {
            host,
            port,
            username,
            ..
        } = row.settings
        else {
            return Err(DestinationsError::NotSftp(name.into()));
        };
        let key = key.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        storage::ssh::fingerprint(&key)
            .await
            .map_err(|detail| DestinationsError::HostKey {
                host: host.clone(),
                port,
                detail,
            })?;
        let new = NewDestination {
            name: row.name.clone(),
            settings: DestinationSettings::Sftp {
                host,
                port,
                username,
                host_key: key,
            },
            root: row.root,
            concurrency: row.concurrency,
            secret_sealed: row.secret_sealed,
            from_config: row.from_config,
        };
        self.inner.catalog.update_destination(name, &new).await?;
        self.destination_named(name).await
    }

    /// A backup's copies, one per destination it was written to.
    pub async fn backup_copies(
        &self,
        backup_id: i64,
    ) -> Result<Vec<BackupCopy>, DestinationsError> {
        self.inner.catalog.backup(backup_id).await?;
        Ok(self.inner.catalog.copies(backup_id).await?)
    }
}

fn same_key(a: &str, b: &str) -> bool {
    let norm = |k: &str| k.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    norm(a) == norm(b)
}

/// Copies a complete copy's files to `to` (files first, the manifest last),
/// streaming, for a copy that failed during its run.
pub(crate) async fn copy_artifact(
    from: &Destination,
    to: &Destination,
    dir: &str,
) -> Result<u64, StorageError> {
    use futures::TryStreamExt;
    let src = from.operator()?;
    let entries = src
        .list_with(dir)
        .recursive(true)
        .await
        .map_err(|e| from.error(e))?;
    let mut files: Vec<(String, u64)> = entries
        .into_iter()
        .filter(|e| !e.path().ends_with('/'))
        .map(|e| (e.path().to_owned(), e.metadata().content_length()))
        .collect();
    let manifest = format!("{dir}{}", storage::MANIFEST_FILE);
    files.retain(|(p, _)| p != &manifest);
    // Leftovers of a failed attempt go first.
    let _ = to.remove_artifact(dir).await;
    let set = CopySet::new(vec![to.clone()]);
    let mut total = 0u64;
    for (path, _) in &files {
        let size = src
            .stat(path)
            .await
            .map_err(|e| from.error(e))?
            .content_length();
        let mut reader = src
            .reader_with(path)
            .chunk(8 << 20)
            .await
            .map_err(|e| from.error(e))?
            .into_bytes_stream(..)
            .await
            .map_err(|e| from.error(e))?;
        let mut out = FanOut::open(&set, path, size).await?;
        let mut written = 0u64;
        loop {
            let chunk = match reader.try_next().await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    out.abort().await;
                    return Err(from.error(opendal::Error::new(
                        opendal::ErrorKind::Unexpected,
                        format!("reading {path}: {e}"),
                    )));
                }
            };
            written += chunk.len() as u64;
            if let Err(e) = out.write(chunk).await {
                out.abort().await;
                return Err(e);
            }
        }
        out.close(written).await?;
        total += written;
    }
    let body = src.read(&manifest).await.map_err(|e| from.error(e))?;
    to.write_atomic(&manifest, body.to_vec()).await?;
    Ok(total)
}

/// Removes a backup's files from every destination that holds a copy
/// (storage first; each copy is marked pruned once its files are gone).
/// For backups from before copies were recorded, the local destination
/// its location names.
pub(crate) async fn remove_copies(
    ctx: &crate::pipeline::RunContext,
    row: &crate::catalog::Backup,
) -> Result<(), String> {
    let copies = ctx
        .catalog
        .copies(row.id)
        .await
        .map_err(|e| e.to_string())?;
    if copies.is_empty() {
        let local = ctx.registry.local();
        return match row.location.as_deref().and_then(|l| ctx.registry.local_dir(l)) {
            Some(dir) => local.remove_artifact(dir).await.map_err(|e| e.to_string()),
            None if row.location.is_none() => Ok(()),
            None => Err(format!(
                "its artifact is at {:?}, not on the current local destination {}; remove it there by hand",
                row.location.as_deref().unwrap_or("(unknown)"),
                local.describe
            )),
        };
    }
    let mut errors = Vec::new();
    for c in copies.iter().filter(|c| c.status != CopyStatus::Pruned) {
        let removed = match ctx.registry.get(&c.destination).await {
            Ok(dest) => dest
                .remove_artifact(&c.dir)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match removed {
            Ok(()) => {
                ctx.catalog
                    .put_copy(
                        row.id,
                        &c.destination,
                        &c.dir,
                        CopyStatus::Pruned,
                        c.bytes,
                        None,
                    )
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Err(e) => errors.push(format!("{}: {e}", c.destination)),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// The `copier` worker: copies that failed during their run are copied
/// again from a complete copy (never re-dumped), at most
/// [`MAX_COPY_ATTEMPTS`] attempts, 2 then 10 minutes apart. Driven by the
/// lease keeper's tick; one copy at a time.
#[derive(Clone, Default)]
pub struct Copier {
    state: std::sync::Arc<std::sync::Mutex<CopierState>>,
    turn: std::sync::Arc<tokio::sync::Mutex<()>>,
}

#[derive(Default)]
struct CopierState {
    doing: Option<String>,
    last_error: Option<String>,
    last_finished_at: Option<DateTime<Utc>>,
}

impl Copier {
    pub fn status(&self) -> model::worker::WorkerStatus {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        model::worker::WorkerStatus {
            name: "copier".into(),
            state: if st.doing.is_some() {
                model::worker::WorkerState::Running
            } else {
                model::worker::WorkerState::Idle
            },
            doing: st.doing.iter().cloned().collect(),
            queued: 0,
            last_error: st.last_error.clone(),
            last_finished_at: st.last_finished_at,
        }
    }

    fn set(&self, f: impl FnOnce(&mut CopierState)) {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

impl crate::Engine {
    /// Copies again every failed copy whose retry is due at `now` (the
    /// scheduler calls this; tests call it with their own clock). Returns
    /// how many copies became complete.
    pub async fn retry_copies(&self, now: DateTime<Utc>) -> Result<usize, crate::Error> {
        let copier = &self.inner.copier;
        let Ok(_turn) = copier.turn.try_lock() else {
            return Ok(0);
        };
        let mut done = 0;
        for (backup_id, dest_name) in self.inner.catalog.due_copy_retries(now).await? {
            let label = format!("backup {backup_id} to {dest_name}");
            copier.set(|st| st.doing = Some(label.clone()));
            let r = self.retry_copy(backup_id, &dest_name).await;
            copier.set(|st| {
                st.doing = None;
                st.last_finished_at = Some(Utc::now());
                if let Err(e) = &r {
                    st.last_error = Some(format!("{label}: {e}"));
                }
            });
            if r.is_ok() {
                done += 1;
            }
        }
        Ok(done)
    }

    async fn retry_copy(&self, backup_id: i64, dest_name: &str) -> Result<(), String> {
        let catalog = &self.inner.catalog;
        let reg = self.registry();
        let copies = catalog.copies(backup_id).await.map_err(|e| e.to_string())?;
        if !copies.iter().any(|c| c.destination == dest_name) {
            return Ok(());
        }
        let attempts = catalog
            .begin_copy_retry(backup_id, dest_name)
            .await
            .map_err(|e| e.to_string())?;
        if attempts == 0 {
            return Ok(()); // another process took it
        }
        let result = async {
            let to = reg.get(dest_name).await.map_err(|e| e.to_string())?;
            let mut last = String::from("no complete copy to copy from");
            for c in copies
                .iter()
                .filter(|c| c.status == CopyStatus::Complete && c.destination != dest_name)
            {
                let from = match reg.get(&c.destination).await {
                    Ok(d) => d,
                    Err(e) => {
                        last = e.to_string();
                        continue;
                    }
                };
                match copy_artifact(&from, &to, &c.dir).await {
                    Ok(bytes) => return Ok((c.dir.clone(), bytes)),
                    Err(e) => {
                        let _ = to.remove_artifact(&c.dir).await;
                        last = e.to_string();
                    }
                }
            }
            Err(last)
        }
        .await;
        match result {
            Ok((dir, bytes)) => {
                catalog
                    .put_copy(
                        backup_id,
                        dest_name,
                        &dir,
                        CopyStatus::Complete,
                        bytes,
                        None,
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                tracing::info!(
                    backup = backup_id,
                    destination = dest_name,
                    "copy made from another copy"
                );
                Ok(())
            }
            Err(e) => {
                let retry = copy_retry_at(Utc::now(), attempts);
                let why = if retry.is_none() {
                    format!("{e} (gave up after {attempts} attempts; the next backup writes a new copy)")
                } else {
                    e.clone()
                };
                catalog
                    .fail_copy(backup_id, dest_name, &why, retry)
                    .await
                    .map_err(|e| e.to_string())?;
                Err(e)
            }
        }
    }
}

impl crate::Engine {
    /// Reads every `manifest.json` under a destination and records the
    /// backups the catalog does not have (a backup recorded with the same
    /// artifact folder counts as known; a known backup without a copy row
    /// for this destination gets one). A fresh pgshelf pointed at an old
    /// bucket then lists its backups and restores from them.
    pub async fn import_catalog(&self, name: &str) -> Result<ImportReport, crate::Error> {
        let dest = self.registry().get(name).await?;
        let op = dest.operator()?;
        let entries = op
            .list_with("")
            .recursive(true)
            .await
            .map_err(|e| dest.error(e))?;
        let mut paths: Vec<String> = entries
            .into_iter()
            .map(|e| e.path().to_owned())
            .filter(|p| {
                p.ends_with(&format!("/{}", storage::MANIFEST_FILE))
                    && !p.starts_with(storage::probe::PROBE_DIR)
            })
            .collect();
        paths.sort();
        let mut report = ImportReport {
            destination: name.to_owned(),
            ..ImportReport::default()
        };
        let servers = self.inner.catalog.servers().await?;
        for path in paths {
            report.manifests += 1;
            let dir = path[..path.len() - storage::MANIFEST_FILE.len()].to_owned();
            let text = match op.read(&path).await {
                Ok(b) => String::from_utf8_lossy(&b.to_vec()).into_owned(),
                Err(e) => {
                    report.skipped.push(format!("{path}: {}", dest.error(e)));
                    continue;
                }
            };
            let m: crate::pipeline::Manifest = match serde_json::from_str(&text) {
                Ok(m) => m,
                Err(e) => {
                    report
                        .skipped
                        .push(format!("{path}: not a pgshelf manifest ({e})"));
                    continue;
                }
            };
            let kind = m.kind.as_str().to_owned();
            let database = if kind == "globals" {
                String::new()
            } else {
                m.database.clone()
            };
            let stored: u64 = m.files.iter().map(|f| f.size).sum();
            if let Some(id) = self.inner.catalog.backup_by_dir(&dir).await? {
                report.known += 1;
                let has = self
                    .inner
                    .catalog
                    .copies(id)
                    .await?
                    .iter()
                    .any(|c| c.destination == name && c.status == CopyStatus::Complete);
                if !has {
                    self.inner
                        .catalog
                        .put_copy(id, name, &dir, CopyStatus::Complete, stored, None)
                        .await?;
                }
                continue;
            }
            // Every file the manifest lists must be there, whole.
            let mut missing = None;
            for f in &m.files {
                match op.stat(&format!("{dir}{}", f.path)).await {
                    Ok(meta) if meta.content_length() == f.size => {}
                    Ok(meta) => {
                        missing = Some(format!(
                            "{} is {} bytes, the manifest says {}",
                            f.path,
                            meta.content_length(),
                            f.size
                        ));
                        break;
                    }
                    Err(e) => {
                        missing = Some(format!("{}: {}", f.path, dest.error(e)));
                        break;
                    }
                }
            }
            if let Some(why) = missing {
                report.skipped.push(format!("{path}: {why}"));
                continue;
            }
            let server_id = servers.iter().find(|s| s.name == m.server).map(|s| s.id);
            self.inner
                .catalog
                .insert_imported(&crate::catalog::ImportedBackup {
                    server_id,
                    server_name: m.server.clone(),
                    kind,
                    database,
                    started_at: m.started_at,
                    finished_at: m.finished_at,
                    raw_bytes: m.files.iter().map(|f| f.raw_size).sum(),
                    stored_bytes: stored,
                    format: m.format.clone(),
                    destination: name.to_owned(),
                    location: format!("{}/{dir}", dest.describe),
                    dir: dir.clone(),
                    pg_dump_version: m.pg_dump_version.clone(),
                    server_version: m.server_version.clone(),
                    manifest: text,
                    compression: m.compression.clone(),
                    note: format!(
                        "imported from {} ({}): not verified by this pgshelf; files and sizes match the manifest",
                        name, dest.describe
                    ),
                })
                .await?;
            report.imported += 1;
        }
        Ok(report)
    }
}
