//! Alerts delivered to real receivers on loopback: an HTTP receiver (a
//! small HTTP/1.1 server in this test, recording each request as it came
//! over the socket) for the generic webhook and Slack, and an SMTP receiver
//! (a minimal SMTP server in this test) for email. Backups run against real
//! PostgreSQL; the clock of each evaluation is the test's, so the repeat
//! interval is driven without waiting. Signatures are checked with stock
//! `openssl dgst -hmac`, not with pgshelf's own code.

use std::sync::{Arc, Mutex};

use chrono::{Duration, Utc};
use engine::notify::{ChannelInput, NotifySettings};
use engine::secrets::Secret;
use model::alert::{AlertKind, ChannelSettings, DeliveryStatus};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

mod common;
use common::*;

const SECRET: &str = "a-webhook-secret-of-32-characters";
const BASE: &str = "https://pgshelf.example";

/// One request as the receiver read it off the socket.
#[derive(Debug, Clone)]
struct Request {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// An HTTP/1.1 receiver on 127.0.0.1: answers 200 `ok`, or 500 `nope` to
/// paths under `/fail`.
async fn http_receiver() -> (u16, Arc<Mutex<Vec<Request>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let (sock, _) = listener.accept().await.unwrap();
            let log = log.clone();
            tokio::spawn(async move {
                let mut r = BufReader::new(sock);
                let mut line = String::new();
                r.read_line(&mut line).await.unwrap();
                let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
                let mut headers = Vec::new();
                loop {
                    let mut h = String::new();
                    r.read_line(&mut h).await.unwrap();
                    let h = h.trim_end();
                    if h.is_empty() {
                        break;
                    }
                    let (k, v) = h.split_once(':').unwrap();
                    headers.push((k.trim().to_owned(), v.trim().to_owned()));
                }
                let len: usize = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .map(|(_, v)| v.parse().unwrap())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                r.read_exact(&mut body).await.unwrap();
                let (status, text) = if path.starts_with("/fail") {
                    ("500 Internal Server Error", "nope")
                } else {
                    ("200 OK", "ok")
                };
                log.lock().unwrap().push(Request {
                    path,
                    headers,
                    body,
                });
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                );
                let mut sock = r.into_inner();
                sock.write_all(answer.as_bytes()).await.unwrap();
                sock.shutdown().await.ok();
            });
        }
    });
    (port, seen)
}

/// A minimal SMTP server on 127.0.0.1 (no TLS, no auth): records each
/// message's DATA.
async fn smtp_receiver() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let (sock, _) = listener.accept().await.unwrap();
            let log = log.clone();
            tokio::spawn(async move {
                let mut r = BufReader::new(sock);
                r.get_mut()
                    .write_all(b"220 localhost test SMTP\r\n")
                    .await
                    .unwrap();
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).await.unwrap() == 0 {
                        return;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-localhost\r\n250 8BITMIME\r\n",
                        "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
                        "DATA" => {
                            r.get_mut().write_all(b"354 go ahead\r\n").await.unwrap();
                            let mut data = String::new();
                            loop {
                                let mut l = String::new();
                                r.read_line(&mut l).await.unwrap();
                                if l == ".\r\n" {
                                    break;
                                }
                                data.push_str(&l);
                            }
                            log.lock().unwrap().push(data);
                            b"250 queued as 1\r\n"
                        }
                        "QUIT" => {
                            r.get_mut().write_all(b"221 bye\r\n").await.unwrap();
                            return;
                        }
                        _ => b"502 not implemented\r\n",
                    };
                    r.get_mut().write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, seen)
}

fn webhook(name: &str, port: u16, path: &str, events: Vec<AlertKind>) -> ChannelInput {
    ChannelInput {
        name: name.into(),
        settings: ChannelSettings::Webhook {
            url: format!("http://127.0.0.1:{port}{path}"),
        },
        secret: Some(Secret::new(SECRET)),
        events,
        servers: vec![],
    }
}

async fn alerting_engine() -> Env {
    engine_with(&[testkit::majors_under_test()[0]], |cfg| {
        cfg.notify = NotifySettings {
            base_url: Some(format!("{BASE}/")),
            repeat: Duration::hours(24),
        };
    })
    .await
}

/// A failed backup alerts each channel once, signed; the next failure within
/// the repeat interval says nothing; after it one repeat; the next success
/// one "recovered". Slack gets blocks, email a subject and the link.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_backup_alerts_once_and_recovers_once() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let env = alerting_engine().await;
    let e = &env.engine;
    let (http, requests) = http_receiver().await;
    let (smtp, mails) = smtp_receiver().await;
    let s = e.add_server(input("main", pg)).await.unwrap();

    let failed = vec![AlertKind::BackupFailed];
    e.add_channel(webhook("hook", http, "/hook", failed.clone()))
        .await
        .unwrap();
    let slack_url = format!("http://127.0.0.1:{http}/slack/T0001/B0001/SlackSecretPart");
    e.add_channel(ChannelInput {
        name: "slack".into(),
        settings: ChannelSettings::Slack {},
        secret: Some(Secret::new(&slack_url)),
        events: failed.clone(),
        servers: vec!["main".into()],
    })
    .await
    .unwrap();
    e.add_channel(ChannelInput {
        name: "mail".into(),
        settings: ChannelSettings::Email {
            host: "127.0.0.1".into(),
            port: smtp,
            tls: "none".into(),
            username: String::new(),
            from: "pgshelf@example.com".into(),
            to: vec!["oncall@example.com".into()],
        },
        secret: None,
        events: failed.clone(),
        servers: vec![],
    })
    .await
    .unwrap();
    // A channel for another server's alerts hears nothing of these.
    let other = e.add_server(input("other", pg)).await.unwrap();
    e.add_channel(ChannelInput {
        servers: vec!["other".into()],
        ..webhook("other-hook", http, "/other", vec![])
    })
    .await
    .unwrap();
    e.delete_server(other.id).await.unwrap();

    // Secrets are never shown.
    let shown = format!("{:?}", e.channels().await.unwrap());
    assert!(
        !shown.contains("SlackSecretPart") && !shown.contains(SECRET),
        "{shown}"
    );
    assert!(e
        .add_channel(webhook("hook", http, "/hook", vec![]))
        .await
        .is_err());

    // A backup of a database that does not exist fails.
    let db = pg.fresh_database("gone");
    pg.drop_database(&db);
    assert!(e.backup_now(s.id, &db, "test").await.is_err());
    let t0 = Utc::now();
    let rep = e.notify_tick(t0).await.unwrap();
    assert_eq!((rep.opened, rep.sent), (1, 3), "{rep:?}");

    let hooks = |path: &str| -> Vec<Request> {
        requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    };
    let got = hooks("/hook");
    assert_eq!(got.len(), 1, "{got:?}");
    let first = &got[0];
    assert_eq!(
        first.header("x-pgshelf-signature").unwrap(),
        testkit::openssl_hmac(SECRET, &first.body)
    );
    assert_eq!(
        first.header("x-pgshelf-timestamp").unwrap(),
        t0.timestamp().to_string()
    );
    let body = first.json();
    let failed_id = e
        .backups(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.target.to_string() == db)
        .unwrap()
        .id;
    assert_eq!(body["event"], "backup_failed");
    assert_eq!(body["state"], "opened");
    assert_eq!(body["server"], "main");
    assert_eq!(body["subject"], db.as_str());
    assert_eq!(body["link"], format!("{BASE}/backups/{failed_id}"));
    assert!(
        body["text"].as_str().unwrap().contains("does not exist"),
        "{body}"
    );

    let slack = hooks("/slack/T0001/B0001/SlackSecretPart");
    assert_eq!(slack.len(), 1);
    let sj = slack[0].json();
    assert_eq!(sj["blocks"][0]["type"], "header");
    assert!(sj["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap()
        .contains(&format!("main/{db}")));
    assert!(hooks("/other").is_empty());

    let mail = mails.lock().unwrap().clone();
    assert_eq!(mail.len(), 1);
    let unfolded = mail[0].replace("=\r\n", "").replace("=3D", "=");
    assert!(
        unfolded.contains(&format!("Subject: Backup failed: main/{db}")),
        "{unfolded}"
    );
    assert!(
        unfolded.contains(&format!("{BASE}/backups/{failed_id}")),
        "{unfolded}"
    );

    // The next failure within the repeat interval: no message.
    assert!(e.backup_now(s.id, &db, "test").await.is_err());
    let rep = e.notify_tick(t0 + Duration::hours(1)).await.unwrap();
    assert_eq!(
        (rep.opened, rep.repeated, rep.attempted),
        (0, 0, 0),
        "{rep:?}"
    );
    assert_eq!(hooks("/hook").len(), 1);

    // Past the repeat interval: once more, then quiet again.
    let rep = e.notify_tick(t0 + Duration::hours(25)).await.unwrap();
    assert_eq!((rep.repeated, rep.sent), (1, 3), "{rep:?}");
    let again = hooks("/hook");
    assert_eq!(again.len(), 2);
    assert_eq!(again[1].json()["state"], "repeat");
    e.notify_tick(t0 + Duration::hours(26)).await.unwrap();
    assert_eq!(hooks("/hook").len(), 2);

    // The next success: one "recovered", then nothing.
    pg.create_database(&db);
    let ok = e.backup_now(s.id, &db, "test").await.unwrap();
    assert!(ok.status.is_good(), "{ok:?}");
    let rep = e.notify_tick(t0 + Duration::hours(27)).await.unwrap();
    assert_eq!((rep.recovered, rep.sent), (1, 3), "{rep:?}");
    let all = hooks("/hook");
    assert_eq!(all.len(), 3);
    let rec = all[2].json();
    assert_eq!(rec["state"], "recovered");
    assert_eq!(rec["event"], "backup_failed");
    assert_eq!(
        all[2].header("x-pgshelf-signature").unwrap(),
        testkit::openssl_hmac(SECRET, &all[2].body)
    );
    e.notify_tick(t0 + Duration::hours(28)).await.unwrap();
    assert_eq!(hooks("/hook").len(), 3);
    assert_eq!(mails.lock().unwrap().len(), 3);

    let deliveries = e.deliveries(50).await.unwrap();
    assert_eq!(deliveries.len(), 9);
    assert!(deliveries
        .iter()
        .all(|d| d.status == DeliveryStatus::Sent && d.attempts == 1));
    assert!(deliveries
        .iter()
        .any(|d| d.answer.as_deref().unwrap_or("").starts_with("SMTP 250")));
    let shown = format!("{deliveries:?}");
    assert!(!shown.contains("SlackSecretPart"), "{shown}");
    assert!(e.workers().iter().any(|w| w.name == "notifier"));
    pg.drop_database(&db);
}

/// A channel that answers 500 is retried, bounded, each answer recorded;
/// "Send test" reaches a working channel and is recorded.
#[tokio::test(flavor = "multi_thread")]
async fn failed_deliveries_are_retried_and_recorded() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let env = alerting_engine().await;
    let e = &env.engine;
    let (http, requests) = http_receiver().await;
    let s = e.add_server(input("main", pg)).await.unwrap();
    e.add_channel(webhook(
        "broken",
        http,
        "/fail",
        vec![AlertKind::BackupFailed],
    ))
    .await
    .unwrap();
    e.add_channel(webhook("good", http, "/good", vec![]))
        .await
        .unwrap();

    let sent = e.test_channel("good").await.unwrap();
    assert_eq!(sent.status, DeliveryStatus::Sent, "{sent:?}");
    let test = requests.lock().unwrap().last().cloned().unwrap();
    assert_eq!(test.json()["state"], "test");
    let failed = e.test_channel("broken").await.unwrap();
    assert_eq!(failed.status, DeliveryStatus::Failed);
    assert_eq!(failed.answer.as_deref(), Some("HTTP 500: nope"));
    assert!(e
        .test_channel("nosuch")
        .await
        .unwrap_err()
        .to_string()
        .contains("Fix:"));

    let db = pg.fresh_database("gone");
    pg.drop_database(&db);
    assert!(e.backup_now(s.id, &db, "test").await.is_err());
    let t0 = Utc::now();
    e.notify_tick(t0).await.unwrap();
    let broken = |e: Vec<model::alert::Delivery>| {
        e.into_iter()
            .find(|d| d.channel == "broken" && d.incident_id.is_some())
            .unwrap()
    };
    let d = broken(e.deliveries(20).await.unwrap());
    assert_eq!(
        (d.status, d.attempts),
        (DeliveryStatus::Pending, 1),
        "{d:?}"
    );
    assert_eq!(d.answer.as_deref(), Some("HTTP 500: nope"));
    // Not before its retry is due.
    e.notify_tick(t0 + Duration::seconds(30)).await.unwrap();
    assert_eq!(broken(e.deliveries(20).await.unwrap()).attempts, 1);
    e.notify_tick(t0 + Duration::minutes(2)).await.unwrap();
    assert_eq!(broken(e.deliveries(20).await.unwrap()).attempts, 2);
    e.notify_tick(t0 + Duration::minutes(15)).await.unwrap();
    let d = broken(e.deliveries(20).await.unwrap());
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Failed, 3), "{d:?}");
    e.notify_tick(t0 + Duration::hours(1)).await.unwrap();
    assert_eq!(broken(e.deliveries(20).await.unwrap()).attempts, 3);
    let fails = requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.path == "/fail")
        .count();
    assert_eq!(fails, 4, "one test and three attempts");
    // The channel subscribed to everything got it once, and was sent at once.
    let good: Vec<_> = e
        .deliveries(20)
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.channel == "good" && d.incident_id.is_some())
        .collect();
    assert!(!good.is_empty());
    assert!(good.iter().all(|d| d.status == DeliveryStatus::Sent));

    e.remove_channel("broken").await.unwrap();
    assert!(e.remove_channel("broken").await.is_err());
    assert_eq!(e.channels().await.unwrap().len(), 1);
}

/// A copy that fails opens "destination unreachable" (the backup itself
/// stays good through its local copy); the next complete copy to that
/// destination recovers it.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_copy_alerts_destination_unreachable_until_the_next_copy() {
    use model::destination::{CopyStatus, DestinationInput};
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let env = alerting_engine().await;
    let e = &env.engine;
    let (http, requests) = http_receiver().await;
    let s = e.add_server(input("main", pg)).await.unwrap();
    e.add_channel(webhook(
        "hook",
        http,
        "/hook",
        vec![AlertKind::DestinationUnreachable],
    ))
    .await
    .unwrap();
    // A "directory" that is a file: every write under it fails.
    let spot = env._dir.path().join("second");
    std::fs::write(&spot, "a file where a directory should be").unwrap();
    e.add_destination(DestinationInput {
        name: "second".into(),
        settings: model::destination::DestinationSettings::Local {
            path: spot.display().to_string(),
        },
        root: String::new(),
        concurrency: 1,
        secret: None,
    })
    .await
    .unwrap();
    let db = pg.fresh_database("copied");
    e.set_policy(
        s.id,
        Some(&db),
        &engine::policy::Policy {
            destinations: vec!["second".into(), "local".into()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let b = e.backup_now(s.id, &db, "test").await.unwrap();
    assert!(b.status.is_good(), "{b:?}");
    let copies = e.backup_copies(b.id).await.unwrap();
    let second = copies.iter().find(|c| c.destination == "second").unwrap();
    assert_eq!(second.status, CopyStatus::Failed, "{copies:?}");

    let t0 = Utc::now();
    let rep = e.notify_tick(t0).await.unwrap();
    assert_eq!((rep.opened, rep.sent), (1, 1), "{rep:?}");
    let body = requests.lock().unwrap()[0].json();
    assert_eq!(body["event"], "destination_unreachable");
    assert_eq!(body["subject"], "second");
    assert_eq!(body["link"], format!("{BASE}/destinations"));

    std::fs::remove_file(&spot).unwrap();
    std::fs::create_dir(&spot).unwrap();
    let b = e.backup_now(s.id, &db, "test").await.unwrap();
    assert!(b.status.is_good(), "{b:?}");
    let rep = e.notify_tick(t0 + Duration::hours(1)).await.unwrap();
    assert_eq!((rep.recovered, rep.sent), (1, 1), "{rep:?}");
    let got = requests.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].json()["state"], "recovered");
    pg.drop_database(&db);
}

/// The `notifier` worker evaluates on its own cadence with the wall clock:
/// a failure reaches the receiver without anyone calling `notify_tick`.
#[tokio::test(flavor = "multi_thread")]
async fn the_notifier_worker_delivers_on_its_own() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let env = engine_with(&[major], |cfg| {
        cfg.notify_interval = Some(std::time::Duration::from_millis(200));
    })
    .await;
    let e = &env.engine;
    let (http, requests) = http_receiver().await;
    let s = e.add_server(input("main", pg)).await.unwrap();
    e.add_channel(webhook(
        "hook",
        http,
        "/hook",
        vec![AlertKind::BackupFailed],
    ))
    .await
    .unwrap();
    let db = pg.fresh_database("gone");
    pg.drop_database(&db);
    assert!(e.backup_now(s.id, &db, "test").await.is_err());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while requests.lock().unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no alert arrived");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let body = requests.lock().unwrap()[0].json();
    assert_eq!(body["subject"], db.as_str());
    assert_eq!(
        body["link"],
        serde_json::Value::Null,
        "no base_url, no link"
    );
    let w = e
        .workers()
        .into_iter()
        .find(|w| w.name == "notifier")
        .unwrap();
    assert!(w.last_finished_at.is_some(), "{w:?}");
    // Still once per incident with the worker ticking.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(requests.lock().unwrap().len(), 1);
}
