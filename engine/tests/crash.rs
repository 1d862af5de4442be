//! Crash-safe runs: a pgshelf process killed with `kill -9` in the middle of
//! a dump (as PID 1 of its own PID namespace, the container case, and as a
//! plain process) leaves no pg_dump running, and the next engine on that data
//! directory recovers the run within the lease, removes its spool and partial
//! artifact, and retries the slot; a graceful stop records its runs.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Timelike, Utc};
use engine::catalog::{BackupFilter, BackupStatus};
use engine::policy::{Coverage, Format, Policy};
use engine::{Engine, EngineConfig};

mod common;
use common::*;

const LEASE: Duration = Duration::from_secs(2);

/// Carries the runner's arguments (in the environment, which `unshare`
/// passes on).
const RUNNER_ENV: &str = "PGSHELF_TEST_CRASH_RUNNER";

/// The pgshelf process to kill: this test binary again, running only
/// [`crash_runner`] (so always built from the code under test), optionally
/// as PID 1 of its own PID namespace.
fn crash_runner_command(args: &[String], in_pid_namespace: bool) -> Command {
    let exe = std::env::current_exe().unwrap();
    let mut c = if in_pid_namespace {
        let mut c = Command::new("unshare");
        c.args(["--pid", "--fork", "--kill-child"]).arg(exe);
        c
    } else {
        Command::new(exe)
    };
    c.args(["crash_runner", "--exact", "--nocapture"])
        .env(RUNNER_ENV, args.join("\u{1f}"));
    c
}

/// Not a test on its own: when started by [`crash_runner_command`] it opens an
/// engine on a data directory, runs one scheduler tick at a given time
/// (starting the scheduled backup due then), prints the run's id and its
/// own pid, and waits to be killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_runner() {
    let Ok(arg) = std::env::var(RUNNER_ENV) else {
        return;
    };
    let args: Vec<&str> = arg.split('\u{1f}').collect();
    let [data, bin, lease_ms, tick_at] = args[..] else {
        panic!("crash_runner: DATA BIN LEASE_MS TICK_AT");
    };
    let mut cfg = EngineConfig::new(data);
    cfg.pg_bin_dirs = vec![bin.into()];
    cfg.search_system_tools = false;
    cfg.scheduler_interval = None;
    cfg.discovery_interval = None;
    cfg.lease = Duration::from_millis(lease_ms.parse().unwrap());
    cfg.lease_renew = cfg.lease / 4;
    let engine = Engine::open(cfg).await.unwrap();
    let at = DateTime::parse_from_rfc3339(tick_at).unwrap().to_utc();
    let report = engine.tick_schedules(at).await.unwrap();
    for (id, ..) in &report.started {
        println!("started {id}");
    }
    println!("pid {}", std::process::id());
    loop {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
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

fn config(data: &Path, major: u32) -> EngineConfig {
    let mut cfg = EngineConfig::new(data);
    cfg.pg_bin_dirs = testkit::bin_dir(major).into_iter().collect();
    cfg.search_system_tools = false;
    cfg.scheduler_interval = None;
    cfg.discovery_interval = None;
    cfg.lease = LEASE;
    cfg.lease_renew = Duration::from_millis(500);
    cfg
}

fn unshare_works() -> bool {
    Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

async fn killed_mid_dump(format: Format, in_pid_namespace: bool) {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let db = pg.fresh_database("crash");
    pg.psql(
        &db,
        "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1000) g",
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let now = Utc::now();
    let tick_at = next_hour(now) + chrono::Duration::seconds(20);
    let server_id = {
        let engine = Engine::open(config(&data, major)).await.unwrap();
        let s = engine.add_server(input("main", pg)).await.unwrap();
        let (mut plan, _) = engine.server_plan(s.id).await.unwrap();
        plan.coverage = Coverage::Only {
            databases: vec![db.clone()],
        };
        plan.globals.enabled = false;
        engine.set_server_plan(s.id, &plan, None).await.unwrap();
        let policy = Policy {
            schedule: "0 * * * *".into(),
            format,
            ..Policy::default()
        };
        engine.set_policy(s.id, None, &policy).await.unwrap();
        let d = engine.discover_all().await;
        assert!(d.appeared.iter().any(|(_, x)| x == &db), "{d:?}");
        s.id
    };

    // The dump starts and waits on a lock held by another session.
    let locker = hold_exclusive_lock(pg, &db, "t").await;
    let mut cmd = crash_runner_command(
        &[
            data.display().to_string(),
            testkit::bin_dir(major).unwrap().display().to_string(),
            LEASE.as_millis().to_string(),
            tick_at.to_rfc3339(),
        ],
        in_pid_namespace,
    );
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let (id, pid) = {
        use std::io::BufRead;
        let (mut id, mut pid) = (None, None);
        let mut line = String::new();
        while pid.is_none() {
            line.clear();
            assert!(
                out.read_line(&mut line).unwrap() > 0,
                "crash_runner ended early"
            );
            if let Some(v) = line.trim().strip_prefix("started ") {
                id = Some(v.parse::<i64>().unwrap());
            }
            if let Some(v) = line.trim().strip_prefix("pid ") {
                pid = Some(v.parse::<i32>().unwrap());
            }
        }
        (id.expect("the tick started the slot's run"), pid.unwrap())
    };
    if in_pid_namespace {
        assert_eq!(pid, 1, "pgshelf is PID 1 of its namespace");
    }
    wait_for("pg_dump to start", 60, async || {
        (!testkit::pg_dumps_of(&db).is_empty()).then_some(())
    })
    .await;
    // Wait until pg_dump is blocked on the lock, writing nothing: then only
    // PR_SET_PDEATHSIG stops it (not a SIGPIPE on its next stderr line).
    let blocked = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}' AND wait_event_type = 'Lock' AND application_name = 'pgshelf'"
    );
    wait_for("pg_dump to wait on the lock", 60, async || {
        (pg.psql("postgres", &blocked) != "0").then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let spool = data.join("spool").join(id.to_string());
    if matches!(format, Format::Directory { .. }) {
        assert!(spool.exists(), "the directory dump spools");
    }

    // kill -9: the pgshelf process itself (outside a namespace), or unshare,
    // whose --kill-child takes the namespace's PID 1 (pgshelf) with it.
    // SAFETY: kill(2) of our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.wait().unwrap();
    wait_for("pg_dump to die with pgshelf", 10, async || {
        testkit::pg_dumps_of(&db).is_empty().then_some(())
    })
    .await;

    // The next engine on that data directory recovers the run within the lease.
    let engine = Engine::open(config(&data, major)).await.unwrap();
    let started = Instant::now();
    let row = wait_for("the run to be recovered", 10, async || {
        let r = engine.backup(id).await.unwrap();
        (!r.status.is_active()).then_some(r)
    })
    .await;
    assert!(
        started.elapsed() <= LEASE + Duration::from_secs(2),
        "recovered within the lease: {:?}",
        started.elapsed()
    );
    assert_eq!(row.status, BackupStatus::Failed, "{row:?}");
    assert!(
        row.cause.as_deref().unwrap().starts_with("interrupted"),
        "{row:?}"
    );
    // The run is claimed (recorded failed) first, by exactly one process,
    // and its leftovers removed right after: the partial artifact, then
    // the spool.
    wait_for("the spool to be removed", 10, async || {
        (!spool.exists()).then_some(())
    })
    .await;
    let backups = data.join("backups");
    assert!(files_under(&backups).is_empty(), "partial artifact removed");
    assert!(testkit::pg_dumps_of(&db).is_empty(), "no pg_dump left");
    let rows = engine.backups(&BackupFilter::default()).await.unwrap();
    assert!(rows.iter().all(|r| !r.status.is_good()));

    // The slot is retried (after the backoff), marked as a retry, and the
    // retry succeeds once the lock is gone.
    drop(locker);
    let ended = row.finished_at.unwrap();
    let r = engine
        .tick_schedules(ended + chrono::Duration::minutes(1))
        .await
        .unwrap();
    assert!(
        r.started.is_empty() && r.retried.is_empty(),
        "backoff: {r:?}"
    );
    let r = engine
        .tick_schedules(ended + engine::schedule::retry_backoff(1) + chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(r.retried.len(), 1, "{r:?}");
    assert!(r.started.is_empty(), "{r:?}");
    let retry = finished(&engine, r.retried[0].0).await;
    assert_eq!(retry.status, BackupStatus::Verified, "{retry:?}");
    assert_eq!((retry.attempt, retry.retry_of), (2, Some(id)));
    assert_eq!(retry.scheduled_for, row.scheduled_for);
    assert_eq!(retry.trigger, "retry");
    let _ = server_id;
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_custom_dump_in_a_pid_namespace() {
    if !unshare_works() {
        eprintln!("unshare --pid is not permitted here; running as a plain process instead");
        return killed_mid_dump(Format::Custom, false).await;
    }
    killed_mid_dump(Format::Custom, true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_directory_dump() {
    killed_mid_dump(Format::Directory { jobs: 2 }, false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn graceful_stop_records_running_and_queued_runs() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let db = pg.fresh_database("stop");
    pg.psql(
        &db,
        "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 100) g",
    );
    let env = engine_with(&[major], |c| c.runs_per_server = 1).await;
    let s = env.engine.add_server(input("main", pg)).await.unwrap();
    let locker = hold_exclusive_lock(pg, &db, "t").await;
    let running = env.engine.enqueue_backup(s.id, &db, "test").await.unwrap();
    let queued = env.engine.enqueue_backup(s.id, &db, "test").await.unwrap();
    wait_for("pg_dump to start", 60, async || {
        (!testkit::pg_dumps_of(&db).is_empty()).then_some(())
    })
    .await;
    let t = Instant::now();
    let stopped = env.engine.shutdown(Duration::from_secs(1)).await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(stopped, 2);
    let r = env.engine.backup(running.id).await.unwrap();
    assert_eq!(r.status, BackupStatus::Failed);
    let cause = r.cause.unwrap();
    assert!(cause.starts_with("pgshelf was stopped"), "{cause}");
    assert!(cause.contains("1s grace period"), "{cause}");
    let q = env.engine.backup(queued.id).await.unwrap();
    assert_eq!(q.status, BackupStatus::Failed);
    assert!(q
        .cause
        .unwrap()
        .contains("before this queued backup started"));
    assert!(testkit::pg_dumps_of(&db).is_empty(), "pg_dump stopped");
    assert!(
        files_under(&env.backups).is_empty(),
        "partial artifact removed"
    );
    let err = env
        .engine
        .enqueue_backup(s.id, &db, "test")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("stopping"), "{err}");
    drop(locker);
}

/// A slot whose runs keep failing is retried at most twice (three runs in
/// all), after 2 and then 10 minutes, each marked with its attempt and the
/// run it retries; then the slot waits for the next one.
#[tokio::test(flavor = "multi_thread")]
async fn failed_slots_are_retried_a_bounded_number_of_times() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let db = pg.fresh_database("retry");
    let env = engine_for(&[major]).await;
    let s = env.engine.add_server(input("main", pg)).await.unwrap();
    let (mut plan, _) = env.engine.server_plan(s.id).await.unwrap();
    plan.coverage = Coverage::Only {
        databases: vec![db.clone()],
    };
    plan.globals.enabled = false;
    env.engine.set_server_plan(s.id, &plan, None).await.unwrap();
    let policy = Policy {
        schedule: "0 * * * *".into(),
        ..Policy::default()
    };
    env.engine.set_policy(s.id, None, &policy).await.unwrap();
    env.engine.discover_all().await;
    // The server goes away: every run fails at once.
    let mut gone = input("main", pg);
    gone.port = testkit::closed_port();
    env.engine.update_server(s.id, gone).await.unwrap();

    let slot_tick = next_hour(Utc::now()) + chrono::Duration::seconds(20);
    let r = env.engine.tick_schedules(slot_tick).await.unwrap();
    assert_eq!(r.started.len(), 1, "{r:?}");
    let mut last = finished(&env.engine, r.started[0].0).await;
    assert_eq!((last.status, last.attempt), (BackupStatus::Failed, 1));
    for attempt in 2..=3u32 {
        let ended = last.finished_at.unwrap();
        let early = env
            .engine
            .tick_schedules(
                ended + engine::schedule::retry_backoff(attempt - 1) - chrono::Duration::seconds(5),
            )
            .await
            .unwrap();
        assert!(early.retried.is_empty(), "backoff: {early:?}");
        let r = env
            .engine
            .tick_schedules(
                ended + engine::schedule::retry_backoff(attempt - 1) + chrono::Duration::seconds(1),
            )
            .await
            .unwrap();
        assert_eq!(r.retried.len(), 1, "attempt {attempt}: {r:?}");
        let row = finished(&env.engine, r.retried[0].0).await;
        assert_eq!(row.status, BackupStatus::Failed);
        assert_eq!((row.attempt, row.retry_of), (attempt, Some(last.id)));
        assert_eq!(row.scheduled_for, last.scheduled_for);
        last = row;
    }
    let r = env
        .engine
        .tick_schedules(last.finished_at.unwrap() + chrono::Duration::minutes(30))
        .await
        .unwrap();
    assert!(r.retried.is_empty() && r.started.is_empty(), "{r:?}");
    assert_eq!(
        env.engine
            .backups(&BackupFilter::default())
            .await
            .unwrap()
            .len(),
        3
    );
}
