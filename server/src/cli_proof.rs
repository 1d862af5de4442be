//! `pgshelf test-restore (--backup ID | --server NAME --database DB)
//! [--restore-server NAME] [--identity FILE] [--json]`: restores a backup into a scratch
//! database, compares it with its manifest, drops the scratch database and
//! prints what it found. Exits non-zero when the test fails, with the cause.

use clap::{ArgGroup, Args, Subcommand};
use engine::proof::{TestRestore, TestRestoreStatus, TestRestoreTarget, TestRestoreTrigger};
use engine::Engine;

/// What `test-restore` takes.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("what").required(true).args(["backup", "server"])))]
pub struct TestRestoreArgs {
    /// The backup to prove (see `pgshelf list`).
    #[arg(long, conflicts_with_all = ["server", "database"])]
    pub backup: Option<i64>,
    /// The server whose database's newest good backup is proven (with --database).
    #[arg(long, requires = "database")]
    pub server: Option<String>,
    #[arg(long, requires = "server")]
    pub database: Option<String>,
    /// The configured server to restore on (default: the policy's
    /// test-restore server, else the backup's own).
    #[arg(long)]
    pub restore_server: Option<String>,
    /// The age identity file (age-keygen's key.txt) of an encrypted backup;
    /// read for this test only.
    #[arg(long, value_name = "FILE")]
    pub identity: Option<std::path::PathBuf>,
    /// Print one JSON object (the recorded test-restore).
    #[arg(long)]
    pub json: bool,
}

/// Runs `test-restore`. Errors carry the engine's message (cause and fix).
pub async fn run(engine: &Engine, args: TestRestoreArgs) -> anyhow::Result<()> {
    let target = match (args.backup, args.server, args.database) {
        (Some(id), _, _) => TestRestoreTarget::Backup(id),
        (None, Some(server), Some(database)) => TestRestoreTarget::Database {
            server_id: engine.server_by_name(&server).await?.id,
            database,
        },
        _ => anyhow::bail!(
            "test-restore needs --backup ID, or --server NAME with --database DB. Fix: add them"
        ),
    };
    let restore_server = match &args.restore_server {
        Some(name) => Some(engine.server_by_name(name).await?.id),
        None => None,
    };
    let identity = crate::cli_restore::identity(args.identity.as_deref())?;
    let t = engine
        .test_restore_with(
            target,
            restore_server,
            TestRestoreTrigger::Manual,
            "cli",
            identity,
        )
        .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&t)?);
    } else {
        print_report(&t);
    }
    match t.status {
        TestRestoreStatus::Passed => Ok(()),
        _ => anyhow::bail!(
            "test-restore #{} of {}/{} FAILED: {}",
            t.id,
            t.server_name,
            t.database,
            t.cause().unwrap_or_default()
        ),
    }
}

fn count(n: Option<i64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_else(|| "-".into())
}

/// What a test-restore did, for people.
pub fn print_report(t: &TestRestore) {
    println!(
        "test-restore #{} of {}/{} (backup #{}) on {}: {} in {:.1}s",
        t.id,
        t.server_name,
        t.database,
        count(t.backup_id),
        t.restore_server_name.as_deref().unwrap_or("-"),
        t.status.as_str().to_uppercase(),
        t.duration_ms.unwrap_or(0) as f64 / 1000.0
    );
    if let Some(s) = &t.scratch {
        println!(
            "scratch database {s}: {}",
            if t.scratch_dropped {
                "dropped"
            } else {
                "NOT dropped (drop it with `pgshelf scratch drop`)"
            }
        );
    }
    if !t.tables.is_empty() {
        println!("{:<48} {:>12} {:>12}", "TABLE", "RESTORED", "RECORDED");
        for c in &t.tables {
            let recorded = match (c.recorded, c.estimated, c.data_excluded) {
                (Some(n), true, _) => format!("~{n} (estimate)"),
                (Some(_), _, true) => "0 (data excluded)".into(),
                (n, _, _) => count(n),
            };
            println!("{:<48} {:>12} {:>12}", c.table, count(c.restored), recorded);
        }
    }
    if !t.mismatches.is_empty() {
        println!("mismatches:");
        for m in &t.mismatches {
            println!("  {m}");
        }
    }
    for n in &t.notes {
        println!("note: {n}");
    }
    if let Some(e) = &t.error {
        println!("error: {e}");
    }
}

/// `pgshelf identity store|list|forget`: age identities kept sealed with
/// the instance key so scheduled test-restores can decrypt encrypted
/// backups. Opt-in, with the risk: whoever holds the pgshelf host and its
/// instance key can then read those backups.
#[derive(Debug, Subcommand)]
pub enum IdentityCommand {
    /// Store the secret keys of an identity file, sealed (one per recipient).
    Store {
        /// The identity file (age-keygen's key.txt).
        #[arg(long, value_name = "FILE")]
        identity: std::path::PathBuf,
        /// Confirms the risk: the private key then lives on this host.
        #[arg(long)]
        i_understand_the_risk: bool,
    },
    /// The recipients whose identities are stored (never the secrets).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Forget the stored identity of a recipient (age1...).
    Forget { recipient: String },
}

/// Runs an `identity` command.
pub async fn identity(engine: &Engine, cmd: IdentityCommand) -> anyhow::Result<()> {
    match cmd {
        IdentityCommand::Store {
            identity,
            i_understand_the_risk,
        } => {
            if !i_understand_the_risk {
                anyhow::bail!(
                    "storing an identity puts the private key on this host (sealed with the instance key): whoever takes the host and its data directory can decrypt these backups. Fix: add --i-understand-the-risk to store it anyway, or give --identity to each test-restore instead"
                );
            }
            let id = engine::crypt::Identity::read_file(&identity)?;
            for r in engine.store_identity(&id, "cli").await? {
                println!("stored the identity of {r}");
            }
        }
        IdentityCommand::List { json } => {
            let list = engine.stored_identities().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for i in list {
                    println!(
                        "{}  stored by {} at {}",
                        i.recipient,
                        i.stored_by,
                        i.stored_at.format("%Y-%m-%d %H:%M UTC")
                    );
                }
            }
        }
        IdentityCommand::Forget { recipient } => {
            if engine.forget_identity(&recipient).await? {
                println!("forgot the identity of {recipient}");
            } else {
                anyhow::bail!(
                    "no identity is stored for {recipient}. Fix: see `pgshelf identity list`"
                );
            }
        }
    }
    Ok(())
}
