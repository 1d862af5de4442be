//! Alerts a human reads: Slack, a signed generic webhook, and email.
//!
//! Each evaluation ([`crate::Engine::notify_tick`], run by the `notifier`
//! worker every `notify_interval`, or by tests with their own clock) reads
//! the catalog for what is wrong now — the newest run of a database (or a
//! server's globals) failed, its newest good backup is suspect, its
//! schedule is overdue, its newest test-restore failed, the newest copy to
//! a destination failed — and compares that with the open incidents. An
//! incident is (kind, server, database or destination): it alerts once
//! when it opens, again only after `alert_repeat_hours` while it lasts,
//! and once "recovered" when the next success ends it. A message goes to
//! every channel subscribed to its kind and server, as a delivery row
//! (pending, sent, or failed with the channel's answer), tried at most
//! [`MAX_ATTEMPTS`] times ([`retry_after`] apart).
//!
//! # The generic webhook
//!
//! `POST` of a JSON body ([`webhook_body`]) with
//! `Content-Type: application/json`, `X-Pgshelf-Timestamp: <unix seconds>`
//! and `X-Pgshelf-Signature: sha256=<hex>`, the hex HMAC-SHA256 of the raw
//! body bytes keyed with the channel's secret. A receiver recomputes it over
//! the body exactly as received and compares in constant time; the body's
//! `at` equals the timestamp header, so a replay is recognisable. Any 2xx
//! answer is a delivery.
//!
//! Secrets (the Slack webhook URL, the HMAC secret, the SMTP password) are
//! sealed with the instance key, never returned, never logged; HTTP errors
//! are reported without their URL.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use model::alert::{
    AlertKind, AlertState, AlertsOverview, Channel, ChannelSettings, Delivery, DeliveryStatus,
    Incident,
};
use model::backup::{BackupStatus, Target};
use model::worker::{WorkerState, WorkerStatus};
use sha2::Sha256;

use crate::catalog::{CatalogError, ChannelRow, DeliveryRow, IncidentRow, NewDelivery};
use crate::secrets::{Secret, SecretsError};

/// Attempts of one delivery, the first included.
pub const MAX_ATTEMPTS: u32 = 3;

/// Default of `alert_repeat_hours`.
pub const DEFAULT_REPEAT_HOURS: u32 = 24;

/// How long one attempt may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// When a delivery that failed its `attempts`-th attempt is tried again:
/// 1 minute after the first, 10 after the second; `None` after the last.
pub fn retry_after(attempts: u32) -> Option<chrono::Duration> {
    match attempts {
        0 | 1 => Some(chrono::Duration::minutes(1)),
        n if n < MAX_ATTEMPTS => Some(chrono::Duration::minutes(10)),
        _ => None,
    }
}

/// What can go wrong managing alert channels.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("alert channel {field}: {detail}")]
    Invalid { field: String, detail: String },
    #[error("no alert channel named {0:?}. Fix: pick one from `pgshelf alert list`")]
    Unknown(String),
    #[error("alert channel {0} has no stored secret. Fix: remove it and add it again with --secret-file or --secret-stdin")]
    NoSecret(String),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
}

impl NotifyError {
    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            NotifyError::Invalid { .. } => 422,
            NotifyError::Unknown(_) => 404,
            NotifyError::NoSecret(_) => 409,
            NotifyError::Catalog(e) => e.status(),
            NotifyError::Secrets(e) => e.status(),
        }
    }
}

fn invalid(field: &str, detail: impl Into<String>) -> NotifyError {
    NotifyError::Invalid {
        field: field.into(),
        detail: detail.into(),
    }
}

/// Alert settings (from pgshelf.toml).
#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// Where pgshelf is reached by people, e.g. `https://pgshelf.example`;
    /// messages link to `<base_url>/backups/42`. `None`: no links.
    pub base_url: Option<String>,
    /// How long an incident stays quiet after it alerted.
    pub repeat: chrono::Duration,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            base_url: None,
            repeat: chrono::Duration::hours(DEFAULT_REPEAT_HOURS as i64),
        }
    }
}

/// A channel as entered: the secret (Slack webhook URL, HMAC secret or
/// SMTP password) comes apart from the settings and is sealed at once.
#[derive(Debug, Clone)]
pub struct ChannelInput {
    pub name: String,
    pub settings: ChannelSettings,
    pub secret: Option<Secret>,
    /// Subscribed kinds; empty: all.
    pub events: Vec<AlertKind>,
    /// Server names; empty: all.
    pub servers: Vec<String>,
}

impl From<model::alert::NewChannel> for ChannelInput {
    /// The dashboard's input: its secret wrapped at once (empty: none).
    fn from(c: model::alert::NewChannel) -> Self {
        let secret = Some(c.secret.trim().to_owned())
            .filter(|s| !s.is_empty())
            .map(Secret::new);
        ChannelInput {
            name: c.name,
            settings: c.settings,
            secret,
            events: c.events,
            servers: c.servers,
        }
    }
}

/// Checks a channel as entered (pure): the rule the browser runs too
/// ([`model::alert::channel_problems`], the first bad field), then the URL
/// and the addresses parsed as they will be used.
pub fn validate(input: &ChannelInput) -> Result<(), NotifyError> {
    let secret = input
        .secret
        .as_ref()
        .map(|s| s.expose().trim())
        .unwrap_or("");
    if let Some(p) = model::alert::channel_problems(&input.name, &input.settings, secret)
        .into_iter()
        .next()
    {
        return Err(invalid(p.field, p.message));
    }
    let parses = |field: &str, url: &str, shown: bool| {
        url::Url::parse(url.trim()).map(|_| ()).map_err(|e| {
            invalid(
                field,
                format!(
                    "is not a URL{} ({e}). Fix: paste the whole https:// URL",
                    if shown {
                        format!(" {url:?}")
                    } else {
                        String::new()
                    }
                ),
            )
        })
    };
    match &input.settings {
        ChannelSettings::Slack {} => parses("secret", secret, false)?,
        ChannelSettings::Webhook { url } => parses("url", url, true)?,
        ChannelSettings::Email { from, to, .. } => {
            from.trim()
                .parse::<lettre::message::Mailbox>()
                .map_err(|e| {
                    invalid(
                        "from",
                        format!("{from:?} is not an address ({e}). Fix: e.g. pgshelf@example.com"),
                    )
                })?;
            for t in to.iter().filter(|t| !t.trim().is_empty()) {
                t.trim().parse::<lettre::message::Mailbox>().map_err(|e| {
                    invalid(
                        "to",
                        format!("{t:?} is not an address ({e}). Fix: e.g. oncall@example.com"),
                    )
                })?;
            }
        }
    }
    Ok(())
}

// ---- what is wrong now ---------------------------------------------------

/// One thing wrong now (pure data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: AlertKind,
    /// What makes two problems the same incident.
    pub key: String,
    pub server_id: Option<i64>,
    pub server: String,
    pub subject: String,
    pub cause: String,
    pub link: Option<String>,
}

impl Problem {
    /// A problem, keyed by its kind, server and subject (one incident each).
    fn new(
        kind: AlertKind,
        server_id: Option<i64>,
        server: &str,
        subject: String,
        cause: String,
        link: Option<String>,
    ) -> Problem {
        Problem {
            kind,
            key: key(kind, server_id, &subject),
            server_id,
            server: server.to_owned(),
            subject,
            cause,
            link,
        }
    }
}

fn key(kind: AlertKind, server_id: Option<i64>, subject: &str) -> String {
    format!(
        "{}|{}|{subject}",
        kind.as_str(),
        server_id.map(|i| i.to_string()).unwrap_or_default()
    )
}

/// What to do with one incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// New: record it and alert.
    Open(Problem),
    /// Still going on and quiet for the repeat interval: alert again.
    Repeat(i64, Problem),
    /// Still going on: keep its cause current, no message.
    Keep(i64, Problem),
    /// Ended by a success: close it and say so.
    Recover(Incident),
    /// Its server was removed: close it without a message.
    Drop(i64),
}

/// Compares what is wrong now with the open incidents (pure).
pub fn plan(
    problems: &[Problem],
    open: &[IncidentRow],
    servers: &HashSet<i64>,
    now: DateTime<Utc>,
    repeat: chrono::Duration,
) -> Vec<Step> {
    let by_key: HashMap<&str, &IncidentRow> = open.iter().map(|r| (r.key.as_str(), r)).collect();
    let mut steps = Vec::new();
    let mut seen = HashSet::new();
    for p in problems {
        if !seen.insert(p.key.as_str()) {
            continue;
        }
        steps.push(match by_key.get(p.key.as_str()) {
            None => Step::Open(p.clone()),
            Some(r) if now - r.incident.last_alert_at >= repeat => {
                Step::Repeat(r.incident.id, p.clone())
            }
            Some(r) => Step::Keep(r.incident.id, p.clone()),
        });
    }
    for r in open {
        if seen.contains(r.key.as_str()) {
            continue;
        }
        let server_id = r.key.split('|').nth(1).and_then(|s| s.parse::<i64>().ok());
        match server_id {
            Some(id) if !servers.contains(&id) => steps.push(Step::Drop(r.incident.id)),
            _ => steps.push(Step::Recover(r.incident.clone())),
        }
    }
    steps
}

/// A message as every channel renders it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub kind: Option<AlertKind>,
    pub state: AlertState,
    pub server: String,
    pub subject: String,
    pub title: String,
    pub text: String,
    pub link: Option<String>,
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push('…');
    out
}

fn place(server: &str, subject: &str) -> String {
    match (server.is_empty(), subject.is_empty()) {
        (true, _) => subject.to_owned(),
        (false, true) => server.to_owned(),
        (false, false) => format!("{server}/{subject}"),
    }
}

/// The message of an incident that opened or lasts (pure).
pub fn problem_message(p: &Problem, state: AlertState, since: DateTime<Utc>) -> Message {
    let what = if p.kind == AlertKind::DestinationUnreachable {
        format!("destination {}", p.subject)
    } else {
        place(&p.server, &p.subject)
    };
    let mut text = format!(
        "Server: {}\n",
        if p.server.is_empty() { "-" } else { &p.server }
    );
    text.push_str(&match p.kind {
        AlertKind::DestinationUnreachable => format!("Destination: {}\n", p.subject),
        _ => format!("Database: {}\n", p.subject),
    });
    text.push_str(&format!("Cause: {}\n", cut(&p.cause, 1500)));
    if state == AlertState::Repeat {
        text.push_str(&format!(
            "Still going on since {} UTC.\n",
            since.format("%Y-%m-%d %H:%M")
        ));
    }
    Message {
        kind: Some(p.kind),
        state,
        server: p.server.clone(),
        subject: p.subject.clone(),
        title: format!(
            "{}{}: {what}",
            p.kind.words(),
            if state == AlertState::Repeat {
                " (still)"
            } else {
                ""
            }
        ),
        text: text.trim_end().to_owned(),
        link: p.link.clone(),
    }
}

/// The message of an incident that ended (pure).
pub fn recovered_message(i: &Incident, now: DateTime<Utc>) -> Message {
    let what = if i.kind == AlertKind::DestinationUnreachable {
        format!("destination {}", i.subject)
    } else {
        place(&i.server, &i.subject)
    };
    let lasted = model::format::duration_ms((now - i.opened_at).num_milliseconds().max(0));
    Message {
        kind: Some(i.kind),
        state: AlertState::Recovered,
        server: i.server.clone(),
        subject: i.subject.clone(),
        title: format!("Recovered: {} — {what}", i.kind.words()),
        text: format!(
            "Server: {}\n{}: {}\nThe next success ended it after {lasted} (since {} UTC).\nWas: {}",
            if i.server.is_empty() { "-" } else { &i.server },
            if i.kind == AlertKind::DestinationUnreachable {
                "Destination"
            } else {
                "Database"
            },
            i.subject,
            i.opened_at.format("%Y-%m-%d %H:%M"),
            cut(&i.cause, 500)
        ),
        link: i.link.clone(),
    }
}

// ---- rendering -------------------------------------------------------------

/// Slack's incoming-webhook JSON: `text` (the notification's fallback) and
/// `blocks` (a header, the details, a link button).
pub fn slack_body(m: &Message) -> serde_json::Value {
    let mut blocks = vec![
        serde_json::json!({"type": "header", "text": {"type": "plain_text", "text": cut(&m.title, 150), "emoji": true}}),
        serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&slack_escape(&m.text), 2900)}}),
    ];
    if let Some(link) = &m.link {
        blocks.push(serde_json::json!({
            "type": "actions",
            "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open in pgshelf"}, "url": link}]
        }));
    }
    serde_json::json!({
        "text": format!("{}{}", m.title, m.link.as_ref().map(|l| format!(" <{l}>")).unwrap_or_default()),
        "blocks": blocks,
    })
}

/// `&`, `<` and `>` as Slack's mrkdwn wants them.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The generic webhook's JSON body: `type` (`pgshelf.alert`), `event`
/// (an [`AlertKind`] or `null` for a test), `state` (`opened`, `repeat`,
/// `recovered`, `test`), `server`, `subject` (database, `globals`, or
/// destination), `title`, `text`, `link` (or `null`), `at` (unix seconds).
pub fn webhook_body(m: &Message, at: DateTime<Utc>) -> String {
    serde_json::json!({
        "type": "pgshelf.alert",
        "event": m.kind.map(|k| k.as_str()),
        "state": m.state.as_str(),
        "server": m.server,
        "subject": m.subject,
        "title": m.title,
        "text": m.text,
        "link": m.link,
        "at": at.timestamp(),
    })
    .to_string()
}

/// `sha256=<hex HMAC-SHA256 of body keyed with secret>`.
pub fn signature(secret: &Secret, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The email's plain text: the message, then the link.
pub fn email_text(m: &Message) -> String {
    let mut t = m.text.clone();
    if let Some(l) = &m.link {
        t.push_str(&format!("\n\nOpen in pgshelf: {l}\n"));
    }
    t.push_str("\n-- \npgshelf alerts\n");
    t
}

// ---- sending ---------------------------------------------------------------

/// An error's text and its sources, never with a URL (a Slack webhook URL
/// is a secret).
fn http_error(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut s = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(c) = src {
        s.push_str(&format!(": {c}"));
        src = c.source();
    }
    s
}

async fn post(url: &str, body: String, headers: &[(&str, String)]) -> Result<String, String> {
    crate::storage::ssh::ensure_http_transport();
    let client = reqwest::Client::builder()
        .timeout(SEND_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(http_error)?;
    let mut req = client
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", concat!("pgshelf/", env!("CARGO_PKG_VERSION")))
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = req.send().await.map_err(http_error)?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let answer = format!("HTTP {}: {}", status.as_u16(), cut(text.trim(), 300));
    if status.is_success() {
        Ok(answer)
    } else {
        Err(answer)
    }
}

async fn send_email(
    settings: &ChannelSettings,
    secret: Option<&Secret>,
    m: &Message,
) -> Result<String, String> {
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
    let ChannelSettings::Email {
        host,
        port,
        tls,
        username,
        from,
        to,
    } = settings
    else {
        return Err("not an email channel".into());
    };
    crate::storage::ssh::ensure_http_transport(); // the ring provider for rustls
    let builder = match tls.as_str() {
        "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(|e| e.to_string())?,
        "starttls" => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(|e| e.to_string())?
        }
        _ => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str()),
    };
    let mut builder = builder.port(*port).timeout(Some(SEND_TIMEOUT));
    if !username.is_empty() {
        let pw = secret.map(|s| s.expose().to_owned()).unwrap_or_default();
        builder = builder.credentials(Credentials::new(username.clone(), pw));
    }
    let transport = builder.build();
    let mut email = lettre::Message::builder()
        .from(from.parse().map_err(|e| format!("from {from:?}: {e}"))?)
        .subject(&m.title)
        .header(lettre::message::header::ContentType::TEXT_PLAIN);
    for t in to {
        email = email.to(t.parse().map_err(|e| format!("to {t:?}: {e}"))?);
    }
    let email = email.body(email_text(m)).map_err(|e| e.to_string())?;
    match transport.send(email).await {
        Ok(r) => Ok(format!(
            "SMTP {}: {}",
            r.code(),
            cut(&r.message().collect::<Vec<_>>().join(" "), 300)
        )),
        Err(e) => Err(format!("SMTP: {e}")),
    }
}

/// Sends one message on a channel: `Ok(answer)` or `Err(answer)`, the
/// channel's own words (HTTP status and body, or the SMTP reply).
pub async fn send(
    settings: &ChannelSettings,
    secret: Option<&Secret>,
    m: &Message,
    now: DateTime<Utc>,
) -> Result<String, String> {
    match settings {
        ChannelSettings::Slack {} => {
            let url = secret.ok_or("no webhook URL stored")?;
            post(url.expose().trim(), slack_body(m).to_string(), &[]).await
        }
        ChannelSettings::Webhook { url } => {
            let secret = secret.ok_or("no HMAC secret stored")?;
            let body = webhook_body(m, now);
            let sig = signature(secret, body.as_bytes());
            post(
                url.trim(),
                body,
                &[
                    ("x-pgshelf-signature", sig),
                    ("x-pgshelf-timestamp", now.timestamp().to_string()),
                ],
            )
            .await
        }
        ChannelSettings::Email { .. } => send_email(settings, secret, m).await,
    }
}

// ---- the worker ------------------------------------------------------------

/// The `notifier` worker: evaluates incidents and delivers messages.
#[derive(Clone, Default)]
pub struct Notifier {
    state: Arc<Mutex<NotifierState>>,
    turn: Arc<tokio::sync::Mutex<()>>,
    pub(crate) settings: Arc<NotifySettings>,
}

#[derive(Default)]
struct NotifierState {
    busy: bool,
    last: Option<String>,
    last_error: Option<String>,
    last_finished_at: Option<DateTime<Utc>>,
}

impl Notifier {
    pub fn new(settings: NotifySettings) -> Self {
        Notifier {
            settings: Arc::new(settings),
            ..Default::default()
        }
    }

    pub fn status(&self) -> WorkerStatus {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        WorkerStatus {
            name: "notifier".into(),
            state: if st.busy {
                WorkerState::Running
            } else {
                WorkerState::Idle
            },
            doing: st.last.iter().cloned().collect(),
            queued: 0,
            last_error: st.last_error.clone(),
            last_finished_at: st.last_finished_at,
        }
    }

    fn set(&self, f: impl FnOnce(&mut NotifierState)) {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

/// What one evaluation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyReport {
    pub opened: usize,
    pub repeated: usize,
    pub recovered: usize,
    /// Deliveries attempted, and how many of those were sent.
    pub attempted: usize,
    pub sent: usize,
    /// Problems that did not stop the evaluation.
    pub errors: Vec<String>,
}

/// Runs [`crate::Engine::notify_tick`] every `interval` until the engine is dropped.
pub(crate) fn start(engine: std::sync::Weak<crate::Inner>, interval: Duration) {
    crate::schedule::every(engine, interval, |e| async move {
        if e.is_stopping() {
            return false;
        }
        if let Err(err) = e.notify_tick(Utc::now()).await {
            tracing::warn!("alert evaluation failed: {err}");
        }
        true
    });
}

fn shown(row: &ChannelRow) -> Channel {
    Channel {
        id: row.id,
        name: row.name.clone(),
        describe: row.settings.describe(),
        settings: row.settings.clone(),
        has_secret: row.secret_sealed.is_some(),
        events: row.events.clone(),
        servers: row.servers.clone(),
        created_at: row.created_at,
        last_delivery: None,
    }
}

fn wants(row: &ChannelRow, kind: Option<AlertKind>, server: &str) -> bool {
    let kind_ok = match kind {
        Some(k) => row.events.is_empty() || row.events.contains(&k),
        None => true,
    };
    let server_ok =
        row.servers.is_empty() || server.is_empty() || row.servers.iter().any(|s| s == server);
    kind_ok && server_ok
}

impl crate::Engine {
    fn notifier(&self) -> &Notifier {
        &self.inner.notifier
    }

    fn link(&self, path: &str) -> Option<String> {
        self.notifier()
            .settings
            .base_url
            .as_deref()
            .map(|b| format!("{}{path}", b.trim_end_matches('/')))
    }

    /// Adds an alert channel (its secret sealed; never returned).
    pub async fn add_channel(&self, input: ChannelInput) -> Result<Channel, NotifyError> {
        validate(&input)?;
        let known: HashSet<String> = self
            .inner
            .catalog
            .servers()
            .await?
            .into_iter()
            .map(|s| s.name)
            .collect();
        for s in &input.servers {
            if !known.contains(s) {
                return Err(invalid(
                    "servers",
                    format!("no server named {s:?}. Fix: pick names from `pgshelf server list`"),
                ));
            }
        }
        let sealed = input
            .secret
            .as_ref()
            .filter(|s| !s.expose().trim().is_empty())
            .map(|s| self.inner.key.seal(&Secret::new(s.expose().trim())));
        let mut events = input.events.clone();
        events.sort();
        events.dedup();
        let row = self
            .inner
            .catalog
            .insert_channel(
                input.name.trim(),
                &input.settings,
                sealed.as_deref(),
                &events,
                &input.servers,
                Utc::now(),
            )
            .await?;
        Ok(shown(&row))
    }

    /// Every alert channel (never a secret), each with its newest delivery.
    pub async fn channels(&self) -> Result<Vec<Channel>, NotifyError> {
        let catalog = &self.inner.catalog;
        let mut last: HashMap<i64, Delivery> = catalog
            .last_deliveries()
            .await?
            .into_iter()
            .filter_map(|r| Some((r.channel_id?, r.delivery)))
            .collect();
        Ok(catalog
            .channels()
            .await?
            .iter()
            .map(|row| Channel {
                last_delivery: last.remove(&row.id),
                ..shown(row)
            })
            .collect())
    }

    /// `/alerts`: every channel with its newest delivery, the newest
    /// `limit` deliveries and incidents (open or closed), newest first.
    pub async fn alerts_overview(&self, limit: i64) -> Result<AlertsOverview, NotifyError> {
        Ok(AlertsOverview {
            channels: self.channels().await?,
            deliveries: self.deliveries(limit).await?,
            incidents: self.incidents(limit).await?,
        })
    }

    /// Removes a channel; its deliveries stay listed, pending ones are not sent.
    pub async fn remove_channel(&self, name: &str) -> Result<(), NotifyError> {
        if self.inner.catalog.delete_channel(name).await? {
            Ok(())
        } else {
            Err(NotifyError::Unknown(name.into()))
        }
    }

    /// "Send test": a test message sent now on one channel, recorded as a
    /// delivery (sent, or failed with the channel's answer; not retried).
    pub async fn test_channel(&self, name: &str) -> Result<Delivery, NotifyError> {
        let row = self
            .inner
            .catalog
            .channel(name)
            .await?
            .ok_or_else(|| NotifyError::Unknown(name.into()))?;
        let m = Message {
            kind: None,
            state: AlertState::Test,
            server: String::new(),
            subject: String::new(),
            title: format!("pgshelf test message ({})", row.name),
            text: format!(
                "This is a test of the alert channel {} ({}). If you read this, alerts reach you.",
                row.name,
                row.settings.describe()
            ),
            link: self.link("/"),
        };
        let now = Utc::now();
        let id = self
            .inner
            .catalog
            .insert_delivery(&new_delivery(&row, None, &m), now)
            .await?;
        self.attempt(
            &self.inner.catalog.delivery(id).await?,
            Some(&row),
            now,
            false,
        )
        .await?;
        Ok(self.inner.catalog.delivery(id).await?.delivery)
    }

    /// The newest deliveries, newest first (what the page and
    /// `pgshelf alert deliveries` show).
    pub async fn deliveries(&self, limit: i64) -> Result<Vec<Delivery>, NotifyError> {
        Ok(self.inner.catalog.deliveries(limit).await?)
    }

    /// The newest incidents, open or closed, newest first.
    pub async fn incidents(&self, limit: i64) -> Result<Vec<Incident>, NotifyError> {
        Ok(self.inner.catalog.incidents(limit).await?)
    }

    /// What is wrong at `now`, from the catalog only.
    async fn problems(
        &self,
        now: DateTime<Utc>,
        errors: &mut Vec<String>,
    ) -> Result<Vec<Problem>, crate::Error> {
        let catalog = &self.inner.catalog;
        let mut out = Vec::new();
        for b in catalog.newest_finished_runs().await? {
            if b.status != BackupStatus::Failed {
                continue;
            }
            let subject = b.target.to_string();
            out.push(Problem::new(
                AlertKind::BackupFailed,
                b.server_id,
                &b.server_name,
                subject,
                format!(
                    "backup #{} failed: {}",
                    b.id,
                    b.cause.as_deref().unwrap_or("no cause recorded")
                ),
                self.link(&format!("/backups/{}", b.id)),
            ));
        }
        for b in catalog.newest_good_backups().await? {
            if b.status != BackupStatus::Suspect {
                continue;
            }
            let subject = b.target.to_string();
            out.push(Problem::new(
                AlertKind::BackupSuspect,
                b.server_id,
                &b.server_name,
                subject,
                format!("backup #{} is suspect: {}", b.id, b.verification.join("; ")),
                self.link(&format!("/backups/{}", b.id)),
            ));
        }
        for s in catalog.servers().await? {
            let statuses = match self.schedule_status(s.id, now).await {
                Ok(st) => st,
                Err(e) => {
                    errors.push(format!("schedule status of {}: {e}", s.name));
                    continue;
                }
            };
            for st in statuses {
                if !st.overdue || !st.enabled || st.gone_since.is_some() {
                    continue;
                }
                let subject = st.target.to_string();
                let last = match &st.last_success {
                    Some(b) => format!(
                        "the last success (backup #{}) was at {} UTC",
                        b.id,
                        b.taken_at().format("%Y-%m-%d %H:%M")
                    ),
                    None => "it has never succeeded".into(),
                };
                out.push(Problem::new(
                    AlertKind::BackupOverdue,
                    Some(s.id),
                    &s.name,
                    subject,
                    format!(
                        "{last}, more than two intervals of its schedule ({}) ago",
                        st.describe
                    ),
                    self.link(&match &st.target {
                        Target::Database(db) => format!("/servers/{}/databases/{db}", s.id),
                        Target::Globals => format!("/servers/{}", s.id),
                    }),
                ));
            }
        }
        for id in catalog.newest_test_restore_ids().await? {
            let t = catalog.test_restore(id).await?;
            let Some(cause) = t.cause() else { continue };
            out.push(Problem::new(
                AlertKind::TestRestoreFailed,
                t.server_id,
                &t.server_name,
                t.database.clone(),
                format!("test-restore #{} failed: {cause}", t.id),
                self.link(&format!(
                    "/servers/{}/databases/{}",
                    t.server_id.unwrap_or_default(),
                    t.database
                )),
            ));
        }
        for c in catalog.newest_copies().await? {
            if c.status != "failed" {
                continue;
            }
            out.push(Problem::new(
                AlertKind::DestinationUnreachable,
                None,
                &c.server_name,
                c.destination.clone(),
                format!(
                    "the copy of backup #{} to {} failed: {}",
                    c.backup_id,
                    c.destination,
                    c.error.as_deref().unwrap_or("no cause recorded")
                ),
                self.link("/destinations"),
            ));
        }
        Ok(out)
    }

    /// One evaluation at `now`: incidents opened, repeated and recovered
    /// (a message queued for every channel that wants it), then every due
    /// delivery attempted. The `notifier` worker calls this with the wall
    /// clock; tests call it with their own.
    pub async fn notify_tick(&self, now: DateTime<Utc>) -> Result<NotifyReport, crate::Error> {
        let notifier = self.notifier().clone();
        let _turn = notifier.turn.lock().await;
        notifier.set(|st| st.busy = true);
        let r = self.notify_tick_inner(now).await;
        notifier.set(|st| {
            st.busy = false;
            st.last_finished_at = Some(now);
            match &r {
                Ok(rep) => {
                    st.last = Some(format!(
                        "last evaluation {} UTC: {} opened, {} repeated, {} recovered, {}/{} sent",
                        now.format("%H:%M:%S"),
                        rep.opened,
                        rep.repeated,
                        rep.recovered,
                        rep.sent,
                        rep.attempted
                    ));
                    st.last_error = rep.errors.last().cloned();
                }
                Err(e) => st.last_error = Some(e.to_string()),
            }
        });
        r
    }

    async fn notify_tick_inner(&self, now: DateTime<Utc>) -> Result<NotifyReport, crate::Error> {
        let catalog = &self.inner.catalog;
        let mut report = NotifyReport::default();
        let problems = self.problems(now, &mut report.errors).await?;
        let open = catalog.open_incidents().await?;
        let servers: HashSet<i64> = catalog.servers().await?.iter().map(|s| s.id).collect();
        let channels = catalog.channels().await?;
        let steps = plan(
            &problems,
            &open,
            &servers,
            now,
            self.notifier().settings.repeat,
        );
        for step in steps {
            let (incident_id, m) = match step {
                Step::Open(p) => {
                    let i = catalog
                        .open_incident(
                            p.kind,
                            &p.key,
                            &p.server,
                            &p.subject,
                            &p.cause,
                            p.link.as_deref(),
                            now,
                        )
                        .await?;
                    report.opened += 1;
                    (i.id, problem_message(&p, AlertState::Opened, now))
                }
                Step::Repeat(id, p) => {
                    catalog
                        .update_incident(id, &p.cause, p.link.as_deref(), Some(now))
                        .await?;
                    report.repeated += 1;
                    let since = open
                        .iter()
                        .find(|r| r.incident.id == id)
                        .map(|r| r.incident.opened_at)
                        .unwrap_or(now);
                    (id, problem_message(&p, AlertState::Repeat, since))
                }
                Step::Keep(id, p) => {
                    catalog
                        .update_incident(id, &p.cause, p.link.as_deref(), None)
                        .await?;
                    continue;
                }
                Step::Recover(i) => {
                    catalog.close_incident(i.id, now).await?;
                    report.recovered += 1;
                    (i.id, recovered_message(&i, now))
                }
                Step::Drop(id) => {
                    catalog.close_incident(id, now).await?;
                    continue;
                }
            };
            tracing::info!(title = %m.title, "alert");
            for ch in channels.iter().filter(|c| wants(c, m.kind, &m.server)) {
                catalog
                    .insert_delivery(&new_delivery(ch, Some(incident_id), &m), now)
                    .await?;
            }
        }
        for d in catalog.due_deliveries(now).await? {
            let ch = catalog.channel_of(&d).await?;
            match self.attempt(&d, ch.as_ref(), now, true).await {
                Ok(true) => {
                    report.attempted += 1;
                    report.sent += 1;
                }
                Ok(false) => report.attempted += 1,
                Err(e) => report.errors.push(e.to_string()),
            }
        }
        Ok(report)
    }

    /// One attempt of a delivery; returns whether it was sent. `retry`:
    /// a failure is tried again later (bounded), else it fails at once.
    async fn attempt(
        &self,
        d: &DeliveryRow,
        channel: Option<&ChannelRow>,
        now: DateTime<Utc>,
        retry: bool,
    ) -> Result<bool, NotifyError> {
        let catalog = &self.inner.catalog;
        let id = d.delivery.id;
        // Claimed past any attempt's length, so another process sharing the
        // catalog leaves it alone.
        if !catalog
            .claim_delivery(id, now, now + chrono::Duration::minutes(5))
            .await?
        {
            return Ok(false);
        }
        let Some(ch) = channel else {
            catalog
                .record_attempt(
                    id,
                    DeliveryStatus::Failed,
                    None,
                    "channel removed before delivery",
                    now,
                )
                .await?;
            return Ok(false);
        };
        let secret = match &ch.secret_sealed {
            Some(s) => match self.inner.key.open(s) {
                Ok(s) => Some(s),
                Err(e) => {
                    catalog
                        .record_attempt(id, DeliveryStatus::Failed, None, &e.to_string(), now)
                        .await?;
                    return Ok(false);
                }
            },
            None => None,
        };
        let m = Message {
            kind: d.delivery.kind,
            state: d.delivery.state,
            server: d.server_name.clone(),
            subject: d.subject.clone(),
            title: d.delivery.title.clone(),
            text: d.delivery.text.clone(),
            link: d.delivery.link.clone(),
        };
        let result = send(&ch.settings, secret.as_ref(), &m, now).await;
        let attempts = d.delivery.attempts + 1;
        match result {
            Ok(answer) => {
                catalog
                    .record_attempt(id, DeliveryStatus::Sent, None, &answer, now)
                    .await?;
                Ok(true)
            }
            Err(answer) => {
                let next = if retry { retry_after(attempts) } else { None };
                tracing::warn!(
                    "alert delivery #{id} to channel {} failed (attempt {attempts}): {answer}",
                    ch.name
                );
                let status = if next.is_some() {
                    DeliveryStatus::Pending
                } else {
                    DeliveryStatus::Failed
                };
                catalog
                    .record_attempt(id, status, next.map(|d| now + d), &answer, now)
                    .await?;
                self.notifier().set(|st| {
                    st.last_error = Some(format!("delivery #{id} to {}: {answer}", ch.name))
                });
                Ok(false)
            }
        }
    }
}

fn new_delivery(ch: &ChannelRow, incident_id: Option<i64>, m: &Message) -> NewDelivery {
    NewDelivery {
        channel_id: ch.id,
        channel_name: ch.name.clone(),
        incident_id,
        kind: m.kind,
        state: m.state,
        server_name: m.server.clone(),
        subject: m.subject.clone(),
        title: m.title.clone(),
        text: m.text.clone(),
        link: m.link.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn problem(kind: AlertKind, server_id: i64, subject: &str) -> Problem {
        Problem::new(
            kind,
            Some(server_id),
            "main",
            subject.into(),
            "backup #3 failed: database \"gone\" does not exist".into(),
            Some("https://pgshelf.example/backups/3".into()),
        )
    }

    fn open(id: i64, p: &Problem, last: DateTime<Utc>) -> IncidentRow {
        IncidentRow {
            key: p.key.clone(),
            incident: Incident {
                id,
                kind: p.kind,
                server: p.server.clone(),
                subject: p.subject.clone(),
                cause: p.cause.clone(),
                link: p.link.clone(),
                opened_at: last,
                last_alert_at: last,
                closed_at: None,
            },
        }
    }

    #[test]
    fn an_incident_alerts_once_then_after_the_repeat_interval_then_recovers() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 3, 0, 0).unwrap();
        let repeat = chrono::Duration::hours(24);
        let servers: HashSet<i64> = [1].into();
        let p = problem(AlertKind::BackupFailed, 1, "app");
        assert_eq!(
            plan(std::slice::from_ref(&p), &[], &servers, t0, repeat),
            vec![Step::Open(p.clone())]
        );
        let row = open(7, &p, t0);
        let later = t0 + chrono::Duration::hours(23);
        assert_eq!(
            plan(
                std::slice::from_ref(&p),
                std::slice::from_ref(&row),
                &servers,
                later,
                repeat
            ),
            vec![Step::Keep(7, p.clone())]
        );
        let day = t0 + chrono::Duration::hours(24);
        assert_eq!(
            plan(
                std::slice::from_ref(&p),
                std::slice::from_ref(&row),
                &servers,
                day,
                repeat
            ),
            vec![Step::Repeat(7, p.clone())]
        );
        assert_eq!(
            plan(&[], std::slice::from_ref(&row), &servers, later, repeat),
            vec![Step::Recover(row.incident.clone())]
        );
        // A removed server's incidents close without a "recovered".
        assert_eq!(
            plan(&[], &[row], &HashSet::new(), later, repeat),
            vec![Step::Drop(7)]
        );
    }

    #[test]
    fn kinds_servers_and_subjects_are_separate_incidents() {
        let a = problem(AlertKind::BackupFailed, 1, "app");
        let b = problem(AlertKind::BackupOverdue, 1, "app");
        let c = problem(AlertKind::BackupFailed, 2, "app");
        let d = problem(AlertKind::BackupFailed, 1, "globals");
        let keys: HashSet<_> = [&a, &b, &c, &d].iter().map(|p| p.key.clone()).collect();
        assert_eq!(keys.len(), 4);
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        let s = signature(&Secret::new("Jefe"), b"what do ya want for nothing?");
        assert_eq!(
            s,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn slack_messages_have_blocks_and_escape_mrkdwn() {
        let mut p = problem(AlertKind::BackupFailed, 1, "app");
        p.cause = "a <b> & c".into();
        let m = problem_message(&p, AlertState::Opened, Utc::now());
        let v = slack_body(&m);
        let blocks = v["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["type"], "header");
        assert!(blocks[1]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("a &lt;b&gt; &amp; c"));
        assert_eq!(
            blocks[2]["elements"][0]["url"],
            "https://pgshelf.example/backups/3"
        );
        assert!(v["text"]
            .as_str()
            .unwrap()
            .starts_with("Backup failed: main/app"));
    }

    #[test]
    fn channels_are_checked_and_secrets_never_quoted() {
        let slack = |url: &str| ChannelInput {
            name: "ops".into(),
            settings: ChannelSettings::Slack {},
            secret: Some(Secret::new(url)),
            events: vec![],
            servers: vec![],
        };
        assert!(validate(&slack("https://hooks.slack.com/services/T/B/x")).is_ok());
        let e = validate(&slack("http://hooks.slack.com/services/T/B/sekrit")).unwrap_err();
        assert!(!e.to_string().contains("sekrit"), "{e}");
        let e = validate(&slack("not a url sekrit")).unwrap_err();
        assert!(!e.to_string().contains("sekrit"), "{e}");
        let email = |host: &str, tls: &str| ChannelInput {
            name: "mail".into(),
            settings: ChannelSettings::Email {
                host: host.into(),
                port: 25,
                tls: tls.into(),
                username: String::new(),
                from: "pgshelf@example.com".into(),
                to: vec!["oncall@example.com".into()],
            },
            secret: None,
            events: vec![],
            servers: vec![],
        };
        assert!(validate(&email("127.0.0.1", "none")).is_ok());
        assert!(validate(&email("smtp.example.com", "none")).is_err());
        assert!(validate(&email("smtp.example.com", "starttls")).is_ok());
        let short = ChannelInput {
            name: "hook".into(),
            settings: ChannelSettings::Webhook {
                url: "https://example.com/hook".into(),
            },
            secret: Some(Secret::new("short")),
            events: vec![],
            servers: vec![],
        };
        assert!(validate(&short).unwrap_err().to_string().contains("Fix:"));
    }

    #[test]
    fn retries_are_bounded() {
        assert_eq!(retry_after(1), Some(chrono::Duration::minutes(1)));
        assert_eq!(retry_after(2), Some(chrono::Duration::minutes(10)));
        assert_eq!(retry_after(MAX_ATTEMPTS), None);
    }
}
