//! Understanding pg_dump archives (pure: no I/O).
//!
//! - [`read_archive`] reads the header and table of contents of a custom
//!   archive, or of a directory archive's `toc.dat`, as written by pg_dump 14
//!   to 18 (archive versions 1.14 to 1.16), from a prefix of its bytes.
//! - [`RowCounter`] counts the COPY rows of every table in a custom archive
//!   as its bytes stream past (uncompressed archives, `--compress=0`), with
//!   bounded memory; [`LineCounter`] does the same for one data file of a
//!   directory archive.
//! - [`TableRef`] is a `schema.table` name as users type it and pg_dump
//!   records it.
//! - [`select_tables`] picks the TOC entries that restore chosen tables
//!   whole; [`list_file`] renders them for `pg_restore -L`.
//!
//! The layout follows PostgreSQL's `src/bin/pg_dump/pg_backup_archiver.c`
//! (`ReadHead`, `ReadToc`), `pg_backup_custom.c` (data blocks) and
//! `pg_backup_directory.c` (data file names).

mod count;
mod name;
mod read;
mod select;

use serde::{Deserialize, Serialize};

pub use count::{LineCounter, RowCounter, RowCounts};
pub use name::{quote_ident, TableRef};
pub use read::read_archive;
pub(crate) use select::distance;
pub use select::{closest_tables, list_file, select_tables, Selection, Skipped};

/// Which kind of archive a header says it is (pg_dump's `ArchiveFormat`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ArchiveFormat {
    /// `-Fc`: one file, header, TOC, then data blocks.
    Custom,
    /// `-Fd`: `toc.dat` plus one file per table's data. (The `toc.dat`
    /// inside a `-Ft` tar archive is the same file and reads as this too.)
    Directory,
    /// `-Ft`: a tar of `toc.dat` and data files. [`read_archive`] reads
    /// the `toc.dat` member, which says `Directory`.
    Tar,
    /// pg_dump's internal plain-text writer (never found in a file).
    Null,
}

/// The section of a dump a TOC entry belongs to (`teSection`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// Comments, ACLs and the like: they follow the object they belong to.
    None,
    PreData,
    Data,
    PostData,
}

/// One entry of an archive's table of contents: one object, or one table's data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TocEntry {
    /// The entry's ID, as `pg_restore -l` shows it and `-L` takes it.
    pub dump_id: i32,
    /// Whether the entry has data (a TABLE DATA, a SEQUENCE SET has none).
    pub had_dumper: bool,
    /// OID of the catalog the object lives in (`pg_class`, `pg_type`, ...).
    pub table_oid: u32,
    /// The object's OID in the dumped database.
    pub oid: u32,
    /// The name: for a table its exact (unquoted) name; for a constraint,
    /// trigger, default or comment `table name` or `TABLE name` and so on.
    pub tag: String,
    /// The kind: `TABLE`, `TABLE DATA`, `INDEX`, `FK CONSTRAINT`, ...
    pub desc: String,
    pub section: Section,
    /// The SQL that creates the object.
    pub defn: String,
    pub drop_stmt: String,
    /// For TABLE DATA: the `COPY ... FROM stdin;` its data feeds.
    pub copy_stmt: String,
    /// The schema, empty for objects outside any schema.
    pub namespace: String,
    pub tablespace: String,
    pub table_am: String,
    /// `pg_class.relkind` of a relation (archive 1.16, pg_dump 17+).
    pub relkind: Option<char>,
    pub owner: String,
    /// Dump IDs of the entries this one depends on.
    pub deps: Vec<i32>,
    /// Directory format: the entry's data file, e.g. `3345.dat`.
    pub data_file: Option<String>,
    /// Custom format: where this entry's data offset field is in the
    /// archive (a flag byte, then the offset), for
    /// [`crate::seekable::patch_offset`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_at: Option<u64>,
}

impl TocEntry {
    /// `schema.tag` of this entry, for TABLE and TABLE DATA entries.
    pub fn table_ref(&self) -> TableRef {
        TableRef {
            schema: self.namespace.clone(),
            name: self.tag.clone(),
        }
    }

    /// Whether a restore of this entry's data replays COPY text (one line per row).
    pub fn is_copy_data(&self) -> bool {
        self.desc == "TABLE DATA" && self.copy_stmt.trim_start().starts_with("COPY ")
    }
}

/// The header and table of contents of an archive.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Archive {
    /// Archive format version: (1, 14, 0) for pg_dump 14-15, (1, 15, 0) for
    /// 16, (1, 16, 0) for 17-18.
    pub version: (u8, u8, u8),
    pub int_size: u8,
    pub off_size: u8,
    pub format: ArchiveFormat,
    /// `none`, `gzip`, `lz4` or `zstd`: how pg_dump compressed the data.
    pub compression: String,
    pub dbname: String,
    /// Version of the dumped server, e.g. `15.8`.
    pub server_version: String,
    /// Version of the pg_dump that wrote the archive, e.g. `18.1`.
    pub pg_dump_version: String,
    /// The entries in archive order.
    pub entries: Vec<TocEntry>,
    /// Bytes of header and TOC; in a custom archive the data blocks follow.
    pub toc_len: u64,
}

impl Archive {
    /// The entry with this dump ID.
    pub fn entry(&self, id: i32) -> Option<&TocEntry> {
        self.entries.iter().find(|e| e.dump_id == id)
    }

    /// Every table (TABLE entries, partitioned parents and partitions
    /// included), in archive order.
    pub fn tables(&self) -> Vec<TableRef> {
        self.entries
            .iter()
            .filter(|e| e.desc == "TABLE")
            .map(TocEntry::table_ref)
            .collect()
    }

    /// The TABLE entry of a table.
    pub fn table_entry(&self, table: &TableRef) -> Option<&TocEntry> {
        self.entries
            .iter()
            .find(|e| e.desc == "TABLE" && e.namespace == table.schema && e.tag == table.name)
    }

    /// The TABLE DATA entry of a table (none for a partitioned parent, a
    /// table excluded with `--exclude-table-data`, or a schema-only dump).
    pub fn data_entry(&self, table: &TableRef) -> Option<&TocEntry> {
        self.entries
            .iter()
            .find(|e| e.desc == "TABLE DATA" && e.namespace == table.schema && e.tag == table.name)
    }

    /// Directory format: the table whose data a file holds. Takes the name
    /// as pg_dump wrote it (`3345.dat`) or with a compression suffix added
    /// after it (`3345.dat.zst`, `3345.dat.gz`, `3345.dat.lz4`).
    pub fn table_of_data_file(&self, file: &str) -> Option<TableRef> {
        let base = file.rsplit('/').next().unwrap_or(file);
        let base = [".zst", ".gz", ".lz4"]
            .iter()
            .find_map(|s| base.strip_suffix(s))
            .unwrap_or(base);
        self.entries
            .iter()
            .find(|e| e.desc == "TABLE DATA" && e.data_file.as_deref() == Some(base))
            .map(TocEntry::table_ref)
    }
}

/// Why an archive could not be read, a count could not be made or a table
/// could not be selected.
#[derive(Debug, thiserror::Error)]
pub enum TocError {
    /// The bytes given end before the header and TOC do: feed more. `needed`
    /// is how many bytes the prefix must hold at least (counted from the
    /// start of the archive) for the parse to get further.
    #[error("the archive ends inside its header or table of contents (at least {needed} bytes are needed). Fix: the file is truncated; use an intact copy of the backup")]
    Incomplete { needed: usize },
    #[error("not a pg_dump archive: {0}")]
    NotAnArchive(String),
    #[error("unsupported archive: {0}")]
    UnsupportedVersion(String),
    #[error("the archive is damaged: {0}. Fix: use an intact copy of the backup (compare its sha256 with the manifest)")]
    Corrupt(String),
    #[error("table {wanted} is not in this backup{}. Fix: pick a table from the backup's table of contents", closest_hint(.closest))]
    NoSuchTable {
        wanted: String,
        closest: Vec<String>,
    },
    #[error("{0}")]
    InvalidName(String),
    #[error("cannot count rows: {0}")]
    NotCountable(String),
}

fn closest_hint(closest: &[String]) -> String {
    if closest.is_empty() {
        String::new()
    } else {
        format!(" (closest: {})", closest.join(", "))
    }
}

impl TocError {
    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            TocError::NoSuchTable { .. } => 404,
            TocError::InvalidName(_) => 400,
            TocError::Incomplete { .. }
            | TocError::NotAnArchive(_)
            | TocError::UnsupportedVersion(_)
            | TocError::Corrupt(_)
            | TocError::NotCountable(_) => 422,
        }
    }
}
