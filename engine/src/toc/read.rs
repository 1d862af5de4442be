//! Reading an archive's header and table of contents (`ReadHead`, `ReadToc`).

use super::{Archive, ArchiveFormat, Section, TocEntry, TocError};

/// Oldest archive version read: 1.12 (pg_dump 9.0). pgshelf supports
/// pg_dump 14 and later (1.14); the fields older versions lack are gated
/// below anyway.
const OLDEST: (u8, u8) = (1, 12);
/// Newest archive version read: 1.16 (pg_dump 17 and 18).
const NEWEST: (u8, u8) = (1, 16);

/// `K_VERS_1_14`: TOC entries carry the table access method.
const V1_14: (u8, u8) = (1, 14);
/// `K_VERS_1_15`: the header names the compression algorithm.
const V1_15: (u8, u8) = (1, 15);
/// `K_VERS_1_16`: TOC entries carry the relkind.
const V1_16: (u8, u8) = (1, 16);

/// Largest string believed (defn of a huge function, a long COPY list).
const MAX_STR: i64 = 1 << 30;
/// Most TOC entries believed.
const MAX_ENTRIES: i64 = 50_000_000;

/// A cursor over the bytes of an archive, with its integer sizes.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pub(crate) pos: usize,
    int_size: usize,
    off_size: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            pos: 0,
            int_size: 4,
            off_size: 8,
        }
    }

    fn need(&self, n: usize) -> Result<(), TocError> {
        let end = self.pos.saturating_add(n);
        if end > self.buf.len() {
            Err(TocError::Incomplete { needed: end })
        } else {
            Ok(())
        }
    }

    fn byte(&mut self) -> Result<u8, TocError> {
        self.need(1)?;
        let b = self.buf[self.pos];
        self.pos += 1;
        Ok(b)
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], TocError> {
        self.need(n)?;
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// `ReadInt`: a sign byte, then `int_size` bytes, least significant first.
    pub(crate) fn int(&mut self) -> Result<i64, TocError> {
        let raw = self.bytes(1 + self.int_size)?;
        decode_int(raw)
    }

    /// `ReadStr`: an int length (negative for NULL), then that many bytes.
    fn string(&mut self) -> Result<Option<String>, TocError> {
        let at = self.pos;
        let len = self.int()?;
        if len < 0 {
            return Ok(None);
        }
        if len > MAX_STR {
            return Err(TocError::Corrupt(format!(
                "a string of {len} bytes at offset {at}"
            )));
        }
        let raw = self.bytes(len as usize)?;
        Ok(Some(String::from_utf8_lossy(raw).into_owned()))
    }

    fn text(&mut self) -> Result<String, TocError> {
        Ok(self.string()?.unwrap_or_default())
    }

    /// `ReadOffset`: a flag byte (1 not set, 2 set, 3 no data), then
    /// `off_size` bytes, least significant first.
    fn offset(&mut self) -> Result<(u8, u64), TocError> {
        let at = self.pos;
        let flag = self.byte()?;
        if !(1..=3).contains(&flag) {
            return Err(TocError::Corrupt(format!(
                "unexpected data offset flag {flag} at offset {at}"
            )));
        }
        let raw = self.bytes(self.off_size)?;
        let mut v: u64 = 0;
        for (i, b) in raw.iter().enumerate() {
            if i < 8 {
                v |= (*b as u64) << (8 * i);
            }
        }
        Ok((flag, v))
    }
}

/// Decodes one `WriteInt` value (sign byte + magnitude bytes, little end first).
pub(crate) fn decode_int(raw: &[u8]) -> Result<i64, TocError> {
    let (sign, mag) = raw.split_first().expect("an int has a sign byte");
    let mut v: i64 = 0;
    for (i, b) in mag.iter().enumerate() {
        if *b != 0 {
            if i >= 7 {
                return Err(TocError::Corrupt(format!(
                    "an integer wider than 56 bits ({:02x?})",
                    raw
                )));
            }
            v |= (*b as i64) << (8 * i);
        }
    }
    Ok(if *sign != 0 { -v } else { v })
}

fn section(n: i64, at: usize) -> Result<Section, TocError> {
    Ok(match n {
        1 => Section::None,
        2 => Section::PreData,
        3 => Section::Data,
        4 => Section::PostData,
        _ => {
            return Err(TocError::Corrupt(format!(
                "unknown TOC section {n} at offset {at}"
            )))
        }
    })
}

fn oid(s: Option<String>, at: usize) -> Result<u32, TocError> {
    let s = s.unwrap_or_default();
    if s.is_empty() {
        return Ok(0);
    }
    s.trim()
        .parse()
        .map_err(|_| TocError::Corrupt(format!("OID `{s}` is not a number (offset {at})")))
}

/// Says what a file that is not a pg_dump archive looks like instead.
fn not_an_archive(bytes: &[u8]) -> TocError {
    let what = if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        "it is zstd-compressed. Fix: decompress it first (zstd -d)".to_string()
    } else if bytes.starts_with(&[0x1f, 0x8b]) {
        "it is gzip-compressed. Fix: decompress it first (gzip -d)".to_string()
    } else if bytes.len() > 262 && &bytes[257..262] == b"ustar" {
        "it is a tar file (pg_dump -Ft). Fix: read its toc.dat member".to_string()
    } else if bytes.starts_with(b"--") || bytes.starts_with(b"SET ") {
        "it looks like a plain SQL script, which has no table of contents. Fix: use a custom or directory format backup".to_string()
    } else {
        "it does not start with PGDMP. Fix: give the dump file itself (custom format) or the toc.dat of a directory-format dump".to_string()
    };
    TocError::NotAnArchive(what)
}

/// Reads the header and table of contents from the start of an archive
/// (a custom-format dump, or a directory-format dump's `toc.dat`). Bytes
/// after the TOC (a custom archive's data blocks) are not looked at.
///
/// A prefix too short to hold the whole header and TOC gives
/// [`TocError::Incomplete`] with the length needed to get further.
pub fn read_archive(bytes: &[u8]) -> Result<Archive, TocError> {
    let magic = b"PGDMP";
    let n = bytes.len().min(magic.len());
    if bytes[..n] != magic[..n] {
        return Err(not_an_archive(bytes));
    }
    let mut r = Reader::new(bytes);
    r.bytes(magic.len())?;
    let vmaj = r.byte()?;
    let vmin = r.byte()?;
    let vrev = r.byte()?;
    let v = (vmaj, vmin);
    if v < OLDEST {
        return Err(TocError::UnsupportedVersion(format!(
            "archive version {vmaj}.{vmin} was written by a pg_dump older than 9.0. Fix: dump the database again with pg_dump 14 or later"
        )));
    }
    if v > NEWEST {
        return Err(TocError::UnsupportedVersion(format!(
            "archive version {vmaj}.{vmin} is newer than this pgshelf reads (up to {}.{}, pg_dump 18). Fix: upgrade pgshelf",
            NEWEST.0, NEWEST.1
        )));
    }
    let int_size = r.byte()?;
    if !(1..=8).contains(&int_size) {
        return Err(TocError::Corrupt(format!(
            "integer size {int_size} in the header"
        )));
    }
    r.int_size = int_size as usize;
    let off_size = r.byte()?;
    if !(1..=16).contains(&off_size) {
        return Err(TocError::Corrupt(format!(
            "offset size {off_size} in the header"
        )));
    }
    r.off_size = off_size as usize;
    // A directory archive's toc.dat carries the tar format's code (3)
    // (`InitArchiveFmt_Directory` reads it as archTar); the toc.dat inside
    // a tar archive is the same file. Both name a data file per entry.
    let format = match r.byte()? {
        1 => ArchiveFormat::Custom,
        3 | 5 => ArchiveFormat::Directory,
        4 => ArchiveFormat::Null,
        f => {
            return Err(TocError::Corrupt(format!(
                "archive format {f} in the header"
            )))
        }
    };
    let compression = if v >= V1_15 {
        match r.byte()? {
            0 => "none",
            1 => "gzip",
            2 => "lz4",
            3 => "zstd",
            c => {
                return Err(TocError::Corrupt(format!(
                    "compression algorithm {c} in the header"
                )))
            }
        }
    } else if r.int()? != 0 {
        "gzip"
    } else {
        "none"
    };
    // Creation time: sec, min, hour, mday, mon, year, isdst.
    for _ in 0..7 {
        r.int()?;
    }
    let dbname = r.text()?;
    let server_version = r.text()?;
    let pg_dump_version = r.text()?;

    let at = r.pos;
    let count = r.int()?;
    if !(0..=MAX_ENTRIES).contains(&count) {
        return Err(TocError::Corrupt(format!(
            "{count} TOC entries at offset {at}"
        )));
    }
    let mut entries = Vec::with_capacity((count as usize).min(100_000));
    for _ in 0..count {
        let at = r.pos;
        let dump_id = r.int()?;
        if dump_id <= 0 || dump_id > i32::MAX as i64 {
            return Err(TocError::Corrupt(format!(
                "entry ID {dump_id} at offset {at}"
            )));
        }
        let had_dumper = r.int()? != 0;
        let table_oid = oid(r.string()?, r.pos)?;
        let oid = oid(r.string()?, r.pos)?;
        let tag = r.text()?;
        let desc = r.text()?;
        let section = section(r.int()?, r.pos)?;
        let defn = r.text()?;
        let drop_stmt = r.text()?;
        let copy_stmt = r.text()?;
        let namespace = r.text()?;
        let tablespace = r.text()?;
        let table_am = if v >= V1_14 { r.text()? } else { String::new() };
        let relkind = if v >= V1_16 {
            let k = r.int()?;
            match u8::try_from(k) {
                Ok(0) => None,
                Ok(c) if c.is_ascii_graphic() => Some(c as char),
                _ => return Err(TocError::Corrupt(format!("relkind {k} in entry {dump_id}"))),
            }
        } else {
            None
        };
        let owner = r.text()?;
        // "with OIDs": always "false" since pg_dump 12.
        r.string()?;
        let mut deps = Vec::new();
        while let Some(d) = r.string()? {
            let id: i32 = d
                .trim()
                .parse()
                .map_err(|_| TocError::Corrupt(format!("dependency `{d}` of entry {dump_id}")))?;
            deps.push(id);
        }
        let mut offset_at = None;
        let data_file = match format {
            ArchiveFormat::Custom => {
                offset_at = Some(r.pos as u64);
                r.offset()?;
                None
            }
            ArchiveFormat::Directory | ArchiveFormat::Tar => r.string()?.filter(|f| !f.is_empty()),
            ArchiveFormat::Null => None,
        };
        entries.push(TocEntry {
            dump_id: dump_id as i32,
            had_dumper,
            table_oid,
            oid,
            tag,
            desc,
            section,
            defn,
            drop_stmt,
            copy_stmt,
            namespace,
            tablespace,
            table_am,
            relkind,
            owner,
            deps,
            data_file,
            offset_at,
        });
    }
    Ok(Archive {
        version: (vmaj, vmin, vrev),
        int_size,
        off_size,
        format,
        compression: compression.to_string(),
        dbname,
        server_version,
        pg_dump_version,
        entries,
        toc_len: r.pos as u64,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Writes archives the way pg_dump does (`WriteHead`, `WriteToc`), for tests.
    pub(crate) struct Writer {
        pub out: Vec<u8>,
        pub int_size: usize,
    }

    impl Writer {
        pub fn new() -> Self {
            Writer {
                out: Vec::new(),
                int_size: 4,
            }
        }
        pub fn byte(&mut self, b: u8) {
            self.out.push(b);
        }
        pub fn int(&mut self, v: i64) {
            self.out.push(u8::from(v < 0));
            let m = v.unsigned_abs();
            for i in 0..self.int_size {
                self.out.push((m >> (8 * i)) as u8);
            }
        }
        pub fn str(&mut self, s: Option<&str>) {
            match s {
                None => self.int(-1),
                Some(s) => {
                    self.int(s.len() as i64);
                    self.out.extend_from_slice(s.as_bytes());
                }
            }
        }
    }

    /// A whole archive of `format` (1 custom, 3 directory's toc.dat) at version 1.`minor`.
    pub(crate) fn archive_bytes(minor: u8, format: u8, entries: &[TocEntry]) -> Vec<u8> {
        let mut w = Writer::new();
        w.out.extend_from_slice(b"PGDMP");
        for b in [1, minor, 0, 4, 8, format] {
            w.byte(b);
        }
        if minor >= 15 {
            w.byte(0);
        } else {
            w.int(0);
        }
        for t in [1, 2, 3, 4, 5, 124, 0] {
            w.int(t);
        }
        w.str(Some("shop"));
        w.str(Some("15.8"));
        w.str(Some("18.1"));
        w.int(entries.len() as i64);
        for e in entries {
            w.int(e.dump_id as i64);
            w.int(e.had_dumper as i64);
            w.str(Some(&e.table_oid.to_string()));
            w.str(Some(&e.oid.to_string()));
            w.str(Some(&e.tag));
            w.str(Some(&e.desc));
            w.int(match e.section {
                Section::None => 1,
                Section::PreData => 2,
                Section::Data => 3,
                Section::PostData => 4,
            });
            w.str(Some(&e.defn));
            w.str(Some(&e.drop_stmt));
            w.str(Some(&e.copy_stmt));
            w.str(Some(&e.namespace));
            w.str(Some(&e.tablespace));
            if minor >= 14 {
                w.str(Some(&e.table_am));
            }
            if minor >= 16 {
                w.int(e.relkind.map(|c| c as i64).unwrap_or(0));
            }
            w.str(Some(&e.owner));
            w.str(Some("false"));
            for d in &e.deps {
                w.str(Some(&d.to_string()));
            }
            w.str(None);
            if format == 1 {
                w.byte(if e.had_dumper { 1 } else { 3 });
                for _ in 0..8 {
                    w.byte(0);
                }
            } else {
                w.str(e.data_file.as_deref().or(Some("")));
            }
        }
        w.out
    }

    pub(crate) fn entry(id: i32, desc: &str, schema: &str, tag: &str, deps: &[i32]) -> TocEntry {
        TocEntry {
            dump_id: id,
            had_dumper: desc == "TABLE DATA",
            table_oid: 1259,
            oid: 16000 + id as u32,
            tag: tag.into(),
            desc: desc.into(),
            section: match desc {
                "TABLE DATA" | "SEQUENCE SET" => Section::Data,
                "INDEX" | "CONSTRAINT" | "FK CONSTRAINT" | "TRIGGER" | "INDEX ATTACH" => {
                    Section::PostData
                }
                "COMMENT" | "ACL" => Section::None,
                _ => Section::PreData,
            },
            defn: String::new(),
            drop_stmt: String::new(),
            copy_stmt: if desc == "TABLE DATA" {
                format!("COPY {schema}.{tag} (id) FROM stdin;\n")
            } else {
                String::new()
            },
            namespace: schema.into(),
            tablespace: String::new(),
            table_am: String::new(),
            relkind: None,
            owner: "postgres".into(),
            deps: deps.to_vec(),
            data_file: None,
            offset_at: None,
        }
    }

    fn sample() -> Vec<TocEntry> {
        let mut t = entry(5, "TABLE", "Audit Log", "My \"Odd\" Table", &[4]);
        t.relkind = Some('r');
        t.table_am = "heap".into();
        let mut d = entry(9, "TABLE DATA", "Audit Log", "My \"Odd\" Table", &[5]);
        d.data_file = Some("9.dat".into());
        vec![entry(4, "SCHEMA", "", "Audit Log", &[]), t, d]
    }

    #[test]
    fn reads_every_supported_version_and_format() {
        for minor in [12, 13, 14, 15, 16] {
            for format in [1u8, 3] {
                let mut want = sample();
                for e in &mut want {
                    if minor < 16 {
                        e.relkind = None;
                    }
                    if minor < 14 {
                        e.table_am.clear();
                    }
                    if format == 1 {
                        e.data_file = None;
                    }
                }
                let bytes = archive_bytes(minor, format, &want);
                let a = read_archive(&bytes).unwrap();
                assert_eq!(a.version, (1, minor, 0));
                let mut got = a.entries.clone();
                for e in &mut got {
                    // Custom format: where the data offset's flag byte is.
                    match e.offset_at.take() {
                        Some(at) => assert!((1..=3).contains(&bytes[at as usize])),
                        None => assert_eq!(format, 3),
                    }
                }
                assert_eq!(got, want, "1.{minor} format {format}");
                assert_eq!(a.toc_len, bytes.len() as u64);
                assert_eq!(a.compression, "none");
                assert_eq!(
                    (
                        a.dbname.as_str(),
                        a.server_version.as_str(),
                        a.pg_dump_version.as_str()
                    ),
                    ("shop", "15.8", "18.1")
                );
                assert_eq!(
                    a.format,
                    if format == 1 {
                        ArchiveFormat::Custom
                    } else {
                        ArchiveFormat::Directory
                    }
                );
                if format == 3 {
                    assert_eq!(
                        a.table_of_data_file("9.dat.zst").unwrap().name,
                        "My \"Odd\" Table"
                    );
                    assert!(a.table_of_data_file("10.dat").is_none());
                }
            }
        }
    }

    #[test]
    fn every_prefix_is_incomplete_and_says_how_much_more() {
        let bytes = archive_bytes(16, 1, &sample());
        let mut len = 0;
        let mut steps = 0;
        loop {
            match read_archive(&bytes[..len]) {
                Ok(a) => {
                    assert_eq!(len, bytes.len());
                    assert_eq!(a.entries.len(), 3);
                    break;
                }
                Err(TocError::Incomplete { needed }) => {
                    assert!(needed > len && needed <= bytes.len(), "{needed} at {len}");
                    len = needed;
                    steps += 1;
                }
                Err(e) => panic!("prefix {len}: {e}"),
            }
        }
        assert!(steps > 10);
        for cut in 0..bytes.len() {
            assert!(matches!(
                read_archive(&bytes[..cut]),
                Err(TocError::Incomplete { .. })
            ));
        }
        // Bytes after the TOC are not looked at.
        let mut more = bytes.clone();
        more.extend_from_slice(&[1, 0, 9, 0, 0, 0]);
        assert_eq!(read_archive(&more).unwrap().toc_len, bytes.len() as u64);
    }

    #[test]
    fn primitives_follow_write_int() {
        assert_eq!(decode_int(&[0, 1, 0, 0, 0]).unwrap(), 1);
        assert_eq!(decode_int(&[1, 1, 0, 0, 0]).unwrap(), -1);
        assert_eq!(decode_int(&[0, 0x39, 0x30, 0, 0]).unwrap(), 12345);
        assert_eq!(
            decode_int(&[0, 0xff, 0xff, 0xff, 0x7f]).unwrap(),
            i32::MAX as i64
        );
        assert_eq!(decode_int(&[0, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap(), 0);
        assert!(decode_int(&[0, 0, 0, 0, 0, 0, 0, 0, 1]).is_err());
        let mut w = Writer::new();
        w.str(None);
        w.str(Some("héllo"));
        let mut r = Reader::new(&w.out);
        assert_eq!(r.string().unwrap(), None);
        assert_eq!(r.string().unwrap().as_deref(), Some("héllo"));
        assert!(matches!(r.int(), Err(TocError::Incomplete { .. })));
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        let err = |b: &[u8]| read_archive(b).unwrap_err();
        assert!(
            matches!(err(b"--\n-- PostgreSQL database dump"), TocError::NotAnArchive(m) if m.contains("plain SQL"))
        );
        assert!(
            matches!(err(&[0x28, 0xb5, 0x2f, 0xfd, 0]), TocError::NotAnArchive(m) if m.contains("zstd -d"))
        );
        assert!(matches!(err(b"PGD"), TocError::Incomplete { needed: 5 }));
        let mut b = archive_bytes(16, 1, &sample());
        b[6] = 17;
        let e = err(&b);
        assert!(
            matches!(e, TocError::UnsupportedVersion(ref m) if m.contains("upgrade pgshelf")),
            "{e}"
        );
        b[6] = 11;
        assert!(matches!(err(&b), TocError::UnsupportedVersion(_)));
        let mut b = archive_bytes(16, 1, &sample());
        b[10] = 2;
        assert!(matches!(err(&b), TocError::Corrupt(_)));
        assert_eq!(err(&b).status(), 422);
        assert!(err(&b).to_string().contains("Fix:"));
        // A huge string length is damage, not a reason to wait for more bytes.
        let mut w = Writer::new();
        w.int(i32::MAX as i64);
        let mut r = Reader::new(&w.out);
        assert!(matches!(r.string(), Err(TocError::Corrupt(_))));
    }
}
