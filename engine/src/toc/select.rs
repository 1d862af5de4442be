//! Which TOC entries restore chosen tables whole, for `pg_restore -L`.
//!
//! What "whole" takes, as pg_dump 15 and 18 record it (see the tests in
//! `engine/tests/toc.rs`):
//!
//! - Entries that belong to a table depend on its TABLE entry: TABLE DATA,
//!   DEFAULT, CONSTRAINT, INDEX, TRIGGER, RULE, POLICY, COMMENT, ACL, an
//!   owned or identity SEQUENCE; FK CONSTRAINT depends on its own table and
//!   on the referenced table (and its key). INDEX entries do not name their
//!   table, only depend on it.
//! - A TABLE depends on its schema, the types and domains of its columns
//!   and the sequences its inline defaults call; a TRIGGER on its function;
//!   a DEFAULT on its sequence. Those are followed transitively (a
//!   function's schema, a domain's base type, an extension).
//! - A partition's TABLE entry is a standalone `CREATE TABLE`; TABLE ATTACH
//!   (depending on partition and parent) and INDEX ATTACH join it to the
//!   parent. A partition's key and indexes depend on the parent's.
//! - An owned sequence depends on its table: that dependency is ownership,
//!   not a need, so it is not followed.
//! - `nextval('...')` in a default is a dependency only when written with a
//!   regclass constant; the text of TABLE and DEFAULT entries is searched
//!   for it too.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::{Archive, TableRef, TocEntry, TocError};

/// Something a selective restore leaves out, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Skipped {
    /// What, e.g. `FK CONSTRAINT orders_customer_fkey on shop.orders`.
    pub what: String,
    pub reason: String,
}

/// The entries that restore chosen tables whole.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Dump IDs in archive order: the lines of the `pg_restore -L` list.
    pub entries: Vec<i32>,
    /// The tables restored: those chosen, their partitions, and tables
    /// brought along (referenced ones with `with_referenced`, or ones an
    /// object of a chosen table needs), in archive order.
    pub tables: Vec<TableRef>,
    /// Directory format: the data files the entries need (`toc.dat` aside).
    pub data_files: Vec<String>,
    /// What was left out and why (foreign keys to tables not restored, a
    /// partition restored without its parent).
    pub skipped: Vec<Skipped>,
}

/// Entries never restored by a selection: handled by pg_restore itself, or
/// present in every database.
fn never(e: &TocEntry) -> bool {
    matches!(
        e.desc.as_str(),
        "ENCODING"
            | "STDSTRINGS"
            | "SEARCHPATH"
            | "DATABASE"
            | "DATABASE PROPERTIES"
            | "BLOB"
            | "BLOBS"
            | "BLOB METADATA"
            | "LARGE OBJECT"
    ) || is_public_schema(e)
}

/// The `public` schema exists in every new database; creating it fails.
fn is_public_schema(e: &TocEntry) -> bool {
    e.desc == "SCHEMA" && e.tag == "public"
}

/// Entries that belong to one table (and are reached from it, never followed to it).
fn table_part(desc: &str) -> bool {
    matches!(
        desc,
        "TABLE DATA"
            | "DEFAULT"
            | "CONSTRAINT"
            | "CHECK CONSTRAINT"
            | "FK CONSTRAINT"
            | "INDEX"
            | "INDEX ATTACH"
            | "TABLE ATTACH"
            | "TRIGGER"
            | "RULE"
            | "POLICY"
            | "ROW SECURITY"
            | "STATISTICS"
            | "PUBLICATION TABLE"
    )
}

fn is_note(desc: &str) -> bool {
    matches!(desc, "COMMENT" | "ACL" | "SECURITY LABEL")
}

/// The archive, indexed for walking dependencies both ways.
struct Graph<'a> {
    archive: &'a Archive,
    by_id: HashMap<i32, usize>,
    /// Entry index -> indexes of the entries that depend on it.
    dependents: HashMap<i32, Vec<usize>>,
}

impl<'a> Graph<'a> {
    fn new(archive: &'a Archive) -> Self {
        let mut by_id = HashMap::new();
        let mut dependents: HashMap<i32, Vec<usize>> = HashMap::new();
        for (i, e) in archive.entries.iter().enumerate() {
            by_id.insert(e.dump_id, i);
            for d in &e.deps {
                dependents.entry(*d).or_default().push(i);
            }
        }
        Graph {
            archive,
            by_id,
            dependents,
        }
    }

    fn get(&self, id: i32) -> Option<&'a TocEntry> {
        self.by_id.get(&id).map(|i| &self.archive.entries[*i])
    }

    fn dependents(&self, id: i32) -> impl Iterator<Item = &'a TocEntry> + '_ {
        self.dependents
            .get(&id)
            .into_iter()
            .flatten()
            .map(|i| &self.archive.entries[*i])
    }

    fn is_table(&self, id: i32) -> bool {
        self.get(id).is_some_and(|e| e.desc == "TABLE")
    }

    /// The TABLE entries an entry depends on directly.
    fn table_deps(&self, e: &TocEntry) -> BTreeSet<i32> {
        e.deps
            .iter()
            .copied()
            .filter(|d| self.is_table(*d))
            .collect()
    }

    /// The table a constraint-like entry is on: the TABLE it depends on
    /// whose name starts its tag (`orders orders_customer_fkey`).
    fn own_table(&self, e: &TocEntry) -> Option<i32> {
        self.table_deps(e)
            .into_iter()
            .filter_map(|d| self.get(d))
            .filter(|t| {
                t.namespace == e.namespace
                    && e.tag.len() > t.tag.len()
                    && e.tag.starts_with(&t.tag)
                    && e.tag.as_bytes()[t.tag.len()] == b' '
            })
            .max_by_key(|t| t.tag.len())
            .map(|t| t.dump_id)
    }

    /// `(partition, parent)` of a TABLE ATTACH entry.
    fn attach(&self, e: &TocEntry) -> Option<(i32, i32)> {
        let tables = self.table_deps(e);
        let child = tables.iter().copied().find(|d| {
            self.get(*d)
                .is_some_and(|t| t.namespace == e.namespace && t.tag == e.tag)
        })?;
        let parent = tables.into_iter().find(|d| *d != child)?;
        Some((child, parent))
    }

    fn name(&self, id: i32) -> String {
        self.get(id)
            .map(|e| e.table_ref().display())
            .unwrap_or_else(|| format!("entry {id}"))
    }
}

/// The state of one selection pass.
struct Pass<'g, 'a> {
    g: &'g Graph<'a>,
    /// TABLE entry IDs restored whole.
    tables: &'g BTreeSet<i32>,
    inc: HashSet<i32>,
    /// Tables something included needs, not yet in `tables`.
    wanted: BTreeSet<i32>,
    skipped: Vec<Skipped>,
    queue: Vec<i32>,
}

impl Pass<'_, '_> {
    fn include(&mut self, id: i32) {
        if self.inc.insert(id) {
            self.queue.push(id);
        }
    }

    /// A sequence, with its value and (when its table is restored) its owner.
    fn include_sequence(&mut self, seq: &TocEntry) {
        self.include(seq.dump_id);
        for x in self.g.dependents(seq.dump_id) {
            match x.desc.as_str() {
                "SEQUENCE SET" => self.include(x.dump_id),
                "SEQUENCE OWNED BY"
                    if self
                        .g
                        .table_deps(seq)
                        .iter()
                        .all(|t| self.tables.contains(t)) =>
                {
                    self.include(x.dump_id)
                }
                _ => {}
            }
        }
    }

    /// Everything that belongs to one restored table.
    fn table(&mut self, tid: i32) {
        self.include(tid);
        let g = self.g;
        for x in g.dependents(tid) {
            let tables = g.table_deps(x);
            let all_in = tables.iter().all(|t| self.tables.contains(t));
            match x.desc.as_str() {
                "FK CONSTRAINT" => {
                    if g.own_table(x).is_some_and(|o| o != tid) {
                        continue; // reached from the referenced side
                    }
                    if all_in {
                        self.include(x.dump_id);
                    } else {
                        let missing: Vec<String> = tables
                            .iter()
                            .filter(|t| !self.tables.contains(t))
                            .map(|t| g.name(*t))
                            .collect();
                        let on = g.name(tid);
                        let name = x
                            .tag
                            .strip_prefix(&format!("{} ", x_table_tag(g, tid)))
                            .unwrap_or(&x.tag);
                        self.skipped.push(Skipped {
                            what: format!("FK CONSTRAINT {name} on {on}"),
                            reason: format!(
                                "it references {}, which is not restored. Fix: choose {} too, or restore with the referenced tables",
                                missing.join(", "),
                                if missing.len() == 1 { "it" } else { "them" }
                            ),
                        });
                    }
                }
                "TABLE ATTACH" => {
                    if all_in {
                        self.include(x.dump_id);
                    } else if let Some((child, parent)) = g.attach(x) {
                        if child == tid {
                            self.skipped.push(Skipped {
                                what: format!("TABLE ATTACH {}", g.name(child)),
                                reason: format!(
                                    "its parent {} is not restored, so the partition is restored as a plain table. Fix: choose the parent to restore the whole partitioned table",
                                    g.name(parent)
                                ),
                            });
                        }
                    }
                }
                "SEQUENCE" => self.include_sequence(x),
                "PUBLICATION TABLE" => {}
                d if (table_part(d) || is_note(d)) && all_in => self.include(x.dump_id),
                _ => {} // views, partitions (chosen through TABLE ATTACH), ...
            }
        }
    }

    /// Follows the dependencies of everything included.
    fn close(&mut self) {
        let g = self.g;
        while let Some(id) = self.queue.pop() {
            let Some(x) = g.get(id) else { continue };
            for seq in nextval_sequences(g.archive, x) {
                self.include_sequence(seq);
            }
            for d in &x.deps {
                let Some(dep) = g.get(*d) else { continue };
                if self.inc.contains(d) || never(dep) {
                    continue;
                }
                if dep.desc == "TABLE" {
                    let partition_of = x.desc == "TABLE"
                        && g.dependents(*d)
                            .any(|a| a.desc == "TABLE ATTACH" && g.attach(a) == Some((id, *d)));
                    let ownership = x.desc == "SEQUENCE";
                    if !(partition_of || ownership || table_part(&x.desc) || is_note(&x.desc)) {
                        self.wanted.insert(*d);
                    }
                    continue;
                }
                if table_part(&dep.desc) {
                    continue; // a part of a table not restored (a parent's key)
                }
                if dep.desc == "SEQUENCE" {
                    self.include_sequence(dep);
                } else {
                    self.include(*d);
                }
            }
        }
    }
}

fn x_table_tag(g: &Graph, tid: i32) -> String {
    g.get(tid).map(|t| t.tag.clone()).unwrap_or_default()
}

/// Sequences named by `nextval('...')` in a TABLE's or DEFAULT's SQL.
fn nextval_sequences<'a>(archive: &'a Archive, e: &TocEntry) -> Vec<&'a TocEntry> {
    if !matches!(e.desc.as_str(), "TABLE" | "DEFAULT") {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut rest = e.defn.as_str();
    while let Some(at) = rest.find("nextval('") {
        rest = &rest[at + "nextval('".len()..];
        // A SQL string literal: '' is a quote.
        let mut lit = String::new();
        let mut chars = rest.char_indices().peekable();
        let mut end = rest.len();
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if chars.peek().map(|(_, c)| *c) == Some('\'') {
                    chars.next();
                    lit.push('\'');
                    continue;
                }
                end = i;
                break;
            }
            lit.push(c);
        }
        rest = &rest[end..];
        let found: Vec<&TocEntry> = match TableRef::parse(&lit) {
            Ok(r) => archive
                .entries
                .iter()
                .filter(|s| s.desc == "SEQUENCE" && s.namespace == r.schema && s.tag == r.name)
                .collect(),
            Err(_) => archive
                .entries
                .iter()
                .filter(|s| s.desc == "SEQUENCE" && s.tag == lit.trim_matches('"'))
                .collect(),
        };
        if found.len() == 1 {
            out.push(found[0]);
        }
    }
    out
}

/// Picks the entries that restore `chosen` whole (see the module doc):
/// each table's definition, data, defaults, keys, indexes, triggers,
/// comments and grants, what they need (schema, types, functions,
/// sequences with their values, extensions), for a partitioned table every
/// partition. A foreign key to a table not restored is skipped and
/// reported, unless `with_referenced` brings the referenced tables along
/// (transitively, whole). A table not in the archive is refused with the
/// closest names.
pub fn select_tables(
    archive: &Archive,
    chosen: &[TableRef],
    with_referenced: bool,
) -> Result<Selection, TocError> {
    let g = Graph::new(archive);
    let mut tables = BTreeSet::new();
    for c in chosen {
        let Some(t) = archive.table_entry(c) else {
            return Err(TocError::NoSuchTable {
                wanted: c.display(),
                closest: closest_tables(archive, c, 3)
                    .iter()
                    .map(TableRef::display)
                    .collect(),
            });
        };
        tables.insert(t.dump_id);
    }
    loop {
        // Partitions of restored tables, and with_referenced the tables
        // their foreign keys reference, until nothing is added.
        loop {
            let before = tables.len();
            for t in tables.clone() {
                for x in g.dependents(t) {
                    match x.desc.as_str() {
                        "TABLE ATTACH" => {
                            if let Some((child, parent)) = g.attach(x) {
                                if parent == t {
                                    tables.insert(child);
                                }
                            }
                        }
                        "FK CONSTRAINT"
                            if with_referenced && g.own_table(x).is_none_or(|o| o == t) =>
                        {
                            tables.extend(g.table_deps(x))
                        }
                        _ => {}
                    }
                }
            }
            if tables.len() == before {
                break;
            }
        }
        let mut pass = Pass {
            g: &g,
            tables: &tables,
            inc: HashSet::new(),
            wanted: BTreeSet::new(),
            skipped: Vec::new(),
            queue: Vec::new(),
        };
        for t in &tables {
            pass.table(*t);
        }
        pass.close();
        // Comments, grants and labels of everything included.
        loop {
            let notes: Vec<i32> = archive
                .entries
                .iter()
                .filter(|e| {
                    is_note(&e.desc)
                        && !pass.inc.contains(&e.dump_id)
                        && !e.deps.is_empty()
                        && e.deps.iter().all(|d| pass.inc.contains(d))
                })
                .map(|e| e.dump_id)
                .collect();
            if notes.is_empty() {
                break;
            }
            for n in notes {
                pass.include(n);
            }
            pass.close();
        }
        if !pass.wanted.is_empty() {
            let wanted = std::mem::take(&mut pass.wanted);
            drop(pass);
            tables.extend(wanted);
            continue;
        }
        let entries: Vec<&TocEntry> = archive
            .entries
            .iter()
            .filter(|e| pass.inc.contains(&e.dump_id))
            .collect();
        let mut skipped = pass.skipped;
        skipped.dedup();
        return Ok(Selection {
            entries: entries.iter().map(|e| e.dump_id).collect(),
            tables: archive
                .entries
                .iter()
                .filter(|e| tables.contains(&e.dump_id))
                .map(TocEntry::table_ref)
                .collect(),
            data_files: entries.iter().filter_map(|e| e.data_file.clone()).collect(),
            skipped,
        });
    }
}

/// Levenshtein distance over characters.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Up to `n` tables of the archive whose names are closest to `wanted`:
/// the same name in another schema or in other letter case first, then by
/// edit distance of `schema.table`; names too far off are left out.
pub fn closest_tables(archive: &Archive, wanted: &TableRef, n: usize) -> Vec<TableRef> {
    let w_full = format!("{}.{}", wanted.schema, wanted.name).to_lowercase();
    let w_name = wanted.name.to_lowercase();
    let mut scored: Vec<((usize, usize), TableRef)> = archive
        .tables()
        .into_iter()
        .filter(|t| t != wanted)
        .filter_map(|t| {
            let name = t.name.to_lowercase();
            let full = format!("{}.{}", t.schema, t.name).to_lowercase();
            let tier = if t.name == wanted.name {
                0
            } else if name == w_name || full == w_full {
                1
            } else {
                2
            };
            let d = distance(&w_full, &full).min(distance(&w_name, &name) + 1);
            let limit = (w_name.chars().count() / 2).max(3);
            (tier < 2 || d <= limit).then_some(((tier, d), t))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(n).map(|(_, t)| t).collect()
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// The list `pg_restore -L` takes: one `ID; tableoid oid DESC schema tag
/// owner` line per selected entry, in archive order (as `pg_restore -l`
/// prints them; pg_restore reads only the ID).
pub fn list_file(archive: &Archive, sel: &Selection) -> String {
    let wanted: HashSet<i32> = sel.entries.iter().copied().collect();
    let mut out = String::from(";\n; Selected by pgshelf for a table restore\n;\n");
    for e in archive
        .entries
        .iter()
        .filter(|e| wanted.contains(&e.dump_id))
    {
        out.push_str(&format!(
            "{}; {} {} {} {} {} {}\n",
            e.dump_id,
            e.table_oid,
            e.oid,
            e.desc,
            if e.namespace.is_empty() {
                "-".to_string()
            } else {
                one_line(&e.namespace)
            },
            one_line(&e.tag),
            one_line(&e.owner),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::read::tests::entry;
    use super::super::{ArchiveFormat, TocEntry};
    use super::*;

    fn archive(entries: Vec<TocEntry>) -> Archive {
        Archive {
            version: (1, 16, 0),
            int_size: 4,
            off_size: 8,
            format: ArchiveFormat::Directory,
            compression: "none".into(),
            dbname: "shop".into(),
            server_version: "18.1".into(),
            pg_dump_version: "18.1".into(),
            entries,
            toc_len: 0,
        }
    }

    fn with(mut e: TocEntry, f: impl FnOnce(&mut TocEntry)) -> TocEntry {
        f(&mut e);
        e
    }

    /// The shapes pg_dump 15 and 18 write (IDs as in a real dump).
    fn shop() -> Archive {
        archive(vec![
            entry(1, "ENCODING", "", "ENCODING", &[]),
            entry(2, "SCHEMA", "", "public", &[]),
            entry(3, "COMMENT", "", "SCHEMA public", &[2]),
            entry(7, "SCHEMA", "", "shop", &[]),
            entry(10, "EXTENSION", "", "citext", &[]),
            entry(861, "TYPE", "shop", "mood", &[7]),
            entry(857, "DOMAIN", "shop", "positive", &[7]),
            entry(231, "FUNCTION", "shop", "touch()", &[7]),
            entry(232, "FUNCTION", "shop", "unused()", &[7]),
            entry(230, "TABLE", "public", "plain", &[]),
            entry(226, "TABLE", "shop", "orders", &[7]),
            entry(227, "VIEW", "shop", "big_orders", &[226, 7]),
            entry(225, "TABLE", "shop", "customers", &[7, 10]),
            entry(224, "SEQUENCE", "shop", "customers_id_seq", &[7, 225]),
            entry(
                3462,
                "SEQUENCE OWNED BY",
                "shop",
                "customers_id_seq",
                &[224],
            ),
            entry(220, "TABLE", "shop", "events", &[7]),
            entry(221, "TABLE", "shop", "events_2024", &[7, 220]),
            entry(222, "TABLE", "shop", "events_2025", &[220, 7]),
            entry(217, "TABLE", "shop", "items", &[857, 7, 861]),
            entry(3463, "COMMENT", "shop", "TABLE items", &[217]),
            entry(3464, "ACL", "shop", "TABLE items", &[217]),
            entry(218, "SEQUENCE", "shop", "ticket_no", &[7]),
            entry(3470, "COMMENT", "shop", "SEQUENCE ticket_no", &[218]),
            entry(219, "TABLE", "shop", "tickets", &[218, 7]),
            entry(3256, "TABLE ATTACH", "shop", "events_2024", &[221, 220]),
            entry(3257, "TABLE ATTACH", "shop", "events_2025", &[222, 220]),
            entry(3260, "DEFAULT", "shop", "customers id", &[225, 224, 225]),
            entry(3452, "TABLE DATA", "public", "plain", &[230]),
            with(
                entry(3448, "TABLE DATA", "shop", "customers", &[225]),
                |e| e.data_file = Some("3448.dat".into()),
            ),
            entry(3444, "TABLE DATA", "shop", "events_2024", &[221]),
            entry(3445, "TABLE DATA", "shop", "events_2025", &[222]),
            with(entry(3441, "TABLE DATA", "shop", "items", &[217]), |e| {
                e.data_file = Some("3441.dat".into())
            }),
            entry(3449, "TABLE DATA", "shop", "orders", &[226]),
            entry(3443, "TABLE DATA", "shop", "tickets", &[219]),
            entry(3465, "SEQUENCE SET", "shop", "customers_id_seq", &[224]),
            entry(3466, "SEQUENCE SET", "shop", "ticket_no", &[218]),
            entry(3455, "BLOBS", "", "BLOBS", &[]),
            entry(
                3284,
                "CONSTRAINT",
                "shop",
                "customers customers_pkey",
                &[225],
            ),
            entry(
                3271,
                "CONSTRAINT",
                "shop",
                "events events_pkey",
                &[220, 220],
            ),
            entry(
                3274,
                "CONSTRAINT",
                "shop",
                "events_2024 events_2024_pkey",
                &[221, 3271],
            ),
            entry(
                3277,
                "CONSTRAINT",
                "shop",
                "events_2025 events_2025_pkey",
                &[3271, 222],
            ),
            entry(3266, "CONSTRAINT", "shop", "items items_pkey", &[217]),
            entry(3286, "CONSTRAINT", "shop", "orders orders_pkey", &[226]),
            entry(3269, "INDEX", "shop", "events_payload", &[220]),
            entry(
                3272,
                "INDEX",
                "shop",
                "events_2024_payload_idx",
                &[221, 3269],
            ),
            entry(
                3275,
                "INDEX",
                "shop",
                "events_2025_payload_idx",
                &[3269, 222],
            ),
            entry(3264, "INDEX", "shop", "items_mood", &[217]),
            entry(3265, "COMMENT", "shop", "INDEX items_mood", &[3264]),
            entry(
                3289,
                "INDEX ATTACH",
                "shop",
                "events_2024_payload_idx",
                &[3272, 3269, 221, 220],
            ),
            entry(
                3290,
                "INDEX ATTACH",
                "shop",
                "events_2024_pkey",
                &[3271, 221, 3274, 220],
            ),
            entry(
                3291,
                "INDEX ATTACH",
                "shop",
                "events_2025_payload_idx",
                &[3275, 3269, 222, 220],
            ),
            entry(3296, "TRIGGER", "shop", "items items_touch", &[217, 231]),
            entry(
                3295,
                "FK CONSTRAINT",
                "shop",
                "orders orders_customer_fkey",
                &[3284, 225, 226],
            ),
        ])
    }

    fn t(schema: &str, name: &str) -> TableRef {
        TableRef::new(schema, name)
    }

    fn ids(s: &Selection) -> Vec<i32> {
        s.entries.clone()
    }

    #[test]
    fn a_table_with_its_types_trigger_function_comment_and_grant() {
        let a = shop();
        let s = select_tables(&a, &[t("shop", "items")], false).unwrap();
        assert_eq!(
            ids(&s),
            vec![7, 861, 857, 231, 217, 3463, 3464, 3441, 3266, 3264, 3265, 3296]
        );
        assert_eq!(s.tables, vec![t("shop", "items")]);
        assert_eq!(s.data_files, vec!["3441.dat".to_string()]);
        assert!(s.skipped.is_empty());
    }

    #[test]
    fn an_unowned_sequence_comes_with_its_value_before_the_table() {
        let a = shop();
        let s = select_tables(&a, &[t("shop", "tickets")], false).unwrap();
        assert_eq!(ids(&s), vec![7, 218, 3470, 219, 3443, 3466]);
    }

    #[test]
    fn a_sequence_named_only_in_sql_text_is_found() {
        let mut a = shop();
        // nextval('...'::text) records no dependency.
        let e = a.entries.iter_mut().find(|e| e.dump_id == 219).unwrap();
        e.deps = vec![7];
        e.defn =
            "CREATE TABLE shop.tickets (no bigint DEFAULT nextval('shop.ticket_no'::text));".into();
        let s = select_tables(&a, &[t("shop", "tickets")], false).unwrap();
        assert_eq!(ids(&s), vec![7, 218, 3470, 219, 3443, 3466]);
        let mut a = shop();
        a.entries.push(entry(300, "SCHEMA", "", "Odd \"S\"", &[]));
        a.entries
            .push(entry(301, "SEQUENCE", "Odd \"S\"", "it's", &[300]));
        a.entries
            .push(entry(302, "SEQUENCE SET", "Odd \"S\"", "it's", &[301]));
        let e = a.entries.iter_mut().find(|e| e.dump_id == 3260).unwrap();
        e.defn = r#"ALTER TABLE shop.customers ALTER COLUMN id SET DEFAULT nextval('"Odd ""S"""."it''s"'::text);"#.into();
        let s = select_tables(&a, &[t("shop", "customers")], false).unwrap();
        assert!(s.entries.contains(&301) && s.entries.contains(&302) && s.entries.contains(&300));
    }

    #[test]
    fn an_owned_sequence_and_an_extension_come_with_their_table() {
        let a = shop();
        let s = select_tables(&a, &[t("shop", "customers")], false).unwrap();
        assert_eq!(ids(&s), vec![7, 10, 225, 224, 3462, 3260, 3448, 3465, 3284]);
    }

    #[test]
    fn a_partitioned_table_brings_every_partition() {
        let a = shop();
        let s = select_tables(&a, &[t("shop", "events")], false).unwrap();
        assert_eq!(
            ids(&s),
            vec![
                7, 220, 221, 222, 3256, 3257, 3444, 3445, 3271, 3274, 3277, 3269, 3272, 3275, 3289,
                3290, 3291
            ]
        );
        assert_eq!(
            s.tables,
            vec![
                t("shop", "events"),
                t("shop", "events_2024"),
                t("shop", "events_2025")
            ]
        );
        assert!(s.skipped.is_empty());
    }

    #[test]
    fn a_partition_alone_is_a_plain_table_and_says_so() {
        let a = shop();
        let s = select_tables(&a, &[t("shop", "events_2025")], false).unwrap();
        assert_eq!(ids(&s), vec![7, 222, 3445, 3277, 3275]);
        assert_eq!(s.skipped.len(), 1);
        assert!(s.skipped[0].what.contains("TABLE ATTACH shop.events_2025"));
    }

    #[test]
    fn a_foreign_key_to_a_table_not_chosen_is_skipped_or_brings_it() {
        let a = shop();
        let s = select_tables(&a, &[t("shop", "orders")], false).unwrap();
        assert_eq!(ids(&s), vec![7, 226, 3449, 3286]);
        assert_eq!(
            s.skipped,
            vec![Skipped {
                what: "FK CONSTRAINT orders_customer_fkey on shop.orders".into(),
                reason: "it references shop.customers, which is not restored. Fix: choose it too, or restore with the referenced tables".into(),
            }]
        );
        let s = select_tables(&a, &[t("shop", "orders")], true).unwrap();
        assert_eq!(s.tables, vec![t("shop", "orders"), t("shop", "customers")]);
        assert!(s.entries.contains(&3295) && s.entries.contains(&3448));
        assert!(s.skipped.is_empty());
        // Choosing the referenced table alone does not drag in its referrers.
        let s = select_tables(&a, &[t("shop", "customers")], true).unwrap();
        assert_eq!(s.tables, vec![t("shop", "customers")]);
        assert!(s.skipped.is_empty());
    }

    #[test]
    fn never_the_public_schema_nor_the_views_over_a_table() {
        let a = shop();
        let s = select_tables(
            &a,
            &[
                t("public", "plain"),
                t("shop", "orders"),
                t("public", "plain"),
            ],
            false,
        )
        .unwrap();
        assert_eq!(ids(&s), vec![7, 230, 226, 3452, 3449, 3286]);
        let mut a = shop();
        a.entries[9].deps = vec![2];
        let s = select_tables(&a, &[t("public", "plain")], false).unwrap();
        assert_eq!(ids(&s), vec![230, 3452]);
    }

    #[test]
    fn a_table_something_needs_is_brought_along() {
        let mut a = shop();
        // A trigger function returning the row type of another table.
        a.entries[7].deps = vec![7, 230];
        a.entries
            .push(entry(3297, "TRIGGER", "shop", "items other", &[217, 232]));
        let s = select_tables(&a, &[t("shop", "items")], false).unwrap();
        assert_eq!(s.tables, vec![t("public", "plain"), t("shop", "items")]);
        assert!(s.entries.contains(&3452));
    }

    #[test]
    fn a_missing_table_is_refused_with_the_closest_names() {
        let a = shop();
        let e = select_tables(&a, &[t("public", "orders")], false).unwrap_err();
        match &e {
            TocError::NoSuchTable { wanted, closest } => {
                assert_eq!(wanted, "public.orders");
                assert_eq!(closest[0], "shop.orders");
            }
            other => panic!("{other}"),
        }
        assert_eq!(e.status(), 404);
        assert!(e.to_string().contains("shop.orders") && e.to_string().contains("Fix:"));
        assert_eq!(
            closest_tables(&a, &t("shop", "Items"), 3)[0],
            t("shop", "items")
        );
        assert_eq!(
            closest_tables(&a, &t("shop", "itemz"), 1),
            vec![t("shop", "items")]
        );
        assert_eq!(
            closest_tables(&a, &t("shop", "tickts"), 1),
            vec![t("shop", "tickets")]
        );
        assert!(closest_tables(&a, &t("zzz", "qqqqqqqqqqq"), 3).is_empty());
    }

    #[test]
    fn the_list_file_has_one_line_per_entry_in_archive_order() {
        let mut a = shop();
        a.entries[4].tag = "odd\nname".into();
        let s = select_tables(&a, &[t("shop", "customers")], false).unwrap();
        let list = list_file(&a, &s);
        let lines: Vec<&str> = list.lines().filter(|l| !l.starts_with(';')).collect();
        assert_eq!(lines.len(), s.entries.len());
        assert_eq!(lines[0], "7; 1259 16007 SCHEMA - shop postgres");
        assert_eq!(lines[1], "10; 1259 16010 EXTENSION - odd name postgres");
        let listed: Vec<i32> = lines
            .iter()
            .map(|l| l.split(';').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(listed, s.entries);
    }
}
