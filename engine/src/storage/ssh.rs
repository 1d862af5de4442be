//! SFTP host keys, and the process-wide setup network destinations need.
//!
//! opendal's SFTP service runs the system `ssh` (through the openssh
//! crate), which reads `known_hosts` from the home directory in the passwd
//! file (never `$HOME`), and opendal 0.59 has no setting for another file.
//! pgshelf keeps its own trust instead of the service user's: once per
//! process, [`setup`] writes `<data>/ssh/config` (this `known_hosts`, no
//! global file, `StrictHostKeyChecking yes`, batch mode) and a two-line
//! `ssh` wrapper (`exec /usr/bin/ssh -F config "$@"`) put first on `PATH`,
//! and points `XDG_STATE_HOME` (where the openssh crate keeps its control
//! sockets) into the same directory. A destination's host key is what the
//! user confirmed on first use ([`scan`] shows it with its fingerprint);
//! [`trust`] writes it as the only line for `[host]:port`, so a server that
//! shows another key is refused by `ssh` itself.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Mutex, OnceLock};

use model::destination::HostKey;

struct Ssh {
    dir: PathBuf,
    known_hosts: PathBuf,
    lock: Mutex<()>,
}

static SSH: OnceLock<Ssh> = OnceLock::new();

/// Installs opendal's HTTP transport (reqwest on rustls with the ring
/// provider: no aws-lc C build), once per process.
pub fn ensure_http_transport() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        opendal_http_transport_reqwest::install_default();
    });
}

/// The process-wide SSH client setup under `dir` (the first engine's
/// `<data>/ssh`; later calls keep the first one).
pub fn setup(dir: &Path) -> std::io::Result<()> {
    ensure_http_transport();
    if SSH.get().is_some() {
        return Ok(());
    }
    write_files(dir, true)?;
    let _ = SSH.set(Ssh {
        dir: dir.to_owned(),
        known_hosts: dir.join("known_hosts"),
        lock: Mutex::new(()),
    });
    Ok(())
}

/// The wrapper, the config and an empty known_hosts under `dir` (again if
/// something removed them: the trusted keys live in the catalog, and
/// [`trust`] writes each one before it is needed). `first`: put the
/// wrapper on `PATH`.
fn write_files(dir: &Path, first: bool) -> std::io::Result<()> {
    let ssh = ["/usr/bin/ssh", "/bin/ssh", "/usr/local/bin/ssh"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists());
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin)?;
    let state = dir.join("state");
    std::fs::create_dir_all(&state)?;
    set_mode(dir, 0o700)?;
    let known_hosts = dir.join("known_hosts");
    if !known_hosts.exists() {
        std::fs::write(&known_hosts, "")?;
    }
    let config = dir.join("config");
    std::fs::write(
        &config,
        format!(
            "# Written by pgshelf for its SFTP destinations.\nHost *\n  UserKnownHostsFile \"{}\"\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  UpdateHostKeys no\n  BatchMode yes\n  IdentitiesOnly yes\n  PasswordAuthentication no\n  LogLevel ERROR\n  ConnectTimeout 20\n  ServerAliveInterval 15\n",
            known_hosts.display()
        ),
    )?;
    if let Some(ssh) = ssh {
        let wrapper = bin.join("ssh");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\n# pgshelf: ssh with pgshelf's own known_hosts and settings\nexec '{}' -F '{}' \"$@\"\n",
                ssh.display(),
                config.display()
            ),
        )?;
        set_mode(&wrapper, 0o755)?;
        if !first {
            return Ok(());
        }
        let mut path = OsString::from(&bin);
        if let Some(old) = std::env::var_os("PATH") {
            path.push(":");
            path.push(old);
        }
        // Once per process, before opendal spawns any ssh.
        std::env::set_var("PATH", path);
        std::env::set_var("XDG_STATE_HOME", &state);
    }
    Ok(())
}

fn set_mode(p: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
}

/// `[host]:port`, or `host` for port 22, as known_hosts names a server.
fn host_pattern(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_owned()
    } else {
        format!("[{host}]:{port}")
    }
}

/// Makes `key` (`ssh-ed25519 AAAA...`) the one trusted key of `host:port`.
pub fn trust(host: &str, port: u16, key: &str) -> Result<(), String> {
    let Some(ssh) = SSH.get() else {
        return Err("the SSH client was not set up (no data directory yet)".into());
    };
    let key = key.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    if key.split(' ').count() != 2 {
        return Err(format!(
            "{key:?} is not a host key. Fix: Test the destination and trust the key it shows"
        ));
    }
    let pattern = host_pattern(host, port);
    let line = format!("{pattern} {key}");
    let _g = ssh.lock.lock().unwrap_or_else(|p| p.into_inner());
    if !ssh.known_hosts.exists() || !ssh.dir.join("bin").join("ssh").exists() {
        write_files(&ssh.dir, false).map_err(|e| e.to_string())?;
    }
    let old = std::fs::read_to_string(&ssh.known_hosts).unwrap_or_default();
    if old.lines().any(|l| l.trim() == line) {
        return Ok(());
    }
    let mut out: String = old
        .lines()
        .filter(|l| l.split_whitespace().next() != Some(pattern.as_str()))
        .map(|l| format!("{l}\n"))
        .collect();
    out.push_str(&line);
    out.push('\n');
    let tmp = ssh.known_hosts.with_extension("tmp");
    std::fs::write(&tmp, out).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, &ssh.known_hosts).map_err(|e| e.to_string())
}

/// Asks the server for its host key (`ssh-keyscan`), preferring ed25519,
/// and its SHA256 fingerprint (`ssh-keygen -l`).
pub async fn scan(host: &str, port: u16) -> Result<HostKey, String> {
    let out = tokio::process::Command::new("ssh-keyscan")
        .args([
            "-T",
            "10",
            "-p",
            &port.to_string(),
            "-t",
            "ed25519,ecdsa,rsa",
            "--",
            host,
        ])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run ssh-keyscan: {e}. Fix: install openssh-client"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut keys: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let _host = parts.next()?;
            Some(format!("{} {}", parts.next()?, parts.next()?))
        })
        .collect();
    keys.sort_by_key(|k| match k.split(' ').next() {
        Some("ssh-ed25519") => 0,
        Some(t) if t.starts_with("ecdsa") => 1,
        _ => 2,
    });
    let Some(key) = keys.into_iter().next() else {
        return Err(format!(
            "{host}:{port} showed no SSH host key ({}). Fix: check the host and port, and that an SSH server listens there",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    };
    let fingerprint = fingerprint(&key).await?;
    Ok(HostKey { key, fingerprint })
}

/// `SHA256:...` of a public key line.
pub async fn fingerprint(key: &str) -> Result<String, String> {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run ssh-keygen: {e}. Fix: install openssh-client"))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin
        .write_all(format!("{key}\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    drop(stdin);
    let out = child.wait_with_output().await.map_err(|e| e.to_string())?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .map(str::to_owned)
        .ok_or_else(|| {
            format!(
                "ssh-keygen cannot read the host key: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns() {
        assert_eq!(host_pattern("h", 22), "h");
        assert_eq!(host_pattern("127.0.0.1", 2222), "[127.0.0.1]:2222");
    }
}
