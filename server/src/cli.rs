//! The command line: `serve` (the default), `server add|list|test|remove`,
//! `databases`, `backup`, `list`, `delete`.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use engine::catalog::BackupFilter;
use engine::secrets::Secret;
use engine::servers::ServerInput;
use engine::workers::human_bytes;
use engine::Engine;

#[derive(Debug, Parser)]
#[command(name = "pgshelf", version, about = "PostgreSQL logical backups, kept honest")]
pub struct Cli {
    /// Configuration file (default: $PGSHELF_CONFIG, else ./pgshelf.toml if present).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
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

/// Runs a non-serve command. Errors carry the engine's message (cause and fix).
pub async fn run(engine: &Engine, cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Serve => unreachable!("serve is handled by main"),
        Command::Server(ServerCommand::Add {
            name,
            url,
            password_stdin,
        }) => {
            let mut input = ServerInput::from_url(&name, &url)?;
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
                "added server {} ({}@{}:{}, password {})",
                s.name,
                s.user,
                s.host,
                s.port,
                if s.has_password { "stored encrypted" } else { "not set" }
            );
        }
        Command::Server(ServerCommand::List { json }) => {
            let servers = engine.servers().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&servers)?);
            } else {
                println!("{:<20} {:<30} {:<16} {:<8}", "NAME", "ADDRESS", "USER", "SSLMODE");
                for s in servers {
                    println!(
                        "{:<20} {:<30} {:<16} {:<8}",
                        s.name,
                        format!("{}:{}", s.host, s.port),
                        s.user,
                        s.sslmode
                    );
                }
            }
        }
        Command::Server(ServerCommand::Test { name }) => {
            let s = engine.server_by_name(&name).await?;
            let r = engine.test_connection(s.id).await?;
            println!("{}: PostgreSQL {}{}", s.name, r.info.version, if r.info.in_recovery { " (standby)" } else { "" });
            match r.tools {
                Ok(t) => println!("pg_dump {} from {}", t.version, t.bin_dir.display()),
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
            let dbs = engine.databases(s.id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&dbs)?);
            } else {
                for d in dbs {
                    let size = d.size_bytes.map(|b| human_bytes(b as u64)).unwrap_or_else(|| "no access".into());
                    println!("{:<32} {size}", d.name);
                }
            }
        }
        Command::Backup { server, database } => {
            let s = engine.server_by_name(&server).await?;
            let row = engine.backup_now(s.id, &database, "cli").await?;
            eprintln!(
                "backup {} of {}/{} succeeded: {} stored ({} raw) in {:.1}s at {}",
                row.id,
                row.server_name,
                row.database,
                human_bytes(row.stored_bytes as u64),
                human_bytes(row.raw_bytes as u64),
                row.duration_ms.unwrap_or(0) as f64 / 1000.0,
                row.location.as_deref().unwrap_or("-"),
            );
            println!("{}", row.id);
        }
        Command::List { server, database, json } => {
            let server_id = match server {
                Some(n) => Some(engine.server_by_name(&n).await?.id),
                None => None,
            };
            let rows = engine
                .backups(&BackupFilter {
                    server_id,
                    database,
                    limit: None,
                })
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:>6} {:<16} {:<20} {:<10} {:>10} {:<20} {:>9}  LOCATION / CAUSE",
                    "ID", "SERVER", "DATABASE", "STATUS", "SIZE", "STARTED (UTC)", "DURATION"
                );
                for r in rows {
                    let started = r.started_at.unwrap_or(r.queued_at).format("%Y-%m-%d %H:%M:%S");
                    let dur = r
                        .duration_ms
                        .map(|d| format!("{:.1}s", d as f64 / 1000.0))
                        .unwrap_or_else(|| "-".into());
                    let tail = match r.status() {
                        engine::catalog::BackupStatus::Failed => r.cause.clone().unwrap_or_default(),
                        _ => r.location.clone().unwrap_or_default(),
                    };
                    println!(
                        "{:>6} {:<16} {:<20} {:<10} {:>10} {:<20} {:>9}  {}",
                        r.id,
                        r.server_name,
                        r.database,
                        r.status().as_str(),
                        human_bytes(r.stored_bytes as u64),
                        started,
                        dur,
                        tail
                    );
                }
            }
        }
        Command::Delete { id } => {
            engine.delete_backup(id).await?;
            println!("deleted backup {id}");
        }
    }
    Ok(())
}
