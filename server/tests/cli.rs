//! The `pgshelf` binary's command line against a real PostgreSQL server.

mod common;
use common::{backup_of, data_with_main, pgshelf, text};
use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn add_backup_list_and_fail_clearly() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let db = pg.fresh_database("cli");
    pg.psql(
        &db,
        "CREATE TABLE t AS SELECT generate_series(1, 100) AS id",
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
        pg.port
    );

    // A password in the URL is refused, and never echoed.
    let o = pgshelf(
        &data,
        &[
            "server",
            "add",
            "bad",
            "--url",
            &format!("postgres://postgres:hunter2@127.0.0.1:{}/postgres", pg.port),
        ],
        &[],
        None,
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("PGPASSWORD"), "{}", text(&o));
    assert!(!text(&o).contains("hunter2"));

    let o = pgshelf(
        &data,
        &["server", "add", "main", "--url", &url, "--password-stdin"],
        &[],
        Some(&format!("{}\n", testkit::PASSWORD)),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("stored encrypted"));
    let o = pgshelf(
        &data,
        &["server", "add", "envpw", "--url", &url],
        &[("PGPASSWORD", testkit::PASSWORD)],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));

    let o = pgshelf(&data, &["server", "test", "main"], &[], None);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains(&format!("PostgreSQL {major}")));

    let id: i64 = backup_of(&data, &db).parse().expect("prints the backup id");

    let o = pgshelf(&data, &["list", "--json"], &[], None);
    assert!(o.status.success());
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap();
    assert_eq!(row["status"], "verified");
    assert!(row["stored_bytes"].as_i64().unwrap() > 0);
    assert!(row["location"].as_str().unwrap().contains(&db));
    let all = String::from_utf8_lossy(&o.stdout);
    assert!(!all.contains(testkit::PASSWORD), "no secret in the listing");

    // Failure: exit code non-zero, the cause and fix on stderr, nothing listed as good.
    let o = pgshelf(
        &data,
        &["backup", "--server", "main", "--database", "no_such_db"],
        &[],
        None,
    );
    assert!(!o.status.success());
    let msg = String::from_utf8_lossy(&o.stderr);
    assert!(
        msg.contains("does not exist") && msg.contains("Fix:"),
        "{msg}"
    );
    let o = pgshelf(&data, &["list", "--json"], &[], None);
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let failed = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["database"] == "no_such_db")
        .unwrap();
    assert_eq!(failed["status"], "failed");

    // Policies from the CLI: set, show, and refuse a bad schedule with the reason.
    let o = pgshelf(
        &data,
        &[
            "policy",
            "set",
            "--server",
            "main",
            "--database",
            &db,
            "--schedule",
            "@hourly",
            "--keep-hourly",
            "24",
            "--keep-daily",
            "7",
        ],
        &[],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("next:"));
    let o = pgshelf(
        &data,
        &["policy", "show", "--server", "main", "--database", &db],
        &[],
        None,
    );
    assert!(text(&o).contains("schedule = \"@hourly\""), "{}", text(&o));
    assert!(text(&o).contains("hourly = 24"));
    let o = pgshelf(
        &data,
        &[
            "policy",
            "set",
            "--server",
            "main",
            "--schedule",
            "0 24 * * *",
        ],
        &[],
        None,
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("hour field"), "{}", text(&o));

    // Globals from the CLI.
    let o = pgshelf(&data, &["globals", "--server", "main"], &[], None);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn add_with_tls_settings_from_files() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::start_ssl(major, testkit::SslOptions::default());
    let pki = testkit::pki();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_cert).unwrap();
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", pg.port);
    let pw = [("PGPASSWORD", testkit::PASSWORD)];

    // verify-full without a root certificate: refused, naming the flag's field.
    let o = pgshelf(
        &data,
        &[
            "server",
            "add",
            "tls",
            "--url",
            &url,
            "--sslmode",
            "verify-full",
        ],
        &pw,
        None,
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("ssl_root_cert: is required"),
        "{}",
        text(&o)
    );

    // A file that is not there.
    let o = pgshelf(
        &data,
        &[
            "server",
            "add",
            "tls",
            "--url",
            &url,
            "--sslmode",
            "verify-full",
            "--ssl-root-cert",
            "/nonexistent/ca.pem",
        ],
        &pw,
        None,
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("--ssl-root-cert /nonexistent/ca.pem: cannot read it"),
        "{}",
        text(&o)
    );

    let o = pgshelf(
        &data,
        &[
            "server",
            "add",
            "tls",
            "--url",
            &url,
            "--sslmode",
            "verify-full",
            "--ssl-root-cert",
            ca.to_str().unwrap(),
        ],
        &pw,
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("sslmode verify-full, root certificate stored"),
        "{}",
        text(&o)
    );
    let o = pgshelf(&data, &["server", "test", "tls"], &[], None);
    assert!(o.status.success(), "{}", text(&o));

    // The key is never listed; the certificate is.
    let o = pgshelf(&data, &["server", "list", "--json"], &[], None);
    assert!(o.status.success(), "{}", text(&o));
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        list[0]["ssl_root_cert"].as_str(),
        Some(pki.ca_cert.as_str())
    );
    assert_eq!(list[0]["has_client_key"], false);
}

/// SIGTERM in the middle of a backup: pgshelf gives the run its grace
/// period, then stops pg_dump and records the run failed, saying why.
#[test]
fn sigterm_mid_backup_stops_and_records_the_run() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let db = pg.fresh_database("sigterm");
    pg.psql(
        &db,
        "CREATE TABLE t AS SELECT generate_series(1, 100) AS id; CREATE SEQUENCE t_stall",
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
        pg.port
    );
    let o = pgshelf(
        &data,
        &["server", "add", "main", "--url", &url, "--password-stdin"],
        &[],
        Some(&format!("{}\n", testkit::PASSWORD)),
    );
    assert!(o.status.success(), "{}", text(&o));

    // A session holding a lock on a sequence pg_dump must read (pgshelf
    // locks tables, not sequences, before the dump): the dump starts and waits.
    let mut locker = Command::new(pg.tool("psql"))
        .args(["-X", "-q", "-h"])
        .arg(pg.socket_dir())
        .args(["-p", &pg.port.to_string(), "-U", "postgres", "-d", &db])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    locker
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"BEGIN; ALTER SEQUENCE t_stall RENAME TO t_stall_held; SELECT 1;\n")
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));

    let mut c = Command::new(env!("CARGO_BIN_EXE_pgshelf"));
    c.args(["backup", "--server", "main", "--database", &db])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PGSHELF_DATA", &data)
        .env("PGSHELF_LOG", "warn")
        .env("PGSHELF_STOP_GRACE_SECS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(b) = testkit::bin_dir(major) {
        c.env("PGSHELF_PG_BIN_DIRS", b);
    }
    let child = c.spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while testkit::pg_dumps_of(&db).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "pg_dump did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let started = std::time::Instant::now();
    let o = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("stopped by a signal"), "{}", text(&o));
    assert!(testkit::pg_dumps_of(&db).is_empty(), "pg_dump stopped");
    let _ = locker.kill();
    let _ = locker.wait();

    let o = pgshelf(&data, &["list", "--json"], &[], None);
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let row = &rows.as_array().unwrap()[0];
    assert_eq!(row["status"], "failed", "{row}");
    let cause = row["cause"].as_str().unwrap();
    assert!(cause.starts_with("pgshelf was stopped"), "{cause}");
    assert!(cause.contains("1s grace period"), "{cause}");
}

/// `pgshelf serve` stops on SIGTERM: the dashboard drains and the engine
/// stops in order, promptly when nothing runs.
#[test]
fn serve_stops_on_sigterm() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let port = testkit::closed_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pgshelf"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PGSHELF_DATA", dir.path().join("data"))
        .env("PGSHELF_LISTEN", format!("127.0.0.1:{port}"))
        .env("PGSHELF_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            s.write_all(b"GET /healthz HTTP/1.0\r\n\r\n").unwrap();
            let mut body = String::new();
            let _ = s.read_to_string(&mut body);
            if body.contains("ok") {
                break;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "pgshelf did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "pgshelf did not stop on SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{err}");
    assert!(
        err.contains("pgshelf stopped (0 backup run(s) stopped)"),
        "{err}"
    );
}

#[test]
fn restore_table_json_and_scratch_list_drop() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let db = pg.fresh_database("clirestore");
    pg.psql(
        &db,
        r#"CREATE SCHEMA "My Schema";
           CREATE TABLE "My Schema"."Odd.Table" (id int PRIMARY KEY, v text);
           INSERT INTO "My Schema"."Odd.Table" SELECT g, 'v' || g FROM generate_series(1, 25) g;
           CREATE TABLE parent (id int PRIMARY KEY);
           INSERT INTO parent SELECT generate_series(1, 5);
           CREATE TABLE child (id int PRIMARY KEY, p int REFERENCES parent (id));
           INSERT INTO child SELECT g, 1 + g % 5 FROM generate_series(1, 9) g;"#,
    );
    let (_dir, data) = data_with_main(pg);
    let id = backup_of(&data, &db);

    let o = pgshelf(
        &data,
        &[
            "restore-table",
            "--backup",
            &id,
            "--table",
            r#""My Schema"."Odd.Table""#,
            "--table",
            "public.child",
            "--json",
        ],
        &[],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.trim().lines().count(), 1, "one JSON object: {out}");
    let r: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let scratch = r["database"].as_str().unwrap().to_owned();
    assert!(scratch.starts_with("scratch_clirestore_"), "{scratch}");
    let tables = r["tables"].as_array().unwrap();
    let odd = tables.iter().find(|t| t["name"] == "Odd.Table").unwrap();
    assert_eq!(
        (odd["rows_restored"].as_i64(), odd["rows_recorded"].as_i64()),
        (Some(25), Some(25))
    );
    let child = tables.iter().find(|t| t["name"] == "child").unwrap();
    assert_eq!(child["rows_restored"], 9);
    let skipped = r["skipped"].as_array().unwrap();
    assert!(
        skipped
            .iter()
            .any(|s| s["what"].as_str().unwrap().contains("child_p_fkey")
                && !s["reason"].as_str().unwrap().is_empty()),
        "{skipped:?}"
    );
    assert!(r["duration_ms"].as_i64().is_some());
    assert_eq!(
        pg.psql(&scratch, r#"SELECT count(*) FROM "My Schema"."Odd.Table""#),
        "25"
    );

    // A table not in the backup: non-zero, with the closest match and a fix.
    let o = pgshelf(
        &data,
        &["restore-table", "--backup", &id, "--table", "public.chlid"],
        &[],
        None,
    );
    assert!(!o.status.success());
    let msg = String::from_utf8_lossy(&o.stderr);
    assert!(
        msg.contains("public.child") && msg.contains("Fix:"),
        "{msg}"
    );

    let o = pgshelf(&data, &["scratch", "list"], &[], None);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains(&scratch), "{}", text(&o));
    assert!(text(&o).contains("postgres://postgres@127.0.0.1:"));

    // Only scratch databases pgshelf made are dropped.
    let o = pgshelf(&data, &["scratch", "drop", &db], &[], None);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("Fix:"));
    assert_eq!(pg.psql(&db, "SELECT count(*) FROM parent"), "5");
    let o = pgshelf(&data, &["scratch", "drop", &scratch], &[], None);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("dropped scratch database"));
    let o = pgshelf(&data, &["scratch", "list", "--json"], &[], None);
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(list.as_array().unwrap().is_empty(), "{list}");

    // restore over the source needs the typed name.
    let o = pgshelf(
        &data,
        &["restore", "--backup", &id, "--into", &db],
        &[],
        None,
    );
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--clean --confirm"),
        "{}",
        text(&o)
    );
    let copy = format!("{db}_copy");
    let o = pgshelf(
        &data,
        &["restore", "--backup", &id, "--into", &copy, "--jobs", "2"],
        &[],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(pg.psql(&copy, "SELECT count(*) FROM child"), "9");
    pg.drop_database(&copy);
}

#[test]
fn test_restore_json_passes_then_fails_on_a_truncated_artifact() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let db = pg.fresh_database("cliproof");
    pg.psql(
        &db,
        "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g",
    );
    let (_dir, data) = data_with_main(pg);

    // The test-restore schedule is part of the policy.
    let o = pgshelf(
        &data,
        &[
            "policy",
            "set",
            "--server",
            "main",
            "--test-restore-cron",
            "0 4 1 * *",
            "--test-restore-globals",
            "false",
        ],
        &[],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("test-restores: on (0 4 1 * *)"),
        "{}",
        text(&o)
    );
    let o = pgshelf(&data, &["policy", "show", "--server", "main"], &[], None);
    assert!(text(&o).contains("[test_restore]"), "{}", text(&o));
    assert!(text(&o).contains("cron = \"0 4 1 * *\""), "{}", text(&o));
    let o = pgshelf(
        &data,
        &[
            "policy",
            "set",
            "--server",
            "main",
            "--test-restore-cron",
            "every day",
        ],
        &[],
        None,
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("test_restore.cron"), "{}", text(&o));

    let id = backup_of(&data, &db);

    // A good backup passes: one JSON object with the scratch database and
    // the rows restored next to those recorded.
    let o = pgshelf(
        &data,
        &["test-restore", "--backup", &id, "--json"],
        &[],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let t: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    assert_eq!(t["status"], "passed", "{t}");
    assert_eq!(t["backup_id"].to_string(), id);
    assert!(
        t["scratch"].as_str().is_some() && t["scratch_dropped"] == true,
        "{t}"
    );
    assert!(t["duration_ms"].as_i64().is_some());
    let table = t["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["table"] == "public.t")
        .unwrap();
    assert_eq!(
        (table["restored"].as_i64(), table["recorded"].as_i64()),
        (Some(20000), Some(20000))
    );

    // The same in words.
    let o = pgshelf(
        &data,
        &["test-restore", "--server", "main", "--database", &db],
        &[],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("PASSED") && text(&o).contains("public.t"),
        "{}",
        text(&o)
    );

    // The stored artifact truncated: non-zero exit with the cause, the
    // failure as JSON, the table named.
    let dump = files_named(&data.join("backups"), "dump.zst");
    let bytes = std::fs::read(&dump).unwrap();
    std::fs::write(&dump, &bytes[..bytes.len() / 2]).unwrap();
    let o = pgshelf(
        &data,
        &[
            "test-restore",
            "--server",
            "main",
            "--database",
            &db,
            "--json",
        ],
        &[],
        None,
    );
    assert!(!o.status.success(), "{}", text(&o));
    let t: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    assert_eq!(t["status"], "failed", "{t}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("FAILED") && err.contains("public.t"), "{err}");

    // Wrong arguments are refused by the parser.
    let o = pgshelf(&data, &["test-restore", "--server", "main"], &[], None);
    assert!(!o.status.success());
    pg.drop_database(&db);
}

/// The one file called `name` under `dir`.
fn files_named(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == name) {
                return p;
            }
        }
    }
    panic!("no {name} under {}", dir.display());
}

#[test]
fn rebuild_prints_the_plan_and_runs_only_when_confirmed() {
    let pg = testkit::server(testkit::majors_under_test()[0]);
    let db = pg.fresh_database("clirebuild");
    pg.psql(&db, "CREATE TABLE t AS SELECT generate_series(1, 10) AS id");
    let (_dir, data) = data_with_main(pg);
    let id = backup_of(&data, &db);
    let o = pgshelf(
        &data,
        &["rebuild", "--server", "main", "--database", &db],
        &[],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains(&format!("database {db} from backup {id}")),
        "{out}"
    );
    assert!(
        out.contains("left out, no usable backup: (globals)"),
        "{out}"
    );
    assert!(out.contains("run it with: --confirm main"), "{out}");
    let o = pgshelf(
        &data,
        &[
            "rebuild",
            "--server",
            "main",
            "--database",
            &db,
            "--confirm",
            "prod",
        ],
        &[],
        None,
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("Fix: pass --confirm main"),
        "{}",
        text(&o)
    );
}

#[test]
fn encrypted_backups_take_an_identity_file() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let db = pg.fresh_database("clienc");
    pg.psql(
        &db,
        "CREATE TABLE t (id int PRIMARY KEY, v text);
         INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 25) g;",
    );
    let (dir, data) = data_with_main(pg);
    let key = dir.path().join("key.txt");
    let o = std::process::Command::new("age-keygen")
        .arg("-o")
        .arg(&key)
        .output()
        .expect("age-keygen is installed (scripts/setup --test: Debian package age)");
    assert!(o.status.success(), "{o:?}");
    let recipient = std::fs::read_to_string(&key)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(str::to_owned))
        .unwrap();
    let config = dir.path().join("pgshelf.toml");
    std::fs::write(
        &config,
        format!("[servers.main.policy]\nencryption = {{ recipients = [\"{recipient}\"] }}\n"),
    )
    .unwrap();
    let config = config.to_str().unwrap().to_owned();
    let env = [("PGSHELF_CONFIG", config.as_str())];
    let key = key.to_str().unwrap().to_owned();
    let o = pgshelf(
        &data,
        &["backup", "--server", "main", "--database", &db],
        &env,
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let id = String::from_utf8_lossy(&o.stdout).trim().to_owned();

    // Without --identity: refused with the recipients and the fix.
    let o = pgshelf(
        &data,
        &["restore-table", "--backup", &id, "--table", "public.t"],
        &env,
        None,
    );
    assert!(!o.status.success());
    let msg = text(&o);
    assert!(
        msg.contains(&recipient) && msg.contains("give the identity (file or paste)"),
        "{msg}"
    );
    assert!(!msg.contains("AGE-SECRET-KEY"), "{msg}");
    // With it.
    let o = pgshelf(
        &data,
        &[
            "restore-table",
            "--backup",
            &id,
            "--table",
            "public.t",
            "--identity",
            &key,
            "--json",
        ],
        &env,
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let r: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).trim()).unwrap();
    assert_eq!(r["tables"][0]["rows_restored"], 25);
    let o = pgshelf(
        &data,
        &["test-restore", "--backup", &id, "--identity", &key],
        &env,
        None,
    );
    assert!(o.status.success(), "{}", text(&o));

    // Storing it is opt-in, with the risk named; then no --identity needed.
    let o = pgshelf(
        &data,
        &["identity", "store", "--identity", &key],
        &env,
        None,
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("--i-understand-the-risk"), "{}", text(&o));
    let o = pgshelf(
        &data,
        &[
            "identity",
            "store",
            "--identity",
            &key,
            "--i-understand-the-risk",
        ],
        &env,
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = pgshelf(&data, &["identity", "list"], &env, None);
    assert!(text(&o).contains(&recipient), "{}", text(&o));
    assert!(!text(&o).contains("AGE-SECRET-KEY"), "{}", text(&o));
    let o = pgshelf(&data, &["test-restore", "--backup", &id], &env, None);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn json_logs_give_one_line_per_run_with_its_figures() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let db = pg.fresh_database("jsonlog");
    pg.psql(
        &db,
        "CREATE TABLE t AS SELECT generate_series(1, 500) AS id",
    );
    let (_dir, data) = data_with_main(pg);
    let json = [("PGSHELF_LOG_FORMAT", "json"), ("PGSHELF_LOG", "info")];
    let runs = |o: &std::process::Output| -> Vec<serde_json::Value> {
        let stderr = String::from_utf8_lossy(&o.stderr);
        // The CLI's own summary line for people is not a log line.
        stderr
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))
            })
            .filter(|v| v["fields"]["message"] == "backup finished")
            .collect()
    };

    let o = pgshelf(
        &data,
        &["backup", "--server", "main", "--database", &db],
        &json,
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let id: i64 = String::from_utf8_lossy(&o.stdout).trim().parse().unwrap();
    let lines = runs(&o);
    assert_eq!(lines.len(), 1, "one line per run: {lines:?}");
    let f = &lines[0]["fields"];
    assert_eq!(lines[0]["level"], "INFO");
    assert_eq!(f["backup"], id);
    assert_eq!(
        (f["server"].as_str(), f["target"].as_str()),
        (Some("main"), Some(db.as_str()))
    );
    assert_eq!(f["status"], "verified");
    assert!(f["stored_bytes"].as_i64().unwrap() > 0);
    assert!(f["raw_bytes"].as_i64().unwrap() >= f["stored_bytes"].as_i64().unwrap() / 2);
    assert!(f["duration_ms"].as_i64().is_some());

    // A failed run: a WARN line with its recorded cause.
    let o = pgshelf(
        &data,
        &["backup", "--server", "main", "--database", "no_such_db"],
        &json,
        None,
    );
    assert!(!o.status.success());
    let lines = runs(&o);
    assert_eq!(lines.len(), 1, "{}", text(&o));
    assert_eq!(lines[0]["level"], "WARN");
    assert_eq!(lines[0]["fields"]["status"], "failed");
    assert!(lines[0]["fields"]["cause"]
        .as_str()
        .unwrap()
        .contains("no_such_db"));
}
