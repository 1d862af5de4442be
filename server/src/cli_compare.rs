//! `pgshelf compare`: a table in a scratch database (restored from a
//! backup) compared with the live table, and the put-back script.
//!
//! ```text
//! pgshelf compare --scratch DB --table SCHEMA.TABLE [--json] [--emit-sql FILE]
//!                 [--deleted] [--changed] [--key VALUE|JSON-ARRAY ...]
//!                 [--server NAME --database LIVE]
//!                 [--apply --confirm SCHEMA.TABLE]
//! ```

use std::path::PathBuf;

use clap::Args;
use engine::compare::{Comparison, DiffSet, Pair, PutBack, PutBackRecord, PutBackSummary};
use engine::Engine;

/// Arguments of `pgshelf compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The scratch database holding the backup's copy of the table.
    #[arg(long, value_name = "DB")]
    pub scratch: String,
    /// The table, SCHEMA.TABLE (double-quote a part holding a dot or a quote).
    #[arg(long, value_name = "SCHEMA.TABLE")]
    pub table: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Write the put-back script (INSERT ... ON CONFLICT in one transaction) to FILE.
    #[arg(long, value_name = "FILE")]
    pub emit_sql: Option<PathBuf>,
    /// Put back the rows deleted since the backup (default: deleted and
    /// changed, unless --changed or --key is given).
    #[arg(long)]
    pub deleted: bool,
    /// Put back the rows changed since the backup (default: see --deleted).
    #[arg(long)]
    pub changed: bool,
    /// Put back the row with this key: its value, or a JSON array of the
    /// values of a key of several columns (e.g. '["north", "10"]'). Repeatable.
    #[arg(long, value_name = "KEY")]
    pub key: Vec<String>,
    /// The server of a scratch database pgshelf did not record (with --database).
    #[arg(long, value_name = "NAME", requires = "database")]
    pub server: Option<String>,
    /// The live database to compare with, on --server (default: the
    /// recorded scratch database's source database).
    #[arg(long, value_name = "LIVE", requires = "server")]
    pub database: Option<String>,
    /// Run the put-back on the live database now, in one transaction (recorded).
    #[arg(long, requires = "confirm")]
    pub apply: bool,
    /// The table's name exactly as pgshelf prints it, to confirm --apply.
    #[arg(long, value_name = "SCHEMA.TABLE")]
    pub confirm: Option<String>,
}

/// What `--json` prints.
#[derive(serde::Serialize)]
struct Report<'a> {
    comparison: &'a Comparison,
    #[serde(skip_serializing_if = "Option::is_none")]
    script: Option<ScriptReport<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    put_back: Option<&'a PutBackRecord>,
}

#[derive(serde::Serialize)]
struct ScriptReport<'a> {
    file: String,
    #[serde(flatten)]
    summary: &'a PutBackSummary,
}

impl CompareArgs {
    /// What to put back, from --deleted, --changed and --key.
    fn pick(&self) -> anyhow::Result<PutBack> {
        let mut keys = Vec::new();
        for k in &self.key {
            if k.trim_start().starts_with('[') {
                let v: Vec<String> = serde_json::from_str(k).map_err(|e| {
                    anyhow::anyhow!(
                        "--key {k}: not a JSON array of strings ({e}). Fix: write each value as a string, e.g. --key '[\"north\", \"10\"]'"
                    )
                })?;
                keys.push(v);
            } else {
                keys.push(vec![k.clone()]);
            }
        }
        let default = !self.deleted && !self.changed && keys.is_empty();
        Ok(PutBack {
            deleted: self.deleted || default,
            changed: self.changed || default,
            keys,
        })
    }
}

/// Runs `pgshelf compare`.
pub async fn run(engine: &Engine, args: CompareArgs) -> anyhow::Result<()> {
    let pick = args.pick()?;
    let pair = match (&args.server, &args.database) {
        (Some(server), Some(database)) => {
            let s = engine.server_by_name(server).await?;
            Pair {
                scratch_server_id: s.id,
                scratch: args.scratch.clone(),
                live_server_id: s.id,
                live: database.clone(),
                backup_id: None,
            }
        }
        _ => engine.scratch_pair(&args.scratch).await.map_err(|e| {
            anyhow::anyhow!(
                "{e} (for a scratch database pgshelf did not make, name the live one with --server NAME --database DB)"
            )
        })?,
    };
    let c = engine.compare_pair(&pair, &args.table).await?;
    let mut script = None;
    if let Some(file) = &args.emit_sql {
        let f = tokio::fs::File::create(file).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot create {}: {e}. Fix: write it to a directory you may write to",
                file.display()
            )
        })?;
        let mut w = tokio::io::BufWriter::new(f);
        let summary = engine
            .put_back_script_pair(&pair, &args.table, &pick, Some(&c), &mut w)
            .await?;
        script = Some((file.display().to_string(), summary));
    }
    let mut record = None;
    if args.apply {
        let confirm = args.confirm.as_deref().unwrap_or_default();
        let who = format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        );
        record = Some(
            engine
                .apply_put_back_pair(&pair, &args.table, &pick, confirm, &who)
                .await?,
        );
    }
    if args.json {
        let report = Report {
            comparison: &c,
            script: script.as_ref().map(|(file, summary)| ScriptReport {
                file: file.clone(),
                summary,
            }),
            put_back: record.as_ref(),
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    print_comparison(&c);
    if let Some((file, s)) = &script {
        println!(
            "wrote the put-back script {file}: {} row(s) ({} deleted since the backup, {} changed), {} bytes, sha256 {}",
            s.rows(),
            s.deleted,
            s.changed,
            s.bytes,
            s.sha256
        );
        for k in &s.skipped {
            println!("  not put back {}: {}", show_key(&k.key), k.reason);
        }
    }
    if let Some(r) = &record {
        println!(
            "put back into {} (put-back {}): {} row(s) inserted, {} updated, by {}",
            r.database, r.id, r.rows_inserted, r.rows_updated, r.who
        );
    }
    Ok(())
}

/// How many examples of each kind the text output shows.
const SHOWN: usize = 10;

fn print_comparison(c: &Comparison) {
    println!(
        "{} in {} (the backup's copy) against {} (live), matched on ({})",
        c.table,
        c.scratch_database,
        c.live_database,
        c.key.join(", ")
    );
    println!(
        "rows: {} in the copy, {} live; {} unchanged",
        c.scratch_rows, c.live_rows, c.unchanged
    );
    let section = |title: &str, set: &DiffSet, changed: bool| {
        println!("{title}: {}", set.count);
        for r in set.sample.iter().take(SHOWN) {
            if changed {
                let pos = |name: &str| c.columns.iter().position(|n| n == name);
                let cols: Vec<String> = r
                    .changed_columns
                    .iter()
                    .map(|name| {
                        let v = |row: &Option<Vec<Option<String>>>| {
                            pos(name)
                                .and_then(|i| row.as_ref().and_then(|r| r.get(i).cloned()))
                                .flatten()
                        };
                        format!(
                            "{name}: {} -> {}",
                            show(v(&r.scratch).as_deref()),
                            show(v(&r.live).as_deref())
                        )
                    })
                    .collect();
                println!("  {}  {}", show_key(&r.key), cols.join("; "));
            } else {
                println!("  {}", show_key(&r.key));
            }
        }
        if set.count > SHOWN as u64 {
            println!(
                "  ... and {} more (--json shows up to {})",
                set.count - SHOWN as u64,
                set.sample.len().max(SHOWN)
            );
        }
    };
    section("deleted since the backup", &c.deleted, false);
    section("changed since the backup", &c.changed, true);
    section(
        "added since the backup (a put-back leaves these alone)",
        &c.added,
        false,
    );
}

/// A value for a terminal: NULL, or the text with control characters
/// escaped, cut at 60 characters.
fn show(v: Option<&str>) -> String {
    match v {
        None => "NULL".into(),
        Some(s) => {
            let mut out: String = s.chars().take(60).flat_map(char::escape_debug).collect();
            if s.chars().count() > 60 {
                out.push('…');
            }
            format!("\"{out}\"")
        }
    }
}

fn show_key(k: &[String]) -> String {
    let parts: Vec<String> = k.iter().map(|v| show(Some(v))).collect();
    format!("({})", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: CompareArgs,
    }

    fn pick(args: &[&str]) -> anyhow::Result<PutBack> {
        let mut v = vec!["x", "--scratch", "s", "--table", "a.b"];
        v.extend(args);
        T::try_parse_from(v).unwrap().a.pick()
    }

    #[test]
    fn picks() {
        assert_eq!(pick(&[]).unwrap(), PutBack::all());
        let p = pick(&["--deleted"]).unwrap();
        assert!(p.deleted && !p.changed && p.keys.is_empty());
        let p = pick(&["--key", "7", "--key", r#"["north", "10"]"#]).unwrap();
        assert!(!p.deleted && !p.changed);
        assert_eq!(
            p.keys,
            vec![vec!["7".to_string()], vec!["north".into(), "10".into()]]
        );
        assert!(pick(&["--key", "[1, 2]"])
            .unwrap_err()
            .to_string()
            .contains("Fix:"));
        assert!(T::try_parse_from(["x", "--scratch", "s", "--table", "a.b", "--apply"]).is_err());
        assert!(
            T::try_parse_from(["x", "--scratch", "s", "--table", "a.b", "--server", "m"]).is_err()
        );
    }

    #[test]
    fn values_for_a_terminal() {
        assert_eq!(show(None), "NULL");
        assert_eq!(show(Some("a\nb")), "\"a\\nb\"");
        assert!(show(Some(&"x".repeat(100))).ends_with("…\""));
        assert_eq!(
            show_key(&["north".into(), "10".into()]),
            "(\"north\", \"10\")"
        );
    }
}
