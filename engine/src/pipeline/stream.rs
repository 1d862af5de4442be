//! Running a dump program and streaming its standard output, compressed,
//! into the destination — with a stall watchdog and a run timeout.
//!
//! The program writes to a pipe; a blocking thread compresses with
//! multithreaded zstd (or passes bytes through), then encrypts with age when
//! the policy has recipients, into 1 MiB chunks; a bounded
//! channel hands them to an opendal writer. No temporary file; memory stays
//! bounded whatever the database size.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use super::{ManifestFile, PipelineError, Progress, RunContext};
use crate::crypt::{Encryptor, Recipients};
use crate::pg::passfile::PassFile;
use crate::pg::{args, ConnSpec};
use crate::seekable::{BlockIndex, FramedEncoder};
use crate::storage::fanout::FanOut;

/// Bytes per chunk handed from the compressor to the writer.
pub(crate) const CHUNK: usize = 1 << 20;
/// Chunks in flight between compressor and writer.
const CHANNEL_DEPTH: usize = 4;
/// Bytes of a program's stderr kept for the record.
pub(crate) const STDERR_TAIL: usize = 8 * 1024;

/// Limits of one run.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Fail as stalled when no byte moves for this long.
    pub stall: Duration,
    /// Fail as timed out after this long in all.
    pub timeout: Option<Duration>,
}

/// A program to run: path, arguments, and the label used in messages.
pub struct Program {
    pub path: PathBuf,
    pub args: Vec<OsString>,
    /// e.g. `pg_dump 18.0`.
    pub label: String,
}

/// Starts `program` with the environment of [`args::child_env`] and the
/// password in `pass` (keep it until the child has exited: pg_dump's `-j`
/// workers connect later).
///
/// The child dies with pgshelf: it gets `PR_SET_PDEATHSIG` = `SIGKILL`, so a
/// `kill -9` of pgshelf (or a crash) does not leave a `pg_dump` holding its
/// snapshot for hours. The kernel sends that signal when the *thread* that
/// forked the child exits; children are spawned from the async task's
/// thread, a tokio runtime worker (or the thread that drives a
/// current-thread runtime), which lives as long as the runtime — and when the
/// runtime ends, so does the engine, and killing the children is right.
/// Never spawn from `spawn_blocking` (its threads exit when idle). The child
/// also gets its own process group, so a terminal's Ctrl-C reaches pgshelf
/// only, which then stops its runs in order; [`kill`] stops the whole group
/// (pg_dump's `-j` workers too).
pub(crate) fn spawn(
    program: &Program,
    pass: Option<&PassFile>,
    stdout: Stdio,
) -> Result<tokio::process::Child, PipelineError> {
    spawn_with(program, pass, Stdio::null(), stdout, &[])
}

/// [`spawn`] with a chosen standard input (e.g. a pipe that feeds
/// `pg_restore --list`) and `extra_env` added to the child's environment
/// (a restore's `PGOPTIONS`).
pub(crate) fn spawn_with(
    program: &Program,
    pass: Option<&PassFile>,
    stdin: Stdio,
    stdout: Stdio,
    extra_env: &[(OsString, OsString)],
) -> Result<tokio::process::Child, PipelineError> {
    let mut cmd = tokio::process::Command::new(&program.path);
    cmd.args(&program.args)
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .env_clear()
        .envs(args::child_env(
            std::env::vars_os(),
            pass.map(PassFile::path),
        ))
        .envs(extra_env.iter().cloned())
        .process_group(0)
        .kill_on_drop(true);
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: only async-signal-safe calls (prctl, getppid) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            // pgshelf died between fork and prctl: do not outlive it.
            if libc::getppid() != parent {
                return Err(std::io::Error::other(
                    "pgshelf exited while starting this program",
                ));
            }
            Ok(())
        });
    }
    cmd.spawn().map_err(|e| PipelineError::Spawn {
        program: program.path.display().to_string(),
        detail: e.to_string(),
    })
}

/// A private passfile for `spec`'s password in the run's spool directory
/// (`spool/<id>/`, which recovery removes after a crash too).
pub(crate) fn passfile(
    ctx: &RunContext,
    spec: &ConnSpec,
    backup_id: i64,
) -> Result<Option<PassFile>, PipelineError> {
    let base = ctx.spool_dir.join(backup_id.to_string());
    PassFile::for_spec(spec, &base).map_err(|e| PipelineError::Spool {
        path: base.display().to_string(),
        detail: format!("cannot write the private passfile: {e}"),
    })
}

/// Kills a child and its process group (pg_dump's parallel workers).
pub(crate) fn kill(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        // SAFETY: kill(2) of the process group we created for this child.
        unsafe { libc::kill(-(pid as libc::pid_t), libc::SIGKILL) };
    }
    let _ = child.start_kill();
}

/// Collects the tail of a child's stderr.
pub(crate) async fn read_tail(mut stderr: tokio::process::ChildStderr) -> String {
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
}

/// Resolves when `progress` has not moved for `limits.stall`, or the run
/// has lasted `limits.timeout`, with the error to report.
pub(crate) async fn watchdog(progress: Arc<Progress>, limits: Limits) -> PipelineError {
    let started = Instant::now();
    let tick = (limits.stall / 4).clamp(Duration::from_millis(100), Duration::from_millis(500));
    let read = |p: &Progress| {
        (
            p.raw.load(Ordering::Relaxed),
            p.stored.load(Ordering::Relaxed),
            p.spooled.load(Ordering::Relaxed),
            p.checked.load(Ordering::Relaxed),
        )
    };
    let mut last = read(&progress);
    let mut last_change = Instant::now();
    loop {
        tokio::time::sleep(tick).await;
        if let Some(cause) = progress.stop.get() {
            return PipelineError::Stopped(cause.clone());
        }
        let now = read(&progress);
        if now != last {
            last = now;
            last_change = Instant::now();
        }
        if let Some(t) = limits.timeout {
            if started.elapsed() >= t {
                return PipelineError::TimedOut { secs: t.as_secs() };
            }
        }
        if last_change.elapsed() >= limits.stall {
            return PipelineError::Stalled {
                secs: limits.stall.as_secs(),
            };
        }
    }
}

/// Runs `program` and streams its standard output to `path`, compressed with
/// zstd at `zstd_level` (or as is when `None`) and then encrypted to
/// `encrypt` (age) when given. On failure the error comes with the
/// program's stderr tail.
#[allow(clippy::too_many_arguments)]
pub async fn run_to(
    ctx: &RunContext,
    program: &Program,
    spec: &ConnSpec,
    path: &str,
    zstd_level: Option<i32>,
    encrypt: Option<&Recipients>,
    limits: Limits,
    progress: &Arc<Progress>,
    backup_id: i64,
) -> Result<(ManifestFile, String), (PipelineError, String)> {
    run_to_counting(
        ctx, program, spec, path, zstd_level, encrypt, limits, progress, backup_id, None,
    )
    .await
    .map(|(f, _, e)| (f, e))
}

/// [`run_to`], with the program's raw output also fed to `tap` (row
/// counting) on its way to the compressor; the tap is handed back.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_to_counting(
    ctx: &RunContext,
    program: &Program,
    spec: &ConnSpec,
    path: &str,
    zstd_level: Option<i32>,
    encrypt: Option<&Recipients>,
    limits: Limits,
    progress: &Arc<Progress>,
    backup_id: i64,
    tap: Option<RowTap>,
) -> Result<(ManifestFile, Option<RowTap>, String), (PipelineError, String)> {
    let pass = passfile(ctx, spec, backup_id).map_err(|e| (e, String::new()))?;
    let mut child =
        spawn(program, pass.as_ref(), Stdio::piped()).map_err(|e| (e, String::new()))?;
    let stdout = match child.stdout.take().expect("piped stdout").into_owned_fd() {
        Ok(fd) => fd,
        Err(e) => return Err((PipelineError::Compress(e.to_string()), String::new())),
    };
    widen_pipe(&stdout);
    // A task of its own, so a stalled or timed-out run keeps its tail too
    // (with --verbose it names the table pg_dump was on).
    let stderr = tokio::spawn(read_tail(child.stderr.take().expect("piped stderr")));
    let uploaded = tokio::select! {
        r = upload_counting(ctx, stdout, path, zstd_level, encrypt, progress, backup_id, tap) => r,
        e = watchdog(progress.clone(), limits) => {
            kill(&mut child);
            let _ = child.wait().await;
            return Err((e, stderr.await.unwrap_or_default()));
        }
    };
    if uploaded.is_err() {
        kill(&mut child);
    }
    let status = child.wait().await;
    let stderr_text = stderr.await.unwrap_or_default();
    let status = match status {
        Ok(s) => s,
        Err(e) => return Err((PipelineError::Compress(e.to_string()), stderr_text)),
    };
    match uploaded {
        // The destination failed first: that is the cause, and the program's
        // end (e.g. SIGPIPE) only its consequence.
        Err(PipelineError::Storage(source)) => Err((
            PipelineError::Write {
                source,
                program: program.label.clone(),
                status: status.to_string(),
            },
            stderr_text,
        )),
        Err(e) => Err((e, stderr_text)),
        Ok((file, tap)) => match exit_error(status, &program.label, &stderr_text) {
            Some(e) => Err((e, stderr_text)),
            None => Ok((file, tap, stderr_text)),
        },
    }
}

/// Asks for a 1 MiB pipe buffer (Linux's default is 64 KiB): the dump
/// program blocks and wakes pgshelf a sixteenth as often. Best effort: a
/// smaller `/proc/sys/fs/pipe-max-size` leaves the default.
pub(crate) fn widen_pipe(fd: &impl std::os::fd::AsRawFd) {
    // SAFETY: fcntl(2) on a pipe descriptor this process owns.
    unsafe {
        libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20);
    }
}

/// The error a child's exit status means, if any.
pub(crate) fn exit_error(
    status: std::process::ExitStatus,
    label: &str,
    stderr: &str,
) -> Option<PipelineError> {
    use std::os::unix::process::ExitStatusExt;
    if status.success() {
        return None;
    }
    Some(match status.signal() {
        Some(signal) => PipelineError::Killed {
            program: label.split_whitespace().next().unwrap_or(label).to_owned(),
            signal,
        },
        None => PipelineError::Dump {
            program: label.to_owned(),
            cause: dump_cause(stderr),
        },
    })
}

/// Compresses (and, given recipients, encrypts) `input` on a blocking
/// thread and writes the chunks to `path`; the raw bytes go to `tap` too
/// (row counting), which is handed back.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn upload_counting(
    ctx: &RunContext,
    input: impl Into<std::os::fd::OwnedFd> + Send + 'static,
    path: &str,
    zstd_level: Option<i32>,
    encrypt: Option<&Recipients>,
    progress: &Arc<Progress>,
    backup_id: i64,
    tap: Option<RowTap>,
) -> Result<(ManifestFile, Option<RowTap>), PipelineError> {
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(CHANNEL_DEPTH);
    let threads = ctx.zstd.threads;
    let raw_counter = progress.clone();
    // pgshelf's own zstd, unencrypted: every chunk is also decoded as it
    // leaves (a thread of its own), so verification needs only to re-read
    // and hash the stored bytes: equal bytes decode alike.
    let (mut decode_tx, decoder) = match (zstd_level, encrypt) {
        (Some(_), None) => {
            let (dtx, drx) = mpsc::channel::<bytes::Bytes>(CHANNEL_DEPTH);
            (
                Some(dtx),
                Some(tokio::task::spawn_blocking(move || decode_count(drx))),
            )
        }
        _ => (None, None),
    };
    let encrypt = encrypt.cloned();
    let compressor = tokio::task::spawn_blocking(
        move || -> std::io::Result<(u64, Option<RowTap>, Option<BlockIndex>)> {
            let mut reader = Counting {
                inner: std::fs::File::from(input.into()),
                progress: raw_counter,
                tap,
            };
            // A custom archive pgshelf compresses and does not encrypt is
            // written seekable: frames aligned to its data blocks.
            if let (Some(level), None, Some(RowTap::Custom(..))) =
                (zstd_level, &encrypt, &reader.tap)
            {
                let (n, index) = compress_indexed(&mut reader, level, threads, tx)?;
                return Ok((n, reader.tap, index));
            }
            let n = compress(&mut reader, zstd_level, threads, encrypt.as_ref(), tx)?;
            Ok((n, reader.tap, None))
        },
    );

    // Every live copy gets each chunk (bounded: one chunk in flight per
    // copy, plus each writer's part buffers).
    let mut out = FanOut::open(&ctx.copies, path, ctx.size_hint).await?;
    let mut hasher = Sha256::new();
    let mut written: u64 = 0;
    let mut last_report = Instant::now();
    let mut write_err = None;
    while let Some(chunk) = rx.recv().await {
        hasher.update(&chunk);
        let len = chunk.len() as u64;
        written += len;
        let chunk = bytes::Bytes::from(chunk);
        if let Some(d) = &decode_tx {
            if d.send(chunk.clone()).await.is_err() {
                // The decoder stopped on bad data: its error is reported below.
                decode_tx = None;
            }
        }
        if let Err(e) = out.write(chunk).await {
            write_err = Some(e);
            break;
        }
        progress.stored.fetch_add(len, Ordering::Relaxed);
        if last_report.elapsed() > Duration::from_secs(1) {
            last_report = Instant::now();
            let (raw, stored) = progress.totals();
            let _ = ctx.catalog.record_progress(backup_id, raw, stored).await;
        }
    }
    drop(rx);
    let compressed = compressor
        .await
        .map_err(|e| PipelineError::Compress(e.to_string()));
    if let Some(e) = write_err {
        // Every copy failed (FanOut aborted each as it failed).
        return Err(e.into());
    }
    let (raw_size, tap, index) = match compressed {
        Ok(Ok(n)) => n,
        Ok(Err(e)) => {
            out.abort().await;
            return Err(PipelineError::Compress(e.to_string()));
        }
        Err(e) => {
            out.abort().await;
            return Err(e);
        }
    };
    drop(decode_tx);
    if let Some(decoder) = decoder {
        let decoded = match decoder.await {
            Ok(Ok(n)) if n == raw_size => Ok(()),
            Ok(Ok(n)) => Err(format!(
                "the compressed stream decodes to {n} bytes, but {raw_size} were read"
            )),
            Ok(Err(e)) => Err(format!("the compressed stream does not decode: {e}")),
            Err(e) => Err(format!("the decoding thread failed: {e}")),
        };
        if let Err(e) = decoded {
            out.abort().await;
            return Err(PipelineError::Compress(e));
        }
    }
    out.close(written).await?;
    Ok((
        ManifestFile {
            path: path.rsplit('/').next().unwrap_or(path).to_owned(),
            size: written,
            sha256: hex::encode(hasher.finalize()),
            raw_size,
            index,
        },
        tap,
    ))
}

/// Reads everything from `reader`, zstd-compresses it (unless `level` is
/// `None`), encrypts the result to `encrypt` (age) when given, and sends
/// 1 MiB chunks. Returns the number of bytes read.
pub(crate) fn compress(
    reader: impl Read,
    level: Option<i32>,
    threads: u32,
    encrypt: Option<&Recipients>,
    tx: mpsc::Sender<Vec<u8>>,
) -> std::io::Result<u64> {
    let sink = ChunkSink {
        buf: Vec::with_capacity(CHUNK),
        tx,
    };
    let (n, mut sink) = match encrypt {
        None => compress_into(reader, level, threads, sink)?,
        Some(r) => {
            let enc = Encryptor::new(sink, r).map_err(std::io::Error::other)?;
            let (n, enc) = compress_into(reader, level, threads, enc)?;
            (n, enc.finish()?)
        }
    };
    sink.flush()?;
    Ok(n)
}

/// zstd in frames that begin where the custom archive's header and TOC
/// end and where each data block begins ([`crate::seekable`]): the block
/// starts come from the row counter in `reader`'s tap as the bytes pass.
/// Returns the bytes read and the block index (`None` when the archive
/// could not be followed: the file is then still one valid zstd stream).
fn compress_indexed<R: Read>(
    reader: &mut Counting<R>,
    level: i32,
    threads: u32,
    tx: mpsc::Sender<Vec<u8>>,
) -> std::io::Result<(u64, Option<BlockIndex>)> {
    let sink = ChunkSink {
        buf: Vec::with_capacity(CHUNK),
        tx,
    };
    let mut enc = FramedEncoder::new(sink, level, threads)?;
    let mut buf = vec![0u8; CHUNK];
    // Bytes held back until the counter has parsed the header and TOC, so
    // the first frame ends exactly where they do.
    let mut held: Vec<u8> = Vec::new();
    loop {
        let n = match reader.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let head_pending =
            matches!(&reader.tap, Some(RowTap::Custom(c, None)) if c.archive().is_none());
        if n > 0 && head_pending && held.len() < HOLD_MAX {
            held.extend_from_slice(&buf[..n]);
            continue;
        }
        let starts = match &mut reader.tap {
            Some(RowTap::Custom(c, None)) => c.take_starts(),
            _ => Vec::new(),
        };
        if held.is_empty() {
            write_framed(&mut enc, &buf[..n], starts)?;
        } else {
            held.extend_from_slice(&buf[..n]);
            write_framed(&mut enc, &held, starts)?;
            held = Vec::new();
        }
        if n == 0 {
            break;
        }
    }
    let raw = enc.raw();
    let head = match &reader.tap {
        Some(RowTap::Custom(c, None)) => c.archive().map(|a| (a.toc_len, c.blocks().to_vec())),
        _ => None,
    };
    let (mut sink, index) = enc.finish(head)?;
    sink.flush()?;
    Ok((raw, index))
}

/// Decodes the zstd chunks arriving on `rx` (every frame, its checksum
/// checked) and returns how many bytes they hold.
fn decode_count(rx: mpsc::Receiver<bytes::Bytes>) -> std::io::Result<u64> {
    let mut d = zstd::stream::read::Decoder::new(crate::restore::fetch::ChannelReader::new(rx))?;
    std::io::copy(&mut d, &mut std::io::sink())
}

/// Most bytes held back waiting for a custom archive's TOC to end.
const HOLD_MAX: usize = 64 << 20;

/// Writes `data` (the raw bytes after what `enc` has taken) to `enc`,
/// ending a frame at each of `starts` (raw offsets).
fn write_framed<W: Write>(
    enc: &mut FramedEncoder<W>,
    data: &[u8],
    starts: Vec<u64>,
) -> std::io::Result<()> {
    let from = enc.raw();
    let mut at = 0usize;
    for s in starts {
        let cut = (s.saturating_sub(from) as usize).clamp(at, data.len());
        enc.write_all(&data[at..cut])?;
        enc.end_frame()?;
        at = cut;
    }
    enc.write_all(&data[at..])
}

/// zstd (or a plain copy when `level` is `None`) from `reader` into `out`;
/// returns the bytes read and `out` once the last frame is written.
fn compress_into<W: Write>(
    mut reader: impl Read,
    level: Option<i32>,
    threads: u32,
    mut out: W,
) -> std::io::Result<(u64, W)> {
    let Some(level) = level else {
        let n = std::io::copy(&mut reader, &mut out)?;
        return Ok((n, out));
    };
    let mut enc = zstd::stream::write::Encoder::new(out, level)?;
    if threads > 1 {
        enc.multithread(threads)?;
    }
    enc.include_checksum(true)?;
    let n = std::io::copy(&mut reader, &mut enc)?;
    Ok((n, enc.finish()?))
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
        self.tx.blocking_send(full).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "destination writer stopped")
        })
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
    tap: Option<RowTap>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.raw.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(t) = &mut self.tap {
            t.feed(&buf[..n]);
        }
        Ok(n)
    }
}

/// What watches a dump program's raw output as it passes to the compressor:
/// rows counted from the COPY text pg_dump writes when it does not compress
/// (exact, from the dump's own snapshot, at no extra read).
#[derive(Debug)]
pub(crate) enum RowTap {
    /// A custom archive: its data blocks, table by table. Holds the first
    /// error, after which it stops counting.
    Custom(Box<crate::toc::RowCounter>, Option<String>),
    /// One data file of a directory archive (`NNNN.dat`).
    Lines(crate::toc::LineCounter),
    /// A directory archive's `toc.dat`, kept whole: it says which file is
    /// which table's data.
    Keep(Vec<u8>),
}

impl RowTap {
    /// A tap for a custom archive.
    pub(crate) fn custom() -> RowTap {
        RowTap::Custom(Box::default(), None)
    }

    fn feed(&mut self, bytes: &[u8]) {
        match self {
            RowTap::Custom(c, err) => {
                if err.is_none() {
                    if let Err(e) = c.feed(bytes) {
                        *err = Some(e.to_string());
                    }
                }
            }
            RowTap::Lines(l) => l.feed(bytes),
            RowTap::Keep(v) => v.extend_from_slice(bytes),
        }
    }
}

/// The last few KiB of a program's stderr, on line boundaries.
pub(crate) fn tail(buf: &[u8]) -> String {
    let start = buf.len().saturating_sub(STDERR_TAIL);
    let s = String::from_utf8_lossy(&buf[start..]);
    let s = if start > 0 {
        s.split_once('\n')
            .map(|(_, r)| r.to_owned())
            .unwrap_or_else(|| s.into_owned())
    } else {
        s.into_owned()
    };
    s.trim_end().to_owned()
}

/// A one-line cause from a dump program's stderr, with a fix where one is known.
pub fn dump_cause(stderr: &str) -> String {
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("error:") || l.contains("FATAL") || l.contains("ERROR"))
        .collect();
    let first = errors
        .first()
        .map(|l| {
            let l = l.trim();
            let l = l.split_once(": error: ").map(|(_, r)| r).unwrap_or(l);
            l.to_owned()
        })
        .unwrap_or_else(|| {
            stderr
                .lines()
                .last()
                .unwrap_or("the program exited with an error and said nothing")
                .to_owned()
        });
    if let Some(tls) = crate::pg::tls::libpq_fix(stderr) {
        return format!("{first}: {tls}").replace("..", ".");
    }
    let fix = if stderr.contains("server version mismatch") {
        " Fix: install client tools at least as new as the server"
    } else if stderr.contains("permission denied") {
        " Fix: back up as a role that can read every object (a superuser, or a member of pg_read_all_data)"
    } else if stderr.contains("does not exist") {
        " Fix: refresh the server's database list"
    } else if stderr.contains("could not connect") || stderr.contains("connection to server") {
        " Fix: check that the server is reachable from pgshelf"
    } else if stderr.contains("lock")
        && (stderr.contains("timeout") || stderr.contains("could not obtain"))
    {
        " Fix: retry when the conflicting lock is gone, or raise the lock wait timeout"
    } else if stderr.contains("conflict with recovery") {
        " Fix: the standby cancelled the dump while replaying the primary; set hot_standby_feedback = on or raise max_standby_streaming_delay on the standby, or dump from the primary"
    } else if stderr.contains("no matching") {
        " Fix: correct the include patterns of the policy"
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
        let c = dump_cause(
            "pg_dump: error: query failed: ERROR:  permission denied for table secret\n",
        );
        assert!(
            c.starts_with("query failed: ERROR:  permission denied for table secret"),
            "{c}"
        );
        assert!(c.contains("pg_read_all_data"));
        let v = dump_cause("pg_dump: error: aborting because of server version mismatch\npg_dump: detail: server version: 18.0; pg_dump version: 15.18\n");
        assert!(v.contains("at least as new"), "{v}");
        let l = dump_cause(
            "pg_dump: error: query failed: ERROR:  canceling statement due to lock timeout\n",
        );
        assert!(l.contains("lock wait timeout"), "{l}");
        let g = dump_cause(
            "pg_dumpall: error: query failed: ERROR:  permission denied for table pg_authid\n",
        );
        assert!(g.starts_with("query failed"), "{g}");
        assert_eq!(
            dump_cause(""),
            "the program exited with an error and said nothing."
        );
        let t = dump_cause("pg_dump: error: connection to server at \"127.0.0.1\", port 5432 failed: SSL error: certificate verify failed\n");
        assert!(
            t.starts_with("connection to server at \"127.0.0.1\", port 5432 failed: SSL error: certificate verify failed: "),
            "{t}"
        );
        assert!(
            t.contains("unknown CA") && t.contains("Fix: paste the CA"),
            "{t}"
        );
    }

    #[test]
    fn compress_round_trips_and_chunks() {
        let data: Vec<u8> = (0..3_000_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let (tx, mut rx) = mpsc::channel(1024);
        let n = compress(&data[..], Some(3), 2, None, tx).unwrap();
        assert_eq!(n as usize, data.len());
        let mut out = Vec::new();
        while let Ok(c) = rx.try_recv() {
            assert!(c.len() <= CHUNK);
            out.extend(c);
        }
        assert_eq!(zstd::decode_all(&out[..]).unwrap(), data);
        // Pass-through when pg_dump compresses or nothing does.
        let (tx, mut rx) = mpsc::channel(1024);
        compress(&data[..], None, 1, None, tx).unwrap();
        let mut raw = Vec::new();
        while let Ok(c) = rx.try_recv() {
            raw.extend(c);
        }
        assert_eq!(raw, data);
        // Compressed, then encrypted: not zstd until decrypted.
        let id = crate::crypt::Identity::generate();
        let r = Recipients::parse(&id.recipients()).unwrap();
        let (tx, mut rx) = mpsc::channel(1024);
        compress(&data[..], Some(3), 2, Some(&r), tx).unwrap();
        let mut stored = Vec::new();
        while let Ok(c) = rx.try_recv() {
            assert!(c.len() <= CHUNK);
            stored.extend(c);
        }
        assert!(zstd::decode_all(&stored[..]).is_err());
        let mut plain = Vec::new();
        crate::crypt::Decryptor::new(&stored[..], &id, &id.recipients(), "t")
            .unwrap()
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(zstd::decode_all(&plain[..]).unwrap(), data);
    }

    #[tokio::test]
    async fn watchdog_reports_stall_and_timeout() {
        let p = Arc::new(Progress::default());
        let e = watchdog(
            p.clone(),
            Limits {
                stall: Duration::from_millis(300),
                timeout: None,
            },
        )
        .await;
        assert!(matches!(e, PipelineError::Stalled { .. }), "{e}");
        let moving = p.clone();
        let bump = tokio::spawn(async move {
            loop {
                moving.raw.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        let e = watchdog(
            p,
            Limits {
                stall: Duration::from_secs(10),
                timeout: Some(Duration::from_millis(400)),
            },
        )
        .await;
        bump.abort();
        assert!(matches!(e, PipelineError::TimedOut { .. }), "{e}");
    }
}
