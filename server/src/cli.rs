//! The command line: `serve` (the default), `server add|list|test|remove`,
//! `databases`, `backup`, `list`, `delete`, `policy`, `schedule`; the restore
//! commands are in [`crate::cli_restore`], `test-restore` in [`crate::cli_proof`],
//! `compare` in [`crate::cli_compare`], `destination` and `catalog` in
//! [`crate::cli_destination`].

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use engine::catalog::BackupFilter;
use engine::secrets::Secret;
use engine::servers::ServerInput;
use engine::workers::human_bytes;
use engine::Engine;

#[derive(Debug, Parser)]
#[command(
    name = "pgshelf",
    version,
    about = "PostgreSQL logical backups, kept honest"
)]
pub struct Cli {
    /// Configuration file (default: $PGSHELF_CONFIG, else ./pgshelf.toml if present).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Drive the pgshelf at this URL instead of a local data directory (read
    /// and run commands only), e.g. https://backups.example:3000.
    #[arg(long, global = true, requires = "token_file")]
    pub remote: Option<String>,
    /// File holding an API token (from the Users page) for --remote.
    #[arg(long, global = true)]
    pub token_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the dashboard (the default).
    Serve,
    /// Manage PostgreSQL servers.
    #[command(subcommand)]
    Server(ServerCommand),
    /// List a server's databases with their sizes.
    Databases {
        /// Server name.
        server: String,
        #[arg(long)]
        json: bool,
    },
    /// Back up one database now; prints the backup id.
    Backup {
        #[arg(long)]
        server: String,
        #[arg(long)]
        database: String,
    },
    /// List backups.
    List {
        #[arg(long)]
        server: Option<String>,
        #[arg(long)]
        database: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Delete a backup from storage and the catalog.
    Delete { id: i64 },
    /// Cancel a queued backup, or one running in this pgshelf process
    /// (recorded `cancelled` by the OS user).
    Cancel {
        #[arg(long)]
        backup: i64,
    },
    /// Back up a server's roles, memberships and tablespaces now (pg_dumpall --globals-only).
    Globals {
        #[arg(long)]
        server: String,
    },
    /// Show or change backup policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Next run, last run, last success and overdue flags of a server's schedules.
    Schedule {
        #[arg(long)]
        server: String,
        #[arg(long)]
        json: bool,
    },
    /// restore-table, restore, scratch list|drop.
    #[command(flatten)]
    Restore(crate::cli_restore::RestoreCommand),
    /// Restore a backup into a scratch database, compare its tables and row
    /// counts with the manifest, drop it; non-zero exit when the test fails.
    TestRestore(crate::cli_proof::TestRestoreArgs),
    /// Age identities stored sealed for scheduled test-restores of
    /// encrypted backups (opt-in): store, list, forget.
    #[command(subcommand)]
    Identity(crate::cli_proof::IdentityCommand),
    /// Compare a table in a scratch database with the live table (rows
    /// deleted, changed and added since the backup); write or apply the
    /// script that puts rows back.
    Compare(crate::cli_compare::CompareArgs),
    /// Where backups are stored: add, edit, list, test, remove; SFTP host keys.
    #[command(subcommand)]
    Destination(Box<crate::cli_destination::DestinationCommand>),
    /// The catalog rebuilt from what a destination holds.
    #[command(subcommand)]
    Catalog(crate::cli_destination::CatalogCommand),
    /// Alert channels (Slack, signed webhook, email): add, list, test,
    /// remove; the deliveries made.
    #[command(subcommand)]
    Alert(crate::cli_alert::AlertCommand),
}

// Parsed once per process: the size of `Set` does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Print the policy in force (TOML), and where it comes from.
    Show {
        #[arg(long)]
        server: String,
        /// A database's policy; without it, the server default.
        #[arg(long)]
        database: Option<String>,
    },
    /// Change fields of a policy (the rest stay as they are) and save it.
    Set {
        #[arg(long)]
        server: String,
        /// Set an override for one database; without it, the server default.
        #[arg(long)]
        database: Option<String>,
        /// Cron expression or preset (@hourly, @daily, ...).
        #[arg(long)]
        schedule: Option<String>,
        /// IANA time zone, e.g. Europe/Berlin.
        #[arg(long)]
        timezone: Option<String>,
        /// custom, or directory (with --jobs).
        #[arg(long)]
        format: Option<String>,
        #[arg(long)]
        jobs: Option<u32>,
        #[arg(long)]
        keep_hourly: Option<u32>,
        #[arg(long)]
        keep_daily: Option<u32>,
        #[arg(long)]
        keep_weekly: Option<u32>,
        #[arg(long)]
        keep_monthly: Option<u32>,
        #[arg(long)]
        keep_yearly: Option<u32>,
        /// Turn scheduled runs on or off.
        #[arg(long)]
        enabled: Option<bool>,
        /// Turn scheduled test-restores on or off.
        #[arg(long)]
        test_restore_enabled: Option<bool>,
        /// Test-restore schedule: cron expression or preset, in the policy's time zone.
        #[arg(long)]
        test_restore_cron: Option<String>,
        /// Server to test-restore on, by name; "" for the backup's own server.
        #[arg(long)]
        test_restore_server: Option<String>,
        /// Apply the globals backup before a test-restore (roles created only if missing).
        #[arg(long)]
        test_restore_globals: Option<bool>,
        /// Where its backups are written, by destination name (repeat for
        /// several copies; replaces the list; "local" is backup_dir).
        #[arg(long = "destination", value_name = "NAME")]
        destinations: Vec<String>,
        /// A whole policy from a TOML file (fields given as flags still win).
        #[arg(long)]
        file: Option<PathBuf>,
        /// Show what would change (next runs, what retention would prune) without saving.
        #[arg(long)]
        dry_run: bool,
    },
    /// Remove a database's override, so it inherits the server default again.
    Clear {
        #[arg(long)]
        server: String,
        #[arg(long)]
        database: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Add a server. The password comes from PGPASSWORD or --password-stdin, never an argument.
    Add {
        name: String,
        /// postgres://USER@HOST:PORT/DBNAME[?sslmode=MODE]
        #[arg(long)]
        url: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// disable, allow, prefer, require, verify-ca or verify-full (as libpq;
        /// overrides the URL's sslmode).
        #[arg(long, value_name = "MODE")]
        sslmode: Option<String>,
        /// PEM file of the CA certificate(s) that issued the server's
        /// certificate (e.g. the Amazon RDS bundle); its text is stored.
        #[arg(long, value_name = "FILE")]
        ssl_root_cert: Option<PathBuf>,
        /// PEM file of a client certificate (with --ssl-client-key).
        #[arg(long, value_name = "FILE")]
        ssl_client_cert: Option<PathBuf>,
        /// PEM file of the client certificate's key; stored encrypted.
        #[arg(long, value_name = "FILE")]
        ssl_client_key: Option<PathBuf>,
    },
    /// List servers.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Connect and report the server's version and the pg_dump that would be used.
    Test { name: String },
    /// Remove a server (its backups stay listed and on storage).
    Remove { name: String },
}

/// The text of a PEM file given to `flag`; the engine checks its contents.
fn read_pem(flag: &str, path: Option<&std::path::Path>) -> anyhow::Result<Option<String>> {
    let Some(path) = path else {
        return Ok(None);
    };
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
            anyhow::anyhow!(
                "{flag} {}: not a PEM text file. Fix: convert it, e.g. `openssl x509 -inform der -in FILE -out FILE.pem` (a key: `openssl pkey -inform der ...`)",
                path.display()
            )
        }),
        Err(e) => anyhow::bail!(
            "{flag} {}: cannot read it: {e}. Fix: give the path of a readable PEM file",
            path.display()
        ),
    }
}

/// Runs a non-serve command. Errors carry the engine's message (cause and fix).
pub async fn run(engine: &Engine, cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Serve => unreachable!("serve is handled by main"),
        Command::Restore(cmd) => return crate::cli_restore::run(engine, cmd).await,
        Command::Compare(args) => return crate::cli_compare::run(engine, args).await,
        Command::Destination(cmd) => return crate::cli_destination::run(engine, *cmd).await,
        Command::Catalog(cmd) => return crate::cli_destination::run_catalog(engine, cmd).await,
        Command::Alert(cmd) => return crate::cli_alert::run(engine, cmd).await,
        Command::Server(ServerCommand::Add {
            name,
            url,
            password_stdin,
            sslmode,
            ssl_root_cert,
            ssl_client_cert,
            ssl_client_key,
        }) => {
            let mut input = ServerInput::from_url(&name, &url)?;
            if let Some(mode) = sslmode {
                input.sslmode = mode;
            }
            input.ssl_root_cert = read_pem("--ssl-root-cert", ssl_root_cert.as_deref())?;
            input.ssl_client_cert = read_pem("--ssl-client-cert", ssl_client_cert.as_deref())?;
            input.ssl_client_key =
                read_pem("--ssl-client-key", ssl_client_key.as_deref())?.map(Secret::new);
            input.password = if password_stdin {
                let mut line = String::new();
                if std::io::stdin().is_terminal() {
                    eprint!("password for {}: ", input.user);
                }
                std::io::stdin().lock().read_line(&mut line)?;
                Some(Secret::new(line.trim_end_matches(['\r', '\n'])))
            } else {
                std::env::var("PGPASSWORD").ok().map(Secret::new)
            };
            let s = engine.add_server(input).await?;
            println!(
                "added server {} ({}@{}:{}, sslmode {}{}{}, password {})",
                s.name,
                s.user,
                s.host,
                s.port,
                s.sslmode,
                if s.ssl_root_cert.is_some() {
                    ", root certificate stored"
                } else {
                    ""
                },
                if s.has_client_key {
                    ", client certificate stored, key encrypted"
                } else {
                    ""
                },
                if s.has_password {
                    "stored encrypted"
                } else {
                    "not set"
                }
            );
        }
        Command::Server(ServerCommand::List { json }) => {
            print_servers(&engine.servers().await?, json)?;
        }
        Command::Server(ServerCommand::Test { name }) => {
            let s = engine.server_by_name(&name).await?;
            let r = engine.test_connection(s.id).await?;
            println!(
                "{}: PostgreSQL {}{}",
                s.name,
                r.server_version,
                if r.in_recovery { " (standby)" } else { "" }
            );
            match r.pg_dump {
                Ok(t) => println!("pg_dump {} at {}", t.version, t.path),
                Err(e) => anyhow::bail!(e),
            }
        }
        Command::Server(ServerCommand::Remove { name }) => {
            let s = engine.server_by_name(&name).await?;
            engine.delete_server(s.id).await?;
            println!("removed server {name}");
        }
        Command::Databases { server, json } => {
            let s = engine.server_by_name(&server).await?;
            print_databases(&engine.databases(s.id).await?, json)?;
        }
        Command::Backup { server, database } => {
            let s = engine.server_by_name(&server).await?;
            let row = engine.backup_now(s.id, &database, "cli").await?;
            eprintln!(
                "backup {} of {}/{} {}: {} stored ({} raw) in {:.1}s at {}",
                row.id,
                row.server_name,
                row.target,
                row.status,
                human_bytes(row.stored_bytes as u64),
                human_bytes(row.raw_bytes as u64),
                row.duration_ms.unwrap_or(0) as f64 / 1000.0,
                row.location.as_deref().unwrap_or("-"),
            );
            for why in &row.verification {
                eprintln!("  suspect: {why}");
            }
            println!("{}", row.id);
        }
        Command::Cancel { backup } => {
            let who = std::env::var("USER")
                .ok()
                .filter(|u| !u.trim().is_empty())
                .map_or_else(|| "cli".to_owned(), |u| format!("cli:{u}"));
            let row = engine.cancel_backup(backup, &who).await?;
            eprintln!(
                "backup {} of {}/{} {}: {}",
                row.id,
                row.server_name,
                row.target,
                row.status,
                row.cause.as_deref().unwrap_or("-")
            );
        }
        Command::List {
            server,
            database,
            json,
        } => {
            let server_id = match server {
                Some(n) => Some(engine.server_by_name(&n).await?.id),
                None => None,
            };
            let rows = engine
                .backups(&BackupFilter {
                    server_id,
                    target: database.map(engine::catalog::Target::Database),
                    limit: None,
                })
                .await?;
            print_backups(&rows, json)?;
        }
        Command::Delete { id } => {
            engine.delete_backup(id).await?;
            println!("deleted backup {id}");
        }
        Command::Globals { server } => {
            let s = engine.server_by_name(&server).await?;
            let queued = engine.enqueue_globals(s.id, "cli").await?;
            let row = wait_for(engine, queued.id).await?;
            match row.status {
                s if s.is_good() => {
                    eprintln!(
                        "globals backup {} of {} {}: {} at {}",
                        row.id,
                        row.server_name,
                        row.status,
                        human_bytes(row.stored_bytes as u64),
                        row.location.as_deref().unwrap_or("-")
                    );
                    println!("{}", row.id);
                }
                _ => anyhow::bail!(
                    "globals backup {} failed: {}",
                    row.id,
                    row.cause.unwrap_or_default()
                ),
            }
        }
        Command::Policy(PolicyCommand::Show { server, database }) => {
            let s = engine.server_by_name(&server).await?;
            let (policy, source) = engine.policy(s.id, database.as_deref()).await?;
            println!("# {}", describe_source(&source));
            print!("{}", toml::to_string(&policy)?);
        }
        Command::Policy(PolicyCommand::Set {
            server,
            database,
            schedule,
            timezone,
            format,
            jobs,
            keep_hourly,
            keep_daily,
            keep_weekly,
            keep_monthly,
            keep_yearly,
            enabled,
            test_restore_enabled,
            test_restore_cron,
            test_restore_server,
            test_restore_globals,
            destinations,
            file,
            dry_run,
        }) => {
            let s = engine.server_by_name(&server).await?;
            let (mut p, _) = engine.policy(s.id, database.as_deref()).await?;
            if let Some(f) = file {
                let text = std::fs::read_to_string(&f)?;
                p = toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
            }
            if let Some(v) = schedule {
                p.schedule = v;
            }
            if let Some(v) = timezone {
                p.timezone = v;
            }
            match format.as_deref() {
                None => {}
                Some("custom") => p.format = engine::policy::Format::Custom,
                Some("directory") => {
                    p.format = engine::policy::Format::Directory {
                        jobs: jobs.unwrap_or(2),
                    }
                }
                Some(other) => anyhow::bail!("--format {other:?}: use custom or directory"),
            }
            if let (Some(j), engine::policy::Format::Directory { .. }) = (jobs, p.format) {
                p.format = engine::policy::Format::Directory { jobs: j };
            }
            let r = &mut p.retention;
            for (v, slot) in [
                (keep_hourly, &mut r.hourly),
                (keep_daily, &mut r.daily),
                (keep_weekly, &mut r.weekly),
                (keep_monthly, &mut r.monthly),
                (keep_yearly, &mut r.yearly),
            ] {
                if let Some(v) = v {
                    *slot = v;
                }
            }
            if let Some(v) = enabled {
                p.enabled = v;
            }
            let tr = &mut p.test_restore;
            if let Some(v) = test_restore_enabled {
                tr.enabled = v;
            }
            if let Some(v) = test_restore_cron {
                tr.cron = v;
            }
            if let Some(v) = test_restore_server {
                tr.restore_server = (!v.trim().is_empty()).then_some(v);
            }
            if let Some(v) = test_restore_globals {
                tr.with_globals = v;
            }
            if !destinations.is_empty() {
                p.destinations = destinations;
            }
            let preview = engine
                .preview_policy(s.id, database.as_deref(), &p, chrono::Utc::now())
                .await?;
            println!("schedule: {} ({})", preview.describe, p.timezone);
            if !p.destinations.is_empty() {
                println!("destinations: {}", p.destinations.join(", "));
            }
            println!(
                "test-restores: {} ({}{})",
                if p.test_restore.enabled { "on" } else { "off" },
                p.test_restore.cron,
                p.test_restore
                    .restore_server
                    .as_deref()
                    .map(|s| format!(", on {s}"))
                    .unwrap_or_default()
            );
            for t in &preview.next_runs {
                println!("  next: {} UTC", t.utc.format("%Y-%m-%d %H:%M"));
            }
            for why in &preview.held {
                println!("retention held: {why}");
            }
            if preview.prune.is_empty() {
                println!(
                    "retention: prunes nothing now ({} kept)",
                    preview.keep.len()
                );
            } else {
                println!(
                    "retention: would prune {} backup(s) at the next success:",
                    preview.prune.len()
                );
                for r in &preview.prune {
                    println!("  #{}: {}", r.id, r.reason);
                }
            }
            if dry_run {
                println!("(dry run: nothing saved)");
            } else {
                engine.set_policy(s.id, database.as_deref(), &p).await?;
                println!("saved");
            }
        }
        Command::Policy(PolicyCommand::Clear { server, database }) => {
            let s = engine.server_by_name(&server).await?;
            engine.clear_policy(s.id, &database).await?;
            println!("{database} now inherits the server's default policy");
        }
        Command::TestRestore(args) => crate::cli_proof::run(engine, args).await?,
        Command::Identity(cmd) => crate::cli_proof::identity(engine, cmd).await?,
        Command::Schedule { server, json } => {
            let s = engine.server_by_name(&server).await?;
            let rows = engine.schedule_status(s.id, chrono::Utc::now()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:<24} {:<28} {:<18} {:<18} {:<18} FLAGS",
                    "DATABASE", "SCHEDULE", "NEXT (UTC)", "LAST SUCCESS", "LAST PROVEN"
                );
                let t = |d: Option<chrono::DateTime<chrono::Utc>>| {
                    d.map(|d| d.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_else(|| "-".into())
                };
                for r in rows {
                    let mut flags = Vec::new();
                    if r.overdue {
                        flags.push("OVERDUE".to_string());
                    }
                    if !r.covered {
                        flags.push("not covered".into());
                    }
                    if !r.enabled {
                        flags.push("disabled".into());
                    }
                    if let Some(g) = r.gone_since {
                        flags.push(format!("gone since {}", g.format("%Y-%m-%d")));
                    }
                    if let Some(f) = r.proof_flag {
                        flags.push(f.label().to_uppercase());
                    }
                    if let Some(e) = &r.error {
                        flags.push(e.clone());
                    }
                    let name = match &r.target {
                        engine::catalog::Target::Globals => "(globals)".to_string(),
                        engine::catalog::Target::Database(db) => db.clone(),
                    };
                    println!(
                        "{:<24} {:<28} {:<18} {:<18} {:<18} {}",
                        name,
                        r.describe,
                        t(r.next_run),
                        t(r.last_success.as_ref().and_then(|b| b.finished_at)),
                        t(r.last_proven_at),
                        flags.join(", ")
                    );
                }
            }
        }
    }
    Ok(())
}

/// Waits until a queued run ends.
async fn wait_for(engine: &Engine, id: i64) -> anyhow::Result<engine::catalog::Backup> {
    loop {
        let row = engine.backup(id).await?;
        if !row.status.is_active() {
            return Ok(row);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

fn describe_source(s: &engine::PolicySource) -> &'static str {
    match s {
        engine::PolicySource::Database { declared: true } => {
            "database override, declared in pgshelf.toml"
        }
        engine::PolicySource::Database { declared: false } => "database override",
        engine::PolicySource::Server { declared: true } => {
            "inherited from the server default, declared in pgshelf.toml"
        }
        engine::PolicySource::Server { declared: false } => "inherited from the server default",
        engine::PolicySource::Default => "pgshelf's built-in default (nothing set)",
    }
}

/// Servers as `server list` prints them (the same locally and with --remote).
pub fn print_servers(servers: &[model::server::Server], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(servers)?);
        return Ok(());
    }
    println!(
        "{:<20} {:<30} {:<16} {:<8}",
        "NAME", "ADDRESS", "USER", "SSLMODE"
    );
    for s in servers {
        println!(
            "{:<20} {:<30} {:<16} {:<8}",
            s.name,
            s.address(),
            s.user,
            s.sslmode
        );
    }
    Ok(())
}

/// Databases as `databases` prints them.
pub fn print_databases(dbs: &[model::server::DatabaseInfo], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(dbs)?);
        return Ok(());
    }
    for d in dbs {
        let size = d
            .size_bytes
            .map(|b| human_bytes(b as u64))
            .unwrap_or_else(|| "no access".into());
        println!("{:<32} {size}", d.name);
    }
    Ok(())
}

/// Backups as `list` prints them.
pub fn print_backups(rows: &[model::backup::Backup], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(rows)?);
        return Ok(());
    }
    println!(
        "{:>6} {:<16} {:<20} {:<10} {:>10} {:<20} {:>9}  LOCATION / CAUSE",
        "ID", "SERVER", "DATABASE", "STATUS", "SIZE", "STARTED (UTC)", "DURATION"
    );
    for r in rows {
        let started = r.taken_at().format("%Y-%m-%d %H:%M:%S");
        let dur = r
            .duration_ms
            .map(|d| format!("{:.1}s", d as f64 / 1000.0))
            .unwrap_or_else(|| "-".into());
        let tail = match r.status {
            model::backup::BackupStatus::Failed | model::backup::BackupStatus::Cancelled => {
                r.cause.clone().unwrap_or_default()
            }
            _ => r.location.clone().unwrap_or_default(),
        };
        // Why a backup is suspect, one reason a line under it.
        let reasons: String = r
            .verification
            .iter()
            .map(|why| format!("\n{:>6} suspect: {why}", ""))
            .collect();
        println!(
            "{:>6} {:<16} {:<20} {:<10} {:>10} {:<20} {:>9}  {}",
            r.id,
            r.server_name,
            r.target.to_string(),
            // A pruned backup's artifact is gone: say so, not "succeeded".
            if r.pruned_at.is_some() {
                "pruned"
            } else {
                r.status.as_str()
            },
            human_bytes(r.stored_bytes as u64),
            started,
            dur,
            tail
        );
        if !reasons.is_empty() {
            println!("{}", reasons.trim_start_matches('\n'));
        }
    }
    Ok(())
}
