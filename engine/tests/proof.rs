//! Test-restores against real PostgreSQL servers: a good backup passes; a
//! stored artifact truncated or with one byte flipped, or a recorded count
//! that differs, fails naming the table; the scratch database is gone
//! afterwards every time; a failure records an event; a restore server
//! older than the dump's source is refused naming both versions; the
//! scheduler starts a due test-restore once, catches up once after
//! downtime, and the schedules show the proof.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use engine::catalog::{Backup, BackupStatus};
use engine::policy::Policy;
use engine::proof::{
    ProofFlag, TestRestore, TestRestoreStatus, TestRestoreTarget, TestRestoreTrigger,
};
use testkit::PgServer;

mod common;
use common::*;

const FIXTURE: &str = r#"
CREATE SCHEMA "Sales";
CREATE TABLE public.small (id int PRIMARY KEY, what text);
INSERT INTO public.small SELECT g, 'row ' || g FROM generate_series(1, 40) g;
CREATE TABLE public.log (id int, line text);
INSERT INTO public.log SELECT g, 'log ' || g FROM generate_series(1, 25) g;
-- Most of the archive: random text compresses badly, so a byte in the
-- middle of the stored file lies in this table's data.
CREATE TABLE "Sales"."Big Table" (id int PRIMARY KEY, payload text NOT NULL);
INSERT INTO "Sales"."Big Table"
  SELECT g, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) FROM generate_series(1, 30000) g;
"#;

fn scratch_exists(pg: &PgServer, name: &str) -> bool {
    pg.psql(
        "postgres",
        &format!(
            "SELECT count(*) FROM pg_database WHERE datname = '{}'",
            name.replace('\'', "''")
        ),
    ) != "0"
}

/// The scratch database of a finished test-restore is recorded and gone.
fn assert_scratch_gone(pg: &PgServer, t: &TestRestore) {
    let name = t
        .scratch
        .as_deref()
        .expect("the scratch database is recorded");
    assert!(t.scratch_dropped, "{t:?}");
    assert!(!scratch_exists(pg, name), "{name} still exists");
}

fn dump_file(env: &Env, row: &Backup) -> std::path::PathBuf {
    let f = artifact_dir(env, row).join("dump.zst");
    assert!(f.is_file(), "{}", f.display());
    f
}

async fn prove(env: &Env, id: i64) -> TestRestore {
    env.engine
        .test_restore(
            TestRestoreTarget::Backup(id),
            None,
            TestRestoreTrigger::Manual,
            "test",
        )
        .await
        .unwrap()
}

fn named(t: &TestRestore, table: &str) -> bool {
    t.mismatches
        .iter()
        .any(|m| m.table.as_deref() == Some(table))
}

/// Runs `f` with the file changed by `tamper`, then puts the original back.
async fn with_tampered<F, Fut>(file: &Path, tamper: impl FnOnce(&mut Vec<u8>), f: F)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let original = std::fs::read(file).unwrap();
    let mut bytes = original.clone();
    tamper(&mut bytes);
    std::fs::write(file, &bytes).unwrap();
    f().await;
    std::fs::write(file, &original).unwrap();
}

/// Sets the recorded row count of one table, in the catalog's copy of the
/// manifest and in the stored one alike.
async fn set_recorded_rows(env: &Env, row: &Backup, schema: &str, name: &str, rows: i64) {
    let edit = |text: &str| {
        let mut m: serde_json::Value = serde_json::from_str(text).unwrap();
        let t = m["tables"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|t| t["schema"] == schema && t["name"] == name)
            .expect("table in the manifest");
        t["rows"] = rows.into();
        serde_json::to_string_pretty(&m).unwrap()
    };
    let path = artifact_dir(env, row).join("manifest.json");
    let stored = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, edit(&stored)).unwrap();
    let pool = catalog_pool(env).await;
    let cataloged: String = sqlx::query_scalar("SELECT manifest FROM backups WHERE id = ?")
        .bind(row.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE backups SET manifest = ? WHERE id = ?")
        .bind(edit(&cataloged))
        .bind(row.id)
        .execute(&pool)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn passes_on_a_good_backup_and_fails_naming_the_table_when_tampered() {
    for major in testkit::majors_under_test() {
        let pg = testkit::server(major);
        let db = pg.fresh_database("proof");
        pg.psql(&db, FIXTURE);
        let env = engine_for(&[major]).await;
        let s = env.engine.add_server(input("main", pg)).await.unwrap();
        // The log's data is left out: 0 rows expected after the restore.
        let policy = Policy {
            selection: engine::policy::Selection {
                exclude_table_data: vec!["public.log".into()],
                ..Default::default()
            },
            ..Policy::default()
        };
        env.engine
            .set_policy(s.id, Some(&db), &policy)
            .await
            .unwrap();
        let row = env.engine.backup_now(s.id, &db, "test").await.unwrap();
        assert_eq!(row.status, BackupStatus::Verified, "{row:?}");

        // A good backup passes, every table counted.
        let t = env
            .engine
            .test_restore(
                TestRestoreTarget::Database {
                    server_id: s.id,
                    database: db.clone(),
                },
                None,
                TestRestoreTrigger::Manual,
                "test",
            )
            .await
            .unwrap();
        assert_eq!(
            t.status,
            TestRestoreStatus::Passed,
            "PostgreSQL {major}: {t:?}"
        );
        assert_eq!(t.backup_id, Some(row.id));
        assert!(t.mismatches.is_empty() && t.error.is_none(), "{t:?}");
        let rows = |name: &str| {
            t.tables
                .iter()
                .find(|c| c.table == name)
                .map(|c| (c.restored, c.recorded))
                .unwrap_or_else(|| panic!("{name} in {:?}", t.tables))
        };
        assert_eq!(rows("public.small"), (Some(40), Some(40)));
        assert_eq!(rows("\"Sales\".\"Big Table\""), (Some(30000), Some(30000)));
        assert_eq!(rows("public.log"), (Some(0), Some(0)));
        assert!(t.duration_ms.is_some());
        assert_scratch_gone(pg, &t);

        // A recorded count that differs fails, naming the table.
        set_recorded_rows(&env, &row, "public", "small", 41).await;
        let t = prove(&env, row.id).await;
        assert_eq!(t.status, TestRestoreStatus::Failed, "{t:?}");
        assert!(named(&t, "public.small"), "{:?}", t.mismatches);
        assert_eq!(t.mismatches.len(), 1, "{:?}", t.mismatches);
        assert_scratch_gone(pg, &t);
        set_recorded_rows(&env, &row, "public", "small", 40).await;

        // The stored artifact truncated: fails, naming the file and the table.
        let dump = dump_file(&env, &row);
        with_tampered(
            &dump,
            |b| b.truncate(b.len() / 2),
            || async {
                let t = prove(&env, row.id).await;
                assert_eq!(t.status, TestRestoreStatus::Failed, "{t:?}");
                assert!(
                    t.mismatches
                        .iter()
                        .any(|m| m.table.is_none() && m.note.contains("dump.zst")),
                    "the file is named: {:?}",
                    t.mismatches
                );
                assert!(named(&t, "\"Sales\".\"Big Table\""), "{:?}", t.mismatches);
                assert_scratch_gone(pg, &t);
            },
        )
        .await;

        // One byte flipped in the middle: fails, naming the table.
        with_tampered(
            &dump,
            |b| {
                let mid = b.len() / 2;
                b[mid] ^= 0x5a;
            },
            || async {
                let t = prove(&env, row.id).await;
                assert_eq!(t.status, TestRestoreStatus::Failed, "{t:?}");
                assert!(named(&t, "\"Sales\".\"Big Table\""), "{:?}", t.mismatches);
                assert!(
                    t.mismatches.iter().any(|m| m.note.contains("sha256")),
                    "{:?}",
                    t.mismatches
                );
                assert_scratch_gone(pg, &t);
            },
        )
        .await;

        // Put back, it passes again; every failure recorded an event.
        assert_eq!(prove(&env, row.id).await.status, TestRestoreStatus::Passed);
        let events = env.engine.events(50).await.unwrap();
        let failed: Vec<_> = events
            .iter()
            .filter(|e| e.kind == "test_restore_failed")
            .collect();
        assert_eq!(failed.len(), 3, "{events:?}");
        assert!(failed
            .iter()
            .all(|e| e.backup_id == Some(row.id) && e.database.as_deref() == Some(db.as_str())));
        assert!(
            failed[2].message.contains("public.small"),
            "{}",
            failed[2].message
        );

        // Recorded per database, newest first; the proof shows the last pass.
        let list = env.engine.test_restores(s.id, Some(&db), 10).await.unwrap();
        assert_eq!(list.len(), 5);
        env.engine.discover_all().await;
        let proofs = env.engine.proof_status(s.id).await.unwrap();
        let p = proofs.iter().find(|p| p.database == db).unwrap();
        assert_eq!(p.flag, None, "{p:?}");
        assert_eq!(p.last_passed.as_ref().map(|t| t.id), Some(list[0].id));

        // A globals backup, or a database without backups, is refused.
        let err = env
            .engine
            .test_restore(
                TestRestoreTarget::Database {
                    server_id: s.id,
                    database: "nothing_here".into(),
                },
                None,
                TestRestoreTrigger::Manual,
                "test",
            )
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no good backup") && err.contains("Fix:"),
            "{err}"
        );
        pg.drop_database(&db);
    }
}

/// A restore server older than the dump's source is refused, naming both
/// versions (needs an older and a newer major under test).
#[tokio::test(flavor = "multi_thread")]
async fn an_older_restore_server_is_refused() {
    let majors = testkit::majors_under_test();
    let (Some(&old), Some(&new)) = (majors.iter().min(), majors.iter().max()) else {
        return;
    };
    if old == new {
        return;
    }
    let (pg_old, pg_new) = (testkit::server(old), testkit::server(new));
    let db = pg_new.fresh_database("newer");
    pg_new.psql(&db, "CREATE TABLE t AS SELECT 1 AS x");
    let env = engine_for(&[old, new]).await;
    let s_new = env.engine.add_server(input("new", pg_new)).await.unwrap();
    let s_old = env.engine.add_server(input("old", pg_old)).await.unwrap();
    let row = env.engine.backup_now(s_new.id, &db, "test").await.unwrap();
    assert_eq!(row.status, BackupStatus::Verified);
    let err = env
        .engine
        .test_restore(
            TestRestoreTarget::Backup(row.id),
            Some(s_old.id),
            TestRestoreTrigger::Manual,
            "test",
        )
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert_eq!(err.status(), 422);
    assert!(
        msg.contains(&format!("PostgreSQL {old}"))
            && msg.contains(&format!("PostgreSQL {new}"))
            && msg.contains("Fix:"),
        "{msg}"
    );
    assert!(env
        .engine
        .test_restores(s_new.id, None, 10)
        .await
        .unwrap()
        .is_empty());
    pg_new.drop_database(&db);
}

async fn wait_test_restores(env: &Env, server_id: i64, db: &str, n: usize) -> Vec<TestRestore> {
    for _ in 0..1200 {
        let list = env
            .engine
            .test_restores(server_id, Some(db), 50)
            .await
            .unwrap();
        if list.len() >= n && list.iter().all(|t| t.status != TestRestoreStatus::Running) {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{n} test-restore(s) of {db} did not finish");
}

fn next_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{DurationRound, TimeDelta};
    t.duration_trunc(TimeDelta::hours(1)).unwrap() + TimeDelta::hours(1)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scheduler_starts_a_due_test_restore_once_and_catches_up_once() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let env = engine_for(&[major]).await;
    let s = env.engine.add_server(input("main", pg)).await.unwrap();
    let db = pg.fresh_database("proofsched");
    pg.psql(&db, "CREATE TABLE t AS SELECT generate_series(1, 10) AS id");
    let (mut plan, _) = env.engine.server_plan(s.id).await.unwrap();
    plan.coverage = engine::policy::Coverage::Only {
        databases: vec![db.clone()],
    };
    plan.globals.enabled = false;
    env.engine.set_server_plan(s.id, &plan, None).await.unwrap();
    // No scheduled backups here (one by hand); test-restores hourly.
    let mut policy = Policy {
        enabled: false,
        ..Policy::default()
    };
    policy.test_restore.cron = "0 * * * *".into();
    env.engine.set_policy(s.id, None, &policy).await.unwrap();
    let row = env.engine.backup_now(s.id, &db, "test").await.unwrap();
    assert_eq!(row.status, BackupStatus::Verified);

    let now = Utc::now();
    env.engine.discover_all().await;
    let status = env.engine.schedule_status(s.id, now).await.unwrap();
    let mine = |st: &[engine::schedule::ScheduleStatus]| {
        st.iter()
            .find(|x| x.target.database() == Some(db.as_str()))
            .cloned()
            .unwrap()
    };
    assert_eq!(mine(&status).proof_flag, Some(ProofFlag::NeverProven));
    let r = env.engine.tick_schedules(now).await.unwrap();
    assert!(r.test_restores.is_empty() && r.started.is_empty(), "{r:?}");

    // The next hour: one test-restore, on time, in the test-restorer.
    let t1 = next_hour(now) + chrono::Duration::seconds(20);
    let r = env.engine.tick_schedules(t1).await.unwrap();
    assert_eq!(r.test_restores.len(), 1, "{r:?}");
    assert!(!r.test_restores[0].3, "on time");
    assert!(r.started.is_empty(), "no backups scheduled: {r:?}");
    assert!(env
        .engine
        .workers()
        .iter()
        .any(|w| w.name == "test-restorer"));
    let list = wait_test_restores(&env, s.id, &db, 1).await;
    assert_eq!(list[0].status, TestRestoreStatus::Passed, "{:?}", list[0]);
    assert_eq!(list[0].trigger, TestRestoreTrigger::Scheduled);
    assert_eq!(list[0].backup_id, Some(row.id));
    assert_scratch_gone(pg, &list[0]);
    // Same slot again: nothing.
    let r = env
        .engine
        .tick_schedules(t1 + chrono::Duration::minutes(10))
        .await
        .unwrap();
    assert!(r.test_restores.is_empty(), "{r:?}");

    // Down five hours: one catch-up, late.
    let t2 = t1 + chrono::Duration::hours(5) + chrono::Duration::minutes(30);
    let r = env.engine.tick_schedules(t2).await.unwrap();
    assert_eq!(r.test_restores.len(), 1, "{r:?}");
    assert!(r.test_restores[0].3, "late");
    let list = wait_test_restores(&env, s.id, &db, 2).await;
    assert_eq!(list.len(), 2);
    assert!(env
        .engine
        .tick_schedules(t2 + chrono::Duration::minutes(1))
        .await
        .unwrap()
        .test_restores
        .is_empty());

    // The schedules show the proof; days later it is overdue.
    let st = mine(&env.engine.schedule_status(s.id, Utc::now()).await.unwrap());
    assert!(
        st.last_proven_at.is_some() && st.last_proof_ms.is_some(),
        "{st:?}"
    );
    assert_eq!(st.proof_flag, None);
    let later = Utc::now() + chrono::Duration::days(3);
    let st = mine(&env.engine.schedule_status(s.id, later).await.unwrap());
    assert_eq!(
        st.proof_flag,
        Some(ProofFlag::NotProvenInInterval),
        "{st:?}"
    );

    // With the database's backups gone, a due slot records a failure and an event.
    env.engine.delete_backup(row.id).await.unwrap();
    let t3 = next_hour(t2) + chrono::Duration::seconds(5);
    let r = env.engine.tick_schedules(t3).await.unwrap();
    assert_eq!(r.test_restores.len(), 1, "{r:?}");
    let list = wait_test_restores(&env, s.id, &db, 3).await;
    assert_eq!(list[0].status, TestRestoreStatus::Failed, "{:?}", list[0]);
    assert!(list[0].error.as_deref().unwrap().contains("no good backup"));
    let st = mine(&env.engine.schedule_status(s.id, Utc::now()).await.unwrap());
    assert_eq!(st.proof_flag, Some(ProofFlag::LastTestFailed));
    assert!(env
        .engine
        .events(10)
        .await
        .unwrap()
        .iter()
        .any(|e| e.kind == "test_restore_failed" && e.database.as_deref() == Some(db.as_str())));
    pg.drop_database(&db);
}
