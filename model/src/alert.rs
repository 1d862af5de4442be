//! Alert channels, incidents and deliveries as the dashboard and the CLI
//! show them (never a secret: a channel says only `has_secret`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a channel delivers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// A Slack incoming webhook (its URL is the secret).
    Slack,
    /// Any HTTPS endpoint: a signed JSON body.
    Webhook,
    /// Email over SMTP.
    Email,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 3] =
        [ChannelKind::Slack, ChannelKind::Webhook, ChannelKind::Email];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Slack => "slack",
            ChannelKind::Webhook => "webhook",
            ChannelKind::Email => "email",
        }
    }

    /// What the channel's secret is, in words.
    pub fn secret_name(self) -> &'static str {
        match self {
            ChannelKind::Slack => "Slack webhook URL",
            ChannelKind::Webhook => "HMAC signing secret",
            ChannelKind::Email => "SMTP password",
        }
    }
}

impl std::str::FromStr for ChannelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ChannelKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a channel kind. Fix: use slack, webhook or email"))
    }
}

/// A kind of incident a channel can subscribe to ("recovered" follows its kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The newest run of a database (or globals) failed.
    BackupFailed,
    /// The newest good backup is suspect (size deviation, table gone).
    BackupSuspect,
    /// The last success is older than two schedule intervals.
    BackupOverdue,
    /// The newest test-restore of a database failed.
    TestRestoreFailed,
    /// The newest copy to a destination failed.
    DestinationUnreachable,
}

impl AlertKind {
    pub const ALL: [AlertKind; 5] = [
        AlertKind::BackupFailed,
        AlertKind::BackupSuspect,
        AlertKind::BackupOverdue,
        AlertKind::TestRestoreFailed,
        AlertKind::DestinationUnreachable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::BackupFailed => "backup_failed",
            AlertKind::BackupSuspect => "backup_suspect",
            AlertKind::BackupOverdue => "backup_overdue",
            AlertKind::TestRestoreFailed => "test_restore_failed",
            AlertKind::DestinationUnreachable => "destination_unreachable",
        }
    }

    /// The kind in words, for a message's title.
    pub fn words(self) -> &'static str {
        match self {
            AlertKind::BackupFailed => "Backup failed",
            AlertKind::BackupSuspect => "Backup suspect",
            AlertKind::BackupOverdue => "Backup overdue",
            AlertKind::TestRestoreFailed => "Test-restore failed",
            AlertKind::DestinationUnreachable => "Destination unreachable",
        }
    }
}

impl std::str::FromStr for AlertKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        AlertKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "{s:?} is not an alert event. Fix: use one of {}",
                    AlertKind::ALL.map(|k| k.as_str()).join(", ")
                )
            })
    }
}

/// Why a message is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// The incident began.
    Opened,
    /// Still going on after the repeat interval.
    Repeat,
    /// The next success ended it.
    Recovered,
    /// "Send test".
    Test,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Opened => "opened",
            AlertState::Repeat => "repeat",
            AlertState::Recovered => "recovered",
            AlertState::Test => "test",
        }
    }
}

impl std::str::FromStr for AlertState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            AlertState::Opened,
            AlertState::Repeat,
            AlertState::Recovered,
            AlertState::Test,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| format!("{s:?} is not an alert state"))
    }
}

/// Channel settings as entered (no secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ChannelSettings {
    /// The webhook URL is the secret.
    Slack {},
    /// `url` is where the signed JSON is POSTed.
    Webhook { url: String },
    Email {
        host: String,
        port: u16,
        /// `starttls`, `tls` (implicit, port 465) or `none` (loopback only).
        tls: String,
        /// SMTP user name; empty: no authentication.
        #[serde(default)]
        username: String,
        from: String,
        to: Vec<String>,
    },
}

impl ChannelSettings {
    pub fn kind(&self) -> ChannelKind {
        match self {
            ChannelSettings::Slack {} => ChannelKind::Slack,
            ChannelSettings::Webhook { .. } => ChannelKind::Webhook,
            ChannelSettings::Email { .. } => ChannelKind::Email,
        }
    }

    /// Where it delivers, in words (never the secret).
    pub fn describe(&self) -> String {
        match self {
            ChannelSettings::Slack {} => "Slack incoming webhook".into(),
            ChannelSettings::Webhook { url } => format!("webhook {url}"),
            ChannelSettings::Email {
                host,
                port,
                tls,
                to,
                ..
            } => format!("email to {} via {host}:{port} ({tls})", to.join(", ")),
        }
    }
}

/// A channel as shown (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    pub id: i64,
    pub name: String,
    pub settings: ChannelSettings,
    pub describe: String,
    pub has_secret: bool,
    /// Subscribed kinds; empty: all.
    pub events: Vec<AlertKind>,
    /// Server names; empty: all.
    pub servers: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// The newest delivery to this channel and what became of it (`None`:
    /// nothing sent yet).
    #[serde(default)]
    pub last_delivery: Option<Delivery>,
}

/// An incident: (kind, server, database or destination), open until the next success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub id: i64,
    pub kind: AlertKind,
    /// Empty for a destination.
    pub server: String,
    /// The database (`globals` for a server's globals) or the destination.
    pub subject: String,
    pub cause: String,
    pub link: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub last_alert_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not sent yet, or failed and waiting for its retry.
    Pending,
    Sent,
    /// Gave up after the last attempt.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
        }
    }
}

impl std::str::FromStr for DeliveryStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pending" => Ok(DeliveryStatus::Pending),
            "sent" => Ok(DeliveryStatus::Sent),
            "failed" => Ok(DeliveryStatus::Failed),
            _ => Err(format!("{s:?} is not a delivery status")),
        }
    }
}

/// One message to one channel and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: i64,
    /// The channel's name (kept after the channel is removed).
    pub channel: String,
    pub incident_id: Option<i64>,
    pub kind: Option<AlertKind>,
    pub state: AlertState,
    pub title: String,
    pub text: String,
    pub link: Option<String>,
    pub status: DeliveryStatus,
    /// Attempts made; more than one means it was retried.
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The channel's answer to the last attempt (HTTP status and body, or
    /// the SMTP reply), or the connection error.
    pub answer: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `/alerts` in one read: the channels (each with its last delivery), the
/// newest deliveries and the newest incidents, open or closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertsOverview {
    pub channels: Vec<Channel>,
    pub deliveries: Vec<Delivery>,
    pub incidents: Vec<Incident>,
}

/// A channel as a person enters it, secret included (it travels one way:
/// browser or CLI -> engine, where it is sealed at once).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewChannel {
    pub name: String,
    pub settings: ChannelSettings,
    /// The Slack webhook URL, the webhook's HMAC secret or the SMTP
    /// password; empty: none.
    #[serde(default)]
    pub secret: String,
    /// Subscribed kinds; empty: all.
    #[serde(default)]
    pub events: Vec<AlertKind>,
    /// Server names; empty: all.
    #[serde(default)]
    pub servers: Vec<String>,
}

impl std::fmt::Debug for NewChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewChannel")
            .field("name", &self.name)
            .field("settings", &self.settings)
            .field(
                "secret",
                &if self.secret.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("events", &self.events)
            .field("servers", &self.servers)
            .finish()
    }
}

/// One bad field of a channel: `field` is the form's name for it
/// (`name`, `secret`, `url`, `host`, `port`, `tls`, `username`, `from`,
/// `to`); the message names the cause and the fix and never quotes a
/// secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelProblem {
    pub field: &'static str,
    pub message: String,
}

impl std::fmt::Display for ChannelProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Whether `host` is this machine (`localhost`, `127.x.y.z`, `::1`).
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim().trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// The host of an `http(s)://host[:port]/...` URL, if it has one.
fn url_host(rest: &str) -> &str {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or("");
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    authority.split(':').next().unwrap_or("")
}

/// An `https://` URL, or `http://` to loopback only. `secret`: the URL is
/// never quoted (a Slack webhook URL is a credential).
fn check_url(field: &'static str, url: &str, secret: bool, out: &mut Vec<ChannelProblem>) {
    let url = url.trim();
    let shown = if secret {
        String::new()
    } else {
        format!(" {url:?}")
    };
    let problem = |message: String| ChannelProblem { field, message };
    if url.is_empty() {
        out.push(problem(
            "is empty. Fix: paste the whole https:// URL".into(),
        ));
        return;
    }
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (s.to_ascii_lowercase(), r),
        None => {
            out.push(problem(format!(
                "is not a URL{shown}. Fix: paste the whole https:// URL"
            )));
            return;
        }
    };
    let host = url_host(rest);
    if host.is_empty() || url.chars().any(char::is_whitespace) {
        out.push(problem(format!(
            "is not a URL{shown}. Fix: paste the whole https:// URL"
        )));
        return;
    }
    match scheme.as_str() {
        "https" => {}
        "http" if is_loopback_host(host) => {}
        _ => out.push(problem(format!(
            "must be an https:// URL{shown}. Fix: use https (plain http only to 127.0.0.1 or localhost)"
        ))),
    }
}

/// Whether `s` looks like an email address, bare or as `Name <addr>`
/// (the engine's mail library checks it fully).
pub fn looks_like_address(s: &str) -> bool {
    let s = s.trim();
    let addr = match (s.rfind('<'), s.ends_with('>')) {
        (Some(i), true) => &s[i + 1..s.len() - 1],
        (None, false) => s,
        _ => return false,
    };
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !addr
            .chars()
            .any(|c| c.is_whitespace() || c == '<' || c == '>')
}

/// Shortest HMAC secret a webhook takes.
pub const MIN_WEBHOOK_SECRET: usize = 16;

impl NewChannel {
    /// Every bad field at once (see [`channel_problems`]). Empty: good.
    pub fn problems(&self) -> Vec<ChannelProblem> {
        channel_problems(&self.name, &self.settings, &self.secret)
    }
}

/// Every bad field of a channel at once (pure: the browser checks with it
/// before sending, the engine before storing). Empty: good.
pub fn channel_problems(
    name: &str,
    settings: &ChannelSettings,
    secret: &str,
) -> Vec<ChannelProblem> {
    let mut out = Vec::new();
    let mut bad =
        |field: &'static str, message: String| out.push(ChannelProblem { field, message });
    let name = name.trim();
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        bad(
                "name",
                format!("{name:?} is not a channel name. Fix: use 1-64 letters, digits, '-', '_' or '.' (e.g. ops-slack)"),
            );
    }
    let secret = secret.trim();
    let mut urls = Vec::new();
    match settings {
        ChannelSettings::Slack {} => {
            if secret.is_empty() {
                bad("secret", "is empty: a Slack channel needs its incoming webhook URL. Fix: paste the https://hooks.slack.com/services/... URL Slack shows for the webhook".into());
            } else {
                check_url("secret", secret, true, &mut urls);
            }
        }
        ChannelSettings::Webhook { url } => {
            check_url("url", url, false, &mut urls);
            if secret.chars().count() < MIN_WEBHOOK_SECRET {
                bad("secret", format!("a webhook needs an HMAC signing secret of at least {MIN_WEBHOOK_SECRET} characters. Fix: generate one (`openssl rand -hex 32`) and give the receiver the same"));
            }
        }
        ChannelSettings::Email {
            host,
            port,
            tls,
            username,
            from,
            to,
        } => {
            if host.trim().is_empty() {
                bad(
                    "host",
                    "is empty. Fix: give the SMTP server's host name".into(),
                );
            }
            if *port == 0 {
                bad(
                    "port",
                    "is 0. Fix: use 587 for STARTTLS or 465 for TLS".into(),
                );
            }
            match tls.as_str() {
                    "starttls" | "tls" => {}
                    "none" if is_loopback_host(host) => {}
                    "none" => bad(
                        "tls",
                        format!("none (plain SMTP) is allowed only to a loopback relay, not {:?}. Fix: use starttls or tls", host.trim()),
                    ),
                    other => bad(
                        "tls",
                        format!("{other:?} is not starttls, tls or none. Fix: use starttls (port 587) or tls (port 465)"),
                    ),
                }
            if !username.trim().is_empty() && secret.is_empty() {
                bad("secret", "an SMTP user name needs its password. Fix: enter the password, or clear the user name for a relay without sign-in".into());
            }
            if !looks_like_address(from) {
                bad(
                    "from",
                    format!(
                        "{:?} is not an address. Fix: e.g. pgshelf@example.com",
                        from.trim()
                    ),
                );
            }
            if to.iter().all(|t| t.trim().is_empty()) {
                bad("to", "is empty. Fix: give at least one address".into());
            }
            for t in to.iter().filter(|t| !t.trim().is_empty()) {
                if !looks_like_address(t) {
                    bad(
                        "to",
                        format!(
                            "{:?} is not an address. Fix: e.g. oncall@example.com",
                            t.trim()
                        ),
                    );
                }
            }
        }
    }
    out.extend(urls);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn webhook(url: &str, secret: &str) -> NewChannel {
        NewChannel {
            name: "hook".into(),
            settings: ChannelSettings::Webhook { url: url.into() },
            secret: secret.into(),
            events: vec![],
            servers: vec![],
        }
    }

    fn email(host: &str, tls: &str) -> NewChannel {
        NewChannel {
            name: "mail".into(),
            settings: ChannelSettings::Email {
                host: host.into(),
                port: 587,
                tls: tls.into(),
                username: String::new(),
                from: "pgshelf@example.com".into(),
                to: vec!["oncall@example.com".into()],
            },
            secret: String::new(),
            events: vec![],
            servers: vec![],
        }
    }

    fn fields(c: &NewChannel) -> Vec<&'static str> {
        c.problems().iter().map(|p| p.field).collect()
    }

    const SECRET: &str = "0123456789abcdef0123";

    #[test]
    fn good_channels_pass() {
        assert!(webhook("https://hooks.example/pgshelf", SECRET)
            .problems()
            .is_empty());
        assert!(webhook("http://127.0.0.1:9/x", SECRET)
            .problems()
            .is_empty());
        assert!(webhook("http://localhost/x", SECRET).problems().is_empty());
        assert!(webhook("http://[::1]:80/x", SECRET).problems().is_empty());
        assert!(email("smtp.example.com", "starttls").problems().is_empty());
        assert!(email("smtp.example.com", "tls").problems().is_empty());
        assert!(email("127.0.0.1", "none").problems().is_empty());
        let slack = NewChannel {
            name: "ops.slack_1".into(),
            settings: ChannelSettings::Slack {},
            secret: "https://hooks.slack.com/services/T/B/x".into(),
            events: vec![AlertKind::BackupFailed],
            servers: vec!["prod".into()],
        };
        assert!(slack.problems().is_empty());
    }

    #[test]
    fn urls_must_be_https_or_loopback() {
        for (url, bad) in [
            ("", true),
            ("hooks.example/x", true),
            ("ftp://hooks.example/x", true),
            ("http://hooks.example/x", true),
            ("http://127.0.0.1.evil.example/x", true),
            ("http://user@hooks.example/x", true),
            ("https://", true),
            ("https://hooks example/x", true),
            ("https://hooks.example", false),
            ("HTTPS://hooks.example/x", false),
            ("http://127.8.9.1/x", false),
        ] {
            assert_eq!(
                fields(&webhook(url, SECRET)) == ["url"],
                bad,
                "{url:?}: {:?}",
                webhook(url, SECRET).problems()
            );
        }
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let mut c = webhook("http://hooks.example/x", "short");
        c.name = "no spaces".into();
        assert_eq!(fields(&c), ["name", "secret", "url"]);
        for p in c.problems() {
            assert!(p.message.contains("Fix:"), "{p}");
            assert!(p.to_string().starts_with(&format!("{}: ", p.field)));
        }
        let c = NewChannel {
            name: String::new(),
            settings: ChannelSettings::Email {
                host: " ".into(),
                port: 0,
                tls: "ssl".into(),
                username: "u".into(),
                from: "nobody".into(),
                to: vec!["a@b.example".into(), "not an address".into()],
            },
            secret: String::new(),
            events: vec![],
            servers: vec![],
        };
        assert_eq!(
            fields(&c),
            ["name", "host", "port", "tls", "secret", "from", "to"]
        );
        let mut c = email("a@b", "starttls");
        if let ChannelSettings::Email { to, .. } = &mut c.settings {
            to.clear();
        }
        assert_eq!(fields(&c), ["to"]);
    }

    #[test]
    fn plain_smtp_only_to_loopback() {
        assert_eq!(fields(&email("smtp.example.com", "none")), ["tls"]);
        assert_eq!(fields(&email("localhost", "none")), Vec::<&str>::new());
        assert_eq!(fields(&email("::1", "none")), Vec::<&str>::new());
    }

    #[test]
    fn secrets_are_never_quoted() {
        for url in [
            "http://hooks.slack.com/services/T/B/sekrit",
            "sekrit",
            "ftp://x/sekrit",
        ] {
            let c = NewChannel {
                name: "ops".into(),
                settings: ChannelSettings::Slack {},
                secret: url.into(),
                events: vec![],
                servers: vec![],
            };
            let p = c.problems();
            assert_eq!(p.len(), 1, "{p:?}");
            assert!(!p[0].to_string().contains("sekrit"), "{}", p[0]);
        }
        let c = webhook("https://x.example/", "sekrit");
        assert!(!format!("{:?} {}", c, c.problems()[0]).contains("sekrit"));
        let c = NewChannel {
            name: "ops".into(),
            settings: ChannelSettings::Slack {},
            secret: String::new(),
            events: vec![],
            servers: vec![],
        };
        assert_eq!(fields(&c), ["secret"]);
    }

    #[test]
    fn addresses() {
        for good in ["a@b.example", "Pg Shelf <pgshelf@example.com>", " x@y "] {
            assert!(looks_like_address(good), "{good}");
        }
        for bad in [
            "",
            "a",
            "@b",
            "a@",
            "a b@c",
            "a@.b",
            "<a@b",
            "a@b>",
            "x <a@b> y",
        ] {
            assert!(!looks_like_address(bad), "{bad}");
        }
    }
}
