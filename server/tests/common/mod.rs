//! What the command-line tests share: running the built `pgshelf` on a
//! data directory (never echoing a stored password), and a data directory
//! with server `main` added.

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// Runs `pgshelf ARGS` on `data` with only `env` (and PATH) set, feeding
/// `stdin` when given.
pub fn pgshelf(
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

/// stdout then stderr, as text.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A fresh data directory with server `main` added for `pg` (password
/// from the environment); keep the `TempDir` alive.
pub fn data_with_main(pg: &testkit::PgServer) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
        pg.port
    );
    let o = pgshelf(
        &data,
        &["server", "add", "main", "--url", &url],
        &[("PGPASSWORD", testkit::PASSWORD)],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    (dir, data)
}

/// Backs up `db` on server `main` and returns the backup id.
pub fn backup_of(data: &std::path::Path, db: &str) -> String {
    let o = pgshelf(
        data,
        &["backup", "--server", "main", "--database", db],
        &[],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}
