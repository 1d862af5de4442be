//! `pgshelf test-restore (--backup ID | --server NAME --database DB)
//! [--restore-server NAME] [--json]`: restores a backup into a scratch
//! database, compares it with its manifest, drops the scratch database and
//! prints what it found. Exits non-zero when the test fails, with the cause.

use clap::{ArgGroup, Args};
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
    let t = engine
        .test_restore(target, restore_server, TestRestoreTrigger::Manual, "cli")
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
