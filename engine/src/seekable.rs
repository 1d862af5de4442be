//! Seekable zstd for custom archives: one table's data read by range.
//!
//! A custom archive written to a pipe has no data offsets, so a restore of
//! one table would have to stream the whole file. pgshelf sees the archive
//! pass through it, so it compresses it in independent zstd frames that
//! begin exactly where the archive's header+TOC end and where each data
//! block begins ([`FramedEncoder`], fed the block starts by
//! [`crate::toc::RowCounter`]), and records a [`BlockIndex`]: where every
//! frame starts in the raw and in the stored bytes, and where every data
//! block starts. The index is kept in the manifest and also written at the
//! end of the file as the zstd seekable format's seek table (a skippable
//! frame: stock `zstd -dc` passes over it, so `zstd -dc dump.zst |
//! pg_restore` still works).
//!
//! At restore time [`BlockIndex::head`] and [`BlockIndex::block`] say which
//! stored byte range holds the header and TOC, or one block, and how many
//! decompressed bytes to skip and keep; [`patch_offsets`] then writes real
//! data offsets into a local archive's TOC, so pg_restore seeks straight to
//! each block (and `-j N` works on it).
//!
//! Pure apart from the `Write` it is given.

use std::io::Write;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use zstd::stream::raw::{CParameter, Encoder, InBuffer, Operation, OutBuffer};

/// A frame never holds more raw bytes than this (the seek table records
/// sizes in 32 bits); a larger data block spans several frames.
pub const MAX_FRAME_RAW: u64 = 1 << 30;

/// `ZSTD_MAGIC_SKIPPABLE_START + 0xE`, the seekable format's seek table frame.
const SKIPPABLE_MAGIC: u32 = 0x184D_2A5E;
/// The seekable format's footer magic.
const SEEKABLE_MAGIC: u32 = 0x8F92_EAB1;

/// Where a seekable custom archive's frames and data blocks start.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct BlockIndex {
    /// Raw bytes of the archive's header and TOC (frame 0 holds exactly these).
    pub head: u64,
    /// Raw bytes of the whole archive.
    pub raw: u64,
    /// `[raw start, stored start]` of every frame, then one more pair: the
    /// raw end and the stored end of the last frame (where the seek table
    /// begins).
    pub frames: Vec<[u64; 2]>,
    /// `[dump ID, raw start]` of every data block, in archive order; a block
    /// ends where the next begins (the last at `raw`).
    pub blocks: Vec<[u64; 2]>,
}

/// What to fetch for a span of the raw archive: a stored byte range that
/// decompresses to raw bytes starting at `raw_from`, of which `skip` are
/// dropped and `take` kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub stored: Range<u64>,
    pub skip: u64,
    pub take: u64,
}

impl BlockIndex {
    /// Whether the index is consistent: frames contiguous and increasing,
    /// the head a frame boundary, every block inside the archive.
    pub fn check(&self) -> Result<(), String> {
        if self.frames.len() < 2 {
            return Err("it lists no frames".into());
        }
        for w in self.frames.windows(2) {
            if w[1][0] <= w[0][0] || w[1][1] <= w[0][1] {
                return Err("its frames are not in order".into());
            }
        }
        let last = self.frames[self.frames.len() - 1];
        if self.frames[0] != [0, 0] || last[0] != self.raw {
            return Err("its frames do not cover the archive".into());
        }
        if !self.frames.iter().any(|f| f[0] == self.head) {
            return Err("its header does not end on a frame boundary".into());
        }
        let mut at = self.head;
        for b in &self.blocks {
            if b[1] < at || b[1] >= self.raw {
                return Err("its blocks are not in order".into());
            }
            at = b[1];
        }
        Ok(())
    }

    /// The stored range holding the header and TOC.
    pub fn head(&self) -> Span {
        self.span(0..self.head)
    }

    /// The span of data block `dump_id`, if the archive has one.
    pub fn block(&self, dump_id: i32) -> Option<Span> {
        self.block_range(dump_id).map(|r| self.span(r))
    }

    /// Raw range of data block `dump_id`.
    pub fn block_range(&self, dump_id: i32) -> Option<Range<u64>> {
        let i = self.blocks.iter().position(|b| b[0] == dump_id as u64)?;
        let end = self.blocks.get(i + 1).map_or(self.raw, |b| b[1]);
        Some(self.blocks[i][1]..end)
    }

    /// The frames covering raw bytes `raw`.
    fn span(&self, raw: Range<u64>) -> Span {
        let frames = &self.frames;
        // The last frame starting at or before raw.start.
        let first = frames[..frames.len() - 1]
            .iter()
            .rposition(|f| f[0] <= raw.start)
            .unwrap_or(0);
        // The first frame boundary at or after raw.end.
        let end = frames
            .iter()
            .position(|f| f[0] >= raw.end)
            .unwrap_or(frames.len() - 1);
        Span {
            stored: frames[first][1]..frames[end][1],
            skip: raw.start - frames[first][0],
            take: raw.end - raw.start,
        }
    }

    /// The zstd seekable format's seek table for these frames (a skippable
    /// frame), without per-frame checksums (each frame carries its own).
    pub fn seek_table(&self) -> Vec<u8> {
        let n = self.frames.len() - 1;
        let mut out = Vec::with_capacity(8 + n * 8 + 9);
        out.extend_from_slice(&SKIPPABLE_MAGIC.to_le_bytes());
        out.extend_from_slice(&((n * 8 + 9) as u32).to_le_bytes());
        for w in self.frames.windows(2) {
            out.extend_from_slice(&((w[1][1] - w[0][1]) as u32).to_le_bytes());
            out.extend_from_slice(&((w[1][0] - w[0][0]) as u32).to_le_bytes());
        }
        out.extend_from_slice(&(n as u32).to_le_bytes());
        out.push(0);
        out.extend_from_slice(&SEEKABLE_MAGIC.to_le_bytes());
        out
    }
}

/// A zstd encoder that ends a frame wherever it is told to, keeping the
/// frame table for a [`BlockIndex`].
pub struct FramedEncoder<W: Write> {
    op: Encoder<'static>,
    out: W,
    buf: Vec<u8>,
    raw: u64,
    stored: u64,
    /// Raw bytes in the frame being written.
    in_frame: u64,
    frames: Vec<[u64; 2]>,
}

impl<W: Write> FramedEncoder<W> {
    pub fn new(out: W, level: i32, threads: u32) -> std::io::Result<Self> {
        let mut op = Encoder::new(level)?;
        op.set_parameter(CParameter::ChecksumFlag(true))?;
        if threads > 1 {
            op.set_parameter(CParameter::NbWorkers(threads))?;
        }
        Ok(FramedEncoder {
            op,
            out,
            buf: vec![0; 1 << 17],
            raw: 0,
            stored: 0,
            in_frame: 0,
            frames: Vec::new(),
        })
    }

    /// Raw bytes taken so far.
    pub fn raw(&self) -> u64 {
        self.raw
    }

    /// Compresses `data` into the current frame (starting one if needed;
    /// ending it at [`MAX_FRAME_RAW`]).
    pub fn write_all(&mut self, mut data: &[u8]) -> std::io::Result<()> {
        while !data.is_empty() {
            if self.in_frame == 0 {
                self.frames.push([self.raw, self.stored]);
            }
            let room = (MAX_FRAME_RAW - self.in_frame).min(data.len() as u64) as usize;
            let (now, rest) = data.split_at(room);
            let mut input = InBuffer::around(now);
            while input.pos() < now.len() {
                let mut output = OutBuffer::around(&mut self.buf[..]);
                self.op.run(&mut input, &mut output)?;
                let n = output.pos();
                self.out.write_all(&self.buf[..n])?;
                self.stored += n as u64;
            }
            self.raw += now.len() as u64;
            self.in_frame += now.len() as u64;
            data = rest;
            if self.in_frame == MAX_FRAME_RAW {
                self.end_frame()?;
            }
        }
        Ok(())
    }

    /// Ends the current frame, if it holds anything: what follows starts a
    /// new, independent one.
    pub fn end_frame(&mut self) -> std::io::Result<()> {
        if self.in_frame == 0 {
            return Ok(());
        }
        loop {
            let mut output = OutBuffer::around(&mut self.buf[..]);
            let left = self.op.finish(&mut output, false)?;
            let n = output.pos();
            self.out.write_all(&self.buf[..n])?;
            self.stored += n as u64;
            if left == 0 {
                break;
            }
        }
        self.op.reinit()?;
        self.in_frame = 0;
        Ok(())
    }

    /// Ends the last frame and, given the archive's `head` length and data
    /// blocks, writes the seek table; returns the writer and the index
    /// (`None` when the blocks do not fit the frames, e.g. when the archive
    /// could not be parsed: the file is then one plain multi-frame stream).
    pub fn finish(
        mut self,
        head: Option<(u64, Vec<[u64; 2]>)>,
    ) -> std::io::Result<(W, Option<BlockIndex>)> {
        if self.raw == 0 {
            // Nothing came: one empty frame, so the file is still valid zstd.
            self.frames.push([0, 0]);
            self.in_frame = 1;
        }
        self.end_frame()?;
        let mut frames = self.frames;
        frames.push([self.raw, self.stored]);
        let index = head.map(|(head, blocks)| BlockIndex {
            head,
            raw: self.raw,
            frames,
            blocks,
        });
        let index = index.filter(|i| i.check().is_ok() && i.raw > 0);
        if let Some(i) = &index {
            self.out.write_all(&i.seek_table())?;
        }
        Ok((self.out, index))
    }
}

/// Writes real data offsets into a custom archive's TOC held in `head` (as
/// read from the file's start): entry `dump_id`'s offset field, at byte
/// `at` of `head`, becomes "set" with offset `offset`. pg_restore then seeks
/// straight to each block instead of scanning for it.
pub fn patch_offset(head: &mut [u8], at: usize, off_size: usize, offset: u64) -> bool {
    let Some(field) = head.get_mut(at..at + 1 + off_size) else {
        return false;
    };
    // K_OFFSET_POS_SET (pg_backup_archiver.h).
    field[0] = 2;
    for (i, b) in field[1..].iter_mut().enumerate() {
        *b = if i < 8 { (offset >> (8 * i)) as u8 } else { 0 };
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn index() -> BlockIndex {
        BlockIndex {
            head: 100,
            raw: 1000,
            frames: vec![[0, 0], [100, 40], [400, 90], [900, 150], [1000, 170]],
            blocks: vec![[7, 100], [9, 400], [3, 900]],
        }
    }

    #[test]
    fn spans_cover_exactly_one_block() {
        let i = index();
        i.check().unwrap();
        assert_eq!(
            i.head(),
            Span {
                stored: 0..40,
                skip: 0,
                take: 100
            }
        );
        assert_eq!(
            i.block(9),
            Some(Span {
                stored: 90..150,
                skip: 0,
                take: 500
            })
        );
        assert_eq!(
            i.block(3),
            Some(Span {
                stored: 150..170,
                skip: 0,
                take: 100
            })
        );
        assert_eq!(i.block(4), None);
    }

    #[test]
    fn a_block_inside_a_frame_is_skipped_to() {
        // Block 9 starts inside frame 1 (as when a frame was split at
        // MAX_FRAME_RAW and blocks do not align): skip the frame's front.
        let mut i = index();
        i.blocks = vec![[7, 100], [9, 250], [3, 900]];
        assert_eq!(
            i.block(9),
            Some(Span {
                stored: 40..150,
                skip: 150,
                take: 650
            })
        );
    }

    #[test]
    fn broken_indexes_are_refused() {
        let mut i = index();
        i.frames.swap(1, 2);
        assert!(i.check().is_err());
        let mut i = index();
        i.head = 120;
        assert!(i.check().is_err());
        let mut i = index();
        i.blocks = vec![[7, 100], [9, 1000]];
        assert!(i.check().is_err());
    }

    #[test]
    fn frames_decompress_alone_and_as_one_stream() {
        let data: Vec<u8> = (0..300_000u32).flat_map(|n| n.to_le_bytes()).collect();
        let mut enc = FramedEncoder::new(Vec::new(), 3, 1).unwrap();
        enc.write_all(&data[..1000]).unwrap();
        enc.end_frame().unwrap();
        enc.write_all(&data[1000..500_000]).unwrap();
        enc.end_frame().unwrap();
        enc.end_frame().unwrap(); // an empty frame is not written
        enc.write_all(&data[500_000..]).unwrap();
        let (out, index) = enc
            .finish(Some((1000, vec![[5, 1000], [6, 500_000]])))
            .unwrap();
        let index = index.unwrap();
        assert_eq!(index.frames.len(), 4);
        // The whole file, seek table included, is one zstd stream.
        let mut all = Vec::new();
        zstd::stream::read::Decoder::new(&out[..])
            .unwrap()
            .read_to_end(&mut all)
            .unwrap();
        assert_eq!(all, data);
        // One block alone.
        let s = index.block(6).unwrap();
        let part =
            zstd::stream::decode_all(&out[s.stored.start as usize..s.stored.end as usize]).unwrap();
        assert_eq!(&part[s.skip as usize..], &data[500_000..]);
        let h = index.head();
        let part =
            zstd::stream::decode_all(&out[h.stored.start as usize..h.stored.end as usize]).unwrap();
        assert_eq!(part, &data[..1000]);
        // The seek table is the file's tail.
        let table = index.seek_table();
        assert!(out.ends_with(&table));
        assert_eq!(out.len() as u64, index.frames[3][1] + table.len() as u64);
    }

    #[test]
    fn no_input_is_one_empty_frame() {
        let enc = FramedEncoder::new(Vec::new(), 3, 1).unwrap();
        let (out, index) = enc.finish(Some((0, Vec::new()))).unwrap();
        assert!(index.is_none());
        assert!(!out.is_empty());
        assert!(zstd::stream::decode_all(&out[..]).unwrap().is_empty());
    }

    #[test]
    fn multithreaded_frames_end_where_told() {
        let data = vec![b'x'; 3 << 20];
        let mut enc = FramedEncoder::new(Vec::new(), 3, 2).unwrap();
        enc.write_all(&data[..10]).unwrap();
        enc.end_frame().unwrap();
        enc.write_all(&data[10..]).unwrap();
        let (out, index) = enc.finish(Some((10, vec![[1, 10]]))).unwrap();
        let index = index.unwrap();
        let s = index.block(1).unwrap();
        let part =
            zstd::stream::decode_all(&out[s.stored.start as usize..s.stored.end as usize]).unwrap();
        assert_eq!(part.len(), data.len() - 10);
    }

    #[test]
    fn offsets_are_patched_in_place() {
        let mut head = vec![0u8; 20];
        head[5] = 1; // K_OFFSET_POS_NOT_SET
        assert!(patch_offset(&mut head, 5, 8, 0x0102_0304));
        assert_eq!(&head[5..14], &[2, 4, 3, 2, 1, 0, 0, 0, 0]);
        assert!(!patch_offset(&mut head, 15, 8, 1));
    }
}
