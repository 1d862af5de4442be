//! `engine::toc` against real pg_dump archives (custom and directory format,
//! `--compress=0`) from PostgreSQL 15 and 18: the parsed TOC matches
//! `pg_restore -l`, streamed row counts match `count(*)`, and the entries
//! [`select_tables`] picks restore chosen tables whole with the real
//! `pg_restore -L`.
//!
//! Runs once per major in `PGSHELF_TEST_PG` (default 15,18).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use engine::toc::{self, Archive, ArchiveFormat, TableRef};
use testkit::PgServer;

/// Awkward names, a domain, an enum and a trigger function, an unowned
/// sequence, a partitioned table, a foreign key, large objects, a table
/// with no columns and one with no rows, values that stress COPY text.
const FIXTURE: &str = r#"
DO $$ BEGIN CREATE ROLE toc_reader; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
CREATE SCHEMA "Ünï ""Odd"" Schema v1.0";
CREATE TABLE "Ünï ""Odd"" Schema v1.0"."Tàble ""Q"". With Dots" (id int PRIMARY KEY, "Val ue" text);
INSERT INTO "Ünï ""Odd"" Schema v1.0"."Tàble ""Q"". With Dots"
  SELECT g, CASE g % 5 WHEN 0 THEN E'line\nbreak' WHEN 1 THEN E'tab\there' WHEN 2 THEN E'back\\slash \\.'
                       WHEN 3 THEN '' ELSE NULL END
    FROM generate_series(1, 23) g;
CREATE INDEX "odd idx" ON "Ünï ""Odd"" Schema v1.0"."Tàble ""Q"". With Dots" ("Val ue");

CREATE SCHEMA shop;
CREATE DOMAIN shop.positive AS numeric CHECK (VALUE > 0);
CREATE TYPE shop.mood AS ENUM ('happy', 'sad');
CREATE FUNCTION shop.touch() RETURNS trigger LANGUAGE plpgsql
  AS $f$ BEGIN NEW.updated := now(); RETURN NEW; END $f$;
CREATE TABLE shop.items (id int PRIMARY KEY, price shop.positive NOT NULL, mood shop.mood, updated timestamptz);
CREATE TRIGGER items_touch BEFORE INSERT OR UPDATE ON shop.items FOR EACH ROW EXECUTE FUNCTION shop.touch();
CREATE INDEX items_mood ON shop.items (mood);
COMMENT ON TABLE shop.items IS 'things for sale';
GRANT SELECT ON shop.items TO toc_reader;
INSERT INTO shop.items (id, price, mood) SELECT g, g * 1.5, CASE WHEN g % 2 = 0 THEN 'happy' ELSE 'sad' END::shop.mood
  FROM generate_series(1, 40) g;

CREATE SEQUENCE shop.ticket_no START 500;
CREATE TABLE shop.tickets (no bigint PRIMARY KEY DEFAULT nextval('shop.ticket_no'), what text);
INSERT INTO shop.tickets (what) SELECT 't' || g FROM generate_series(1, 17) g;

CREATE TABLE shop.events (id bigint, at date NOT NULL, payload text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE shop.events_2024 PARTITION OF shop.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE shop.events_2025 PARTITION OF shop.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE shop.events_2026 PARTITION OF shop.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE INDEX events_payload ON shop.events (payload);
INSERT INTO shop.events SELECT g, DATE '2024-03-01' + (g * 3), 'p' || g FROM generate_series(1, 300) g;

CREATE TABLE shop.customers (id serial PRIMARY KEY, name text UNIQUE);
INSERT INTO shop.customers (name) SELECT 'c' || g FROM generate_series(1, 12) g;
CREATE TABLE shop.orders (id int PRIMARY KEY, customer int NOT NULL REFERENCES shop.customers (id), note text);
INSERT INTO shop.orders SELECT g, 1 + g % 12, 'o' || g FROM generate_series(1, 60) g;
CREATE VIEW shop.big_orders AS SELECT * FROM shop.orders WHERE id > 30;

CREATE TABLE shop.ident (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
INSERT INTO shop.ident (v) SELECT 'i' || g FROM generate_series(1, 9) g;
CREATE FUNCTION shop.seven() RETURNS int LANGUAGE sql AS 'SELECT 7';
CREATE TABLE shop.fdef (x int DEFAULT shop.seven(), y int);
INSERT INTO shop.fdef (y) VALUES (1), (2);

CREATE TABLE shop.nocols ();
INSERT INTO shop.nocols DEFAULT VALUES;
INSERT INTO shop.nocols DEFAULT VALUES;
INSERT INTO shop.nocols DEFAULT VALUES;
CREATE TABLE shop.empty (id int);
CREATE TABLE public.plain (id int PRIMARY KEY);
INSERT INTO public.plain SELECT generate_series(1, 5);
SELECT lo_from_bytea(0, 'large object one'::bytea);
SELECT lo_from_bytea(0, convert_to(repeat('z', 100000), 'UTF8'));
"#;

const ODD_SCHEMA: &str = "Ünï \"Odd\" Schema v1.0";
const ODD_TABLE: &str = "Tàble \"Q\". With Dots";

/// Exact row count of every table that holds rows (leaf tables), by table.
fn counts(pg: &PgServer, db: &str) -> BTreeMap<TableRef, u64> {
    let out = pg.psql(
        db,
        r#"SELECT n.nspname || E'\t' || c.relname || E'\t' ||
                  (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM ONLY %I.%I', n.nspname, c.relname), false, true, '')))[1]::text
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
            ORDER BY 1"#,
    );
    out.lines()
        .map(|l| {
            let mut p = l.split('\t');
            let (s, t, n) = (p.next().unwrap(), p.next().unwrap(), p.next().unwrap());
            (TableRef::new(s, t), n.parse().unwrap())
        })
        .collect()
}

/// A fixture database and its two dumps.
struct Dumped {
    pg: &'static PgServer,
    db: String,
    _dir: tempfile::TempDir,
    custom: PathBuf,
    directory: PathBuf,
}

fn dump(pg: &'static PgServer, prefix: &str) -> Dumped {
    let db = pg.fresh_database(prefix);
    pg.psql(&db, FIXTURE);
    let dir = tempfile::tempdir().unwrap();
    let custom = dir.path().join("dump.custom");
    let directory = dir.path().join("dump.dir");
    for (format, path) in [("custom", &custom), ("directory", &directory)] {
        let out = Command::new(pg.tool("pg_dump"))
            .arg("--host")
            .arg(pg.socket_dir())
            .args(["--port", &pg.port.to_string(), "--username", "postgres"])
            .arg(format!("--format={format}"))
            .arg("--compress=0")
            .arg("--file")
            .arg(path)
            .arg(&db)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_dump: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Dumped {
        pg,
        db,
        _dir: dir,
        custom,
        directory,
    }
}

fn pg_restore(pg: &PgServer) -> Command {
    let mut c = Command::new(pg.tool("pg_restore"));
    c.arg("--host").arg(pg.socket_dir()).args([
        "--port",
        &pg.port.to_string(),
        "--username",
        "postgres",
    ]);
    c
}

/// `(id, desc, schema, tag)` of every entry `pg_restore -l` lists.
fn restore_list(pg: &PgServer, archive: &Path) -> Vec<(i32, String)> {
    let out = pg_restore(pg).arg("--list").arg(archive).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(|l| {
            let (id, rest) = l.split_once(';').unwrap();
            (id.trim().parse().unwrap(), rest.trim().to_string())
        })
        .collect()
}

fn read(path: &Path) -> Archive {
    toc::read_archive(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn archives_parse_like_pg_restore_lists_them() {
    for major in testkit::majors_under_test() {
        let d = dump(testkit::server(major), "tocparse");
        let custom = read(&d.custom);
        let dir = read(&d.directory.join("toc.dat"));
        let want_version = if major >= 17 { (1, 16, 0) } else { (1, 14, 0) };
        for (a, format) in [
            (&custom, ArchiveFormat::Custom),
            (&dir, ArchiveFormat::Directory),
        ] {
            assert_eq!(a.format, format);
            assert_eq!(a.version, want_version, "PostgreSQL {major}");
            assert_eq!(a.compression, "none");
            assert_eq!(a.dbname, d.db);
            assert!(a.server_version.starts_with(&major.to_string()));
            assert!(a.pg_dump_version.starts_with(&major.to_string()));
            // Same entries, same order, same descriptions as pg_restore -l.
            let listed = restore_list(
                d.pg,
                if format == ArchiveFormat::Custom {
                    &d.custom
                } else {
                    &d.directory
                },
            );
            let ids: Vec<i32> = listed.iter().map(|(id, _)| *id).collect();
            let ours: Vec<i32> = a
                .entries
                .iter()
                .filter(|e| {
                    !matches!(
                        e.desc.as_str(),
                        "ENCODING" | "STDSTRINGS" | "SEARCHPATH" | "DATABASE"
                    )
                })
                .map(|e| e.dump_id)
                .collect();
            assert_eq!(ours, ids, "PostgreSQL {major} {format:?}");
            for (id, line) in &listed {
                let e = a.entry(*id).unwrap();
                let shown = format!(
                    "{} {} {} {}",
                    e.table_oid,
                    e.oid,
                    e.desc,
                    if e.namespace.is_empty() {
                        "-"
                    } else {
                        &e.namespace
                    }
                );
                assert!(line.starts_with(&shown), "{line:?} vs {shown:?}");
            }
        }
        // The directory archive names a data file for every TABLE DATA entry.
        for e in dir.entries.iter().filter(|e| e.desc == "TABLE DATA") {
            let f = e.data_file.as_deref().unwrap();
            assert!(d.directory.join(f).is_file(), "{f}");
            assert_eq!(dir.table_of_data_file(f), Some(e.table_ref()));
        }
        let odd = TableRef::new(ODD_SCHEMA, ODD_TABLE);
        assert!(custom.tables().contains(&odd), "{:?}", custom.tables());
        let parent = custom
            .table_entry(&TableRef::new("shop", "events"))
            .unwrap();
        if major >= 17 {
            assert_eq!(parent.relkind, Some('p'));
            assert_eq!(custom.table_entry(&odd).unwrap().relkind, Some('r'));
        } else {
            assert_eq!(parent.relkind, None);
        }
        assert!(custom
            .data_entry(&TableRef::new("shop", "events"))
            .is_none());
        assert!(custom
            .data_entry(&TableRef::new("shop", "events_2025"))
            .is_some());
        // Data blocks follow the TOC.
        let bytes = std::fs::read(&d.custom).unwrap();
        assert!(custom.toc_len < bytes.len() as u64);
        assert_eq!(
            bytes[custom.toc_len as usize], 1,
            "a data block starts after the TOC"
        );
        d.pg.drop_database(&d.db);
    }
}

#[test]
fn streamed_counts_equal_count_star() {
    for major in testkit::majors_under_test() {
        let d = dump(testkit::server(major), "toccount");
        let want = counts(d.pg, &d.db);
        assert_eq!(want.len(), 13, "{want:?}");
        assert_eq!(want[&TableRef::new(ODD_SCHEMA, ODD_TABLE)], 23);
        assert_eq!(want[&TableRef::new("shop", "nocols")], 3);

        // Custom format, fed in pieces of 1 and 7 bytes and whole.
        let bytes = std::fs::read(&d.custom).unwrap();
        for piece in [1, 7, 65536, bytes.len()] {
            let mut c = toc::RowCounter::new();
            for p in bytes.chunks(piece) {
                c.feed(p).unwrap();
            }
            let got: BTreeMap<TableRef, u64> = c.finish().unwrap().by_table.into_iter().collect();
            assert_eq!(got, want, "PostgreSQL {major}, pieces of {piece}");
        }
        // A truncated dump is refused, never counted short.
        let mut c = toc::RowCounter::new();
        c.feed(&bytes[..bytes.len() - 100]).unwrap();
        assert!(matches!(c.finish(), Err(toc::TocError::Corrupt(_))));

        // Directory format: each data file through a LineCounter.
        let archive = read(&d.directory.join("toc.dat"));
        let mut got = BTreeMap::new();
        for f in std::fs::read_dir(&d.directory).unwrap().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            let Some(table) = archive.table_of_data_file(&name) else {
                continue;
            };
            let data = std::fs::read(f.path()).unwrap();
            for piece in [1, 7, data.len().max(1)] {
                let mut c = toc::LineCounter::new();
                for p in data.chunks(piece) {
                    c.feed(p);
                }
                assert!(c.ended(), "{name}");
                got.insert(table.clone(), c.rows());
            }
        }
        assert_eq!(got, want, "PostgreSQL {major}, directory format");
        d.pg.drop_database(&d.db);
    }
}

/// Restores `sel` from `archive` into a fresh database with the real
/// `pg_restore -L`, as pgshelf will (`--no-owner`); any error fails.
fn restore_selection(d: &Dumped, a: &Archive, sel: &toc::Selection, archive: &Path) -> String {
    let target = d.pg.fresh_database("tocsel");
    let list = d._dir.path().join(format!("{target}.list"));
    std::fs::write(&list, toc::list_file(a, sel)).unwrap();
    let out = pg_restore(d.pg)
        .args([
            "--no-owner",
            "--exit-on-error",
            "--dbname",
            &target,
            "--use-list",
        ])
        .arg(&list)
        .arg(archive)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pg_restore -L: {}\n--- list ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        toc::list_file(a, sel)
    );
    target
}

/// `table: indexdef` lines of a database's user indexes and
/// `table: constraint def` lines of its constraints, for comparison.
fn keys_and_indexes(pg: &PgServer, db: &str, tables: &[TableRef]) -> Vec<String> {
    let mut out = Vec::new();
    for t in tables {
        let sql = format!(
            "SELECT 'index ' || indexrelid::regclass::text || ': ' || pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = '{0}'::regclass
             UNION ALL
             SELECT 'constraint ' || conname || ': ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = '{0}'::regclass
             UNION ALL
             SELECT 'trigger ' || tgname || ': ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = '{0}'::regclass AND NOT tgisinternal
             UNION ALL
             SELECT 'default ' || attname || ': ' || pg_get_expr(adbin, adrelid) FROM pg_attrdef JOIN pg_attribute ON attrelid = adrelid AND attnum = adnum WHERE adrelid = '{0}'::regclass
             UNION ALL
             SELECT 'partition of ' || inhparent::regclass::text FROM pg_inherits WHERE inhrelid = '{0}'::regclass
             ORDER BY 1",
            t.sql().replace('\'', "''")
        );
        for l in pg.psql(db, &sql).lines() {
            out.push(format!("{t}: {l}"));
        }
    }
    out
}

/// `last_value,is_called` of a sequence.
fn sequence_state(pg: &PgServer, db: &str, seq: &str) -> String {
    pg.psql(
        db,
        &format!("SELECT last_value || ',' || is_called FROM {seq}"),
    )
}

#[test]
fn selected_tables_restore_whole_with_pg_restore() {
    for major in testkit::majors_under_test() {
        let d = dump(testkit::server(major), "tocsel");
        let source = counts(d.pg, &d.db);
        let odd = TableRef::new(ODD_SCHEMA, ODD_TABLE);
        let chosen = vec![
            odd.clone(),
            TableRef::new("shop", "items"),
            TableRef::new("shop", "tickets"),
            TableRef::new("shop", "events"),
            TableRef::new("shop", "orders"),
            TableRef::new("shop", "ident"),
            TableRef::new("shop", "fdef"),
        ];
        let partitions: Vec<TableRef> = ["events_2024", "events_2025", "events_2026"]
            .iter()
            .map(|p| TableRef::new("shop", *p))
            .collect();
        for format in [ArchiveFormat::Custom, ArchiveFormat::Directory] {
            let ctx = format!("PostgreSQL {major} {format:?}");
            let (a, path) = match format {
                ArchiveFormat::Custom => (read(&d.custom), d.custom.clone()),
                _ => (read(&d.directory.join("toc.dat")), d.directory.clone()),
            };

            // A name that is not in the backup is refused with the closest ones.
            let e =
                toc::select_tables(&a, &[TableRef::new("public", "orders")], false).unwrap_err();
            assert!(
                matches!(&e, toc::TocError::NoSuchTable { closest, .. } if closest[0] == "shop.orders"),
                "{e}"
            );

            let sel = toc::select_tables(&a, &chosen, false).unwrap();
            let mut want_tables = chosen.clone();
            want_tables.extend(partitions.clone());
            let mut got_tables = sel.tables.clone();
            got_tables.sort();
            want_tables.sort();
            assert_eq!(got_tables, want_tables, "{ctx}");
            assert_eq!(sel.skipped.len(), 1, "{ctx}: {:?}", sel.skipped);
            assert_eq!(
                sel.skipped[0].what, "FK CONSTRAINT orders_customer_fkey on shop.orders",
                "{ctx}"
            );
            assert!(sel.skipped[0].reason.contains("shop.customers"));

            // Directory format: restore from a copy holding only toc.dat
            // and the data files the selection names.
            let from = if format == ArchiveFormat::Directory {
                let data: Vec<&str> = a
                    .entries
                    .iter()
                    .filter(|e| e.desc == "TABLE DATA" && want_tables.contains(&e.table_ref()))
                    .filter_map(|e| e.data_file.as_deref())
                    .collect();
                let mut files = sel.data_files.clone();
                files.sort();
                let mut data: Vec<String> = data.iter().map(|s| s.to_string()).collect();
                data.sort();
                assert_eq!(files, data, "{ctx}");
                let only = d._dir.path().join(format!("only-{major}"));
                std::fs::create_dir_all(&only).unwrap();
                for f in sel.data_files.iter().map(String::as_str).chain(["toc.dat"]) {
                    std::fs::copy(path.join(f), only.join(f)).unwrap();
                }
                only
            } else {
                assert!(sel.data_files.is_empty());
                path.clone()
            };
            let target = restore_selection(&d, &a, &sel, &from);

            // Exactly the chosen tables and their partitions, with exactly their rows.
            let restored = counts(d.pg, &target);
            let want: BTreeMap<TableRef, u64> = source
                .iter()
                .filter(|(t, _)| want_tables.contains(t))
                .map(|(t, n)| (t.clone(), *n))
                .collect();
            assert_eq!(restored, want, "{ctx}");
            assert_eq!(
                d.pg.psql(&target, "SELECT count(*) FROM shop.events"),
                "300"
            );
            // Keys, indexes, triggers, defaults and partition links as in the source.
            assert_eq!(
                keys_and_indexes(d.pg, &target, &want_tables),
                keys_and_indexes(d.pg, &d.db, &want_tables)
                    .into_iter()
                    .filter(|l| !l.contains("orders_customer_fkey"))
                    .collect::<Vec<_>>(),
                "{ctx}"
            );
            assert!(keys_and_indexes(d.pg, &target, std::slice::from_ref(&odd))
                .iter()
                .any(|l| l.contains("PRIMARY KEY")));
            // The unowned sequence and its value.
            assert_eq!(
                sequence_state(d.pg, &target, "shop.ticket_no"),
                sequence_state(d.pg, &d.db, "shop.ticket_no"),
                "{ctx}"
            );
            // The identity sequence; the default calling a function.
            assert_eq!(
                sequence_state(d.pg, &target, "shop.ident_id_seq"),
                sequence_state(d.pg, &d.db, "shop.ident_id_seq"),
                "{ctx}"
            );
            assert_eq!(
                d.pg.psql(&target, "INSERT INTO shop.fdef (y) VALUES (3) RETURNING x"),
                "7"
            );
            // The trigger fires, the domain checks, the enum holds.
            assert_eq!(
                d.pg.psql(
                    &target,
                    "INSERT INTO shop.items (id, price, mood) VALUES (1000, 2, 'sad') RETURNING updated IS NOT NULL"
                ),
                "t"
            );
            assert!(d
                .pg
                .try_psql(
                    &target,
                    "INSERT INTO shop.items (id, price) VALUES (1001, -1)"
                )
                .is_err());
            assert_eq!(
                d.pg.psql(&target, "SELECT nextval('shop.ticket_no')"),
                (500 + 17).to_string()
            );
            // Comment and grant.
            assert_eq!(
                d.pg.psql(
                    &target,
                    "SELECT obj_description('shop.items'::regclass, 'pg_class')"
                ),
                "things for sale"
            );
            assert_eq!(
                d.pg.psql(
                    &target,
                    "SELECT has_table_privilege('toc_reader', 'shop.items', 'SELECT')"
                ),
                "t"
            );
            // Nothing else: no customers, no view, no large objects.
            assert_eq!(
                d.pg.psql(&target, "SELECT count(*) FROM pg_class WHERE relname IN ('customers', 'big_orders', 'plain')"),
                "0"
            );
            assert_eq!(
                d.pg.psql(&target, "SELECT count(*) FROM pg_largeobject_metadata"),
                "0"
            );
            d.pg.drop_database(&target);

            // With the referenced tables: customers comes, with its rows,
            // its sequence and the foreign key.
            let sel = toc::select_tables(&a, &[TableRef::new("shop", "orders")], true).unwrap();
            let mut brought = sel.tables.clone();
            brought.sort();
            assert_eq!(
                brought,
                vec![
                    TableRef::new("shop", "customers"),
                    TableRef::new("shop", "orders")
                ],
                "{ctx}"
            );
            assert!(sel.skipped.is_empty(), "{ctx}: {:?}", sel.skipped);
            let target = restore_selection(&d, &a, &sel, &path);
            let both = [
                TableRef::new("shop", "orders"),
                TableRef::new("shop", "customers"),
            ];
            let restored = counts(d.pg, &target);
            assert_eq!(restored.len(), 2, "{ctx}: {restored:?}");
            for t in &both {
                assert_eq!(restored[t], source[t], "{ctx}: {t}");
            }
            assert_eq!(
                keys_and_indexes(d.pg, &target, &both),
                keys_and_indexes(d.pg, &d.db, &both),
                "{ctx}"
            );
            assert_eq!(
                sequence_state(d.pg, &target, "shop.customers_id_seq"),
                sequence_state(d.pg, &d.db, "shop.customers_id_seq"),
                "{ctx}"
            );
            d.pg.drop_database(&target);
        }
        d.pg.drop_database(&d.db);
    }
}
