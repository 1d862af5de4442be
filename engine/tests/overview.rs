//! The overview against a real PostgreSQL server: two databases, one whose
//! backup fails for real (dropped after discovery), read back in the
//! overview's order with its figures checked against the catalog.

use chrono::{Duration, Utc};
use engine::catalog::BackupStatus;
use engine::policy::{Coverage, ServerPlan};
use model::backup::Target;
use model::overview::{Health, Projection};

mod common;
use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn overview_lists_the_failing_database_first() {
    let pg = testkit::server(15);
    let ok = pg.fresh_database("ov_ok");
    let bad = pg.fresh_database("ov_bad");
    pg.psql(
        &ok,
        "CREATE TABLE t AS SELECT g AS id, repeat('x', 100) AS pad FROM generate_series(1, 2000) g",
    );
    pg.psql(&bad, "CREATE TABLE t AS SELECT 1 AS id");

    let env = engine_for(&[15]).await;
    let e = &env.engine;
    let server = e.add_server(input("ovmain", pg)).await.unwrap();
    e.discover(server.id).await.unwrap();
    // Only the two databases are scheduled (the shared test server holds others).
    let plan = ServerPlan {
        coverage: Coverage::Only {
            databases: vec![ok.clone(), bad.clone()],
        },
        ..Default::default()
    };
    e.set_server_plan(server.id, &plan, None).await.unwrap();

    let first = e.backup_now(server.id, &ok, "test").await.unwrap();
    assert_eq!(first.status, BackupStatus::Verified);
    pg.psql(
        &ok,
        "INSERT INTO t SELECT g, repeat('y', 100) FROM generate_series(2001, 6000) g",
    );
    let second = e.backup_now(server.id, &ok, "test").await.unwrap();
    let bad_good = e.backup_now(server.id, &bad, "test").await.unwrap();
    assert!(bad_good.status.is_good());
    // The database goes away after discovery: its next backup fails for real.
    pg.drop_database(&bad);
    e.backup_now(server.id, &bad, "test").await.unwrap_err();
    let failed = e
        .backups(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.status == BackupStatus::Failed)
        .expect("the failed run is recorded");

    // The first backup of `ok` was taken 30 days ago (as far as the catalog knows).
    let pool = catalog_pool(&env).await;
    let month_ago = Utc::now() - Duration::days(30);
    sqlx::query(
        "UPDATE backups SET started_at = ?1, queued_at = ?1, finished_at = ?1 WHERE id = ?2",
    )
    .bind(month_ago)
    .bind(first.id)
    .execute(&pool)
    .await
    .unwrap();

    let now = Utc::now();
    let o = e.overview(now).await.unwrap();
    assert_eq!(o.servers, 1);
    let order: Vec<(String, Health)> = o
        .databases
        .iter()
        .map(|d| (d.target.to_string(), d.health))
        .collect();
    assert_eq!(
        order,
        vec![
            (bad.clone(), Health::Failing),
            // Globals: scheduled, never run, not overdue yet.
            ("globals".into(), Health::NeverBackedUp),
            (ok.clone(), Health::Healthy),
        ],
        "failing first; databases of other tests and unscheduled ones left out"
    );

    let b = &o.databases[0];
    assert_eq!(b.problem_id, Some(failed.id));
    assert_eq!(b.problem, failed.cause);
    assert!(b.problem.as_deref().unwrap().contains("Fix:"), "{b:?}");
    assert_eq!(b.last_success_id, Some(bad_good.id));
    assert_eq!(b.size_bytes, Some(bad_good.stored_bytes));
    assert!(b.next_run.is_some_and(|t| t > now));
    assert!(!b.overdue);

    let g = &o.databases[1];
    assert_eq!(g.target, Target::Globals);
    assert_eq!(g.last_success_id, None);
    assert_eq!(g.proof_flag, None);

    let k = &o.databases[2];
    assert_eq!(k.last_success_id, Some(second.id));
    assert_eq!(k.last_success_at, second.finished_at);
    assert_eq!(k.size_bytes, Some(second.stored_bytes));
    assert!(second.stored_bytes > first.stored_bytes);
    let prev = k.vs_previous.expect("against the previous backup");
    assert_eq!(
        (prev.from_id, prev.from_bytes, prev.to_bytes),
        (first.id, first.stored_bytes, second.stored_bytes)
    );
    let month = k.vs_month.expect("against the backup 30 days ago");
    assert_eq!(month.from_id, first.id);
    assert_eq!(month.delta(), second.stored_bytes - first.stored_bytes);
    assert_eq!(k.last_proven_at, None);
    assert_eq!(
        k.proof_flag,
        Some(model::proof::ProofFlag::NeverProven),
        "no test-restore ever passed"
    );

    // Failures and suspect backups of the last 7 days: the failed run.
    assert_eq!(o.problems.len(), 1, "{:?}", o.problems);
    assert_eq!(o.problems[0].id, failed.id);
    assert!(o.active.is_empty());

    // Storage: every good backup once, on `local`.
    let good_bytes = first.stored_bytes + second.stored_bytes + bad_good.stored_bytes;
    assert_eq!(o.storage.total_bytes, good_bytes as u64);
    assert_eq!(o.storage.backups, 3);
    let local = &o.storage.destinations[0];
    assert_eq!(local.name, "local");
    assert_eq!((local.copies, local.stored_bytes), (3, good_bytes as u64));
    // No retention plan ran on the backdated one... each tier row sums its backups.
    let tier_backups: u64 = o.storage.tiers.iter().map(|t| t.backups).sum();
    assert!(tier_backups >= 3, "{:?}", o.storage.tiers);
    // History: from the day of the first backup to today, growing.
    let h = &o.storage.history;
    // (30 days of it: the backdated backup is older than the window, so
    // the window opens with it already stored.)
    assert_eq!(h.len(), model::overview::HISTORY_DAYS as usize);
    assert!(h.first().unwrap().day > month_ago.date_naive());
    assert_eq!(h.first().unwrap().bytes, first.stored_bytes);
    assert_eq!(h.last().unwrap().day, now.date_naive());
    assert_eq!(h.last().unwrap().bytes, good_bytes);
    match &o.storage.projection {
        Projection::Trend {
            days,
            bytes_per_day,
            from_bytes,
            bytes,
            ..
        } => {
            assert_eq!(*days, h.len());
            assert!(*bytes_per_day > 0.0);
            assert_eq!(*from_bytes, good_bytes);
            assert!(*bytes > good_bytes as u64);
        }
        other => panic!("expected a trend: {other:?}"),
    }

    // Queued work shows as active.
    let queued = e.enqueue_backup(server.id, &ok, "test").await.unwrap();
    let o = e.overview(Utc::now()).await.unwrap();
    assert!(
        o.active.iter().any(|b| b.id == queued.id)
            || e.backup(queued.id).await.unwrap().status.is_good()
    );
    finished(e, queued.id).await;
}

/// 200 servers, 5 databases each, 100 daily backups per database (100,000
/// rows: some failed, some suspect, the older ones pruned): the overview
/// stays an index read. Issue 12 measures the p99 under load in a release
/// build; this guards against a query that walks every backup.
#[tokio::test(flavor = "multi_thread")]
async fn overview_stays_fast_with_100k_backups() {
    let env = engine_for(&[]).await;
    let pool = catalog_pool(&env).await;
    let now = Utc::now();
    let ts = "strftime('%Y-%m-%dT%H:%M:%S+00:00', ?1, '-' || n || ' days', '-' || d || ' minutes')";
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 200)
         INSERT INTO servers (name, host, port, username, created_at, updated_at)
         SELECT 'srv' || i, '127.0.0.1', 5432, 'u', strftime('%Y-%m-%dT%H:%M:%S+00:00', ?1, '-200 days'),
                strftime('%Y-%m-%dT%H:%M:%S+00:00', ?1, '-200 days') FROM s",
    )
    .bind(now)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "WITH RECURSIVE d(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM d WHERE j < 5)
         INSERT INTO known_databases (server_id, name, first_seen, last_seen)
         SELECT s.id, 'db' || j, strftime('%Y-%m-%dT%H:%M:%S+00:00', ?1, '-200 days'),
                strftime('%Y-%m-%dT%H:%M:%S+00:00', ?1) FROM servers s, d",
    )
    .bind(now)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(&format!(
        "WITH RECURSIVE b(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM b WHERE n < 99)
         INSERT INTO backups (server_id, server_name, database, kind, status, trigger, queued_at,
                              started_at, finished_at, stored_bytes, raw_bytes, destination, tiers, pruned_at)
         SELECT k.server_id, 'srv' || k.server_id, k.name, 'database',
                CASE WHEN (n + k.server_id) % 37 = 0 THEN 'failed'
                     WHEN (n + k.server_id) % 53 = 0 THEN 'suspect' ELSE 'verified' END,
                'schedule', {ts}, {ts}, {ts}, 1000000 + (100 - n) * 1000, 3000000, 'local',
                CASE WHEN n < 60 THEN 'daily' END,
                CASE WHEN n >= 60 THEN strftime('%Y-%m-%dT%H:%M:%S+00:00', ?1, '-' || (n - 60) || ' days') END
           FROM b, (SELECT server_id, name, CAST(substr(name, 3) AS INTEGER) AS d FROM known_databases) k"
    ))
    .bind(now)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM backups")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 100_000);
    sqlx::query("ANALYZE").execute(&pool).await.unwrap();

    let mut slowest = std::time::Duration::ZERO;
    let mut o = None;
    for _ in 0..5 {
        let started = std::time::Instant::now();
        o = Some(env.engine.overview(now).await.unwrap());
        slowest = slowest.max(started.elapsed());
    }
    let o = o.unwrap();
    eprintln!("overview of 100,000 backups: slowest of 5 took {slowest:?}");

    // Unchanged catalog: the read is reused (dashboards polling at once
    // cost one read). Any commit, by any connection, is seen at once.
    let started = std::time::Instant::now();
    let again = env.engine.overview(now).await.unwrap();
    let reused = started.elapsed();
    assert_eq!(again.databases.len(), o.databases.len());
    assert!(reused < slowest / 4, "{reused:?} against {slowest:?}");
    sqlx::query(
        "INSERT INTO servers (name, host, port, username, created_at, updated_at)
         VALUES ('late', '127.0.0.1', 5432, 'u', ?1, ?1)",
    )
    .bind(now)
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(env.engine.overview(now).await.unwrap().servers, 201);
    sqlx::query("DELETE FROM servers WHERE name = 'late'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(env.engine.overview(now).await.unwrap().servers, 200);
    assert_eq!(o.servers, 200);
    // 1,000 databases and 200 globals rows (scheduled, never backed up).
    assert_eq!(o.databases.len(), 1_200);
    assert_eq!(o.total_databases, 1_200);
    assert_eq!(o.health_counts.iter().map(|(_, n)| n).sum::<usize>(), 1_200);
    // The page's first rows: the worst, with the totals of all.
    let top = o.clone().first(model::overview::OVERVIEW_ROWS);
    assert_eq!(top.databases.len(), 100);
    assert_eq!(top.rows_left_out(), 1_100);
    assert_eq!(top.health_counts, o.health_counts);
    assert_eq!(top.databases[0], o.databases[0]);
    assert_eq!(o.databases[0].health, Health::Failing);
    assert!(o.databases.iter().any(|d| d.vs_month.is_some()));
    assert!(matches!(o.storage.projection, Projection::Trend { .. }));
    assert_eq!(o.storage.backups, 60_000 - failed_held(&pool).await);
    // A debug build on a shared machine: generous, but a scan of every
    // backup per database (1,000 x 100,000 rows) would take minutes.
    assert!(slowest < std::time::Duration::from_secs(3), "{slowest:?}");
}

/// Failed rows among the unpruned ones (they hold no storage).
async fn failed_held(pool: &sqlx::SqlitePool) -> u64 {
    sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM backups WHERE pruned_at IS NULL AND status = 'failed'",
    )
    .fetch_one(pool)
    .await
    .unwrap() as u64
}
