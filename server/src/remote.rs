//! The CLI driving a pgshelf elsewhere: `pgshelf --remote URL --token-file F
//! ...` sends the read and run commands to that pgshelf's server functions
//! with an API token (`Authorization: Bearer`), over HTTPS (certificates
//! checked against the webpki roots) or plain HTTP (loopback, SSH tunnels).
//! The answers are the same `model` types the dashboard gets, printed as
//! the local commands print them.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use model::backup::{Backup, BackupKind};
use model::server::{DatabaseInfo, Server};
use serde::de::DeserializeOwned;

use crate::cli::{print_backups, print_databases, print_servers, Command, ServerCommand};

/// The part of a backups list (`app::backups::views::BackupList`) the CLI
/// prints.
#[derive(serde::Deserialize)]
struct List {
    backups: Vec<Listed>,
}

#[derive(serde::Deserialize)]
struct Listed {
    backup: Backup,
}

/// Where the remote pgshelf is and how to sign in to it.
pub struct Remote {
    scheme_https: bool,
    host: String,
    port: u16,
    token: String,
}

impl std::fmt::Debug for Remote {
    /// Never the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("https", &self.scheme_https)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("token", &"[redacted]")
            .finish()
    }
}

impl Remote {
    /// `url` such as `https://backups.example:3000`; the token is the first
    /// line of `token_file`.
    pub fn new(url: &str, token_file: &std::path::Path) -> anyhow::Result<Remote> {
        let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            bail!("--remote {url:?} is not an http:// or https:// URL. Fix: e.g. --remote https://backups.example:3000")
        };
        let authority = rest.trim_end_matches('/');
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || p.parse::<u16>().is_ok() => (
                h.trim_matches(['[', ']']).to_owned(),
                p.parse::<u16>()
                    .map_err(|_| anyhow!("--remote {url:?}: {p:?} is not a port"))?,
            ),
            _ => (
                authority.trim_matches(['[', ']']).to_owned(),
                if https { 443 } else { 80 },
            ),
        };
        let token = std::fs::read_to_string(token_file)
            .with_context(|| {
                format!(
                    "cannot read the token file {}. Fix: save an API token from the Users page there",
                    token_file.display()
                )
            })?
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        if token.is_empty() {
            bail!(
                "the token file {} is empty. Fix: save an API token from the Users page there",
                token_file.display()
            );
        }
        Ok(Remote {
            scheme_https: https,
            host,
            port,
            token,
        })
    }

    /// Calls a server function with form fields; its JSON answer, or its
    /// error message.
    fn call<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        form: &[(&str, String)],
    ) -> anyhow::Result<T> {
        let body: String = form
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let request = format!(
            "POST /api/{endpoint} HTTP/1.1\r\nHost: {}:{}\r\nAuthorization: Bearer {}\r\nAccept: application/json\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.host,
            self.port,
            self.token,
            body.len()
        );
        let raw = self.exchange(request.as_bytes())?;
        let text = String::from_utf8_lossy(&raw);
        let (head, payload) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| anyhow!("{} answered something that is not HTTP", self.host))?;
        let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        let payload = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(payload)
        } else {
            payload.to_owned()
        };
        if !(200..300).contains(&status) {
            // Server function errors read `Kind|message`; guard refusals are plain.
            let msg = payload.split_once('|').map(|(_, m)| m).unwrap_or(&payload);
            bail!("{} (HTTP {status})", msg.trim());
        }
        serde_json::from_str(&payload)
            .with_context(|| format!("unexpected answer from /api/{endpoint}: {payload}"))
    }

    fn exchange(&self, request: &[u8]) -> anyhow::Result<Vec<u8>> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port)).with_context(|| {
            format!(
                "cannot reach {}:{}. Fix: check the --remote address and that pgshelf runs there",
                self.host, self.port
            )
        })?;
        tcp.set_read_timeout(Some(Duration::from_secs(120)))?;
        let mut out = Vec::new();
        if self.scheme_https {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
            let name = rustls::pki_types::ServerName::try_from(self.host.clone())
                .map_err(|e| anyhow!("{:?} is not a host name: {e}", self.host))?;
            let conn = rustls::ClientConnection::new(Arc::new(config), name)?;
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            tls.write_all(request)
                .with_context(|| format!("TLS to {} failed", self.host))?;
            match tls.read_to_end(&mut out) {
                Ok(_) => {}
                // Servers that close without close_notify still sent it all.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !out.is_empty() => {}
                Err(e) => return Err(e).with_context(|| format!("TLS to {} failed", self.host)),
            }
        } else {
            let mut tcp = tcp;
            tcp.write_all(request)?;
            tcp.read_to_end(&mut out)?;
        }
        Ok(out)
    }

    fn server(&self, name: &str) -> anyhow::Result<Server> {
        let servers: Vec<Server> = self.call("servers/list", &[])?;
        servers.into_iter().find(|s| s.name == name).ok_or_else(|| {
            anyhow!("no server named {name:?} there. Fix: `pgshelf --remote ... server list`")
        })
    }

    /// Waits until a queued run ends; its row.
    fn wait(&self, server_id: i64, id: i64) -> anyhow::Result<Backup> {
        loop {
            let list: List = self.call(
                "backups/list",
                &[
                    ("server_id", server_id.to_string()),
                    ("limit", "500".into()),
                ],
            )?;
            let row = list
                .backups
                .into_iter()
                .map(|l| l.backup)
                .find(|b| b.id == id)
                .ok_or_else(|| anyhow!("backup {id} is no longer listed"))?;
            if !row.status.is_active() {
                return Ok(row);
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// Runs a read or run command against the remote pgshelf.
pub fn run(remote: &Remote, cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Server(ServerCommand::List { json }) => {
            let servers: Vec<Server> = remote.call("servers/list", &[])?;
            print_servers(&servers, json)?;
        }
        Command::Databases { server, json } => {
            let s = remote.server(&server)?;
            let dbs: Vec<DatabaseInfo> =
                remote.call("servers/databases", &[("server_id", s.id.to_string())])?;
            print_databases(&dbs, json)?;
        }
        Command::List {
            server,
            database,
            json,
        } => {
            let server = server.ok_or_else(|| {
                anyhow!("--server is needed with --remote. Fix: add --server NAME")
            })?;
            let s = remote.server(&server)?;
            let mut form = vec![("server_id", s.id.to_string()), ("limit", "500".into())];
            if let Some(db) = database {
                form.push(("database", db));
            }
            let list: List = remote.call("backups/list", &form)?;
            let rows: Vec<Backup> = list.backups.into_iter().map(|l| l.backup).collect();
            print_backups(&rows, json)?;
        }
        Command::Backup { server, database } => {
            let s = remote.server(&server)?;
            run_now(remote, &s, BackupKind::Database, Some(database))?;
        }
        Command::Globals { server } => {
            let s = remote.server(&server)?;
            run_now(remote, &s, BackupKind::Globals, None)?;
        }
        _ => bail!(
            "with --remote only `server list`, `databases`, `list`, `backup` and `globals` work; \
             change settings in the dashboard. Fix: drop --remote to act on a local data directory"
        ),
    }
    Ok(())
}

fn run_now(
    remote: &Remote,
    s: &Server,
    kind: BackupKind,
    database: Option<String>,
) -> anyhow::Result<()> {
    #[derive(serde::Deserialize)]
    struct Started {
        backup: Backup,
    }
    let mut form = vec![
        ("server_id", s.id.to_string()),
        ("kind", kind.as_str().to_owned()),
    ];
    if let Some(db) = database {
        form.push(("database", db));
    }
    let started: Started = remote.call("backups/start", &form)?;
    eprintln!("queued backup {} on {}", started.backup.id, s.name);
    let done = remote.wait(s.id, started.backup.id)?;
    if !done.status.is_good() {
        bail!(
            "backup {} failed: {}",
            done.id,
            done.cause.unwrap_or_else(|| "no cause recorded".into())
        );
    }
    eprintln!(
        "backup {} of {}/{} {}: {} stored",
        done.id,
        done.server_name,
        done.target,
        done.status,
        model::format::human_size(done.stored_bytes)
    );
    for why in &done.verification {
        eprintln!("  suspect: {why}");
    }
    println!("{}", done.id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_remote_addresses_and_reads_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("token");
        std::fs::write(&f, "pgs_abc\n").unwrap();
        let r = Remote::new("https://backups.example:3443/", &f).unwrap();
        assert!(r.scheme_https);
        assert_eq!(
            (r.host.as_str(), r.port, r.token.as_str()),
            ("backups.example", 3443, "pgs_abc")
        );
        let r = Remote::new("http://127.0.0.1", &f).unwrap();
        assert_eq!((r.host.as_str(), r.port), ("127.0.0.1", 80));
        assert!(Remote::new("ftp://x", &f).is_err());
        std::fs::write(&f, "\n").unwrap();
        assert!(Remote::new("http://x", &f)
            .unwrap_err()
            .to_string()
            .contains("empty"));
    }

    #[test]
    fn encodes_and_dechunks() {
        assert_eq!(urlencode("a b&c"), "a%20b%26c");
        assert_eq!(dechunk("4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n"), "Wikipedia");
    }
}
