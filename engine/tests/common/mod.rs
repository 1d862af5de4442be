//! Helpers shared by the engine's integration tests: an engine on a fresh
//! data directory, server settings for a testkit server, exact row counts,
//! and restoring an artifact with stock `zstd` and `pg_restore` only.
#![allow(dead_code)] // each test crate uses its own subset

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use engine::catalog::{Backup, BackupFilter, BackupStatus};
use engine::secrets::Secret;
use engine::servers::ServerInput;
use engine::{Engine, EngineConfig, Error};
use testkit::PgServer;

/// Exact row count of every user table, as `schema.table=N` lines.
pub const COUNTS: &str = r#"
SELECT n.nspname || '.' || c.relname || '=' ||
       (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM ONLY %I.%I', n.nspname, c.relname), false, true, '')))[1]::text
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
 ORDER BY 1
"#;

/// Exact row count of every user table, by `schema.table`.
pub fn counts(pg: &PgServer, db: &str) -> BTreeMap<String, i64> {
    pg.psql(db, COUNTS)
        .lines()
        .filter_map(|l| l.rsplit_once('='))
        .map(|(k, v)| (k.to_owned(), v.parse().unwrap()))
        .collect()
}

/// `count:total bytes` of the large objects in a database.
pub fn large_objects(pg: &PgServer, db: &str) -> String {
    pg.psql(
        db,
        "SELECT count(*) || ':' || coalesce(sum(length(lo_get(oid))), 0) FROM pg_largeobject_metadata",
    )
}

/// An engine on a fresh data directory, with only these majors' client
/// tools and no scheduler (tests tick it by hand).
pub struct Env {
    pub engine: Engine,
    pub _dir: tempfile::TempDir,
    pub backups: PathBuf,
}

pub async fn engine_for(majors: &[u32]) -> Env {
    engine_with(majors, |_| {}).await
}

/// [`engine_for`] with some settings changed first.
pub async fn engine_with(majors: &[u32], change: impl FnOnce(&mut EngineConfig)) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = EngineConfig::new(dir.path().join("data"));
    cfg.pg_bin_dirs = majors.iter().filter_map(|m| testkit::bin_dir(*m)).collect();
    cfg.search_system_tools = false;
    cfg.scheduler_interval = None;
    cfg.discovery_interval = None;
    cfg.notify_interval = None;
    cfg.runs_per_server = 2;
    change(&mut cfg);
    let backups = cfg.backup_dir.clone();
    Env {
        engine: Engine::open(cfg).await.unwrap(),
        _dir: dir,
        backups,
    }
}

/// Settings for a testkit server, with the right password.
pub fn input(name: &str, pg: &PgServer) -> ServerInput {
    input_with_password(name, pg, testkit::PASSWORD)
}

pub fn input_with_password(name: &str, pg: &PgServer, password: &str) -> ServerInput {
    ServerInput {
        name: name.into(),
        host: pg.host().into(),
        port: pg.port,
        user: testkit::SUPERUSER.into(),
        password: Some(Secret::new(password)),
        sslmode: "disable".into(),
        maintenance_db: "postgres".into(),
        ..Default::default()
    }
}

/// Every regular file under `dir`.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The local directory of a backup's artifact.
pub fn artifact_dir(env: &Env, row: &Backup) -> PathBuf {
    let loc = row.location.as_deref().unwrap();
    let rel = loc
        .split_once(env.backups.to_str().unwrap())
        .unwrap()
        .1
        .trim_start_matches('/');
    env.backups.join(rel)
}

fn pg_restore(pg: &PgServer, target: &str) -> Command {
    let mut c = Command::new(pg.tool("pg_restore"));
    c.args(["--no-owner", "--exit-on-error", "--host"])
        .arg(pg.socket_dir())
        .args([
            "--port",
            &pg.port.to_string(),
            "--username",
            testkit::SUPERUSER,
            "--dbname",
            target,
        ]);
    c
}

/// `zstd -dc dump.zst | pg_restore -d target`, with stock tools only.
pub fn restore_with_stock_tools(pg: &PgServer, dump: &Path, target: &str) {
    let mut z = Command::new("zstd")
        .args(["-dc", "--"])
        .arg(dump)
        .stdout(Stdio::piped())
        .spawn()
        .expect("zstd is installed");
    let out = pg_restore(pg, target)
        .stdin(z.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(z.wait().unwrap().success());
    assert!(
        out.status.success(),
        "pg_restore failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Restores an artifact directory with stock tools only, whatever its format.
pub fn restore(pg: &PgServer, dir: &Path, target: &str) {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    match manifest["format"].as_str().unwrap() {
        "custom" if dir.join("dump.zst").exists() => {
            restore_with_stock_tools(pg, &dir.join("dump.zst"), target)
        }
        "custom" => {
            let out = pg_restore(pg, target)
                .arg(dir.join("dump.custom"))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "pg_restore: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        "directory" => {
            let plain = dir.join("plain");
            std::fs::create_dir_all(&plain).unwrap();
            for e in std::fs::read_dir(dir.join("dump")).unwrap().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                match name.strip_suffix(".zst") {
                    Some(base) => assert!(Command::new("zstd")
                        .args(["-dq", "-o"])
                        .arg(plain.join(base))
                        .arg("--")
                        .arg(e.path())
                        .status()
                        .unwrap()
                        .success()),
                    None => {
                        std::fs::copy(e.path(), plain.join(&name)).unwrap();
                    }
                }
            }
            let out = pg_restore(pg, target)
                .args(["--jobs", "2"])
                .arg(&plain)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "pg_restore: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        other => panic!("format {other}"),
    }
}

/// Waits until a queued run ends.
pub async fn finished(engine: &Engine, id: i64) -> Backup {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let row = engine.backup(id).await.unwrap();
        if !row.status.is_active() {
            return row;
        }
        assert!(Instant::now() < deadline, "run {id} still {}", row.status);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asserts the run failed with a recorded cause that names `needle` and a
/// fix, and that no artifact is left. Returns the failed row.
pub async fn assert_failed_clean(env: &Env, result: Result<Backup, Error>, needle: &str) -> Backup {
    let err = result.expect_err("backup must fail");
    let msg = err.to_string();
    assert!(msg.contains(needle), "error {msg:?} should name {needle:?}");
    assert!(
        msg.contains("Fix:"),
        "error {msg:?} should say how to fix it"
    );
    let rows = env.engine.backups(&BackupFilter::default()).await.unwrap();
    let row = rows[0].clone();
    assert_eq!(row.status, BackupStatus::Failed, "{row:?}");
    assert_eq!(row.cause.as_deref(), Some(msg.as_str()));
    assert!(rows.iter().all(|r| !r.status.is_good() || r.id != row.id));
    let left = files_under(&env.backups);
    assert!(left.is_empty(), "no artifact may remain: {left:?}");
    row
}

/// A psql session holding an ACCESS EXCLUSIVE lock on a sequence
/// `<table>_stall` (created here) in an open transaction, so a dump of `db`
/// starts but cannot finish: pg_dump reads every sequence's state, and
/// pgshelf's own locks (taken on tables before the snapshot) do not cover
/// sequences, so pg_dump is the one left waiting. The lock goes when the
/// returned child is dropped.
pub async fn hold_exclusive_lock(pg: &PgServer, db: &str, table: &str) -> tokio::process::Child {
    let seq = format!("{table}_stall");
    pg.psql(db, &format!("CREATE SEQUENCE IF NOT EXISTS {seq}"));
    hold_lock(
        pg,
        db,
        &format!("BEGIN; ALTER SEQUENCE {seq} RENAME TO {seq}_held; SELECT 1;\n"),
    )
    .await
}

/// A psql session holding `LOCK TABLE <table> IN ACCESS EXCLUSIVE MODE` in
/// an open transaction: pgshelf's lock on it before the snapshot waits. The
/// lock goes when the returned child is dropped.
pub async fn hold_table_lock(pg: &PgServer, db: &str, table: &str) -> tokio::process::Child {
    hold_lock(
        pg,
        db,
        &format!("BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE; SELECT 1;\n"),
    )
    .await
}

/// A psql session that ran `script` and stays open (its transaction too)
/// until the returned child is dropped.
pub async fn hold_lock(pg: &PgServer, db: &str, script: &str) -> tokio::process::Child {
    use tokio::io::AsyncWriteExt;
    let mut locker = tokio::process::Command::new(pg.tool("psql"))
        .args(["-X", "-q", "-h"])
        .arg(pg.socket_dir())
        .args(["-p", &pg.port.to_string(), "-U", "postgres", "-d", db])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdin = locker.stdin.as_mut().unwrap();
    stdin.write_all(script.as_bytes()).await.unwrap();
    stdin.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    locker
}

/// A direct connection to the engine's catalog, for forging what time or a
/// crash would leave (backdated runs, dead owners, moved artifacts).
pub async fn catalog_pool(env: &Env) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        env._dir.path().join("data/pgshelf.db").display()
    ))
    .await
    .unwrap()
}

/// Moves a backup's start time, as if it had been taken at `at`.
pub async fn backdate(pool: &sqlx::SqlitePool, id: i64, at: chrono::DateTime<chrono::Utc>) {
    sqlx::query("UPDATE backups SET started_at = ?, queued_at = ? WHERE id = ?")
        .bind(at)
        .bind(at)
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
}

/// A new age key pair: `key.txt` in `dir` (by the `age-keygen` CLI) and
/// its identity.
pub fn keygen(dir: &Path) -> (PathBuf, engine::crypt::Identity) {
    let key = dir.join("key.txt");
    let out = std::process::Command::new("age-keygen")
        .arg("-o")
        .arg(&key)
        .output()
        .expect("age-keygen is installed (scripts/setup --test: Debian package age)");
    assert!(out.status.success(), "{out:?}");
    let id = engine::crypt::Identity::read_file(&key).unwrap();
    (key, id)
}

/// Runs the recipe's lines as written (one bash script) in `dir`, with
/// `pg`'s client tools first on PATH and libpq pointed at `pg`.
pub fn follow_recipe(pg: &PgServer, dir: &Path, lines: &[String]) {
    let bin = pg.tool("pg_restore").parent().unwrap().to_owned();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let script = format!("set -euo pipefail\n{}\n", lines.join("\n"));
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir)
        .env("PATH", path)
        .env("PGHOST", pg.socket_dir())
        .env("PGPORT", pg.port.to_string())
        .env("PGUSER", testkit::SUPERUSER)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the recipe failed:\n{script}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Polls `f` every 10 ms until it gives a value; fails the test naming
/// `what` after `secs` seconds.
pub async fn wait_for<T>(what: &str, secs: u64, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
