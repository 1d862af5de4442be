//! Test-restores: proof that a backup restores. The newest good backup of a
//! database (or a chosen one) is checked against its manifest (the stored
//! files' sha256 re-read), restored whole into a fresh scratch database on a
//! restore server whose major version is at least the dump's source, and
//! its table list and row counts compared with those recorded at dump time;
//! the result (passed/failed, duration, each mismatch by table) is recorded,
//! the scratch database is always dropped, and a failure records an
//! alertable event.
//!
//! The `test-restorer` worker runs them one at a time, started by hand
//! ([`Engine::test_restore`]) or by the scheduler's tick
//! ([`Engine::tick_test_restores`]: each covered database's test-restore
//! schedule from its effective policy, last slot kept in the catalog,
//! caught up once after downtime). The proof status of a database (last
//! test, last pass, flag) comes from [`Engine::database_proof`]; the flag
//! rule itself is pure, in [`model::proof`].

use model::names::qualified;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::{Backup, BackupFilter, NewEvent, NewTestRestore, Target, TestRestoreEnd};
use crate::pipeline::ManifestFile;
use crate::policy::Policy;
use crate::workers::{WorkerState, WorkerStatus};
use crate::{cron, effective_policy, server_plan, storage, Engine, Error};

pub use model::proof::{
    proof_flag, proof_interval, DatabaseProof, Event, Mismatch, ProofFlag, Severity, TableCheck,
    TestRestore, TestRestoreStatus, TestRestoreTrigger, EVENT_TEST_RESTORE_FAILED,
};

/// Why a test-restore cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    #[error("backup {0} is a globals backup; test-restores prove database backups. Fix: pick a database backup (`pgshelf list`)")]
    NotADatabaseBackup(i64),
    #[error("backup {id} is {status}, not a good backup: there is nothing to prove. Fix: pick a succeeded backup from `pgshelf list`, or run a backup first")]
    NotProvable { id: i64, status: String },
    #[error("backup {0} was pruned by retention: its artifact is gone. Fix: pick a newer backup from `pgshelf list`")]
    Pruned(i64),
    #[error("backup {0} has no artifact location in the catalog. Fix: pick another backup from `pgshelf list`")]
    NoArtifact(i64),
    #[error("no good backup of {database} on {server} to test-restore. Fix: back it up first (`pgshelf backup --server {server} --database {database}`), or check the name with `pgshelf list`")]
    NoBackup { server: String, database: String },
    #[error("backup {0} belongs to a server that was removed from pgshelf, so there is no default restore server. Fix: name one with --restore-server")]
    ServerGone(i64),
    #[error("{restore_server} runs PostgreSQL {restore_major}, older than the dump's source ({source_version}): an older server cannot take a newer server's dump. Fix: pick a restore server running PostgreSQL {source_major} or newer")]
    TooOld {
        restore_server: String,
        restore_major: u32,
        source_version: String,
        source_major: u32,
    },
    #[error("no server named {0:?} for the test-restore policy's restore_server. Fix: add that server, or change the policy's test-restore server (`pgshelf policy set --test-restore-server NAME`)")]
    NoRestoreServer(String),
    #[error(
        "pgshelf is stopping and starts no new test-restores. Fix: start it again, then retry"
    )]
    Stopping,
}

impl ProofError {
    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            ProofError::NotADatabaseBackup(_) | ProofError::TooOld { .. } => 422,
            ProofError::NoBackup { .. } | ProofError::NoRestoreServer(_) => 404,
            _ => 409,
        }
    }
}

/// What to test-restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TestRestoreTarget {
    /// This backup.
    Backup(i64),
    /// The newest good backup of this database.
    Database { server_id: i64, database: String },
}

// ---- the worker ----------------------------------------------------------

#[derive(Debug, Default)]
struct WorkerSt {
    doing: Option<String>,
    waiting: usize,
    last_error: Option<String>,
    last_finished_at: Option<DateTime<Utc>>,
}

/// The `test-restorer` worker: at most one test-restore at a time in this
/// process; the others wait their turn (counted as queued).
#[derive(Clone, Default)]
pub struct TestRestorer {
    state: Arc<Mutex<WorkerSt>>,
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl TestRestorer {
    pub fn status(&self) -> WorkerStatus {
        let st = self.state.lock().expect("test-restorer state");
        WorkerStatus {
            name: "test-restorer".into(),
            state: if st.doing.is_some() {
                WorkerState::Running
            } else {
                WorkerState::Idle
            },
            doing: st.doing.iter().cloned().collect(),
            queued: st.waiting,
            last_error: st.last_error.clone(),
            last_finished_at: st.last_finished_at,
        }
    }

    fn update(&self, f: impl FnOnce(&mut WorkerSt)) {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// Forgets the last error when `about` says it is about something gone.
    pub(crate) fn forget_error_if(&self, about: impl Fn(&str) -> bool) {
        self.update(|st| {
            if st.last_error.as_deref().is_some_and(&about) {
                st.last_error = None;
            }
        });
    }
}

/// Ends the worker's "doing" line however the test-restore ends (also on panic).
struct Doing<'a>(&'a TestRestorer);

impl Drop for Doing<'_> {
    fn drop(&mut self) {
        self.0.update(|st| {
            st.doing = None;
            st.last_finished_at = Some(Utc::now());
        });
    }
}

// ---- the manifest and the comparison (pure) ------------------------------

/// A table as the manifest records it (fields other versions add are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedTable {
    pub schema: String,
    pub name: String,
    /// `table` or `partitioned`.
    #[serde(default)]
    pub kind: String,
    pub rows: i64,
    #[serde(default)]
    pub data_excluded: bool,
    /// `rows` is a `reltuples` estimate, not an exact count.
    #[serde(default)]
    pub rows_estimated: bool,
}

/// What a test-restore reads from a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RecordedManifest {
    pub server_version: String,
    pub files: Vec<ManifestFile>,
    pub tables: Vec<RecordedTable>,
}

/// The major version in a `server_version` (`15.8 (Debian ...)` -> 15).
pub fn major_of(version: &str) -> Option<u32> {
    version
        .split(|c: char| !c.is_ascii_digit())
        .find(|s| !s.is_empty())
        .and_then(|s| s.parse().ok())
}

/// What [`compare`] found: every table's check, the mismatches (each fails
/// the test) and notes (which do not).
#[derive(Debug, Default)]
pub struct Comparison {
    pub checks: Vec<TableCheck>,
    pub mismatches: Vec<Mismatch>,
    pub notes: Vec<String>,
}

/// Compares the tables recorded at dump time with those found after the
/// restore (`(schema, name, rows)`): every recorded table must be there
/// with exactly its recorded rows (0 when its data was excluded); an
/// estimated count is compared loosely and only noted, never failed on; a
/// table restored but not recorded is a mismatch too (the table lists
/// differ).
pub fn compare(recorded: &[RecordedTable], restored: &[(String, String, i64)]) -> Comparison {
    let mut checks = Vec::new();
    let mut mismatches = Vec::new();
    let mut notes = Vec::new();
    for r in recorded {
        let table = qualified(&r.schema, &r.name);
        let found = restored
            .iter()
            .find(|(s, n, _)| s == &r.schema && n == &r.name)
            .map(|(_, _, rows)| *rows);
        let expected = if r.data_excluded { 0 } else { r.rows };
        checks.push(TableCheck {
            table: table.clone(),
            recorded: Some(expected),
            restored: found,
            estimated: r.rows_estimated && !r.data_excluded,
            data_excluded: r.data_excluded,
        });
        match found {
            None => mismatches.push(Mismatch {
                table: Some(table),
                expected: Some(expected),
                found: None,
                note: "missing from the restored database".into(),
            }),
            Some(n) if r.data_excluded && n != 0 => mismatches.push(Mismatch {
                table: Some(table),
                expected: Some(0),
                found: Some(n),
                note: format!(
                    "{n} rows restored, but its data was excluded by the policy (0 expected)"
                ),
            }),
            Some(n) if r.rows_estimated && !r.data_excluded => {
                // reltuples can be off by a lot after bulk changes; a
                // difference beyond half (and 1000 rows) is worth a note.
                if (n - expected).abs() > (expected / 2).max(1000) {
                    notes.push(format!(
                        "{table}: {n} rows restored, about {expected} estimated at dump time (an estimate, not failed on)"
                    ));
                }
            }
            Some(n) if n != expected => mismatches.push(Mismatch {
                table: Some(table),
                expected: Some(expected),
                found: Some(n),
                note: format!("{n} rows restored, {expected} recorded at dump time"),
            }),
            Some(_) => {}
        }
    }
    for (s, n, rows) in restored {
        if !recorded.iter().any(|r| &r.schema == s && &r.name == n) {
            let table = qualified(s, n);
            checks.push(TableCheck {
                table: table.clone(),
                recorded: None,
                restored: Some(*rows),
                estimated: false,
                data_excluded: false,
            });
            mismatches.push(Mismatch {
                table: Some(table),
                expected: None,
                found: Some(*rows),
                note: "restored, but the manifest does not list it".into(),
            });
        }
    }
    Comparison {
        checks,
        mismatches,
        notes,
    }
}

/// The backups a test-restore may prove: ended well and still on storage.
/// (The one place that says what "good" is here.)
fn provable(b: &Backup) -> bool {
    b.status.is_good() && b.pruned_at.is_none() && !b.target.is_globals()
}

/// The mismatches of a file re-read from storage against the manifest.
fn file_mismatch(f: &ManifestFile, found: Result<(u64, String), String>) -> Option<Mismatch> {
    match found {
        Err(e) => Some(Mismatch {
            table: None,
            expected: Some(f.size as i64),
            found: None,
            note: format!("{}: cannot be read from storage: {e}", f.path),
        }),
        Ok((size, _)) if size != f.size => Some(Mismatch {
            table: None,
            expected: Some(f.size as i64),
            found: Some(size as i64),
            note: format!(
                "{}: {size} bytes on storage, {} in the manifest (the stored file was truncated or changed after the backup)",
                f.path, f.size
            ),
        }),
        Ok((_, sha)) if sha != f.sha256 => Some(Mismatch {
            table: None,
            expected: Some(f.size as i64),
            found: Some(f.size as i64),
            note: format!(
                "{}: sha256 {} on storage, {} in the manifest (the stored file changed after the backup)",
                f.path,
                short(&sha),
                short(&f.sha256)
            ),
        }),
        Ok(_) => None,
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// What the restore step gave back.
struct Restored {
    scratch: String,
    /// `(schema, name, rows)` of every table in the scratch database.
    tables: Vec<(String, String, i64)>,
    /// Decompression or pg_restore errors (the restore went on past them).
    errors: Vec<String>,
    /// Globals that would not apply: noted, never a failure.
    globals_notes: Vec<String>,
}

/// The findings of one test-restore so far.
#[derive(Default)]
struct Findings {
    mismatches: Vec<Mismatch>,
    notes: Vec<String>,
    tables: Vec<TableCheck>,
    error: Option<String>,
    scratch: Option<String>,
    scratch_dropped: bool,
}

/// A resolved test-restore: the backup, where it goes, how.
struct Plan {
    backup: Backup,
    server_id: i64,
    restore_server_id: i64,
    restore_server_name: String,
    with_globals: bool,
    /// Decrypts an encrypted backup (given for this test only).
    identity: Option<crate::crypt::Identity>,
}

impl Engine {
    /// The newest backup of a database that a test-restore can prove.
    pub async fn newest_provable_backup(
        &self,
        server_id: i64,
        database: &str,
    ) -> Result<Option<Backup>, Error> {
        let rows = self
            .inner
            .catalog
            .backups(&BackupFilter {
                server_id: Some(server_id),
                target: Some(Target::Database(database.to_owned())),
                limit: Some(500),
            })
            .await?;
        Ok(rows.into_iter().find(provable))
    }

    /// Test-restores a backup (or a database's newest good backup) into a
    /// scratch database on `restore_server` (default: the policy's
    /// test-restore server, else the backup's own) and records the result.
    /// A test that runs and finds mismatches returns `Ok` with status
    /// `failed`; `Err` means it could not start (nothing to test, a restore
    /// server older than the dump's source, a server that cannot be
    /// reached), and nothing was recorded.
    pub async fn test_restore(
        &self,
        target: TestRestoreTarget,
        restore_server: Option<i64>,
        trigger: TestRestoreTrigger,
        who: &str,
    ) -> Result<TestRestore, Error> {
        self.test_restore_slot(target, restore_server, trigger, who, None, None)
            .await
    }

    /// [`Engine::test_restore`] of a backup that may be encrypted:
    /// `identity` decrypts it (kept for this test only). Without one, an
    /// encrypted backup's test is recorded as failed, with the fix.
    pub async fn test_restore_with(
        &self,
        target: TestRestoreTarget,
        restore_server: Option<i64>,
        trigger: TestRestoreTrigger,
        who: &str,
        identity: Option<crate::crypt::Identity>,
    ) -> Result<TestRestore, Error> {
        self.test_restore_slot(target, restore_server, trigger, who, None, identity)
            .await
    }

    async fn test_restore_slot(
        &self,
        target: TestRestoreTarget,
        restore_server: Option<i64>,
        trigger: TestRestoreTrigger,
        who: &str,
        slot: Option<DateTime<Utc>>,
        identity: Option<crate::crypt::Identity>,
    ) -> Result<TestRestore, Error> {
        if self.is_stopping() {
            return Err(ProofError::Stopping.into());
        }
        let mut plan = self.plan_test(&target, restore_server).await?;
        plan.identity = match identity {
            Some(id) => Some(id),
            // An identity stored (opt-in) for the backup's recipients.
            None => match self.artifact(plan.backup.id).await {
                Ok(art) => self.stored_identity_for(art.manifest.recipients()).await?,
                Err(_) => None,
            },
        };
        let worker = self.inner.proof.clone();
        worker.update(|st| st.waiting += 1);
        let turn = worker.turn.clone().lock_owned().await;
        worker.update(|st| {
            st.waiting = st.waiting.saturating_sub(1);
            st.doing = Some(format!(
                "test-restoring {} on {} (backup #{})",
                plan.backup.target, plan.backup.server_name, plan.backup.id
            ));
        });
        let _doing = Doing(&worker);
        let catalog = &self.inner.catalog;
        let row = catalog
            .insert_test_restore(&NewTestRestore {
                server_id: plan.server_id,
                server_name: plan.backup.server_name.clone(),
                database: plan.backup.target.to_string(),
                backup_id: Some(plan.backup.id),
                restore_server_id: Some(plan.restore_server_id),
                restore_server_name: Some(plan.restore_server_name.clone()),
                trigger,
                who: who.to_owned(),
                scheduled_for: slot,
            })
            .await?;

        // The lease is renewed while the test runs; a process that dies
        // leaves a row any pgshelf recovers as failed.
        let renew = {
            let catalog = catalog.clone();
            let id = row.id;
            let every = (catalog.lease() / 6).max(std::time::Duration::from_millis(500));
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    if let Err(e) = catalog.renew_test_restore(id, Utc::now()).await {
                        tracing::warn!(test_restore = id, "cannot renew its lease: {e}");
                    }
                }
            })
        };
        let mut findings = Findings::default();
        let run = {
            use futures::FutureExt;
            std::panic::AssertUnwindSafe(self.run_test(&plan, who, &mut findings))
                .catch_unwind()
                .await
        };
        if let Err(p) = run {
            findings.error = Some(format!(
                "pgshelf hit a bug (a panic: {}) during this test-restore. Fix: run it again, and report the bug with pgshelf's log",
                crate::workers::panic_text(&p)
            ));
        }
        // Always drop the scratch database, whatever happened above.
        if let Some(name) = findings.scratch.clone() {
            match self.drop_test_scratch(&name, plan.restore_server_id).await {
                Ok(()) => findings.scratch_dropped = true,
                Err(e) => {
                    let message = format!(
                        "the scratch database {name} of test-restore #{} could not be dropped: {e}. Fix: drop it by hand (`pgshelf scratch drop {name}`)",
                        row.id
                    );
                    tracing::warn!("{message}");
                    let _ = catalog
                        .record_event(&NewEvent {
                            kind: "scratch_left".into(),
                            severity: Severity::Warning,
                            server_id: Some(plan.restore_server_id),
                            database: Some(name.clone()),
                            backup_id: Some(plan.backup.id),
                            message,
                        })
                        .await;
                }
            }
        }
        renew.abort();
        let failed = findings.error.is_some() || !findings.mismatches.is_empty();
        let done = catalog
            .finish_test_restore(
                row.id,
                &TestRestoreEnd {
                    status: if failed {
                        TestRestoreStatus::Failed
                    } else {
                        TestRestoreStatus::Passed
                    },
                    backup_id: Some(plan.backup.id),
                    restore_server_id: Some(plan.restore_server_id),
                    restore_server_name: Some(plan.restore_server_name.clone()),
                    mismatches: findings.mismatches,
                    notes: findings.notes,
                    tables: findings.tables,
                    error: findings.error,
                    scratch: findings.scratch,
                    scratch_dropped: findings.scratch_dropped,
                },
            )
            .await?;
        drop(turn);
        if let Some(cause) = done.cause() {
            let message = format!(
                "test-restore #{} of {}/{} (backup #{}) failed: {cause}",
                done.id, done.server_name, done.database, plan.backup.id
            );
            worker.update(|st| st.last_error = Some(message.clone()));
            catalog
                .record_event(&NewEvent {
                    kind: EVENT_TEST_RESTORE_FAILED.into(),
                    severity: Severity::Error,
                    server_id: Some(plan.server_id),
                    database: Some(done.database.clone()),
                    backup_id: Some(plan.backup.id),
                    message,
                })
                .await?;
        }
        Ok(done)
    }

    /// Resolves what to restore, where, and checks the restore server's
    /// version against the dump's source.
    async fn plan_test(
        &self,
        target: &TestRestoreTarget,
        restore_server: Option<i64>,
    ) -> Result<Plan, Error> {
        let catalog = &self.inner.catalog;
        let backup = match target {
            TestRestoreTarget::Backup(id) => {
                let b = catalog.backup(*id).await?;
                if b.target.is_globals() {
                    return Err(ProofError::NotADatabaseBackup(b.id).into());
                }
                if b.pruned_at.is_some() {
                    return Err(ProofError::Pruned(b.id).into());
                }
                if !provable(&b) {
                    return Err(ProofError::NotProvable {
                        id: b.id,
                        status: b.status.to_string(),
                    }
                    .into());
                }
                b
            }
            TestRestoreTarget::Database {
                server_id,
                database,
            } => {
                let server = catalog.server(*server_id).await?;
                self.newest_provable_backup(*server_id, database)
                    .await?
                    .ok_or_else(|| ProofError::NoBackup {
                        server: server.name.clone(),
                        database: database.clone(),
                    })?
            }
        };
        if backup.location.is_none() {
            return Err(ProofError::NoArtifact(backup.id).into());
        }
        let database = backup.target.to_string();
        let policy: Option<Policy> = match backup.server_id {
            Some(sid) => Some(effective_policy(catalog, sid, &database).await?.0),
            None => None,
        };
        let restore_server_id = match (restore_server, &policy, backup.server_id) {
            (Some(id), _, _) => id,
            (None, Some(p), _) if p.test_restore.restore_server.is_some() => {
                let name = p.test_restore.restore_server.clone().unwrap_or_default();
                catalog
                    .server_by_name(&name)
                    .await
                    .map_err(|_| ProofError::NoRestoreServer(name))?
                    .id
            }
            (None, _, Some(sid)) => sid,
            (None, _, None) => return Err(ProofError::ServerGone(backup.id).into()),
        };
        let (row, spec) = self.spec(restore_server_id).await?;
        let mut conn = spec.connect(&row.maintenance_db).await?;
        let info = crate::pg::conn::server_info(&spec, &mut conn).await?;
        drop(conn);
        let source_version = backup.server_version.clone().unwrap_or_default();
        if let Some(source_major) = major_of(&source_version) {
            if info.major < source_major {
                return Err(ProofError::TooOld {
                    restore_server: row.name,
                    restore_major: info.major,
                    source_version: format!("PostgreSQL {source_version}"),
                    source_major,
                }
                .into());
            }
        }
        Ok(Plan {
            server_id: backup.server_id.unwrap_or(restore_server_id),
            with_globals: policy.as_ref().is_none_or(|p| p.test_restore.with_globals),
            restore_server_id,
            restore_server_name: row.name,
            backup,
            identity: None,
        })
    }

    /// The checks and the restore; every finding goes into `findings` (the
    /// scratch database's name as soon as it exists, so it is dropped).
    async fn run_test(&self, plan: &Plan, who: &str, findings: &mut Findings) {
        let manifest = match self.recorded_manifest(&plan.backup, findings).await {
            Ok(m) => m,
            Err(e) => {
                findings.error = Some(e);
                return;
            }
        };
        // The stored files first: a changed byte is named by file even
        // when the restore below happens to get through it.
        match self.inner.ctx.registry.source_of(&plan.backup).await {
            Ok((dest, dir)) => {
                let dir = slash(dir);
                for f in &manifest.files {
                    let found = self.stored_sha256(&dest, &format!("{dir}{}", f.path)).await;
                    findings.mismatches.extend(file_mismatch(f, found));
                }
            }
            Err(e) => {
                findings.error = Some(format!("the stored files cannot be read: {e}"));
                return;
            }
        }
        match self.restore_for_test(plan, who).await {
            Ok(restored) => {
                findings.scratch = Some(restored.scratch.clone());
                let c = compare(&manifest.tables, &restored.tables);
                findings.tables = c.checks;
                findings.mismatches.extend(c.mismatches);
                findings.notes.extend(c.notes);
                // Globals are a separate artifact: their trouble is noted;
                // the database's restore errors fail the test.
                findings.notes.extend(restored.globals_notes);
                findings
                    .mismatches
                    .extend(restored.errors.into_iter().map(|e| Mismatch {
                        table: None,
                        expected: None,
                        found: None,
                        note: format!("restore error: {e}"),
                    }));
            }
            Err((scratch, e)) => {
                findings.scratch = scratch;
                findings.error = Some(e);
            }
        }
    }

    /// The manifest as the catalog recorded it when the backup ended,
    /// checked against the copy on storage (a difference is a mismatch; the
    /// catalog's copy is used). Without a catalog copy, the stored one.
    async fn recorded_manifest(
        &self,
        backup: &Backup,
        findings: &mut Findings,
    ) -> Result<RecordedManifest, String> {
        let parse = |text: &str, whose: &str| {
            serde_json::from_str::<RecordedManifest>(text).map_err(|e| {
                format!("the {whose} manifest of backup {} cannot be read: {e}. Fix: test-restore another backup", backup.id)
            })
        };
        let stored = match self.inner.ctx.registry.source_of(backup).await {
            Err(e) => Err(e),
            Ok((dest, dir)) => {
                let path = format!("{}{}", slash(dir), storage::MANIFEST_FILE);
                match dest.operator() {
                    Ok(op) => op
                        .read(&path)
                        .await
                        .map(|b| String::from_utf8_lossy(&b.to_vec()).into_owned())
                        .map_err(|e| dest.error(e).to_string()),
                    Err(e) => Err(e.to_string()),
                }
            }
        };
        let cataloged = self
            .inner
            .catalog
            .manifest(backup.id)
            .await
            .map_err(|e| e.to_string())?;
        match (cataloged, stored) {
            (Some(c), Ok(s)) => {
                let c = parse(&c, "catalog's")?;
                match parse(&s, "stored") {
                    Ok(s) if s.files == c.files && s.tables == c.tables => {}
                    Ok(_) => findings.mismatches.push(Mismatch {
                        table: None,
                        expected: None,
                        found: None,
                        note: format!("{}: the manifest on storage differs from the catalog's copy (its files or tables changed after the backup); the catalog's copy was used", storage::MANIFEST_FILE),
                    }),
                    Err(e) => findings.mismatches.push(Mismatch {
                        table: None,
                        expected: None,
                        found: None,
                        note: e,
                    }),
                }
                Ok(c)
            }
            (Some(c), Err(e)) => {
                findings.mismatches.push(Mismatch {
                    table: None,
                    expected: None,
                    found: None,
                    note: format!("{}: cannot be read from storage: {e}", storage::MANIFEST_FILE),
                });
                parse(&c, "catalog's")
            }
            (None, Ok(s)) => parse(&s, "stored"),
            (None, Err(e)) => Err(format!(
                "backup {} has no manifest, neither in the catalog nor on storage ({e}): the artifact is incomplete. Fix: test-restore another backup",
                backup.id
            )),
        }
    }

    /// Size and sha256 of a stored file, read through (never into memory whole).
    async fn stored_sha256(
        &self,
        dest: &storage::Destination,
        path: &str,
    ) -> Result<(u64, String), String> {
        use futures::TryStreamExt;
        use sha2::{Digest, Sha256};
        let op = dest.operator().map_err(|e| e.to_string())?;
        let reader = op
            .reader(path)
            .await
            .map_err(|e| dest.error(e).to_string())?;
        let mut stream = reader
            .into_bytes_stream(..)
            .await
            .map_err(|e| dest.error(e).to_string())?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = stream.try_next().await.map_err(|e| e.to_string())? {
            size += chunk.len() as u64;
            hasher.update(&chunk);
        }
        Ok((size, hex::encode(hasher.finalize())))
    }

    /// Test-restores of a server (one database's when given), newest first.
    pub async fn test_restores(
        &self,
        server_id: i64,
        database: Option<&str>,
        limit: i64,
    ) -> Result<Vec<TestRestore>, Error> {
        Ok(self
            .inner
            .catalog
            .test_restores(server_id, database, limit)
            .await?)
    }

    /// Test-restores of one backup, newest first.
    pub async fn test_restores_of_backup(&self, backup_id: i64) -> Result<Vec<TestRestore>, Error> {
        Ok(self
            .inner
            .catalog
            .test_restores_of_backup(backup_id)
            .await?)
    }

    /// One test-restore.
    pub async fn test_restore_record(&self, id: i64) -> Result<TestRestore, Error> {
        Ok(self.inner.catalog.test_restore(id).await?)
    }

    /// The newest events (test-restore failures, ...), newest first.
    pub async fn events(&self, limit: i64) -> Result<Vec<Event>, Error> {
        Ok(self.inner.catalog.events(limit).await?)
    }

    /// The proof of every database known on a server, at the wall clock.
    pub async fn proof_status(&self, server_id: i64) -> Result<Vec<DatabaseProof>, Error> {
        let now = Utc::now();
        let catalog = &self.inner.catalog;
        catalog.server(server_id).await?;
        let mut out = Vec::new();
        for known in catalog.known_databases(server_id).await? {
            let (policy, _) = effective_policy(catalog, server_id, &known.name).await?;
            out.push(
                self.database_proof(server_id, &known.name, &policy, now)
                    .await?,
            );
        }
        Ok(out)
    }

    /// A database's proof at the wall clock, judged by its effective policy.
    pub async fn database_proof_now(
        &self,
        server_id: i64,
        database: &str,
    ) -> Result<DatabaseProof, Error> {
        let (policy, _) = effective_policy(&self.inner.catalog, server_id, database).await?;
        self.database_proof(server_id, database, &policy, Utc::now())
            .await
    }

    /// A database's last test-restore, last pass and flag at `now`, judged
    /// by its policy's test-restore interval (none when they are off).
    pub async fn database_proof(
        &self,
        server_id: i64,
        database: &str,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<DatabaseProof, Error> {
        let (last, last_passed) = self
            .inner
            .catalog
            .last_test_restores(server_id, database)
            .await?;
        let interval = test_restore_interval(policy, now);
        Ok(DatabaseProof {
            server_id,
            database: database.to_owned(),
            flag: proof_flag(
                last.as_ref().map(|t| t.status),
                last_passed.as_ref().and_then(|t| t.finished_at),
                interval,
                now,
            ),
            interval_ms: interval.map(|i| i.num_milliseconds()),
            last,
            last_passed,
        })
    }

    /// The test-restore part of a scheduler tick at `now`: recovers
    /// test-restores whose process died, then starts (in the background,
    /// one at a time) each covered database's due test-restore slot, once
    /// however many slots were missed. Returns `(server, database, slot,
    /// late)` of those started.
    pub async fn tick_test_restores(
        &self,
        now: DateTime<Utc>,
        errors: &mut Vec<String>,
    ) -> Result<Vec<(String, String, DateTime<Utc>, bool)>, Error> {
        let mut started = Vec::new();
        if self.is_stopping() {
            return Ok(started);
        }
        let catalog = &self.inner.catalog;
        self.recover_test_restores(now).await?;
        for server in catalog.servers().await? {
            let plan = match server_plan(catalog, server.id).await {
                Ok(p) => p,
                Err(_) => continue, // reported by the backup part of the tick
            };
            for known in catalog.known_databases(server.id).await? {
                if known.gone_since.is_some() || !plan.covers(&known.name) {
                    continue;
                }
                let Ok((policy, _)) = effective_policy(catalog, server.id, &known.name).await
                else {
                    continue;
                };
                if !policy.test_restore.enabled {
                    continue;
                }
                let (schedule, tz) = match policy.test_restore_schedule() {
                    Ok(s) => s,
                    Err(e) => {
                        errors.push(format!("{}/{} test-restore: {e}", server.name, known.name));
                        continue;
                    }
                };
                let last = catalog
                    .last_test_restore_slot(server.id, &known.name)
                    .await?;
                let Some(due) = cron::due(
                    &schedule,
                    tz,
                    last,
                    known.first_seen,
                    now,
                    crate::schedule::GRACE,
                ) else {
                    continue;
                };
                catalog
                    .set_last_test_restore_slot(server.id, &known.name, due.slot)
                    .await?;
                started.push((server.name.clone(), known.name.clone(), due.slot, due.late));
                let engine = self.clone();
                let (server_id, server_name, database) =
                    (server.id, server.name.clone(), known.name.clone());
                tokio::spawn(async move {
                    let target = TestRestoreTarget::Database {
                        server_id,
                        database: database.clone(),
                    };
                    if let Err(e) = engine
                        .test_restore_slot(
                            target,
                            None,
                            TestRestoreTrigger::Scheduled,
                            "schedule",
                            Some(due.slot),
                            None,
                        )
                        .await
                    {
                        engine
                            .record_refusal(server_id, &server_name, &database, due.slot, &e)
                            .await;
                    }
                });
            }
        }
        Ok(started)
    }

    /// A scheduled test-restore that could not start is still a failed
    /// proof: recorded as such, with an event.
    async fn record_refusal(
        &self,
        server_id: i64,
        server_name: &str,
        database: &str,
        slot: DateTime<Utc>,
        e: &Error,
    ) {
        let catalog = &self.inner.catalog;
        let result = async {
            let row = catalog
                .insert_test_restore(&NewTestRestore {
                    server_id,
                    server_name: server_name.to_owned(),
                    database: database.to_owned(),
                    backup_id: None,
                    restore_server_id: None,
                    restore_server_name: None,
                    trigger: TestRestoreTrigger::Scheduled,
                    who: "schedule".into(),
                    scheduled_for: Some(slot),
                })
                .await?;
            catalog
                .finish_test_restore(
                    row.id,
                    &TestRestoreEnd {
                        status: TestRestoreStatus::Failed,
                        backup_id: None,
                        restore_server_id: None,
                        restore_server_name: None,
                        mismatches: Vec::new(),
                        notes: Vec::new(),
                        tables: Vec::new(),
                        error: Some(e.to_string()),
                        scratch: None,
                        scratch_dropped: false,
                    },
                )
                .await?;
            let message = format!(
                "test-restore #{} of {server_name}/{database} could not start: {e}",
                row.id
            );
            self.inner
                .proof
                .update(|st| st.last_error = Some(message.clone()));
            catalog
                .record_event(&NewEvent {
                    kind: EVENT_TEST_RESTORE_FAILED.into(),
                    severity: Severity::Error,
                    server_id: Some(server_id),
                    database: Some(database.to_owned()),
                    backup_id: None,
                    message,
                })
                .await
        }
        .await;
        if let Err(err) = result {
            tracing::warn!("cannot record the failed test-restore of {server_name}/{database}: {err} (it failed: {e})");
        }
    }

    /// Marks test-restores whose process died as failed (with an event)
    /// and drops the scratch database they left, if known.
    async fn recover_test_restores(&self, now: DateTime<Utc>) -> Result<(), Error> {
        let cause = "interrupted: the pgshelf process running this test-restore stopped before it ended. Fix: run the test-restore again";
        for t in self.inner.catalog.recover_test_restores(now, cause).await? {
            if let (Some(name), Some(sid)) = (&t.scratch, t.restore_server_id) {
                if let Err(e) = self.drop_test_scratch(name, sid).await {
                    tracing::warn!(
                        "cannot drop {name}, left by interrupted test-restore #{}: {e}",
                        t.id
                    );
                }
            }
            self.inner
                .catalog
                .record_event(&NewEvent {
                    kind: EVENT_TEST_RESTORE_FAILED.into(),
                    severity: Severity::Error,
                    server_id: t.server_id,
                    database: Some(t.database.clone()),
                    backup_id: t.backup_id,
                    message: format!(
                        "test-restore #{} of {}/{} failed: {cause}",
                        t.id, t.server_name, t.database
                    ),
                })
                .await?;
        }
        Ok(())
    }
}

/// A directory path ending in `/`.
fn slash(dir: String) -> String {
    if dir.ends_with('/') {
        dir
    } else {
        format!("{dir}/")
    }
}

// ---- the restore step (engine::restore) ----------------------------------

impl Engine {
    /// Restores the whole backup into a new scratch database on the plan's
    /// restore server. On failure: the scratch database's name when one
    /// was made (so it is dropped), and the cause.
    async fn restore_for_test(
        &self,
        plan: &Plan,
        who: &str,
    ) -> Result<Restored, (Option<String>, String)> {
        let r = self
            .restore_into_scratch_with(
                plan.backup.id,
                plan.restore_server_id,
                "test",
                plan.with_globals,
                who,
                plan.identity.clone(),
            )
            .await
            .map_err(|e| (None, e.to_string()))?;
        Ok(Restored {
            scratch: r.scratch.name,
            tables: r
                .tables
                .into_iter()
                .map(|(t, rows)| (t.schema, t.name, rows))
                .collect(),
            errors: r.errors,
            globals_notes: r.globals_notes,
        })
    }

    /// Drops a scratch database a test-restore made on its restore server.
    async fn drop_test_scratch(&self, name: &str, server_id: i64) -> Result<(), Error> {
        self.drop_scratch(name, Some(server_id)).await.map(|_| ())
    }
}

/// How long a database under `policy` may go without a passed
/// test-restore at `now` (`None` when its test-restores are off or their
/// schedule is unusable): [`proof_interval`] of its test-restore schedule.
pub fn test_restore_interval(policy: &Policy, now: DateTime<Utc>) -> Option<chrono::Duration> {
    if !policy.test_restore.enabled {
        return None;
    }
    policy
        .test_restore_schedule()
        .ok()
        .and_then(|(s, tz)| proof_interval(&s, tz, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(schema: &str, name: &str, rows: i64) -> RecordedTable {
        RecordedTable {
            schema: schema.into(),
            name: name.into(),
            kind: "table".into(),
            rows,
            data_excluded: false,
            rows_estimated: false,
        }
    }

    fn got(schema: &str, name: &str, rows: i64) -> (String, String, i64) {
        (schema.into(), name.into(), rows)
    }

    #[test]
    fn majors_from_server_versions() {
        assert_eq!(major_of("15.8 (Debian 15.8-1.pgdg120+1)"), Some(15));
        assert_eq!(major_of("18.0"), Some(18));
        assert_eq!(major_of("18beta1"), Some(18));
        assert_eq!(major_of(""), None);
    }

    #[test]
    fn exact_counts_match_or_name_the_table() {
        let recorded = vec![rec("public", "a", 10), rec("public", "b", 5)];
        let c = compare(&recorded, &[got("public", "a", 10), got("public", "b", 5)]);
        assert!(c.mismatches.is_empty(), "{c:?}");
        assert_eq!(c.checks.len(), 2);
        let m = compare(&recorded, &[got("public", "a", 10), got("public", "b", 4)]).mismatches;
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].table.as_deref(), Some("public.b"));
        assert_eq!((m[0].expected, m[0].found), (Some(5), Some(4)));
    }

    #[test]
    fn table_lists_must_agree() {
        let recorded = vec![rec("public", "a", 10), rec("s", "Gone", 1)];
        let Comparison {
            checks,
            mismatches: m,
            ..
        } = compare(
            &recorded,
            &[got("public", "a", 10), got("public", "extra", 0)],
        );
        let named: Vec<_> = m.iter().map(|x| x.table.clone().unwrap()).collect();
        assert_eq!(named, vec!["s.\"Gone\"", "public.extra"]);
        assert!(m[0].note.contains("missing"));
        assert!(m[1].note.contains("does not list"));
        assert_eq!(checks.len(), 3);
    }

    #[test]
    fn excluded_data_expects_zero_and_estimates_never_fail() {
        let mut ex = rec("public", "log", 0);
        ex.data_excluded = true;
        let mut est = rec("public", "huge", 1_000_000);
        est.rows_estimated = true;
        let recorded = vec![ex, est];
        let c = compare(
            &recorded,
            &[got("public", "log", 0), got("public", "huge", 998_877)],
        );
        assert!(c.mismatches.is_empty() && c.notes.is_empty(), "{c:?}");
        assert!(c.checks[1].estimated && c.checks[0].data_excluded);
        let c = compare(
            &recorded,
            &[got("public", "log", 3), got("public", "huge", 5)],
        );
        assert_eq!(c.mismatches.len(), 1, "{c:?}");
        assert_eq!(c.mismatches[0].table.as_deref(), Some("public.log"));
        // The estimate far off: noted, not failed.
        assert_eq!(c.notes.len(), 1, "{c:?}");
        assert!(c.notes[0].contains("public.huge"), "{c:?}");
    }

    #[test]
    fn stored_files_are_named_when_they_differ() {
        let f = ManifestFile {
            path: "dump.zst".into(),
            size: 100,
            sha256: "a".repeat(64),
            raw_size: 300,
            index: None,
        };
        assert!(file_mismatch(&f, Ok((100, "a".repeat(64)))).is_none());
        let m = file_mismatch(&f, Ok((60, "b".repeat(64)))).unwrap();
        assert!(
            m.note.contains("dump.zst") && m.note.contains("truncated"),
            "{m:?}"
        );
        let m = file_mismatch(&f, Ok((100, "b".repeat(64)))).unwrap();
        assert!(m.note.contains("sha256"), "{m:?}");
        let m = file_mismatch(&f, Err("not found".into())).unwrap();
        assert!(m.note.contains("cannot be read"), "{m:?}");
    }
}
