//! A backup taken by the engine against real PostgreSQL servers, restored
//! with stock `zstd` and `pg_restore` only, and every bad-input path.
//!
//! Runs once per major in `PGSHELF_TEST_PG` (default 15,18).

use std::time::Duration;

use engine::catalog::{BackupFilter, BackupStatus};
use engine::{Engine, EngineConfig};

mod common;
use common::*;

const FIXTURE: &str = r#"
CREATE SCHEMA sales;
CREATE SCHEMA "Audit Log";
CREATE SEQUENCE sales.invoice_no START 1000;
CREATE TABLE sales.invoices (
    id bigint PRIMARY KEY DEFAULT nextval('sales.invoice_no'),
    amount numeric NOT NULL CHECK (amount > 0),
    note text
);
CREATE INDEX invoices_amount ON sales.invoices (amount);
INSERT INTO sales.invoices (amount, note) SELECT g, 'note ' || g FROM generate_series(1, 500) g;
CREATE TABLE "Audit Log"."My ""Odd"" Table" (id serial PRIMARY KEY, what text);
INSERT INTO "Audit Log"."My ""Odd"" Table" (what) SELECT 'x' || g FROM generate_series(1, 37) g;
CREATE VIEW sales.big_invoices AS SELECT * FROM sales.invoices WHERE amount > 250;
CREATE TABLE public.events (id bigint, at date NOT NULL, payload text) PARTITION BY RANGE (at);
CREATE TABLE public.events_2025 PARTITION OF public.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE public.events_2026 PARTITION OF public.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO public.events SELECT g, DATE '2025-06-01' + (g % 400), 'p' || g FROM generate_series(1, 800) g;
SELECT lo_from_bytea(0, 'large object one'::bytea);
SELECT lo_from_bytea(0, convert_to(repeat('z', 100000), 'UTF8'));
"#;

#[tokio::test(flavor = "multi_thread")]
async fn backup_restores_with_stock_tools() {
    for major in testkit::majors_under_test() {
        let pg = testkit::server(major);
        let db = pg.fresh_database("shop");
        pg.psql(&db, FIXTURE);
        let want = counts(pg, &db);
        assert_eq!(want.len(), 4, "{want:?}");

        let env = engine_for(&[major]).await;
        let server = env.engine.add_server(input("main", pg)).await.unwrap();
        assert!(server.has_password);
        let dbs = env.engine.databases(server.id).await.unwrap();
        let found = dbs
            .iter()
            .find(|d| d.name == db)
            .expect("database discovered");
        assert!(found.size_bytes.unwrap() > 0);

        let row = env.engine.backup_now(server.id, &db, "test").await.unwrap();
        assert_eq!(row.status, BackupStatus::Verified, "{row:?}");
        assert!(row.stored_bytes > 0 && row.raw_bytes > row.stored_bytes / 2);
        assert_eq!(
            row.pg_dump_version
                .as_deref()
                .map(|v| v.split('.').next().unwrap().to_owned()),
            Some(major.to_string())
        );
        assert!(row
            .server_version
            .as_deref()
            .unwrap()
            .starts_with(&major.to_string()));

        let dir = env.backups.join(
            row.location
                .as_deref()
                .unwrap()
                .split_once(env.backups.to_str().unwrap())
                .unwrap()
                .1
                .trim_start_matches('/'),
        );
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
        let dump = dir.join("dump.zst");
        let bytes = std::fs::read(&dump).unwrap();
        assert_eq!(
            manifest["files"][0]["size"].as_u64().unwrap(),
            bytes.len() as u64
        );
        use sha2::Digest;
        assert_eq!(
            manifest["files"][0]["sha256"].as_str().unwrap(),
            hex::encode(sha2::Sha256::digest(&bytes))
        );
        assert_eq!(manifest["large_objects"].as_i64(), Some(2));
        let odd = manifest["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "My \"Odd\" Table")
            .expect("odd table in manifest");
        assert_eq!(odd["schema"], "Audit Log");
        assert_eq!(odd["rows"], 37);
        let parted = manifest["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "events")
            .unwrap();
        assert_eq!(
            (parted["kind"].as_str(), parted["rows"].as_i64()),
            (Some("partitioned"), Some(800))
        );

        // Restore into a fresh database with zstd and pg_restore alone.
        let target = pg.fresh_database("restored");
        restore_with_stock_tools(pg, &dump, &target);
        assert_eq!(
            counts(pg, &target),
            want,
            "PostgreSQL {major}: row counts after restore"
        );
        let lo = |d: &str| {
            pg.psql(
                d,
                "SELECT count(*) || ':' || sum(length(lo_get(oid))) FROM pg_largeobject_metadata",
            )
        };
        assert_eq!(lo(&target), lo(&db));
        assert_eq!(lo(&target), "2:100016");
        assert_eq!(
            pg.psql(&target, "SELECT count(*) FROM sales.big_invoices"),
            "250"
        );
        assert_eq!(
            pg.psql(&target, "SELECT last_value FROM sales.invoice_no"),
            pg.psql(&db, "SELECT last_value FROM sales.invoice_no")
        );
        assert_eq!(
            pg.psql(&target, "SELECT count(*) FROM public.events"),
            "800"
        );

        let listed = env.engine.backups(&BackupFilter::default()).await.unwrap();
        assert_eq!(listed.len(), 1);
        env.engine.delete_backup(row.id).await.unwrap();
        assert!(!dir.exists(), "artifact removed with the backup");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_fails_clearly() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let env = engine_for(&[major]).await;
    let s = env
        .engine
        .add_server(input_with_password("bad-pw", pg, "not-the-password"))
        .await
        .unwrap();
    let err = env.engine.test_connection(s.id).await.unwrap_err();
    assert_eq!(err.status(), 401);
    let msg = err.to_string();
    assert!(
        !msg.contains("not-the-password"),
        "secrets never in messages"
    );
    assert_failed_clean(
        &env,
        env.engine.backup_now(s.id, "postgres", "test").await,
        "password authentication failed",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_host_fails_clearly() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let env = engine_for(&[major]).await;
    let mut i = input("gone", pg);
    i.port = testkit::closed_port();
    let s = env.engine.add_server(i).await.unwrap();
    assert_eq!(env.engine.databases(s.id).await.unwrap_err().status(), 502);
    assert_failed_clean(
        &env,
        env.engine.backup_now(s.id, "postgres", "test").await,
        "cannot reach PostgreSQL",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn database_dropped_after_discovery() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let env = engine_for(&[major]).await;
    let s = env.engine.add_server(input("main", pg)).await.unwrap();
    let db = pg.fresh_database("doomed");
    assert!(env
        .engine
        .databases(s.id)
        .await
        .unwrap()
        .iter()
        .any(|d| d.name == db));
    pg.drop_database(&db);
    let msg = assert_failed_clean(
        &env,
        env.engine.backup_now(s.id, &db, "test").await,
        "does not exist",
    )
    .await
    .cause
    .unwrap();
    assert!(msg.contains(&db));
}

#[tokio::test(flavor = "multi_thread")]
async fn pg_dump_older_than_server_is_refused() {
    let majors = testkit::majors_under_test();
    let (Some(&newest), true) = (majors.iter().max(), majors.contains(&15)) else {
        eprintln!("needs 15 and a newer major under test; skipped");
        return;
    };
    if newest == 15 {
        eprintln!("needs a major newer than 15; skipped");
        return;
    }
    let pg = testkit::server(newest);
    // Only the 15 client tools are available.
    let env = engine_for(&[15]).await;
    let s = env.engine.add_server(input("new", pg)).await.unwrap();
    let report = env.engine.test_connection(s.id).await.unwrap();
    assert!(
        report.pg_dump.is_err(),
        "the connection test warns before any run"
    );
    let msg = assert_failed_clean(
        &env,
        env.engine.backup_now(s.id, "postgres", "test").await,
        "no usable pg_dump",
    )
    .await
    .cause
    .unwrap();
    assert!(msg.contains(&format!("PostgreSQL {newest}.")), "{msg}");
    assert!(msg.contains("found: 15."), "{msg}");
    assert!(
        msg.contains(&format!("postgresql-client-{newest}")),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unwritable_destination_fails_before_dumping() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let env = engine_for(&[major]).await;
    let s = env.engine.add_server(input("main", pg)).await.unwrap();
    // The destination directory is replaced by a regular file (as if its
    // mount vanished): nothing can be written below it, even by root.
    std::fs::remove_dir_all(&env.backups).unwrap();
    std::fs::write(&env.backups, b"not a directory").unwrap();
    let err = env
        .engine
        .backup_now(s.id, "postgres", "test")
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("is not writable"), "{msg}");
    assert!(msg.contains("Fix:"), "{msg}");
    let rows = env.engine.backups(&BackupFilter::default()).await.unwrap();
    assert_eq!(rows[0].status, BackupStatus::Failed);
    assert!(
        rows[0].pg_dump_version.is_none(),
        "failed before pg_dump ran"
    );
}

/// The pid of a pg_dump child of this process dumping `db`.
fn pg_dump_child(db: &str) -> Option<i32> {
    let me = std::process::id().to_string();
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().nth(1))
            .unwrap_or("");
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd);
        if ppid == me && cmd.contains("pg_dump") && cmd.contains(db) {
            return Some(pid);
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread")]
async fn pg_dump_killed_mid_run() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let db = pg.fresh_database("killme");
    pg.psql(
        &db,
        "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1000) g",
    );
    let env = engine_for(&[major]).await;
    let s = env.engine.add_server(input("main", pg)).await.unwrap();

    // Hold a lock so pg_dump is running but cannot finish.
    let locker = hold_exclusive_lock(pg, &db, "t").await;

    let queued = env.engine.enqueue_backup(s.id, &db, "test").await.unwrap();
    let mut pid = None;
    for _ in 0..200 {
        if let Some(p) = pg_dump_child(&db) {
            pid = Some(p);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = pid.expect("pg_dump started");
    // The password reaches pg_dump in a private passfile, not its environment.
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    assert!(!environ.contains("PGPASSWORD"), "{environ}");
    assert!(!environ.contains(testkit::PASSWORD));
    let passfile = environ
        .split('\0')
        .find_map(|kv| kv.strip_prefix("PGPASSFILE="))
        .expect("PGPASSFILE set")
        .to_owned();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&passfile).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(
        env.engine.backup(queued.id).await.unwrap().status,
        BackupStatus::Running
    );
    // SAFETY: plain kill(2) of our own child.
    unsafe { libc::kill(pid, libc::SIGKILL) };

    let mut row = env.engine.backup(queued.id).await.unwrap();
    for _ in 0..200 {
        if !row.status.is_active() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        row = env.engine.backup(queued.id).await.unwrap();
    }
    drop(locker);
    assert_eq!(row.status, BackupStatus::Failed);
    let cause = row.cause.unwrap();
    assert!(cause.contains("killed by signal 9"), "{cause}");
    assert!(
        files_under(&env.backups).is_empty(),
        "partial artifact removed"
    );
    assert!(
        !std::path::Path::new(&passfile).exists(),
        "passfile removed"
    );
    let w = &env.engine.workers()[0];
    assert_eq!(w.name, "backup-runner");
    assert!(
        w.last_error.as_deref().unwrap_or("").contains("killed"),
        "{w:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn interrupted_run_is_failed_at_next_start() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cfg = EngineConfig::new(&data);
    cfg.pg_bin_dirs = testkit::bin_dir(major).into_iter().collect();
    let backups = cfg.backup_dir.clone();
    {
        let engine = Engine::open(cfg.clone()).await.unwrap();
        let s = engine.add_server(input("main", pg)).await.unwrap();
        engine.backup_now(s.id, "postgres", "test").await.unwrap();
    }
    // Forge what a killed process leaves: a `running` row owned by a dead pid
    // and a partial artifact without a manifest.
    let partial = backups.join("main/postgres/20260101T000000Z-99");
    std::fs::create_dir_all(&partial).unwrap();
    std::fs::write(partial.join("dump.zst"), b"partial").unwrap();
    let db = sqlx::SqlitePool::connect(&format!("sqlite://{}", data.join("pgshelf.db").display()))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO backups (server_id, server_name, database, status, trigger, queued_at, started_at, destination, location, runner_pid)
         VALUES (1, 'main', 'postgres', 'running', 'test', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', ?, ?, 2147483000)",
    )
    .bind(format!("local:{}", backups.display()))
    .bind(format!("local:{}/main/postgres/20260101T000000Z-99/", backups.display()))
    .execute(&db)
    .await
    .unwrap();
    db.close().await;

    let engine = Engine::open(cfg).await.unwrap();
    let rows = engine.backups(&BackupFilter::default()).await.unwrap();
    let forged = rows
        .iter()
        .find(|r| r.location.as_deref().unwrap_or("").contains("-99/"))
        .unwrap();
    assert_eq!(forged.status, BackupStatus::Failed);
    assert!(forged.cause.as_deref().unwrap().starts_with("interrupted"));
    assert!(!partial.exists(), "partial artifact removed");
    assert_eq!(
        rows.iter()
            .filter(|r| r.status == BackupStatus::Verified)
            .count(),
        1
    );
}

/// A local destination on a 2 MiB filesystem that fills in the middle of
/// the dump: the cause is the full disk (not pg_dump's SIGPIPE), nothing is
/// listed good, and the partial artifact is removed.
#[tokio::test(flavor = "multi_thread")]
async fn destination_full_mid_dump_names_the_disk() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let db = pg.fresh_database("full");
    // ~26 MB of hex digests: about 14 MB after zstd, far beyond 2 MiB and
    // beyond the writer's 8 MiB buffer, so the disk fills mid-dump.
    pg.psql(
        &db,
        "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS a, md5((g * 7)::text) AS b FROM generate_series(1, 400000) g",
    );
    let mnt = tempfile::tempdir().unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(mnt.path())
        .output();
    match &mounted {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            eprintln!(
                "skipped: cannot mount a small tmpfs here: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            return;
        }
        Err(e) => {
            eprintln!("skipped: cannot run mount: {e}");
            return;
        }
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mnt.path().to_owned());
    let dest = mnt.path().join("backups");
    let env = engine_with(&[major], |c| c.backup_dir = dest.clone()).await;
    let s = env.engine.add_server(input("main", pg)).await.unwrap();
    let row = assert_failed_clean(
        &env,
        env.engine.backup_now(s.id, &db, "test").await,
        "no space left on device writing to",
    )
    .await;
    let cause = row.cause.unwrap();
    assert!(!cause.contains("OOM"), "{cause}");
    assert!(cause.contains("was stopped because of it"), "{cause}");
}
