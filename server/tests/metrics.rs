//! `/metrics` and `/healthz` of the real server on port 0, after real
//! backups of a real PostgreSQL (one good, one of a database that does not
//! exist) and a real test-restore. The exposition is parsed by a real
//! Prometheus text-format parser (PyPI `prometheus-client`'s
//! `text_string_to_metric_families`, in the venv `scripts/setup --test`
//! fills) and its values are checked against the catalog.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use engine::proof::TestRestoreTarget;
use engine::secrets::Secret;
use engine::servers::ServerInput;
use model::backup::BackupStatus;
use model::proof::{TestRestoreStatus, TestRestoreTrigger};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "metrics-token-for-the-test-0123456789";

/// One HTTP/1.1 GET: (status, head, body).
async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head[9..12].parse().unwrap();
    // Chunked bodies (axum streams larger ones): join the chunks.
    let body = if head.to_lowercase().contains("transfer-encoding: chunked") {
        let mut rest = body;
        let mut joined = String::new();
        while let Some((size, after)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap();
            if n == 0 {
                break;
            }
            joined.push_str(&after[..n]);
            rest = &after[n + 2..];
        }
        joined
    } else {
        body.to_owned()
    };
    (status, head.to_owned(), body)
}

/// `${PGSHELF_TOOLS:-$HOME/.cache/pgshelf}/storage-venv/bin/python`.
fn venv_python() -> PathBuf {
    let tools = std::env::var_os("PGSHELF_TOOLS")
        .filter(|t| !t.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/pgshelf")
        });
    let py = tools.join("storage-venv/bin/python");
    assert!(
        py.is_file(),
        "{} is missing: the test tools are not installed. Fix: run `scripts/setup --test`",
        py.display()
    );
    py
}

const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        out.append({"family": fam.name, "type": fam.type, "name": s.name,
                    "labels": s.labels, "value": s.value})
print(json.dumps(out))
"#;

#[derive(Debug, serde::Deserialize)]
struct Sample {
    family: String,
    #[serde(rename = "type")]
    kind: String,
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The exposition parsed by prometheus-client (a parse error fails).
fn parse(text: &str) -> Vec<Sample> {
    let mut child = Command::new(venv_python())
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus-client refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The one sample named `name` whose labels include `labels`.
fn one(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}");
    found[0].value
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_match_the_catalog_and_healthz_reports_catalog_and_workers() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let db = pg.fresh_database("metrics");
    pg.psql(
        &db,
        "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 1000) g;",
    );

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = engine::EngineConfig::new(dir.path().join("data"));
    cfg.pg_bin_dirs = testkit::bin_dir(major).into_iter().collect();
    cfg.search_system_tools = false;
    cfg.scheduler_interval = None;
    cfg.discovery_interval = None;
    let engine = engine::Engine::open(cfg).await.unwrap();
    let server = engine
        .add_server(ServerInput {
            name: "main-one".into(),
            host: pg.host().into(),
            port: pg.port,
            user: testkit::SUPERUSER.into(),
            password: Some(Secret::new(testkit::PASSWORD)),
            sslmode: "disable".into(),
            maintenance_db: "postgres".into(),
            ..Default::default()
        })
        .await
        .unwrap();

    let good = engine.backup_now(server.id, &db, "test").await.unwrap();
    assert_eq!(good.status, BackupStatus::Verified, "{good:?}");
    // Quotes and a backslash: label values are escaped, and parse back.
    let missing = r#"no such "database" \ for metrics"#;
    let failed = engine.backup_now(server.id, missing, "test").await;
    assert!(failed.is_err(), "{failed:?}");
    let failed_rows = engine
        .backups(&engine::catalog::BackupFilter {
            server_id: Some(server.id),
            target: Some(model::backup::Target::Database(missing.into())),
            limit: None,
        })
        .await
        .unwrap();
    assert_eq!(failed_rows.len(), 1);
    assert_eq!(failed_rows[0].status, BackupStatus::Failed);
    let proof = engine
        .test_restore(
            TestRestoreTarget::Backup(good.id),
            None,
            TestRestoreTrigger::Manual,
            "test",
        )
        .await
        .unwrap();
    assert_eq!(proof.status, TestRestoreStatus::Passed, "{proof:?}");
    let copies = engine.backup_copies(good.id).await.unwrap();
    // The server's globals, through the runner.
    let queued = engine.enqueue_globals(server.id, "test").await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let globals = loop {
        let row = engine.backup(queued.id).await.unwrap();
        if !row.status.is_active() {
            break row;
        }
        assert!(std::time::Instant::now() < deadline, "{row:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(globals.status.is_good(), "{globals:?}");

    // Alert deliveries: a test message a real receiver on loopback takes,
    // one to a closed port, and a channel that sent nothing yet.
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", receiver.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = receiver.accept().await {
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            // The head, then as many body bytes as it announces.
            loop {
                let n = s.read(&mut buf).await.unwrap_or(0);
                seen.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&seen).to_lowercase();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if seen.len() >= end + 4 + len {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                .await;
        }
    });
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let channel = |name: &str, url: String| engine::notify::ChannelInput {
        name: name.into(),
        settings: model::alert::ChannelSettings::Webhook { url },
        secret: Some(Secret::new("0123456789abcdef0123")),
        events: vec![],
        servers: vec![],
    };
    engine.add_channel(channel("hook", hook_url)).await.unwrap();
    engine
        .add_channel(channel("down", format!("http://127.0.0.1:{closed}/hook")))
        .await
        .unwrap();
    engine
        .add_channel(channel("quiet", "https://hooks.example/x".into()))
        .await
        .unwrap();
    let sent = engine.test_channel("hook").await.unwrap();
    assert_eq!(sent.status, model::alert::DeliveryStatus::Sent, "{sent:?}");
    let failed = engine.test_channel("down").await.unwrap();
    assert_eq!(failed.status, model::alert::DeliveryStatus::Failed);
    let deliveries = engine.deliveries(100).await.unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let site = dir.path().join("site");
    let served = engine.clone();
    let task = tokio::spawn(async move {
        pgshelf::web::serve_with(
            listener,
            served,
            &site,
            pgshelf::web::WebSettings {
                metrics_token: Some(Secret::new(TOKEN)),
            },
            async {
                let _ = stopped.await;
            },
        )
        .await
    });

    // The token: nothing, a wrong one, then the right one (no session).
    let (status, head, body) = get(addr, "/metrics", &[]).await;
    assert_eq!(status, 401, "{head}");
    assert!(body.contains("Fix:") && !body.contains(TOKEN), "{body}");
    let (status, _, _) = get(addr, "/metrics", &[("Authorization", "Bearer wrong")]).await;
    assert_eq!(status, 401);
    let auth = format!("Bearer {TOKEN}");
    let (status, head, text) = get(addr, "/metrics", &[("Authorization", &auth)]).await;
    assert_eq!(status, 200, "{head}\n{text}");
    assert!(
        head.to_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );

    let samples = parse(&text);
    let server_name = "main-one";
    let target = [
        ("server", server_name),
        ("database", db.as_str()),
        ("kind", "database"),
    ];
    let finished = good.finished_at.unwrap().timestamp_millis() as f64 / 1000.0;
    let ts = one(
        &samples,
        "pgshelf_backup_last_success_timestamp_seconds",
        &target,
    );
    assert!((ts - finished).abs() < 0.0015, "{ts} != {finished}");
    assert_eq!(
        one(&samples, "pgshelf_backup_last_success_size_bytes", &target),
        good.stored_bytes as f64
    );
    assert_eq!(
        one(
            &samples,
            "pgshelf_backup_last_success_duration_seconds",
            &target
        ),
        good.duration_ms.unwrap() as f64 / 1000.0
    );
    let mut verified = target.to_vec();
    verified.push(("status", "verified"));
    assert_eq!(
        one(&samples, "pgshelf_backup_last_run_status", &verified),
        1.0
    );
    assert_eq!(one(&samples, "pgshelf_backups_held", &target), 1.0);
    assert_eq!(one(&samples, "pgshelf_backup_runs_total", &verified), 1.0);

    // Globals: database "" and kind "globals".
    let g = [
        ("server", server_name),
        ("database", ""),
        ("kind", "globals"),
    ];
    let ts = one(
        &samples,
        "pgshelf_backup_last_success_timestamp_seconds",
        &g,
    );
    let want = globals.finished_at.unwrap().timestamp_millis() as f64 / 1000.0;
    assert!((ts - want).abs() < 0.0015, "{ts} != {want}");
    assert_eq!(
        one(&samples, "pgshelf_backup_last_success_size_bytes", &g),
        globals.stored_bytes as f64
    );

    // The failure: counted, current status failed, never succeeded.
    let bad = [
        ("server", server_name),
        ("database", missing),
        ("kind", "database"),
    ];
    let mut bad_failed = bad.to_vec();
    bad_failed.push(("status", "failed"));
    assert_eq!(one(&samples, "pgshelf_backup_runs_total", &bad_failed), 1.0);
    assert_eq!(
        one(&samples, "pgshelf_backup_last_run_status", &bad_failed),
        1.0
    );
    assert_eq!(
        one(
            &samples,
            "pgshelf_backup_last_success_timestamp_seconds",
            &bad
        ),
        0.0
    );
    assert_eq!(one(&samples, "pgshelf_backups_held", &bad), 0.0);
    assert!(!samples
        .iter()
        .any(|s| s.name == "pgshelf_backup_last_success_size_bytes"
            && s.labels.get("database").map(String::as_str) == Some(missing)));
    let runs = samples
        .iter()
        .find(|s| s.name == "pgshelf_backup_runs_total")
        .unwrap();
    assert_eq!(
        (runs.family.as_str(), runs.kind.as_str()),
        ("pgshelf_backup_runs", "counter")
    );

    // The test-restore.
    let proved = [("server", server_name), ("database", db.as_str())];
    let mut passed = proved.to_vec();
    passed.push(("status", "passed"));
    assert_eq!(
        one(&samples, "pgshelf_test_restore_last_status", &passed),
        1.0
    );
    let at = proof.finished_at.unwrap().timestamp_millis() as f64 / 1000.0;
    let ts = one(
        &samples,
        "pgshelf_test_restore_last_timestamp_seconds",
        &proved,
    );
    assert!((ts - at).abs() < 0.0015, "{ts} != {at}");
    let age = one(&samples, "pgshelf_test_restore_last_age_seconds", &proved);
    assert!((0.0..600.0).contains(&age), "{age}");
    assert_eq!(one(&samples, "pgshelf_test_restores_total", &passed), 1.0);

    // Copies per destination.
    assert!(!copies.is_empty());
    let globals_copies = engine.backup_copies(globals.id).await.unwrap();
    for c in &copies {
        let d = c.destination.as_str();
        let g = globals_copies
            .iter()
            .find(|g| g.destination == d)
            .expect("the globals went to the same destination");
        assert_eq!(
            one(
                &samples,
                "pgshelf_destination_copies",
                &[("destination", d), ("status", "complete")]
            ),
            2.0
        );
        assert_eq!(
            one(
                &samples,
                "pgshelf_destination_stored_bytes",
                &[("destination", d)]
            ),
            (c.bytes + g.bytes) as f64
        );
    }
    // Alert deliveries by channel and outcome, as the catalog has them.
    for channel in ["hook", "down", "quiet"] {
        for status in [
            model::alert::DeliveryStatus::Sent,
            model::alert::DeliveryStatus::Failed,
        ] {
            let want = deliveries
                .iter()
                .filter(|d| d.channel == channel && d.status == status)
                .count();
            assert_eq!(
                one(
                    &samples,
                    "pgshelf_alert_deliveries_total",
                    &[("channel", channel), ("status", status.as_str())]
                ),
                want as f64,
                "{channel} {status:?}"
            );
        }
        let attempts: u32 = deliveries
            .iter()
            .filter(|d| d.channel == channel)
            .map(|d| d.attempts)
            .sum();
        assert_eq!(
            one(
                &samples,
                "pgshelf_alert_delivery_attempts_total",
                &[("channel", channel)]
            ),
            attempts as f64
        );
        assert_eq!(
            one(
                &samples,
                "pgshelf_alert_deliveries_pending",
                &[("channel", channel)]
            ),
            0.0
        );
    }
    assert_eq!(
        one(
            &samples,
            "pgshelf_alert_deliveries_total",
            &[("channel", "hook"), ("status", "sent")]
        ),
        1.0
    );
    assert_eq!(
        one(
            &samples,
            "pgshelf_alert_deliveries_total",
            &[("channel", "down"), ("status", "failed")]
        ),
        1.0
    );

    // Workers, from memory.
    assert_eq!(
        one(
            &samples,
            "pgshelf_worker_queued",
            &[("worker", "backup-runner")]
        ),
        0.0
    );

    // /healthz: JSON, no session, catalog and workers.
    let (status, head, body) = get(addr, "/healthz", &[]).await;
    assert_eq!(status, 200, "{head}");
    assert!(head.to_lowercase().contains("application/json"), "{head}");
    let h: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(h["status"], "ok", "{h}");
    assert_eq!(h["catalog"]["ok"], true, "{h}");
    let workers: Vec<&str> = h["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert!(
        workers.contains(&"backup-runner") && workers.contains(&"scheduler"),
        "{workers:?}"
    );

    let _ = stop.send(());
    task.await.unwrap().unwrap();
}

/// Without a token setting, `/metrics` answers anyone; a session is never
/// needed, and an API-token-looking header does not get in the way.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_without_a_token_setting_answer_anyone() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = engine::EngineConfig::new(dir.path().join("data"));
    cfg.scheduler_interval = None;
    cfg.discovery_interval = None;
    let engine = engine::Engine::open(cfg).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let site = dir.path().join("site");
    let task = tokio::spawn(async move {
        pgshelf::web::serve(listener, engine, &site, std::future::pending()).await
    });
    let (status, _, text) = get(addr, "/metrics", &[]).await;
    assert_eq!(status, 200, "{text}");
    let samples = parse(&text);
    assert!(samples.iter().any(|s| s.name == "pgshelf_worker_running"));
    let (status, _, _) = get(addr, "/metrics", &[("Authorization", "Bearer anything")]).await;
    assert_eq!(status, 200);
    task.abort();
}
