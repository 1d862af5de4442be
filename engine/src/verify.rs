//! Step 6 of a run: proving what was stored, before it is listed as good.
//!
//! After the upload every file of the artifact is read back from the
//! destination: its size and sha256 must match the manifest, and it must
//! decompress in full to the byte count the manifest records. Files pgshelf
//! compressed itself (unencrypted) were decoded in full as they were written
//! (`pipeline::stream`): equal bytes decode alike, so reading them back
//! checks size and sha256 and decodes only what `pg_restore --list` needs
//! (a backup's run is then about a second shorter per GB). A database
//! archive is also read by the real `pg_restore --list` (fed from that same
//! stream; a directory archive's `toc.dat`), whose listing is kept in the
//! catalog so a restore dialog needs no download. A mismatch or an
//! unreadable archive fails the run.
//!
//! A readable backup is then judged against its history ([`judge`]): a
//! stored size far from the trailing median of the previous good backups
//! of the same database under the same policy shape, or a table that was in
//! the previous backup and is gone now, makes it `suspect`, with the
//! reasons; otherwise it is `verified`.
//!
//! Globals are re-read and decompressed in full (there is no archive to list).
//!
//! An age-encrypted artifact is decrypted on the way when an identity is
//! given; without one (pgshelf holds no private key) only each file's size
//! and sha256 are checked, and [`Readback::notes`] says that decompression
//! and `pg_restore --list` were not run.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use crate::catalog::{BackupKind, BackupStatus, Catalog, CatalogError, PastBackup, Target};
use crate::crypt::{self, Identity};
use crate::pg::TableInfo;
use crate::pipeline::stream::{self, Program};
use crate::pipeline::{Manifest, ManifestFile, PipelineError, Progress};
use crate::policy::Policy;
use crate::storage::{self, Destination, StorageError};

/// Default of the engine setting `suspect_size_ratio`: a backup whose
/// stored size is outside 0.5x..2x of the trailing median is suspect.
pub const DEFAULT_SUSPECT_SIZE_RATIO: f64 = 2.0;
/// How many previous backups the trailing median is taken over.
pub const MEDIAN_WINDOW: usize = 5;
/// Fewer previous backups than this: no size judgement yet.
pub const MEDIAN_MIN: usize = 3;
/// Most bytes of a custom archive's start kept for parsing its TOC.
const TOC_PREFIX_MAX: usize = 64 << 20;

/// Why a stored artifact cannot be trusted. Any of these fails the run.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("verification: the stored file {path} is missing. Fix: check that nothing else writes to or cleans the destination, then take a new backup")]
    Missing { path: String },
    #[error("verification: the stored file {path} is {stored} bytes, but the manifest says {expected}. Fix: check the destination's health and free space, then take a new backup")]
    Size {
        path: String,
        expected: u64,
        stored: u64,
    },
    #[error("verification: the stored file {path} does not match its manifest (sha256 {actual}, manifest {expected}): it changed after it was written. Fix: check the destination's disks and anything that writes to it, then take a new backup")]
    Checksum {
        path: String,
        expected: String,
        actual: String,
    },
    #[error("verification: the stored file {path} does not decompress: {detail}. Fix: check the destination's health, then take a new backup")]
    Corrupt { path: String, detail: String },
    #[error("verification: the stored file {path} decompresses to {decoded} bytes, but {expected} were written. Fix: check the destination's health, then take a new backup")]
    RawSize {
        path: String,
        expected: u64,
        decoded: u64,
    },
    #[error("verification: the stored manifest.json differs from the one pgshelf wrote. Fix: check what else writes to the destination, then take a new backup")]
    Manifest,
    #[error("verification: {program} cannot read the stored archive: {detail}. Fix: check the destination's health and that {program} is at least as new as the pg_dump that wrote it, then take a new backup")]
    Unreadable { program: String, detail: String },
    #[error("verification: cannot read the stored artifact back: {0}")]
    Storage(#[from] StorageError),
    #[error("verification: this backup has no manifest in the catalog, so there is nothing to check it against. Fix: take a new backup")]
    NoManifest,
    #[error("verification: {0}")]
    Local(String),
}

impl VerifyError {
    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            VerifyError::Storage(e) => e.status(),
            VerifyError::NoManifest => 404,
            _ => 500,
        }
    }
}

/// What reading an artifact back found (all of it matched its manifest).
#[derive(Debug, Clone, Default)]
pub struct Readback {
    /// `pg_restore --list` of the stored archive (database backups).
    pub listing: Option<String>,
    /// The start of a custom archive, or a directory archive's `toc.dat`,
    /// decompressed: enough to parse the archive's TOC.
    pub toc_bytes: Vec<u8>,
    /// What was not checked, and why (an encrypted artifact without an
    /// identity). Recorded with the verification; does not make it suspect.
    pub notes: Vec<String>,
}

/// How a stored file's bytes are opened after its checksum.
#[derive(Clone)]
enum Open {
    /// As stored (zstd or plain).
    Plain,
    /// As stored, but decoded only as far as the listing needs (the file
    /// was decoded in full as it was written; its checksum proves the
    /// stored bytes are those).
    Head,
    /// Through age with this identity (recipients for the message).
    Decrypt(Identity, Vec<String>),
    /// Not at all: encrypted and no identity, so size and sha256 only.
    ChecksumOnly,
}

/// Compares one stored file with its manifest entry: size and sha256.
/// Pure, so the rule is tested without storage.
pub fn compare_file(
    path: &str,
    want: &ManifestFile,
    stored_size: u64,
    sha256: &str,
) -> Result<(), VerifyError> {
    if stored_size != want.size {
        return Err(VerifyError::Size {
            path: path.to_owned(),
            expected: want.size,
            stored: stored_size,
        });
    }
    if !sha256.eq_ignore_ascii_case(&want.sha256) {
        return Err(VerifyError::Checksum {
            path: path.to_owned(),
            expected: want.sha256.clone(),
            actual: sha256.to_owned(),
        });
    }
    Ok(())
}

/// Reads every file of the artifact in `dir` back and checks it against
/// `manifest` (and the stored `manifest.json` against `manifest_json`, the
/// copy pgshelf wrote); lists a database archive with `pg_restore` (the
/// binary at `pg_restore`). `scratch` is a private directory for a
/// directory archive's `toc.dat`. Bytes read count as progress for the
/// run's watchdog. `identity` decrypts an encrypted artifact; without one
/// its files are checked by size and sha256 only ([`Readback::notes`]).
#[allow(clippy::too_many_arguments)]
pub async fn read_back(
    dest: &Destination,
    dir: &str,
    manifest: &Manifest,
    manifest_json: Option<&str>,
    pg_restore: Option<&Path>,
    scratch: &Path,
    progress: &Arc<Progress>,
    identity: Option<&Identity>,
    decoded_on_write: bool,
) -> Result<Readback, VerifyError> {
    let op = dest.operator()?;
    if let Some(json) = manifest_json {
        let path = format!("{dir}{}", storage::MANIFEST_FILE);
        let stored = op.read(&path).await.map_err(|e| missing(dest, &path, e))?;
        if stored.to_vec() != json.as_bytes() {
            return Err(VerifyError::Manifest);
        }
    }
    let mut out = Readback::default();
    let recipients = manifest.recipients();
    let encrypted = !recipients.is_empty();
    let open_for = |f: &ManifestFile| match identity {
        // Decoded in full as it was written (pgshelf's zstd, unencrypted):
        // equal bytes decode alike, so only what the listing needs is
        // decoded again.
        _ if decoded_on_write && f.path.ends_with(".zst") => Open::Head,
        _ if !f.path.ends_with(crypt::SUFFIX) => Open::Plain,
        Some(id) => Open::Decrypt(id.clone(), recipients.to_vec()),
        None => Open::ChecksumOnly,
    };
    if encrypted && identity.is_none() {
        for f in &manifest.files {
            let path = format!("{dir}{}", f.path);
            check_file(dest, &path, f, Tee::new(None, 0), progress, open_for(f)).await?;
        }
        out.notes.push(format!(
            "encrypted with age (recipients {}): the size and sha256 of every stored file were checked against the manifest; decompression and pg_restore --list were not run because pgshelf holds no identity for these recipients",
            recipients.join(", ")
        ));
        return Ok(out);
    }
    let custom = manifest.kind == BackupKind::Database && manifest.format == "custom";
    for f in &manifest.files {
        let path = format!("{dir}{}", f.path);
        let plain = f.path.strip_suffix(crypt::SUFFIX).unwrap_or(&f.path);
        let is_toc = manifest.format == "directory"
            && (plain == "dump/toc.dat" || plain == "dump/toc.dat.zst");
        if custom && manifest.files.len() == 1 {
            let program = pg_restore.ok_or_else(no_pg_restore)?;
            let (listing, prefix) =
                list_custom(dest, &path, f, program, progress, open_for(f)).await?;
            out.listing = Some(listing);
            out.toc_bytes = prefix;
        } else {
            let keep = if is_toc { usize::MAX } else { 0 };
            let tee = Tee::new(None, keep);
            let tee = check_file(dest, &path, f, tee, progress, open_for(f)).await?;
            if is_toc {
                out.toc_bytes = tee.kept;
            }
        }
    }
    if manifest.kind == BackupKind::Database && manifest.format == "directory" {
        if out.toc_bytes.is_empty() {
            return Err(VerifyError::Unreadable {
                program: "pg_restore".into(),
                detail: "the artifact has no toc.dat".into(),
            });
        }
        let program = pg_restore.ok_or_else(no_pg_restore)?;
        out.listing = Some(list_directory(&out.toc_bytes, program, scratch).await?);
    }
    Ok(out)
}

fn no_pg_restore() -> VerifyError {
    VerifyError::Local(
        "no pg_restore was found beside the pg_dump that wrote this backup. Fix: install the full PostgreSQL client tools (pg_restore comes with pg_dump)".into(),
    )
}

fn missing(dest: &Destination, path: &str, e: opendal::Error) -> VerifyError {
    if e.kind() == opendal::ErrorKind::NotFound {
        VerifyError::Missing {
            path: path.to_owned(),
        }
    } else {
        VerifyError::Storage(dest.error(e))
    }
}

/// Streams one stored file: sha256 and size against the manifest, and the
/// decompressed bytes (zstd for `.zst` files) through `tee`, counted
/// against the manifest's raw size. Returns the tee (with what it kept).
async fn check_file(
    dest: &Destination,
    path: &str,
    want: &ManifestFile,
    tee: Tee,
    progress: &Arc<Progress>,
    open: Open,
) -> Result<Tee, VerifyError> {
    let op = dest.operator()?;
    let meta = op.stat(path).await.map_err(|e| missing(dest, path, e))?;
    let zst = path
        .strip_suffix(crypt::SUFFIX)
        .unwrap_or(path)
        .ends_with(".zst");
    let checksum_only = matches!(open, Open::ChecksumOnly);
    let head_only = matches!(open, Open::Head);
    // Nothing goes to the decoder then: no zstd frame to expect either.
    let zst = zst && !checksum_only;
    let age = match open {
        Open::Decrypt(id, r) => Some((id, r, path.to_owned())),
        _ => None,
    };
    let (tx, rx) = mpsc::channel::<Vec<u8>>(4);
    let decoder = tokio::task::spawn_blocking(move || decode(rx, zst, age, tee, head_only));
    let mut stream = op
        .reader_with(path)
        .chunk(stream::CHUNK)
        .await
        .map_err(|e| missing(dest, path, e))?
        .into_bytes_stream(..)
        .await
        .map_err(|e| dest.error(e))?;
    let mut hasher = Sha256::new();
    let mut read: u64 = 0;
    let mut decoding = !checksum_only;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            VerifyError::Storage(StorageError::Io {
                dest: dest.describe.clone(),
                detail: format!("{path}: {e}"),
            })
        })?;
        hasher.update(&chunk);
        read += chunk.len() as u64;
        progress
            .checked
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        // A decoder that gave up (corrupt data) still lets the checksum
        // finish: a mismatch is the more telling cause.
        if decoding && tx.send(chunk.to_vec()).await.is_err() {
            decoding = false;
        }
    }
    drop(tx);
    let decoded = decoder
        .await
        .map_err(|e| VerifyError::Local(format!("the decompressing thread failed: {e}")))?;
    compare_file(
        path,
        want,
        read.max(meta.content_length()),
        &hex::encode(hasher.finalize()),
    )?;
    let (n, tee) = decoded.map_err(|e| VerifyError::Corrupt {
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    if !checksum_only && !head_only && n != want.raw_size {
        return Err(VerifyError::RawSize {
            path: path.to_owned(),
            expected: want.raw_size,
            decoded: n,
        });
    }
    Ok(tee)
}

/// Decrypts (with `age`: identity, recipients, path), then decompresses
/// (or passes through) what arrives on `rx` into `tee`; returns the number
/// of bytes out and the tee.
fn decode(
    rx: mpsc::Receiver<Vec<u8>>,
    zst: bool,
    age: Option<(Identity, Vec<String>, String)>,
    tee: Tee,
    head_only: bool,
) -> std::io::Result<(u64, Tee)> {
    let channel = ChannelReader {
        rx,
        buf: Vec::new(),
        pos: 0,
    };
    let mut input: Box<dyn Read> = match age {
        Some((id, recipients, path)) => Box::new(
            crypt::Decryptor::new(channel, &id, &recipients, &path)
                .map_err(std::io::Error::other)?,
        ),
        None => Box::new(channel),
    };
    let mut out = tee;
    let n = if zst && head_only {
        // Until the tee wants no more (the program stopped reading, the
        // prefix is kept); dropping the channel then lets the checksum go on.
        let mut d = zstd::stream::read::Decoder::new(input)?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut n = 0u64;
        while !out.satisfied() {
            let got = d.read(&mut buf)?;
            if got == 0 {
                break;
            }
            out.write_all(&buf[..got])?;
            n += got as u64;
        }
        n
    } else if zst {
        let mut d = zstd::stream::read::Decoder::new(input)?;
        let n = std::io::copy(&mut d, &mut out)?;
        // Trailing bytes after the last frame would be ignored by a single
        // frame reader; the decoder reads all frames, so nothing is left.
        n
    } else {
        std::io::copy(&mut input, &mut out)?
    };
    out.close_pipe();
    Ok((n, out))
}

/// A blocking `Read` over chunks arriving on a channel.
struct ChannelReader {
    rx: mpsc::Receiver<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.buf.len() {
            match self.rx.blocking_recv() {
                Some(b) => {
                    self.buf = b;
                    self.pos = 0;
                }
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Where decompressed bytes go: a pipe to a program (until it stops
/// reading, as `pg_restore --list` does once it has the TOC) and the first
/// `keep_max` bytes kept in memory. Everything else is counted and dropped.
struct Tee {
    pipe: Option<std::fs::File>,
    kept: Vec<u8>,
    keep_max: usize,
}

impl Tee {
    fn new(pipe: Option<std::fs::File>, keep_max: usize) -> Tee {
        Tee {
            pipe,
            kept: Vec::new(),
            keep_max,
        }
    }

    /// Whether it wants no more bytes: no program reading, prefix kept.
    fn satisfied(&self) -> bool {
        self.pipe.is_none() && self.kept.len() >= self.keep_max
    }

    /// Closes the pipe, so the program sees the end of its input.
    fn close_pipe(&mut self) {
        self.pipe = None;
    }
}

impl Write for Tee {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if let Some(p) = &mut self.pipe {
            if p.write_all(data).is_err() {
                // The reader is done (or gone): its exit status tells.
                self.pipe = None;
            }
        }
        let room = self.keep_max.saturating_sub(self.kept.len());
        if room > 0 {
            self.kept.extend_from_slice(&data[..room.min(data.len())]);
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `pg_restore --list` of a custom archive, fed from the stored file as it
/// is checked (decompressed on the way). Returns the listing and the
/// archive's first bytes.
async fn list_custom(
    dest: &Destination,
    path: &str,
    want: &ManifestFile,
    pg_restore: &Path,
    progress: &Arc<Progress>,
    open: Open,
) -> Result<(String, Vec<u8>), VerifyError> {
    let program = Program {
        path: pg_restore.to_owned(),
        args: vec!["--list".into()],
        label: "pg_restore".into(),
    };
    let mut child = stream::spawn_with(&program, None, Stdio::piped(), Stdio::piped(), &[])
        .map_err(|e| VerifyError::Local(e.to_string()))?;
    let stdin = child
        .stdin
        .take()
        .expect("piped stdin")
        .into_owned_fd()
        .map_err(|e| VerifyError::Local(format!("pg_restore's input: {e}")))?;
    let stdout = tokio::spawn(read_all(child.stdout.take().expect("piped stdout")));
    let stderr = tokio::spawn(stream::read_tail(
        child.stderr.take().expect("piped stderr"),
    ));
    let tee = Tee::new(Some(std::fs::File::from(stdin)), TOC_PREFIX_MAX);
    let checked = check_file(dest, path, want, tee, progress, open).await;
    let checked = match checked {
        Ok(t) => t,
        Err(e) => {
            stream::kill(&mut child);
            let _ = child.wait().await;
            return Err(e);
        }
    };
    let status = child
        .wait()
        .await
        .map_err(|e| VerifyError::Local(format!("pg_restore: {e}")))?;
    let listing = stdout.await.unwrap_or_default();
    let err = stderr.await.unwrap_or_default();
    listed(status, listing, &err).map(|l| (l, checked.kept))
}

/// `pg_restore --list` of a directory archive whose `toc.dat` is `toc`.
async fn list_directory(
    toc: &[u8],
    pg_restore: &Path,
    scratch: &Path,
) -> Result<String, VerifyError> {
    let local = |e: std::io::Error| {
        VerifyError::Local(format!(
            "cannot write the archive's toc.dat to {}: {e}. Fix: make the spool directory writable",
            scratch.display()
        ))
    };
    let dir = scratch.join("verify-toc");
    std::fs::create_dir_all(&dir).map_err(local)?;
    std::fs::write(dir.join("toc.dat"), toc).map_err(local)?;
    let program = Program {
        path: pg_restore.to_owned(),
        args: vec![
            "--list".into(),
            "--format=directory".into(),
            dir.clone().into(),
        ],
        label: "pg_restore".into(),
    };
    let child = stream::spawn_with(&program, None, Stdio::null(), Stdio::piped(), &[])
        .map_err(|e| VerifyError::Local(e.to_string()))?;
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| VerifyError::Local(format!("pg_restore: {e}")))?;
    let _ = std::fs::remove_dir_all(&dir);
    listed(
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        &stream::tail(&out.stderr),
    )
}

fn listed(
    status: std::process::ExitStatus,
    listing: String,
    stderr: &str,
) -> Result<String, VerifyError> {
    if !status.success() {
        return Err(VerifyError::Unreadable {
            program: "pg_restore --list".into(),
            detail: first_error(stderr, status),
        });
    }
    if !listing.contains("; Archive created at") && !listing.contains(";     Dump Version:") {
        return Err(VerifyError::Unreadable {
            program: "pg_restore --list".into(),
            detail: "it printed no table of contents".into(),
        });
    }
    Ok(listing)
}

fn first_error(stderr: &str, status: std::process::ExitStatus) -> String {
    stderr
        .lines()
        .find(|l| l.contains("error"))
        .or_else(|| stderr.lines().last())
        .map(|l| l.trim().to_owned())
        .unwrap_or_else(|| format!("it exited with {status}"))
}

async fn read_all(mut r: tokio::process::ChildStdout) -> String {
    let mut buf = Vec::new();
    let _ = r.read_to_end(&mut buf).await;
    String::from_utf8_lossy(&buf).into_owned()
}

/// The parts of a policy that change what a dump holds or how big its
/// stored form is: backups are only compared by size under the same ones.
fn same_shape(a: Option<&Policy>, b: Option<&Policy>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            a.format == b.format && a.compression == b.compression && a.selection == b.selection
        }
        (None, None) => true,
        _ => false,
    }
}

/// Why a stored size is out of the ordinary: `stored` against the median
/// of `previous` (newest first; the newest [`MEDIAN_WINDOW`] are used,
/// at least [`MEDIAN_MIN`] needed), allowed within `1/ratio..ratio` times it.
pub fn size_reason(stored: u64, previous: &[u64], ratio: f64) -> Option<String> {
    if previous.len() < MEDIAN_MIN || ratio.partial_cmp(&1.0) != Some(std::cmp::Ordering::Greater) {
        return None;
    }
    let mut window: Vec<u64> = previous.iter().take(MEDIAN_WINDOW).copied().collect();
    window.sort_unstable();
    let n = window.len();
    let median = if n % 2 == 1 {
        window[n / 2] as f64
    } else {
        (window[n / 2 - 1] as f64 + window[n / 2] as f64) / 2.0
    };
    if median <= 0.0 {
        return None;
    }
    let factor = stored as f64 / median;
    if factor > ratio || factor < 1.0 / ratio {
        Some(format!(
            "stored size {} is {factor:.2}x the median ({}) of the previous {n} good backups with this policy, outside the expected {:.2}x..{:.2}x: check for lost or bulk-loaded data",
            model::format::human_bytes(stored),
            model::format::human_bytes(median.round() as u64),
            1.0 / ratio,
            ratio,
        ))
    } else {
        None
    }
}

/// Tables in the previous backup (`prev_id`) that are not in this one.
pub fn gone_reasons(prev_id: i64, previous: &[TableInfo], now: &[TableInfo]) -> Vec<String> {
    let have: std::collections::HashSet<(&str, &str)> = now
        .iter()
        .map(|t| (t.schema.as_str(), t.name.as_str()))
        .collect();
    previous
        .iter()
        .filter(|t| !have.contains(&(t.schema.as_str(), t.name.as_str())))
        .map(|t| {
            format!(
                "table {}.{} was in backup #{prev_id} and is not in this one (dropped or renamed since?)",
                crate::pg::args::quote_ident(&t.schema),
                crate::pg::args::quote_ident(&t.name)
            )
        })
        .collect()
}

/// Judges a readable backup against the good backups before it: the
/// reasons it is suspect (none: verified). Globals are not judged.
pub async fn judge(
    catalog: &Catalog,
    server_id: i64,
    target: &Target,
    backup_id: i64,
    manifest: &Manifest,
    ratio: f64,
) -> Result<Vec<String>, CatalogError> {
    if target.is_globals() {
        return Ok(Vec::new());
    }
    let past: Vec<(PastBackup, Option<Manifest>)> = catalog
        .good_backups_before(server_id, target, backup_id, 50)
        .await?
        .into_iter()
        .map(|p| {
            let m = p
                .manifest
                .as_deref()
                .and_then(|j| serde_json::from_str::<Manifest>(j).ok());
            (p, m)
        })
        .collect();
    let mut reasons = Vec::new();
    let stored: u64 = manifest.files.iter().map(|f| f.size).sum();
    let sizes: Vec<u64> = past
        .iter()
        .filter(|(_, m)| {
            m.as_ref()
                .is_some_and(|m| same_shape(m.policy.as_ref(), manifest.policy.as_ref()))
        })
        .map(|(p, _)| p.stored_bytes.max(0) as u64)
        .collect();
    reasons.extend(size_reason(stored, &sizes, ratio));
    // A table the previous backup held and this one does not; unless the
    // policy's selection changed in between (that explains it).
    if let Some((p, Some(m))) = past.first() {
        let selection = |m: &Manifest| m.policy.as_ref().map(|p| p.selection.clone());
        if selection(m) == selection(manifest) {
            reasons.extend(gone_reasons(p.id, &m.tables, &manifest.tables));
        }
    }
    Ok(reasons)
}

/// The status a readable backup ends with, given its suspect reasons.
pub fn status_for(reasons: &[String]) -> BackupStatus {
    if reasons.is_empty() {
        BackupStatus::Verified
    } else {
        BackupStatus::Suspect
    }
}

impl From<VerifyError> for PipelineError {
    fn from(e: VerifyError) -> Self {
        PipelineError::Verify(e)
    }
}

impl From<VerifyError> for crate::Error {
    fn from(e: VerifyError) -> Self {
        crate::Error::Pipeline(PipelineError::Verify(e))
    }
}

impl crate::Engine {
    /// The table of contents kept for a backup after its verification
    /// (`None`: a globals backup, a failed run, or one from before
    /// verification existed).
    pub async fn backup_toc(
        &self,
        id: i64,
    ) -> Result<Option<crate::catalog::StoredToc>, crate::Error> {
        self.inner.catalog.backup(id).await?;
        Ok(self.inner.catalog.backup_toc(id).await?)
    }

    /// Reads a stored backup back and checks it against the manifest in the
    /// catalog (sizes, sha256, full decompression, the stored manifest.json,
    /// `pg_restore --list`), without changing its record. Fails with the
    /// first mismatch.
    pub async fn check_artifact(&self, id: i64) -> Result<Readback, crate::Error> {
        let row = self.inner.catalog.backup(id).await?;
        let json = self
            .inner
            .catalog
            .manifest(id)
            .await?
            .ok_or(VerifyError::NoManifest)?;
        let manifest: Manifest = serde_json::from_str(&json).map_err(|e| {
            VerifyError::Local(format!("the catalog's manifest cannot be read: {e}"))
        })?;
        let ctx = &self.inner.ctx;
        let (dest, dir) = ctx
            .registry
            .source_of(&row)
            .await
            .map_err(VerifyError::Local)?;
        let dir = dir.as_str();
        let pg_restore = row
            .pg_dump_path
            .as_ref()
            .map(|p| Path::new(p).with_file_name("pg_restore"));
        let scratch = ctx
            .spool_dir
            .join(format!("check-{id}-{}", std::process::id()));
        let progress = Arc::new(Progress::default());
        let identity = self.stored_identity_for(manifest.recipients()).await?;
        let r = read_back(
            &dest,
            dir,
            &manifest,
            Some(&json),
            pg_restore.as_deref(),
            &scratch,
            &progress,
            identity.as_ref(),
            false,
        )
        .await;
        let _ = std::fs::remove_dir_all(&scratch);
        Ok(r?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(size: u64, sha: &str) -> ManifestFile {
        ManifestFile {
            path: "dump.zst".into(),
            size,
            sha256: sha.into(),
            raw_size: 10,
            index: None,
        }
    }

    #[test]
    fn checksum_comparison_catches_every_change() {
        let sha = hex::encode(Sha256::digest(b"the artifact"));
        let want = file(12, &sha);
        compare_file("a/dump.zst", &want, 12, &sha).unwrap();
        compare_file("a/dump.zst", &want, 12, &sha.to_uppercase()).unwrap();
        let flipped = hex::encode(Sha256::digest(b"the artifacT"));
        let e = compare_file("a/dump.zst", &want, 12, &flipped).unwrap_err();
        assert!(matches!(e, VerifyError::Checksum { .. }), "{e}");
        assert!(e.to_string().contains("a/dump.zst") && e.to_string().contains("Fix:"));
        let e = compare_file("a/dump.zst", &want, 11, &sha).unwrap_err();
        assert!(
            matches!(
                e,
                VerifyError::Size {
                    expected: 12,
                    stored: 11,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn size_against_the_trailing_median() {
        let r = DEFAULT_SUSPECT_SIZE_RATIO;
        assert_eq!(size_reason(1000, &[], r), None);
        assert_eq!(
            size_reason(10_000, &[100, 100], r),
            None,
            "fewer than 3: no judgement"
        );
        assert_eq!(size_reason(190, &[100, 100, 100], r), None);
        assert_eq!(size_reason(51, &[100, 100, 100], r), None);
        let big = size_reason(201, &[100, 90, 110], r).unwrap();
        assert!(
            big.contains("2.01x") && big.contains("0.50x..2.00x"),
            "{big}"
        );
        assert!(size_reason(49, &[100, 100, 100], r)
            .unwrap()
            .contains("0.49x"));
        // The newest five only: an old outlier falls out of the window.
        assert_eq!(
            size_reason(100, &[100, 100, 100, 100, 100, 1, 1, 1, 1], r),
            None
        );
        // Median, not mean: one spike does not move it.
        assert_eq!(size_reason(100, &[100, 100, 10_000, 100, 100], r), None);
        // Even count: the mean of the middle two.
        assert!(size_reason(500, &[100, 200, 300, 100], r).is_some());
        assert_eq!(size_reason(0, &[0, 0, 0], r), None, "empty history sizes");
    }

    fn table(schema: &str, name: &str) -> TableInfo {
        TableInfo {
            schema: schema.into(),
            name: name.into(),
            kind: "table".into(),
            bytes: 0,
            rows: 0,
            data_excluded: false,
            rows_estimated: false,
            rows_from: Default::default(),
        }
    }

    #[test]
    fn gone_tables_are_named() {
        let before = [table("public", "a"), table("Sales", "b c")];
        let now = [table("public", "a"), table("public", "new")];
        let r = gone_reasons(7, &before, &now);
        assert_eq!(r.len(), 1);
        assert!(
            r[0].contains("\"Sales\".\"b c\"") && r[0].contains("#7"),
            "{}",
            r[0]
        );
        assert!(gone_reasons(7, &now[..1], &before).is_empty());
    }

    #[test]
    fn shapes() {
        let a = Policy::default();
        let mut b = a.clone();
        b.schedule = "@hourly".into();
        assert!(
            same_shape(Some(&a), Some(&b)),
            "the schedule does not change sizes"
        );
        b.compression = crate::policy::Compression::Pgshelf { level: 19 };
        assert!(!same_shape(Some(&a), Some(&b)));
        assert!(!same_shape(Some(&a), None));
    }

    #[test]
    fn statuses() {
        assert_eq!(status_for(&[]), BackupStatus::Verified);
        assert_eq!(status_for(&["x".into()]), BackupStatus::Suspect);
    }

    #[test]
    fn tee_keeps_a_prefix_and_survives_a_closed_pipe() {
        use std::os::fd::FromRawFd;
        let mut fds = [0; 2];
        // SAFETY: pipe(2) fills two new descriptors, each owned at once.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        drop(unsafe { std::fs::File::from_raw_fd(fds[0]) });
        let w = unsafe { std::fs::File::from_raw_fd(fds[1]) };
        let mut t = Tee::new(Some(w), 4);
        t.write_all(b"abcdef").unwrap();
        assert!(t.pipe.is_none(), "a closed reader is let go");
        t.write_all(b"gh").unwrap();
        assert_eq!(t.kept, b"abcd");
    }

    #[test]
    fn decode_counts_and_rejects_corruption() {
        let data = vec![7u8; 100_000];
        let z = zstd::encode_all(&data[..], 3).unwrap();
        let (tx, rx) = mpsc::channel(64);
        for c in z.chunks(1000) {
            tx.try_send(c.to_vec()).unwrap();
        }
        drop(tx);
        let (n, t) = decode(rx, true, None, Tee::new(None, 10), false).unwrap();
        assert_eq!(n, 100_000);
        assert_eq!(t.kept, vec![7u8; 10]);
        let mut bad = z.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0xff;
        let (tx, rx) = mpsc::channel(64);
        tx.try_send(bad).unwrap();
        drop(tx);
        assert!(decode(rx, true, None, Tee::new(None, 0), false).is_err());
    }
}
