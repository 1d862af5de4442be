//! What `/metrics` and `/healthz` report: the catalog's figures in the
//! Prometheus text exposition format 0.0.4 (written here by hand: a few
//! gauges and counters need no crate), and the health of the catalog and
//! of the background workers.
//!
//! A scrape reads the catalog only (no PostgreSQL, no storage), in one
//! transaction of eight aggregate queries, plus the workers' in-memory
//! status: cheap enough for a 15 s scrape interval.
//!
//! Labels: `server` (its current name), `database` (`""` for globals) and
//! `kind` (`database` or `globals`). Backups of deleted servers are left
//! out. Alert deliveries are labelled by `channel` (the name they were
//! recorded under, so a removed channel's deliveries still count) and
//! `status` (`sent`, `failed`: given up after its last attempt); those
//! waiting (first try or a retry) are a gauge, `..._pending`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, Utc};
use model::retention::Tier;
use model::worker::{WorkerState, WorkerStatus};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::catalog::metrics::MetricsRows;
use crate::{Engine, Error};

/// The `Content-Type` of [`Engine::metrics_text`]'s answer.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The finished statuses of a run, in the order `/metrics` lists them.
pub const RUN_STATUSES: [&str; 5] = ["verified", "suspect", "succeeded", "failed", "cancelled"];

/// How long `/healthz` waits for the catalog's answer.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);

/// The catalog's part of `/healthz`.
#[derive(Debug, Clone, Serialize)]
pub struct CatalogHealth {
    /// Whether a trivial query answered.
    pub ok: bool,
    /// How long it took, in milliseconds.
    pub ms: u64,
    /// Why it did not answer (never a secret: the catalog holds sealed
    /// secrets only, and errors name the query's failure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What `/healthz` answers: `status` is `ok` when the catalog answers,
/// `degraded` when it does not. Workers are reported as they are; a
/// worker's last error does not make pgshelf unhealthy (a failed backup is
/// a fact to alert on, not a reason to restart the process).
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    pub status: &'static str,
    pub catalog: CatalogHealth,
    pub workers: Vec<WorkerStatus>,
}

impl Health {
    /// Whether the catalog answered.
    pub fn ok(&self) -> bool {
        self.catalog.ok
    }
}

impl Engine {
    /// The Prometheus text exposition (format 0.0.4) of the catalog's
    /// figures and the workers' state. Reads the catalog only.
    pub async fn metrics_text(&self) -> Result<String, Error> {
        let rows = self.inner.catalog.metrics_rows().await?;
        Ok(render(&rows, &self.workers(), Utc::now()))
    }

    /// The catalog (a trivial query answers within [`HEALTH_TIMEOUT`]) and
    /// every worker's status.
    pub async fn health(&self) -> Health {
        let started = std::time::Instant::now();
        let answer = self.inner.catalog.ping(HEALTH_TIMEOUT).await;
        let ms = started.elapsed().as_millis() as u64;
        let catalog = match answer {
            Ok(()) => CatalogHealth {
                ok: true,
                ms,
                error: None,
            },
            Err(e) => CatalogHealth {
                ok: false,
                ms,
                error: Some(e.to_string()),
            },
        };
        Health {
            status: if catalog.ok { "ok" } else { "degraded" },
            catalog,
            workers: self.workers(),
        }
    }
}

/// Whether `given` is the configured token, in time independent of where
/// they differ and of their lengths (both are hashed first).
pub fn token_matches(given: &str, want: &str) -> bool {
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(want.as_bytes());
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// A label value escaped for the text format: `\` `"` and newline.
pub fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A sample value as the text format writes it.
fn value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// Seconds since the epoch, with milliseconds.
fn seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// One metric family being written.
struct Family<'a> {
    out: &'a mut String,
    name: &'static str,
}

fn family<'a>(out: &'a mut String, name: &'static str, kind: &str, help: &str) -> Family<'a> {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    Family { out, name }
}

impl Family<'_> {
    fn sample(&mut self, labels: &[(&str, &str)], v: f64) {
        self.out.push_str(self.name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(val));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", value(v));
    }
}

/// The exposition of `rows` and `workers` at `now` (pure).
pub fn render(rows: &MetricsRows, workers: &[WorkerStatus], now: DateTime<Utc>) -> String {
    let mut out = String::new();
    let t = |server: &'_ str, kind: &'_ str, database: &'_ str| {
        [
            ("server", server.to_owned()),
            ("database", database.to_owned()),
            ("kind", kind.to_owned()),
        ]
    };
    fn refs<'a>(l: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
        l.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    let mut f = family(
        &mut out,
        "pgshelf_backup_last_success_timestamp_seconds",
        "gauge",
        "When the newest good backup (verified, suspect or succeeded) of a database or of a server's globals finished, in seconds since the epoch; 0 if none ever succeeded.",
    );
    for r in &rows.targets {
        let l = t(&r.server, &r.kind, &r.database);
        f.sample(&refs(&l), r.good_finished_at.map(seconds).unwrap_or(0.0));
    }
    let mut f = family(
        &mut out,
        "pgshelf_backup_last_success_size_bytes",
        "gauge",
        "Stored size (compressed, as written to the destination) of the newest good backup, in bytes.",
    );
    for r in &rows.targets {
        if let Some(b) = r.good_stored_bytes.filter(|_| r.good_finished_at.is_some()) {
            f.sample(&refs(&t(&r.server, &r.kind, &r.database)), b as f64);
        }
    }
    let mut f = family(
        &mut out,
        "pgshelf_backup_last_success_duration_seconds",
        "gauge",
        "How long the newest good backup took, queued to recorded, in seconds.",
    );
    for r in &rows.targets {
        if let Some(ms) = r.good_duration_ms.filter(|_| r.good_finished_at.is_some()) {
            f.sample(
                &refs(&t(&r.server, &r.kind, &r.database)),
                ms as f64 / 1000.0,
            );
        }
    }
    let mut f = family(
        &mut out,
        "pgshelf_backup_last_run_duration_seconds",
        "gauge",
        "How long the newest finished run (good or failed) took, in seconds.",
    );
    for r in &rows.targets {
        if let (Some(_), Some(ms)) = (&r.last_status, r.last_duration_ms) {
            f.sample(
                &refs(&t(&r.server, &r.kind, &r.database)),
                ms as f64 / 1000.0,
            );
        }
    }
    let mut f = family(
        &mut out,
        "pgshelf_backup_last_run_status",
        "gauge",
        "Status of the newest finished run: 1 on the series of its status (verified, suspect, succeeded, failed, cancelled), 0 on the others.",
    );
    for r in &rows.targets {
        let Some(last) = &r.last_status else { continue };
        for s in RUN_STATUSES {
            let mut l = t(&r.server, &r.kind, &r.database).to_vec();
            l.push(("status", s.to_owned()));
            f.sample(&refs(&l), if last == s { 1.0 } else { 0.0 });
        }
    }

    // Held backups: total and per tier (a backup can hold several tiers).
    let mut held: BTreeMap<(String, String, String), (u64, [u64; 5])> = BTreeMap::new();
    for r in &rows.targets {
        held.entry((r.server.clone(), r.kind.clone(), r.database.clone()))
            .or_default();
    }
    for h in &rows.held {
        let e = held
            .entry((h.server.clone(), h.kind.clone(), h.database.clone()))
            .or_default();
        e.0 += 1;
        for name in h.tiers.as_deref().unwrap_or("").split(',') {
            if let Some(i) = Tier::ALL.iter().position(|t| t.name() == name.trim()) {
                e.1[i] += 1;
            }
        }
    }
    let mut f = family(
        &mut out,
        "pgshelf_backups_held",
        "gauge",
        "Good backups not pruned (still on storage) of a database or of a server's globals.",
    );
    for ((server, kind, database), (n, _)) in &held {
        f.sample(&refs(&t(server, kind, database)), *n as f64);
    }
    let mut f = family(
        &mut out,
        "pgshelf_backups_held_by_tier",
        "gauge",
        "Held backups that keep a retention tier (hourly, daily, weekly, monthly, yearly); one backup can keep several.",
    );
    for ((server, kind, database), (_, tiers)) in &held {
        for (i, tier) in Tier::ALL.iter().enumerate() {
            let mut l = t(server, kind, database).to_vec();
            l.push(("tier", tier.name().to_owned()));
            f.sample(&refs(&l), tiers[i] as f64);
        }
    }

    let mut f = family(
        &mut out,
        "pgshelf_backup_runs_total",
        "counter",
        "Finished runs recorded in the catalog, by status (verified, suspect, succeeded, failed, cancelled). Counts catalog rows: deleting a backup lowers it.",
    );
    for r in &rows.runs {
        let mut l = t(&r.server, &r.kind, &r.database).to_vec();
        l.push(("status", r.status.clone()));
        f.sample(&refs(&l), r.runs as f64);
    }

    let mut f = family(
        &mut out,
        "pgshelf_test_restore_last_status",
        "gauge",
        "Result of a database's newest finished test-restore: 1 on the series of its status (passed, failed), 0 on the other.",
    );
    for r in &rows.test_restores {
        for s in ["passed", "failed"] {
            let l = [
                ("server", r.server.clone()),
                ("database", r.database.clone()),
                ("status", s.to_owned()),
            ];
            f.sample(&refs(&l), if r.status == s { 1.0 } else { 0.0 });
        }
    }
    let mut f = family(
        &mut out,
        "pgshelf_test_restore_last_timestamp_seconds",
        "gauge",
        "When a database's newest finished test-restore ended, in seconds since the epoch.",
    );
    for r in &rows.test_restores {
        if let Some(at) = r.finished_at {
            let l = [
                ("server", r.server.clone()),
                ("database", r.database.clone()),
            ];
            f.sample(&refs(&l), seconds(at));
        }
    }
    let mut f = family(
        &mut out,
        "pgshelf_test_restore_last_age_seconds",
        "gauge",
        "Seconds since a database's newest finished test-restore ended, at the scrape.",
    );
    for r in &rows.test_restores {
        if let Some(at) = r.finished_at {
            let l = [
                ("server", r.server.clone()),
                ("database", r.database.clone()),
            ];
            let age = (now - at).num_milliseconds().max(0) as f64 / 1000.0;
            f.sample(&refs(&l), age);
        }
    }
    let mut f = family(
        &mut out,
        "pgshelf_test_restores_total",
        "counter",
        "Finished test-restores recorded in the catalog, by status (passed, failed).",
    );
    for r in &rows.test_restore_counts {
        let l = [
            ("server", r.server.clone()),
            ("database", r.database.clone()),
            ("status", r.status.clone()),
        ];
        f.sample(&refs(&l), r.runs as f64);
    }

    let mut f = family(
        &mut out,
        "pgshelf_destination_copies",
        "gauge",
        "Backup copies on a destination, by status (uploading, complete, failed, pruned).",
    );
    for c in &rows.copies {
        let l = [
            ("destination", c.destination.clone()),
            ("status", c.status.clone()),
        ];
        f.sample(&refs(&l), c.copies as f64);
    }
    let mut stored: BTreeMap<&str, i64> = BTreeMap::new();
    for c in &rows.copies {
        let e = stored.entry(c.destination.as_str()).or_default();
        if c.status == "complete" {
            *e += c.bytes;
        }
    }
    let mut f = family(
        &mut out,
        "pgshelf_destination_stored_bytes",
        "gauge",
        "Bytes of the complete copies on a destination.",
    );
    for (d, b) in &stored {
        f.sample(&[("destination", d)], *b as f64);
    }

    // Alert deliveries: every channel that exists or has deliveries, with
    // zeros where it has none of a status.
    let mut alerts: BTreeMap<&str, [i64; 4]> = BTreeMap::new();
    for c in &rows.channels {
        alerts.entry(c.as_str()).or_default();
    }
    for d in &rows.deliveries {
        let e = alerts.entry(d.channel.as_str()).or_default();
        match d.status.as_str() {
            "sent" => e[0] += d.deliveries,
            "failed" => e[1] += d.deliveries,
            _ => e[2] += d.deliveries,
        }
        e[3] += d.attempts;
    }
    let mut f = family(
        &mut out,
        "pgshelf_alert_deliveries_total",
        "counter",
        "Alert messages delivered to a channel (sent) or given up after the last attempt (failed), test messages included. Counts catalog rows.",
    );
    for (channel, n) in &alerts {
        f.sample(&[("channel", channel), ("status", "sent")], n[0] as f64);
        f.sample(&[("channel", channel), ("status", "failed")], n[1] as f64);
    }
    let mut f = family(
        &mut out,
        "pgshelf_alert_deliveries_pending",
        "gauge",
        "Alert messages not delivered yet: waiting for their first attempt or a retry.",
    );
    for (channel, n) in &alerts {
        f.sample(&[("channel", channel)], n[2] as f64);
    }
    let mut f = family(
        &mut out,
        "pgshelf_alert_delivery_attempts_total",
        "counter",
        "Attempts to deliver alert messages to a channel, retries included.",
    );
    for (channel, n) in &alerts {
        f.sample(&[("channel", channel)], n[3] as f64);
    }

    let mut f = family(
        &mut out,
        "pgshelf_worker_running",
        "gauge",
        "1 while a background worker (backup-runner, scheduler, discovery, test-restorer, restorer, copier) is doing something.",
    );
    for w in workers {
        let running = if w.state == WorkerState::Running {
            1.0
        } else {
            0.0
        };
        f.sample(&[("worker", &w.name)], running);
    }
    let mut f = family(
        &mut out,
        "pgshelf_worker_queued",
        "gauge",
        "Work waiting for a background worker.",
    );
    for w in workers {
        f.sample(&[("worker", &w.name)], w.queued as f64);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::metrics::{
        CopyCount, DeliveryCount, HeldRow, LastTestRestore, RunCount, TargetRow,
    };

    #[tokio::test]
    async fn health_is_degraded_when_the_catalog_does_not_answer() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = crate::EngineConfig::new(dir.path().join("data"));
        cfg.scheduler_interval = None;
        cfg.discovery_interval = None;
        let engine = Engine::open(cfg).await.unwrap();
        let h = engine.health().await;
        assert!(
            h.ok() && h.status == "ok" && h.catalog.error.is_none(),
            "{h:?}"
        );
        assert!(h.workers.iter().any(|w| w.name == "backup-runner"));
        engine.inner.catalog.pool().close().await;
        let h = engine.health().await;
        assert_eq!((h.ok(), h.status), (false, "degraded"), "{h:?}");
        assert!(h.catalog.error.is_some(), "{h:?}");
        assert!(!h.workers.is_empty());
        assert!(engine.metrics_text().await.is_err());
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape_label("x\ny"), "x\\ny");
        assert_eq!(escape_label("plain"), "plain");
    }

    #[test]
    fn tokens_match_only_when_equal() {
        assert!(token_matches("s3cret-token", "s3cret-token"));
        assert!(!token_matches("s3cret-token", "s3cret-tokem"));
        assert!(!token_matches("", "s3cret-token"));
        assert!(!token_matches("s3cret-token-longer", "s3cret-token"));
    }

    #[test]
    fn values_use_the_text_format_spelling() {
        assert_eq!(value(3.0), "3");
        assert_eq!(value(1.5), "1.5");
        assert_eq!(value(f64::INFINITY), "+Inf");
        assert_eq!(value(f64::NAN), "NaN");
    }

    #[test]
    fn renders_every_family_with_escaped_labels() {
        let at: DateTime<Utc> = "2026-01-02T03:04:05.250Z".parse().unwrap();
        let rows = MetricsRows {
            targets: vec![
                TargetRow {
                    server: "prod \"eu\"".into(),
                    kind: "database".into(),
                    database: "app\nx".into(),
                    good_finished_at: Some(at),
                    good_stored_bytes: Some(1234),
                    good_duration_ms: Some(1500),
                    last_status: Some("failed".into()),
                    last_duration_ms: Some(200),
                },
                TargetRow {
                    server: "prod".into(),
                    kind: "globals".into(),
                    database: "".into(),
                    good_finished_at: None,
                    good_stored_bytes: None,
                    good_duration_ms: None,
                    last_status: Some("failed".into()),
                    last_duration_ms: Some(10),
                },
            ],
            runs: vec![RunCount {
                server: "prod".into(),
                kind: "globals".into(),
                database: "".into(),
                status: "failed".into(),
                runs: 2,
            }],
            held: vec![HeldRow {
                server: "prod \"eu\"".into(),
                kind: "database".into(),
                database: "app\nx".into(),
                tiers: Some("hourly,daily".into()),
            }],
            test_restores: vec![LastTestRestore {
                server: "prod".into(),
                database: "app".into(),
                status: "passed".into(),
                finished_at: Some(at),
            }],
            test_restore_counts: vec![],
            copies: vec![
                CopyCount {
                    destination: "local".into(),
                    status: "complete".into(),
                    copies: 3,
                    bytes: 900,
                },
                CopyCount {
                    destination: "local".into(),
                    status: "failed".into(),
                    copies: 1,
                    bytes: 50,
                },
            ],
            deliveries: vec![
                DeliveryCount {
                    channel: "ops".into(),
                    status: "sent".into(),
                    deliveries: 3,
                    attempts: 4,
                },
                DeliveryCount {
                    channel: "removed".into(),
                    status: "failed".into(),
                    deliveries: 1,
                    attempts: 3,
                },
                DeliveryCount {
                    channel: "ops".into(),
                    status: "pending".into(),
                    deliveries: 1,
                    attempts: 1,
                },
            ],
            channels: vec!["ops".into(), "quiet".into()],
        };
        let text = render(&rows, &[], at + chrono::Duration::seconds(60));
        let l = r#"server="prod \"eu\"",database="app\nx",kind="database""#;
        for want in [
            format!("pgshelf_backup_last_success_timestamp_seconds{{{l}}} 1767323045.25\n"),
            format!("pgshelf_backup_last_success_size_bytes{{{l}}} 1234\n"),
            format!("pgshelf_backup_last_success_duration_seconds{{{l}}} 1.5\n"),
            format!("pgshelf_backup_last_run_status{{{l},status=\"failed\"}} 1\n"),
            format!("pgshelf_backup_last_run_status{{{l},status=\"verified\"}} 0\n"),
            format!("pgshelf_backups_held{{{l}}} 1\n"),
            format!("pgshelf_backups_held_by_tier{{{l},tier=\"daily\"}} 1\n"),
            format!("pgshelf_backups_held_by_tier{{{l},tier=\"weekly\"}} 0\n"),
            "pgshelf_backup_last_success_timestamp_seconds{server=\"prod\",database=\"\",kind=\"globals\"} 0\n".into(),
            "pgshelf_backups_held{server=\"prod\",database=\"\",kind=\"globals\"} 0\n".into(),
            "pgshelf_backup_runs_total{server=\"prod\",database=\"\",kind=\"globals\",status=\"failed\"} 2\n".into(),
            "pgshelf_test_restore_last_status{server=\"prod\",database=\"app\",status=\"passed\"} 1\n".into(),
            "pgshelf_test_restore_last_age_seconds{server=\"prod\",database=\"app\"} 60\n".into(),
            "pgshelf_destination_copies{destination=\"local\",status=\"failed\"} 1\n".into(),
            "pgshelf_destination_stored_bytes{destination=\"local\"} 900\n".into(),
            "# TYPE pgshelf_backup_runs_total counter\n".into(),
            "pgshelf_alert_deliveries_total{channel=\"ops\",status=\"sent\"} 3\n".into(),
            "pgshelf_alert_deliveries_total{channel=\"ops\",status=\"failed\"} 0\n".into(),
            "pgshelf_alert_deliveries_total{channel=\"removed\",status=\"failed\"} 1\n".into(),
            "pgshelf_alert_deliveries_total{channel=\"quiet\",status=\"sent\"} 0\n".into(),
            "pgshelf_alert_deliveries_pending{channel=\"ops\"} 1\n".into(),
            "pgshelf_alert_deliveries_pending{channel=\"removed\"} 0\n".into(),
            "pgshelf_alert_delivery_attempts_total{channel=\"ops\"} 5\n".into(),
            "# TYPE pgshelf_alert_deliveries_total counter\n".into(),
        ] {
            assert!(text.contains(&want), "{want:?} not in\n{text}");
        }
        // No size for a target that never succeeded.
        assert!(!text.contains("pgshelf_backup_last_success_size_bytes{server=\"prod\","));
    }
}
