//! Directory format: `pg_dump -Fd -j N --file=SPOOL/dump`, each file
//! compressed and uploaded as soon as pg_dump closes it.
//!
//! pgshelf creates the (empty) spool directory itself and watches it with
//! inotify (`IN_CLOSE_WRITE`) before pg_dump starts, so no file is missed.
//! When pg_dump exits, every file not yet uploaded — or changed since — is
//! uploaded (`toc.dat` is written last). Each file is removed from the
//! spool once stored, so the spool holds the files in flight rather than
//! the whole dump; pg_dump runs with `--no-sync`, whose absence would make
//! it reopen every file for writing at the end (an fsync pass). Every
//! upload races the stall/timeout watchdog, so a hung
//! destination fails the run. The caller removes the spool after success
//! and after failure.

use crate::crypt::Recipients;
use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::stream::{self, Limits, Program};
use super::{ManifestFile, PipelineError, Progress, RunContext};
use crate::pg::ConnSpec;

type Failed = (PipelineError, String);

/// Runs the directory-format dump into `spool` and uploads its files under
/// `<artifact dir>dump/`. With `count_rows` (pg_dump writes plain COPY
/// text), each data file's lines are counted as it is compressed, and the
/// counts come back by table (or why they could not be taken).
#[allow(clippy::too_many_arguments)]
pub async fn run(
    ctx: &RunContext,
    program: &Program,
    spec: &ConnSpec,
    spool: &Path,
    artifact_dir: &str,
    zstd_level: Option<i32>,
    encrypt: Option<&Recipients>,
    limits: Limits,
    progress: &Arc<Progress>,
    backup_id: i64,
    count_rows: bool,
) -> Result<(Vec<ManifestFile>, String, Option<super::DumpRows>), Failed> {
    let spool_err = |e: std::io::Error| {
        (
            PipelineError::Spool {
                path: spool.display().to_string(),
                detail: e.to_string(),
            },
            String::new(),
        )
    };
    std::fs::create_dir_all(spool).map_err(spool_err)?;
    let watch = Watch::new(spool).map_err(spool_err)?;
    let (tx, mut closed) = mpsc::unbounded_channel::<String>();
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        tokio::task::spawn_blocking(move || watch.run(tx, stop))
    };

    let pass = stream::passfile(ctx, spec, backup_id).map_err(|e| (e, String::new()))?;
    let mut child =
        stream::spawn(program, pass.as_ref(), Stdio::null()).map_err(|e| (e, String::new()))?;
    let stderr = tokio::spawn(stream::read_tail(
        child.stderr.take().expect("piped stderr"),
    ));
    let mut uploaded: HashMap<String, (u64, ManifestFile)> = HashMap::new();
    let mut taps: Taps = Taps {
        on: count_rows,
        ..Taps::default()
    };
    let dog = stream::watchdog(progress.clone(), limits);
    tokio::pin!(dog);
    let mut spool_tick = tokio::time::interval(Duration::from_millis(500));

    let status = loop {
        tokio::select! {
            Some(name) = closed.recv() => {
                // The upload races the watchdog: a hung destination moves no
                // byte and fails the run as stalled.
                let up = tokio::select! {
                    r = upload_one(ctx, spool, &name, artifact_dir, zstd_level, encrypt, progress, backup_id, &mut uploaded, &mut taps) => r,
                    e = &mut dog => Err(e),
                };
                if let Err(e) = up {
                    stream::kill(&mut child);
                    let _ = child.wait().await;
                    stop.store(true, Ordering::Relaxed);
                    return Err((e, stderr.await.unwrap_or_default()));
                }
            }
            _ = spool_tick.tick() => {
                // pg_dump writing a large file moves no upload bytes yet; the
                // spool's growth counts as progress for the stall watchdog.
                progress.spooled.store(dir_size(spool), Ordering::Relaxed);
            }
            status = child.wait() => break status,
            e = &mut dog => {
                stream::kill(&mut child);
                let _ = child.wait().await;
                stop.store(true, Ordering::Relaxed);
                return Err((e, stderr.await.unwrap_or_default()));
            }
        }
    };
    stop.store(true, Ordering::Relaxed);
    let _ = watcher.await;
    let stderr_text = stderr.await.unwrap_or_default();
    let status = match status {
        Ok(s) => s,
        Err(e) => return Err((PipelineError::Compress(e.to_string()), stderr_text)),
    };
    if let Some(e) = stream::exit_error(status, &program.label, &stderr_text) {
        return Err((e, stderr_text));
    }
    // Whatever is left: files closed after the watch stopped, and toc.dat.
    let mut names: Vec<String> = match std::fs::read_dir(spool) {
        Ok(rd) => rd
            .flatten()
            .filter(|e| e.path().is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) => return Err((spool_err(e).0, stderr_text)),
    };
    names.sort();
    for name in names {
        let up = tokio::select! {
            r = upload_one(ctx, spool, &name, artifact_dir, zstd_level, encrypt, progress, backup_id, &mut uploaded, &mut taps) => r,
            e = &mut dog => Err(e),
        };
        if let Err(e) = up {
            return Err((e, stderr_text));
        }
    }
    let mut files: Vec<ManifestFile> = uploaded.into_values().map(|(_, f)| f).collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    if !files.iter().any(|f| f.path.starts_with("dump/toc.dat")) {
        return Err((
            PipelineError::Dump {
                program: program.label.clone(),
                cause: "finished without writing toc.dat".into(),
            },
            stderr_text,
        ));
    }
    let rows = count_rows.then(|| taps.rows());
    Ok((files, stderr_text, rows))
}

/// Row counting over a directory archive's files (see [`stream::RowTap`]).
#[derive(Debug, Default)]
struct Taps {
    on: bool,
    /// Data file name -> (rows, whether its end marker was seen).
    lines: HashMap<String, (u64, bool)>,
    toc: Option<Vec<u8>>,
}

impl Taps {
    /// The tap for a spooled file: its lines for `NNNN.dat`, all of it for
    /// `toc.dat`, nothing for the rest (large objects, `blobs.toc`).
    fn for_file(&self, name: &str) -> Option<stream::RowTap> {
        if !self.on {
            return None;
        }
        if name == "toc.dat" {
            return Some(stream::RowTap::Keep(Vec::new()));
        }
        let stem = name.strip_suffix(".dat")?;
        (!stem.is_empty() && stem.bytes().all(|b| b.is_ascii_digit()))
            .then(|| stream::RowTap::Lines(crate::toc::LineCounter::new()))
    }

    fn took(&mut self, name: &str, tap: Option<stream::RowTap>) {
        match tap {
            Some(stream::RowTap::Lines(l)) => {
                self.lines.insert(name.to_owned(), (l.rows(), l.ended()));
            }
            Some(stream::RowTap::Keep(bytes)) => self.toc = Some(bytes),
            _ => {}
        }
    }

    /// Rows by table: each TABLE DATA entry's file, counted whole.
    fn rows(&self) -> super::DumpRows {
        let toc = self.toc.as_deref().ok_or("toc.dat was not seen")?;
        let archive = crate::toc::read_archive(toc).map_err(|e| e.to_string())?;
        let mut out = HashMap::new();
        for e in archive.entries.iter().filter(|e| e.is_copy_data()) {
            let Some(file) = e.data_file.as_deref() else {
                continue;
            };
            let Some(&(rows, ended)) = self.lines.get(file) else {
                return Err(format!(
                    "the data file {file} of {} was not counted",
                    e.table_ref()
                ));
            };
            if !ended {
                return Err(format!(
                    "the data file {file} of {} ends without its end marker",
                    e.table_ref()
                ));
            }
            out.insert((e.namespace.clone(), e.tag.clone()), rows);
        }
        Ok(out)
    }
}

/// Uploads `spool/name` unless the same size was uploaded already.
#[allow(clippy::too_many_arguments)]
async fn upload_one(
    ctx: &RunContext,
    spool: &Path,
    name: &str,
    artifact_dir: &str,
    zstd_level: Option<i32>,
    encrypt: Option<&Recipients>,
    progress: &Arc<Progress>,
    backup_id: i64,
    uploaded: &mut HashMap<String, (u64, ManifestFile)>,
    taps: &mut Taps,
) -> Result<(), PipelineError> {
    let local = spool.join(name);
    let spool_err = |e: std::io::Error| PipelineError::Spool {
        path: local.display().to_string(),
        detail: e.to_string(),
    };
    let file = match std::fs::File::open(&local) {
        Ok(f) => f,
        // Uploaded and removed already: a late event for it.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && uploaded.contains_key(name) => {
            return Ok(())
        }
        Err(e) => return Err(spool_err(e)),
    };
    let size = file.metadata().map_err(spool_err)?.len();
    if uploaded.get(name).is_some_and(|(s, _)| *s == size) {
        return Ok(());
    }
    let mut stored_name = match zstd_level {
        Some(_) => format!("{name}.zst"),
        None => name.to_owned(),
    };
    if encrypt.is_some() {
        stored_name.push_str(crate::crypt::SUFFIX);
    }
    let path = format!("{artifact_dir}dump/{stored_name}");
    let (mut f, tap) = stream::upload_counting(
        ctx,
        file,
        &path,
        zstd_level,
        encrypt,
        progress,
        backup_id,
        taps.for_file(name),
    )
    .await?;
    taps.took(name, tap);
    f.path = format!("dump/{stored_name}");
    uploaded.insert(name.to_owned(), (size, f));
    // pg_dump writes each file once (and, with --no-sync, never reopens
    // it): once stored, its spool copy goes, so the spool holds the files
    // in flight rather than the whole dump.
    if let Err(e) = std::fs::remove_file(&local) {
        tracing::warn!(
            backup = backup_id,
            "cannot remove spooled {}: {e}",
            local.display()
        );
    }
    Ok(())
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// An inotify watch for files closed after writing in one directory.
struct Watch {
    fd: OwnedFd,
}

impl Watch {
    fn new(dir: &Path) -> std::io::Result<Watch> {
        // SAFETY: plain syscalls; the returned descriptor is owned at once.
        let raw = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let c = CString::new(dir.as_os_str().as_bytes())?;
        let wd =
            unsafe { libc::inotify_add_watch(fd.as_raw_fd(), c.as_ptr(), libc::IN_CLOSE_WRITE) };
        if wd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Watch { fd })
    }

    /// Sends the name of every file closed after writing until `stop` is set
    /// and no event is pending.
    fn run(self, tx: mpsc::UnboundedSender<String>, stop: Arc<AtomicBool>) {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let ready = unsafe { libc::poll(&mut pfd, 1, 200) };
            if ready <= 0 {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                continue;
            }
            // SAFETY: reading into our own buffer.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                continue;
            }
            for name in parse_events(&buf[..n as usize]) {
                if tx.send(name).is_err() {
                    return;
                }
            }
        }
    }
}

/// Names in a buffer of `struct inotify_event` records.
fn parse_events(mut b: &[u8]) -> Vec<String> {
    const HEADER: usize = 16; // wd, mask, cookie, len: four 32-bit fields
    let mut out = Vec::new();
    while b.len() >= HEADER {
        let len = u32::from_ne_bytes(b[12..16].try_into().expect("4 bytes")) as usize;
        if b.len() < HEADER + len {
            break;
        }
        let name = &b[HEADER..HEADER + len];
        let name = name.split(|c| *c == 0).next().unwrap_or(&[]);
        if !name.is_empty() {
            out.push(String::from_utf8_lossy(name).into_owned());
        }
        b = &b[HEADER + len..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_inotify_records() {
        let mut b = Vec::new();
        for (name, pad) in [("toc.dat", 9usize), ("3001.dat", 8)] {
            b.extend_from_slice(&1i32.to_ne_bytes());
            b.extend_from_slice(&(libc::IN_CLOSE_WRITE).to_ne_bytes());
            b.extend_from_slice(&0u32.to_ne_bytes());
            b.extend_from_slice(&((name.len() + pad) as u32).to_ne_bytes());
            b.extend_from_slice(name.as_bytes());
            b.extend(std::iter::repeat_n(0u8, pad));
        }
        assert_eq!(parse_events(&b), ["toc.dat", "3001.dat"]);
        assert!(parse_events(&b[..10]).is_empty());
    }

    #[tokio::test]
    async fn watch_sees_closed_files() {
        let dir = tempfile::tempdir().unwrap();
        let w = Watch::new(dir.path()).unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let t = tokio::task::spawn_blocking(move || w.run(tx, s2));
        std::fs::write(dir.path().join("a.dat"), b"x").unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap();
        assert_eq!(got.as_deref(), Some("a.dat"));
        stop.store(true, Ordering::Relaxed);
        t.await.unwrap();
    }
}
