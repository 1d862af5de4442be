//! Schema changes between two backups of a database, from their tables of
//! contents (pure).
//!
//! The engine maps each TOC entry of an archive to a [`SchemaObject`]
//! (pg_dump's `desc`, namespace, tag and definition); [`diff`] compares two
//! such lists and says what was added, dropped or changed. Objects are known
//! by kind, schema and name (a function's name holds its argument types, a
//! trigger's or constraint's its table), so an overload or a trigger of
//! another table is another object.
//!
//! - Tables (and foreign tables) also list their columns: [`columns_of`]
//!   reads them from the `CREATE TABLE` text pg_dump wrote (quoted names,
//!   defaults holding commas and parentheses, arrays, `GENERATED ... AS`,
//!   constraint lines that are not columns, `PARTITION BY` after the list).
//!   A changed table says which columns were added, dropped, retyped, or
//!   otherwise altered (default, `NOT NULL`, collation, generation).
//! - Data entries (`TABLE DATA`, `SEQUENCE SET`, large objects), the
//!   archive's session settings (`ENCODING`, `SEARCHPATH`, ...), comments
//!   and security labels are not schema and are left out. Owners are not
//!   compared (a `TocEntry`'s owner is not part of its definition).
//! - Grants (`ACL`, `DEFAULT ACL` entries) are compared as sets of
//!   statements and reported as one [`GRANT`] change per object whose set
//!   changed; an object added or dropped brings its grants along silently.
//! - Definitions are compared with whitespace runs collapsed, so only a
//!   change in what pg_dump printed counts.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The kind of a grant change (the TOC says `ACL` or `DEFAULT ACL`).
pub const GRANT: &str = "GRANT";

/// One schema object of a backup's table of contents, as the engine maps
/// a TOC entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaObject {
    /// pg_dump's kind (`desc`): `TABLE`, `INDEX`, `FUNCTION`, `FK CONSTRAINT`, ...
    pub kind: String,
    /// The schema, empty for objects outside any schema.
    pub schema: String,
    /// pg_dump's tag: a table's name, `f(integer)`, `orders orders_pkey`, ...
    pub name: String,
    /// The SQL that creates it (for grants: the GRANT/REVOKE statements).
    pub defn: String,
}

impl SchemaObject {
    pub fn new(kind: &str, schema: &str, name: &str, defn: &str) -> Self {
        SchemaObject {
            kind: kind.into(),
            schema: schema.into(),
            name: name.into(),
            defn: defn.into(),
        }
    }
}

/// A column as a `CREATE TABLE` declares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// The name, unquoted (`Weird, Name`).
    pub name: String,
    /// The type as pg_dump printed it (`character varying(20)`, `text[]`).
    pub type_name: String,
    /// Everything after the name, whitespace collapsed (type, collation,
    /// default or generation, `NOT NULL`).
    pub definition: String,
}

/// A column whose type changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retyped {
    pub name: String,
    pub old_type: String,
    pub new_type: String,
}

/// A column whose type stayed but whose declaration changed (default,
/// `NOT NULL`, collation, generation expression).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Altered {
    pub name: String,
    pub old: String,
    pub new: String,
}

/// What changed in a table's columns. For an added table `added` lists
/// all its columns; for a dropped one `dropped` does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnChanges {
    pub added: Vec<Column>,
    pub dropped: Vec<Column>,
    pub retyped: Vec<Retyped>,
    pub altered: Vec<Altered>,
}

impl ColumnChanges {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.dropped.is_empty()
            && self.retyped.is_empty()
            && self.altered.is_empty()
    }
}

/// One object added, dropped or changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaChange {
    /// pg_dump's kind (`TABLE`, `INDEX`, ...), or [`GRANT`].
    pub kind: String,
    pub schema: String,
    /// pg_dump's tag; for a grant, the object it is on (`TABLE notes`).
    pub name: String,
    /// Tables: their columns (see [`ColumnChanges`]); empty for other kinds.
    pub columns: ColumnChanges,
    /// The definition before (`None` for an added object).
    pub old_defn: Option<String>,
    /// The definition after (`None` for a dropped object).
    pub new_defn: Option<String>,
}

impl SchemaChange {
    /// The kind in words: `table`, `foreign key`, `grants`, ...
    pub fn kind_label(&self) -> String {
        kind_label(&self.kind)
    }

    /// `schema.name`, or the name alone outside any schema.
    pub fn qualified_name(&self) -> String {
        if self.schema.is_empty() {
            self.name.clone()
        } else {
            format!("{}.{}", self.schema, self.name)
        }
    }
}

/// A TOC kind in words, lower case.
pub fn kind_label(kind: &str) -> String {
    match kind {
        "FK CONSTRAINT" => "foreign key".into(),
        "CONSTRAINT" => "constraint".into(),
        "CHECK CONSTRAINT" => "check constraint".into(),
        "DEFAULT" => "column default".into(),
        "SEQUENCE OWNED BY" => "sequence owner".into(),
        GRANT => "grants".into(),
        other => other.to_lowercase(),
    }
}

/// Added, dropped and changed objects between two lists (see [`diff`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diff {
    pub added: Vec<SchemaChange>,
    pub dropped: Vec<SchemaChange>,
    pub changed: Vec<SchemaChange>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.dropped.is_empty() && self.changed.is_empty()
    }
}

/// What a comparison was made against, or why none was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Compared with the previous good backup of the same database.
    Previous,
    /// No good backup of this database came before this one.
    First,
    /// This backup has no readable table of contents (a failed run, a
    /// globals backup, one from before verification, or a TOC too large
    /// to keep parsed).
    NoToc,
    /// The previous good backup (`against`) has no readable table of
    /// contents, so there is nothing to compare with.
    PreviousNoToc,
}

/// A backup's schema changes against the previous good backup of the same
/// server and database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaChanges {
    pub backup_id: i64,
    /// The backup compared against (set for [`Basis::Previous`] and
    /// [`Basis::PreviousNoToc`]).
    pub against: Option<i64>,
    /// When that backup started.
    pub against_at: Option<DateTime<Utc>>,
    pub basis: Basis,
    /// `"15.8 → 18.1"` when the two archives were written by different
    /// pg_dump versions (some definitions may then differ only in print).
    pub pg_dump_changed: Option<String>,
    pub added: Vec<SchemaChange>,
    pub dropped: Vec<SchemaChange>,
    pub changed: Vec<SchemaChange>,
}

impl SchemaChanges {
    /// No comparison made (yet): `basis` says why.
    pub fn without(backup_id: i64, basis: Basis) -> Self {
        SchemaChanges {
            backup_id,
            against: None,
            against_at: None,
            basis,
            pg_dump_changed: None,
            added: Vec::new(),
            dropped: Vec::new(),
            changed: Vec::new(),
        }
    }

    /// True when a comparison was made and found nothing.
    pub fn is_unchanged(&self) -> bool {
        self.basis == Basis::Previous
            && self.added.is_empty()
            && self.dropped.is_empty()
            && self.changed.is_empty()
    }

    /// `(added, dropped, changed)` counts, for a marker in a list.
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.added.len(), self.dropped.len(), self.changed.len())
    }
}

/// Whether a TOC kind is compared at all (see the module docs).
pub fn is_tracked(kind: &str) -> bool {
    !matches!(
        kind,
        "TABLE DATA"
            | "SEQUENCE SET"
            | "MATERIALIZED VIEW DATA"
            | "BLOB"
            | "BLOBS"
            | "BLOB METADATA"
            | "LARGE OBJECT"
            | "LARGE OBJECTS"
            | "ENCODING"
            | "STDSTRINGS"
            | "SEARCHPATH"
            | "DATABASE"
            | "DATABASE PROPERTIES"
            | "COMMENT"
            | "SECURITY LABEL"
    )
}

fn is_grant(kind: &str) -> bool {
    kind == "ACL" || kind == "DEFAULT ACL"
}

fn has_columns(kind: &str) -> bool {
    kind == "TABLE" || kind == "FOREIGN TABLE"
}

/// Display order of kinds: tables first, grants last.
fn kind_rank(kind: &str) -> usize {
    const ORDER: &[&str] = &[
        "SCHEMA",
        "EXTENSION",
        "TYPE",
        "DOMAIN",
        "TABLE",
        "FOREIGN TABLE",
        "VIEW",
        "MATERIALIZED VIEW",
        "SEQUENCE",
        "INDEX",
        "CONSTRAINT",
        "CHECK CONSTRAINT",
        "FK CONSTRAINT",
        "DEFAULT",
        "TRIGGER",
        "FUNCTION",
        "PROCEDURE",
        "AGGREGATE",
    ];
    if kind == GRANT {
        return ORDER.len() + 1;
    }
    ORDER.iter().position(|k| *k == kind).unwrap_or(ORDER.len())
}

/// Whitespace runs collapsed to one space, ends trimmed.
pub fn normalize(defn: &str) -> String {
    defn.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A grant entry's statements as a set (order and layout do not matter).
fn grant_set(defn: &str) -> BTreeSet<String> {
    defn.split(";\n")
        .flat_map(|s| s.split(";\r\n"))
        .map(|s| normalize(s.trim().trim_end_matches(';')))
        .filter(|s| !s.is_empty())
        .collect()
}

type Key = (String, String, String);

/// The objects of one side, by key; duplicates' definitions joined.
fn by_key(objects: &[SchemaObject]) -> BTreeMap<Key, String> {
    let mut map: BTreeMap<Key, String> = BTreeMap::new();
    for o in objects.iter().filter(|o| is_tracked(&o.kind)) {
        let kind = if is_grant(&o.kind) {
            // A LARGE OBJECT's grants come and go with its data.
            if o.name.starts_with("LARGE OBJECT") {
                continue;
            }
            GRANT.to_owned()
        } else {
            o.kind.clone()
        };
        let key = (kind, o.schema.clone(), o.name.clone());
        let slot = map.entry(key).or_default();
        if !slot.is_empty() && !slot.ends_with('\n') {
            slot.push('\n');
        }
        slot.push_str(&o.defn);
    }
    map
}

/// The object a grant tag (`TABLE notes`, `COLUMN notes.body`, `FUNCTION
/// f(integer)`, `SCHEMA sales`) is on: its name as TOC tags give it.
fn grant_target(tag: &str) -> &str {
    const PREFIXES: &[&str] = &[
        "FOREIGN DATA WRAPPER ",
        "FOREIGN SERVER ",
        "SERVER ",
        "TABLE ",
        "SEQUENCE ",
        "FUNCTION ",
        "PROCEDURE ",
        "AGGREGATE ",
        "SCHEMA ",
        "TYPE ",
        "DOMAIN ",
        "LANGUAGE ",
        "TABLESPACE ",
        "DATABASE ",
        "PARAMETER ",
    ];
    if let Some(col) = tag.strip_prefix("COLUMN ") {
        return col.split_once('.').map(|(t, _)| t).unwrap_or(col);
    }
    PREFIXES
        .iter()
        .find_map(|p| tag.strip_prefix(p))
        .unwrap_or(tag)
}

/// What `after` adds, drops and changes against `before`. Sorted by kind
/// (tables first, grants last), then schema and name.
pub fn diff(before: &[SchemaObject], after: &[SchemaObject]) -> Diff {
    let old = by_key(before);
    let new = by_key(after);
    let mut out = Diff::default();
    for (key, defn) in &new {
        if key.0 == GRANT {
            continue;
        }
        match old.get(key) {
            None => out.added.push(change(key, None, Some(defn))),
            Some(prev) if normalize(prev) != normalize(defn) => {
                out.changed.push(change(key, Some(prev), Some(defn)))
            }
            Some(_) => {}
        }
    }
    for (key, defn) in &old {
        if key.0 != GRANT && !new.contains_key(key) {
            out.dropped.push(change(key, Some(defn), None));
        }
    }
    // Grants: one change per object whose set of statements differs,
    // unless the object itself came or went (its grants go with it).
    let came_or_went = |schema: &str, name: &str, list: &[SchemaChange]| {
        list.iter().any(|c| c.schema == schema && c.name == name)
    };
    let grant_keys: BTreeSet<&Key> = old
        .keys()
        .chain(new.keys())
        .filter(|k| k.0 == GRANT)
        .collect();
    for key in grant_keys {
        let (o, n) = (old.get(key), new.get(key));
        let (os, ns) = (
            o.map(|d| grant_set(d)).unwrap_or_default(),
            n.map(|d| grant_set(d)).unwrap_or_default(),
        );
        if os == ns {
            continue;
        }
        let target = grant_target(&key.2);
        if (o.is_none() && came_or_went(&key.1, target, &out.added))
            || (n.is_none() && came_or_went(&key.1, target, &out.dropped))
        {
            continue;
        }
        let text = |s: &BTreeSet<String>| {
            (!s.is_empty()).then(|| {
                s.iter()
                    .map(|l| format!("{l};"))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        };
        out.changed.push(SchemaChange {
            kind: GRANT.into(),
            schema: key.1.clone(),
            name: key.2.clone(),
            columns: ColumnChanges::default(),
            old_defn: text(&os),
            new_defn: text(&ns),
        });
    }
    for list in [&mut out.added, &mut out.dropped, &mut out.changed] {
        list.sort_by(|a, b| {
            (kind_rank(&a.kind), &a.kind, &a.schema, &a.name).cmp(&(
                kind_rank(&b.kind),
                &b.kind,
                &b.schema,
                &b.name,
            ))
        });
    }
    out
}

fn change(key: &Key, old: Option<&String>, new: Option<&String>) -> SchemaChange {
    let columns = if has_columns(&key.0) {
        let before = old.map(|d| columns_of(d)).unwrap_or_default();
        let after = new.map(|d| columns_of(d)).unwrap_or_default();
        column_changes(&before, &after)
    } else {
        ColumnChanges::default()
    };
    SchemaChange {
        kind: key.0.clone(),
        schema: key.1.clone(),
        name: key.2.clone(),
        columns,
        old_defn: old.cloned(),
        new_defn: new.cloned(),
    }
}

/// The column changes from `before` to `after` (by name; order kept as
/// `after` declares them, dropped ones as `before` did).
pub fn column_changes(before: &[Column], after: &[Column]) -> ColumnChanges {
    let mut out = ColumnChanges::default();
    for c in after {
        match before.iter().find(|b| b.name == c.name) {
            None => out.added.push(c.clone()),
            Some(b) if b.type_name != c.type_name => out.retyped.push(Retyped {
                name: c.name.clone(),
                old_type: b.type_name.clone(),
                new_type: c.type_name.clone(),
            }),
            Some(b) if b.definition != c.definition => out.altered.push(Altered {
                name: c.name.clone(),
                old: b.definition.clone(),
                new: c.definition.clone(),
            }),
            Some(_) => {}
        }
    }
    for b in before {
        if !after.iter().any(|c| c.name == b.name) {
            out.dropped.push(b.clone());
        }
    }
    out
}

// ---- reading columns from CREATE TABLE ---------------------------------

/// Words that end a column's type in pg_dump's column declarations.
const TYPE_ENDS: &[&str] = &[
    "COLLATE",
    "DEFAULT",
    "GENERATED",
    "NOT",
    "NULL",
    "CONSTRAINT",
    "CHECK",
    "REFERENCES",
    "UNIQUE",
    "PRIMARY",
    "OPTIONS",
    "STORAGE",
    "COMPRESSION",
];

/// Words that start a table element that is not a column.
const NOT_COLUMNS: &[&str] = &[
    "CONSTRAINT",
    "CHECK",
    "UNIQUE",
    "PRIMARY",
    "FOREIGN",
    "EXCLUDE",
    "LIKE",
];

/// The columns a `CREATE [UNLOGGED|FOREIGN] TABLE name (...)` declares, in
/// order (empty when the text holds no such statement, or a table without
/// columns). Inherited columns are not declared, so not listed.
pub fn columns_of(defn: &str) -> Vec<Column> {
    let Some(body) = column_list(defn) else {
        return Vec::new();
    };
    split_top_level(body, ',')
        .into_iter()
        .filter_map(|element| column_of(element.trim()))
        .collect()
}

/// The text between the parentheses after `CREATE ... TABLE name`.
fn column_list(defn: &str) -> Option<&str> {
    let upper = defn.to_ascii_uppercase();
    // The CREATE statement's start; then the TABLE keyword after it.
    let create = find_word(&upper, "CREATE", 0)?;
    let table = find_word(&upper, "TABLE", create)?;
    // The first '(' outside quotes after the keyword opens the list.
    let open = unquoted(defn, table + "TABLE".len())
        .find(|&(_, c)| c == '(' || c == ';')
        .and_then(|(i, c)| (c == '(').then_some(i))?;
    let close = matching_paren(defn, open)?;
    Some(&defn[open + 1..close])
}

/// The byte index of `word` (upper case) in `upper` at or after `from`, as a whole word.
fn find_word(upper: &str, word: &str, from: usize) -> Option<usize> {
    let mut start = from;
    while let Some(pos) = upper[start..].find(word) {
        let at = start + pos;
        let before = upper[..at].chars().next_back();
        let after = upper[at + word.len()..].chars().next();
        let edge = |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        if edge(before) && edge(after) {
            return Some(at);
        }
        start = at + word.len();
    }
    None
}

/// The index of the ')' closing the '(' at `open`, skipping quoted text.
fn matching_paren(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in unquoted(text, open) {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The characters of `text` from byte `from` on that stand outside quoted
/// text (`'...'`, `E'...'` with backslash escapes, `"..."`), with their byte
/// index; the quotes themselves are left out. A doubled quote inside a
/// quoted part (`''`, `""`) reads as closing and reopening it.
fn unquoted(text: &str, from: usize) -> impl Iterator<Item = (usize, char)> + '_ {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    text[from..].char_indices().filter_map(move |(i, c)| {
        let i = i + from;
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' && q == 'E' {
                escaped = true;
            } else if c == '\'' && (q == '\'' || q == 'E') || c == '"' && q == '"' {
                quote = None;
            }
            return None;
        }
        match c {
            '"' => quote = Some('"'),
            '\'' => quote = Some(if e_string(text, i) { 'E' } else { '\'' }),
            _ => return Some((i, c)),
        }
        None
    })
}

/// Whether the quote at `i` opens an `E'...'` string (backslash escapes).
fn e_string(text: &str, i: usize) -> bool {
    let before = &text[..i];
    let mut chars = before.chars().rev();
    matches!(chars.next(), Some('E' | 'e'))
        && chars
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '"'))
}

/// `text` split at `sep` outside quotes, parentheses and brackets. A doubled
/// quote inside a quoted part (`''`, `""`) reads as closing and reopening it,
/// which keeps the split right.
fn split_top_level(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in unquoted(text, 0) {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            c if depth == 0 && (c == sep || sep == ' ' && c.is_whitespace()) => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A column of one table element, or `None` for a constraint line.
fn column_of(element: &str) -> Option<Column> {
    let tokens: Vec<&str> = split_top_level(element, ' ')
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect();
    let first = *tokens.first()?;
    if !first.starts_with('"') && NOT_COLUMNS.contains(&first.to_ascii_uppercase().as_str()) {
        return None;
    }
    let name = unquote(first);
    let rest = &tokens[1..];
    let end = rest
        .iter()
        .position(|t| !t.starts_with('"') && TYPE_ENDS.contains(&t.to_ascii_uppercase().as_str()))
        .unwrap_or(rest.len());
    Some(Column {
        name,
        type_name: rest[..end].join(" "),
        definition: rest.join(" "),
    })
}

/// An identifier as pg_dump printed it, unquoted (`"a""b"` is `a"b`).
fn unquote(ident: &str) -> String {
    match ident.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => ident.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, ty: &str, def: &str) -> Column {
        Column {
            name: name.into(),
            type_name: ty.into(),
            definition: def.into(),
        }
    }

    fn names(cols: &[Column]) -> Vec<(&str, &str)> {
        cols.iter()
            .map(|c| (c.name.as_str(), c.type_name.as_str()))
            .collect()
    }

    fn table(schema: &str, name: &str, defn: &str) -> SchemaObject {
        SchemaObject::new("TABLE", schema, name, defn)
    }

    // ---- columns ----------------------------------------------------

    const ORDERS_18: &str = "CREATE TABLE sales.orders (
    id integer NOT NULL,
    total numeric(10,2) DEFAULT round(1.5, 2) NOT NULL,
    \"Weird, Name\" text[] DEFAULT '{a,b}'::text[],
    m public.mood,
    note character varying(20) COLLATE pg_catalog.\"C\",
    gen integer GENERATED ALWAYS AS ((id * 2)) STORED,
    ident bigint NOT NULL,
    CONSTRAINT pos CHECK ((total > (0)::numeric))
);
";

    #[test]
    fn columns_of_a_table_pg_dump_wrote() {
        let cols = columns_of(ORDERS_18);
        assert_eq!(
            names(&cols),
            vec![
                ("id", "integer"),
                ("total", "numeric(10,2)"),
                ("Weird, Name", "text[]"),
                ("m", "public.mood"),
                ("note", "character varying(20)"),
                ("gen", "integer"),
                ("ident", "bigint"),
            ]
        );
        assert_eq!(
            cols[1].definition,
            "numeric(10,2) DEFAULT round(1.5, 2) NOT NULL"
        );
        assert_eq!(
            cols[4].definition,
            "character varying(20) COLLATE pg_catalog.\"C\""
        );
        assert_eq!(
            cols[5].definition,
            "integer GENERATED ALWAYS AS ((id * 2)) STORED"
        );
    }

    #[test]
    fn multi_word_types_and_quoted_names() {
        let cols = columns_of(
            "CREATE TABLE \"My \"\"T\"\"\".\"x(y\" (\n    at timestamp(3) with time zone DEFAULT now() NOT NULL,\n    \"select\" double precision,\n    b bit varying(5)[],\n    t public.\"MyType\",\n    e interval year to month\n);",
        );
        assert_eq!(
            names(&cols),
            vec![
                ("at", "timestamp(3) with time zone"),
                ("select", "double precision"),
                ("b", "bit varying(5)[]"),
                ("t", "public.\"MyType\""),
                ("e", "interval year to month"),
            ]
        );
    }

    #[test]
    fn defaults_with_commas_parentheses_and_quotes() {
        let cols = columns_of(
            "CREATE TABLE public.t (\n    a text DEFAULT 'x, y) (z'::text,\n    b integer[] DEFAULT ARRAY[1, 2],\n    c text DEFAULT E'it\\'s, ok'::text,\n    d text DEFAULT 'it''s, (ok'::text,\n    e jsonb DEFAULT '{\"k\": [1, 2]}'::jsonb\n);",
        );
        assert_eq!(
            names(&cols),
            vec![
                ("a", "text"),
                ("b", "integer[]"),
                ("c", "text"),
                ("d", "text"),
                ("e", "jsonb"),
            ]
        );
        assert_eq!(cols[0].definition, "text DEFAULT 'x, y) (z'::text");
        assert_eq!(cols[3].definition, "text DEFAULT 'it''s, (ok'::text");
    }

    #[test]
    fn partitioned_unlogged_inheriting_foreign_and_empty_tables() {
        let parted = "CREATE TABLE public.events (\n    id bigint,\n    at date NOT NULL\n)\nPARTITION BY RANGE (at);\n";
        assert_eq!(
            names(&columns_of(parted)),
            vec![("id", "bigint"), ("at", "date")]
        );
        let part18 = "CREATE TABLE public.events_2025 (\n    id bigint,\n    at date CONSTRAINT events_at_not_null NOT NULL\n);\n";
        assert_eq!(
            names(&columns_of(part18)),
            vec![("id", "bigint"), ("at", "date")]
        );
        let unlogged = "CREATE UNLOGGED TABLE public.u (\n    a integer\n);";
        assert_eq!(names(&columns_of(unlogged)), vec![("a", "integer")]);
        let child = "CREATE TABLE public.child (\n    extra integer\n)\nINHERITS (public.notes);";
        assert_eq!(names(&columns_of(child)), vec![("extra", "integer")]);
        let foreign = "CREATE FOREIGN TABLE public.ft (\n    a integer OPTIONS (\n    column_name 'A'\n),\n    b text\n)\nSERVER s;";
        assert_eq!(
            names(&columns_of(foreign)),
            vec![("a", "integer"), ("b", "text")]
        );
        assert!(columns_of("CREATE TABLE public.empty (\n);").is_empty());
        assert!(columns_of("ALTER TABLE ONLY public.t ADD CONSTRAINT c UNIQUE (a);").is_empty());
        assert!(columns_of("").is_empty());
    }

    #[test]
    fn constraint_lines_are_not_columns() {
        let cols = columns_of(
            "CREATE TABLE public.t (\n    a integer,\n    CONSTRAINT c1 CHECK ((a > 0)),\n    CHECK ((a < 9)),\n    UNIQUE (a),\n    PRIMARY KEY (a),\n    FOREIGN KEY (a) REFERENCES public.o(id),\n    EXCLUDE USING gist (a WITH =),\n    \"constraint\" text\n);",
        );
        assert_eq!(names(&cols), vec![("a", "integer"), ("constraint", "text")]);
    }

    #[test]
    fn statements_after_the_create_do_not_confuse_the_list() {
        let defn = "CREATE TABLE public.t (\n    a integer\n);\nALTER TABLE ONLY public.t ALTER COLUMN a SET STATISTICS 500;\n";
        assert_eq!(names(&columns_of(defn)), vec![("a", "integer")]);
    }

    #[test]
    fn column_changes_by_name() {
        let before = vec![
            col("id", "integer", "integer NOT NULL"),
            col("body", "text", "text"),
            col("gone", "text", "text"),
            col("n", "integer", "integer"),
        ];
        let after = vec![
            col("id", "integer", "integer NOT NULL"),
            col("body", "character varying(40)", "character varying(40)"),
            col("n", "integer", "integer DEFAULT 0 NOT NULL"),
            col("added", "date", "date"),
        ];
        let c = column_changes(&before, &after);
        assert_eq!(c.added, vec![col("added", "date", "date")]);
        assert_eq!(c.dropped, vec![col("gone", "text", "text")]);
        assert_eq!(
            c.retyped,
            vec![Retyped {
                name: "body".into(),
                old_type: "text".into(),
                new_type: "character varying(40)".into()
            }]
        );
        assert_eq!(
            c.altered,
            vec![Altered {
                name: "n".into(),
                old: "integer".into(),
                new: "integer DEFAULT 0 NOT NULL".into()
            }]
        );
        assert!(column_changes(&before, &before).is_empty());
    }

    // ---- diff -------------------------------------------------------

    fn base() -> Vec<SchemaObject> {
        vec![
            SchemaObject::new("ENCODING", "", "ENCODING", "SET client_encoding = 'UTF8';"),
            SchemaObject::new("SCHEMA", "", "sales", "CREATE SCHEMA sales;"),
            table("public", "notes", "CREATE TABLE public.notes (\n    id integer,\n    body text\n);"),
            SchemaObject::new("TABLE DATA", "public", "notes", ""),
            table("public", "old", "CREATE TABLE public.old (\n    x integer\n);"),
            SchemaObject::new("INDEX", "public", "notes_body", "CREATE INDEX notes_body ON public.notes USING btree (body);"),
            SchemaObject::new("FUNCTION", "public", "f(integer)", "CREATE FUNCTION public.f(a integer) RETURNS integer\n    LANGUAGE sql\n    AS $$SELECT a + 1$$;"),
            SchemaObject::new("COMMENT", "public", "TABLE notes", "COMMENT ON TABLE public.notes IS 'hello';"),
            SchemaObject::new("ACL", "public", "TABLE notes", "GRANT SELECT ON TABLE public.notes TO reader;\n"),
            SchemaObject::new("ACL", "public", "TABLE old", "GRANT SELECT ON TABLE public.old TO reader;\n"),
            SchemaObject::new("SEQUENCE SET", "public", "s1", "SELECT pg_catalog.setval('public.s1', 1, false);"),
        ]
    }

    #[test]
    fn identical_lists_have_no_changes() {
        assert!(diff(&base(), &base()).is_empty());
        assert!(diff(&[], &[]).is_empty());
    }

    #[test]
    fn layout_owners_data_comments_and_settings_are_noise() {
        let mut after = base();
        // Whitespace only.
        after[2].defn = "CREATE TABLE public.notes (\n  id integer,\n\tbody   text\n);".into();
        // Data, comments and settings change freely.
        after[3].defn = "different".into();
        after[7].defn = "COMMENT ON TABLE public.notes IS 'bye';".into();
        after[0].defn = "SET client_encoding = 'LATIN1';".into();
        after[10].defn = "SELECT pg_catalog.setval('public.s1', 99, true);".into();
        // Grant statements reordered.
        after[8].defn = "GRANT SELECT ON TABLE public.notes TO reader;\n".into();
        assert!(
            diff(&base(), &after).is_empty(),
            "{:?}",
            diff(&base(), &after)
        );
    }

    #[test]
    fn added_dropped_and_changed_objects() {
        let mut after = base();
        // notes: column added, body retyped.
        after[2].defn =
            "CREATE TABLE public.notes (\n    id integer,\n    body character varying(40),\n    at date\n);".into();
        // old dropped (its grant with it).
        after.retain(|o| o.name != "old" && o.name != "TABLE old");
        // function body changed; an overload added; a view and an index added.
        after.push(SchemaObject::new(
            "FUNCTION",
            "public",
            "f(text)",
            "CREATE FUNCTION public.f(a text) RETURNS text LANGUAGE sql AS $$SELECT a$$;",
        ));
        after.push(SchemaObject::new(
            "VIEW",
            "public",
            "v",
            "CREATE VIEW public.v AS\n SELECT id\n   FROM public.notes;",
        ));
        after.push(SchemaObject::new(
            "INDEX",
            "public",
            "notes_at",
            "CREATE INDEX notes_at ON public.notes USING btree (at);",
        ));
        after.push(table(
            "sales",
            "orders",
            "CREATE TABLE sales.orders (\n    id integer NOT NULL\n);",
        ));
        after.push(SchemaObject::new(
            "ACL",
            "sales",
            "TABLE orders",
            "GRANT SELECT ON TABLE sales.orders TO reader;\n",
        ));
        let f = after.iter_mut().find(|o| o.name == "f(integer)").unwrap();
        f.defn = f.defn.replace("a + 1", "a + 2");

        let d = diff(&base(), &after);
        let keys = |l: &[SchemaChange]| {
            l.iter()
                .map(|c| format!("{} {}", c.kind, c.qualified_name()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            keys(&d.added),
            vec![
                "TABLE sales.orders",
                "VIEW public.v",
                "INDEX public.notes_at",
                "FUNCTION public.f(text)"
            ]
        );
        assert_eq!(keys(&d.dropped), vec!["TABLE public.old"]);
        assert_eq!(
            keys(&d.changed),
            vec!["TABLE public.notes", "FUNCTION public.f(integer)"]
        );

        // An added table lists its columns; a dropped one too.
        assert_eq!(names(&d.added[0].columns.added), vec![("id", "integer")]);
        assert_eq!(d.added[0].old_defn, None);
        assert!(d.added[0].new_defn.is_some());
        assert_eq!(names(&d.dropped[0].columns.dropped), vec![("x", "integer")]);
        assert_eq!(d.dropped[0].new_defn, None);

        let notes = &d.changed[0];
        assert_eq!(names(&notes.columns.added), vec![("at", "date")]);
        assert_eq!(
            notes.columns.retyped,
            vec![Retyped {
                name: "body".into(),
                old_type: "text".into(),
                new_type: "character varying(40)".into()
            }]
        );
        assert!(notes.columns.dropped.is_empty());
        let f = &d.changed[1];
        assert!(f.old_defn.as_deref().unwrap().contains("a + 1"));
        assert!(f.new_defn.as_deref().unwrap().contains("a + 2"));
        assert!(f.columns.is_empty());
    }

    #[test]
    fn grant_changes_on_kept_objects_are_reported() {
        let mut after = base();
        after[8].defn = "GRANT SELECT ON TABLE public.notes TO reader;\nGRANT INSERT ON TABLE public.notes TO writer;\n".into();
        // Grants revoked entirely on `old` (its ACL entry is gone).
        after.retain(|o| o.name != "TABLE old");
        // A grant on a function that had none.
        after.push(SchemaObject::new(
            "ACL",
            "public",
            "FUNCTION f(integer)",
            "REVOKE ALL ON FUNCTION public.f(a integer) FROM PUBLIC;\n",
        ));
        // Default privileges.
        after.push(SchemaObject::new(
            "DEFAULT ACL",
            "public",
            "DEFAULT PRIVILEGES FOR TABLES",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO reader;\n",
        ));
        let d = diff(&base(), &after);
        assert!(d.added.is_empty() && d.dropped.is_empty());
        let grants: Vec<(&str, Option<&str>, Option<&str>)> = d
            .changed
            .iter()
            .map(|c| {
                assert_eq!(c.kind, GRANT);
                assert_eq!(c.kind_label(), "grants");
                (
                    c.name.as_str(),
                    c.old_defn.as_deref(),
                    c.new_defn.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            grants,
            vec![
                ("DEFAULT PRIVILEGES FOR TABLES", None, Some("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO reader;")),
                ("FUNCTION f(integer)", None, Some("REVOKE ALL ON FUNCTION public.f(a integer) FROM PUBLIC;")),
                ("TABLE notes", Some("GRANT SELECT ON TABLE public.notes TO reader;"), Some("GRANT INSERT ON TABLE public.notes TO writer;\nGRANT SELECT ON TABLE public.notes TO reader;")),
                ("TABLE old", Some("GRANT SELECT ON TABLE public.old TO reader;"), None),
            ]
        );
    }

    #[test]
    fn grants_of_added_or_dropped_objects_and_large_objects_are_silent() {
        let mut after = base();
        after.retain(|o| o.name != "old" && o.name != "TABLE old");
        after.push(SchemaObject::new(
            "SCHEMA",
            "",
            "extra",
            "CREATE SCHEMA extra;",
        ));
        after.push(SchemaObject::new(
            "ACL",
            "",
            "SCHEMA extra",
            "GRANT USAGE ON SCHEMA extra TO reader;\n",
        ));
        after.push(table(
            "public",
            "t2",
            "CREATE TABLE public.t2 (\n    a integer\n);",
        ));
        after.push(SchemaObject::new(
            "ACL",
            "public",
            "COLUMN t2.a",
            "GRANT SELECT(a) ON TABLE public.t2 TO reader;\n",
        ));
        after.push(SchemaObject::new(
            "ACL",
            "",
            "LARGE OBJECT 16500",
            "GRANT SELECT ON LARGE OBJECT 16500 TO reader;\n",
        ));
        after.push(SchemaObject::new(
            "BLOB",
            "",
            "16500",
            "SELECT pg_catalog.lo_create('16500');",
        ));
        let d = diff(&base(), &after);
        assert!(d.changed.is_empty(), "{:?}", d.changed);
        assert_eq!(d.added.len(), 2);
        assert_eq!(d.dropped.len(), 1);
    }

    #[test]
    fn every_kind_is_compared_and_sorted() {
        let kinds = [
            "TRIGGER",
            "SEQUENCE",
            "TYPE",
            "CONSTRAINT",
            "FK CONSTRAINT",
            "MATERIALIZED VIEW",
            "DOMAIN",
            "PROCEDURE",
            "EXTENSION",
            "POLICY",
            "DEFAULT",
        ];
        let after: Vec<SchemaObject> = kinds
            .iter()
            .map(|k| SchemaObject::new(k, "public", "x", "CREATE ..."))
            .collect();
        let d = diff(&[], &after);
        let got: Vec<&str> = d.added.iter().map(|c| c.kind.as_str()).collect();
        assert_eq!(
            got,
            vec![
                "EXTENSION",
                "TYPE",
                "DOMAIN",
                "MATERIALIZED VIEW",
                "SEQUENCE",
                "CONSTRAINT",
                "FK CONSTRAINT",
                "DEFAULT",
                "TRIGGER",
                "PROCEDURE",
                "POLICY"
            ]
        );
        let back = diff(&after, &[]);
        assert_eq!(back.dropped.len(), kinds.len());
    }

    #[test]
    fn same_name_other_kind_or_schema_is_another_object() {
        let before = vec![table("a", "t", "CREATE TABLE a.t (\n    x integer\n);")];
        let after = vec![
            table("b", "t", "CREATE TABLE b.t (\n    x integer\n);"),
            SchemaObject::new("VIEW", "a", "t", "CREATE VIEW a.t AS SELECT 1;"),
        ];
        let d = diff(&before, &after);
        assert_eq!(d.added.len(), 2);
        assert_eq!(d.dropped.len(), 1);
        assert!(d.changed.is_empty());
    }

    #[test]
    fn a_table_change_outside_its_columns_keeps_both_definitions() {
        let before = vec![table(
            "public",
            "t",
            "CREATE TABLE public.t (\n    a integer\n);",
        )];
        let after = vec![table(
            "public",
            "t",
            "CREATE TABLE public.t (\n    a integer,\n    CONSTRAINT c CHECK ((a > 0))\n);",
        )];
        let d = diff(&before, &after);
        assert_eq!(d.changed.len(), 1);
        assert!(d.changed[0].columns.is_empty());
        assert!(d.changed[0].old_defn.is_some() && d.changed[0].new_defn.is_some());
    }

    #[test]
    fn labels_and_names() {
        assert_eq!(kind_label("FK CONSTRAINT"), "foreign key");
        assert_eq!(kind_label("MATERIALIZED VIEW"), "materialized view");
        assert_eq!(kind_label("DEFAULT"), "column default");
        let c = change(
            &(String::from("SCHEMA"), String::new(), String::from("s")),
            None,
            None,
        );
        assert_eq!(c.qualified_name(), "s");
        assert_eq!(grant_target("COLUMN t2.a"), "t2");
        assert_eq!(grant_target("FOREIGN DATA WRAPPER w"), "w");
        assert_eq!(grant_target("odd"), "odd");
        assert_eq!(unquote("\"a\"\"b\""), "a\"b");
        assert_eq!(
            grant_set("GRANT A;\nREVOKE B;\n"),
            grant_set("REVOKE B;\n  GRANT  A;")
        );
    }

    #[test]
    fn summaries() {
        let mut s = SchemaChanges::without(7, Basis::First);
        assert!(!s.is_unchanged());
        s.basis = Basis::Previous;
        assert!(s.is_unchanged());
        s.added.push(change(
            &(String::from("INDEX"), String::from("p"), String::from("i")),
            None,
            Some(&String::from("CREATE INDEX")),
        ));
        assert_eq!(s.counts(), (1, 0, 0));
        assert!(!s.is_unchanged());
        let json = serde_json::to_string(&s).unwrap();
        let back: SchemaChanges = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }
}
