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
    child.wait_with_output().unwrap()
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
    assert_eq!(row["status"], "succeeded");
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
