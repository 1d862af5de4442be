//! A local, seekable copy of what a restore needs.
//!
//! Everything lands in a private work directory under the spool
//! ([`WorkDir`]: `restore-<backup>-<random>/`, 0700, removed when dropped).
//! Files stream from storage in chunks; age encryption (with the identity
//! the user gave for this restore) and then pgshelf's zstd compression are
//! undone on a blocking thread as they arrive; size and sha256 are checked against
//! the manifest. Memory stays bounded whatever the artifact's size; only a
//! directory archive's `toc.dat` (the table of contents, not data) is read
//! into memory to parse it.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::{RestoreError, RestoreManifest};
use crate::crypt::{self, Identity};
use crate::pipeline::ManifestFile;
use crate::seekable::{self, BlockIndex};
use crate::storage::Destination;
use crate::toc::{self, Archive, TocError};

/// Bytes per read from storage.
const CHUNK: usize = 1 << 20;

/// A restore's private directory under the spool; removed when dropped.
#[derive(Debug)]
pub struct WorkDir {
    dir: tempfile::TempDir,
}

/// How a restore's work directory under the spool begins.
pub const WORKDIR_PREFIX: &str = "restore-";

impl WorkDir {
    /// Creates `restore-<pid>-<backup>-<random>/` (0700) under `spool`; the
    /// pid lets the next start remove it when this process died with it
    /// ([`crate::pg::tls::sweep_dead`]).
    pub fn new(spool: &Path, backup_id: i64) -> Result<WorkDir, RestoreError> {
        use std::os::unix::fs::PermissionsExt;
        let local = |e: std::io::Error| RestoreError::Local {
            path: spool.display().to_string(),
            detail: e.to_string(),
        };
        std::fs::create_dir_all(spool).map_err(local)?;
        let dir = tempfile::Builder::new()
            .prefix(&format!(
                "{WORKDIR_PREFIX}{}-{backup_id}-",
                std::process::id()
            ))
            .tempdir_in(spool)
            .map_err(local)?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .map_err(local)?;
        Ok(WorkDir { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Where an artifact is: its destination, its directory there (ending in
/// `/`) and its manifest.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub destination: &'a Destination,
    pub dir: &'a str,
    pub manifest: &'a RestoreManifest,
    /// The identity that decrypts an encrypted artifact (checked against
    /// the manifest's recipients by [`check_identity`] before any work).
    pub identity: Option<&'a Identity>,
}

/// Fails before any work when an encrypted artifact has no identity, or one
/// that matches none of its recipients (the manifest names them).
pub fn check_identity(
    m: &RestoreManifest,
    identity: Option<&Identity>,
) -> Result<(), crypt::CryptError> {
    let recipients = m.recipients();
    if let Some(id) = crypt::require(identity, recipients)? {
        if !recipients.is_empty() && !id.recipients().iter().any(|r| recipients.contains(r)) {
            return Err(crypt::CryptError::WrongIdentity {
                recipients: recipients.to_vec(),
            });
        }
    }
    Ok(())
}

/// What a fetch produced.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    /// What to hand pg_restore (or psql): a file or a directory.
    pub archive: PathBuf,
    /// Storage paths read (relative to the artifact directory), in order;
    /// a range read says which bytes (`dump.zst [0..4096)`).
    pub read: Vec<String>,
    /// Bytes read from storage.
    pub bytes_read: u64,
    /// In tolerant mode: what went wrong (damaged data, a checksum that
    /// does not match); what could be read is kept.
    pub errors: Vec<String>,
}

/// Whether pgshelf compressed the directory archive's files (its
/// `toc.dat` is stored as `toc.dat.zst`), rather than pg_dump or nothing.
fn directory_compressed_by_pgshelf(m: &RestoreManifest) -> bool {
    m.files
        .iter()
        .any(|f| plain_path(&f.path) == "dump/toc.dat.zst")
}

/// A stored path without its `.age` suffix (the name before encryption).
fn plain_path(stored: &str) -> &str {
    stored.strip_suffix(crypt::SUFFIX).unwrap_or(stored)
}

/// The local name of a stored directory-archive file: `.age` and
/// pgshelf's `.zst` taken off.
fn local_name(stored: &str, pgshelf_zstd: bool) -> String {
    let stored = plain_path(stored);
    let base = stored.rsplit('/').next().unwrap_or(stored);
    match (pgshelf_zstd, base.strip_suffix(".zst")) {
        (true, Some(b)) => b.to_owned(),
        _ => base.to_owned(),
    }
}

/// Fetches the whole artifact: the custom archive as one file (`dump.custom`),
/// every file of a directory archive into `archive/`, or the globals SQL
/// (`globals.sql`). `tolerant`: damaged data is reported in
/// [`Fetched::errors`] with what could be read kept, instead of failing.
pub async fn fetch_all(
    src: Source<'_>,
    work: &Path,
    tolerant: bool,
) -> Result<Fetched, RestoreError> {
    let m = src.manifest;
    check_identity(m, src.identity)?;
    let mut out = Fetched::default();
    match m.format.as_str() {
        "directory" => {
            let dir = work.join("archive");
            mkdir(&dir)?;
            let z = directory_compressed_by_pgshelf(m);
            for f in &m.files {
                let local = dir.join(local_name(&f.path, z));
                get(
                    src,
                    f,
                    &local,
                    z && plain_path(&f.path).ends_with(".zst"),
                    tolerant,
                    &mut out,
                )
                .await?;
            }
            out.archive = dir;
        }
        _ => {
            let f = single_file(m)?;
            let plain = plain_path(&f.path);
            let (name, zstd) = if m.format == "sql" {
                ("globals.sql", plain.ends_with(".zst"))
            } else {
                ("dump.custom", plain == "dump.zst")
            };
            let local = work.join(name);
            get(src, f, &local, zstd, tolerant, &mut out).await?;
            if let Some((_, index)) = seekable_custom(m).filter(|_| out.errors.is_empty()) {
                // The whole raw archive: every block is where the index says.
                let at: Vec<(i32, u64)> =
                    index.blocks.iter().map(|b| (b[0] as i32, b[1])).collect();
                set_offsets(&local, &at)?;
            }
            out.archive = local;
        }
    }
    Ok(out)
}

/// The one file of a custom or globals artifact.
fn single_file(m: &RestoreManifest) -> Result<&ManifestFile, RestoreError> {
    m.files
        .iter()
        .find(|f| !f.path.contains('/'))
        .ok_or_else(|| RestoreError::Damaged {
            path: "manifest.json".into(),
            detail: format!("it lists no {} archive file", m.format),
        })
}

/// What a selective restore starts from: the archive's table of contents,
/// and what was fetched for it. Custom format: the whole archive (the TOC
/// is read from the local file's head). Directory format: `toc.dat` only;
/// then [`fetch_data_files`] fetches the chosen tables' files.
pub async fn fetch_toc(src: Source<'_>, work: &Path) -> Result<(Archive, Fetched), RestoreError> {
    let m = src.manifest;
    check_identity(m, src.identity)?;
    if m.format != "directory" {
        if let Some((file, index)) = seekable_custom(m) {
            // The header and TOC only; the chosen blocks follow
            // (fetch_table_data).
            let local = work.join("dump.custom");
            let mut out = Fetched {
                archive: local.clone(),
                ..Fetched::default()
            };
            get_span(src, file, &index.head(), &local, &mut out).await?;
            let archive = read_toc_file(&local)?;
            return Ok((archive, out));
        }
        let fetched = fetch_all(src, work, false).await?;
        let archive = read_toc_file(&fetched.archive)?;
        return Ok((archive, fetched));
    }
    let dir = work.join("archive");
    mkdir(&dir)?;
    let z = directory_compressed_by_pgshelf(m);
    let toc_file = m
        .files
        .iter()
        .find(|f| matches!(plain_path(&f.path), "dump/toc.dat" | "dump/toc.dat.zst"))
        .ok_or_else(|| RestoreError::Damaged {
            path: "manifest.json".into(),
            detail: "it lists no dump/toc.dat".into(),
        })?;
    let mut out = Fetched {
        archive: dir.clone(),
        ..Fetched::default()
    };
    let local = dir.join("toc.dat");
    get(src, toc_file, &local, z, false, &mut out).await?;
    let bytes = std::fs::read(&local).map_err(|e| RestoreError::Local {
        path: local.display().to_string(),
        detail: e.to_string(),
    })?;
    Ok((toc::read_archive(&bytes)?, out))
}

/// Directory format: fetches these data files (names as the TOC has them,
/// e.g. `3345.dat`) next to `toc.dat`.
pub async fn fetch_data_files(
    src: Source<'_>,
    names: &[String],
    fetched: &mut Fetched,
) -> Result<(), RestoreError> {
    let m = src.manifest;
    let z = directory_compressed_by_pgshelf(m);
    for name in names {
        let wanted = format!("dump/{name}");
        let f = m
            .files
            .iter()
            .find(|f| {
                let p = plain_path(&f.path);
                p == wanted
                    || [".zst", ".gz", ".lz4"]
                        .iter()
                        .any(|s| p == format!("{wanted}{s}"))
            })
            .ok_or_else(|| RestoreError::Damaged {
                path: wanted.clone(),
                detail:
                    "the table of contents names this data file, but the manifest does not list it"
                        .into(),
            })?;
        let local = fetched.archive.join(local_name(&f.path, z));
        get(
            src,
            f,
            &local,
            z && plain_path(&f.path).ends_with(".zst"),
            false,
            fetched,
        )
        .await?;
    }
    Ok(())
}

/// The one file of a custom archive pgshelf compressed seekably (not
/// encrypted), with its block index.
fn seekable_custom(m: &RestoreManifest) -> Option<(&ManifestFile, &BlockIndex)> {
    if m.format != "custom" {
        return None;
    }
    let f = single_file(m).ok()?;
    let index = f.index.as_ref()?;
    (f.path == "dump.zst" && index.check().is_ok()).then_some((f, index))
}

/// Whatever data the chosen entries need, beside the TOC [`fetch_toc`]
/// fetched: a directory archive's data files; a seekable custom archive's
/// data blocks, fetched by range and appended to the local archive, whose
/// TOC then points at them. (A custom archive without an index was fetched
/// whole already.)
pub async fn fetch_table_data(
    src: Source<'_>,
    selection: &toc::Selection,
    fetched: &mut Fetched,
) -> Result<(), RestoreError> {
    let m = src.manifest;
    if m.format == "directory" {
        return fetch_data_files(src, &selection.data_files, fetched).await;
    }
    let Some((file, index)) = seekable_custom(m) else {
        return Ok(());
    };
    let mut wanted: Vec<(u64, i32)> = selection
        .entries
        .iter()
        .filter_map(|id| index.block_range(*id).map(|r| (r.start, *id)))
        .collect();
    wanted.sort_unstable();
    let local = fetched.archive.clone();
    // The local file holds the header and TOC (fetch_toc), then each block
    // as it is appended.
    let mut offset = index.head;
    let mut at = Vec::new();
    for (_, id) in wanted {
        let span = index.block(id).expect("listed in the index");
        get_span(src, file, &span, &local, fetched).await?;
        at.push((id, offset));
        offset += span.take;
    }
    set_offsets(&local, &at)
}

/// Marks the data of entries `(dump ID, offset)` as at those offsets of the
/// local custom archive `path` (its TOC rewritten in place), so pg_restore
/// seeks to them, also with `-j N`.
fn set_offsets(path: &Path, at: &[(i32, u64)]) -> Result<(), RestoreError> {
    use std::io::{Seek, SeekFrom};
    let local = |e: std::io::Error| RestoreError::Local {
        path: path.display().to_string(),
        detail: e.to_string(),
    };
    let archive = read_toc_file(path)?;
    let mut head = vec![0u8; archive.toc_len as usize];
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(local)?;
    f.read_exact(&mut head).map_err(local)?;
    for (id, offset) in at {
        let Some(pos) = archive.entry(*id).and_then(|e| e.offset_at) else {
            continue;
        };
        if !seekable::patch_offset(&mut head, pos as usize, archive.off_size as usize, *offset) {
            return Err(RestoreError::Damaged {
                path: path.display().to_string(),
                detail: format!("the TOC entry {id} lies outside its header"),
            });
        }
    }
    f.seek(SeekFrom::Start(0)).map_err(local)?;
    f.write_all(&head).map_err(local)?;
    f.sync_data().map_err(local)?;
    Ok(())
}

/// Fetches the stored bytes of `span` of `file` by range, decompresses
/// them and appends the raw bytes the span keeps to `local`. Each zstd
/// frame carries its own checksum, which the decoder checks.
async fn get_span(
    src: Source<'_>,
    file: &ManifestFile,
    span: &seekable::Span,
    local: &Path,
    out: &mut Fetched,
) -> Result<(), RestoreError> {
    let path = format!("{}{}", src.dir, file.path);
    let range = span.stored.clone();
    out.read
        .push(format!("{} [{}..{})", file.path, range.start, range.end));
    let dest = src.destination;
    let fetch_err = |detail: String| RestoreError::Fetch {
        path: path.clone(),
        detail,
    };
    if range.end > file.size {
        return Err(RestoreError::Damaged {
            path,
            detail: format!(
                "its block index reaches byte {}, but {} bytes are recorded",
                range.end, file.size
            ),
        });
    }
    let mut stream = open_stream(dest, &path, range.clone()).await?;
    let (tx, rx) = mpsc::channel::<bytes::Bytes>(4);
    let target = local.to_owned();
    let (skip, take) = (span.skip, span.take);
    let writer = tokio::task::spawn_blocking(move || append_span(rx, &target, skip, take));
    let (size, read_err) = pump(&mut stream, tx, None).await;
    out.bytes_read += size;
    let written = writer
        .await
        .map_err(|e| fetch_err(format!("the local writer failed: {e}")))?;
    if let Some(e) = read_err {
        return Err(fetch_err(e));
    }
    match written {
        Ok(n) if n == take => Ok(()),
        Ok(n) => Err(RestoreError::Damaged {
            path,
            detail: format!(
                "bytes {}..{} decompress to {n} bytes of the archive, not the {take} its block index records",
                range.start, range.end
            ),
        }),
        Err(WriteFailure::Local(e)) => Err(RestoreError::Local {
            path: local.display().to_string(),
            detail: e.to_string(),
        }),
        Err(WriteFailure::Decode(e)) => {
            Err(RestoreError::Damaged {
                path,
                detail: format!("zstd cannot decompress bytes {}..{}: {e}", range.start, range.end),
            })
        }
        Err(WriteFailure::Crypt(e)) => Err(e.into()),
    }
}

/// Decompresses the frames arriving on `rx`, drops the first `skip` raw
/// bytes and appends the next `take` to `path`; returns how many were
/// appended.
fn append_span(
    rx: mpsc::Receiver<bytes::Bytes>,
    path: &Path,
    skip: u64,
    take: u64,
) -> Result<u64, WriteFailure> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(WriteFailure::Local)?;
    let mut out = std::io::BufWriter::with_capacity(CHUNK, file);
    let channel = ChannelReader::new(rx);
    let dec = zstd::stream::read::Decoder::new(channel).map_err(WriteFailure::Decode)?;
    let mut dec = dec.take(skip + take);
    std::io::copy(&mut (&mut dec).take(skip), &mut std::io::sink())
        .map_err(WriteFailure::Decode)?;
    let n = std::io::copy(&mut dec, &mut out).map_err(WriteFailure::Decode)?;
    out.flush().map_err(WriteFailure::Local)?;
    Ok(n)
}

/// Reads the header and TOC at the start of a local custom archive, reading
/// only as much of the file as they take.
pub fn read_toc_file(path: &Path) -> Result<Archive, RestoreError> {
    let local = |e: std::io::Error| RestoreError::Local {
        path: path.display().to_string(),
        detail: e.to_string(),
    };
    let mut f = std::fs::File::open(path).map_err(local)?;
    let mut buf = Vec::new();
    let mut want = CHUNK;
    loop {
        let have = buf.len();
        (&mut f)
            .take((want - have) as u64)
            .read_to_end(&mut buf)
            .map_err(local)?;
        let at_end = buf.len() < want;
        match toc::read_archive(&buf) {
            Err(TocError::Incomplete { needed }) if !at_end => {
                want = needed.max(want * 2);
            }
            other => return Ok(other?),
        }
    }
}

fn mkdir(dir: &Path) -> Result<(), RestoreError> {
    std::fs::create_dir_all(dir).map_err(|e| RestoreError::Local {
        path: dir.display().to_string(),
        detail: e.to_string(),
    })
}

/// Streams one stored file to `local`, decompressing pgshelf's zstd when
/// `zstd`, and checks its size and sha256 against the manifest.
async fn get(
    src: Source<'_>,
    file: &ManifestFile,
    local: &Path,
    zstd: bool,
    tolerant: bool,
    out: &mut Fetched,
) -> Result<(), RestoreError> {
    out.read.push(file.path.clone());
    match download(src, file, local, zstd).await {
        Ok(()) => {
            out.bytes_read += file.size;
            Ok(())
        }
        Err(e @ (RestoreError::Damaged { .. } | RestoreError::Fetch { .. })) if tolerant => {
            out.errors.push(e.to_string());
            Ok(())
        }
        Err(e) => Err(e),
    }
}

async fn download(
    src: Source<'_>,
    file: &ManifestFile,
    local: &Path,
    zstd: bool,
) -> Result<(), RestoreError> {
    let path = format!("{}{}", src.dir, file.path);
    let dest = src.destination;
    let fetch_err = |detail: String| RestoreError::Fetch {
        path: path.clone(),
        detail,
    };
    let mut stream = open_stream(dest, &path, ..).await?;

    let (tx, rx) = mpsc::channel::<bytes::Bytes>(4);
    let target = local.to_owned();
    let age = match (src.identity, file.path.ends_with(crypt::SUFFIX)) {
        (Some(id), true) => Some(Age {
            identity: id.clone(),
            recipients: src.manifest.recipients().to_vec(),
            path: path.clone(),
        }),
        (None, true) => {
            return Err(crypt::CryptError::IdentityNeeded {
                recipients: src.manifest.recipients().to_vec(),
            }
            .into())
        }
        _ => None,
    };
    let writer = tokio::task::spawn_blocking(move || write_local(rx, &target, age, zstd));
    let mut hasher = Sha256::new();
    let (size, read_err) = pump(&mut stream, tx, Some(&mut hasher)).await;
    let written = writer
        .await
        .map_err(|e| fetch_err(format!("the local writer failed: {e}")))?;
    if let Some(e) = read_err {
        return Err(fetch_err(e));
    }
    match written {
        Ok(()) => {}
        Err(WriteFailure::Local(e)) => {
            return Err(RestoreError::Local {
                path: local.display().to_string(),
                detail: e.to_string(),
            })
        }
        Err(WriteFailure::Crypt(e)) => return Err(e.into()),
        Err(WriteFailure::Decode(e)) if file.path.ends_with(crypt::SUFFIX) => {
            return Err(RestoreError::Damaged {
                path,
                detail: format!("age or zstd cannot read it: {e}"),
            })
        }
        Err(WriteFailure::Decode(e)) => {
            return Err(RestoreError::Damaged {
                path,
                detail: format!("zstd cannot decompress it: {e}"),
            })
        }
    }
    if size != file.size {
        return Err(RestoreError::Damaged {
            path,
            detail: format!("{size} bytes stored, {} recorded", file.size),
        });
    }
    let sum = hex::encode(hasher.finalize());
    if sum != file.sha256 {
        return Err(RestoreError::Damaged {
            path,
            detail: format!("sha256 {sum}, {} recorded", file.sha256),
        });
    }
    Ok(())
}

/// Opens `path` on `dest` as a stream of [`CHUNK`]-sized pieces of `range`.
async fn open_stream(
    dest: &Destination,
    path: &str,
    range: impl Into<opendal::BytesRange>,
) -> Result<opendal::FuturesBytesStream, RestoreError> {
    let fetch_err = |e: opendal::Error| RestoreError::Fetch {
        path: path.to_owned(),
        detail: dest.error(e).to_string(),
    };
    let op = dest.operator()?;
    let reader = op.reader_with(path).chunk(CHUNK).await.map_err(fetch_err)?;
    reader.into_bytes_stream(range).await.map_err(fetch_err)
}

/// Moves the chunks of `stream` to `tx` (hashing them into `hasher`)
/// until the stream ends, fails, or the receiving writer stops (its error
/// is then reported by whoever awaits it). Returns the bytes read and the
/// read error, if any.
async fn pump(
    stream: &mut (impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Unpin),
    tx: mpsc::Sender<bytes::Bytes>,
    mut hasher: Option<&mut Sha256>,
) -> (u64, Option<String>) {
    let mut size: u64 = 0;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(b) => {
                if let Some(h) = hasher.as_deref_mut() {
                    h.update(&b);
                }
                size += b.len() as u64;
                if tx.send(b).await.is_err() {
                    break;
                }
            }
            Err(e) => return (size, Some(e.to_string())),
        }
    }
    (size, None)
}

enum WriteFailure {
    Local(std::io::Error),
    Decode(std::io::Error),
    Crypt(crypt::CryptError),
}

/// What decrypts one stored `.age` file.
struct Age {
    identity: Identity,
    recipients: Vec<String>,
    path: String,
}

/// Writes the chunks from `rx` to `path`, through the age decryptor when
/// `age` is given, then the zstd decoder when `zstd`.
fn write_local(
    rx: mpsc::Receiver<bytes::Bytes>,
    path: &Path,
    age: Option<Age>,
    zstd: bool,
) -> Result<(), WriteFailure> {
    let file = std::fs::File::create(path).map_err(WriteFailure::Local)?;
    let mut out = std::io::BufWriter::with_capacity(CHUNK, file);
    let channel = ChannelReader::new(rx);
    let input: Box<dyn Read> = match age {
        Some(a) => Box::new(
            crypt::Decryptor::new(channel, &a.identity, &a.recipients, &a.path)
                .map_err(WriteFailure::Crypt)?,
        ),
        None => Box::new(channel),
    };
    if zstd {
        let mut dec = zstd::stream::read::Decoder::new(input).map_err(WriteFailure::Decode)?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match dec.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Keep what was decoded (a tolerant restore uses it).
                    let _ = out.flush();
                    return Err(WriteFailure::Decode(e));
                }
            };
            out.write_all(&buf[..n]).map_err(WriteFailure::Local)?;
        }
    } else {
        let mut input = input;
        std::io::copy(&mut input, &mut out).map_err(WriteFailure::Local)?;
    }
    out.flush().map_err(WriteFailure::Local)?;
    Ok(())
}

/// A blocking `Read` over chunks arriving on a channel.
pub(crate) struct ChannelReader {
    rx: mpsc::Receiver<bytes::Bytes>,
    current: bytes::Bytes,
}

impl ChannelReader {
    pub(crate) fn new(rx: mpsc::Receiver<bytes::Bytes>) -> ChannelReader {
        ChannelReader {
            rx,
            current: bytes::Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.current = b,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(files: Vec<ManifestFile>, format: &str) -> RestoreManifest {
        RestoreManifest {
            backup_id: 7,
            kind: "database".into(),
            server: "s".into(),
            database: "d".into(),
            format: format.into(),
            compression: String::new(),
            encryption: None,
            server_version: "15.1".into(),
            pg_dump_version: "15.1".into(),
            files,
            tables: Vec::new(),
        }
    }

    fn stored(dir: &Path, path: &str, bytes: &[u8]) -> ManifestFile {
        let full = dir.join("a/").join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, bytes).unwrap();
        ManifestFile {
            path: path.into(),
            size: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(bytes)),
            raw_size: 0,
            index: None,
        }
    }

    #[tokio::test]
    async fn streams_decompresses_and_checks() {
        let root = tempfile::tempdir().unwrap();
        let dest = Destination::local(root.path());
        let data: Vec<u8> = (0..3_000_000u32)
            .flat_map(|i| (i % 253).to_le_bytes())
            .collect();
        let z = zstd::encode_all(&data[..], 3).unwrap();
        let m = manifest(vec![stored(root.path(), "dump.zst", &z)], "custom");
        let spool = root.path().join("spool");
        let work = WorkDir::new(&spool, 7).unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(work.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
            assert!(work
                .path()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("restore-{}-7-", std::process::id())));
        }
        let src = Source {
            destination: &dest,
            dir: "a/",
            manifest: &m,
            identity: None,
        };
        let f = fetch_all(src, work.path(), false).await.unwrap();
        assert_eq!(std::fs::read(&f.archive).unwrap(), data);
        assert_eq!(f.read, ["dump.zst"]);
        assert!(f.errors.is_empty());

        // One flipped byte: refused, or reported when tolerant.
        let mut bad = z.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0x40;
        std::fs::write(root.path().join("a/dump.zst"), &bad).unwrap();
        let err = fetch_all(src, work.path(), false).await.unwrap_err();
        assert!(matches!(err, RestoreError::Damaged { .. }), "{err}");
        assert!(err.to_string().contains("Fix:"));
        let f = fetch_all(src, work.path(), true).await.unwrap();
        assert_eq!(f.errors.len(), 1, "{:?}", f.errors);

        // Truncated: a short file, decoded as far as it goes.
        std::fs::write(root.path().join("a/dump.zst"), &z[..z.len() / 2]).unwrap();
        let f = fetch_all(src, work.path(), true).await.unwrap();
        assert_eq!(f.errors.len(), 1, "{:?}", f.errors);
        let path = work.path().to_owned();
        drop(work);
        assert!(!path.exists(), "work directory removed");
    }

    #[test]
    fn local_names() {
        assert_eq!(local_name("dump/3001.dat.zst", true), "3001.dat");
        assert_eq!(local_name("dump/3001.dat.zst", false), "3001.dat.zst");
        assert_eq!(local_name("dump/toc.dat", false), "toc.dat");
        assert_eq!(local_name("dump/3001.dat.gz", false), "3001.dat.gz");
    }
}
