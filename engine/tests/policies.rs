//! Policies against real PostgreSQL servers: every format, compression and
//! selection option restores with stock tools; globals rebuild roles on a
//! fresh server; the scheduler runs, skips and catches up on a controlled
//! clock; retention prunes exactly the plan on real storage, nothing beyond
//! the rules after a long outage, and nothing while the clock is set back.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use engine::catalog::{Backup, BackupFilter, BackupStatus, Target};
use engine::policy::{Compression, Format, PgDumpAlgorithm, Policy, Selection};
use engine::retention::{Tier, Tiers};
use engine::Engine;

mod common;
use common::*;

const FIXTURE: &str = r#"
CREATE SCHEMA sales;
CREATE SCHEMA scratch;
CREATE TABLE sales.orders (id serial PRIMARY KEY, total numeric NOT NULL);
INSERT INTO sales.orders (total) SELECT g FROM generate_series(1, 300) g;
CREATE TABLE sales.audit_log (id serial PRIMARY KEY, what text);
INSERT INTO sales.audit_log (what) SELECT 'a' || g FROM generate_series(1, 120) g;
CREATE TABLE scratch.tmp (id int);
INSERT INTO scratch.tmp SELECT generate_series(1, 50);
CREATE TABLE public."Big Table" (id int, payload text);
INSERT INTO public."Big Table" SELECT g, repeat('p', 100) FROM generate_series(1, 2000) g;
"#;

async fn backup_with(env: &Env, server_id: i64, db: &str, policy: &Policy) -> Backup {
    env.engine
        .set_policy(server_id, Some(db), policy)
        .await
        .unwrap();
    env.engine.backup_now(server_id, db, "test").await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_format_and_option_restores() {
    for major in testkit::majors_under_test() {
        let pg = testkit::server(major);
        let db = pg.fresh_database("opts");
        pg.psql(&db, FIXTURE);
        let all = counts(pg, &db);
        let env = engine_for(&[major]).await;
        let s = env.engine.add_server(input("main", pg)).await.unwrap();

        let mut cases: Vec<(&str, Policy)> = vec![
            ("custom, pgshelf zstd", Policy::default()),
            (
                "custom, none",
                Policy {
                    compression: Compression::None,
                    ..Policy::default()
                },
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
            ),
            (
                "directory -j 2, pgshelf zstd",
                Policy {
                    format: Format::Directory { jobs: 2 },
                    ..Policy::default()
                },
            ),
            (
                "directory -j 2, none",
                Policy {
                    format: Format::Directory { jobs: 2 },
                    compression: Compression::None,
                    ..Policy::default()
                },
            ),
            (
                "serializable deferrable",
                Policy {
                    serializable_deferrable: true,
                    ..Policy::default()
                },
            ),
        ];
        if major >= 16 {
            for algorithm in [PgDumpAlgorithm::Lz4, PgDumpAlgorithm::Zstd] {
                cases.push((
                    "pg_dump's own lz4/zstd",
                    Policy {
                        compression: Compression::PgDump {
                            algorithm,
                            level: 3,
                        },
                        ..Policy::default()
                    },
                ));
            }
        }
        for (what, policy) in cases {
            let row = backup_with(&env, s.id, &db, &policy).await;
            assert_eq!(row.status, BackupStatus::Verified, "{what}: {row:?}");
            let want = match policy.format {
                Format::Custom => "custom",
                Format::Directory { .. } => "directory",
            };
            assert_eq!(row.format, want, "{what}: the catalog's format");
            let target = pg.fresh_database("r");
            restore(pg, &artifact_dir(&env, &row), &target);
            assert_eq!(counts(pg, &target), all, "PostgreSQL {major}, {what}");
        }

        // Directory runs spool under data/spool; nothing is left there after.
        let spool = env._dir.path().join("data/spool");
        assert!(
            files_under(&spool).is_empty(),
            "spool cleaned: {:?}",
            files_under(&spool)
        );

        // Selection: excluded schema and table absent, excluded data empty.
        let policy = Policy {
            selection: Selection {
                exclude_schemas: vec!["scratch".into()],
                exclude_tables: vec!["\"Big Table\"".into()],
                exclude_table_data: vec!["sales.audit_log".into()],
                ..Default::default()
            },
            ..Policy::default()
        };
        let row = backup_with(&env, s.id, &db, &policy).await;
        assert_eq!(row.status, BackupStatus::Verified);
        let dir = artifact_dir(&env, &row);
        let target = pg.fresh_database("sel");
        restore(pg, &dir, &target);
        let got = counts(pg, &target);
        assert_eq!(
            got,
            BTreeMap::from([
                ("sales.audit_log".to_string(), 0),
                ("sales.orders".to_string(), 300)
            ]),
            "PostgreSQL {major}: selection"
        );
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
        let names: Vec<&str> = manifest["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["audit_log", "orders"],
            "the manifest lists what was dumped"
        );
        assert_eq!(manifest["tables"][0]["data_excluded"], true);

        // Include patterns that match nothing are warned about, not silent.
        let policy = Policy {
            selection: Selection {
                include_schemas: vec!["sales".into()],
                exclude_tables: vec!["sales.no_such_table".into()],
                ..Default::default()
            },
            ..Policy::default()
        };
        let row = backup_with(&env, s.id, &db, &policy).await;
        assert_eq!(row.status, BackupStatus::Verified);
        let w = row.warnings.join("\n");
        assert!(
            w.contains("\"sales.no_such_table\" matches no table"),
            "{w}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn include_pattern_matching_nothing_warns_and_stall_fails_the_run() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let db = pg.fresh_database("stall");
    pg.psql(&db, "CREATE TABLE t AS SELECT generate_series(1, 10) AS id");
    let env = engine_for(&[major]).await;
    let s = env.engine.add_server(input("main", pg)).await.unwrap();

    // A lock held elsewhere: pg_dump waits and no byte moves.
    let locker = hold_exclusive_lock(pg, &db, "t").await;
    let policy = Policy {
        stall_timeout_secs: 10,
        ..Policy::default()
    };
    env.engine
        .set_policy(s.id, Some(&db), &policy)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let err = env.engine.backup_now(s.id, &db, "test").await.unwrap_err();
    drop(locker);
    let msg = err.to_string();
    assert!(msg.contains("stalled: no bytes moved for 10s"), "{msg}");
    assert!(msg.contains("Fix:"));
    assert!(started.elapsed() < Duration::from_secs(40));
    let rows = env.engine.backups(&BackupFilter::default()).await.unwrap();
    assert_eq!(rows[0].status, BackupStatus::Failed);
    // The stall keeps pg_dump's (verbose) stderr tail: where it was.
    let tail = rows[0].stderr_tail.as_deref().unwrap_or("");
    assert!(tail.contains("pg_dump: reading"), "{tail:?}");
    let files: Vec<_> = files_under(&env.backups);
    assert!(files.is_empty(), "{files:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn globals_rebuild_roles_on_a_fresh_server() {
    for major in testkit::majors_under_test() {
        let pg = testkit::server(major);
        let tag = format!("g{major}_{}", std::process::id());
        pg.psql(
            "postgres",
            &format!(
                "CREATE ROLE app_{tag} LOGIN PASSWORD 'pw';
                 CREATE ROLE readers_{tag} NOLOGIN;
                 GRANT readers_{tag} TO app_{tag};"
            ),
        );
        let env = engine_for(&[major]).await;
        let s = env.engine.add_server(input("main", pg)).await.unwrap();
        let queued = env.engine.enqueue_globals(s.id, "test").await.unwrap();
        let row = finished(&env.engine, queued.id).await;
        assert_eq!(row.status, BackupStatus::Verified, "{row:?}");
        assert_eq!(row.target, Target::Globals);
        assert_eq!(row.format, "sql", "the catalog's format");
        let dir = artifact_dir(&env, &row);
        assert!(dir.to_string_lossy().contains("/main/_globals/"));

        // A database backup links to the globals backup nearest before it.
        let db = pg.fresh_database("withglobals");
        let b = env.engine.backup_now(s.id, &db, "test").await.unwrap();
        assert_eq!(
            env.engine.globals_for(b.id).await.unwrap().map(|g| g.id),
            Some(row.id)
        );

        // Apply to a brand-new server with stock zstd and psql.
        let fresh = testkit::start(major);
        let mut z = Command::new("zstd")
            .args(["-dc", "--"])
            .arg(dir.join("globals.sql.zst"))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = Command::new(fresh.tool("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=0", "-h"])
            .arg(fresh.socket_dir())
            .args([
                "-p",
                &fresh.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
            ])
            .stdin(z.stdout.take().unwrap())
            .output()
            .unwrap();
        assert!(z.wait().unwrap().success());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let member = fresh.psql(
            "postgres",
            &format!("SELECT pg_has_role('app_{tag}', 'readers_{tag}', 'MEMBER') AND (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'app_{tag}')"),
        );
        assert_eq!(
            member, "t",
            "PostgreSQL {major}: role and membership restored"
        );
        pg.psql(
            "postgres",
            &format!("DROP ROLE app_{tag}; DROP ROLE readers_{tag};"),
        );
    }
}

/// A globals backup with `--no-role-passwords` (the server plan's setting)
/// holds no password hash, and says so.
#[tokio::test(flavor = "multi_thread")]
async fn globals_without_role_passwords_hold_no_hashes() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let tag = format!("np{major}_{}", std::process::id());
    pg.psql(
        "postgres",
        &format!("CREATE ROLE secret_{tag} LOGIN PASSWORD 'hash-me-not';"),
    );
    let env = engine_for(&[major]).await;
    let s = env.engine.add_server(input("main", pg)).await.unwrap();
    let (mut plan, _) = env.engine.server_plan(s.id).await.unwrap();
    plan.globals.no_role_passwords = true;
    env.engine.set_server_plan(s.id, &plan, None).await.unwrap();
    let queued = env.engine.enqueue_globals(s.id, "test").await.unwrap();
    let row = finished(&env.engine, queued.id).await;
    pg.psql("postgres", &format!("DROP ROLE secret_{tag};"));
    assert_eq!(row.status, BackupStatus::Verified, "{row:?}");
    assert!(
        row.warnings
            .iter()
            .any(|w| w.contains("--no-role-passwords")),
        "{row:?}"
    );
    let out = Command::new("zstd")
        .args(["-dc", "--"])
        .arg(artifact_dir(&env, &row).join("globals.sql.zst"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let sql = String::from_utf8(out.stdout).unwrap();
    assert!(sql.contains(&format!("secret_{tag}")), "the role is there");
    for hash in ["SCRAM-SHA-256$", "md5", "PASSWORD '"] {
        assert!(!sql.contains(hash), "no password hash ({hash}) in:\n{sql}");
    }
}

async fn wait_idle(engine: &Engine) {
    for _ in 0..600 {
        let rows = engine.backups(&BackupFilter::default()).await.unwrap();
        if rows.iter().all(|r| !r.status.is_active()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("runs did not finish");
}

#[tokio::test(flavor = "multi_thread")]
async fn scheduler_runs_skips_and_catches_up_once() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let env = engine_for(&[major]).await;
    let s = env.engine.add_server(input("main", pg)).await.unwrap();
    let db = pg.fresh_database("sched");
    // Only this database, hourly at :00; globals off to keep the count simple.
    let (mut plan, _) = env.engine.server_plan(s.id).await.unwrap();
    plan.coverage = engine::policy::Coverage::Only {
        databases: vec![db.clone()],
    };
    plan.globals.enabled = false;
    env.engine.set_server_plan(s.id, &plan, None).await.unwrap();
    let policy = Policy {
        schedule: "0 * * * *".into(),
        ..Policy::default()
    };
    env.engine.set_policy(s.id, None, &policy).await.unwrap();

    // Discovery (its own worker; by hand here) finds the database, first
    // seen now: the first tick has nothing due yet.
    let now = Utc::now();
    let d = env.engine.discover_all().await;
    assert!(d.appeared.iter().any(|(_, x)| x == &db), "{d:?}");
    let r = env.engine.tick_schedules(now).await.unwrap();
    assert!(r.started.is_empty(), "{r:?}");

    // The next hour: one run, on time.
    let t1 = next_hour(now) + chrono::Duration::seconds(20);
    let r = env.engine.tick_schedules(t1).await.unwrap();
    assert_eq!(r.started.len(), 1, "{r:?}");
    assert!(!r.started[0].4, "on time");
    wait_idle(&env.engine).await;
    // Same slot again: skipped.
    assert!(env
        .engine
        .tick_schedules(t1 + chrono::Duration::minutes(10))
        .await
        .unwrap()
        .started
        .is_empty());

    // Down for five hours: exactly one catch-up run, marked late.
    let t2 = t1 + chrono::Duration::hours(5) + chrono::Duration::minutes(30);
    let r = env.engine.tick_schedules(t2).await.unwrap();
    assert_eq!(r.started.len(), 1, "{r:?}");
    assert!(r.started[0].4, "late");
    wait_idle(&env.engine).await;
    assert!(env
        .engine
        .tick_schedules(t2 + chrono::Duration::minutes(1))
        .await
        .unwrap()
        .started
        .is_empty());
    let rows = env
        .engine
        .backups(&BackupFilter {
            target: Some(Target::Database(db.clone())),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows[0].late && !rows[1].late);
    assert!(rows
        .iter()
        .all(|r| r.status == BackupStatus::Verified && r.trigger == "schedule"));

    // Overdue: no success for more than two intervals.
    let status = env
        .engine
        .schedule_status(s.id, t2 + chrono::Duration::hours(3))
        .await
        .unwrap();
    let st = status
        .iter()
        .find(|x| x.target.database() == Some(db.as_str()))
        .unwrap();
    assert!(st.overdue, "{st:?}");
    assert!(st.next_run.is_some());

    // A disabled policy does not run; a database that disappears is shown as gone.
    env.engine
        .set_policy(
            s.id,
            Some(&db),
            &Policy {
                enabled: false,
                ..policy.clone()
            },
        )
        .await
        .unwrap();
    assert!(env
        .engine
        .tick_schedules(t2 + chrono::Duration::hours(2))
        .await
        .unwrap()
        .started
        .is_empty());
    pg.drop_database(&db);
    let r = env.engine.discover_all().await;
    assert!(r.disappeared.iter().any(|(_, d)| d == &db), "{r:?}");
    let st = env.engine.schedule_status(s.id, t2).await.unwrap();
    assert!(st
        .iter()
        .find(|x| x.target.database() == Some(db.as_str()))
        .unwrap()
        .gone_since
        .is_some());
}

fn next_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::Timelike;
    let base = t
        .with_minute(0)
        .unwrap()
        .with_second(0)
        .unwrap()
        .with_nanosecond(0)
        .unwrap();
    base + chrono::Duration::hours(1)
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_prunes_exactly_the_plan_on_storage() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let env = engine_for(&[major]).await;
    let s = env.engine.add_server(input("main", pg)).await.unwrap();
    let db = pg.fresh_database("keep");
    // Keep nothing automatic while we take the backups.
    let keep_all = Policy {
        retention: Tiers {
            hourly: 0,
            daily: 3660,
            weekly: 0,
            monthly: 0,
            yearly: 0,
        },
        ..Policy::default()
    };
    env.engine
        .set_policy(s.id, Some(&db), &keep_all)
        .await
        .unwrap();
    // Take six backups, each backdated to its own day right away (as if
    // taken daily), so that each later success sees six distinct days.
    let cat = catalog_pool(&env).await;
    let base = Utc.with_ymd_and_hms(2026, 11, 1, 3, 0, 0).unwrap();
    let mut ids = Vec::new();
    for i in 0..6 {
        let id = env.engine.backup_now(s.id, &db, "test").await.unwrap().id;
        let at = base + chrono::Duration::days(i);
        backdate(&cat, id, at).await;
        ids.push(id);
    }
    cat.close().await;
    for id in &ids {
        assert!(
            env.engine.backup(*id).await.unwrap().pruned_at.is_none(),
            "a year of daily tiers keeps all six"
        );
    }

    let dirs: Vec<PathBuf> = {
        let mut v = Vec::new();
        for id in &ids {
            v.push(artifact_dir(&env, &env.engine.backup(*id).await.unwrap()));
        }
        v
    };
    // Keep 2 daily: with the engine's default minimum (the 3 newest are
    // always kept) the plan says the three oldest go.
    let two = Policy {
        retention: Tiers {
            hourly: 0,
            daily: 2,
            weekly: 0,
            monthly: 0,
            yearly: 0,
        },
        ..Policy::default()
    };
    let now = base + chrono::Duration::days(5) + chrono::Duration::hours(12);
    let preview = env
        .engine
        .preview_policy(s.id, Some(&db), &two, now)
        .await
        .unwrap();
    let planned: Vec<i64> = preview.prune.iter().map(|r| r.id).collect();
    assert_eq!(sorted(planned.clone()), ids[..3].to_vec());
    assert!(preview.held.is_empty());
    let third = preview.keep.iter().find(|r| r.id == ids[3]).unwrap();
    assert_eq!(
        (third.tiers.len(), third.reason.as_str()),
        (0, "one of the 3 newest successful backups: always kept")
    );
    env.engine.set_policy(s.id, Some(&db), &two).await.unwrap();
    let report = env.engine.prune_now(s.id, &db, now).await.unwrap();
    let mut pruned = report.pruned.clone();
    pruned.sort();
    let mut want = planned.clone();
    want.sort();
    assert_eq!(pruned, want, "prunes exactly the plan");
    for (id, dir) in ids.iter().zip(&dirs) {
        let row = env.engine.backup(*id).await.unwrap();
        if planned.contains(id) {
            assert!(row.pruned_at.is_some());
            assert!(!dir.exists(), "artifact of pruned {id} removed");
        } else {
            assert!(row.pruned_at.is_none());
            let tiers = if *id == ids[3] {
                vec![]
            } else {
                vec![Tier::Daily]
            };
            assert_eq!(row.tiers, tiers);
            assert!(dir.join("manifest.json").exists());
        }
    }
    // Re-planning prunes nothing more.
    assert!(env
        .engine
        .prune_now(s.id, &db, now)
        .await
        .unwrap()
        .pruned
        .is_empty());
}

fn sorted(mut v: Vec<i64>) -> Vec<i64> {
    v.sort_unstable();
    v
}

fn tiers(daily: u32, weekly: u32, monthly: u32) -> Tiers {
    Tiers {
        hourly: 0,
        daily,
        weekly,
        monthly,
        yearly: 0,
    }
}

/// Takes one backup per time under a policy that keeps everything, each
/// backdated to its time right away; returns the ids and artifact dirs.
async fn backdated_backups(
    env: &Env,
    server_id: i64,
    db: &str,
    times: &[DateTime<Utc>],
) -> (Vec<i64>, Vec<PathBuf>) {
    let keep_all = Policy {
        retention: tiers(3660, 0, 0),
        ..Policy::default()
    };
    env.engine
        .set_policy(server_id, Some(db), &keep_all)
        .await
        .unwrap();
    let cat = catalog_pool(env).await;
    let (mut ids, mut dirs) = (Vec::new(), Vec::new());
    for at in times {
        let row = env.engine.backup_now(server_id, db, "test").await.unwrap();
        backdate(&cat, row.id, *at).await;
        ids.push(row.id);
        dirs.push(artifact_dir(env, &row));
    }
    cat.close().await;
    (ids, dirs)
}

/// Asserts which of `ids` are pruned (row marked, artifact gone) and that
/// the others are intact.
async fn assert_pruned(env: &Env, ids: &[i64], dirs: &[PathBuf], pruned: &[i64]) {
    for (id, dir) in ids.iter().zip(dirs) {
        let row = env.engine.backup(*id).await.unwrap();
        if pruned.contains(id) {
            assert!(row.pruned_at.is_some(), "#{id} pruned");
            assert!(!dir.exists(), "artifact of pruned #{id} removed");
        } else {
            assert!(row.pruned_at.is_none(), "#{id} kept: {row:?}");
            assert!(dir.join("manifest.json").exists(), "#{id} artifact kept");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_longer_than_every_window_prunes_nothing_beyond_the_rules() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let env = engine_for(&[major]).await;
    let s = env.engine.add_server(input("main", pg)).await.unwrap();
    let db = pg.fresh_database("outage");
    // Daily backups at 03:00 UTC, Fri 2024-03-01 .. Fri 2024-03-08:
    // ids[i] is 2024-03-0{i+1}.
    let base = Utc.with_ymd_and_hms(2024, 3, 1, 3, 0, 0).unwrap();
    let times: Vec<DateTime<Utc>> = (0..8).map(|i| base + chrono::Duration::days(i)).collect();
    let (ids, dirs) = backdated_backups(&env, s.id, &db, &times).await;
    // 3 daily, 2 weekly, 2 monthly, and the engine's default 3 newest.
    let policy = Policy {
        retention: tiers(3, 2, 2),
        ..Policy::default()
    };
    env.engine
        .set_policy(s.id, Some(&db), &policy)
        .await
        .unwrap();

    // Right after the last one: 03-08, 03-07, 03-06 hold daily (and are the
    // 3 newest), 03-03 holds weekly 2024-W09; March is the only month.
    let right_after = times[7] + chrono::Duration::hours(1);
    let r = env.engine.prune_now(s.id, &db, right_after).await.unwrap();
    assert_eq!(r.held, None);
    let first = vec![ids[0], ids[1], ids[3], ids[4]];
    assert_eq!(sorted(r.pruned.clone()), first);
    assert_pruned(&env, &ids, &dirs, &first).await;

    // Years later, before the next success: the clock alone ages nothing out.
    let preview = env
        .engine
        .preview_policy(s.id, Some(&db), &policy, Utc::now())
        .await
        .unwrap();
    assert!(preview.prune.is_empty(), "{:?}", preview.prune);
    assert_eq!(preview.keep.len(), 4);

    // The outage (longer than every tier's span) ends with one success. Its
    // own prune, on the real clock, moves each tier down by one bucket: the
    // new backup holds this day, week and month, so 03-06 (the 3rd daily)
    // and 03-03 (the 2nd weekly) go, and nothing else.
    let new = env.engine.backup_now(s.id, &db, "test").await.unwrap();
    let new_dir = artifact_dir(&env, &new);
    let mut all_ids = ids.clone();
    all_ids.push(new.id);
    let mut all_dirs = dirs.clone();
    all_dirs.push(new_dir);
    let mut gone = first.clone();
    gone.extend([ids[2], ids[5]]);
    assert_pruned(&env, &all_ids, &all_dirs, &gone).await;
    for (id, tiers) in [
        (new.id, "daily,weekly,monthly"),
        (ids[7], "daily,weekly,monthly"),
        (ids[6], "daily"),
    ] {
        let row = env.engine.backup(id).await.unwrap();
        let held: Vec<&str> = row.tiers.iter().map(|t| t.name()).collect();
        assert_eq!(held.join(","), tiers, "#{id}");
    }
    // Re-planning prunes nothing more.
    let r = env.engine.prune_now(s.id, &db, Utc::now()).await.unwrap();
    assert!(r.pruned.is_empty() && r.failed.is_empty(), "{r:?}");
    assert_eq!(r.kept, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clock_set_back_prunes_nothing() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let env = engine_for(&[major]).await;
    let s = env.engine.add_server(input("main", pg)).await.unwrap();
    let db = pg.fresh_database("clockback");
    // Daily backups 2024-03-01 .. 2024-03-05, 03:00 UTC.
    let base = Utc.with_ymd_and_hms(2024, 3, 1, 3, 0, 0).unwrap();
    let times: Vec<DateTime<Utc>> = (0..5).map(|i| base + chrono::Duration::days(i)).collect();
    let (ids, dirs) = backdated_backups(&env, s.id, &db, &times).await;
    let one = Policy {
        retention: tiers(1, 0, 0),
        ..Policy::default()
    };
    env.engine.set_policy(s.id, Some(&db), &one).await.unwrap();

    // The clock reads 2024-03-04 12:00, before the newest backup: the
    // preview and the prune both hold, and say why.
    let back = Utc.with_ymd_and_hms(2024, 3, 4, 12, 0, 0).unwrap();
    let preview = env
        .engine
        .preview_policy(s.id, Some(&db), &one, back)
        .await
        .unwrap();
    assert!(preview.prune.is_empty(), "{:?}", preview.prune);
    assert_eq!(preview.keep.len(), 5);
    assert_eq!(preview.held.len(), 1, "{:?}", preview.held);
    let why = &preview.held[0];
    assert!(
        why.starts_with(&format!(
            "{db}: nothing is pruned: the clock reads 2024-03-04 12:00:00 UTC"
        )),
        "{why}"
    );
    assert!(
        why.contains(&format!("#{} taken 2024-03-05 03:00:00 UTC", ids[4])),
        "{why}"
    );
    let r = env.engine.prune_now(s.id, &db, back).await.unwrap();
    assert!(r.pruned.is_empty() && r.failed.is_empty(), "{r:?}");
    assert_eq!(r.kept, 5);
    assert!(r.held.as_deref().unwrap().starts_with("nothing is pruned"));
    assert_pruned(&env, &ids, &dirs, &[]).await;

    // The production path: the newest row is dated a month ahead of this
    // host's clock (written while the clock ran fast, then corrected). The
    // next real success prunes nothing although daily 1 and the 3 newest
    // would let two go.
    let cat = catalog_pool(&env).await;
    let ahead = Utc::now() + chrono::Duration::days(30);
    backdate(&cat, ids[4], ahead).await;
    cat.close().await;
    let new = env.engine.backup_now(s.id, &db, "test").await.unwrap();
    let mut all_ids = ids.clone();
    all_ids.push(new.id);
    let mut all_dirs = dirs.clone();
    all_dirs.push(artifact_dir(&env, &new));
    assert_pruned(&env, &all_ids, &all_dirs, &[]).await;

    // Once the clock passes the newest backup the rules apply again: the 3
    // newest (the one dated ahead, the new one, 03-04) stay, the rest go.
    let later = ahead + chrono::Duration::days(1);
    let r = env.engine.prune_now(s.id, &db, later).await.unwrap();
    assert_eq!(r.held, None);
    let gone = vec![ids[0], ids[1], ids[2]];
    assert_eq!(sorted(r.pruned.clone()), gone);
    assert_pruned(&env, &all_ids, &all_dirs, &gone).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_prune_after_a_failure() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let env = engine_for(&[major]).await;
    let s = env.engine.add_server(input("main", pg)).await.unwrap();
    let db = pg.fresh_database("nofail");
    let zero = Policy {
        retention: Tiers {
            hourly: 0,
            daily: 0,
            weekly: 0,
            monthly: 0,
            yearly: 0,
        },
        ..Policy::default()
    };
    env.engine.set_policy(s.id, Some(&db), &zero).await.unwrap();
    let first = env.engine.backup_now(s.id, &db, "test").await.unwrap();
    pg.drop_database(&db);
    assert!(env.engine.backup_now(s.id, &db, "test").await.is_err());
    let row = env.engine.backup(first.id).await.unwrap();
    assert!(row.pruned_at.is_none(), "a failed run prunes nothing");
    assert!(artifact_dir(&env, &row).join("manifest.json").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_policies_are_refused_with_the_reason() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let env = engine_for(&[major]).await;
    let s = env.engine.add_server(input("main", pg)).await.unwrap();
    let bad_cron = Policy {
        schedule: "0 25 * * *".into(),
        ..Policy::default()
    };
    let e = env
        .engine
        .set_policy(s.id, None, &bad_cron)
        .await
        .unwrap_err();
    assert_eq!(e.status(), 422);
    assert!(e.to_string().contains("hour field"), "{e}");
    let huge = Policy {
        retention: Tiers {
            hourly: 100_000,
            ..Tiers::default()
        },
        ..Policy::default()
    };
    assert!(env
        .engine
        .set_policy(s.id, None, &huge)
        .await
        .unwrap_err()
        .to_string()
        .contains("8760"));
    // Negative counts cannot even be read.
    assert!(serde_json::from_str::<Policy>(r#"{"retention":{"daily":-1}}"#).is_err());
    // Declared policies are read-only.
    let warnings = env
        .engine
        .apply_declared(
            &[engine::plans::DeclaredPolicy {
                server: "main".into(),
                database: None,
                policy: Policy::default(),
            }],
            &[],
        )
        .await
        .unwrap();
    assert!(warnings.is_empty());
    let e = env
        .engine
        .set_policy(s.id, None, &Policy::default())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("pgshelf.toml"), "{e}");
    let w = env
        .engine
        .apply_declared(
            &[engine::plans::DeclaredPolicy {
                server: "nope".into(),
                database: None,
                policy: Policy::default(),
            }],
            &[],
        )
        .await
        .unwrap();
    assert!(w[0].contains("\"nope\""));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_upgrade_flags_the_next_success() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let env = engine_for(&[major]).await;
    let s = env.engine.add_server(input("main", pg)).await.unwrap();
    let db = pg.fresh_database("upg");
    let first = env.engine.backup_now(s.id, &db, "test").await.unwrap();
    assert!(
        !first.version_changed,
        "the first success has nothing to compare with"
    );
    let second = env.engine.backup_now(s.id, &db, "test").await.unwrap();
    assert!(!second.version_changed);
    // As if the server ran an older major at the previous success.
    let cat = catalog_pool(&env).await;
    sqlx::query("UPDATE servers SET last_seen_version = '14.9' WHERE id = ?")
        .bind(s.id)
        .execute(&cat)
        .await
        .unwrap();
    cat.close().await;
    let third = env.engine.backup_now(s.id, &db, "test").await.unwrap();
    let third = env.engine.backup(third.id).await.unwrap();
    assert!(third.version_changed, "the run after an upgrade is flagged");
    assert_eq!(third.status, BackupStatus::Verified);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_prune_keeps_the_row_and_retries() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    // Only the newest is kept whatever the tiers, so daily 1 prunes the old one.
    let env = engine_with(&[major], |c| c.min_backups_kept = 1).await;
    let s = env.engine.add_server(input("main", pg)).await.unwrap();
    let db = pg.fresh_database("retry");
    let keep_all = Policy {
        retention: Tiers {
            hourly: 0,
            daily: 3660,
            weekly: 0,
            monthly: 0,
            yearly: 0,
        },
        ..Policy::default()
    };
    env.engine
        .set_policy(s.id, Some(&db), &keep_all)
        .await
        .unwrap();
    let cat = catalog_pool(&env).await;
    let old = env.engine.backup_now(s.id, &db, "test").await.unwrap();
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 3, 0, 0).unwrap();
    backdate(&cat, old.id, at).await;
    env.engine.backup_now(s.id, &db, "test").await.unwrap();
    let dir = artifact_dir(&env, &old);

    // The old artifact's copy is on a destination that no longer exists
    // (as if it was removed from the config): removal fails, the row stays
    // with the error.
    sqlx::query("UPDATE backup_copies SET destination = 'gone' WHERE backup_id = ?")
        .bind(old.id)
        .execute(&cat)
        .await
        .unwrap();
    let one = Policy {
        retention: Tiers {
            hourly: 0,
            daily: 1,
            weekly: 0,
            monthly: 0,
            yearly: 0,
        },
        ..Policy::default()
    };
    env.engine.set_policy(s.id, Some(&db), &one).await.unwrap();
    let r = env.engine.prune_now(s.id, &db, Utc::now()).await.unwrap();
    assert!(r.pruned.is_empty());
    assert_eq!(r.failed.len(), 1, "{r:?}");
    let row = env.engine.backup(old.id).await.unwrap();
    assert!(row.pruned_at.is_none(), "the row is not lost");
    assert!(
        row.prune_error
            .as_deref()
            .unwrap()
            .contains("no destination named \"gone\""),
        "{row:?}"
    );
    assert!(dir.join("manifest.json").exists());

    // Next time it works: removed from storage, then marked pruned.
    sqlx::query("UPDATE backup_copies SET destination = 'local' WHERE backup_id = ?")
        .bind(old.id)
        .execute(&cat)
        .await
        .unwrap();
    cat.close().await;
    let r = env.engine.prune_now(s.id, &db, Utc::now()).await.unwrap();
    assert_eq!(r.pruned, vec![old.id]);
    let row = env.engine.backup(old.id).await.unwrap();
    assert!(row.pruned_at.is_some() && row.prune_error.is_none());
    assert!(!dir.exists());
}
