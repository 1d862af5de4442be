//! Plain text formatting shared by the pages: times, and the URLs of pages
//! (sizes and durations come from `model::format`). Pure functions, the same on the server and in
//! the browser (so hydration sees the same text).

use chrono::{DateTime, Utc};

pub use model::format::{duration_ms, human_bytes, human_size};

/// `2026-11-25 03:04:05 UTC`.
pub fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// How long before `now` `then` was: `just now`, `42 s ago`, `5 min ago`,
/// `3 h ago`, `2 days ago`.
pub fn ago(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let s = (now - then).num_seconds();
    match s {
        i64::MIN..=4 => "just now".into(),
        5..=59 => format!("{s} s ago"),
        60..=3599 => format!("{} min ago", s / 60),
        3600..=86_399 => format!("{} h ago", s / 3600),
        86_400..=172_799 => "1 day ago".into(),
        _ => format!("{} days ago", s / 86_400),
    }
}

/// The page of one database's backups.
pub fn database_href(server_id: i64, database: &str) -> String {
    format!(
        "/servers/{server_id}/databases/{}",
        encode_segment(database)
    )
}

/// The page of one server.
pub fn server_href(server_id: i64) -> String {
    format!("/servers/{server_id}")
}

/// Percent-encodes one path segment (everything but RFC 3986 unreserved characters).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes a percent-encoded path segment (as the router hands it over);
/// invalid escapes stay as they are.
pub fn decode_segment(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The policy page of a database, or of the server default (`None`).
pub fn policy_href(server_id: i64, database: Option<&str>) -> String {
    match database {
        Some(db) => format!("{}/policy", database_href(server_id, db)),
        None => format!("/servers/{server_id}/policy"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn formats_times() {
        let t = Utc.with_ymd_and_hms(2026, 11, 25, 3, 4, 5).unwrap();
        assert_eq!(utc(t), "2026-11-25 03:04:05 UTC");
        let later = |s: i64| t + chrono::Duration::seconds(s);
        assert_eq!(ago(t, later(-3)), "just now");
        assert_eq!(ago(t, later(2)), "just now");
        assert_eq!(ago(t, later(42)), "42 s ago");
        assert_eq!(ago(t, later(300)), "5 min ago");
        assert_eq!(ago(t, later(3 * 3600 + 5)), "3 h ago");
        assert_eq!(ago(t, later(86_400 + 5)), "1 day ago");
        assert_eq!(ago(t, later(3 * 86_400)), "3 days ago");
    }

    #[test]
    fn encodes_database_names() {
        assert_eq!(database_href(3, "app"), "/servers/3/databases/app");
        assert_eq!(
            database_href(3, "my db/ü"),
            "/servers/3/databases/my%20db%2F%C3%BC"
        );
        for name in ["app", "my db/ü", "100%", "a%zz", "%"] {
            assert_eq!(decode_segment(&encode_segment(name)), name);
        }
        assert_eq!(decode_segment("a%zz"), "a%zz");
        assert_eq!(decode_segment("%"), "%");
    }
}
