//! Verification after the upload, against real PostgreSQL 15 and 18: a
//! good backup ends `verified` with its table of contents kept; a size jump
//! and a dropped table make it `suspect` with the reason; a tampered
//! artifact fails the check; counts stay honest when a table is truncated
//! while the dump runs; a lock that does not come in time names its table;
//! estimates are marked as estimates.

use std::time::{Duration, Instant};

use engine::catalog::{Backup, BackupStatus, Target};
use engine::policy::{Compression, Format, PgDumpAlgorithm, Policy};
use engine::EngineConfig;

mod common;
use common::*;

const FIXTURE: &str = r#"
CREATE SCHEMA sales;
CREATE TABLE sales.orders (id serial PRIMARY KEY, total numeric NOT NULL);
INSERT INTO sales.orders (total) SELECT g FROM generate_series(1, 300) g;
CREATE TABLE public.notes (id int, body text);
INSERT INTO public.notes SELECT g, 'n' || g FROM generate_series(1, 40) g;
CREATE TABLE public.events (id bigint, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE public.events_2025 PARTITION OF public.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE public.events_2026 PARTITION OF public.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO public.events SELECT g, DATE '2025-06-01' + (g % 400) FROM generate_series(1, 800) g;
"#;

/// A database holding [`FIXTURE`] and an engine with server `main` for
/// `pg`: `(env, server id, db)`.
async fn setup(major: u32, pg: &testkit::PgServer, prefix: &str) -> (Env, i64, String) {
    setup_with(major, pg, prefix, "", |_| {}).await
}

/// [`setup`] with `extra` SQL after the fixture and the engine's settings
/// changed first.
async fn setup_with(
    major: u32,
    pg: &testkit::PgServer,
    prefix: &str,
    extra: &str,
    change: impl FnOnce(&mut EngineConfig),
) -> (Env, i64, String) {
    let db = pg.fresh_database(prefix);
    pg.psql(&db, FIXTURE);
    if !extra.is_empty() {
        pg.psql(&db, extra);
    }
    let env = engine_with(&[major], change).await;
    let s = env.engine.add_server(input("main", pg)).await.unwrap();
    (env, s.id, db)
}

/// The message of a failed artifact check.
async fn check_fails(env: &Env, id: i64) -> String {
    env.engine.check_artifact(id).await.unwrap_err().to_string()
}

async fn backup_with(env: &Env, server_id: i64, db: &str, policy: &Policy) -> Backup {
    env.engine
        .set_policy(server_id, Some(db), policy)
        .await
        .unwrap();
    env.engine.backup_now(server_id, db, "test").await.unwrap()
}

fn manifest_of(env: &Env, row: &Backup) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(artifact_dir(env, row).join("manifest.json")).unwrap())
        .unwrap()
}

fn table<'a>(manifest: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    manifest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("{name} in the manifest"))
}

#[tokio::test(flavor = "multi_thread")]
async fn good_backups_end_verified_with_their_toc() {
    for major in testkit::majors_under_test() {
        let pg = testkit::server(major);
        let (env, server, db) = setup(major, pg, "ver").await;
        // Counted from the dump's own COPY text where pgshelf compresses;
        // by SQL in the snapshot where pg_dump compresses itself.
        for (what, policy, rows_from) in [
            ("custom", Policy::default(), "dump"),
            (
                "directory",
                Policy {
                    format: Format::Directory { jobs: 2 },
                    ..Policy::default()
                },
                "dump",
            ),
            (
                "directory, none",
                Policy {
                    format: Format::Directory { jobs: 2 },
                    compression: Compression::None,
                    ..Policy::default()
                },
                "dump",
            ),
            (
                "custom, pg_dump gzip",
                Policy {
                    compression: Compression::PgDump {
                        algorithm: PgDumpAlgorithm::Gzip,
                        level: 5,
                    },
                    ..Policy::default()
                },
                "snapshot",
            ),
        ] {
            let row = backup_with(&env, server, &db, &policy).await;
            assert_eq!(row.status, BackupStatus::Verified, "{what}: {row:?}");
            assert!(row.verification.is_empty(), "{what}: {row:?}");
            let toc = env
                .engine
                .backup_toc(row.id)
                .await
                .unwrap()
                .expect("TOC kept");
            assert!(
                toc.listing.contains("TABLE DATA sales orders"),
                "PostgreSQL {major}, {what}: {}",
                toc.listing
            );
            assert!(toc.listing.contains("TABLE DATA public events_2025"));
            let archive = toc.archive().expect("the TOC parsed");
            let orders = engine::toc::TableRef::new("sales", "orders");
            assert!(archive.data_entry(&orders).is_some(), "{what}");
            if what.starts_with("directory") {
                assert!(archive.data_entry(&orders).unwrap().data_file.is_some());
            }
            env.engine.check_artifact(row.id).await.unwrap();
            // Partitions are counted once and summed into their parent.
            let m = manifest_of(&env, &row);
            assert_eq!(table(&m, "events")["rows"], 800, "{what}");
            assert_eq!(
                table(&m, "events_2025")["rows"].as_i64().unwrap()
                    + table(&m, "events_2026")["rows"].as_i64().unwrap(),
                800
            );
            assert_eq!(table(&m, "orders")["rows"], 300);
            assert_eq!(
                table(&m, "orders")["rows_estimated"],
                serde_json::Value::Null
            );
            assert_eq!(table(&m, "orders")["rows_from"], rows_from, "{what}");
            assert_eq!(table(&m, "notes")["rows"], 40, "{what}");
        }
        let g = env.engine.enqueue_globals(server, "test").await.unwrap();
        let g = finished(&env.engine, g.id).await;
        assert_eq!(g.status, BackupStatus::Verified, "{g:?}");
        assert!(env.engine.backup_toc(g.id).await.unwrap().is_none());
        env.engine.check_artifact(g.id).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn size_jump_and_dropped_table_are_suspect() {
    for major in testkit::majors_under_test() {
        let pg = testkit::server(major);
        let (env, server, db) = setup(major, pg, "sus").await;
        let policy = Policy::default();
        for _ in 0..3 {
            let row = backup_with(&env, server, &db, &policy).await;
            assert_eq!(row.status, BackupStatus::Verified, "{row:?}");
        }
        // Ten times the data, and barely compressible.
        pg.psql(
            &db,
            "CREATE TABLE public.bulk AS SELECT g, md5(g::text) || md5((g * 7)::text) AS v FROM generate_series(1, 20000) g",
        );
        let row = backup_with(&env, server, &db, &policy).await;
        assert_eq!(row.status, BackupStatus::Suspect, "{row:?}");
        let why = row.verification.join("\n");
        assert!(
            why.contains("the median") && why.contains("0.50x..2.00x"),
            "PostgreSQL {major}: {why}"
        );
        assert!(row.status.is_good(), "a suspect backup is still a backup");
        assert!(env.engine.backup_toc(row.id).await.unwrap().is_some());

        // A table that was in the previous backup and is gone now.
        let prev = row.id;
        pg.psql(&db, "DROP TABLE public.notes");
        let row = backup_with(&env, server, &db, &policy).await;
        assert_eq!(row.status, BackupStatus::Suspect, "{row:?}");
        let why = row.verification.join("\n");
        assert!(
            why.contains("table \"public\".\"notes\" was in backup #")
                && why.contains(&format!("#{prev}")),
            "{why}"
        );
        // The list shows the status and the reasons.
        let listed = env.engine.backup(row.id).await.unwrap();
        assert_eq!(listed.status, BackupStatus::Suspect);
        assert_eq!(listed.verification, row.verification);
        // Schedule status counts a suspect backup as the last success.
        let (_, last_good) = schedule_last(&env, server, &db).await;
        assert_eq!(last_good, Some(row.id));
    }
}

async fn schedule_last(env: &Env, server_id: i64, db: &str) -> (Option<i64>, Option<i64>) {
    env.engine.discover_all().await;
    let st = env
        .engine
        .schedule_status(server_id, chrono::Utc::now())
        .await
        .unwrap();
    let mine = st
        .iter()
        .find(|s| s.target == Target::Database(db.into()))
        .expect("the database's schedule");
    (
        mine.last_run.as_ref().map(|b| b.id),
        mine.last_success.as_ref().map(|b| b.id),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn tampered_artifacts_fail_the_check() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let (env, server, db) = setup(major, pg, "tamper").await;

    // Custom format: one byte flipped in the middle of dump.zst.
    let row = backup_with(&env, server, &db, &Policy::default()).await;
    assert_eq!(row.status, BackupStatus::Verified);
    let dump = artifact_dir(&env, &row).join("dump.zst");
    let good = std::fs::read(&dump).unwrap();
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x01;
    std::fs::write(&dump, &bad).unwrap();
    let msg = check_fails(&env, row.id).await;
    assert!(
        msg.contains("does not match its manifest") && msg.contains("dump.zst"),
        "{msg}"
    );
    assert!(msg.contains("Fix:"), "{msg}");
    // Truncated.
    std::fs::write(&dump, &good[..good.len() - 10]).unwrap();
    let msg = check_fails(&env, row.id).await;
    assert!(msg.contains("but the manifest says"), "{msg}");
    // The manifest on storage changed (say, to match a forged dump).
    std::fs::write(&dump, &good).unwrap();
    env.engine.check_artifact(row.id).await.unwrap();
    let manifest = artifact_dir(&env, &row).join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("\"rows\": 300", "\"rows\": 301")).unwrap();
    let msg = check_fails(&env, row.id).await;
    assert!(msg.contains("manifest.json differs"), "{msg}");

    // Directory format: a data file flipped.
    let row = backup_with(
        &env,
        server,
        &db,
        &Policy {
            format: Format::Directory { jobs: 2 },
            ..Policy::default()
        },
    )
    .await;
    assert_eq!(row.status, BackupStatus::Verified);
    let data = files_under(&artifact_dir(&env, &row).join("dump"))
        .into_iter()
        .filter(|p| !p.ends_with("toc.dat.zst"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(&data).unwrap();
    let last = bytes.len() - 5;
    bytes[last] ^= 0x80;
    std::fs::write(&data, &bytes).unwrap();
    let msg = check_fails(&env, row.id).await;
    assert!(msg.contains("does not match its manifest"), "{msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lock_not_granted_in_time_names_the_table() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let (env, server, db) = setup(major, pg, "locked").await;
    let locker = hold_table_lock(pg, &db, "sales.orders").await;
    let policy = Policy {
        lock_wait_timeout_secs: Some(1),
        ..Policy::default()
    };
    env.engine
        .set_policy(server, Some(&db), &policy)
        .await
        .unwrap();
    let started = Instant::now();
    let row = assert_failed_clean(
        &env,
        env.engine.backup_now(server, &db, "test").await,
        "could not lock table \"sales\".\"orders\" for the dump within 1s",
    )
    .await;
    drop(locker);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        row.cause.unwrap().contains("lock wait timeout"),
        "names the setting"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn large_tables_get_estimates_marked_as_such() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    // Every table is over a 0-byte limit: where SQL counts (pg_dump
    // compresses itself), each gets reltuples, flagged as an estimate.
    let (env, server, db) =
        setup_with(major, pg, "est", "ANALYZE", |c| c.exact_count_max_bytes = 0).await;
    let policy = Policy {
        compression: Compression::PgDump {
            algorithm: PgDumpAlgorithm::Gzip,
            level: 1,
        },
        ..Policy::default()
    };
    let row = backup_with(&env, server, &db, &policy).await;
    assert!(row.status.is_good(), "{row:?}");
    let m = manifest_of(&env, &row);
    let orders = table(&m, "orders");
    assert_eq!(orders["rows_estimated"], true, "{orders}");
    assert_eq!(orders["rows_from"], "estimate");
    assert_eq!(orders["rows"], 300, "ANALYZE made reltuples exact here");
    let events = table(&m, "events");
    assert_eq!(events["rows_estimated"], true, "a sum of estimates is one");
    assert_eq!(events["rows"], 800);
}

/// A session TRUNCATEs a table while pg_dump runs. pg_dump is held mid-run
/// (a sequence it must read is locked) after it has locked its tables; the
/// TRUNCATE is issued then and is seen waiting in pg_locks; then pg_dump is
/// let go. The recorded count must equal what the dump holds (checked by
/// restoring it with stock tools), and the TRUNCATE lands after the run.
#[tokio::test(flavor = "multi_thread")]
async fn counts_stay_honest_when_a_table_is_truncated_during_the_dump() {
    for major in testkit::majors_under_test() {
        let pg = testkit::server(major);
        let (env, server, db) = setup_with(
            major,
            pg,
            "trunc",
            "CREATE TABLE public.victim AS SELECT g AS id FROM generate_series(1, 5000) g",
            |_| {},
        )
        .await;
        for (what, policy) in [
            ("pgshelf zstd", Policy::default()),
            (
                "pg_dump gzip",
                Policy {
                    compression: Compression::PgDump {
                        algorithm: PgDumpAlgorithm::Gzip,
                        level: 1,
                    },
                    ..Policy::default()
                },
            ),
        ] {
            pg.psql(
                &db,
                "INSERT INTO public.victim SELECT g FROM generate_series(1, 5000) g WHERE NOT EXISTS (SELECT 1 FROM public.victim LIMIT 1)",
            );
            env.engine
                .set_policy(server, Some(&db), &policy)
                .await
                .unwrap();
            let hold = hold_exclusive_lock(pg, &db, "victim").await;
            let queued = env
                .engine
                .enqueue_backup(server, &db, "test")
                .await
                .unwrap();
            // pg_dump holds its ACCESS SHARE lock on victim (beside pgshelf's
            // snapshot session: two sessions of application pgshelf) and
            // waits on the sequence.
            wait_for_sql(
                pg,
                &db,
                "SELECT count(*) >= 2 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                  WHERE a.application_name = 'pgshelf' AND l.granted
                    AND l.relation = 'public.victim'::regclass",
                "t",
            );
            wait_for_sql(
                pg,
                &db,
                "SELECT count(*) FROM pg_stat_activity
                  WHERE application_name = 'pgshelf' AND wait_event_type = 'Lock'",
                "1",
            );
            let truncate = hold_lock(pg, &db, "TRUNCATE public.victim;\n").await;
            wait_for_sql(
                pg,
                &db,
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND mode = 'AccessExclusiveLock'
                    AND relation = 'public.victim'::regclass",
                "1",
            );
            drop(hold);
            let row = finished(&env.engine, queued.id).await;
            assert!(row.status.is_good(), "PostgreSQL {major}, {what}: {row:?}");
            let recorded = table(&manifest_of(&env, &row), "victim")["rows"]
                .as_i64()
                .unwrap();
            let target = pg.fresh_database("r");
            restore(pg, &artifact_dir(&env, &row), &target);
            let dumped: i64 = pg
                .psql(&target, "SELECT count(*) FROM public.victim")
                .parse()
                .unwrap();
            assert_eq!(recorded, dumped, "PostgreSQL {major}, {what}");
            assert_eq!(dumped, 5000, "the dump holds the rows before the TRUNCATE");
            // The TRUNCATE went through once the run let go of the table.
            wait_for_sql(pg, &db, "SELECT count(*) FROM public.victim", "0");
            drop(truncate);
        }
    }
}

/// Polls `sql` until it prints `want` (30 s at most).
fn wait_for_sql(pg: &testkit::PgServer, db: &str, sql: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = pg.psql(db, sql);
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{sql}: {got}, wanted {want}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
