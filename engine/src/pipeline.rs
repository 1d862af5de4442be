//! One backup run: probe -> snapshot -> `pg_dump` -> zstd -> destination ->
//! manifest -> record.
//!
//! `pg_dump -Fc --compress=0` writes to a pipe; a blocking thread compresses
//! with multithreaded zstd into 1 MiB chunks; a bounded channel hands them to
//! an opendal writer. No temporary file; memory stays bounded whatever the
//! database size. The manifest is written last: an artifact without one is
//! incomplete. On any failure the partial artifact is removed and the run is
//! recorded `failed` with a cause and the tail of pg_dump's stderr.

use std::io::{Read, Write};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use crate::catalog::{BackupRow, BackupStatus, Catalog, CatalogError, Outcome};
use crate::pg::{args, conn::Snapshot, ConnSpec, PgError, PgTools, TableInfo, ToolFinder};
use crate::storage::{self, Destination, StorageError};

/// Bytes per chunk handed from the compressor to the writer.
const CHUNK: usize = 1 << 20;
/// Chunks in flight between compressor and writer.
const CHANNEL_DEPTH: usize = 4;
/// Bytes of pg_dump's stderr kept for the record.
const STDERR_TAIL: usize = 8 * 1024;

/// What can end a run early.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Pg(#[from] PgError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("pg_dump {version} failed: {cause}")]
    Dump { version: String, cause: String },
    #[error("pg_dump was killed by signal {signal} before it finished. Fix: check the host's OOM killer and whoever stops processes there, then run the backup again")]
    Killed { signal: i32 },
    #[error("cannot start {program}: {detail}. Fix: check that the PostgreSQL client tools are installed and executable")]
    Spawn { program: String, detail: String },
    #[error("compression failed: {0}")]
    Compress(String),
    #[error("the stored artifact is {stored} bytes but {written} were written. Fix: check the destination's free space and health")]
    SizeMismatch { written: u64, stored: u64 },
}

impl PipelineError {
    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            PipelineError::Pg(e) => e.status(),
            PipelineError::Storage(e) => e.status(),
            PipelineError::Catalog(e) => e.status(),
            _ => 500,
        }
    }
}

/// Compression settings of pgshelf's own zstd stage.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct ZstdSettings {
    pub level: i32,
    pub threads: u32,
}

impl Default for ZstdSettings {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        ZstdSettings {
            level: 3,
            threads: cores.clamp(1, 4) as u32,
        }
    }
}

/// Live counters of a running backup, for the dashboard and the catalog.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes read from pg_dump.
    pub raw: AtomicU64,
    /// Bytes written to the destination.
    pub stored: AtomicU64,
}

/// Everything a run needs from its surroundings.
#[derive(Clone)]
pub struct RunContext {
    pub catalog: Catalog,
    pub destination: Destination,
    pub tools: ToolFinder,
    pub zstd: ZstdSettings,
}

/// One backup to take; the catalog row already exists (`queued`).
pub struct BackupJob {
    pub backup_id: i64,
    pub server_name: String,
    pub spec: ConnSpec,
    pub database: String,
}

/// One file of an artifact.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestFile {
    pub path: String,
    pub size: u64,
    pub sha256: String,
    /// Bytes before compression.
    pub raw_size: u64,
}

/// `manifest.json`: self-describing, enough to restore without pgshelf.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub pgshelf_manifest: u32,
    pub backup_id: i64,
    pub kind: String,
    pub server: String,
    pub database: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub format: String,
    pub compression: String,
    pub encryption: Option<String>,
    pub server_version: String,
    pub pg_dump_version: String,
    pub snapshot: String,
    pub files: Vec<ManifestFile>,
    pub tables: Vec<TableInfo>,
    pub large_objects: i64,
    pub restore: String,
}

/// Runs the backup and records its outcome. The returned error has been
/// recorded on the run already.
pub async fn run(ctx: &RunContext, job: &BackupJob, progress: Arc<Progress>) -> Result<BackupRow, PipelineError> {
    let mut facts = Outcome::default();
    let started_at = Utc::now();
    let dir = storage::artifact_dir(&job.server_name, &job.database, started_at, job.backup_id);
    let result = take(ctx, job, &dir, started_at, &progress, &mut facts).await;
    facts.raw_bytes = progress.raw.load(Ordering::Relaxed) as i64;
    facts.stored_bytes = progress.stored.load(Ordering::Relaxed) as i64;
    match result {
        Ok(()) => Ok(ctx.catalog.finish(job.backup_id, BackupStatus::Succeeded, &facts).await?),
        Err(e) => {
            if let Err(rm) = ctx.destination.remove_artifact(&dir).await {
                tracing::warn!(backup = job.backup_id, "cannot remove partial artifact {dir}: {rm}");
            }
            facts.cause = Some(e.to_string());
            facts.manifest = None;
            ctx.catalog.finish(job.backup_id, BackupStatus::Failed, &facts).await?;
            Err(e)
        }
    }
}

async fn take(
    ctx: &RunContext,
    job: &BackupJob,
    dir: &str,
    started_at: DateTime<Utc>,
    progress: &Arc<Progress>,
    facts: &mut Outcome,
) -> Result<(), PipelineError> {
    ctx.destination.preflight().await?;
    let mut conn = job.spec.connect(&job.database).await?;
    let info = crate::pg::conn::server_info(&job.spec, &mut conn).await?;
    facts.server_version = Some(info.version.clone());
    let tools = ctx.tools.for_server(&info.version, info.major).await?;
    facts.pg_dump_version = Some(tools.version.clone());
    facts.pg_dump_path = Some(tools.pg_dump().display().to_string());
    ctx.catalog
        .mark_running(job.backup_id, &format!("{}/{dir}", ctx.destination.describe))
        .await?;
    facts.location = Some(format!("{}/{dir}", ctx.destination.describe));

    let mut snapshot = Snapshot::export(&job.spec, conn).await?;
    let snapshot_id = snapshot.id.clone();
    let conninfo = args::conninfo(&job.spec, &job.database);
    let argv = args::pg_dump_custom(
        &conninfo,
        &args::DumpArgs {
            snapshot: Some(snapshot.id.clone()),
        },
    );
    let dump_path = format!("{dir}{}", storage::DUMP_FILE);

    // Counting rows in the snapshot runs beside the dump. If the dump ends
    // in failure, counting is abandoned (it may be waiting on the same lock).
    let (tables, dumped) = {
        let counting = snapshot.tables(&job.spec);
        let dumping = dump_to(ctx, &tools, &job.spec, argv, &dump_path, progress, job.backup_id);
        tokio::pin!(counting, dumping);
        let mut tables = None;
        let dumped = loop {
            tokio::select! {
                t = &mut counting, if tables.is_none() => tables = Some(t),
                d = &mut dumping => break d,
            }
        };
        match (tables, dumped.is_ok()) {
            (Some(t), _) => (Some(t), dumped),
            (None, true) => (Some(counting.await), dumped),
            (None, false) => (None, dumped),
        }
    };
    if tables.is_some() {
        snapshot.close().await;
    } else {
        snapshot.abandon(&job.spec, &job.database).await;
    }
    let (file, stderr) = match dumped {
        Ok(v) => v,
        Err((e, stderr)) => {
            facts.stderr_tail = Some(stderr);
            return Err(e);
        }
    };
    facts.stderr_tail = (!stderr.is_empty()).then_some(stderr);
    let (tables, large_objects) = tables.expect("counted when the dump succeeded")?;

    let manifest = Manifest {
        pgshelf_manifest: 1,
        backup_id: job.backup_id,
        kind: "database".into(),
        server: job.server_name.clone(),
        database: job.database.clone(),
        started_at,
        finished_at: Utc::now(),
        format: "custom".into(),
        compression: "zstd".into(),
        encryption: None,
        server_version: info.version.clone(),
        pg_dump_version: tools.version.clone(),
        snapshot: snapshot_id,
        files: vec![file],
        tables,
        large_objects,
        restore: format!(
            "zstd -dc {} | pg_restore --dbname=TARGET  (pg_restore {} or newer)",
            storage::DUMP_FILE,
            tools.major
        ),
    };
    let json = serde_json::to_vec_pretty(&manifest).expect("manifest serializes");
    let op = ctx.destination.operator()?;
    op.write(&format!("{dir}{}", storage::MANIFEST_FILE), json.clone())
        .await
        .map_err(|e| ctx.destination.error(e))?;
    facts.manifest = Some(String::from_utf8(json).expect("json is utf-8"));
    Ok(())
}

type DumpResult = Result<(ManifestFile, String), (PipelineError, String)>;

/// Runs pg_dump and streams its output, compressed, to `path`.
async fn dump_to(
    ctx: &RunContext,
    tools: &PgTools,
    spec: &ConnSpec,
    argv: Vec<std::ffi::OsString>,
    path: &str,
    progress: &Arc<Progress>,
    backup_id: i64,
) -> DumpResult {
    let mut cmd = tokio::process::Command::new(tools.pg_dump());
    cmd.args(&argv)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("LC_MESSAGES", "C")
        .kill_on_drop(true);
    for k in args::SCRUBBED_ENV {
        cmd.env_remove(k);
    }
    if let Some(p) = &spec.password {
        cmd.env("PGPASSWORD", p.expose());
    }
    let mut child = cmd.spawn().map_err(|e| {
        (
            PipelineError::Spawn {
                program: tools.pg_dump().display().to_string(),
                detail: e.to_string(),
            },
            String::new(),
        )
    })?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let stderr_task = async move {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match stderr.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if buf.len() > 4 * STDERR_TAIL {
                        buf.drain(..buf.len() - STDERR_TAIL);
                    }
                }
            }
        }
        tail(&buf)
    };

    let upload = upload(ctx, stdout, path, progress, backup_id);
    let (uploaded, stderr_text) = tokio::join!(upload, stderr_task);
    let status = match uploaded {
        Ok(_) => child.wait().await,
        Err(_) => {
            let _ = child.start_kill();
            child.wait().await
        }
    };
    let status = match status {
        Ok(s) => s,
        Err(e) => return Err((PipelineError::Compress(e.to_string()), stderr_text)),
    };
    if !status.success() {
        use std::os::unix::process::ExitStatusExt;
        let err = match status.signal() {
            Some(signal) => PipelineError::Killed { signal },
            None => PipelineError::Dump {
                version: tools.version.clone(),
                cause: dump_cause(&stderr_text),
            },
        };
        return Err((err, stderr_text));
    }
    match uploaded {
        Ok(file) => Ok((file, stderr_text)),
        Err(e) => Err((e, stderr_text)),
    }
}

/// Compresses `stdout` on a blocking thread and writes the chunks to `path`.
async fn upload(
    ctx: &RunContext,
    stdout: tokio::process::ChildStdout,
    path: &str,
    progress: &Arc<Progress>,
    backup_id: i64,
) -> Result<ManifestFile, PipelineError> {
    let fd = stdout
        .into_owned_fd()
        .map_err(|e| PipelineError::Compress(e.to_string()))?;
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(CHANNEL_DEPTH);
    let zstd = ctx.zstd;
    let raw_counter = progress.clone();
    let compressor = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
        let reader = Counting {
            inner: std::fs::File::from(fd),
            progress: raw_counter,
        };
        compress(reader, zstd, tx)
    });

    let dest = &ctx.destination;
    let op = dest.operator()?;
    let mut writer = op
        .writer_with(path)
        .chunk(8 * CHUNK)
        .await
        .map_err(|e| dest.error(e))?;
    let mut hasher = Sha256::new();
    let mut written: u64 = 0;
    let mut last_report = std::time::Instant::now();
    let mut write_err = None;
    while let Some(chunk) = rx.recv().await {
        hasher.update(&chunk);
        written += chunk.len() as u64;
        if let Err(e) = writer.write(chunk).await {
            write_err = Some(dest.error(e));
            break;
        }
        progress.stored.store(written, Ordering::Relaxed);
        if last_report.elapsed() > Duration::from_secs(1) {
            last_report = std::time::Instant::now();
            let raw = progress.raw.load(Ordering::Relaxed);
            let _ = ctx.catalog.record_progress(backup_id, raw, written).await;
        }
    }
    drop(rx);
    let compressed = compressor.await.map_err(|e| PipelineError::Compress(e.to_string()));
    if let Some(e) = write_err {
        let _ = writer.abort().await;
        return Err(e.into());
    }
    let raw_size = match compressed {
        Ok(Ok(n)) => n,
        Ok(Err(e)) => {
            let _ = writer.abort().await;
            return Err(PipelineError::Compress(e.to_string()));
        }
        Err(e) => {
            let _ = writer.abort().await;
            return Err(e);
        }
    };
    writer.close().await.map_err(|e| dest.error(e))?;
    let meta = op.stat(path).await.map_err(|e| dest.error(e))?;
    if meta.content_length() != written {
        return Err(PipelineError::SizeMismatch {
            written,
            stored: meta.content_length(),
        });
    }
    Ok(ManifestFile {
        path: path.rsplit('/').next().unwrap_or(path).to_owned(),
        size: written,
        sha256: hex::encode(hasher.finalize()),
        raw_size,
    })
}

/// Reads everything from `reader`, zstd-compresses it, and sends 1 MiB chunks.
/// Returns the number of bytes read.
fn compress(mut reader: impl Read, s: ZstdSettings, tx: mpsc::Sender<Vec<u8>>) -> std::io::Result<u64> {
    let sink = ChunkSink {
        buf: Vec::with_capacity(CHUNK),
        tx,
    };
    let mut enc = zstd::stream::write::Encoder::new(sink, s.level)?;
    if s.threads > 1 {
        enc.multithread(s.threads)?;
    }
    enc.include_checksum(true)?;
    let n = std::io::copy(&mut reader, &mut enc)?;
    let mut sink = enc.finish()?;
    sink.flush()?;
    Ok(n)
}

/// A `Write` that sends full chunks down a channel.
struct ChunkSink {
    buf: Vec<u8>,
    tx: mpsc::Sender<Vec<u8>>,
}

impl ChunkSink {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx
            .blocking_send(full)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "destination writer stopped"))
    }
}

impl Write for ChunkSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

struct Counting<R> {
    inner: R,
    progress: Arc<Progress>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.raw.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The last few KiB of a program's stderr, on line boundaries.
fn tail(buf: &[u8]) -> String {
    let start = buf.len().saturating_sub(STDERR_TAIL);
    let s = String::from_utf8_lossy(&buf[start..]);
    let s = if start > 0 {
        s.split_once('\n').map(|(_, r)| r.to_owned()).unwrap_or_else(|| s.into_owned())
    } else {
        s.into_owned()
    };
    s.trim_end().to_owned()
}

/// A one-line cause from pg_dump's stderr, with a fix where one is known.
pub fn dump_cause(stderr: &str) -> String {
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("error:") || l.contains("FATAL") || l.contains("ERROR"))
        .collect();
    let first = errors
        .first()
        .map(|l| l.trim().trim_start_matches("pg_dump: error: ").trim_start_matches("pg_dump: ").to_owned())
        .unwrap_or_else(|| {
            stderr
                .lines()
                .last()
                .unwrap_or("pg_dump exited with an error and said nothing")
                .to_owned()
        });
    let fix = if stderr.contains("server version mismatch") {
        " Fix: install client tools at least as new as the server"
    } else if stderr.contains("permission denied") {
        " Fix: back up as a role that can read every object (a superuser, or a member of pg_read_all_data)"
    } else if stderr.contains("does not exist") {
        " Fix: refresh the server's database list"
    } else if stderr.contains("could not connect") || stderr.contains("connection to server") {
        " Fix: check that the server is reachable from pgshelf"
    } else if stderr.contains("lock") && stderr.contains("timeout") {
        " Fix: retry when the conflicting lock is gone, or raise the lock wait timeout"
    } else {
        ""
    };
    format!("{first}.{fix}").replace("..", ".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_lines() {
        let mut big = Vec::new();
        for i in 0..5000 {
            big.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        let t = tail(&big);
        assert!(t.ends_with("line 4999"));
        assert!(t.len() <= STDERR_TAIL);
        assert!(t.starts_with("line "));
    }

    #[test]
    fn causes_name_the_fix() {
        let c = dump_cause("pg_dump: error: query failed: ERROR:  permission denied for table secret\n");
        assert!(c.starts_with("query failed: ERROR:  permission denied for table secret"), "{c}");
        assert!(c.contains("pg_read_all_data"));
        let v = dump_cause("pg_dump: error: aborting because of server version mismatch\npg_dump: detail: server version: 18.0; pg_dump version: 15.18\n");
        assert!(v.contains("at least as new"), "{v}");
        assert_eq!(dump_cause(""), "pg_dump exited with an error and said nothing.");
    }

    #[test]
    fn compress_round_trips_and_chunks() {
        let data: Vec<u8> = (0..3_000_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        let (tx, mut rx) = mpsc::channel(1024);
        let n = compress(&data[..], ZstdSettings { level: 3, threads: 2 }, tx).unwrap();
        assert_eq!(n as usize, data.len());
        let mut out = Vec::new();
        while let Ok(c) = rx.try_recv() {
            assert!(c.len() <= CHUNK);
            out.extend(c);
        }
        assert_eq!(zstd::decode_all(&out[..]).unwrap(), data);
    }
}
