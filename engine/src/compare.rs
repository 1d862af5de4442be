//! Compare a table restored into scratch with the live table, and put rows
//! back (issue 9, 3b).
//!
//! - [`compare_tables`]: reads both tables' definitions, picks the key (the
//!   primary key, else a unique index over NOT NULL columns), then streams
//!   both sides ordered by that key and merges them ([`Merge`]): one row of
//!   each side in memory at a time, whatever the table's size. Every column
//!   is read as text (`::text`, in sessions with the same date, time zone,
//!   interval, float and bytea settings) and the key is ordered bytewise on
//!   both sides (`COLLATE "C"`, or the UTF-8 bytes on a database in another
//!   encoding), which is exactly how Rust orders `String`s; a side that
//!   arrives out of that order stops the comparison instead of misreporting.
//! - [`write_put_back`]: a second merge, writing `INSERT ... ON CONFLICT
//!   (key) DO UPDATE` for each picked row into any `AsyncWrite` (a file, a
//!   streamed download) with the values as literals cast to their column
//!   types, in one transaction, one statement per line.
//! - [`apply_script`]: runs such a script on the live database in one
//!   transaction and counts the rows it inserted and updated.
//! - The facade (`impl Engine` below) resolves servers and records applied
//!   put-backs in the catalog (`put_backs`).

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection, Row};
use tokio::io::{AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

use crate::catalog::NewPutBack;
use crate::pg::args::quote_ident;
use crate::pg::{ConnSpec, PgError};
use crate::{Engine, Error};
pub use model::compare::{
    Comparison, DiffSet, PutBack, PutBackRecord, PutBackStatus, PutBackSummary, RowDiff,
    SkippedKey, Values, SAMPLE_ROWS,
};

/// What can go wrong comparing a table or putting rows back.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error(transparent)]
    Pg(#[from] PgError),
    /// A table name that is not `schema.table`.
    #[error(transparent)]
    Name(#[from] crate::toc::TocError),
    #[error("there is no table {table} in the {side} database {database:?}{similar}. Fix: {fix}")]
    NoTable {
        table: String,
        side: &'static str,
        database: String,
        similar: String,
        fix: String,
    },
    #[error("the columns of {table} differ between the scratch copy and the live table ({details}): the table's definition changed since the backup. Fix: make the scratch copy's columns match the live table's (ALTER TABLE in the scratch database), then compare again")]
    ColumnsDiffer { table: String, details: String },
    #[error("{table} has no key to match rows on in the {side} database {database:?}: {detail}. Fix: {fix}")]
    NoKey {
        table: String,
        side: &'static str,
        database: String,
        detail: String,
        fix: String,
    },
    #[error("reading {table} from the {side} database {database:?} failed: {detail}. Fix: check that the database is reachable and that pgshelf's user may read the table (GRANT SELECT), then compare again")]
    Query {
        table: String,
        side: &'static str,
        database: String,
        detail: String,
    },
    #[error("rows of {table} from the {side} database {database:?} did not arrive in key order ({detail}), so they cannot be merged. Fix: this is a bug in pgshelf (or a key whose text form is not unique); report it with the table's key column types")]
    Order {
        table: String,
        side: &'static str,
        database: String,
        detail: String,
    },
    #[error("nothing is picked to put back. Fix: pick all deleted rows, all changed rows, or rows by key")]
    NothingPicked,
    #[error("the selected key {key:?} has {got} value(s), and the key of {table} ({columns}) has {want}. Fix: give one value per key column, in that order")]
    BadKey {
        table: String,
        key: Vec<String>,
        columns: String,
        got: usize,
        want: usize,
    },
    #[error("writing the put-back script failed: {detail}. Fix: check free space and permissions where it is written, then try again")]
    Write { detail: String },
    #[error("putting rows back writes to the live database, so it needs the table's name typed to confirm: expected {expected:?}, got {got:?}. Fix: type {expected} exactly")]
    NotConfirmed { expected: String, got: String },
    #[error("who applies a put-back must be named (it is recorded). Fix: sign in, or pass the user's name")]
    NoWho,
    #[error("putting rows back into {table} in {database:?} failed, and its transaction was rolled back, so the live table is as it was: {detail}. Fix: {fix}")]
    Apply {
        table: String,
        database: String,
        detail: String,
        fix: String,
    },
}

impl CompareError {
    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            CompareError::Pg(e) => e.status(),
            CompareError::Name(e) => e.status(),
            CompareError::NoTable { .. } => 404,
            CompareError::ColumnsDiffer { .. } | CompareError::Apply { .. } => 409,
            CompareError::NoKey { .. }
            | CompareError::NothingPicked
            | CompareError::BadKey { .. }
            | CompareError::NotConfirmed { .. }
            | CompareError::NoWho => 422,
            CompareError::Query { .. }
            | CompareError::Order { .. }
            | CompareError::Write { .. } => 500,
        }
    }
}

// ---- names and literals (pure) ------------------------------------------

pub use crate::toc::TableRef;

/// `"schema"."table"` for a script line (see [`ident`]).
pub fn table_sql(t: &TableRef) -> String {
    format!("{}.{}", ident(&t.schema), ident(&t.name))
}

/// Quotes an identifier for a script line: `"a ""b"""`; a name holding a
/// control character (a newline, say) becomes a Unicode-escaped identifier
/// (`U&"a\000Ab"`), so every statement stays on one line.
pub fn ident(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return quote_ident(s);
    }
    escaped("U&\"", '"', s, |c, out| {
        let n = c as u32;
        if n <= 0xFFFF {
            out.push_str(&format!("\\{n:04X}"));
        } else {
            out.push_str(&format!("\\+{n:06X}"));
        }
    })
}

/// `prefix`, then `s` with `quote` and backslash doubled and each control
/// character written by `control`, then `quote`: the body of a Unicode
/// identifier (`U&"..."`) or an escape string (`E'...'`).
fn escaped(prefix: &str, quote: char, s: &str, control: impl Fn(char, &mut String)) -> String {
    let mut out = String::with_capacity(s.len() + prefix.len() + 1);
    out.push_str(prefix);
    for c in s.chars() {
        match c {
            c if c == quote => {
                out.push(quote);
                out.push(quote);
            }
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => control(c, &mut out),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// A string literal: `'it''s'`, or, when the value holds a control
/// character, an escape string (`E'line 1\nline 2'`, backslashes doubled)
/// so that every statement stays on one line. Plain literals assume
/// `standard_conforming_strings = on`, which the script sets.
pub fn literal(v: &str) -> String {
    if !v.chars().any(char::is_control) {
        let mut out = String::with_capacity(v.len() + 2);
        out.push('\'');
        for c in v.chars() {
            if c == '\'' {
                out.push('\'');
            }
            out.push(c);
        }
        out.push('\'');
        return out;
    }
    escaped("E'", '\'', v, |c, out| match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        c => {
            let n = c as u32;
            if n <= 0xFFFF {
                out.push_str(&format!("\\u{n:04X}"));
            } else {
                out.push_str(&format!("\\U{n:08X}"));
            }
        }
    })
}

/// A value cast to its column's type: `'42'::integer`, or `NULL`.
pub fn typed_literal(v: Option<&str>, type_sql: &str) -> String {
    match v {
        None => "NULL".to_owned(),
        Some(v) => format!("{}::{type_sql}", literal(v)),
    }
}

/// Text made safe for a `--` comment line: control characters shown as
/// `\n`, `\t` or `\u{..}`, so no name can end the comment and start SQL.
pub fn comment_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

// ---- table definitions and the key (pure planning) ----------------------

/// A column as the catalog of one side describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// `format_type()`, schema-qualified unless in `pg_catalog`.
    pub type_sql: String,
    pub not_null: bool,
    /// A generated column (stored or virtual): never inserted.
    pub generated: bool,
    /// `GENERATED ALWAYS AS IDENTITY`: inserted with `OVERRIDING SYSTEM VALUE`, never updated.
    pub identity_always: bool,
}

/// A unique index (or the primary key) of one side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniqueIndex {
    pub name: String,
    pub primary: bool,
    /// Not deferrable: `ON CONFLICT` can use it.
    pub immediate: bool,
    pub columns: Vec<String>,
}

/// One side's table as its catalog describes it.
#[derive(Debug, Clone)]
pub struct Shape {
    /// `r` (plain table, read with `ONLY`) or `p` (partitioned).
    pub relkind: String,
    pub columns: Vec<Column>,
    pub indexes: Vec<UniqueIndex>,
    /// The database's encoding is UTF-8 (key ordered with `COLLATE "C"`).
    pub utf8: bool,
}

impl Shape {
    /// Unique indexes that can match rows: no expression or predicate
    /// (already filtered by the query), every column NOT NULL.
    fn keys(&self) -> impl Iterator<Item = &UniqueIndex> {
        self.indexes.iter().filter(|i| {
            i.columns.iter().all(|c| {
                self.columns
                    .iter()
                    .any(|col| &col.name == c && col.not_null)
            })
        })
    }
}

/// How the two sides are read and merged: the live table's columns, and the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub columns: Vec<Column>,
    /// Positions in `columns` of the key's columns.
    pub key: Vec<usize>,
}

impl Plan {
    pub fn key_names(&self) -> Vec<String> {
        self.key
            .iter()
            .map(|&i| self.columns[i].name.clone())
            .collect()
    }

    pub fn column_names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    /// The key values of a row.
    pub fn key_of(&self, row: &Values) -> Vec<String> {
        self.key
            .iter()
            .map(|&i| row.get(i).cloned().flatten().unwrap_or_default())
            .collect()
    }

    /// `SELECT every column::text FROM table ORDER BY each key column,
    /// bytewise`, for one side.
    pub fn select_sql(&self, table: &TableRef, side: &Shape) -> String {
        let cols: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("{}::text", ident(&c.name)))
            .collect();
        let order: Vec<String> = self
            .key
            .iter()
            .map(|&i| {
                let c = ident(&self.columns[i].name);
                if side.utf8 {
                    format!("({c}::text) COLLATE \"C\"")
                } else {
                    format!("convert_to({c}::text, 'UTF8')")
                }
            })
            .collect();
        let only = if side.relkind == "p" { "" } else { "ONLY " };
        format!(
            "SELECT {} FROM {only}{} ORDER BY {}",
            cols.join(", "),
            table_sql(table),
            order.join(", ")
        )
    }
}

/// Checks that both sides have the same columns (names and types) and picks
/// the key: the live table's primary key, else its first unique index over
/// NOT NULL columns that `ON CONFLICT` can use, provided the scratch copy
/// has a unique index over the same columns too.
pub fn plan(
    table: &TableRef,
    scratch: &Shape,
    scratch_db: &str,
    live: &Shape,
    live_db: &str,
) -> Result<Plan, CompareError> {
    let mut details = Vec::new();
    for l in &live.columns {
        match scratch.columns.iter().find(|s| s.name == l.name) {
            None => details.push(format!("{} only live", quote_ident(&l.name))),
            Some(s) if s.type_sql != l.type_sql => details.push(format!(
                "{} is {} in the copy and {} live",
                quote_ident(&l.name),
                s.type_sql,
                l.type_sql
            )),
            Some(_) => {}
        }
    }
    for s in &scratch.columns {
        if !live.columns.iter().any(|l| l.name == s.name) {
            details.push(format!("{} only in the copy", quote_ident(&s.name)));
        }
    }
    if !details.is_empty() {
        return Err(CompareError::ColumnsDiffer {
            table: table.display(),
            details: comment_safe(&details.join("; ")),
        });
    }
    let same_set =
        |a: &[String], b: &[String]| a.len() == b.len() && a.iter().all(|c| b.contains(c));
    let live_keys: Vec<&UniqueIndex> = {
        let mut k: Vec<&UniqueIndex> = live.keys().filter(|i| i.immediate).collect();
        k.sort_by_key(|i| (!i.primary, i.columns.len(), i.name.clone()));
        k
    };
    if live_keys.is_empty() {
        let detail = if live.keys().next().is_some() {
            "its only unique key over NOT NULL columns is deferrable, which INSERT ... ON CONFLICT cannot use".to_owned()
        } else if live.indexes.is_empty() {
            "it has neither a primary key nor a unique index".to_owned()
        } else {
            "its unique indexes include NULLable columns, so they do not identify rows".to_owned()
        };
        return Err(CompareError::NoKey {
            table: table.display(),
            side: "live",
            database: live_db.to_owned(),
            detail,
            fix: format!(
                "give the live table a primary key (ALTER TABLE {} ADD PRIMARY KEY (...)) or a unique, not deferrable index over NOT NULL columns, in the scratch copy too, then compare again",
                table_sql(table)
            ),
        });
    }
    let scratch_keys: Vec<&UniqueIndex> = scratch.keys().collect();
    let Some(chosen) = live_keys.iter().find(|l| {
        scratch_keys
            .iter()
            .any(|s| same_set(&l.columns, &s.columns))
    }) else {
        let k = &live_keys[0];
        let cols: Vec<String> = k.columns.iter().map(|c| ident(c)).collect();
        return Err(CompareError::NoKey {
            table: table.display(),
            side: "scratch",
            database: scratch_db.to_owned(),
            detail: format!(
                "the copy has no unique index over the live table's key ({})",
                cols.join(", ")
            ),
            fix: format!(
                "in the scratch database, CREATE UNIQUE INDEX ON {} ({}) (and restore the table whole, with its constraints), then compare again",
                table_sql(table),
                cols.join(", ")
            ),
        });
    };
    let key = chosen
        .columns
        .iter()
        .filter_map(|c| live.columns.iter().position(|l| &l.name == c))
        .collect();
    Ok(Plan {
        columns: live.columns.clone(),
        key,
    })
}

// ---- the merge ------------------------------------------------------------

/// What the merge found for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Diff {
    /// Only in the scratch copy: deleted since the backup.
    Deleted(Values),
    /// Only live: added since the backup.
    Added(Values),
    /// On both sides; `changed` holds the positions of differing columns
    /// (empty: unchanged).
    Both {
        scratch: Values,
        live: Values,
        changed: Vec<usize>,
    },
}

/// Merges two row streams ordered by the key (bytewise), one row of each
/// side held at a time. Each side must arrive in strictly increasing key
/// order with no NULL in the key; otherwise [`Merge::next`] fails with
/// [`CompareError::Order`] instead of reporting a wrong difference.
pub struct Merge<S, L> {
    scratch: S,
    live: L,
    key: Vec<usize>,
    s_head: Option<Values>,
    l_head: Option<Values>,
    started: bool,
    table: String,
    scratch_db: String,
    live_db: String,
}

/// Compares two rows by key: values compared as bytes (as `COLLATE "C"`).
pub fn cmp_key(a: &Values, b: &Values, key: &[usize]) -> Ordering {
    for &i in key {
        let o = a
            .get(i)
            .map(|v| v.as_deref())
            .cmp(&b.get(i).map(|v| v.as_deref()));
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

impl<S, L> Merge<S, L>
where
    S: Stream<Item = Result<Values, CompareError>> + Unpin,
    L: Stream<Item = Result<Values, CompareError>> + Unpin,
{
    /// `table` and the database names are for messages only.
    pub fn new(
        scratch: S,
        live: L,
        key: Vec<usize>,
        table: &str,
        scratch_db: &str,
        live_db: &str,
    ) -> Self {
        Merge {
            scratch,
            live,
            key,
            s_head: None,
            l_head: None,
            started: false,
            table: table.to_owned(),
            scratch_db: scratch_db.to_owned(),
            live_db: live_db.to_owned(),
        }
    }

    fn order_error(&self, scratch_side: bool, detail: String) -> CompareError {
        CompareError::Order {
            table: self.table.clone(),
            side: if scratch_side { "scratch" } else { "live" },
            database: if scratch_side {
                self.scratch_db.clone()
            } else {
                self.live_db.clone()
            },
            detail,
        }
    }

    /// Reads the next row of one side and checks it against the previous.
    async fn pull(&mut self, scratch_side: bool) -> Result<Option<Values>, CompareError> {
        let next = if scratch_side {
            self.scratch.next().await
        } else {
            self.live.next().await
        }
        .transpose()?;
        if let Some(row) = &next {
            if self
                .key
                .iter()
                .any(|&i| !matches!(row.get(i), Some(Some(_))))
            {
                return Err(self.order_error(scratch_side, "a row with NULL in the key".into()));
            }
        }
        let head = if scratch_side {
            &mut self.s_head
        } else {
            &mut self.l_head
        };
        let old = std::mem::replace(head, next);
        let bad = match (&old, &*head) {
            (Some(o), Some(n)) if cmp_key(o, n, &self.key) != Ordering::Less => {
                let key: Vec<&str> = self
                    .key
                    .iter()
                    .map(|&i| n.get(i).and_then(|v| v.as_deref()).unwrap_or(""))
                    .collect();
                Some(format!("key {key:?} came after a key not below it"))
            }
            _ => None,
        };
        if let Some(detail) = bad {
            return Err(self.order_error(scratch_side, detail));
        }
        Ok(old)
    }

    /// The next difference (or unchanged row) in key order; `None` at the end.
    pub async fn next(&mut self) -> Result<Option<Diff>, CompareError> {
        if !self.started {
            self.started = true;
            self.pull(true).await?;
            self.pull(false).await?;
        }
        let order = match (&self.s_head, &self.l_head) {
            (None, None) => return Ok(None),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(s), Some(l)) => cmp_key(s, l, &self.key),
        };
        Ok(Some(match order {
            Ordering::Less => Diff::Deleted(self.pull(true).await?.unwrap_or_default()),
            Ordering::Greater => Diff::Added(self.pull(false).await?.unwrap_or_default()),
            Ordering::Equal => {
                let scratch = self.pull(true).await?.unwrap_or_default();
                let live = self.pull(false).await?.unwrap_or_default();
                let n = scratch.len().max(live.len());
                let changed = (0..n).filter(|&i| scratch.get(i) != live.get(i)).collect();
                Diff::Both {
                    scratch,
                    live,
                    changed,
                }
            }
        }))
    }
}

// ---- reading a side -------------------------------------------------------

/// One database to read or write: where it is and its name.
#[derive(Debug, Clone)]
pub struct Side {
    pub spec: ConnSpec,
    pub database: String,
}

/// Settings of every reading session, so both sides print values alike and
/// a type name is schema-qualified unless it is built in.
const READ_SESSION: &str = "SET default_transaction_read_only = on; \
    SET search_path = pg_catalog; SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; \
    SET IntervalStyle = 'postgres'; SET extra_float_digits = 3; SET bytea_output = 'hex'; \
    SET lc_monetary = 'C'; SET statement_timeout = 0";

/// The settings a script runs under, matching [`READ_SESSION`]'s output.
const SCRIPT_SETTINGS: &[&str] = &[
    "SET LOCAL standard_conforming_strings = on;",
    "SET LOCAL DateStyle = 'ISO, YMD';",
    "SET LOCAL IntervalStyle = 'postgres';",
    "SET LOCAL TimeZone = 'UTC';",
    "SET LOCAL lc_monetary = 'C';",
];

async fn open_read(
    side: &Side,
    which: &'static str,
    table: &TableRef,
) -> Result<PgConnection, CompareError> {
    let mut conn = side.spec.connect(&side.database).await?;
    // Scripts run through `Executor::execute` with a plain `&str` (the
    // simple query protocol, several statements allowed), not
    // `sqlx::raw_sql(..).execute(..)`, whose future rustc cannot prove
    // `Send` for the dashboard's handlers.
    sqlx::Executor::execute(&mut conn, READ_SESSION)
        .await
        .map_err(|e| query_error(table, which, side, e))?;
    Ok(conn)
}

fn query_error(table: &TableRef, which: &'static str, side: &Side, e: sqlx::Error) -> CompareError {
    let detail = match &e {
        sqlx::Error::Database(d) => d.message().to_owned(),
        other => other.to_string(),
    };
    CompareError::Query {
        table: table.display(),
        side: which,
        database: side.database.clone(),
        detail,
    }
}

/// The table's definition on one side, or [`CompareError::NoTable`] naming
/// the closest names there.
pub async fn shape(
    conn: &mut PgConnection,
    side: &Side,
    which: &'static str,
    table: &TableRef,
) -> Result<Shape, CompareError> {
    let qe = |e| query_error(table, which, side, e);
    let found: Option<(i64, String)> = sqlx::query_as(
        "SELECT c.oid::int8, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')",
    )
    .bind(&table.schema)
    .bind(&table.name)
    .fetch_optional(&mut *conn)
    .await
    .map_err(qe)?;
    let Some((oid, relkind)) = found else {
        let names: Vec<(String, String)> = sqlx::query_as(
            "SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                AND n.nspname NOT LIKE 'pg\\_toast%'",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(qe)?;
        let similar = closest(table, &names);
        return Err(CompareError::NoTable {
            table: table.display(),
            side: which,
            database: side.database.clone(),
            similar: if similar.is_empty() {
                String::new()
            } else {
                format!(" (closest: {})", similar.join(", "))
            },
            fix: if which == "scratch" {
                "restore that table into the scratch database first, or name a table it holds"
                    .into()
            } else {
                "check the name; if the live table was dropped or renamed since the backup, restore it whole instead of putting rows back".into()
            },
        });
    };
    let cols = sqlx::query(
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                a.attgenerated::text <> '', a.attidentity::text = 'a'
           FROM pg_attribute a
          WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 AND NOT a.attisdropped
          ORDER BY a.attnum",
    )
    .bind(oid)
    .fetch_all(&mut *conn)
    .await
    .map_err(qe)?;
    let columns = cols
        .iter()
        .map(|r| Column {
            name: r.get(0),
            type_sql: r.get(1),
            not_null: r.get(2),
            generated: r.get(3),
            identity_always: r.get(4),
        })
        .collect();
    let idx = sqlx::query(
        "SELECT ic.relname::text, i.indisprimary, i.indimmediate,
                array(SELECT a.attname::text
                        FROM generate_series(0, i.indnkeyatts - 1) k(n)
                        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k.n]
                       ORDER BY k.n)
           FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
          WHERE i.indrelid = $1::int8::oid AND i.indisunique AND i.indisvalid
            AND i.indpred IS NULL AND i.indexprs IS NULL
          ORDER BY 1",
    )
    .bind(oid)
    .fetch_all(&mut *conn)
    .await
    .map_err(qe)?;
    let indexes = idx
        .iter()
        .map(|r| UniqueIndex {
            name: r.get(0),
            primary: r.get(1),
            immediate: r.get(2),
            columns: r.get(3),
        })
        .collect();
    let encoding: String = sqlx::query_scalar("SELECT current_setting('server_encoding')")
        .fetch_one(&mut *conn)
        .await
        .map_err(qe)?;
    Ok(Shape {
        relkind,
        columns,
        indexes,
        utf8: encoding == "UTF8",
    })
}

/// Up to three tables whose `schema.name` is closest to the one asked for.
fn closest(want: &TableRef, names: &[(String, String)]) -> Vec<String> {
    let target = format!("{}.{}", want.schema, want.name).to_lowercase();
    let mut scored: Vec<(usize, String)> = names
        .iter()
        .map(|(s, n)| {
            let t = TableRef {
                schema: s.clone(),
                name: n.clone(),
            };
            let d = crate::toc::distance(&format!("{s}.{n}").to_lowercase(), &target);
            let d = if n.eq_ignore_ascii_case(&want.name) {
                0
            } else {
                d
            };
            (d, t.display())
        })
        .filter(|(d, _)| *d <= target.chars().count() / 2 + 1)
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, n)| n).collect()
}

/// Both sides opened, their definitions read and checked, the key chosen.
struct Opened {
    scratch: PgConnection,
    live: PgConnection,
    plan: Plan,
    scratch_sql: String,
    live_sql: String,
}

async fn open_pair(scratch: &Side, live: &Side, table: &TableRef) -> Result<Opened, CompareError> {
    let mut sc = open_read(scratch, "scratch", table).await?;
    let mut lc = open_read(live, "live", table).await?;
    let s_shape = shape(&mut sc, scratch, "scratch", table).await?;
    let l_shape = shape(&mut lc, live, "live", table).await?;
    let plan = plan(table, &s_shape, &scratch.database, &l_shape, &live.database)?;
    Ok(Opened {
        scratch_sql: plan.select_sql(table, &s_shape),
        live_sql: plan.select_sql(table, &l_shape),
        scratch: sc,
        live: lc,
        plan,
    })
}

/// A side's rows as a stream of text values (sqlx `fetch`: rows are read
/// as they are consumed, never collected).
fn rows<'c>(
    conn: &'c mut PgConnection,
    sql: &'c str,
    table: &'c TableRef,
    which: &'static str,
    side: &'c Side,
) -> impl Stream<Item = Result<Values, CompareError>> + Unpin + 'c {
    sqlx::query(sql).fetch(conn).map(move |r| {
        let row = r.map_err(|e| query_error(table, which, side, e))?;
        (0..row.len())
            .map(|i| row.try_get::<Option<String>, _>(i))
            .collect::<Result<Values, _>>()
            .map_err(|e| query_error(table, which, side, e))
    })
}

/// Compares `table` in the scratch copy with the live one: counts of rows
/// deleted, changed and added since the backup, with up to
/// [`SAMPLE_ROWS`] examples of each.
pub async fn compare_tables(
    scratch: &Side,
    live: &Side,
    table: &TableRef,
) -> Result<Comparison, CompareError> {
    let mut o = open_pair(scratch, live, table).await?;
    let mut c = Comparison {
        table: table.display(),
        key: o.plan.key_names(),
        columns: o.plan.column_names(),
        scratch_database: scratch.database.clone(),
        live_database: live.database.clone(),
        at: Utc::now(),
        scratch_rows: 0,
        live_rows: 0,
        unchanged: 0,
        deleted: DiffSet::default(),
        changed: DiffSet::default(),
        added: DiffSet::default(),
    };
    let plan = o.plan.clone();
    let display = table.display();
    let mut merge = Merge::new(
        rows(&mut o.scratch, &o.scratch_sql, table, "scratch", scratch),
        rows(&mut o.live, &o.live_sql, table, "live", live),
        plan.key.clone(),
        &display,
        &scratch.database,
        &live.database,
    );
    while let Some(d) = merge.next().await? {
        tally(&mut c, &plan, d);
    }
    drop(merge);
    let _ = o.scratch.close().await;
    let _ = o.live.close().await;
    Ok(c)
}

/// Counts one merge result into a comparison, keeping it as an example
/// while its set has fewer than [`SAMPLE_ROWS`].
pub fn tally(c: &mut Comparison, plan: &Plan, d: Diff) {
    fn keep(set: &mut DiffSet, make: impl FnOnce() -> RowDiff) {
        set.count += 1;
        if set.sample.len() < SAMPLE_ROWS {
            set.sample.push(make());
        }
    }
    match d {
        Diff::Deleted(row) => {
            c.scratch_rows += 1;
            keep(&mut c.deleted, || RowDiff {
                key: plan.key_of(&row),
                scratch: Some(row),
                live: None,
                changed_columns: Vec::new(),
            });
        }
        Diff::Added(row) => {
            c.live_rows += 1;
            keep(&mut c.added, || RowDiff {
                key: plan.key_of(&row),
                scratch: None,
                live: Some(row),
                changed_columns: Vec::new(),
            });
        }
        Diff::Both {
            scratch,
            live,
            changed,
        } => {
            c.scratch_rows += 1;
            c.live_rows += 1;
            if changed.is_empty() {
                c.unchanged += 1;
            } else {
                keep(&mut c.changed, || RowDiff {
                    key: plan.key_of(&scratch),
                    changed_columns: changed
                        .iter()
                        .filter_map(|&i| plan.columns.get(i).map(|col| col.name.clone()))
                        .collect(),
                    scratch: Some(scratch),
                    live: Some(live),
                });
            }
        }
    }
}

// ---- the put-back script --------------------------------------------------

/// Renders one row as `INSERT ... ON CONFLICT (key) DO UPDATE SET ...;`.
#[derive(Debug, Clone)]
pub struct Upsert {
    head: String,
    tail: String,
    /// Positions of the inserted columns (generated ones left out) and their types.
    inserted: Vec<(usize, String)>,
}

impl Upsert {
    pub fn new(table: &TableRef, plan: &Plan) -> Upsert {
        let inserted: Vec<(usize, String)> = plan
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.generated)
            .map(|(i, c)| (i, c.type_sql.clone()))
            .collect();
        let names: Vec<String> = inserted
            .iter()
            .map(|(i, _)| ident(&plan.columns[*i].name))
            .collect();
        let overriding = if plan.columns.iter().any(|c| c.identity_always) {
            " OVERRIDING SYSTEM VALUE"
        } else {
            ""
        };
        let key: Vec<String> = plan
            .key
            .iter()
            .map(|&i| ident(&plan.columns[i].name))
            .collect();
        let set: Vec<String> = plan
            .columns
            .iter()
            .enumerate()
            .filter(|(i, c)| !c.generated && !c.identity_always && !plan.key.contains(i))
            .map(|(_, c)| {
                let n = ident(&c.name);
                format!("{n} = EXCLUDED.{n}")
            })
            .collect();
        let action = if set.is_empty() {
            "DO NOTHING".to_owned()
        } else {
            format!("DO UPDATE SET {}", set.join(", "))
        };
        Upsert {
            head: format!(
                "INSERT INTO {} ({}){overriding} VALUES (",
                table_sql(table),
                names.join(", ")
            ),
            tail: format!(") ON CONFLICT ({}) {action};\n", key.join(", ")),
            inserted,
        }
    }

    /// Appends the statement for `row` (values in plan order) to `out`.
    pub fn render(&self, row: &Values, out: &mut String) {
        out.push_str(&self.head);
        for (n, (i, ty)) in self.inserted.iter().enumerate() {
            if n > 0 {
                out.push_str(", ");
            }
            out.push_str(&typed_literal(row.get(*i).and_then(|v| v.as_deref()), ty));
        }
        out.push_str(&self.tail);
    }
}

/// Writes text to the script's destination in chunks, hashing and counting it.
struct ScriptOut<W> {
    out: W,
    buf: String,
    hash: Sha256,
    bytes: u64,
}

impl<W: AsyncWrite + Unpin> ScriptOut<W> {
    const CHUNK: usize = 256 * 1024;

    async fn maybe_flush(&mut self) -> Result<(), CompareError> {
        if self.buf.len() >= Self::CHUNK {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), CompareError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.hash.update(self.buf.as_bytes());
        self.bytes += self.buf.len() as u64;
        self.out
            .write_all(self.buf.as_bytes())
            .await
            .map_err(|e| CompareError::Write {
                detail: e.to_string(),
            })?;
        self.buf.clear();
        Ok(())
    }

    fn comment(&mut self, line: &str) {
        self.buf.push_str("-- ");
        self.buf.push_str(&comment_safe(line));
        self.buf.push('\n');
    }
}

/// Writes the put-back script for the picked rows of `table` into `out`,
/// streaming a second merge of both sides: `header` lines as comments,
/// then `BEGIN;`, the session settings, one `INSERT ... ON CONFLICT (key)
/// DO UPDATE` per row put back (values from the scratch copy), a comment
/// with the counts, and `COMMIT;`. One statement per line. Rows added since
/// the backup are never touched.
pub async fn write_put_back<W: AsyncWrite + Unpin>(
    scratch: &Side,
    live: &Side,
    table: &TableRef,
    pick: &PutBack,
    header: &[String],
    out: W,
) -> Result<PutBackSummary, CompareError> {
    if pick.is_empty() {
        return Err(CompareError::NothingPicked);
    }
    let mut o = open_pair(scratch, live, table).await?;
    let plan = o.plan.clone();
    let key_names = plan.key_names();
    let mut wanted: BTreeSet<Vec<String>> = BTreeSet::new();
    for k in &pick.keys {
        if k.len() != plan.key.len() {
            return Err(CompareError::BadKey {
                table: table.display(),
                key: k.clone(),
                columns: key_names
                    .iter()
                    .map(|c| ident(c))
                    .collect::<Vec<_>>()
                    .join(", "),
                got: k.len(),
                want: plan.key.len(),
            });
        }
        wanted.insert(k.clone());
    }
    let upsert = Upsert::new(table, &plan);
    let mut w = ScriptOut {
        out,
        buf: String::new(),
        hash: Sha256::new(),
        bytes: 0,
    };
    for line in header {
        for l in line.lines() {
            w.comment(l);
        }
    }
    w.buf.push_str("BEGIN;\n");
    for s in SCRIPT_SETTINGS {
        w.buf.push_str(s);
        w.buf.push('\n');
    }
    let mut summary = PutBackSummary::default();
    let display = table.display();
    let mut merge = Merge::new(
        rows(&mut o.scratch, &o.scratch_sql, table, "scratch", scratch),
        rows(&mut o.live, &o.live_sql, table, "live", live),
        plan.key.clone(),
        &display,
        &scratch.database,
        &live.database,
    );
    while let Some(d) = merge.next().await? {
        let selected = |row: &Values, wanted: &mut BTreeSet<Vec<String>>| {
            !wanted.is_empty() && wanted.remove(&plan.key_of(row))
        };
        match d {
            Diff::Deleted(row) => {
                if selected(&row, &mut wanted) || pick.deleted {
                    upsert.render(&row, &mut w.buf);
                    summary.deleted += 1;
                }
            }
            Diff::Both {
                scratch, changed, ..
            } => {
                let chosen = selected(&scratch, &mut wanted);
                if changed.is_empty() {
                    if chosen {
                        summary.skipped.push(SkippedKey {
                            key: plan.key_of(&scratch),
                            reason: "unchanged since the backup".into(),
                        });
                    }
                } else if chosen || pick.changed {
                    upsert.render(&scratch, &mut w.buf);
                    summary.changed += 1;
                }
            }
            Diff::Added(row) => {
                if selected(&row, &mut wanted) {
                    summary.skipped.push(SkippedKey {
                        key: plan.key_of(&row),
                        reason: "added since the backup: the backup has no such row to put back"
                            .into(),
                    });
                }
            }
        }
        w.maybe_flush().await?;
    }
    drop(merge);
    for key in wanted {
        summary.skipped.push(SkippedKey {
            key,
            reason: "in neither the backup's copy nor the live table".into(),
        });
    }
    w.comment(&format!(
        "{} row(s) put back: {} deleted since the backup (inserted again), {} changed since the backup (set back to the backup's values).",
        summary.rows(),
        summary.deleted,
        summary.changed
    ));
    w.buf.push_str("COMMIT;\n");
    w.flush().await?;
    w.out.flush().await.map_err(|e| CompareError::Write {
        detail: e.to_string(),
    })?;
    summary.bytes = w.bytes;
    summary.sha256 = hex::encode(w.hash.finalize());
    let _ = o.scratch.close().await;
    let _ = o.live.close().await;
    Ok(summary)
}

/// Settings of the session that applies a put-back.
const APPLY_SESSION: &str = "SET lock_timeout = '30s'; SET statement_timeout = 0";

/// How many bytes of statements [`apply_script`] sends per round trip (at most).
const APPLY_BATCH_BYTES: usize = 1 << 20;

/// Runs a script made by [`write_put_back`] on the live database in one
/// transaction: its statements in order, then, before `COMMIT`, the rows
/// this transaction inserted into and updated in the table (its partitions
/// summed) from PostgreSQL's own per-session counters. Any failure rolls
/// everything back. Returns (inserted, updated).
pub async fn apply_script(
    live: &Side,
    table: &TableRef,
    script: &Path,
) -> Result<(u64, u64), CompareError> {
    let file = tokio::fs::File::open(script)
        .await
        .map_err(|e| CompareError::Write {
            detail: format!("cannot read the script back: {e}"),
        })?;
    let mut lines = tokio::io::BufReader::new(file).lines();
    let mut conn = live.spec.connect(&live.database).await?;
    // A live row locked by someone else fails the put-back after a while
    // instead of hanging it.
    if let Err(e) = sqlx::Executor::execute(&mut conn, APPLY_SESSION).await {
        let _ = conn.close().await;
        return Err(CompareError::Apply {
            table: table.display(),
            database: live.database.clone(),
            detail: db_message(&e),
            fix: "check that pgshelf's user may connect to and write the live database".into(),
        });
    }
    let outcome = run_script(&mut conn, &mut lines, live, table).await;
    if outcome.is_err() {
        let _ = sqlx::Executor::execute(&mut conn, "ROLLBACK").await;
    }
    let _ = conn.close().await;
    outcome
}

async fn run_script<R: tokio::io::AsyncBufRead + Unpin>(
    conn: &mut PgConnection,
    lines: &mut tokio::io::Lines<R>,
    live: &Side,
    table: &TableRef,
) -> Result<(u64, u64), CompareError> {
    let failed = |detail: String, fix: &str| CompareError::Apply {
        table: table.display(),
        database: live.database.clone(),
        detail,
        fix: fix.to_owned(),
    };
    let db = |e: sqlx::Error| {
        failed(
            db_message(&e),
            "read the cause: a row that now conflicts on another unique index, a trigger or a check constraint of the live table may refuse a row (fix that row live, or leave it out of the put-back); a lock timeout means another session held the rows for 30 s; then apply again",
        )
    };
    let not_ours = "apply a script pgshelf made, unchanged";
    let mut batch = String::new();
    let mut base = None;
    while let Some(line) = lines.next_line().await.map_err(|e| CompareError::Write {
        detail: format!("cannot read the script back: {e}"),
    })? {
        let line = line.trim();
        if line.is_empty() || line.starts_with("--") {
            continue;
        }
        if line == "BEGIN;" && base.is_none() {
            sqlx::Executor::execute(&mut *conn, "BEGIN")
                .await
                .map_err(db)?;
            // Counts this session has not reported yet stay in the
            // counters; only the difference is this transaction's.
            base = Some(row_counters(conn, table).await.map_err(db)?);
            continue;
        }
        let Some((ins0, upd0)) = base else {
            return Err(failed(
                "the script does not start its transaction with BEGIN".into(),
                not_ours,
            ));
        };
        if line == "COMMIT;" {
            if !batch.is_empty() {
                sqlx::Executor::execute(&mut *conn, batch.as_str())
                    .await
                    .map_err(db)?;
            }
            let (ins, upd) = row_counters(conn, table).await.map_err(db)?;
            sqlx::Executor::execute(&mut *conn, "COMMIT")
                .await
                .map_err(db)?;
            return Ok(((ins - ins0).max(0) as u64, (upd - upd0).max(0) as u64));
        }
        batch.push_str(line);
        batch.push('\n');
        if batch.len() >= APPLY_BATCH_BYTES {
            sqlx::Executor::execute(&mut *conn, batch.as_str())
                .await
                .map_err(db)?;
            batch.clear();
        }
    }
    Err(failed("the script ends without COMMIT".into(), not_ours))
}

/// This session's row counters of the table, its partitions summed:
/// (inserted, updated), including what the open transaction did.
async fn row_counters(
    conn: &mut PgConnection,
    table: &TableRef,
) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT coalesce(sum(pg_stat_get_xact_tuples_inserted(t.relid)), 0)::int8,
                coalesce(sum(pg_stat_get_xact_tuples_updated(t.relid)), 0)::int8
           FROM (SELECT c.oid AS relid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = $1 AND c.relname = $2) r,
                LATERAL (SELECT r.relid UNION SELECT relid FROM pg_partition_tree(r.relid)) t",
    )
    .bind(&table.schema)
    .bind(&table.name)
    .fetch_one(&mut *conn)
    .await
}

fn db_message(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => {
            let mut m = d.message().to_owned();
            if let Some(pg) = d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                if let Some(detail) = pg.detail() {
                    m.push_str(" (");
                    m.push_str(detail);
                    m.push(')');
                }
            }
            m
        }
        other => other.to_string(),
    }
}

// ---- the facade -----------------------------------------------------------

/// A scratch copy and the live database to compare it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The server holding the scratch database.
    pub scratch_server_id: i64,
    /// The scratch database (a restored copy).
    pub scratch: String,
    /// The server holding the live database.
    pub live_server_id: i64,
    /// The live database the copy came from.
    pub live: String,
    /// The backup the copy was restored from, when pgshelf made it.
    pub backup_id: Option<i64>,
}

struct Resolved {
    scratch: Side,
    live: Side,
    scratch_server: String,
    live_server: String,
}

impl Engine {
    async fn resolve_pair(&self, pair: &Pair) -> Result<Resolved, Error> {
        let (srow, sspec) = self.spec(pair.scratch_server_id).await?;
        let (lrow, lspec) = self.spec(pair.live_server_id).await?;
        Ok(Resolved {
            scratch: Side {
                spec: sspec,
                database: pair.scratch.clone(),
            },
            live: Side {
                spec: lspec,
                database: pair.live.clone(),
            },
            scratch_server: srow.name,
            live_server: lrow.name,
        })
    }

    /// The scratch database `scratch` recorded by pgshelf and the live
    /// database it was restored from: the backup's database on the backup's
    /// server (the scratch's own server when the backup's server is gone).
    pub async fn scratch_pair(&self, scratch: &str) -> Result<Pair, Error> {
        let rec = self.inner.catalog.scratch_by_name(scratch).await?;
        let live_server = match self.inner.catalog.backup(rec.backup_id).await {
            Ok(b) => b.server_id.unwrap_or(rec.server_id),
            Err(_) => rec.server_id,
        };
        Ok(Pair {
            scratch_server_id: rec.server_id,
            scratch: rec.name,
            live_server_id: live_server,
            live: rec.database,
            backup_id: Some(rec.backup_id),
        })
    }

    /// Compares `table` (`SCHEMA.TABLE`) in a scratch database pgshelf
    /// restored with the same table in the live database it came from.
    pub async fn compare(&self, scratch: &str, table: &str) -> Result<Comparison, Error> {
        let pair = self.scratch_pair(scratch).await?;
        self.compare_pair(&pair, table).await
    }

    /// [`Engine::put_back_script_pair`] for a scratch database pgshelf restored.
    pub async fn put_back_script<W: AsyncWrite + Unpin>(
        &self,
        scratch: &str,
        table: &str,
        pick: &PutBack,
        seen: Option<&Comparison>,
        out: W,
    ) -> Result<PutBackSummary, Error> {
        let pair = self.scratch_pair(scratch).await?;
        self.put_back_script_pair(&pair, table, pick, seen, out)
            .await
    }

    /// [`Engine::apply_put_back_pair`] for a scratch database pgshelf
    /// restored (an admin action: the caller checks the role).
    pub async fn apply_put_back(
        &self,
        scratch: &str,
        table: &str,
        pick: &PutBack,
        confirm: &str,
        who: &str,
    ) -> Result<PutBackRecord, Error> {
        let pair = self.scratch_pair(scratch).await?;
        self.apply_put_back_pair(&pair, table, pick, confirm, who)
            .await
    }

    /// Compares `table` (`SCHEMA.TABLE`) in a scratch copy with the live
    /// database: rows deleted, changed and added since the backup.
    pub async fn compare_pair(&self, pair: &Pair, table: &str) -> Result<Comparison, Error> {
        let table = TableRef::parse(table).map_err(CompareError::from)?;
        let r = self.resolve_pair(pair).await?;
        Ok(compare_tables(&r.scratch, &r.live, &table).await?)
    }

    /// Writes the put-back script for the picked rows into `out` (a file,
    /// a streamed download), streamed; nothing is changed. Its header gives
    /// the counts of `seen` (the comparison the user looked at, when it was
    /// of this table in this pair), else of a fresh comparison.
    pub async fn put_back_script_pair<W: AsyncWrite + Unpin>(
        &self,
        pair: &Pair,
        table: &str,
        pick: &PutBack,
        seen: Option<&Comparison>,
        out: W,
    ) -> Result<PutBackSummary, Error> {
        let table = TableRef::parse(table).map_err(CompareError::from)?;
        if pick.is_empty() {
            return Err(CompareError::NothingPicked.into());
        }
        let r = self.resolve_pair(pair).await?;
        let fresh;
        let c = match seen {
            Some(c)
                if c.table == table.display()
                    && c.scratch_database == pair.scratch
                    && c.live_database == pair.live =>
            {
                c
            }
            _ => {
                fresh = compare_tables(&r.scratch, &r.live, &table).await?;
                &fresh
            }
        };
        let header = self.script_header(pair, &r, &table, pick, c).await;
        Ok(write_put_back(&r.scratch, &r.live, &table, pick, &header, out).await?)
    }

    /// Puts the picked rows back into the live table (an admin action: the
    /// caller checks the role). `confirm` must be the table's name exactly
    /// as [`TableRef::display`] writes it (`schema.table`). The script is
    /// made as [`Engine::put_back_script_pair`] makes it, recorded with its
    /// sha256, and run in one transaction; the record says how it ended.
    pub async fn apply_put_back_pair(
        &self,
        pair: &Pair,
        table: &str,
        pick: &PutBack,
        confirm: &str,
        who: &str,
    ) -> Result<PutBackRecord, Error> {
        let table = TableRef::parse(table).map_err(CompareError::from)?;
        let expected = table.display();
        if confirm != expected {
            return Err(CompareError::NotConfirmed {
                expected,
                got: confirm.to_owned(),
            }
            .into());
        }
        if who.trim().is_empty() {
            return Err(CompareError::NoWho.into());
        }
        if pick.is_empty() {
            return Err(CompareError::NothingPicked.into());
        }
        let r = self.resolve_pair(pair).await?;
        let c = compare_tables(&r.scratch, &r.live, &table).await?;
        let header = self.script_header(pair, &r, &table, pick, &c).await;
        let spool = &self.inner.ctx.spool_dir;
        let write_err = |e: std::io::Error| CompareError::Write {
            detail: format!("{}: {e}", spool.display()),
        };
        std::fs::create_dir_all(spool).map_err(write_err)?;
        let tmp = tempfile::Builder::new()
            .prefix("put-back-")
            .suffix(".sql")
            .tempfile_in(spool)
            .map_err(write_err)?;
        let file = tokio::fs::File::create(tmp.path())
            .await
            .map_err(write_err)?;
        let summary = write_put_back(
            &r.scratch,
            &r.live,
            &table,
            pick,
            &header,
            tokio::io::BufWriter::new(file),
        )
        .await?;
        let rec = self
            .inner
            .catalog
            .insert_put_back(&NewPutBack {
                who: who.to_owned(),
                server_id: pair.live_server_id,
                database: pair.live.clone(),
                scratch: pair.scratch.clone(),
                table: expected,
                sha256: summary.sha256.clone(),
            })
            .await?;
        match apply_script(&r.live, &table, tmp.path()).await {
            Ok((ins, upd)) => {
                tracing::info!(
                    "put-back {}: {who} put {} row(s) of {} back into {}/{} ({ins} inserted, {upd} updated) from {}",
                    rec.id,
                    summary.rows(),
                    table,
                    r.live_server,
                    pair.live,
                    pair.scratch
                );
                Ok(self
                    .inner
                    .catalog
                    .finish_put_back(rec.id, PutBackStatus::Succeeded, ins, upd, None)
                    .await?)
            }
            Err(e) => {
                let msg = e.to_string();
                tracing::warn!("put-back {} failed: {msg}", rec.id);
                self.inner
                    .catalog
                    .finish_put_back(rec.id, PutBackStatus::Failed, 0, 0, Some(&msg))
                    .await?;
                Err(e.into())
            }
        }
    }

    /// Recorded put-backs, newest first (of one live database when given).
    pub async fn put_backs(
        &self,
        server_id: Option<i64>,
        database: Option<&str>,
    ) -> Result<Vec<PutBackRecord>, Error> {
        Ok(self
            .inner
            .catalog
            .put_backs(server_id, database, 200)
            .await?)
    }

    /// The comment lines heading a put-back script.
    async fn script_header(
        &self,
        pair: &Pair,
        r: &Resolved,
        table: &TableRef,
        pick: &PutBack,
        c: &Comparison,
    ) -> Vec<String> {
        let backup = match pair.backup_id {
            Some(id) => match self.inner.catalog.backup(id).await {
                Ok(b) => format!(
                    " (restored from backup {id}{})",
                    b.started_at
                        .map(|t| format!(" of {} UTC", t.format("%Y-%m-%d %H:%M")))
                        .unwrap_or_default()
                ),
                Err(_) => format!(" (restored from backup {id})"),
            },
            None => String::new(),
        };
        let now: DateTime<Utc> = Utc::now();
        vec![
            format!("pgshelf put-back script for {}", table.display()),
            format!(
                "From: the scratch database {:?} on server {:?}{backup}",
                pair.scratch, r.scratch_server
            ),
            format!(
                "Into: the live database {:?} on server {:?}",
                pair.live, r.live_server
            ),
            format!(
                "Comparison at {} UTC on key ({}): {} row(s) in the copy, {} live; {} deleted since the backup, {} changed, {} added since (added rows are left alone), {} unchanged.",
                c.at.format("%Y-%m-%d %H:%M:%S"),
                c.key.join(", "),
                c.scratch_rows,
                c.live_rows,
                c.deleted.count,
                c.changed.count,
                c.added.count,
                c.unchanged
            ),
            format!("Puts back: {}.", pick.describe()),
            format!(
                "Generated {} UTC by pgshelf {}. Each row is INSERT ... ON CONFLICT (key) DO UPDATE with the backup's values, all in one transaction.",
                now.format("%Y-%m-%d %H:%M:%S"),
                env!("CARGO_PKG_VERSION")
            ),
            format!(
                "Review it, then run: psql -X -v ON_ERROR_STOP=1 -f THIS_FILE \"host={} port={} user={} dbname={}\"",
                r.live.spec.host,
                r.live.spec.port,
                r.live.spec.user,
                pair.live
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str, n: &str) -> TableRef {
        TableRef {
            schema: s.into(),
            name: n.into(),
        }
    }

    #[test]
    fn table_names_for_script_lines() {
        assert_eq!(
            table_sql(&t("Audit Log", "My \"Odd\" Table")),
            r#""Audit Log"."My ""Odd"" Table""#
        );
        assert_eq!(table_sql(&t("s", "a\nb")), r#""s".U&"a\000Ab""#);
    }

    #[test]
    fn literals_quote_and_stay_on_one_line() {
        assert_eq!(literal("plain"), "'plain'");
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(literal(r"back\slash"), r"'back\slash'");
        assert_eq!(literal(""), "''");
        assert_eq!(literal("ünï"), "'ünï'");
        assert_eq!(literal("a\nb's\\"), r"E'a\nb''s\\'");
        assert_eq!(literal("t\tr\r\u{1}"), r"E't\tr\r\u0001'");
        assert_eq!(typed_literal(None, "integer"), "NULL");
        assert_eq!(
            typed_literal(Some("{\"a\": 1}"), "jsonb"),
            "'{\"a\": 1}'::jsonb"
        );
        assert_eq!(
            typed_literal(Some("x"), "\"my schema\".mood"),
            "'x'::\"my schema\".mood"
        );
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(ident("a\nb\\"), r#"U&"a\000Ab\\""#);
        assert!(!comment_safe("x\nDROP TABLE y;").contains('\n'));
    }

    fn col(name: &str, ty: &str, not_null: bool) -> Column {
        Column {
            name: name.into(),
            type_sql: ty.into(),
            not_null,
            generated: false,
            identity_always: false,
        }
    }

    fn idx(name: &str, primary: bool, cols: &[&str]) -> UniqueIndex {
        UniqueIndex {
            name: name.into(),
            primary,
            immediate: true,
            columns: cols.iter().map(|c| c.to_string()).collect(),
        }
    }

    fn shape(columns: Vec<Column>, indexes: Vec<UniqueIndex>) -> Shape {
        Shape {
            relkind: "r".into(),
            columns,
            indexes,
            utf8: true,
        }
    }

    #[test]
    fn plan_picks_the_key_and_names_differences() {
        let tb = t("s", "t");
        let cols = vec![
            col("id", "integer", true),
            col("code", "text", true),
            col("note", "text", false),
        ];
        let s = shape(cols.clone(), vec![idx("t_pkey", true, &["code", "id"])]);
        let p = plan(&tb, &s, "scratch", &s, "live").unwrap();
        assert_eq!(p.key_names(), vec!["code", "id"]);
        assert_eq!(p.key, vec![1, 0]);
        assert_eq!(
            p.select_sql(&tb, &s),
            r#"SELECT "id"::text, "code"::text, "note"::text FROM ONLY "s"."t" ORDER BY ("code"::text) COLLATE "C", ("id"::text) COLLATE "C""#
        );
        let latin = Shape {
            utf8: false,
            relkind: "p".into(),
            ..s.clone()
        };
        assert!(p
            .select_sql(&tb, &latin)
            .ends_with(r#"FROM "s"."t" ORDER BY convert_to("code"::text, 'UTF8'), convert_to("id"::text, 'UTF8')"#));

        // A unique index over NOT NULL columns when there is no primary key;
        // one over a NULLable column is no key.
        let u = shape(
            cols.clone(),
            vec![
                idx("t_note", false, &["note"]),
                idx("t_code", false, &["code"]),
            ],
        );
        assert_eq!(
            plan(&tb, &u, "a", &u, "b").unwrap().key_names(),
            vec!["code"]
        );
        let none = shape(cols.clone(), vec![idx("t_note", false, &["note"])]);
        let e = plan(&tb, &none, "a", &none, "b").unwrap_err().to_string();
        assert!(
            e.contains("NULLable") && e.contains("ADD PRIMARY KEY"),
            "{e}"
        );
        let bare = shape(cols.clone(), vec![]);
        let e = plan(&tb, &bare, "a", &bare, "b").unwrap_err().to_string();
        assert!(
            e.contains("neither a primary key nor a unique index"),
            "{e}"
        );
        // The copy lacks the key.
        let e = plan(&tb, &bare, "a", &s, "b").unwrap_err().to_string();
        assert!(
            e.contains("scratch database") && e.contains("CREATE UNIQUE INDEX"),
            "{e}"
        );

        // Columns that differ are named.
        let mut other = cols.clone();
        other[2].type_sql = "varchar(10)".into();
        other.push(col("extra", "int", false));
        let o = shape(other, vec![idx("t_pkey", true, &["code", "id"])]);
        let e = plan(&tb, &o, "a", &s, "b").unwrap_err().to_string();
        assert!(
            e.contains(r#""note" is varchar(10) in the copy and text live"#)
                && e.contains(r#""extra" only in the copy"#),
            "{e}"
        );
    }

    #[test]
    fn upsert_statements() {
        let tb = t("s", "t");
        let mut cols = vec![
            col("id", "bigint", true),
            col("amount", "numeric(10,2)", false),
            col("total", "numeric", false),
            col("note", "text", false),
        ];
        cols[0].identity_always = true;
        cols[2].generated = true;
        let p = Plan {
            columns: cols,
            key: vec![0],
        };
        let u = Upsert::new(&tb, &p);
        let mut out = String::new();
        u.render(
            &vec![
                Some("7".into()),
                Some("1.50".into()),
                Some("3.00".into()),
                None,
            ],
            &mut out,
        );
        assert_eq!(
            out,
            "INSERT INTO \"s\".\"t\" (\"id\", \"amount\", \"note\") OVERRIDING SYSTEM VALUE VALUES ('7'::bigint, '1.50'::numeric(10,2), NULL) ON CONFLICT (\"id\") DO UPDATE SET \"amount\" = EXCLUDED.\"amount\", \"note\" = EXCLUDED.\"note\";\n"
        );
        let only_key = Plan {
            columns: vec![col("a", "text", true)],
            key: vec![0],
        };
        let mut out = String::new();
        Upsert::new(&tb, &only_key).render(&vec![Some("x'y".into())], &mut out);
        assert_eq!(
            out,
            "INSERT INTO \"s\".\"t\" (\"a\") VALUES ('x''y'::text) ON CONFLICT (\"a\") DO NOTHING;\n"
        );
    }

    fn row(vals: &[Option<&str>]) -> Values {
        vals.iter().map(|v| v.map(str::to_owned)).collect()
    }

    fn stream(rows: Vec<Values>) -> impl Stream<Item = Result<Values, CompareError>> + Unpin {
        futures::stream::iter(rows.into_iter().map(Ok))
    }

    async fn run(
        s: Vec<Values>,
        l: Vec<Values>,
        key: Vec<usize>,
    ) -> Result<Vec<Diff>, CompareError> {
        let mut m = Merge::new(stream(s), stream(l), key, "t", "a", "b");
        let mut out = Vec::new();
        while let Some(d) = m.next().await? {
            out.push(d);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn merge_finds_each_kind() {
        // Composite key (a, b) at positions 0 and 1; bytewise order, so
        // "10" < "9" and "B" < "a".
        let s = vec![
            row(&[Some("1"), Some("B"), Some("x")]),
            row(&[Some("1"), Some("a"), Some("y")]),
            row(&[Some("10"), Some("a"), None]),
            row(&[Some("9"), Some("a"), Some("z")]),
        ];
        let l = vec![
            row(&[Some("1"), Some("a"), Some("y")]),
            row(&[Some("10"), Some("a"), Some("now")]),
            row(&[Some("2"), Some("a"), Some("new")]),
            row(&[Some("9"), Some("a"), Some("z")]),
            row(&[Some("99"), Some("a"), Some("new")]),
        ];
        let d = run(s, l, vec![0, 1]).await.unwrap();
        assert_eq!(
            d,
            vec![
                Diff::Deleted(row(&[Some("1"), Some("B"), Some("x")])),
                Diff::Both {
                    scratch: row(&[Some("1"), Some("a"), Some("y")]),
                    live: row(&[Some("1"), Some("a"), Some("y")]),
                    changed: vec![]
                },
                Diff::Both {
                    scratch: row(&[Some("10"), Some("a"), None]),
                    live: row(&[Some("10"), Some("a"), Some("now")]),
                    changed: vec![2]
                },
                Diff::Added(row(&[Some("2"), Some("a"), Some("new")])),
                Diff::Both {
                    scratch: row(&[Some("9"), Some("a"), Some("z")]),
                    live: row(&[Some("9"), Some("a"), Some("z")]),
                    changed: vec![]
                },
                Diff::Added(row(&[Some("99"), Some("a"), Some("new")])),
            ]
        );
        // Empty sides.
        assert!(run(vec![], vec![], vec![0]).await.unwrap().is_empty());
        assert_eq!(
            run(vec![row(&[Some("a")])], vec![], vec![0]).await.unwrap(),
            vec![Diff::Deleted(row(&[Some("a")]))]
        );
        assert_eq!(
            run(vec![], vec![row(&[Some("a")])], vec![0]).await.unwrap(),
            vec![Diff::Added(row(&[Some("a")]))]
        );
    }

    #[tokio::test]
    async fn merge_refuses_out_of_order_or_null_keys() {
        let e = run(vec![row(&[Some("b")]), row(&[Some("a")])], vec![], vec![0])
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                CompareError::Order {
                    side: "scratch",
                    ..
                }
            ),
            "{e}"
        );
        let e = run(vec![], vec![row(&[Some("a")]), row(&[Some("a")])], vec![0])
            .await
            .unwrap_err();
        assert!(matches!(e, CompareError::Order { side: "live", .. }), "{e}");
        let e = run(vec![row(&[None])], vec![], vec![0]).await.unwrap_err();
        assert!(e.to_string().contains("NULL in the key"), "{e}");
    }

    #[tokio::test]
    async fn merge_streams_many_rows_and_tallies() {
        // 100k rows per side from generators: nothing is collected.
        let n = 100_000u32;
        let key = |i: u32| format!("{i:08}");
        let s = futures::stream::iter(
            (0..n)
                .filter(|i| i % 10 != 3)
                .map(move |i| Ok(vec![Some(key(i)), Some(format!("v{i}"))])),
        );
        let l = futures::stream::iter((0..n).filter(|i| i % 10 != 7).map(move |i| {
            let v = if i % 100 == 5 {
                format!("w{i}")
            } else {
                format!("v{i}")
            };
            Ok(vec![Some(key(i)), Some(v)])
        }));
        let plan = Plan {
            columns: vec![col("k", "text", true), col("v", "text", false)],
            key: vec![0],
        };
        let mut c = Comparison {
            table: "s.t".into(),
            key: plan.key_names(),
            columns: plan.column_names(),
            scratch_database: "a".into(),
            live_database: "b".into(),
            at: Utc::now(),
            scratch_rows: 0,
            live_rows: 0,
            unchanged: 0,
            deleted: DiffSet::default(),
            changed: DiffSet::default(),
            added: DiffSet::default(),
        };
        let mut m = Merge::new(s, l, vec![0], "t", "a", "b");
        while let Some(d) = m.next().await.unwrap() {
            tally(&mut c, &plan, d);
        }
        assert_eq!(c.scratch_rows, 90_000);
        assert_eq!(c.live_rows, 90_000);
        assert_eq!(c.deleted.count, 10_000);
        assert_eq!(c.added.count, 10_000);
        assert_eq!(c.changed.count, 1_000);
        assert_eq!(c.unchanged, 80_000 - 1_000);
        assert_eq!(c.deleted.sample.len(), SAMPLE_ROWS);
        assert_eq!(c.deleted.sample[0].key, vec![key(7)]);
        assert_eq!(c.changed.sample[0].changed_columns, vec!["v"]);
        assert_eq!(c.added.sample[0].key, vec![key(3)]);
    }
}
