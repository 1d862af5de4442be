//! `pgshelf alert ...` driving the built binary: a webhook channel added
//! with its secret from a file and from stdin, listed without it, "Send
//! test" received by an HTTP receiver on loopback (signature checked with
//! stock `openssl`), a refusing channel reported with its answer, the
//! deliveries listed, the channel removed. No secret is ever printed.

mod common;
use common::{pgshelf, text};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

const SECRET: &str = "cli-webhook-secret-never-shown-0123";

/// An HTTP/1.1 receiver in a thread: (path, signature header, body) of each
/// request; answers 200, or 503 `down for maintenance` under `/fail`.
/// (path, `X-Pgshelf-Signature`, body) of each request received.
type Seen = Arc<Mutex<Vec<(String, String, Vec<u8>)>>>;

fn receiver() -> (u16, Seen) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for sock in l.incoming() {
            let sock = sock.unwrap();
            let mut r = BufReader::new(sock);
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
            let (mut len, mut sig) = (0usize, String::new());
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                match k.trim().to_ascii_lowercase().as_str() {
                    "content-length" => len = v.trim().parse().unwrap(),
                    "x-pgshelf-signature" => sig = v.trim().to_owned(),
                    _ => {}
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let (status, text) = if path.starts_with("/fail") {
                ("503 Service Unavailable", "down for maintenance")
            } else {
                ("200 OK", "ok")
            };
            log.lock().unwrap().push((path, sig, body));
            let mut s = r.into_inner();
            write!(
                s,
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            )
            .unwrap();
        }
    });
    (port, seen)
}

fn run(data: &std::path::Path, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let o = pgshelf(data, args, &[], stdin);
    let all = text(&o);
    assert!(
        !all.contains(SECRET),
        "a secret in the output of {args:?}: {all}"
    );
    (o.status.success(), all)
}

#[test]
fn webhook_channel_added_tested_listed_and_removed() {
    let (port, seen) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let secret_file = dir.path().join("hmac.txt");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let url = format!("http://127.0.0.1:{port}/hook");

    let (ok, help) = run(&data, &["alert", "add", "--help"], None);
    assert!(
        ok && help.contains("--secret-file") && help.contains("shell history"),
        "{help}"
    );

    let (ok, out) = run(
        &data,
        &[
            "alert",
            "add",
            "hook",
            "--kind",
            "webhook",
            "--url",
            &url,
            "--events",
            "backup_failed,test_restore_failed",
            "--secret-file",
            secret_file.to_str().unwrap(),
        ],
        None,
    );
    assert!(ok, "{out}");
    let fail_url = format!("http://127.0.0.1:{port}/fail");
    let (ok, out) = run(
        &data,
        &[
            "alert",
            "add",
            "down",
            "--kind",
            "webhook",
            "--url",
            &fail_url,
            "--secret-stdin",
        ],
        Some(SECRET),
    );
    assert!(ok, "{out}");
    // A webhook without its secret is refused, saying how to give it.
    let (ok, out) = run(
        &data,
        &[
            "alert", "add", "nosecret", "--kind", "webhook", "--url", &url,
        ],
        None,
    );
    assert!(!ok && out.contains("--secret-file"), "{out}");

    let (ok, out) = run(&data, &["alert", "list"], None);
    assert!(
        ok && out.contains("hook") && out.contains("backup_failed,test_restore_failed"),
        "{out}"
    );
    let (ok, out) = run(&data, &["alert", "list", "--json"], None);
    assert!(ok && out.contains("\"has_secret\": true"), "{out}");

    let (ok, out) = run(&data, &["alert", "test", "hook"], None);
    assert!(ok && out.contains("HTTP 200"), "{out}");
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let (path, sig, body) = &got[0];
    assert_eq!(path, "/hook");
    assert_eq!(sig, &testkit::openssl_hmac(SECRET, body));
    let json: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(json["state"], "test");

    let (ok, out) = run(&data, &["alert", "test", "down"], None);
    assert!(
        !ok && out.contains("HTTP 503: down for maintenance") && out.contains("Fix:"),
        "{out}"
    );

    let (ok, out) = run(&data, &["alert", "deliveries", "--limit", "5"], None);
    assert!(ok, "{out}");
    assert!(out.contains("sent") && out.contains("failed"), "{out}");

    let (ok, out) = run(&data, &["alert", "remove", "down"], None);
    assert!(ok, "{out}");
    let (ok, out) = run(&data, &["alert", "remove", "down"], None);
    assert!(!ok && out.contains("pgshelf alert list"), "{out}");
}
