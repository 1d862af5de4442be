//! Restore commands: `restore-table`, `restore`, `scratch list|drop` and
//! `rebuild`.
//!
//! ```text
//! pgshelf restore-table --backup ID --table SCHEMA.TABLE [--table ...] [--server NAME] [--into DB] [--with-referenced] [--identity FILE] [--json]
//! pgshelf restore --backup ID --into DB [--server NAME] [--clean --confirm DB] [--jobs N] [--identity FILE]
//! pgshelf scratch list | pgshelf scratch drop DB
//! pgshelf rebuild --server NAME [--to NAME] [--database DB ...] [--confirm TARGET] [--json]
//! ```

use clap::Subcommand;
use engine::restore::{RestoreRequest, TableRestoreRequest, TableRestoreResult};
use engine::Engine;
use serde::Serialize;

/// Who the CLI records as having run a restore.
const WHO: &str = "cli";

#[derive(Debug, Subcommand)]
pub enum RestoreCommand {
    /// Restore tables of a backup, whole, into a new scratch database.
    RestoreTable {
        #[arg(long)]
        backup: i64,
        /// SCHEMA.TABLE (double-quote a part holding dots or spaces); repeat for more.
        #[arg(long = "table", required = true)]
        tables: Vec<String>,
        /// Restore onto this server (default: the backup's own).
        #[arg(long)]
        server: Option<String>,
        /// Name of the scratch database (new, or one pgshelf created before).
        #[arg(long)]
        into: Option<String>,
        /// Also restore the tables the chosen ones reference by foreign key.
        #[arg(long)]
        with_referenced: bool,
        /// The age identity file (age-keygen's key.txt) of an encrypted backup;
        /// read for this restore only.
        #[arg(long, value_name = "FILE")]
        identity: Option<std::path::PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Restore a whole backup into a new database, or over an existing one.
    Restore {
        #[arg(long)]
        backup: i64,
        /// The target database (created when missing).
        #[arg(long)]
        into: String,
        /// Restore onto this server (default: the backup's own).
        #[arg(long)]
        server: Option<String>,
        /// Replace the objects of an existing database (needs --confirm).
        #[arg(long, requires = "confirm")]
        clean: bool,
        /// The target database's name again, to confirm overwriting it.
        #[arg(long)]
        confirm: Option<String>,
        /// Parallel pg_restore jobs.
        #[arg(long, default_value_t = 1)]
        jobs: u32,
        /// The age identity file (age-keygen's key.txt) of an encrypted backup;
        /// read for this restore only.
        #[arg(long, value_name = "FILE")]
        identity: Option<std::path::PathBuf>,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Scratch databases pgshelf created.
    #[command(subcommand)]
    Scratch(ScratchCommand),
    /// Rebuild a server from its backups: the newest good globals backup
    /// first, then each database's newest good backup. Prints the plan;
    /// runs it only with --confirm naming the target server.
    Rebuild {
        /// The server whose backups are restored.
        #[arg(long)]
        server: String,
        /// The server to restore onto (default: the same one).
        #[arg(long)]
        to: Option<String>,
        /// A database to restore (repeat); default: every one with a backup.
        #[arg(long = "database")]
        databases: Vec<String>,
        /// The target server's name, to confirm running the plan.
        #[arg(long)]
        confirm: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScratchCommand {
    /// List the scratch databases that still exist.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Drop a scratch database pgshelf created (any other name is refused).
    Drop {
        name: String,
        /// The server, when two have a scratch database of this name.
        #[arg(long)]
        server: Option<String>,
    },
}

/// The one JSON object `restore-table --json` prints.
#[derive(Debug, Serialize)]
struct TableRestoreJson<'a> {
    database: &'a str,
    server: &'a str,
    connection: &'a str,
    backup_id: i64,
    tables: Vec<TableJson<'a>>,
    skipped: &'a [engine::restore::SkippedObject],
    errors: &'a [String],
    duration_ms: i64,
    /// Bytes read from storage.
    bytes_read: u64,
}

#[derive(Debug, Serialize)]
struct TableJson<'a> {
    schema: &'a str,
    name: &'a str,
    rows_restored: i64,
    rows_recorded: Option<i64>,
    recorded_estimate: bool,
}

fn table_json(r: &TableRestoreResult) -> TableRestoreJson<'_> {
    TableRestoreJson {
        database: &r.scratch.name,
        server: &r.scratch.server_name,
        connection: &r.scratch.connection,
        backup_id: r.scratch.backup_id,
        tables: r
            .tables
            .iter()
            .map(|t| TableJson {
                schema: &t.schema,
                name: &t.name,
                rows_restored: t.rows_restored,
                rows_recorded: t.rows_recorded,
                recorded_estimate: t.recorded_estimate,
            })
            .collect(),
        skipped: &r.skipped,
        errors: &r.errors,
        duration_ms: r.duration_ms,
        bytes_read: r.bytes_read,
    }
}

/// The identity in `--identity FILE`, parsed (never printed).
pub fn identity(path: Option<&std::path::Path>) -> anyhow::Result<Option<engine::crypt::Identity>> {
    Ok(path.map(engine::crypt::Identity::read_file).transpose()?)
}

async fn server_id(engine: &Engine, name: Option<&str>) -> anyhow::Result<Option<i64>> {
    Ok(match name {
        Some(n) => Some(engine.server_by_name(n).await?.id),
        None => None,
    })
}

/// Runs a restore command. Errors carry the engine's message (cause and fix).
pub async fn run(engine: &Engine, cmd: RestoreCommand) -> anyhow::Result<()> {
    match cmd {
        RestoreCommand::RestoreTable {
            backup,
            tables,
            server,
            into,
            with_referenced,
            identity: identity_file,
            json,
        } => {
            let identity = identity(identity_file.as_deref())?;
            let req = TableRestoreRequest {
                backup_id: backup,
                tables,
                server_id: server_id(engine, server.as_deref()).await?,
                into,
                with_referenced,
            };
            let r = engine.restore_tables_with(&req, WHO, identity).await?;
            if json {
                println!("{}", serde_json::to_string(&table_json(&r))?);
                return Ok(());
            }
            println!(
                "restored {} table(s) of backup {} into {} on {} in {:.1}s",
                r.tables.len(),
                backup,
                r.scratch.name,
                r.scratch.server_name,
                r.duration_ms as f64 / 1000.0
            );
            println!("connect with: psql {}", r.scratch.connection);
            println!("{:<48} {:>12} {:>12}", "TABLE", "RESTORED", "RECORDED");
            for t in &r.tables {
                let recorded = match (t.rows_recorded, t.recorded_estimate) {
                    (Some(n), false) => n.to_string(),
                    (Some(n), true) => format!("~{n}"),
                    (None, _) => "-".into(),
                };
                let name = engine::toc::TableRef::new(&t.schema, &t.name).display();
                println!("{name:<48} {:>12} {recorded:>12}", t.rows_restored);
            }
            for s in &r.skipped {
                println!("skipped {}: {}", s.what, s.reason);
            }
            for e in &r.errors {
                println!("pg_restore error (went past it): {e}");
            }
            println!("drop it with: pgshelf scratch drop {}", r.scratch.name);
        }
        RestoreCommand::Restore {
            backup,
            into,
            server,
            clean,
            confirm,
            jobs,
            identity: identity_file,
            json,
        } => {
            let identity = identity(identity_file.as_deref())?;
            let req = RestoreRequest {
                backup_id: backup,
                server_id: server_id(engine, server.as_deref()).await?,
                into,
                clean,
                confirm,
                jobs,
            };
            let r = engine.restore_with(&req, WHO, identity).await?;
            if json {
                println!("{}", serde_json::to_string(&r)?);
                return Ok(());
            }
            println!(
                "restored backup {} into {} on {} in {:.1}s: {} table(s), {} rows",
                backup,
                r.database,
                r.server_name,
                r.duration_ms as f64 / 1000.0,
                r.tables.len(),
                r.tables.iter().map(|t| t.2).sum::<i64>()
            );
            for w in &r.warnings {
                println!("pg_restore error (went past it): {w}");
            }
        }
        RestoreCommand::Scratch(ScratchCommand::List { json }) => {
            let list = engine.scratch_databases(false).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            println!(
                "{:<40} {:<16} {:<20} {:>7} {:<6} {:<17} CONNECTION",
                "NAME", "SERVER", "FROM DATABASE", "BACKUP", "FOR", "CREATED (UTC)"
            );
            for s in list {
                println!(
                    "{:<40} {:<16} {:<20} {:>7} {:<6} {:<17} {}",
                    s.name,
                    s.server_name,
                    s.database,
                    s.backup_id,
                    s.purpose,
                    s.created_at.format("%Y-%m-%d %H:%M"),
                    s.connection
                );
            }
        }
        RestoreCommand::Rebuild {
            server,
            to,
            databases,
            confirm,
            json,
        } => {
            let source = engine.server_by_name(&server).await?.id;
            let target = match &to {
                Some(t) => engine.server_by_name(t).await?.id,
                None => source,
            };
            let plan = engine.rebuild_plan(source, target, &databases).await?;
            let Some(confirm) = confirm else {
                if json {
                    println!("{}", serde_json::to_string_pretty(&plan)?);
                } else {
                    println!(
                        "rebuild of {} onto {} would run, in order:",
                        plan.source_server, plan.target_server
                    );
                    for (i, st) in plan.steps.iter().enumerate() {
                        println!(
                            "  {}. {} from backup {} ({})",
                            i + 1,
                            if st.kind == "globals" {
                                "globals".to_owned()
                            } else {
                                format!("database {}", st.database)
                            },
                            st.backup_id,
                            st.taken_at.format("%Y-%m-%d %H:%M UTC")
                        );
                    }
                    for m in &plan.missing {
                        println!("  left out, no usable backup: {m}");
                    }
                    println!("run it with: --confirm {}", plan.target_server);
                }
                return Ok(());
            };
            let r = engine.rebuild(&plan, &confirm, WHO).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                for st in &r.steps {
                    let what = if st.step.kind == "globals" {
                        "globals".to_owned()
                    } else {
                        st.step.database.clone()
                    };
                    println!(
                        "{:<9} {what} (backup {}, {:.1}s){}",
                        st.status,
                        st.step.backup_id,
                        st.duration_ms as f64 / 1000.0,
                        st.error
                            .as_deref()
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default()
                    );
                }
            }
            if !r.ok() {
                anyhow::bail!(
                    "the rebuild of {} had failed steps (above)",
                    r.target_server
                );
            }
        }
        RestoreCommand::Scratch(ScratchCommand::Drop { name, server }) => {
            let sid = server_id(engine, server.as_deref()).await?;
            let s = engine.drop_scratch(&name, sid).await?;
            println!("dropped scratch database {} on {}", s.name, s.server_name);
        }
    }
    Ok(())
}
