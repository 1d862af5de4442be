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
