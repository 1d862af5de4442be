//! Exact row counts from the data of a dump as it streams past.
//!
//! When pg_dump does not compress (`--compress=0`, pgshelf compresses
//! itself), every table's data is COPY text: one line per row (a newline
//! inside a value is written as `\n`), ended by a `\.` line. Counting those
//! lines gives the rows of exactly the snapshot pg_dump dumped, at no cost
//! beyond looking at bytes that pass anyway.

use super::read::{decode_int, read_archive};
use super::{Archive, ArchiveFormat, TableRef, TocError};

/// Counts the COPY rows of one table's data (a directory archive's data
/// file, or the chunks of a custom archive's data block), fed in pieces of
/// any size. Lines after the `\.` end marker are not rows.
#[derive(Debug, Clone, Default)]
pub struct LineCounter {
    rows: u64,
    /// Bytes of the current line seen so far (capped at 3: only "\\." matters).
    line_len: u8,
    /// Its first two bytes.
    start: [u8; 2],
    ended: bool,
}

impl LineCounter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next bytes of the data.
    pub fn feed(&mut self, mut chunk: &[u8]) {
        while !self.ended && !chunk.is_empty() {
            match memchr::memchr(b'\n', chunk) {
                None => {
                    self.note(chunk);
                    return;
                }
                Some(i) => {
                    self.note(&chunk[..i]);
                    if self.line_len == 2 && self.start == *b"\\." {
                        self.ended = true;
                    } else {
                        self.rows += 1;
                    }
                    self.line_len = 0;
                    chunk = &chunk[i + 1..];
                }
            }
        }
    }

    fn note(&mut self, part: &[u8]) {
        for b in part
            .iter()
            .take(3usize.saturating_sub(self.line_len as usize))
        {
            if (self.line_len as usize) < 2 {
                self.start[self.line_len as usize] = *b;
            }
            self.line_len += 1;
        }
    }

    /// Complete rows so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Whether the `\.` end marker has been seen (the data is whole).
    pub fn ended(&self) -> bool {
        self.ended
    }
}

/// Row counts of a custom archive, from [`RowCounter::finish`].
#[derive(Debug, Clone, Default)]
pub struct RowCounts {
    /// Every TABLE DATA entry with its rows, in archive order. A
    /// partitioned parent has no data of its own: sum its partitions.
    pub by_table: Vec<(TableRef, u64)>,
    /// The archive's header and TOC, read on the way.
    pub archive: Option<Archive>,
}

/// Where the counter is in a custom archive's data blocks
/// (`pg_backup_custom.c`: `_StartData`, `_CustomWriteFunc`, `_EndData`,
/// `_StartLOs` ... `_EndLOs`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Buffering the header and TOC.
    Head,
    /// Before a block: its type byte (1 data, 3 large objects), or the end.
    BlockType,
    /// The block's dump ID.
    BlockId { blobs: bool },
    /// The length of the next chunk; zero ends the block (or the large object).
    ChunkLen { blob: bool },
    /// Inside a chunk.
    Chunk { left: u64, blob: bool },
    /// The next large object's OID; zero ends the block.
    BlobOid,
}

/// Counts the rows of every table in a custom archive (`--compress=0`) fed
/// in pieces of any size, with bounded memory: it buffers the header and
/// TOC (and at most about half as much again) but never a data block.
#[derive(Debug)]
pub struct RowCounter {
    head: Vec<u8>,
    /// Parse the head again once it holds this many bytes.
    next_try: usize,
    archive: Option<Archive>,
    state: State,
    /// A WriteInt value split across pieces.
    int_buf: Vec<u8>,
    int_len: usize,
    /// Bytes consumed so far, for messages.
    offset: u64,
    /// Per TOC entry (by index): its row count once its block ended.
    rows: Vec<Option<u64>>,
    /// The entry whose data block is being read, and whether it is counted.
    current: Option<(usize, bool)>,
    line: LineCounter,
    /// Where data blocks began since [`RowCounter::take_starts`] last ran
    /// (raw offsets), for a compressor that ends its frames there.
    starts: Vec<u64>,
    /// Where the block being read began.
    block_at: u64,
    /// `[dump ID, raw start]` of every data block so far.
    blocks: Vec<[u64; 2]>,
}

impl Default for RowCounter {
    fn default() -> Self {
        Self::new()
    }
}

impl RowCounter {
    pub fn new() -> Self {
        RowCounter {
            head: Vec::new(),
            next_try: 4096,
            archive: None,
            state: State::Head,
            int_buf: Vec::new(),
            int_len: 5,
            offset: 0,
            rows: Vec::new(),
            current: None,
            line: LineCounter::new(),
            starts: Vec::new(),
            block_at: 0,
            blocks: Vec::new(),
        }
    }

    /// Raw offsets where data blocks began since the last call (the first is
    /// where the header and TOC end).
    pub fn take_starts(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.starts)
    }

    /// `[dump ID, raw start]` of every data block seen, in archive order.
    pub fn blocks(&self) -> &[[u64; 2]] {
        &self.blocks
    }

    /// The header and TOC, once they have streamed past.
    pub fn archive(&self) -> Option<&Archive> {
        self.archive.as_ref()
    }

    /// Takes the next bytes of the archive.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<(), TocError> {
        if self.state == State::Head {
            let take = chunk
                .len()
                .min(self.next_try.saturating_sub(self.head.len()));
            self.head.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if self.head.len() < self.next_try {
                return Ok(());
            }
            let Some(rest) = self.try_head()? else {
                // Still inside the TOC: the next call buffers more.
                return self.feed(chunk);
            };
            self.data(&rest)?;
        }
        self.data(chunk)
    }

    /// Parses the buffered head; on success returns the bytes after the TOC.
    fn try_head(&mut self) -> Result<Option<Vec<u8>>, TocError> {
        match read_archive(&self.head) {
            Ok(archive) => {
                if archive.format != ArchiveFormat::Custom {
                    return Err(TocError::NotCountable(
                        "this is a directory archive's toc.dat, which holds no data. Fix: count each data file with LineCounter".into(),
                    ));
                }
                if archive.compression != "none" {
                    return Err(TocError::NotCountable(format!(
                        "pg_dump compressed the data ({}), so its rows cannot be read as they pass. Fix: let pgshelf compress (pg_dump --compress=0), or count the rows with SQL",
                        archive.compression
                    )));
                }
                let toc_len = archive.toc_len as usize;
                let rest = self.head[toc_len..].to_vec();
                self.offset = toc_len as u64;
                self.int_len = 1 + archive.int_size as usize;
                self.rows = vec![None; archive.entries.len()];
                self.archive = Some(archive);
                self.head = Vec::new();
                self.state = State::BlockType;
                Ok(Some(rest))
            }
            Err(TocError::Incomplete { needed }) => {
                let len = self.head.len();
                self.next_try = needed.max(len + len / 2);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Reads a WriteInt value that may be split across pieces.
    fn int(&mut self, chunk: &mut &[u8]) -> Result<Option<i64>, TocError> {
        let take = (self.int_len - self.int_buf.len()).min(chunk.len());
        self.int_buf.extend_from_slice(&chunk[..take]);
        *chunk = &chunk[take..];
        self.offset += take as u64;
        if self.int_buf.len() < self.int_len {
            return Ok(None);
        }
        let v = decode_int(&self.int_buf)?;
        self.int_buf.clear();
        Ok(Some(v))
    }

    fn corrupt(&self, what: String) -> TocError {
        TocError::Corrupt(format!("{what} at byte {}", self.offset))
    }

    fn data(&mut self, mut chunk: &[u8]) -> Result<(), TocError> {
        while !chunk.is_empty() {
            match self.state {
                State::Head => unreachable!("data follows the head"),
                State::BlockType => {
                    self.block_at = self.offset;
                    self.starts.push(self.offset);
                    let t = chunk[0];
                    chunk = &chunk[1..];
                    self.offset += 1;
                    self.state = match t {
                        1 => State::BlockId { blobs: false },
                        3 => State::BlockId { blobs: true },
                        t => return Err(self.corrupt(format!("unknown data block type {t}"))),
                    };
                }
                State::BlockId { blobs } => {
                    let Some(id) = self.int(&mut chunk)? else {
                        continue;
                    };
                    let archive = self.archive.as_ref().expect("head read");
                    let Some(i) = archive.entries.iter().position(|e| e.dump_id as i64 == id)
                    else {
                        return Err(self
                            .corrupt(format!("a data block for entry {id}, which the TOC lacks")));
                    };
                    if self.rows[i].is_some() {
                        return Err(self.corrupt(format!("a second data block for entry {id}")));
                    }
                    let e = &archive.entries[i];
                    self.blocks.push([id as u64, self.block_at]);
                    if blobs {
                        self.current = Some((i, false));
                        self.state = State::BlobOid;
                    } else {
                        let counted = e.desc == "TABLE DATA";
                        if counted && !e.is_copy_data() {
                            return Err(TocError::NotCountable(format!(
                                "the data of {} is not COPY text (dumped with --inserts?). Fix: dump without --inserts, or count the rows with SQL",
                                e.table_ref()
                            )));
                        }
                        self.current = Some((i, counted));
                        self.line = LineCounter::new();
                        self.state = State::ChunkLen { blob: false };
                    }
                }
                State::ChunkLen { blob } => {
                    let Some(n) = self.int(&mut chunk)? else {
                        continue;
                    };
                    if n < 0 {
                        return Err(self.corrupt(format!("a data chunk of {n} bytes")));
                    }
                    self.state = if n > 0 {
                        State::Chunk {
                            left: n as u64,
                            blob,
                        }
                    } else if blob {
                        State::BlobOid
                    } else {
                        let (i, _) = self.current.take().expect("inside a block");
                        self.rows[i] = Some(self.line.rows());
                        State::BlockType
                    };
                }
                State::Chunk { left, blob } => {
                    let take = (left.min(chunk.len() as u64)) as usize;
                    if let Some((_, true)) = self.current {
                        self.line.feed(&chunk[..take]);
                    }
                    chunk = &chunk[take..];
                    self.offset += take as u64;
                    let left = left - take as u64;
                    self.state = if left == 0 {
                        State::ChunkLen { blob }
                    } else {
                        State::Chunk { left, blob }
                    };
                }
                State::BlobOid => {
                    let Some(oid) = self.int(&mut chunk)? else {
                        continue;
                    };
                    self.state = if oid == 0 {
                        let (i, _) = self.current.take().expect("inside a block");
                        self.rows[i] = Some(0);
                        State::BlockType
                    } else {
                        State::ChunkLen { blob: true }
                    };
                }
            }
        }
        Ok(())
    }

    /// Ends the stream: the rows of every table, or why the archive is not whole.
    pub fn finish(mut self) -> Result<RowCounts, TocError> {
        if self.state == State::Head {
            if self.head.is_empty() {
                return Err(TocError::NotAnArchive(
                    "it is empty. Fix: give the dump file itself".into(),
                ));
            }
            // Whatever arrived is all there is: parse it now.
            self.next_try = self.head.len();
            match self.try_head()? {
                Some(rest) => self.data(&rest)?,
                None => {
                    return Err(TocError::Incomplete {
                        needed: self.next_try.max(self.head.len() + 1),
                    })
                }
            }
        }
        let archive = self.archive.take().expect("head read");
        if self.state != State::BlockType || !self.int_buf.is_empty() {
            let inside = self
                .current
                .map(|(i, _)| {
                    format!(
                        " of {} {}",
                        archive.entries[i].desc,
                        archive.entries[i].table_ref()
                    )
                })
                .unwrap_or_default();
            return Err(TocError::Corrupt(format!(
                "the archive ends inside the data{inside} at byte {} (truncated)",
                self.offset
            )));
        }
        let mut by_table = Vec::new();
        for (e, rows) in archive.entries.iter().zip(&self.rows) {
            if e.desc != "TABLE DATA" || !e.had_dumper {
                continue;
            }
            match rows {
                Some(n) => by_table.push((e.table_ref(), *n)),
                None => {
                    return Err(TocError::Corrupt(format!(
                        "the archive ends at byte {} before the data of table {} (truncated)",
                        self.offset,
                        e.table_ref()
                    )))
                }
            }
        }
        Ok(RowCounts {
            by_table,
            archive: Some(archive),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::read::tests::{archive_bytes, entry, Writer};
    use super::*;

    #[test]
    fn lines_are_rows_until_the_end_marker() {
        let data = b"1\tx\n2\t\\N\n\n3\tback\\\\slash \\\\.\n\\.\n\n\n";
        for size in [1, 2, 3, 7, data.len()] {
            let mut c = LineCounter::new();
            for piece in data.chunks(size) {
                c.feed(piece);
            }
            assert_eq!(c.rows(), 4, "pieces of {size}");
            assert!(c.ended());
        }
        // A table without columns: empty lines are rows.
        let mut c = LineCounter::new();
        c.feed(b"\n\n\n\\.\n\n\n");
        assert_eq!(c.rows(), 3);
        // No rows.
        let mut c = LineCounter::new();
        c.feed(b"\\.\n\n\n");
        assert_eq!((c.rows(), c.ended()), (0, true));
        // A truncated file: no end marker, the partial line is not a row.
        let mut c = LineCounter::new();
        c.feed(b"1\n2\n\\");
        assert_eq!((c.rows(), c.ended()), (2, false));
        // "\.x" is a row, not the end.
        let mut c = LineCounter::new();
        c.feed(b"\\.x\n\\.\n");
        assert_eq!(c.rows(), 1);
    }

    /// A custom archive: TOC, then blocks as `_StartData` ... `_EndData` write them.
    fn custom_archive() -> Vec<u8> {
        let entries = vec![
            entry(3, "SCHEMA", "", "s", &[]),
            entry(4, "TABLE", "s", "a", &[3]),
            entry(5, "TABLE", "s", "b", &[3]),
            entry(8, "TABLE DATA", "s", "a", &[4]),
            entry(9, "TABLE DATA", "s", "b", &[5]),
            {
                let mut e = entry(10, "BLOBS", "", "BLOBS", &[]);
                e.had_dumper = true;
                e
            },
        ];
        let mut w = Writer::new();
        w.out = archive_bytes(16, 1, &entries);
        // Table a: two chunks, the second splitting a line.
        w.byte(1);
        w.int(8);
        for part in [&b"1\tx\n2\ty\n3"[..], b"\tz\n\\.\n\n\n"] {
            w.int(part.len() as i64);
            w.out.extend_from_slice(part);
        }
        w.int(0);
        // Large objects: two of them, then a zero OID.
        w.byte(3);
        w.int(10);
        for (oid, body) in [(700, &b"lo\none\n"[..]), (701, b"\n\n\n")] {
            w.int(oid);
            w.int(body.len() as i64);
            w.out.extend_from_slice(body);
            w.int(0);
        }
        w.int(0);
        // Table b: no rows.
        w.byte(1);
        w.int(9);
        w.int(5);
        w.out.extend_from_slice(b"\\.\n\n\n");
        w.int(0);
        w.out
    }

    fn count(bytes: &[u8], piece: usize) -> Result<RowCounts, TocError> {
        let mut c = RowCounter::new();
        for p in bytes.chunks(piece) {
            c.feed(p)?;
        }
        c.finish()
    }

    #[test]
    fn counts_every_table_in_pieces_of_any_size() {
        let bytes = custom_archive();
        for piece in [1, 2, 5, 7, 64, 4096, bytes.len()] {
            let counts = count(&bytes, piece).unwrap();
            assert_eq!(
                counts.by_table,
                vec![(TableRef::new("s", "a"), 3), (TableRef::new("s", "b"), 0)],
                "pieces of {piece}"
            );
            assert_eq!(counts.archive.unwrap().entries.len(), 6);
        }
    }

    #[test]
    fn a_truncated_archive_is_never_counted_as_whole() {
        let bytes = custom_archive();
        let toc_len = read_archive(&bytes).unwrap().toc_len as usize;
        for cut in 0..bytes.len() {
            let err = count(&bytes[..cut], 3).unwrap_err();
            if cut == 0 {
                assert!(matches!(err, TocError::NotAnArchive(_)));
            } else if cut < toc_len {
                assert!(matches!(err, TocError::Incomplete { .. }), "{cut}: {err}");
            } else {
                assert!(
                    matches!(err, TocError::Corrupt(ref m) if m.contains("truncated")),
                    "{cut}: {err}"
                );
            }
        }
        let err = count(&bytes[..bytes.len() - 3], 1000)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("TABLE DATA s.b") && err.contains("Fix:"),
            "{err}"
        );
    }

    #[test]
    fn refuses_what_it_cannot_count() {
        let mut bytes = custom_archive();
        bytes[11] = 2; // compression: lz4 (archive 1.16 header)
        assert!(matches!(count(&bytes, 100), Err(TocError::NotCountable(m)) if m.contains("lz4")));
        let dir = archive_bytes(16, 3, &[entry(3, "SCHEMA", "", "s", &[])]);
        assert!(matches!(count(&dir, 100), Err(TocError::NotCountable(_))));
        let mut bytes = custom_archive();
        bytes.push(7);
        assert!(
            matches!(count(&bytes, 100), Err(TocError::Corrupt(m)) if m.contains("block type 7"))
        );
    }
}
