//! Starts the storage servers the browser tests write to — an S3 server
//! (`rclone serve s3`, SigV4 checked, bucket created) and a WebDAV server
//! (wsgidav at a Nextcloud-style path) — prints one JSON line with their
//! endpoints and credentials, and keeps them until standard input closes
//! (the Playwright fixture holds it open) or the process is killed (the
//! next testkit user sweeps what a killed one left).
//!
//! `storage-for-e2e`

use std::io::Read;

use testkit::storage::{S3Server, WebDavServer};

/// `s` as a JSON string literal.
fn json(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn main() {
    let s3 = S3Server::start();
    let dav = WebDavServer::start();
    println!(
        "{{\"s3\":{{\"endpoint\":{},\"region\":{},\"bucket\":{},\"access_key_id\":{},\"secret_access_key\":{},\"data_dir\":{}}},\
         \"webdav\":{{\"url\":{},\"user\":{},\"password\":{},\"data_dir\":{}}}}}",
        json(&s3.endpoint),
        json(&s3.region),
        json(&s3.bucket),
        json(&s3.access_key_id),
        json(&s3.secret_access_key),
        json(&s3.data_dir().display().to_string()),
        json(&dav.url),
        json(&dav.user),
        json(&dav.password),
        json(&dav.data_dir().display().to_string()),
    );
    // Hold the servers until the fixture closes our stdin (or dies).
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(dav);
    drop(s3);
}
