//! Comparing a scratch copy of a table with the live table, and putting
//! rows back, against real PostgreSQL servers: the comparison finds exactly
//! the rows deleted, changed and added, the script applied with stock
//! `psql -v ON_ERROR_STOP=1` restores them, and applying it from pgshelf
//! needs the typed confirmation, gives the same result and is recorded.
//!
//! Runs once per major in `PGSHELF_TEST_PG` (default 15,18), then across
//! two majors when both run.

use std::process::Command;

use engine::compare::{Pair, PutBack, PutBackStatus};
use engine::Error;

mod common;
use common::*;

const T: &str = r#""Sales Ops"."Order ""Lines""""#;
/// How pgshelf writes (and wants confirmed) the table's name.
const T_DISPLAY: &str = T;

const FIXTURE: &str = r#"
CREATE SCHEMA "Sales Ops";
CREATE TYPE "Sales Ops".mood AS ENUM ('calm', 'upset');
CREATE TABLE "Sales Ops"."Order ""Lines""" (
    "Region"  text NOT NULL,
    "line no" integer NOT NULL,
    seq       bigint GENERATED ALWAYS AS IDENTITY,
    qty       numeric(10,2) NOT NULL,
    total     numeric GENERATED ALWAYS AS (qty * 2) STORED,
    note      text,
    attrs     jsonb,
    mood      "Sales Ops".mood,
    at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY ("Region", "line no")
);
INSERT INTO "Sales Ops"."Order ""Lines""" ("Region", "line no", qty, note, attrs, mood, at)
SELECT r, n, n * 1.25,
       CASE WHEN n % 7 = 0 THEN NULL WHEN n % 5 = 0 THEN E'it''s\nmulti\\line ünï' ELSE 'note ' || n END,
       jsonb_build_object('n', n, 'r', r),
       (CASE WHEN n % 2 = 0 THEN 'calm' ELSE 'upset' END)::"Sales Ops".mood,
       timestamptz '2025-01-01 00:00:00+00' + n * interval '1 hour'
  FROM unnest(ARRAY['north', 'South', 'ëast', 'West']) r, generate_series(1, 50) n;
CREATE TABLE "Sales Ops".events (id int, at date, what text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE "Sales Ops".events_2025 PARTITION OF "Sales Ops".events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE "Sales Ops".events_2026 PARTITION OF "Sales Ops".events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO "Sales Ops".events SELECT g, DATE '2025-06-01' + g * 3, 'e' || g FROM generate_series(1, 100) g;
CREATE TABLE "Sales Ops".nokey (a int, b text);
CREATE UNIQUE INDEX ON "Sales Ops".nokey (b);
"#;

/// What happens to the live table after the backup.
const DAMAGE: &str = r#"
DELETE FROM "Sales Ops"."Order ""Lines"""
 WHERE ("Region", "line no") IN (('north', 1), ('north', 10), ('South', 9), ('ëast', 50), ('West', 25));
UPDATE "Sales Ops"."Order ""Lines""" SET note = 'changed'
 WHERE ("Region", "line no") IN (('north', 2), ('South', 3), ('West', 11));
UPDATE "Sales Ops"."Order ""Lines""" SET note = NULL
 WHERE ("Region", "line no") IN (('north', 3), ('ëast', 4));
UPDATE "Sales Ops"."Order ""Lines""" SET qty = qty + 1 WHERE ("Region", "line no") = ('South', 20);
UPDATE "Sales Ops"."Order ""Lines""" SET attrs = '{"b": 2}' WHERE ("Region", "line no") = ('West', 12);
INSERT INTO "Sales Ops"."Order ""Lines""" ("Region", "line no", qty, note)
VALUES ('new', 1, 1, 'a'), ('new', 2, 2, NULL), ('north', 51, 3, 'x'), ('ëast', 0, 4, 'y');
DELETE FROM "Sales Ops".events WHERE id IN (10, 90);
UPDATE "Sales Ops".events SET what = 'changed' WHERE id = 50;
"#;

fn keys(v: &[(&str, &str)]) -> Vec<Vec<String>> {
    v.iter()
        .map(|(a, b)| vec![a.to_string(), b.to_string()])
        .collect()
}

/// Every row of the table as text, bytewise ordered, without the rows added
/// since the backup.
fn rows_of(pg: &testkit::PgServer, db: &str) -> String {
    pg.psql(
        db,
        &format!(
            "SET TimeZone = 'UTC'; SELECT t::text FROM {T} t
              WHERE (\"Region\", \"line no\") NOT IN (('new', 1), ('new', 2), ('north', 51), ('ëast', 0))
              ORDER BY \"Region\" COLLATE \"C\", \"line no\""
        ),
    )
}

fn psql_file(pg: &testkit::PgServer, db: &str, file: &std::path::Path) -> std::process::Output {
    Command::new(pg.tool("psql"))
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
        .arg(pg.socket_dir())
        .args([
            "-p",
            &pg.port.to_string(),
            "-U",
            testkit::SUPERUSER,
            "-d",
            db,
            "-f",
        ])
        .arg(file)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn compare_and_put_back() {
    let env = engine_for(&testkit::majors_under_test()).await;
    let mut kept = Vec::new();
    for major in testkit::majors_under_test() {
        let pg = testkit::server(major);
        let server = env
            .engine
            .add_server(input(&format!("pg{major}"), pg))
            .await
            .unwrap();
        let live = pg.fresh_database("shop");
        pg.psql(&live, FIXTURE);
        // The "backup": a copy made before the damage.
        let scratch = format!("scratch_{live}");
        pg.psql(
            "postgres",
            &format!("CREATE DATABASE \"{scratch}\" TEMPLATE \"{live}\""),
        );
        pg.psql(&live, DAMAGE);
        let live2 = format!("{live}_two");
        pg.psql(
            "postgres",
            &format!("CREATE DATABASE \"{live2}\" TEMPLATE \"{live}\""),
        );
        let pair = |live: &str| Pair {
            scratch_server_id: server.id,
            scratch: scratch.clone(),
            live_server_id: server.id,
            live: live.to_owned(),
            backup_id: None,
        };

        // The comparison finds exactly those rows and columns.
        let c = env.engine.compare_pair(&pair(&live), T).await.unwrap();
        assert_eq!(c.table, T_DISPLAY);
        assert_eq!(c.key, vec!["Region", "line no"]);
        assert_eq!(c.columns.len(), 9);
        assert_eq!((c.scratch_rows, c.live_rows), (200, 199), "PG {major}");
        let got = |s: &engine::compare::DiffSet| -> Vec<Vec<String>> {
            s.sample.iter().map(|r| r.key.clone()).collect()
        };
        // Bytewise key order: upper case before lower case, "10" before "9".
        assert_eq!(
            got(&c.deleted),
            keys(&[
                ("South", "9"),
                ("West", "25"),
                ("north", "1"),
                ("north", "10"),
                ("ëast", "50")
            ])
        );
        assert_eq!(c.deleted.count, 5);
        assert_eq!(
            got(&c.changed),
            keys(&[
                ("South", "20"),
                ("South", "3"),
                ("West", "11"),
                ("West", "12"),
                ("north", "2"),
                ("north", "3"),
                ("ëast", "4")
            ])
        );
        assert_eq!(c.changed.count, 7);
        let changed_cols: Vec<Vec<String>> = c
            .changed
            .sample
            .iter()
            .map(|r| r.changed_columns.clone())
            .collect();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            changed_cols,
            vec![
                s(&["qty", "total"]),
                s(&["note"]),
                s(&["note"]),
                s(&["attrs"]),
                s(&["note"]),
                s(&["note"]),
                s(&["note"])
            ]
        );
        let north3 = &c.changed.sample[5];
        let note = c.columns.iter().position(|n| n == "note").unwrap();
        assert_eq!(
            north3.scratch.as_ref().unwrap()[note].as_deref(),
            Some("note 3")
        );
        assert_eq!(north3.live.as_ref().unwrap()[note], None);
        let north10 = &c.deleted.sample[3];
        assert_eq!(
            north10.scratch.as_ref().unwrap()[note].as_deref(),
            Some("it's\nmulti\\line ünï")
        );
        assert!(north10.live.is_none());
        assert_eq!(
            got(&c.added),
            keys(&[("new", "1"), ("new", "2"), ("north", "51"), ("ëast", "0")])
        );
        assert_eq!(c.unchanged, 200 - 5 - 7);

        // The script, applied with stock psql, puts the deleted and changed
        // rows back and leaves the added ones.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("put-back.sql");
        let summary = env
            .engine
            .put_back_script_pair(
                &pair(&live),
                T,
                &PutBack::all(),
                Some(&c),
                tokio::fs::File::create(&file).await.unwrap(),
            )
            .await
            .unwrap();
        assert_eq!((summary.deleted, summary.changed), (5, 7));
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.starts_with("-- pgshelf put-back script for"), "{text}");
        assert!(text.contains("5 deleted since the backup, 7 changed, 4 added since"));
        assert!(text.contains("OVERRIDING SYSTEM VALUE"));
        assert!(
            !text.contains("\"total\""),
            "generated columns are not written"
        );
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("INSERT INTO"))
                .count(),
            12
        );
        {
            use sha2::Digest;
            assert_eq!(
                summary.sha256,
                hex::encode(sha2::Sha256::digest(text.as_bytes()))
            );
            assert_eq!(summary.bytes, text.len() as u64);
        }
        let out = psql_file(pg, &live, &file);
        assert!(
            out.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(rows_of(pg, &live), rows_of(pg, &scratch), "PG {major}");
        let after = env.engine.compare_pair(&pair(&live), T).await.unwrap();
        assert_eq!(
            (after.deleted.count, after.changed.count, after.added.count),
            (0, 0, 4)
        );

        // Rows picked by key: a deleted one is put back, an added one is
        // reported as having nothing to put back.
        let mut buf: Vec<u8> = Vec::new();
        let picked = env
            .engine
            .put_back_script_pair(
                &pair(&live2),
                T,
                &PutBack {
                    deleted: false,
                    changed: false,
                    keys: keys(&[("north", "10"), ("new", "1"), ("north", "5")]),
                },
                None,
                &mut buf,
            )
            .await
            .unwrap();
        assert_eq!((picked.deleted, picked.changed), (1, 0));
        let reasons: Vec<&str> = picked.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert_eq!(picked.skipped.len(), 2, "{reasons:?}");
        assert!(reasons.iter().any(|r| r.starts_with("added since")));
        assert!(reasons.iter().any(|r| r.starts_with("unchanged")));
        let e = env
            .engine
            .put_back_script_pair(
                &pair(&live2),
                T,
                &PutBack {
                    keys: vec![vec!["north".into()]],
                    ..Default::default()
                },
                None,
                &mut Vec::new(),
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("Fix:") && e.status() == 422, "{e}");

        // Applying from pgshelf needs the table's name typed exactly.
        for wrong in [
            "",
            "Sales Ops.Order \"Lines\"",
            r#""sales ops"."order ""lines""""#,
        ] {
            let e = env
                .engine
                .apply_put_back_pair(&pair(&live2), T, &PutBack::all(), wrong, "alice")
                .await
                .unwrap_err();
            assert!(
                matches!(
                    &e,
                    Error::Compare(engine::compare::CompareError::NotConfirmed { .. })
                ),
                "{e}"
            );
            assert_eq!(e.status(), 422);
        }
        assert!(env
            .engine
            .put_backs(None, Some(&live2))
            .await
            .unwrap()
            .is_empty());

        // A failing put-back is rolled back and recorded as failed.
        pg.psql(
            &live2,
            &format!(
                "ALTER TABLE {T} ADD CONSTRAINT one_line CHECK (note NOT LIKE E'%\\n%') NOT VALID"
            ),
        );
        let before = rows_of(pg, &live2);
        let e = env
            .engine
            .apply_put_back_pair(&pair(&live2), T, &PutBack::all(), T_DISPLAY, "alice")
            .await
            .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("one_line") && msg.contains("rolled back") && msg.contains("Fix:"),
            "{msg}"
        );
        assert_eq!(rows_of(pg, &live2), before, "nothing changed");
        let recs = env
            .engine
            .put_backs(Some(server.id), Some(&live2))
            .await
            .unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].status, PutBackStatus::Failed);
        assert!(recs[0].error.as_deref().unwrap().contains("one_line"));
        pg.psql(&live2, &format!("ALTER TABLE {T} DROP CONSTRAINT one_line"));

        // With the confirmation: the same result as psql's, and a record.
        let rec = env
            .engine
            .apply_put_back_pair(&pair(&live2), T, &PutBack::all(), T_DISPLAY, "alice")
            .await
            .unwrap();
        assert_eq!(rec.status, PutBackStatus::Succeeded, "{rec:?}");
        assert_eq!((rec.rows_inserted, rec.rows_updated), (5, 7), "PG {major}");
        assert_eq!(rec.who, "alice");
        assert_eq!(rec.table, T_DISPLAY);
        assert_eq!(
            (rec.database.as_str(), rec.scratch.as_str()),
            (live2.as_str(), scratch.as_str())
        );
        assert_eq!(rec.sha256.len(), 64);
        assert_eq!(rows_of(pg, &live2), rows_of(pg, &scratch));
        let same = env
            .engine
            .compare_pair(
                &Pair {
                    scratch: live.clone(),
                    ..pair(&live2)
                },
                T,
            )
            .await
            .unwrap();
        assert!(same.is_same(), "{same:?}");
        assert_eq!(same.unchanged, 204);
        let recs = env.engine.put_backs(Some(server.id), None).await.unwrap();
        assert_eq!(recs[0].id, rec.id);

        // A partitioned table: rows in either partition, counted across them.
        let parted = "\"Sales Ops\".events";
        let c = env
            .engine
            .compare_pair(&pair(&live2), parted)
            .await
            .unwrap();
        assert_eq!(
            (c.deleted.count, c.changed.count, c.added.count, c.unchanged),
            (2, 1, 0, 97)
        );
        let rec = env
            .engine
            .apply_put_back_pair(&pair(&live2), parted, &PutBack::all(), parted, "alice")
            .await
            .unwrap();
        assert_eq!((rec.rows_inserted, rec.rows_updated), (2, 1), "PG {major}");
        let c = env
            .engine
            .compare_pair(&pair(&live2), parted)
            .await
            .unwrap();
        assert!(c.is_same(), "{c:?}");

        // A table without a usable key is refused, with the fix.
        let e = env
            .engine
            .compare_pair(&pair(&live), "\"Sales Ops\".nokey")
            .await
            .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("no key to match rows on")
                && msg.contains("ADD PRIMARY KEY")
                && msg.contains("Fix:"),
            "{msg}"
        );
        assert_eq!(e.status(), 422);

        // A table missing on one side names the closest ones.
        let e = env
            .engine
            .compare_pair(&pair(&live), "\"Sales Ops\".\"Order Lines\"")
            .await
            .unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("closest") && msg.contains(T_DISPLAY), "{msg}");
        assert_eq!(e.status(), 404);

        // Columns that changed since the backup are named.
        pg.psql(&live2, &format!("ALTER TABLE {T} ADD COLUMN extra int"));
        let e = env.engine.compare_pair(&pair(&live2), T).await.unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("\"extra\" only live") && msg.contains("Fix:"),
            "{msg}"
        );
        pg.psql(&live2, &format!("ALTER TABLE {T} DROP COLUMN extra"));

        kept.push((major, server.id, scratch, live));
    }

    // Across servers of two majors: the copy on one, the live table on the other.
    if let [(_, a, scratch, _), (_, b, _, live), ..] = kept.as_slice() {
        let c = env
            .engine
            .compare_pair(
                &Pair {
                    scratch_server_id: *a,
                    scratch: scratch.clone(),
                    live_server_id: *b,
                    live: live.clone(),
                    backup_id: None,
                },
                T,
            )
            .await
            .unwrap();
        assert_eq!(
            (c.deleted.count, c.changed.count, c.added.count, c.unchanged),
            (0, 0, 4, 200)
        );
    }
}

/// The whole path: a real backup, one table restored from it into a scratch
/// database pgshelf records, then compared and put back by the scratch database's name.
#[tokio::test(flavor = "multi_thread")]
async fn compare_a_recorded_scratch_database_by_name() {
    for major in testkit::majors_under_test() {
        let pg = testkit::server(major);
        let env = engine_for(&[major]).await;
        let server = env.engine.add_server(input("main", pg)).await.unwrap();
        let live = pg.fresh_database("shop");
        pg.psql(&live, FIXTURE);
        let backup = env
            .engine
            .backup_now(server.id, &live, "test")
            .await
            .unwrap();
        // One table restored whole into scratch, as the dashboard does it.
        let restored = env
            .engine
            .restore_tables(
                &model::restore::TableRestoreRequest {
                    backup_id: backup.id,
                    tables: vec![T.into()],
                    server_id: None,
                    into: None,
                    with_referenced: false,
                },
                "alice",
            )
            .await
            .unwrap();
        assert_eq!(restored.tables.len(), 1, "{restored:?}");
        let scratch = restored.scratch.name.clone();
        pg.psql(&live, DAMAGE);

        let pair = env.engine.scratch_pair(&scratch).await.unwrap();
        assert_eq!(
            (pair.live.as_str(), pair.live_server_id, pair.backup_id),
            (live.as_str(), server.id, Some(backup.id))
        );
        let c = env.engine.compare(&scratch, T).await.unwrap();
        assert_eq!(
            (c.deleted.count, c.changed.count, c.added.count, c.unchanged),
            (5, 7, 4, 188),
            "PG {major}"
        );
        let mut script = Vec::new();
        env.engine
            .put_back_script(&scratch, T, &PutBack::all(), None, &mut script)
            .await
            .unwrap();
        let text = String::from_utf8(script).unwrap();
        assert!(
            text.contains(&format!("(restored from backup {} of ", backup.id)),
            "{text}"
        );
        let rec = env
            .engine
            .apply_put_back(&scratch, T, &PutBack::all(), T_DISPLAY, "alice")
            .await
            .unwrap();
        assert_eq!((rec.rows_inserted, rec.rows_updated), (5, 7));
        assert_eq!(rows_of(pg, &live), rows_of(pg, &scratch), "PG {major}");

        let e = env.engine.compare("no_such_scratch", T).await.unwrap_err();
        assert_eq!(e.status(), 404, "{e}");
        env.engine.drop_scratch(&scratch, None).await.unwrap();
    }
}
