//! The `pgshelf` binary's command line against a real PostgreSQL server.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn pgshelf(
    data: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pgshelf"));
    c.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PGSHELF_DATA", data)
        .env("PGSHELF_LOG", "warn")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(b) = testkit::bin_dir(testkit::majors_under_test()[0]) {
        c.env("PGSHELF_PG_BIN_DIRS", b);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    // Passwords reach pgshelf through the environment or standard input
    // only; none may come back in what it prints or logs.
    assert!(
        !text(&out).contains(testkit::PASSWORD),
        "a stored password in pgshelf's output: {}",
        text(&out)
    );
    out
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

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

    let o = pgshelf(
        &data,
        &["backup", "--server", "main", "--database", &db],
        &[],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let id: i64 = String::from_utf8_lossy(&o.stdout)
        .trim()
        .parse()
        .expect("prints the backup id");

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
