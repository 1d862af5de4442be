//! Cancelling backups against real PostgreSQL: a scheduled run held up by a
//! lock is cancelled while pg_dump runs (custom format to local and S3, and
//! directory format with its spool): recorded `cancelled` by whom, no
//! pg_dump left, nothing left on any destination, the slot not retried; a
//! queued run is cancelled before it starts; a finished run is refused; a
//! run owned by another pgshelf process is refused with the fix.

use std::time::{Duration, Instant};

use chrono::{DateTime, Timelike, Utc};
use engine::catalog::BackupStatus;
use engine::policy::{Coverage, Format, Policy};
use model::destination::{DestinationInput, DestinationSettings};
use testkit::storage::S3Server;

mod common;
use common::*;

fn major() -> u32 {
    *testkit::majors_under_test()
        .last()
        .expect("a major under test")
}

fn next_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_minute(0)
        .unwrap()
        .with_second(0)
        .unwrap()
        .with_nanosecond(0)
        .unwrap()
        + chrono::Duration::hours(1)
}

/// A scheduled run of `format` of a large table (to `local`, and to S3 when
/// given), cancelled by `tester` once part of it is written.
async fn cancel_running(format: Format, with_s3: bool) {
    let major = major();
    let pg = testkit::server(major);
    let db = pg.fresh_database("cancel");
    // Barely compressible rows: a dump that takes a while. The custom
    // format streams through a pipeline that keeps pace with pg_dump, so it
    // gets ~150 MB (the cancel must come while it runs); the directory
    // format spools, ~60 MB.
    let rows = match format {
        Format::Custom => 1_500_000,
        Format::Directory { .. } => 600_000,
    };
    pg.psql(
        &db,
        &format!(
            "CREATE TABLE blob (id int PRIMARY KEY, b text);
             INSERT INTO blob SELECT g, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) FROM generate_series(1, {rows}) g;"
        ),
    );
    let s3 = with_s3.then(S3Server::start);
    let env = engine_for(&[major]).await;
    let e = &env.engine;
    let s = e.add_server(input("main", pg)).await.unwrap();
    let mut destinations = vec!["local".to_owned()];
    if let Some(s3) = &s3 {
        e.add_destination(DestinationInput {
            name: "s3".into(),
            settings: DestinationSettings::S3 {
                endpoint: s3.endpoint.clone(),
                region: s3.region.clone(),
                bucket: s3.bucket.clone(),
                path_style: true,
                access_key_id: s3.access_key_id.clone(),
                storage_class: String::new(),
            },
            root: "shelf".into(),
            concurrency: 4,
            secret: Some(s3.secret_access_key.clone()),
        })
        .await
        .unwrap();
        destinations.push("s3".into());
    }
    let (mut plan, _) = e.server_plan(s.id).await.unwrap();
    plan.coverage = Coverage::Only {
        databases: vec![db.clone()],
    };
    plan.globals.enabled = false;
    e.set_server_plan(s.id, &plan, None).await.unwrap();
    let policy = Policy {
        schedule: "0 * * * *".into(),
        format,
        destinations,
        ..Policy::default()
    };
    e.set_policy(s.id, None, &policy).await.unwrap();
    e.discover_all().await;

    let tick = e
        .tick_schedules(next_hour(Utc::now()) + chrono::Duration::seconds(20))
        .await
        .unwrap();
    assert_eq!(tick.started.len(), 1, "{tick:?}");
    let id = tick.started[0].0;
    let spool = env._dir.path().join("data/spool").join(id.to_string());
    wait_for("pg_dump to start", 60, async || {
        (!testkit::pg_dumps_of(&db).is_empty()).then_some(())
    })
    .await;
    let running = e.backup(id).await.unwrap();
    assert_eq!(running.status, BackupStatus::Running);
    // Cancelled once part of the dump is stored (or spooled): there is a
    // partial artifact to remove.
    wait_for("part of the dump to be written", 60, async || {
        let spooled = files_under(&spool).len();
        let local = files_under(&env.backups).len();
        let remote = s3.as_ref().map_or(1, |s| files_under(&s.data_dir()).len());
        let (raw, _) = e.progress(id)?;
        (raw > 2 << 20 && (local > 0 || spooled > 0) && remote > 0).then_some(())
    })
    .await;
    // Frozen mid-dump (SIGSTOP), so that a fast machine cannot finish the
    // backup before the cancel arrives; the cancel's SIGKILL ends a stopped
    // process too.
    for pid in testkit::pg_dumps_of(&db) {
        let _ = std::process::Command::new("kill")
            .args(["-STOP", &pid.to_string()])
            .status();
    }
    let t = Instant::now();
    let row = e.cancel_backup(id, "tester").await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(row.status, BackupStatus::Cancelled, "{row:?}");
    let cause = row.cause.clone().unwrap();
    assert!(cause.starts_with("cancelled by tester"), "{cause}");
    assert!(!row.status.is_good());
    assert!(testkit::pg_dumps_of(&db).is_empty(), "no pg_dump left");
    let left = files_under(&env.backups);
    assert!(left.is_empty(), "nothing left on local: {left:?}");
    if let Some(s3) = &s3 {
        // The dropped multipart upload is aborted in the background.
        wait_for("the S3 multipart upload to be aborted", 10, async || {
            files_under(&s3.data_dir()).is_empty().then_some(())
        })
        .await;
    }
    assert!(!spool.exists(), "spool removed: {}", spool.display());
    let copies = e.backup_copies(id).await.unwrap();
    assert!(
        copies
            .iter()
            .all(|c| c.status == model::destination::CopyStatus::Failed),
        "{copies:?}"
    );

    // Twice: the same row, unchanged.
    let again = e.cancel_backup(id, "someone-else").await.unwrap();
    assert_eq!((again.status, again.cause), (row.status, row.cause));

    // The slot is not retried, however long one waits.
    let ended = row.finished_at.unwrap();
    for later in [
        engine::schedule::retry_backoff(1) + chrono::Duration::seconds(1),
        chrono::Duration::minutes(30),
    ] {
        let r = e.tick_schedules(ended + later).await.unwrap();
        assert!(
            r.retried.is_empty(),
            "a cancelled run is not retried: {r:?}"
        );
    }
    pg.drop_database(&db);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_custom_backup_to_local_and_s3_is_cancelled_clean() {
    cancel_running(Format::Custom, true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_directory_backup_is_cancelled_clean() {
    cancel_running(Format::Directory { jobs: 2 }, false).await;
}

/// One run per server: the first hangs in pg_dump behind a held lock, the
/// second waits in the queue and is cancelled there (no pg_dump started for
/// it; the runner skips it when its turn comes); the first is cancelled
/// while stuck. A finished run cannot be cancelled.
#[tokio::test(flavor = "multi_thread")]
async fn a_queued_backup_is_cancelled_before_it_starts_and_a_finished_one_is_refused() {
    let major = major();
    let pg = testkit::server(major);
    let db = pg.fresh_database("cancelq");
    pg.psql(
        &db,
        "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 100) g",
    );
    let env = engine_with(&[major], |c| c.runs_per_server = 1).await;
    let e = &env.engine;
    let s = e.add_server(input("main", pg)).await.unwrap();
    let locker = hold_exclusive_lock(pg, &db, "t").await;
    let first = e.enqueue_backup(s.id, &db, "test").await.unwrap();
    let queued = e.enqueue_backup(s.id, &db, "test").await.unwrap();
    wait_for("pg_dump to start", 60, async || {
        (!testkit::pg_dumps_of(&db).is_empty()).then_some(())
    })
    .await;
    assert_eq!(
        e.backup(queued.id).await.unwrap().status,
        BackupStatus::Queued
    );
    let row = e.cancel_backup(queued.id, "alice").await.unwrap();
    assert_eq!(row.status, BackupStatus::Cancelled);
    assert_eq!(
        row.cause.as_deref(),
        Some("cancelled by alice before it started")
    );
    assert!(
        row.started_at.is_none() && row.location.is_none(),
        "{row:?}"
    );
    assert_eq!(testkit::pg_dumps_of(&db).len(), 1, "only the first dumps");

    // The first run, stuck behind the lock in pg_dump, is cancelled too.
    let stuck = e.cancel_backup(first.id, "bob").await.unwrap();
    assert_eq!(stuck.status, BackupStatus::Cancelled, "{stuck:?}");
    assert!(stuck
        .cause
        .unwrap()
        .starts_with("cancelled by bob while it ran"));
    assert!(testkit::pg_dumps_of(&db).is_empty(), "no pg_dump left");
    assert!(files_under(&env.backups).is_empty());
    drop(locker);
    // The runner reached the cancelled queued run and left it as it was.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = e.backup(queued.id).await.unwrap();
    assert_eq!((after.status, after.cause), (row.status, row.cause));
    assert!(after.started_at.is_none());

    let done = e.backup_now(s.id, &db, "test").await.unwrap();
    assert!(done.status.is_good(), "{done:?}");
    let err = e.cancel_backup(done.id, "alice").await.unwrap_err();
    assert_eq!(err.status(), 409, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("already finished") && msg.contains("Fix:"),
        "{msg}"
    );
    assert_eq!(e.backup(done.id).await.unwrap().status, done.status);

    let err = e.cancel_backup(done.id, " ").await.unwrap_err();
    assert_eq!(err.status(), 422, "{err}");
    pg.drop_database(&db);
}

/// A run another pgshelf process owns (another instance id in the catalog)
/// cannot be stopped from here: refused with the fix, and left running.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_of_another_process_is_refused() {
    let major = major();
    let pg = testkit::server(major);
    let db = pg.fresh_database("cancelo");
    let env = engine_for(&[major]).await;
    let e = &env.engine;
    let s = e.add_server(input("main", pg)).await.unwrap();
    let row = e.enqueue_backup(s.id, &db, "test").await.unwrap();
    let done = finished(e, row.id).await;
    assert!(done.status.is_good(), "{done:?}");
    // Forge a run that another live process owns.
    let pool = catalog_pool(&env).await;
    let lease = (Utc::now() + chrono::Duration::minutes(5)).timestamp_millis();
    sqlx::query(
        "UPDATE backups SET status = 'running', runner = 'other-instance', lease_until = ?, finished_at = NULL WHERE id = ?",
    )
    .bind(lease)
    .bind(row.id)
    .execute(&pool)
    .await
    .unwrap();
    let err = e.cancel_backup(row.id, "alice").await.unwrap_err();
    assert_eq!(err.status(), 409, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("another pgshelf process") && msg.contains("Fix: cancel it where it runs"),
        "{msg}"
    );
    assert_eq!(
        e.backup(row.id).await.unwrap().status,
        BackupStatus::Running
    );
    // Put it back as it was, so nothing recovers a forged row later.
    sqlx::query("UPDATE backups SET status = 'verified', lease_until = NULL WHERE id = ?")
        .bind(row.id)
        .execute(&pool)
        .await
        .unwrap();
    pg.drop_database(&db);
}
