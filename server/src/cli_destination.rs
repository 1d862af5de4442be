//! Destination commands: `destination add|edit|list|test|remove|host-key`,
//! and the destinations declared in `pgshelf.toml` handed to the engine.
//!
//! ```text
//! pgshelf destination add NAME --kind s3 --endpoint URL --region R --bucket B --access-key-id AK --secret-file F
//! pgshelf destination edit NAME [same flags; the rest keep their values]
//! pgshelf destination list [--json]
//! pgshelf destination test NAME            # exit 1 when a step fails
//! pgshelf destination host-key NAME [--trust | --trust-key "ssh-ed25519 AAAA..."]
//! pgshelf destination remove NAME
//! ```
//!
//! A secret is never a flag's value (shell history and `ps` would show
//! it): it comes from `--secret-file`, `--secret-stdin` or
//! `PGSHELF_DESTINATION_SECRET`.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use engine::workers::human_bytes;
use engine::Engine;
use model::destination::{Destination, DestinationInput, DestinationSettings, ProbeReport};

/// The variable a destination's secret may come from.
pub const SECRET_ENV: &str = "PGSHELF_DESTINATION_SECRET";

/// Part uploads in flight per file when `--concurrency` is not given.
pub const DEFAULT_CONCURRENCY: u32 = 4;

const SECRET_HELP: &str = "The secret (S3 secret access key, WebDAV password, SFTP private key, GCS service-account JSON, Azure account key or SAS token) is never a flag's value, which shell history and `ps` would show: give --secret-file PATH, --secret-stdin, or set PGSHELF_DESTINATION_SECRET. It is stored encrypted with the instance key and never printed.";

#[derive(Debug, Subcommand)]
pub enum DestinationCommand {
    /// Add a destination: a local directory, S3 (or S3-compatible), WebDAV,
    /// SFTP, Google Cloud Storage or Azure Blob. Test it before a policy
    /// names it.
    #[command(after_help = SECRET_HELP)]
    Add {
        name: String,
        #[command(flatten)]
        fields: Fields,
        #[command(flatten)]
        secret: SecretArgs,
    },
    /// Change fields of a destination; the fields not given keep their
    /// values, the stored secret too unless where it is sent changes
    /// (endpoint, URL, host, account, user), which needs the secret again.
    #[command(after_help = SECRET_HELP)]
    Edit {
        name: String,
        #[command(flatten)]
        fields: Fields,
        #[command(flatten)]
        secret: SecretArgs,
    },
    /// List destinations: kind, where, copies and bytes stored, last test.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Write, read back, list and delete a probe object; each step with its
    /// time. Exits 1 when a step fails, with the destination's own words.
    Test {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a destination no policy names and no backup depends on (its
    /// stored files stay where they are).
    Remove { name: String },
    /// Show an SFTP server's host key and fingerprint, to compare with what
    /// its administrator says; --trust stores it, --trust-key stores a key
    /// given out of band.
    HostKey {
        name: String,
        /// Store the key the server shows now (after comparing its fingerprint).
        #[arg(long, conflicts_with = "trust_key")]
        trust: bool,
        /// With --trust: store it only if the server's key has this
        /// fingerprint (the one compared), so a key swapped since is refused.
        #[arg(long, value_name = "SHA256:...", requires = "trust")]
        fingerprint: Option<String>,
        /// Store this key ("ssh-ed25519 AAAA...", e.g. from the server's
        /// /etc/ssh/ssh_host_ed25519_key.pub) without asking the server.
        #[arg(long, value_name = "KEY")]
        trust_key: Option<String>,
    },
}

/// `catalog import`: the catalog rebuilt from a destination's manifests.
#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Read every manifest under a destination and add the backups the
    /// catalog does not have (a fresh pgshelf pointed at an old bucket).
    Import {
        #[arg(long)]
        destination: String,
        #[arg(long)]
        json: bool,
    },
}

/// A destination's non-secret settings as flags. Each applies to the kinds
/// named in its help; another kind refuses it.
#[derive(Debug, Default, Clone, Args)]
pub struct Fields {
    /// local, s3, webdav, sftp, gcs or azblob (required by add).
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// s3, gcs, azblob: the service's URL (empty: the provider's own).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// s3: the bucket's region (us-east-1 where the service has none, auto for R2).
    #[arg(long)]
    pub region: Option<String>,
    /// s3, gcs: the bucket.
    #[arg(long)]
    pub bucket: Option<String>,
    /// s3: virtual-host addressing (bucket.endpoint) instead of path-style
    /// (endpoint/bucket, MinIO and most self-hosted servers).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub virtual_host: Option<bool>,
    /// s3: the access key id.
    #[arg(long, value_name = "ID")]
    pub access_key_id: Option<String>,
    /// s3: STANDARD_IA, GLACIER_IR, ... ("" for the bucket's default).
    #[arg(long, value_name = "CLASS")]
    pub storage_class: Option<String>,
    /// webdav: the folder's URL as the web UI shows it
    /// (https://cloud.example.com/remote.php/dav/files/alice/backups).
    #[arg(long)]
    pub url: Option<String>,
    /// webdav, sftp: the user.
    #[arg(long)]
    pub username: Option<String>,
    /// sftp: the server's host name.
    #[arg(long)]
    pub host: Option<String>,
    /// sftp: the SSH port (default 22).
    #[arg(long)]
    pub port: Option<u16>,
    /// azblob: the storage account.
    #[arg(long)]
    pub account: Option<String>,
    /// azblob: the container.
    #[arg(long)]
    pub container: Option<String>,
    /// azblob: the secret is a SAS token, not the account key.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub sas: Option<bool>,
    /// local: an absolute directory.
    #[arg(long, value_name = "DIR")]
    pub path: Option<String>,
    /// Prefix inside the bucket or folder (sftp: an absolute directory on the server).
    #[arg(long, value_name = "PREFIX")]
    pub root: Option<String>,
    /// Parallel part uploads per file, 1 to 16 (default 4).
    #[arg(long, value_name = "N")]
    pub concurrency: Option<u32>,
}

/// Where the secret comes from (never a flag's value).
#[derive(Debug, Default, Clone, Args)]
pub struct SecretArgs {
    /// Read the secret from this file (the whole file; an SFTP private key as is).
    #[arg(long, value_name = "PATH", conflicts_with = "secret_stdin")]
    pub secret_file: Option<PathBuf>,
    /// Read the secret from standard input (to its end).
    #[arg(long)]
    pub secret_stdin: bool,
}

/// Reads `path` as a secret, with a message that never holds its contents.
pub fn read_secret_file(what: &str, path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).map_err(|e| {
        anyhow::anyhow!(
            "{what} {}: cannot read it: {e}. Fix: give the path of a file readable by the user running pgshelf",
            path.display()
        )
    })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        anyhow::anyhow!(
            "{what} {}: not text. Fix: give a file holding the secret as text",
            path.display()
        )
    })?;
    if text.trim().is_empty() {
        anyhow::bail!(
            "{what} {}: the file is empty. Fix: put the secret in it",
            path.display()
        );
    }
    Ok(text)
}

impl SecretArgs {
    /// The secret given, if any: the file, standard input, or the variable.
    pub fn read(&self, env: Option<String>, label: &str) -> anyhow::Result<Option<String>> {
        if let Some(p) = &self.secret_file {
            return read_secret_file("--secret-file", p).map(Some);
        }
        if self.secret_stdin {
            if std::io::stdin().is_terminal() {
                eprintln!("{label} (end with Ctrl-D):");
            }
            let mut text = String::new();
            std::io::stdin().lock().read_to_string(&mut text)?;
            if text.trim().is_empty() {
                anyhow::bail!("--secret-stdin: standard input was empty. Fix: pipe the {label} in, e.g. `< secret-file`");
            }
            return Ok(Some(text));
        }
        Ok(env.filter(|s| !s.trim().is_empty()))
    }
}

fn kind_default(kind: &str) -> anyhow::Result<DestinationSettings> {
    Ok(match kind {
        "local" => DestinationSettings::Local {
            path: String::new(),
        },
        "s3" => DestinationSettings::S3 {
            endpoint: String::new(),
            region: String::new(),
            bucket: String::new(),
            path_style: true,
            access_key_id: String::new(),
            storage_class: String::new(),
        },
        "webdav" => DestinationSettings::WebDav {
            url: String::new(),
            username: String::new(),
        },
        "sftp" => DestinationSettings::Sftp {
            host: String::new(),
            port: 22,
            username: String::new(),
            host_key: String::new(),
        },
        "gcs" => DestinationSettings::Gcs {
            bucket: String::new(),
            endpoint: String::new(),
        },
        "azblob" => DestinationSettings::Azblob {
            account: String::new(),
            container: String::new(),
            endpoint: String::new(),
            sas: false,
        },
        other => anyhow::bail!(
            "--kind {other:?} is not a destination kind. Fix: use local, s3, webdav, sftp, gcs or azblob"
        ),
    })
}

impl Fields {
    /// `base` (the stored settings, or the kind's empty ones) with the
    /// given flags applied; a flag that does not apply to the kind is
    /// refused, naming the kinds it applies to.
    pub fn apply(&self, base: Option<&DestinationSettings>) -> anyhow::Result<DestinationSettings> {
        let mut s = match (&self.kind, base) {
            (Some(k), Some(b)) if k == b.kind() => b.clone(),
            (Some(k), _) => kind_default(k)?,
            (None, Some(b)) => b.clone(),
            (None, None) => anyhow::bail!(
                "--kind is missing. Fix: add --kind local, s3, webdav, sftp, gcs or azblob"
            ),
        };
        let kind = s.kind();
        let mut used: Vec<&str> = Vec::new();
        fn set<T: Clone>(slot: &mut T, v: &Option<T>, flag: &'static str, used: &mut Vec<&str>) {
            if let Some(v) = v {
                *slot = v.clone();
                used.push(flag);
            }
        }
        match &mut s {
            DestinationSettings::Local { path } => set(path, &self.path, "path", &mut used),
            DestinationSettings::S3 {
                endpoint,
                region,
                bucket,
                path_style,
                access_key_id,
                storage_class,
            } => {
                set(endpoint, &self.endpoint, "endpoint", &mut used);
                set(region, &self.region, "region", &mut used);
                set(bucket, &self.bucket, "bucket", &mut used);
                if let Some(v) = self.virtual_host {
                    *path_style = !v;
                    used.push("virtual-host");
                }
                set(
                    access_key_id,
                    &self.access_key_id,
                    "access-key-id",
                    &mut used,
                );
                set(
                    storage_class,
                    &self.storage_class,
                    "storage-class",
                    &mut used,
                );
            }
            DestinationSettings::WebDav { url, username } => {
                set(url, &self.url, "url", &mut used);
                set(username, &self.username, "username", &mut used);
            }
            DestinationSettings::Sftp {
                host,
                port,
                username,
                ..
            } => {
                set(host, &self.host, "host", &mut used);
                set(port, &self.port, "port", &mut used);
                set(username, &self.username, "username", &mut used);
            }
            DestinationSettings::Gcs { bucket, endpoint } => {
                set(bucket, &self.bucket, "bucket", &mut used);
                set(endpoint, &self.endpoint, "endpoint", &mut used);
            }
            DestinationSettings::Azblob {
                account,
                container,
                endpoint,
                sas,
            } => {
                set(account, &self.account, "account", &mut used);
                set(container, &self.container, "container", &mut used);
                set(endpoint, &self.endpoint, "endpoint", &mut used);
                set(sas, &self.sas, "sas", &mut used);
            }
        }
        let given: [(&str, bool, &str); 14] = [
            ("endpoint", self.endpoint.is_some(), "s3, gcs, azblob"),
            ("region", self.region.is_some(), "s3"),
            ("bucket", self.bucket.is_some(), "s3, gcs"),
            ("virtual-host", self.virtual_host.is_some(), "s3"),
            ("access-key-id", self.access_key_id.is_some(), "s3"),
            ("storage-class", self.storage_class.is_some(), "s3"),
            ("url", self.url.is_some(), "webdav"),
            ("username", self.username.is_some(), "webdav, sftp"),
            ("host", self.host.is_some(), "sftp"),
            ("port", self.port.is_some(), "sftp"),
            ("account", self.account.is_some(), "azblob"),
            ("container", self.container.is_some(), "azblob"),
            ("sas", self.sas.is_some(), "azblob"),
            ("path", self.path.is_some(), "local"),
        ];
        for (flag, is_given, kinds) in given {
            if is_given && !used.contains(&flag) {
                anyhow::bail!(
                    "--{flag} does not apply to kind {kind} (only to {kinds}). Fix: leave it out, or give the right --kind"
                );
            }
        }
        Ok(s)
    }
}

/// The input for `add` or `edit` (`old`: the stored destination).
fn input(
    name: &str,
    fields: &Fields,
    secret: &SecretArgs,
    old: Option<&Destination>,
) -> anyhow::Result<DestinationInput> {
    let settings = fields.apply(old.map(|d| &d.settings))?;
    let secret = secret.read(std::env::var(SECRET_ENV).ok(), settings.secret_label())?;
    if secret.is_some() && !settings.needs_secret() {
        anyhow::bail!("a local destination takes no secret. Fix: leave out --secret-file, --secret-stdin and {SECRET_ENV}");
    }
    if old.is_none() && secret.is_none() && settings.needs_secret() {
        anyhow::bail!(
            "no {} given for {name}. Fix: --secret-file PATH, --secret-stdin, or the variable {SECRET_ENV} (never a flag's value: shell history and `ps` would show it)",
            settings.secret_label()
        );
    }
    Ok(DestinationInput {
        name: name.to_owned(),
        root: fields
            .root
            .clone()
            .or_else(|| old.map(|d| d.root.clone()))
            .unwrap_or_default(),
        concurrency: fields
            .concurrency
            .or(old.map(|d| d.concurrency))
            .unwrap_or(DEFAULT_CONCURRENCY),
        settings,
        secret,
    })
}

fn secret_word(d: &Destination) -> String {
    if !d.settings.needs_secret() {
        String::new()
    } else if d.has_secret {
        format!(", {} stored encrypted", d.settings.secret_label())
    } else {
        format!(", no {} stored", d.settings.secret_label())
    }
}

/// Runs a destination command. Errors carry the engine's message (cause and fix).
pub async fn run(engine: &Engine, cmd: DestinationCommand) -> anyhow::Result<()> {
    match cmd {
        DestinationCommand::Add {
            name,
            fields,
            secret,
        } => {
            let input = input(&name, &fields, &secret, None)?;
            let d = engine.add_destination(input).await?;
            println!(
                "added destination {} ({}{})",
                d.name,
                d.describe,
                secret_word(&d)
            );
            if let DestinationSettings::Sftp { .. } = d.settings {
                println!(
                    "next: pgshelf destination host-key {} (compare the fingerprint, then --trust)",
                    d.name
                );
            } else {
                println!("next: pgshelf destination test {}", d.name);
            }
        }
        DestinationCommand::Edit {
            name,
            fields,
            secret,
        } => {
            let old = engine.destination_named(&name).await?;
            let input = input(&name, &fields, &secret, Some(&old))?;
            let d = engine.update_destination(&name, input).await?;
            println!(
                "saved destination {} ({}{})",
                d.name,
                d.describe,
                secret_word(&d)
            );
        }
        DestinationCommand::List { json } => {
            print_destinations(&engine.destinations().await?, json)?
        }
        DestinationCommand::Test { name, json } => {
            let r = engine.test_destination(&name).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print_probe(&r);
            }
            if !r.ok() {
                let d = engine.destination_named(&name).await?;
                if let DestinationSettings::Sftp { host_key, .. } = &d.settings {
                    if host_key.trim().is_empty() || r.summary().contains("host key") {
                        eprintln!("see and confirm the server's host key: pgshelf destination host-key {name}");
                    }
                }
                anyhow::bail!("destination {name} failed its test: {}", r.summary());
            }
        }
        DestinationCommand::Remove { name } => {
            let d = engine.destination_named(&name).await?;
            engine.remove_destination(&name).await?;
            println!(
                "removed destination {name} (its files stay at {})",
                d.describe
            );
        }
        DestinationCommand::HostKey {
            name,
            trust,
            fingerprint,
            trust_key,
        } => {
            let d = engine.destination_named(&name).await?;
            let DestinationSettings::Sftp {
                host,
                port,
                host_key,
                ..
            } = &d.settings
            else {
                anyhow::bail!(
                    "{name} is a {} destination: only SFTP destinations have a host key",
                    d.settings.kind()
                );
            };
            if let Some(key) = trust_key {
                let fp = engine::storage::ssh::fingerprint(&key)
                    .await
                    .map_err(|e| anyhow::anyhow!("--trust-key: {e}. Fix: give the public key line, e.g. the contents of /etc/ssh/ssh_host_ed25519_key.pub on the server"))?;
                engine.trust_host_key(&name, &key).await?;
                println!("trusted host key {fp} for {name} ({host}:{port})");
                return Ok(());
            }
            let seen = engine.scan_host_key(host, *port).await?;
            let same = host_key.split_whitespace().take(2).collect::<Vec<_>>()
                == seen.key.split_whitespace().take(2).collect::<Vec<_>>();
            println!("{host}:{port} shows {}", seen.key);
            println!("fingerprint: {}", seen.fingerprint);
            if host_key.trim().is_empty() {
                println!("trusted now: none");
            } else if same {
                println!("trusted now: this key");
            } else {
                let old = engine::storage::ssh::fingerprint(host_key)
                    .await
                    .unwrap_or_else(|_| host_key.clone());
                println!("trusted now: ANOTHER key, {old}: the server's key changed (rebuilt server, or someone in between)");
            }
            if trust {
                if let Some(fp) = fingerprint {
                    if fp.trim() != seen.fingerprint {
                        anyhow::bail!(
                            "{host}:{port} now shows {}, not {}: nothing trusted. Fix: compare again with the server's administrator; a key that changes between two looks may be someone in between",
                            seen.fingerprint,
                            fp.trim()
                        );
                    }
                }
                engine.trust_host_key(&name, &seen.key).await?;
                println!("trusted {} for {name}", seen.fingerprint);
            } else if !same {
                println!("compare the fingerprint with what the server's administrator reads from `ssh-keygen -l -f /etc/ssh/ssh_host_ed25519_key.pub`; if it matches: pgshelf destination host-key {name} --trust");
            }
        }
    }
    Ok(())
}

/// Runs a catalog command.
pub async fn run_catalog(engine: &Engine, cmd: CatalogCommand) -> anyhow::Result<()> {
    match cmd {
        CatalogCommand::Import { destination, json } => {
            let r = engine.import_catalog(&destination).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!(
                    "{}: {} manifest(s) read, {} backup(s) imported, {} already known",
                    r.destination, r.manifests, r.imported, r.known
                );
                for why in &r.skipped {
                    println!("  skipped: {why}");
                }
            }
            if !r.skipped.is_empty() {
                anyhow::bail!(
                    "{} manifest(s) on {destination} could not be imported (listed above); the rest were",
                    r.skipped.len()
                );
            }
        }
    }
    Ok(())
}

/// The steps of a test, one a line with their time.
pub fn print_probe(r: &ProbeReport) {
    println!("testing {} ({})", r.destination, r.at);
    for s in &r.steps {
        match (&s.detail, s.ok) {
            (_, true) => println!("  {:<10} ok      {:>6} ms", s.step, s.millis),
            (d, false) => println!(
                "  {:<10} FAILED  {:>6} ms  {}",
                s.step,
                s.millis,
                d.as_deref().unwrap_or("no detail")
            ),
        }
    }
    println!("{}", if r.ok() { "ok" } else { "FAILED" });
}

/// Destinations as `destination list` prints them.
pub fn print_destinations(list: &[Destination], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(list)?);
        return Ok(());
    }
    println!(
        "{:<20} {:<7} {:<56} {:>7} {:>10}  LAST TEST (UTC)",
        "NAME", "KIND", "WHERE", "COPIES", "STORED"
    );
    for d in list {
        let name = if d.from_config && d.name != model::destination::LOCAL {
            format!("{} (config)", d.name)
        } else {
            d.name.clone()
        };
        let last = match &d.last_test {
            Some(t) => format!("{} {}", when(&t.at), short(&t.summary(), 100)),
            None => "never".into(),
        };
        println!(
            "{:<20} {:<7} {:<56} {:>7} {:>10}  {}",
            name,
            d.settings.kind(),
            d.describe,
            d.copies,
            human_bytes(d.stored_bytes),
            last
        );
    }
    Ok(())
}

/// An RFC 3339 time as `YYYY-MM-DD HH:MM` UTC.
fn when(at: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(at)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| at.to_owned())
}

/// `text` cut to `max` characters, with a pointer to the full words.
fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}... (all of it: destination test NAME)")
    }
}

/// Hands the destinations declared in `pgshelf.toml` to the engine. An
/// SFTP destination declared without `host_key` keeps the key trusted
/// before (`destination host-key NAME --trust`) while its host and port
/// stay the same.
pub async fn declare(
    engine: &Engine,
    declared: &[crate::config::DeclaredDestination],
) -> anyhow::Result<()> {
    if declared.is_empty() {
        return Ok(());
    }
    let mut inputs = Vec::with_capacity(declared.len());
    for d in declared {
        let mut input = d.input();
        if let DestinationSettings::Sftp {
            host,
            port,
            host_key,
            ..
        } = &mut input.settings
        {
            if host_key.trim().is_empty() {
                if let Ok(old) = engine.destination_named(&d.name).await {
                    if let DestinationSettings::Sftp {
                        host: h,
                        port: p,
                        host_key: k,
                        ..
                    } = old.settings
                    {
                        if &h == host && p == *port {
                            *host_key = k;
                        }
                    }
                }
            }
        }
        inputs.push(input);
    }
    engine
        .declare_destinations(inputs)
        .await
        .map_err(|e| anyhow::anyhow!("pgshelf.toml [[destination]]: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_apply_to_their_kind_only() {
        let f = Fields {
            kind: Some("s3".into()),
            endpoint: Some("http://127.0.0.1:9000".into()),
            region: Some("us-east-1".into()),
            bucket: Some("b".into()),
            access_key_id: Some("AK".into()),
            virtual_host: Some(true),
            ..Fields::default()
        };
        let s = f.apply(None).unwrap();
        assert!(matches!(
            &s,
            DestinationSettings::S3 { path_style: false, bucket, .. } if bucket == "b"
        ));
        let bad = Fields {
            url: Some("http://x".into()),
            ..f.clone()
        };
        let e = bad.apply(None).unwrap_err().to_string();
        assert!(e.contains("--url") && e.contains("webdav"), "{e}");
        assert!(Fields::default().apply(None).is_err(), "add needs --kind");
        let e = Fields {
            kind: Some("ftp".into()),
            ..Fields::default()
        }
        .apply(None)
        .unwrap_err()
        .to_string();
        assert!(e.contains("azblob"), "{e}");
    }

    #[test]
    fn edit_keeps_what_is_not_given() {
        let old = DestinationSettings::Sftp {
            host: "h".into(),
            port: 2222,
            username: "u".into(),
            host_key: "ssh-ed25519 AAAA".into(),
        };
        let s = Fields {
            username: Some("v".into()),
            ..Fields::default()
        }
        .apply(Some(&old))
        .unwrap();
        assert_eq!(
            s,
            DestinationSettings::Sftp {
                host: "h".into(),
                port: 2222,
                username: "v".into(),
                host_key: "ssh-ed25519 AAAA".into(),
            }
        );
    }

    #[test]
    fn the_secret_comes_from_a_file_or_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s");
        std::fs::write(&f, "sk\n").unwrap();
        let a = SecretArgs {
            secret_file: Some(f),
            secret_stdin: false,
        };
        assert_eq!(
            a.read(Some("env".into()), "x").unwrap().as_deref(),
            Some("sk\n")
        );
        let none = SecretArgs::default();
        assert_eq!(
            none.read(Some("env".into()), "x").unwrap().as_deref(),
            Some("env")
        );
        assert_eq!(none.read(None, "x").unwrap(), None);
        let e = SecretArgs {
            secret_file: Some(dir.path().join("missing")),
            secret_stdin: false,
        }
        .read(None, "x")
        .unwrap_err()
        .to_string();
        assert!(e.contains("Fix:"), "{e}");
    }
}
