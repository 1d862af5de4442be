//! A database's history (its page's charts) against real PostgreSQL 18:
//! backups taken while a table grows give a size line with the catalog's
//! figures, the growing table first among the largest tables with its size
//! and rows from each manifest, ranges that leave older backups out, and a
//! failure log with the cause; deleting a backup takes its table sizes
//! with it. And the same reads stay fast at 100,000 backups.

use std::time::Instant;

use chrono::{Duration, Utc};
use engine::catalog::BackupFilter;
use engine::secrets::Secret;
use engine::servers::ServerInput;
use model::chart::MAX_POINTS;
use model::history::{HistoryRange, TOP_TABLES};

mod common;
use common::*;

#[tokio::test]
async fn sizes_tables_and_failures_of_a_growing_database() {
    let pg = testkit::server(18);
    let db = pg.fresh_database("hist");
    pg.psql(
        &db,
        "CREATE TABLE public.events (id bigint, body text);
         CREATE TABLE public.small (id int);
         INSERT INTO public.small SELECT generate_series(1, 10);",
    );
    let env = engine_for(&[18]).await;
    let s = env.engine.add_server(input("main", pg)).await.unwrap();
    let mut taken = Vec::new();
    for round in 1..=4 {
        pg.psql(
            &db,
            &format!(
                "INSERT INTO public.events
                 SELECT g, repeat(md5(g::text || '{round}'), 8) FROM generate_series(1, {}) g",
                round * 2000
            ),
        );
        let b = env.engine.backup_now(s.id, &db, "test").await.unwrap();
        assert!(b.status.is_good(), "{b:?}");
        taken.push(b);
    }
    // The oldest backup as if taken 60 days ago: outside 30 days, inside all.
    let pool = catalog_pool(&env).await;
    let now = Utc::now();
    backdate(&pool, taken[0].id, now - Duration::days(60)).await;
    let failed = env
        .engine
        .backup_now(s.id, "hist_no_such_database", "test")
        .await
        .expect_err("a missing database fails");
    let failed_row = env
        .engine
        .backups(&BackupFilter::default())
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.database() == Some("hist_no_such_database"))
        .unwrap();
    // The failure log is per database: pretend it was this one's run.
    sqlx::query("UPDATE backups SET database = ? WHERE id = ?")
        .bind(&db)
        .bind(failed_row.id)
        .execute(&pool)
        .await
        .unwrap();

    let h = env
        .engine
        .database_history(s.id, &db, HistoryRange::All, Utc::now())
        .await
        .unwrap();
    assert_eq!(h.range, HistoryRange::All);
    assert_eq!(h.since, None);
    assert_eq!(h.backups_in_range, 4);
    let ids: Vec<i64> = h.sizes.iter().map(|p| p.backup_id).collect();
    assert_eq!(ids, taken.iter().map(|b| b.id).collect::<Vec<_>>());
    for p in &h.sizes {
        let row = env.engine.backup(p.backup_id).await.unwrap();
        assert_eq!(p.stored_bytes, row.stored_bytes, "the catalog's figure");
        assert_eq!(p.raw_bytes, row.raw_bytes);
        assert_eq!(p.at, row.taken_at());
        assert!(p.stored_bytes > 0);
    }
    assert!(
        h.sizes.windows(2).all(|w| w[0].at <= w[1].at),
        "oldest first"
    );
    assert!(
        h.sizes.windows(2).all(|w| w[0].raw_bytes < w[1].raw_bytes),
        "the dump grows with the table: {:?}",
        h.sizes
    );

    // The growing table leads the largest tables, with every backup's size.
    assert_eq!(h.tables.len(), 2, "{:?}", h.tables);
    let events = &h.tables[0];
    assert_eq!(
        (events.schema.as_str(), events.name.as_str()),
        ("public", "events")
    );
    assert_eq!(events.points.len(), 4);
    let rows: Vec<i64> = events.points.iter().map(|p| p.rows).collect();
    assert_eq!(rows, [2000, 6000, 12000, 20000], "rows from each manifest");
    assert!(
        events.points.windows(2).all(|w| w[0].bytes < w[1].bytes),
        "{:?}",
        events.points
    );
    assert_eq!(events.latest_bytes, events.points[3].bytes);
    assert_eq!(events.first_bytes, events.points[0].bytes);
    // The sizes are the manifests' own.
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(artifact_dir(&env, &taken[3]).join("manifest.json")).unwrap(),
    )
    .unwrap();
    let in_manifest = manifest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "events")
        .unwrap();
    assert_eq!(in_manifest["bytes"].as_i64(), Some(events.latest_bytes));
    let small = &h.tables[1];
    assert_eq!(small.name, "small");
    assert!(small.points.iter().all(|p| p.rows == 10));
    assert!(h.tables.len() <= TOP_TABLES);

    assert_eq!(h.failures_in_range, 1);
    assert_eq!(h.failures.len(), 1);
    let f = &h.failures[0];
    assert_eq!(f.backup_id, failed_row.id);
    assert_eq!(f.trigger, "test");
    assert_eq!(f.cause.as_deref(), Some(failed.to_string().as_str()));
    assert!(f
        .cause
        .as_deref()
        .unwrap()
        .contains("hist_no_such_database"));

    // 30 days leave the backdated backup out, of sizes and of tables.
    let m = env
        .engine
        .database_history(s.id, &db, HistoryRange::Month, Utc::now())
        .await
        .unwrap();
    assert_eq!(m.backups_in_range, 3);
    assert_eq!(m.sizes.first().unwrap().backup_id, taken[1].id);
    assert!(m.since.is_some());
    assert_eq!(m.tables[0].points.len(), 3);
    assert_eq!(m.tables[0].first_bytes, events.points[1].bytes);
    assert_eq!(m.failures.len(), 1);
    let none = env
        .engine
        .database_history(s.id, "hist_never_backed_up", HistoryRange::All, Utc::now())
        .await
        .unwrap();
    assert!(none.sizes.is_empty() && none.tables.is_empty() && none.failures.is_empty());

    // Deleting a backup takes its table sizes too.
    env.engine.delete_backup(taken[2].id).await.unwrap();
    let after = env
        .engine
        .database_history(s.id, &db, HistoryRange::All, Utc::now())
        .await
        .unwrap();
    assert_eq!(after.backups_in_range, 3);
    assert_eq!(after.tables[0].points.len(), 3);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM backup_tables WHERE backup_id = ?")
        .bind(taken[2].id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);

    let err = env
        .engine
        .database_history(9999, &db, HistoryRange::All, Utc::now())
        .await
        .unwrap_err();
    assert_eq!(err.status(), 404, "{err}");
}

/// 100,000 backups of one database (every 50th failed), each manifest with
/// eight tables: the history of all of them is read in well under a second
/// on a laptop (the bound here is loose for a shared debug build).
#[tokio::test]
async fn history_stays_fast_at_100000_backups() {
    let env = engine_for(&[]).await;
    let s = env
        .engine
        .add_server(ServerInput {
            name: "big".into(),
            host: "127.0.0.1".into(),
            port: 1,
            user: "postgres".into(),
            password: Some(Secret::new("x")),
            sslmode: "disable".into(),
            maintenance_db: "postgres".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let pool = catalog_pool(&env).await;
    let started = Instant::now();
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
         INSERT INTO backups (server_id, server_name, database, kind, status, trigger, queued_at,
                              started_at, raw_bytes, stored_bytes, destination, cause, manifest)
         SELECT ?1, 'big', 'app', 'database',
                CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'verified' END, 'schedule',
                strftime('%Y-%m-%dT%H:%M:%S+00:00', '2015-01-01', '+' || i || ' hours'),
                strftime('%Y-%m-%dT%H:%M:%S+00:00', '2015-01-01', '+' || i || ' hours'),
                i * 1000, i * 100 + (i % 97) * 50, 'file:///x',
                CASE WHEN i % 50 = 0 THEN 'failed ' || i END,
                CASE WHEN i % 50 = 0 THEN NULL ELSE json_object('tables', json_array(
                    json_object('schema', 'public', 'name', 'grows', 'kind', 'table', 'bytes', i * 10, 'rows', i),
                    json_object('schema', 'public', 'name', 'a', 'kind', 'table', 'bytes', 5000, 'rows', 1),
                    json_object('schema', 'public', 'name', 'b', 'kind', 'table', 'bytes', 4000, 'rows', 1),
                    json_object('schema', 'public', 'name', 'c', 'kind', 'table', 'bytes', 3000, 'rows', 1),
                    json_object('schema', 'public', 'name', 'd', 'kind', 'table', 'bytes', 2000, 'rows', 1),
                    json_object('schema', 'public', 'name', 'e', 'kind', 'table', 'bytes', 1000, 'rows', 1),
                    json_object('schema', 'public', 'name', 'f', 'kind', 'table', 'bytes', 500, 'rows', 1),
                    json_object('schema', 'x', 'name', 'g', 'kind', 'table', 'bytes', 100, 'rows', 1))) END
           FROM n",
    )
    .bind(s.id)
    .execute(&pool)
    .await
    .unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM backup_tables")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        rows,
        98_000 * 8,
        "filled by the trigger as rows were recorded"
    );
    eprintln!("100,000 backups recorded in {:?}", started.elapsed());

    for range in HistoryRange::ALL {
        let t = Instant::now();
        let h = env
            .engine
            .database_history(s.id, "app", range, Utc::now())
            .await
            .unwrap();
        let took = t.elapsed();
        eprintln!(
            "{range}: {} backups in range, {} drawn, in {took:?}",
            h.backups_in_range,
            h.sizes.len()
        );
        assert!(took.as_secs_f64() < 5.0, "{range} took {took:?}");
        assert!(h.sizes.len() <= MAX_POINTS);
        if range == HistoryRange::All {
            assert_eq!(h.backups_in_range, 98_000);
            assert_eq!(h.sizes.len(), MAX_POINTS);
            assert_eq!(h.failures_in_range, 2_000);
            assert_eq!(h.failures.len(), model::history::MAX_FAILURES);
            assert_eq!(h.failures[0].cause.as_deref(), Some("failed 100000"));
            // First and last kept; the growing table leads, at the same backups.
            assert_eq!(h.sizes.last().unwrap().raw_bytes, 99_999 * 1000);
            assert_eq!(h.sizes[0].raw_bytes, 1000);
            let names: Vec<&str> = h.tables.iter().map(|t| t.name.as_str()).collect();
            assert_eq!(names, ["grows", "a", "b", "c", "d"]);
            assert_eq!(h.tables[0].points.len(), h.sizes.len());
            assert_eq!(h.tables[0].latest_bytes, 99_999 * 10);
            assert_eq!(h.tables[0].first_bytes, 10);
        }
    }
}
